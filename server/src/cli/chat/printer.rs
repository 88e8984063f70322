//! What `openbolt chat` prints: the model's prose as it streams, and a status line per action, never
//! splitting the model's words.

use crate::terminal::TerminalEvent;
use crate::types::{
    ActionStatus, ActionUpdate, KindTraits, Label, TurnEvent, TurnOutcome, TurnStatus,
};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

/// The printer, shared by the turn's events, the terminals' events and the approval questions.
#[derive(Clone, Default)]
pub(super) struct SharedPrinter(Arc<Mutex<Printer>>);

impl SharedPrinter {
    pub(super) fn lock(&self) -> MutexGuard<'_, Printer> {
        crate::lock(&self.0)
    }
}

/// Writes the conversation to stdout: prose as it streams, status lines on lines of their own.
///
/// Actions run while the model is still writing: what they print (status lines, command output) waits
/// while the model's current line is unfinished, and goes out after that line's break, so it never
/// splits the model's words.
pub(super) struct Printer {
    /// Standard output, or a buffer in tests.
    sink: Box<dyn Write + Send>,
    /// The last byte written was not a line break.
    mid_line: bool,
    /// The model's prose is in the middle of a line.
    prose_open: bool,
    /// What arrived while `prose_open`, in order (status lines and command output only).
    held: Vec<Waiting>,
    /// A question is open: everything waits below it, in order, until it is answered.
    paused: Option<Vec<Waiting>>,
}

/// Output that waits to be written.
#[derive(Debug)]
pub(super) enum Waiting {
    Prose(String),
    Status(String),
    Raw(String),
}

impl Default for Printer {
    fn default() -> Printer {
        Printer::to(Box::new(std::io::stdout()))
    }
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Printer")
            .field("mid_line", &self.mid_line)
            .field("prose_open", &self.prose_open)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl Printer {
    pub(super) fn to(sink: Box<dyn Write + Send>) -> Printer {
        Printer {
            sink,
            mid_line: false,
            prose_open: false,
            held: Vec::new(),
            paused: None,
        }
    }

    /// Asks a question on a line of its own; what comes until [`Printer::answered`] waits.
    pub(super) fn ask(&mut self, question: &str) {
        if self.mid_line {
            self.write("\n");
        }
        self.write(question);
        self.paused.get_or_insert_with(Vec::new);
    }

    /// The question was answered (the user's Enter ended its line): what waited is shown, in order.
    pub(super) fn answered(&mut self) {
        self.mid_line = false;
        self.prose_open = false;
        for paused in self.paused.take().unwrap_or_default() {
            match paused {
                Waiting::Prose(text) => self.prose(&text),
                Waiting::Status(line) => self.status(&line),
                Waiting::Raw(text) => self.raw(&text),
            }
        }
    }

    pub(super) fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let _ = self.sink.write_all(text.as_bytes());
        let _ = self.sink.flush();
        self.mid_line = !text.ends_with('\n');
    }

    /// The model's words.
    pub(super) fn prose(&mut self, text: &str) {
        if let Some(paused) = &mut self.paused {
            paused.push(Waiting::Prose(text.to_owned()));
            return;
        }
        match text.rfind('\n') {
            Some(end) if !self.held.is_empty() => {
                let (line_end, rest) = text.split_at(end + 1);
                self.write(line_end);
                self.release();
                self.write(rest);
                self.prose_open = !rest.is_empty();
            }
            _ => {
                self.write(text);
                if !text.is_empty() {
                    self.prose_open = !text.ends_with('\n');
                }
            }
        }
    }

    /// Writes what was held back, once the model's line is done (or the turn is).
    pub(super) fn release(&mut self) {
        self.prose_open = false;
        for held in std::mem::take(&mut self.held) {
            match held {
                Waiting::Status(line) => self.status(&line),
                Waiting::Prose(text) | Waiting::Raw(text) => self.write(&text),
            }
        }
    }

    pub(super) fn status(&mut self, line: &str) {
        if let Some(paused) = &mut self.paused {
            paused.push(Waiting::Status(line.to_owned()));
            return;
        }
        if self.prose_open {
            self.held.push(Waiting::Status(line.to_owned()));
            return;
        }
        if self.mid_line {
            self.write("\n");
        }
        self.write(&format!("{line}\n"));
    }

    /// A command's output.
    pub(super) fn raw(&mut self, text: &str) {
        if let Some(paused) = &mut self.paused {
            paused.push(Waiting::Raw(text.to_owned()));
            return;
        }
        if self.prose_open {
            self.held.push(Waiting::Raw(text.to_owned()));
        } else {
            self.write(text);
        }
    }

    pub(super) fn prompt(&mut self) {
        self.release();
        if self.mid_line {
            self.write("\n");
        }
        self.write("\n› ");
        self.mid_line = false;
    }

    pub(super) fn event(&mut self, event: &TurnEvent) {
        match event {
            TurnEvent::Text(text) => self.prose(text),
            TurnEvent::Notice(notice) => self.status(&format!("  ! {notice}")),
            TurnEvent::Page(check) => {
                for line in crate::cli::check_page::lines(check, 1) {
                    self.status(&line);
                }
            }
            TurnEvent::Action(update) => {
                if let Some(line) = describe_update(update) {
                    self.status(&line);
                }
            }
        }
    }

    pub(super) fn terminal_event(&mut self, event: &TerminalEvent) {
        match event {
            TerminalEvent::Output { data, .. } => self.raw(data),
            // A command's end shows as its action's status.
            TerminalEvent::Exit { .. } => {}
            TerminalEvent::Preview(preview) => {
                self.status(&format!("  ◉ preview: {}", preview.url));
            }
        }
    }

    pub(super) fn outcome(&mut self, outcome: &TurnOutcome) {
        self.release();
        let usage = outcome.usage;
        let tokens = if usage.input_tokens + usage.output_tokens > 0 {
            format!(
                " · tokens in {} (cached {}), out {}",
                usage.input_tokens, usage.cache_read_tokens, usage.output_tokens
            )
        } else {
            String::new()
        };
        let line = match (outcome.status, &outcome.error) {
            (TurnStatus::Complete, _) => format!("── done{tokens}"),
            (TurnStatus::Aborted, _) => format!("── stopped{tokens}"),
            (TurnStatus::Failed, error) => format!(
                "── failed: {}{tokens}",
                error.as_deref().unwrap_or("unknown error")
            ),
        };
        self.status(&line);
    }
}

/// One status line per meaningful change: running commands, and every final status.
pub(super) fn describe_update(update: &ActionUpdate) -> Option<String> {
    let what = update.describe();
    let reason = update
        .error
        .as_deref()
        .map(|error| format!(" — {error}"))
        .unwrap_or_default();
    let exit = match (&update.exit_code, &update.summary) {
        (Some(code), _) => format!(" (exit {code})"),
        // A search's query ends in a quote or a glob: its count reads better set apart.
        (None, Some(summary)) if KindTraits::of(&update.kind).label == Label::Query => {
            format!(" — {summary}")
        }
        (None, Some(summary)) => format!(" ({summary})"),
        (None, None) => String::new(),
    };
    match update.status {
        // The question itself is the approver's.
        ActionStatus::Pending | ActionStatus::Approval => None,
        ActionStatus::Running if !KindTraits::of(&update.kind).shows_running => None,
        ActionStatus::Running => Some(format!("  ▸ {what}")),
        ActionStatus::Complete => {
            let mut line = format!("  ✓ {what}{exit}");
            // What was undone after it (what it left in `.git` for git to run).
            if let Some(error) = &update.error {
                line.push_str(&format!("\n    ! {error}"));
            }
            // Syntax errors in what it wrote, one line each (1-based, as editors count).
            for diagnostic in update.diagnostics.iter().take(5) {
                line.push_str(&format!(
                    "\n    ! {}:{}:{} {}",
                    update.file_path.as_deref().unwrap_or(""),
                    diagnostic.line + 1,
                    diagnostic.column + 1,
                    diagnostic.message
                ));
            }
            if update.diagnostics.len() > 5 {
                line.push_str(&format!(
                    "\n    ! and {} more syntax errors",
                    update.diagnostics.len() - 5
                ));
            }
            Some(line)
        }
        ActionStatus::Failed => Some(format!("  ✗ {what}{exit}{reason}")),
        ActionStatus::Aborted => Some(format!("  ■ {what} aborted{reason}")),
        ActionStatus::Skipped => Some(format!("  – {what} skipped{reason}")),
    }
}
