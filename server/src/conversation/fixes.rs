//! What went wrong in a turn, gathered when its actions are done, and the report a fix round sends the
//! model: syntax errors in files it wrote (with the lines around them), failed commands (exit code and
//! output tail), a dev server that exits or prints an error soon after it starts, edits that did not
//! match, reads that were refused.

use crate::terminal::Terminals;
use crate::types::{ActionKind, ActionStatus, ActionUpdate};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// One problem of a turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What stays the same when the same problem comes back (to see a round that made no progress).
    pub key: String,
    /// For the model: what failed, where, and the relevant lines.
    pub report: String,
}

/// An error the editor's own tools report in a file the turn wrote (new since the turn began).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditorError {
    pub file_path: String,
    /// 0-based.
    pub line: u32,
    pub message: String,
    pub source: Option<String>,
}

/// The editor's errors as failures, with the lines around them.
pub fn editor_failures(errors: &[EditorError], root: &Path) -> Vec<Failure> {
    errors
        .iter()
        .take(10)
        .map(|error| {
            let text = std::fs::read_to_string(root.join(&error.file_path)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let line = error.line as usize;
            let source = error
                .source
                .as_deref()
                .map(|source| format!(" ({source})"))
                .unwrap_or_default();
            let mut report = format!(
                "{}:{}: {}{source}\n",
                error.file_path,
                line + 1,
                error.message
            );
            push_lines_around(&mut report, &lines, line);
            Failure {
                key: format!("editor {}:{} {}", error.file_path, line + 1, error.message),
                report,
            }
        })
        .collect()
}

/// How long a dev server started by the turn is watched for an early exit or an error.
pub const DEV_SERVER_SETTLE: Duration = Duration::from_secs(3);

/// What a server prints when it is broken, whatever its language.
const ERROR_MARKERS: [&str; 9] = [
    "Error:",
    "error:",
    "ERROR",
    "Traceback (most recent call last)",
    "panicked at",
    "npm ERR!",
    "SyntaxError",
    "Cannot find module",
    "EADDRINUSE",
];

/// The problems of a turn's actions. `root` is the canonical workspace; `terminals` lets dev servers
/// started by the turn be watched for [`DEV_SERVER_SETTLE`].
pub async fn gather(actions: &[ActionUpdate], root: &Path, terminals: &Terminals) -> Vec<Failure> {
    let mut failures = Vec::new();
    for update in actions {
        let path = update.file_path.as_deref().unwrap_or("");
        match (&update.kind, update.status) {
            (ActionKind::File | ActionKind::Edit, ActionStatus::Complete) => {
                let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                for diagnostic in update.diagnostics.iter().take(5) {
                    let line = diagnostic.line as usize;
                    let mut report = format!(
                        "{path}:{}:{}: {}\n",
                        line + 1,
                        diagnostic.column + 1,
                        diagnostic.message
                    );
                    push_lines_around(&mut report, &lines, line);
                    failures.push(Failure {
                        key: format!("syntax {path}:{} {}", line + 1, diagnostic.message),
                        report,
                    });
                }
            }
            (ActionKind::Edit | ActionKind::File | ActionKind::Read, ActionStatus::Failed) => {
                let error = update.error.as_deref().unwrap_or("failed");
                failures.push(Failure {
                    key: format!("{} {path} {error}", update.kind.as_str()),
                    report: format!("{} {path} failed: {error}\n", update.kind.as_str()),
                });
            }
            (ActionKind::Shell, ActionStatus::Failed) => {
                let command = update.command.as_deref().unwrap_or("");
                let mut report = format!(
                    "the command `{command}` failed{}",
                    update
                        .error
                        .as_deref()
                        .map(|error| format!(": {error}"))
                        .unwrap_or_default()
                );
                report.push('\n');
                if let Some(tail) = update.output_tail.as_deref().map(str::trim_end)
                    && !tail.is_empty()
                {
                    report.push_str("  its last output:\n");
                    for line in last_lines(tail, 30) {
                        let _ = writeln!(report, "  | {line}");
                    }
                }
                failures.push(Failure {
                    key: format!("shell `{command}` {:?}", update.exit_code),
                    report,
                });
            }
            _ => {}
        }
    }
    let servers: Vec<&ActionUpdate> = actions
        .iter()
        .filter(|update| update.kind == ActionKind::Start && update.terminal_id.is_some())
        .collect();
    if !servers.is_empty() {
        failures.extend(watch_servers(&servers, terminals).await);
    }
    failures
}

/// The lines two before to two after `line` (0-based), numbered as editors count.
fn push_lines_around(report: &mut String, lines: &[&str], line: usize) {
    let from = line.saturating_sub(2);
    let to = (line + 3).min(lines.len());
    for (number, text) in lines.iter().enumerate().take(to).skip(from) {
        let _ = writeln!(report, "  {:>5}│ {text}", number + 1);
    }
}

fn last_lines(text: &str, count: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

/// Dev servers the turn started: one that exits, or prints an error, within the settle time fails.
async fn watch_servers(servers: &[&ActionUpdate], terminals: &Terminals) -> Vec<Failure> {
    let deadline = Instant::now() + DEV_SERVER_SETTLE;
    loop {
        let mut failures = Vec::new();
        for server in servers {
            let Some(id) = server.terminal_id else {
                continue;
            };
            let command = server.command.as_deref().unwrap_or("");
            let tail = terminals
                .tail(id)
                .map(|tail| crate::terminal::preview::plain_text(&tail))
                .unwrap_or_default();
            let info = terminals
                .list()
                .into_iter()
                .find(|info| info.terminal_id == id);
            let exited = info.as_ref().is_some_and(|info| !info.running);
            let error = ERROR_MARKERS.iter().any(|marker| tail.contains(marker));
            if exited || error {
                let what = if exited {
                    format!(
                        "the dev server `{command}` exited (code {}) right after it started",
                        info.and_then(|info| info.exit_code).unwrap_or(-1)
                    )
                } else {
                    format!("the dev server `{command}` printed an error right after it started")
                };
                let mut report = format!("{what}\n  its last output:\n");
                for line in last_lines(tail.trim_end(), 30) {
                    let _ = writeln!(report, "  | {line}");
                }
                failures.push(Failure {
                    key: format!(
                        "server `{command}` {}",
                        if exited { "exited" } else { "error" }
                    ),
                    report,
                });
            }
        }
        if !failures.is_empty() {
            return failures;
        }
        if Instant::now() >= deadline {
            return preview_errors(servers, terminals).await;
        }
        // Waiting for the server to settle: its output and its exit are looked at again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Servers still running after the settle time: a preview URL they printed that answers 5xx fails.
async fn preview_errors(servers: &[&ActionUpdate], terminals: &Terminals) -> Vec<Failure> {
    crate::install_crypto_provider();
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return Vec::new();
    };
    let mut failures = Vec::new();
    for server in servers {
        let Some(id) = server.terminal_id else {
            continue;
        };
        let tail = terminals
            .tail(id)
            .map(|tail| crate::terminal::preview::plain_text(&tail))
            .unwrap_or_default();
        let Some((url, _)) = tail
            .lines()
            .find_map(crate::terminal::preview::find_local_url)
        else {
            continue;
        };
        let Ok(response) = client.get(&url).send().await else {
            continue;
        };
        let status = response.status().as_u16();
        if status >= 500 {
            let body = response.text().await.unwrap_or_default();
            let mut report = format!("the preview {url} answers HTTP {status}\n");
            for line in last_lines(body.trim_end(), 20) {
                let _ = writeln!(report, "  | {line}");
            }
            failures.push(Failure {
                key: format!("preview {status}"),
                report,
            });
        }
    }
    failures
}

/// The message of a fix round: the problems, numbered, and what to do.
pub fn report(failures: &[Failure], round: u32, rounds: u32) -> String {
    let mut out = format!(
        "Your last changes have {} problem{} (automatic fix round {round} of {rounds}). Fix what is wrong, with edits; do not rewrite what works, and do not start over.\n\n",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" }
    );
    for (index, failure) in failures.iter().enumerate() {
        let _ = write!(out, "{}. {}", index + 1, failure.report);
        if !failure.report.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The keys of `failures`, sorted: two rounds with the same keys made no progress.
pub fn keys(failures: &[Failure]) -> Vec<String> {
    let mut keys: Vec<String> = failures.iter().map(|failure| failure.key.clone()).collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Diagnostic;
    use openbolt_parser::ActionInfo;

    fn update(
        kind: ActionKind,
        path: Option<&str>,
        command: Option<&str>,
        status: ActionStatus,
    ) -> ActionUpdate {
        let info = ActionInfo {
            artifact_id: "a".into(),
            index: 0,
            kind,
            file_path: path.map(str::to_owned),
            lines: None,
            server: None,
            tool: None,
        };
        ActionUpdate::new(&info, command, status)
    }

    #[tokio::test]
    async fn a_turns_problems_are_reported_with_their_lines() {
        let directory = tempfile::tempdir().expect("dir");
        std::fs::write(
            directory.path().join("app.js"),
            "const a = 1;\nfunction bad( {\n}\n",
        )
        .expect("write");
        let mut written = update(
            ActionKind::File,
            Some("app.js"),
            None,
            ActionStatus::Complete,
        );
        written.diagnostics = vec![Diagnostic {
            line: 1,
            column: 13,
            end_line: 1,
            end_column: 14,
            message: "syntax error near `{`".into(),
        }];
        let mut command = update(
            ActionKind::Shell,
            None,
            Some("npm test"),
            ActionStatus::Failed,
        );
        command.exit_code = Some(1);
        command.error = Some("exited with code 1".into());
        command.output_tail = Some("FAIL app.test.js\nexpected 2, got 3\n".into());
        let clean = update(
            ActionKind::File,
            Some("ok.js"),
            None,
            ActionStatus::Complete,
        );
        let (terminals_events, _receiver) = tokio::sync::mpsc::channel(4);
        let terminals = Terminals::new(
            crate::terminal::TerminalOptions::default(),
            terminals_events,
        );
        let failures = gather(&[written, command, clean], directory.path(), &terminals).await;
        assert_eq!(failures.len(), 2, "{failures:?}");
        let message = report(&failures, 1, 3);
        assert!(
            message.contains("2 problems (automatic fix round 1 of 3)"),
            "{message}"
        );
        assert!(message.contains("1. app.js:2:14: syntax error near `{`\n      1│ const a = 1;\n      2│ function bad( {"), "{message}");
        assert!(message.contains("2. the command `npm test` failed: exited with code 1\n  its last output:\n  | FAIL app.test.js"), "{message}");
        assert_eq!(
            keys(&failures),
            keys(&failures.iter().rev().cloned().collect::<Vec<_>>())
        );
    }
}
