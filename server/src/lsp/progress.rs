//! Work-done progress for running shell commands: the reporters by terminal, and what each sends
//! (`window/workDoneProgress/create`, `$/progress`).

use crate::terminal::TerminalId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::NumberOrString;

/// What a command's progress reporter hears.
pub(super) enum ProgressEvent {
    /// The last line it printed.
    Line(String),
    Done(i32),
}

/// The progress reporters of running shell commands, by terminal; one leaves at its command's end.
#[derive(Default)]
pub(super) struct Progress(Mutex<HashMap<TerminalId, mpsc::Sender<ProgressEvent>>>);

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TerminalId, mpsc::Sender<ProgressEvent>>> {
        crate::lock(&self.0)
    }

    pub(super) fn insert(&self, terminal: TerminalId, reporter: mpsc::Sender<ProgressEvent>) {
        self.lock().insert(terminal, reporter);
    }

    pub(super) fn remove(&self, terminal: TerminalId) -> Option<mpsc::Sender<ProgressEvent>> {
        self.lock().remove(&terminal)
    }

    pub(super) fn line(&self, terminal: TerminalId, data: &str) {
        if let Some(reporter) = self.lock().get(&terminal)
            && let Some(line) = last_line(data)
        {
            // Progress is a courtesy: never wait for it.
            let _ = reporter.try_send(ProgressEvent::Line(line));
        }
    }
}

/// `window/workDoneProgress/create` + `$/progress` for one shell command: begun with the command, its
/// last output line at most every 250 ms, finished with its exit code.
pub(super) async fn report_progress(
    client: Client,
    terminal: TerminalId,
    command: String,
    mut events: mpsc::Receiver<ProgressEvent>,
) {
    let token = NumberOrString::String(format!("openbolt/terminal/{terminal}"));
    if client
        .create_work_done_progress(token.clone())
        .await
        .is_err()
    {
        return;
    }
    let title: String = command
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    let progress = client
        .progress(token, format!("OpenBolt: {title}"))
        .begin()
        .await;
    let mut last_report = tokio::time::Instant::now();
    let mut pending: Option<String> = None;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep(Duration::from_millis(250)), if pending.is_some() => {
                if let Some(line) = pending.take() {
                    progress.report(line).await;
                    last_report = tokio::time::Instant::now();
                }
                continue;
            }
        };
        match event {
            Some(ProgressEvent::Line(line)) => {
                if last_report.elapsed() >= Duration::from_millis(250) {
                    progress.report(line).await;
                    last_report = tokio::time::Instant::now();
                    pending = None;
                } else {
                    pending = Some(line);
                }
            }
            Some(ProgressEvent::Done(code)) => {
                progress
                    .finish_with_message(format!("exit code {code}"))
                    .await;
                return;
            }
            None => {
                progress.finish().await;
                return;
            }
        }
    }
}

/// The last non-empty line of terminal output, without escape sequences.
fn last_line(data: &str) -> Option<String> {
    crate::terminal::preview::plain_text(data)
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| line.trim().chars().take(120).collect())
}
