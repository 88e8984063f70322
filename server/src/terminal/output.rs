//! A terminal's output on its way to the events: coalesced into fewer, larger pieces of whole UTF-8
//! characters, and its exit reported after the output read so far. [`Coalescer`] is the decision alone —
//! what to send, and when — with no I/O and no clock of its own, so its rules are tested by tables; the
//! forwarder task feeds it what the PTY and the waiter thread deliver.

use super::ExitInfo;
use std::time::Duration;
use tokio::time::Instant;

/// What the forwarder hands the coalescer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Bytes read from the PTY.
    Chunk(Vec<u8>),
    /// The PTY's end: nothing holds its other side any more.
    Eof,
    /// The command exited.
    Exited(ExitInfo),
    /// [`Coalescer::deadline`] has come.
    Timer,
}

/// What to send now: output text (first), then the exit report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Output {
    pub text: Option<String>,
    pub report: Option<ExitInfo>,
}

/// The coalescing rules: text waits at most `window`, or goes at once when `max_bytes` have gathered; a
/// character cut between reads waits for its rest; the exit is reported once the PTY has ended, or
/// `eof_patience` after the exit when something (a background process) still holds the PTY open.
#[derive(Debug)]
pub(crate) struct Coalescer {
    window: Duration,
    max_bytes: usize,
    eof_patience: Duration,
    pending: Vec<u8>,
    flush_at: Option<Instant>,
    eof: bool,
    exit: Option<ExitInfo>,
    report_at: Option<Instant>,
    reported: bool,
}

impl Coalescer {
    pub(crate) fn new(window: Duration, max_bytes: usize, eof_patience: Duration) -> Coalescer {
        Coalescer {
            window,
            max_bytes,
            eof_patience,
            pending: Vec::new(),
            flush_at: None,
            eof: false,
            exit: None,
            report_at: None,
            reported: false,
        }
    }

    /// More PTY output is wanted.
    pub(crate) fn wants_chunks(&self) -> bool {
        !self.eof
    }

    /// The exit is still to come.
    pub(crate) fn wants_exit(&self) -> bool {
        self.exit.is_none()
    }

    /// When [`Input::Timer`] is due, if at all.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let report_at = self.report_at.filter(|_| !self.reported);
        match (self.flush_at, report_at) {
            (Some(flush), Some(report)) => Some(flush.min(report)),
            (flush, report) => flush.or(report),
        }
    }

    /// Everything was sent: the output to its end, and the exit.
    pub(crate) fn done(&self) -> bool {
        self.eof && self.reported
    }

    /// Takes `input` at `now`; says what to send.
    pub(crate) fn step(&mut self, input: Input, now: Instant) -> Output {
        let mut flush = false;
        let mut report = false;
        match input {
            Input::Chunk(bytes) => {
                self.pending.extend_from_slice(&bytes);
                self.flush_at.get_or_insert(now + self.window);
                flush = self.pending.len() >= self.max_bytes;
            }
            Input::Eof => {
                self.eof = true;
                flush = true;
                report = self.exit.is_some();
            }
            Input::Exited(exit) => {
                self.exit = Some(exit);
                self.report_at = Some(now + self.eof_patience);
                report = self.eof;
            }
            Input::Timer => {
                flush = self.flush_at.is_some_and(|at| at <= now);
                if self.report_at.is_some_and(|at| at <= now) {
                    flush = true;
                    report = true;
                }
            }
        }
        let mut output = Output::default();
        if flush || (report && !self.reported) {
            self.flush_at = None;
            let text = take_text(&mut self.pending, self.eof);
            if !text.is_empty() {
                output.text = Some(text);
            }
        }
        if report && !self.reported {
            self.reported = true;
            self.report_at = None;
            output.report = Some(self.exit.clone().unwrap_or(ExitInfo {
                code: 1,
                signal: None,
                stopped: false,
            }));
        }
        output
    }
}

/// Takes the text of `pending`, leaving a character cut off at its end for the next time (unless
/// `last`). Bytes that are not UTF-8 become U+FFFD.
fn take_text(pending: &mut Vec<u8>, last: bool) -> String {
    let keep = if last { 0 } else { incomplete_suffix(pending) };
    let cut = pending.len() - keep;
    let text = match std::str::from_utf8(&pending[..cut]) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(&pending[..cut]).into_owned(),
    };
    pending.drain(..cut);
    text
}

/// The length of an unfinished UTF-8 sequence at the end of `bytes` (0 to 3).
fn incomplete_suffix(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 == 0x80 {
            continue;
        }
        let needed = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(8);
    const PATIENCE: Duration = Duration::from_millis(100);

    fn exit(code: i32) -> ExitInfo {
        ExitInfo {
            code,
            signal: None,
            stopped: false,
        }
    }

    /// One row: at `ms` milliseconds, `input` goes in; `text` and `report` are what must come out.
    struct Row {
        ms: u64,
        input: Input,
        text: Option<&'static str>,
        report: Option<i32>,
    }

    fn row(ms: u64, input: Input, text: Option<&'static str>, report: Option<i32>) -> Row {
        Row {
            ms,
            input,
            text,
            report,
        }
    }

    fn chunk(text: &str) -> Input {
        Input::Chunk(text.as_bytes().to_vec())
    }

    fn check(name: &str, max_bytes: usize, rows: &[Row]) {
        let start = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW, max_bytes, PATIENCE);
        for (index, row) in rows.iter().enumerate() {
            let output = coalescer.step(row.input.clone(), start + Duration::from_millis(row.ms));
            assert_eq!(
                (output.text.as_deref(), output.report.map(|exit| exit.code)),
                (row.text, row.report),
                "{name}, row {index}"
            );
        }
    }

    #[test]
    fn output_is_coalesced_and_the_exit_comes_after_it() {
        check(
            "small pieces wait for the window",
            1024,
            &[
                row(0, chunk("a"), None, None),
                row(3, chunk("b"), None, None),
                row(8, Input::Timer, Some("ab"), None),
                row(9, chunk("c"), None, None),
                row(17, Input::Timer, Some("c"), None),
            ],
        );
        check(
            "a full buffer goes at once",
            4,
            &[
                row(0, chunk("ab"), None, None),
                row(1, chunk("cd"), Some("abcd"), None),
            ],
        );
        check(
            "exit then end of output: the rest of the output, then the report",
            1024,
            &[
                row(0, chunk("last words"), None, None),
                row(1, Input::Exited(exit(3)), None, None),
                row(2, Input::Eof, Some("last words"), Some(3)),
            ],
        );
        check(
            "end of output then exit",
            1024,
            &[
                row(0, chunk("x"), None, None),
                row(1, Input::Eof, Some("x"), None),
                row(2, Input::Exited(exit(0)), None, Some(0)),
            ],
        );
        check(
            "a background process holds the PTY: the exit is reported after the patience",
            1024,
            &[
                row(0, Input::Exited(exit(0)), None, None),
                row(50, chunk("still printing"), None, None),
                row(58, Input::Timer, Some("still printing"), None),
                row(100, Input::Timer, None, Some(0)),
                row(120, chunk("later"), None, None),
                row(128, Input::Timer, Some("later"), None),
            ],
        );
        check(
            "a character cut between reads waits for its rest",
            1024,
            &[
                row(0, Input::Chunk(vec![b'o', b'k', 0xF0, 0x9F]), None, None),
                row(8, Input::Timer, Some("ok"), None),
                row(9, Input::Chunk(vec![0xA6, 0x80]), None, None),
                row(17, Input::Timer, Some("🦀"), None),
            ],
        );
        check(
            "at the end, a broken character is shown as U+FFFD",
            1024,
            &[
                row(0, Input::Chunk(vec![b'a', 0xE6]), None, None),
                row(1, Input::Eof, Some("a\u{FFFD}"), None),
            ],
        );
    }

    #[test]
    fn the_coalescer_says_what_it_waits_for() {
        let start = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW, 1024, PATIENCE);
        assert!(coalescer.wants_chunks() && coalescer.wants_exit());
        assert_eq!(coalescer.deadline(), None);
        coalescer.step(chunk("a"), start);
        assert_eq!(coalescer.deadline(), Some(start + WINDOW));
        coalescer.step(Input::Exited(exit(0)), start);
        assert!(!coalescer.wants_exit());
        coalescer.step(Input::Timer, start + WINDOW);
        assert_eq!(coalescer.deadline(), Some(start + PATIENCE));
        coalescer.step(Input::Eof, start + WINDOW);
        assert!(!coalescer.wants_chunks() && coalescer.done());
        assert_eq!(coalescer.deadline(), None);
    }

    #[test]
    fn incomplete_suffixes_are_found() {
        assert_eq!(incomplete_suffix(b"abc"), 0);
        assert_eq!(incomplete_suffix("é".as_bytes()), 0);
        assert_eq!(incomplete_suffix(&"日".as_bytes()[..2]), 2);
        assert_eq!(incomplete_suffix(&"🦀".as_bytes()[..3]), 3);
        assert_eq!(incomplete_suffix(&[0x80, 0x80, 0x80]), 0);
    }
}
