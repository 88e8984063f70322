//! The terminals' events as notifications, for the life of the server: output, exits (a dev server's
//! end also as its action's final status, routed to its turn by the conversation layer), previews, and
//! work-done progress for running shell commands.

use super::backend::State;
use super::protocol::*;
use crate::terminal::{TerminalEvent, TerminalId};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{NumberOrString, ShowDocumentParams, Uri};

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

    fn line(&self, terminal: TerminalId, data: &str) {
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

/// Terminal events to notifications, for the life of the server.
pub(super) async fn forward_terminal_events(
    state: Arc<State>,
    mut events: mpsc::Receiver<TerminalEvent>,
) {
    while let Some(event) = events.recv().await {
        let notifier = &state.notifier;
        // A dev server's end is its action's final status: recorded, and shown after the exit.
        let ended = state
            .conversations
            .get()
            .and_then(|conversations| conversations.route(&event));
        match event {
            TerminalEvent::Output { terminal_id, data } => {
                state.progress.line(terminal_id, &data);
                notifier
                    .notify::<TerminalOutputNotification>(TerminalOutputParams {
                        terminal_id,
                        data,
                    })
                    .await;
            }
            TerminalEvent::Exit { terminal_id, exit } => {
                if let Some(reporter) = state.progress.remove(terminal_id) {
                    let _ = reporter.try_send(ProgressEvent::Done(exit.code));
                }
                notifier
                    .notify::<TerminalExitNotification>(TerminalExitParams {
                        terminal_id,
                        exit_code: exit.code,
                        signal: exit.signal,
                    })
                    .await;
            }
            TerminalEvent::Preview(preview) => {
                notifier
                    .notify::<PreviewNotification>(PreviewParams {
                        url: preview.url.clone(),
                        port: preview.port,
                        terminal_id: Some(preview.terminal_id),
                    })
                    .await;
                let handles_preview = state.client_options().handles_preview;
                if !handles_preview
                    && state.show_document.load(Ordering::Acquire)
                    && let Ok(uri) = preview.url.parse::<Uri>()
                {
                    let client = state.client.clone();
                    // A round trip: never wait for it here, terminal output must keep flowing.
                    tokio::spawn(async move {
                        let _ = client
                            .show_document(ShowDocumentParams {
                                uri,
                                external: Some(true),
                                take_focus: Some(false),
                                selection: None,
                            })
                            .await;
                    });
                }
            }
        }
        if let Some(server) = ended {
            notifier
                .notify::<ActionUpdateNotification>(ActionUpdateParams {
                    session_id: server.session_id,
                    message_id: server.message_id,
                    update: server.update,
                })
                .await;
        }
    }
}
