//! `openbolt lsp`: the language server every editor talks to, over stdio.
//!
//! The only module that knows LSP types, and only presentation: conversations are the conversation
//! layer's. `backend.rs` is the server's lifecycle; `handlers.rs` the `openbolt/*` requests; `turn.rs` a
//! turn's editor side (notifications, edits, approvals); `forward.rs` the terminals' events and
//! work-done progress; `errors.rs` every error and its code; `documents.rs` keeps the open documents in
//! ropes; `position.rs` owns every position conversion; `editor.rs` routes file actions and approvals
//! through the editor; `protocol.rs` and `settings.rs` are the wire contract (`docs/protocol.md`);
//! `transport.rs` guards the stream of frames.

pub mod backend;
pub mod documents;
pub mod editor;
mod errors;
mod forward;
mod handlers;
pub mod position;
mod progress;
pub mod protocol;
mod state;
pub mod transport;
mod turn;

use crate::terminal::{TerminalOptions, Terminals};
use backend::Backend;
use tokio::sync::mpsc;
use tower_lsp_server::{LspService, Server};

/// Requests handled at once. An `openbolt/chat` request is pending for its whole turn, so the limit
/// must leave room for many turns plus the document traffic beside them.
const CONCURRENT_REQUESTS: usize = 256;

/// Serves LSP on stdin/stdout until `exit`, the end of stdin (the editor went away) or SIGTERM; then
/// stops every process the server started.
pub async fn serve_stdio() -> anyhow::Result<()> {
    crate::install_crypto_provider();
    let (terminal_events, receiver) = mpsc::channel(64);
    let terminals = Terminals::new(TerminalOptions::default(), terminal_events);
    // Two queues to stdout: the server's frames (responses first), and our notifications.
    let (frames, frames_out) = mpsc::channel(64);
    let (bulk, bulk_out) = mpsc::channel(64);
    let notifier = transport::Notifier::new(bulk);
    let farewell = notifier.clone();
    // Set at SIGTERM: from then on nothing new is started (requests get `SHUTTING_DOWN`).
    let stopping = tokio_util::sync::CancellationToken::new();
    let input_stopping = stopping.clone();
    let backend_terminals = terminals.clone();
    // MCP servers: configured at `initialize`, started by the first turn that needs their tools.
    let mcp = crate::mcp::Mcp::new(
        &crate::mcp::McpConfig::default(),
        crate::mcp::Timeouts::default(),
    );
    let backend_mcp = mcp.clone();
    // The store the backend opens: closed here at exit (the state that holds it outlives the protocol).
    let store = std::sync::Arc::new(std::sync::OnceLock::new());
    let backend_store = store.clone();
    let (service, socket) = LspService::build(move |client| {
        Backend::new(
            client,
            notifier,
            backend_terminals,
            receiver,
            backend_mcp,
            backend_store,
        )
    })
    .custom_method("openbolt/chat", Backend::chat)
    .custom_method("openbolt/abort", Backend::abort)
    .custom_method("openbolt/sessions", Backend::sessions)
    .custom_method("openbolt/loadSession", Backend::load_session)
    .custom_method("openbolt/revert", Backend::revert)
    .custom_method("openbolt/fileDiff", Backend::file_diff)
    .custom_method("openbolt/diagnostics", Backend::editor_diagnostics)
    .custom_method("openbolt/terminalInput", Backend::terminal_input)
    .custom_method("openbolt/terminalResize", Backend::terminal_resize)
    .custom_method("openbolt/terminalKill", Backend::terminal_kill)
    .custom_method("openbolt/terminals", Backend::terminals)
    .custom_method("openbolt/document", Backend::document)
    .custom_method("openbolt/mcpServers", Backend::mcp_servers)
    .finish();
    // The protocol — stdin → checked frames → the server → stdout — runs on a thread of its own, so a
    // request is read, handled and answered without waiting for a worker that turns, terminals and
    // previews keep busy. What a handler starts that takes long (a turn) runs on the main runtime.
    let (ended, end) = tokio::sync::oneshot::channel();
    let (written, last_frames) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("openbolt-lsp".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot start the protocol thread");
                    return;
                }
            };
            runtime.block_on(async move {
                let (server_input, filter_output) = tokio::io::duplex(1 << 20);
                let (server_output, merger_input) = tokio::io::duplex(1 << 20);
                tokio::spawn(transport::filter_input(
                    tokio::io::stdin(),
                    filter_output,
                    frames.clone(),
                    input_stopping,
                ));
                tokio::spawn(transport::frames_from_server(merger_input, frames));
                let writer = tokio::spawn(transport::write_frames(
                    frames_out,
                    bulk_out,
                    tokio::io::stdout(),
                ));
                Server::new(server_input, server_output, socket)
                    .concurrency_level(CONCURRENT_REQUESTS)
                    .serve(service)
                    .await;
                let _ = ended.send(());
                // Let the last answers (`shutdown`'s) and notifications reach the client.
                let _ = tokio::time::timeout(std::time::Duration::from_millis(200), writer).await;
            });
            // A read of stdin may still block in its thread; do not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            let _ = written.send(());
        })?;
    tokio::select! {
        _ = end => tracing::info!("the client went away or sent exit"),
        () = terminated() => {
            stopping.cancel();
            tracing::info!("terminated by a signal");
            farewell
                .notify::<tower_lsp_server::ls_types::notification::LogMessage>(
                    tower_lsp_server::ls_types::LogMessageParams {
                        typ: tower_lsp_server::ls_types::MessageType::INFO,
                        message: "OpenBolt: terminated by a signal; shutting down".to_owned(),
                    },
                )
                .await;
        }
    }
    terminals.shutdown().await;
    mcp.kill_now();
    crate::browser::shared().kill_now();
    // What the store holds is committed and its connections closed, so SQLite removes its WAL.
    if let Some(store) = store.get() {
        crate::blocking(|| store.close());
    }
    // The last answers (`shutdown`'s) and notifications reach the client before the process ends.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(400), last_frames).await;
    Ok(())
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            terminate.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}
