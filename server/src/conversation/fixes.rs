//! What went wrong in a turn, gathered when its actions are done, as typed problems (`crate::voice`
//! states them to the model): syntax errors in files it wrote (with the lines around them), failed
//! actions of the kinds whose failures are problems (a command's exit code and output tail, an edit that
//! did not match, a refused read, a failed tool call), a dev server that exits or prints an error soon
//! after it starts, a preview answering 5xx, and what its page does wrong in a browser (`browser`).

use crate::terminal::{TerminalId, Terminals};
use crate::types::{ActionStatus, ActionUpdate, KindTraits, Lifetime, PageCheck};
use crate::voice::{Problem, lines_around};
use std::path::Path;
use std::time::{Duration, Instant};

/// An error the editor's own tools report in a file the turn wrote (new since the turn began).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditorError {
    pub file_path: String,
    /// 0-based.
    pub line: u32,
    pub message: String,
    pub source: Option<String>,
}

/// The editor's errors as problems, with the lines around them.
pub fn editor_failures(errors: &[EditorError], root: &Path) -> Vec<Problem> {
    errors
        .iter()
        .take(10)
        .map(|error| {
            let text = std::fs::read_to_string(root.join(&error.file_path)).unwrap_or_default();
            let line = error.line as usize;
            Problem::Editor {
                path: error.file_path.clone(),
                line,
                message: error.message.clone(),
                source: error.source.clone(),
                around: lines_around(&text, line),
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

/// The problems of a turn's actions that are known when they are done: syntax errors in the files it
/// wrote and failed actions. `root` is the canonical workspace.
pub fn action_problems(actions: &[ActionUpdate], root: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for update in actions {
        let traits = KindTraits::of(&update.kind);
        match update.status {
            ActionStatus::Complete if traits.writes_file => {
                let path = update.file_path.as_deref().unwrap_or("");
                let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
                for diagnostic in update.diagnostics.iter().take(5) {
                    let line = diagnostic.line as usize;
                    problems.push(Problem::Syntax {
                        path: path.to_owned(),
                        line,
                        column: diagnostic.column as usize,
                        message: diagnostic.message.clone(),
                        around: lines_around(&text, line),
                    });
                }
            }
            ActionStatus::Failed if traits.failure_is_problem => {
                problems.push(Problem::failed(update));
            }
            _ => {}
        }
    }
    problems
}

/// The dev servers the turn started (kept terminals): [`watch_servers`] watches them.
pub fn dev_servers(actions: &[ActionUpdate]) -> Vec<&ActionUpdate> {
    actions
        .iter()
        .filter(|update| {
            KindTraits::of(&update.kind).terminal == Some(Lifetime::Kept)
                && update.terminal_id.is_some()
        })
        .collect()
}

/// What a turn waits for after its reply, before it ends or a fix round begins: the front end shows it
/// (the turn is not over yet, and Stop ends the wait).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The dev servers it started (their commands) are watched for [`DEV_SERVER_SETTLE`].
    DevServers(Vec<String>),
    /// The editor's own diagnostics of the files it wrote.
    EditorDiagnostics(Vec<String>),
    /// The pages of these dev servers (their commands), loaded in the browser.
    Pages(Vec<String>),
}

impl Check {
    /// Its name on the wire (`openbolt/checking`'s `check`).
    pub fn kind(&self) -> &'static str {
        match self {
            Check::DevServers(_) => "devServer",
            Check::EditorDiagnostics(_) => "diagnostics",
            Check::Pages(_) => "page",
        }
    }

    /// What the user is told.
    pub fn describe(&self) -> String {
        let list = |items: &[String]| {
            let mut shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            if items.len() > 3 {
                shown.push_str(&format!(" and {} more", items.len() - 3));
            }
            shown
        };
        match self {
            Check::DevServers(commands) => format!(
                "checking that the dev server stays up ({} s): {}",
                DEV_SERVER_SETTLE.as_secs(),
                list(commands)
            ),
            Check::EditorDiagnostics(files) => {
                format!("waiting for the editor's diagnostics of {}", list(files))
            }
            Check::Pages(commands) => format!(
                "checking the preview in a browser (up to {} s): {}",
                crate::browser::CHECK_BOUND.as_secs(),
                list(commands)
            ),
        }
    }
}

/// Dev servers the turn started: one that exits, or prints an error, within the settle time fails.
pub async fn watch_servers(servers: &[&ActionUpdate], terminals: &Terminals) -> Vec<Problem> {
    let deadline = Instant::now() + DEV_SERVER_SETTLE;
    loop {
        let mut failures = Vec::new();
        for server in servers {
            let Some(id) = server.terminal_id else {
                continue;
            };
            let command = server.label.as_deref().unwrap_or("");
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
                failures.push(Problem::Server {
                    command: command.to_owned(),
                    exit_code: exited.then(|| info.and_then(|info| info.exit_code).unwrap_or(-1)),
                    output: tail,
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
async fn preview_errors(servers: &[&ActionUpdate], terminals: &Terminals) -> Vec<Problem> {
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
            failures.push(Problem::Preview { url, status, body });
        }
    }
    failures
}

/// How long a page check waits for a dev server the turn started to answer at its preview URL (beside
/// the check's own bound). One that ran before the turn has answered by now, or is not a web server.
pub const PREVIEW_WAIT: Duration = Duration::from_secs(5);

/// A dev server whose page a turn checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageTarget {
    pub terminal: TerminalId,
    pub command: String,
    /// The turn started it.
    pub new: bool,
    /// The preview URL it already answered at (a new one may still be waited for).
    pub answered: Option<String>,
}

/// The running dev servers (`running`: terminal, command) whose page a turn checks: those it started,
/// and, when it changed files, the others that answered at a preview (`answered`, by terminal).
pub fn page_targets(
    actions: &[ActionUpdate],
    running: Vec<(TerminalId, String)>,
    answered: impl Fn(TerminalId) -> Option<String>,
) -> Vec<PageTarget> {
    let started: Vec<TerminalId> = dev_servers(actions)
        .iter()
        .filter_map(|update| update.terminal_id)
        .collect();
    let changed = actions.iter().any(|update| {
        update.status == ActionStatus::Complete && KindTraits::of(&update.kind).writes_file
    });
    running
        .into_iter()
        .map(|(terminal, command)| PageTarget {
            terminal,
            command,
            new: started.contains(&terminal),
            answered: answered(terminal),
        })
        .filter(|target| target.new || (changed && target.answered.is_some()))
        .collect()
}

/// Loads each server's preview (a new one's once it answers, up to [`PREVIEW_WAIT`]) in the browser:
/// the verdicts, one per server that answered.
pub async fn check_pages(
    targets: &[PageTarget],
    terminals: &Terminals,
    program: &Path,
    profile: &Path,
    root: &Path,
    screenshot: Option<crate::types::ImageFormat>,
) -> Vec<PageCheck> {
    let mut verdicts = Vec::new();
    for target in targets {
        let url = match &target.answered {
            Some(url) => Some(url.clone()),
            None => terminals.preview(target.terminal, PREVIEW_WAIT).await,
        };
        let Some(url) = url else {
            tracing::info!(
                command = target.command,
                "no preview answered: its page is not checked"
            );
            continue;
        };
        let served = terminals.directory(target.terminal);
        let roots = crate::browser::page::Roots {
            workspace: Some(root),
            served: served.as_deref(),
        };
        let mut verdict = crate::browser::shared()
            .check(program, profile, &url, roots, screenshot)
            .await;
        verdict.terminal_id = Some(target.terminal);
        if let Some(error) = &verdict.error {
            tracing::warn!(%url, error, "the page check failed");
        }
        verdicts.push(verdict);
    }
    if !verdicts.is_empty() {
        crate::browser::shared().close_when_idle();
    }
    verdicts
}

/// A verdict's problems as the fix round states them.
pub fn page_problems(verdict: &PageCheck) -> Vec<Problem> {
    verdict
        .problems
        .iter()
        .map(|problem| Problem::Page {
            url: verdict.url.clone(),
            problem: problem.clone(),
        })
        .collect()
}

/// The keys of `problems`, sorted: two rounds with the same keys made no progress.
pub fn keys(problems: &[Problem]) -> Vec<String> {
    let mut keys: Vec<String> = problems.iter().map(Problem::key).collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ActionKind, Diagnostic};

    /// All the problems of a turn's actions: [`action_problems`], then its dev servers watched.
    async fn gather(actions: &[ActionUpdate], root: &Path, terminals: &Terminals) -> Vec<Problem> {
        let mut problems = action_problems(actions, root);
        let servers = dev_servers(actions);
        if !servers.is_empty() {
            problems.extend(watch_servers(&servers, terminals).await);
        }
        problems
    }

    #[tokio::test]
    async fn a_turns_problems_are_reported_with_their_lines() {
        let directory = tempfile::tempdir().expect("dir");
        std::fs::write(
            directory.path().join("app.js"),
            "const a = 1;\nfunction bad( {\n}\n",
        )
        .expect("write");
        let mut written = ActionUpdate::for_test(
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
        let mut command = ActionUpdate::for_test(
            ActionKind::Shell,
            None,
            Some("npm test"),
            ActionStatus::Failed,
        );
        command.exit_code = Some(1);
        command.error = Some("exited with code 1".into());
        command.output_tail = Some("FAIL app.test.js\nexpected 2, got 3\n".into());
        let clean = ActionUpdate::for_test(
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
        let message = crate::voice::fix_report(&failures, 1, 3);
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

    #[tokio::test]
    async fn a_tool_call_answered_within_the_turn_is_no_problem_for_a_fix_round() {
        let mut failed = ActionUpdate::for_test(
            ActionKind::Tool,
            None,
            Some("everything · echo {}"),
            ActionStatus::Failed,
        );
        failed.error = Some("the tool failed: boom".into());
        let mut command =
            ActionUpdate::for_test(ActionKind::Shell, None, Some("false"), ActionStatus::Failed);
        command.exit_code = Some(1);
        let (terminals_events, _receiver) = tokio::sync::mpsc::channel(4);
        let terminals = Terminals::new(
            crate::terminal::TerminalOptions::default(),
            terminals_events,
        );
        let directory = tempfile::tempdir().expect("dir");
        let problems = gather(&[failed, command], directory.path(), &terminals).await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key(), "shell `false` Some(1)");
    }

    #[test]
    fn a_turn_checks_the_pages_of_servers_it_started_and_of_all_when_it_changed_files() {
        let mut started = ActionUpdate::for_test(
            ActionKind::Start,
            None,
            Some("npm run dev"),
            ActionStatus::Running,
        );
        started.terminal_id = Some(7);
        let running = || {
            vec![
                (3, "python3 -m http.server".to_owned()),
                (7, "npm run dev".to_owned()),
            ]
        };
        let answered = |terminal| (terminal == 3).then(|| "http://localhost:8000/".to_owned());
        let targets = page_targets(std::slice::from_ref(&started), running(), answered);
        assert_eq!(
            targets,
            vec![PageTarget {
                terminal: 7,
                command: "npm run dev".to_owned(),
                new: true,
                answered: None,
            }],
            "no file changed: only the server it started"
        );
        let written = ActionUpdate::for_test(
            ActionKind::Edit,
            Some("src/a.js"),
            None,
            ActionStatus::Complete,
        );
        let both = |_| Some("http://localhost:8000/".to_owned());
        let targets = page_targets(std::slice::from_ref(&written), running(), both);
        assert_eq!(
            targets
                .iter()
                .map(|target| (target.terminal, target.new))
                .collect::<Vec<_>>(),
            [(3, false), (7, false)]
        );
        let targets = page_targets(std::slice::from_ref(&written), running(), answered);
        assert_eq!(
            targets
                .iter()
                .map(|target| target.terminal)
                .collect::<Vec<_>>(),
            [3],
            "one that ran before is checked only if it answered at a preview"
        );
        let failed = written.status(ActionStatus::Failed);
        assert!(page_targets(&[failed], running(), answered).is_empty());
    }

    #[test]
    fn a_page_problem_is_stated_with_its_frames_and_keyed_without_them() {
        let verdict = PageCheck {
            url: "http://127.0.0.1:5173/".to_owned(),
            problems: vec![crate::types::PageProblem {
                kind: crate::types::PageProblemKind::Exception,
                message: "TypeError: x is undefined".to_owned(),
                frames: vec!["render (src/main.js:3:54)".to_owned()],
                count: 2,
            }],
            settled: true,
            ..PageCheck::default()
        };
        let problems = page_problems(&verdict);
        assert_eq!(
            problems[0].key(),
            "page exception TypeError: x is undefined"
        );
        let report = crate::voice::fix_report(&problems, 1, 3);
        assert!(
            report.contains("1. the page http://127.0.0.1:5173/, loaded in a browser, threw an uncaught exception (2 times):\n  | TypeError: x is undefined\n    at render (src/main.js:3:54)\n"),
            "{report}"
        );
    }
}
