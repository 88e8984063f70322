//! `read` actions: a file's current text for the model, numbered when long, in line ranges within a
//! budget — the file as the user sees it (the editor's buffer when open), through the same workspace
//! gate as writes; secrets are refused. Answered within the turn as a typed [`Shown`] (the voice module
//! renders it).

use super::{ActionStatus, ActionUpdate, Answer, Job, Runner, RunnerReport, files};
use crate::tokens;
use std::fmt::Write as _;
use std::path::Path;

/// Files longer than this many lines are shown with line numbers.
const NUMBERED_FROM: usize = 60;

/// The lines a `read` asks for: 1-based and inclusive; `last` `None` means to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRange {
    pub first: usize,
    pub last: Option<usize>,
}

impl LineRange {
    /// A `lines` attribute: `120-240`, `120-` (to the end) or `120` (that line).
    pub fn parse(spec: &str) -> Result<LineRange, String> {
        let bad = || format!("lines={spec:?} is not a range like \"120-240\"");
        let spec = spec.trim();
        let (first, last) = match spec.split_once(['-', ':']) {
            Some((first, last)) => (first.trim(), Some(last.trim())),
            None => (spec, None),
        };
        let first: usize = first.parse().map_err(|_| bad())?;
        let last = match last {
            None => Some(first),
            Some("") => None,
            Some(last) => Some(last.parse::<usize>().map_err(|_| bad())?),
        };
        if first == 0 || last.is_some_and(|last| last < first) {
            return Err(bad());
        }
        Ok(LineRange { first, last })
    }
}

/// What a read shows the model of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The path as the model wrote it (trimmed).
    pub path: String,
    /// The file's line count.
    pub total: usize,
    /// The first and last line shown (1-based; `last` < `first` when nothing was).
    pub first: usize,
    pub last: usize,
    /// The line the model may read on from, when the budget cut the range short.
    pub read_on: Option<usize>,
    /// The lines, numbered (`120│ …`) when the file is long or a range was asked for.
    pub body: String,
    /// Every line was shown.
    pub whole: bool,
}

impl Shown {
    /// For people: `412 lines`, `lines 120-240 of 412`, `empty`.
    pub fn summary(&self) -> String {
        if self.whole {
            format!(
                "{} line{}",
                self.total,
                if self.total == 1 { "" } else { "s" }
            )
        } else if self.total == 0 {
            "empty".to_owned()
        } else {
            format!("lines {}-{} of {}", self.first, self.last, self.total)
        }
    }
}

/// What the model is shown of `content`, in `budget` tokens.
pub fn show(path: &str, content: &str, range: Option<LineRange>, budget: usize) -> Shown {
    let lines: Vec<&str> = content.lines().collect();
    let total = lines.len();
    let (first, last) = match range {
        Some(LineRange { first, last }) => {
            (first.min(total.max(1)), last.unwrap_or(total).min(total))
        }
        None => (1, total),
    };
    let numbered = range.is_some() || total > NUMBERED_FROM;
    let width = total.to_string().len();
    let mut body = String::new();
    let mut spent = 0usize;
    let mut shown_last = first.saturating_sub(1);
    let mut cut_line = false;
    for number in first..=last {
        let Some(line) = lines.get(number - 1) else {
            break;
        };
        let mut piece = String::new();
        if numbered {
            let _ = write!(piece, "{number:>width$}│ ");
        }
        piece.push_str(line);
        piece.push('\n');
        let cost = tokens::estimate(&piece);
        if spent + cost > budget {
            if number == first {
                // One line longer than the whole budget (a bundle, minified code): its start only.
                let end = tokens::prefix_bytes_within(&piece, budget.saturating_sub(spent));
                body.push_str(piece[..end].trim_end_matches('\n'));
                body.push_str(" …\n");
                cut_line = true;
            }
            break;
        }
        spent += cost;
        body.push_str(&piece);
        shown_last = number;
    }
    Shown {
        path: path.to_owned(),
        total,
        first,
        last: shown_last,
        read_on: (shown_last < last).then_some(shown_last + 1),
        body,
        whole: first == 1 && shown_last == total && !cut_line,
    }
}

impl Runner {
    /// A `read` action, run: its [`Shown`] kept for the follow-up request.
    pub(super) fn run_read(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
    ) -> ActionUpdate {
        match self.read(job) {
            Ok(shown) => {
                let mut update = update.status(ActionStatus::Complete);
                update.summary = Some(shown.summary());
                self.answered(job, Answer::Read(shown), report);
                update
            }
            Err(reason) => update.with_error(reason).status(ActionStatus::Failed),
        }
    }

    fn read(&mut self, job: &Job) -> Result<Shown, String> {
        let Some(relative) = job.action.file_path.as_deref() else {
            return Err("the read action has no filePath".to_owned());
        };
        let path = files::resolve_in_workspace(&self.root, relative)
            .map_err(|error| format!("refused: {error}"))?;
        if crate::secrets::is_secret(Path::new(relative.trim())) {
            return Err(format!(
                "refused: {relative} holds secrets, which are never sent to the model"
            ));
        }
        let range = job
            .action
            .lines
            .as_deref()
            .map(LineRange::parse)
            .transpose()?;
        let bytes = crate::blocking(|| self.writer.current(&path))
            .ok_or_else(|| format!("{relative} does not exist"))?;
        if files::is_binary(&bytes) {
            return Err(format!("{relative} is a binary file"));
        }
        let text = String::from_utf8_lossy(&bytes);
        let shown = show(relative.trim(), &text, range, self.answer_allowance());
        if shown.whole {
            self.seen.saw(&path, &bytes);
        }
        Ok(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_are_named() {
        let range = |first, last| Ok(LineRange { first, last });
        assert_eq!(LineRange::parse("120-240"), range(120, Some(240)));
        assert_eq!(LineRange::parse(" 7 "), range(7, Some(7)));
        assert_eq!(LineRange::parse("30-"), range(30, None));
        assert!(LineRange::parse("0-3").is_err());
        assert!(LineRange::parse("9-3").is_err());
        assert!(LineRange::parse("all").is_err());
    }

    #[test]
    fn long_files_are_numbered_and_cut_to_the_budget() {
        let content: String = (1..=412).map(|n| format!("let v{n} = {n};\n")).collect();
        let shown = show("src/big.js", &content, None, 100_000);
        assert_eq!(shown.summary(), "412 lines");
        assert!(shown.whole);
        assert!(
            shown.body.contains("  1│ let v1 = 1;\n")
                && shown.body.contains("412│ let v412 = 412;\n")
        );

        let range = LineRange {
            first: 120,
            last: Some(240),
        };
        let shown = show("src/big.js", &content, Some(range), 100_000);
        assert_eq!(shown.summary(), "lines 120-240 of 412");
        assert!(shown.body.starts_with("120│ let v120"));
        assert_eq!(shown.read_on, None);

        let shown = show("src/big.js", &content, None, 200);
        assert!(
            shown.summary().starts_with("lines 1-") && !shown.whole,
            "{}",
            shown.summary()
        );
        assert_eq!(shown.read_on, Some(shown.last + 1));
        assert!(tokens::estimate(&shown.body) < 300);

        let shown = show("a.txt", "short\n", None, 100);
        assert_eq!(
            (shown.body.as_str(), shown.total, shown.whole),
            ("short\n", 1, true)
        );

        // One line over the whole budget: its start, and not whole.
        let bundle = format!("{}\n", "var a=1;".repeat(20_000));
        let read = show("dist/bundle.js", &bundle, None, 300);
        assert!(!read.whole);
        assert!(tokens::estimate(&read.body) < 400, "{}", read.body.len());
    }
}
