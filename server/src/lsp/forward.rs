//! The terminals' events as notifications, for the life of the server: output, exits (a dev server's
//! end also as its action's final status, routed to its turn by the conversation layer), previews, and
//! work-done progress for running shell commands.

use super::progress::ProgressEvent;
use super::protocol::*;
use super::state::State;
use crate::terminal::TerminalEvent;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tower_lsp_server::ls_types::{ShowDocumentParams, Uri};

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
