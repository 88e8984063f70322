//! A fix round's report: the problems of a turn (syntax errors, the editor's errors, failed actions, a dev
//! server that broke, a preview that answers 5xx), each stated once, numbered, with the lines or the
//! output that explain it.

use crate::types::{ActionUpdate, KindTraits, Label, PageProblem, PageProblemKind};
use std::fmt::Write as _;

/// How much of a failed command's output a fix round shows (lines).
const PROBLEM_OUTPUT_LINES: usize = 30;

/// How much of a 5xx page a fix round shows (lines).
const PREVIEW_BODY_LINES: usize = 20;

/// How much of a page's message a fix round shows (lines).
const PAGE_MESSAGE_LINES: usize = 8;

/// One problem of a turn, as gathered after its actions (`conversation::fixes`) or reported by the
/// editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A syntax error in a file the turn wrote (0-based line and byte column).
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
        around: Lines,
    },
    /// An error the editor's own tools report in a file the turn wrote.
    Editor {
        path: String,
        line: usize,
        message: String,
        source: Option<String>,
        around: Lines,
    },
    /// An action that failed: a command (with its last output), an edit, a read, a tool call.
    Failed {
        label: Label,
        /// `edit src/a.js`, the command, the tool call.
        what: String,
        error: Option<String>,
        exit_code: Option<i32>,
        output: Option<String>,
    },
    /// A dev server the turn started exited, or printed an error, right after it started.
    Server {
        command: String,
        exit_code: Option<i32>,
        output: String,
    },
    /// A preview the dev server printed answers 5xx.
    Preview {
        url: String,
        status: u16,
        body: String,
    },
    /// The page itself, loaded in the browser, did something wrong (`browser`).
    Page { url: String, problem: PageProblem },
}

/// Numbered lines of a file around a problem: (1-based number, text).
pub type Lines = Vec<(usize, String)>;

/// The lines two before to two after `line` (0-based) of `text`.
pub fn lines_around(text: &str, line: usize) -> Lines {
    let from = line.saturating_sub(2);
    text.lines()
        .enumerate()
        .skip(from)
        .take(line + 3 - from)
        .map(|(index, text)| (index + 1, text.to_owned()))
        .collect()
}

impl Problem {
    /// The problem from a failed action of a kind whose failures are problems.
    pub fn failed(update: &ActionUpdate) -> Problem {
        let label = KindTraits::of(&update.kind).label;
        Problem::Failed {
            label,
            what: match label {
                Label::Command | Label::Call | Label::Query => {
                    update.label.clone().unwrap_or_default()
                }
                Label::Path => format!(
                    "{} {}",
                    update.kind.as_str(),
                    update.file_path.as_deref().unwrap_or("")
                ),
            },
            error: update.error.clone(),
            exit_code: update.exit_code,
            // A command's output explains its failure; a tool's result was answered in the turn.
            output: (label == Label::Command)
                .then(|| update.output_tail.clone())
                .flatten(),
        }
    }

    /// What stays the same when the same problem comes back (to see a round that made no progress).
    pub fn key(&self) -> String {
        match self {
            Problem::Syntax {
                path,
                line,
                message,
                ..
            } => format!("syntax {path}:{} {message}", line + 1),
            Problem::Editor {
                path,
                line,
                message,
                ..
            } => format!("editor {path}:{} {message}", line + 1),
            Problem::Failed {
                label: Label::Command,
                what,
                exit_code,
                ..
            } => format!("shell `{what}` {exit_code:?}"),
            Problem::Failed { what, error, .. } => {
                format!("{what} {}", error.as_deref().unwrap_or("failed"))
            }
            Problem::Server {
                command, exit_code, ..
            } => format!(
                "server `{command}` {}",
                if exit_code.is_some() {
                    "exited"
                } else {
                    "error"
                }
            ),
            Problem::Preview { status, .. } => format!("preview {status}"),
            Problem::Page { problem, .. } => {
                format!("page {} {}", problem.kind.as_str(), problem.message)
            }
        }
    }

    /// The problem as a fix round states it.
    fn render(&self, out: &mut String) {
        match self {
            Problem::Syntax {
                path,
                line,
                column,
                message,
                around,
            } => {
                let _ = writeln!(out, "{path}:{}:{}: {message}", line + 1, column + 1);
                push_lines(out, around);
            }
            Problem::Editor {
                path,
                line,
                message,
                source,
                around,
            } => {
                let source = source
                    .as_deref()
                    .map(|source| format!(" ({source})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "{path}:{}: {message}{source}", line + 1);
                push_lines(out, around);
            }
            Problem::Failed {
                label,
                what,
                error,
                output,
                ..
            } => {
                match label {
                    Label::Command => {
                        let _ = write!(out, "the command `{what}` failed");
                        if let Some(error) = error {
                            let _ = write!(out, ": {error}");
                        }
                    }
                    Label::Path | Label::Call | Label::Query => {
                        let _ = write!(
                            out,
                            "{what} failed: {}",
                            error.as_deref().unwrap_or("failed")
                        );
                    }
                }
                out.push('\n');
                if let Some(output) = output.as_deref().map(str::trim_end)
                    && !output.is_empty()
                {
                    push_output(out, output, PROBLEM_OUTPUT_LINES);
                }
            }
            Problem::Server {
                command,
                exit_code,
                output,
            } => {
                match exit_code {
                    Some(code) => {
                        let _ = writeln!(
                            out,
                            "the dev server `{command}` exited (code {code}) right after it started"
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "the dev server `{command}` printed an error right after it started"
                        );
                    }
                }
                push_output(out, output.trim_end(), PROBLEM_OUTPUT_LINES);
            }
            Problem::Preview { url, status, body } => {
                let _ = writeln!(out, "the preview {url} answers HTTP {status}");
                for line in last_lines(body.trim_end(), PREVIEW_BODY_LINES) {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            Problem::Page { url, problem } => {
                let what = match problem.kind {
                    PageProblemKind::Exception => "threw an uncaught exception",
                    PageProblemKind::Rejection => "has an unhandled promise rejection",
                    PageProblemKind::Console => "logged an error",
                    PageProblemKind::Request => "made a request that failed",
                    PageProblemKind::Blank => "shows nothing",
                };
                let times = if problem.count > 1 {
                    format!(" ({} times)", problem.count)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "the page {url}, loaded in a browser, {what}{times}:");
                for line in problem.message.lines().take(PAGE_MESSAGE_LINES) {
                    let _ = writeln!(out, "  | {line}");
                }
                for frame in &problem.frames {
                    let _ = writeln!(out, "    at {frame}");
                }
            }
        }
    }
}

fn push_lines(out: &mut String, lines: &Lines) {
    for (number, text) in lines {
        let _ = writeln!(out, "  {number:>5}│ {text}");
    }
}

fn push_output(out: &mut String, output: &str, count: usize) {
    out.push_str("  its last output:\n");
    for line in last_lines(output, count) {
        let _ = writeln!(out, "  | {line}");
    }
}

fn last_lines(text: &str, count: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

/// The message of a fix round: the problems, numbered, and what to do.
pub fn fix_report(problems: &[Problem], round: u32, rounds: u32) -> String {
    let mut out = format!(
        "Your last changes have {} problem{} (automatic fix round {round} of {rounds}). Fix what is wrong, with edits; do not rewrite what works, and do not start over.\n\n",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for (index, problem) in problems.iter().enumerate() {
        let _ = write!(out, "{}. ", index + 1);
        problem.render(&mut out);
    }
    out
}
