//! The language server's lifecycle: `initialize` (the workspace, the store, the client's abilities and
//! settings), document sync, configuration, `workspace/executeCommand`, `shutdown`. The state every part
//! shares is in `state.rs`, the `openbolt/*` requests in `handlers.rs`, a turn's editor side in
//! `turn.rs`, the terminals' events in `forward.rs`; conversations themselves are the conversation
//! layer's.
//!
//! Handlers stay short. Document changes are applied before any `.await`. A chat turn runs in a spawned
//! task — its provider stream, `workspace/applyEdit` round trips and approval questions never run inside
//! a handler — and the `openbolt/chat` handler only waits for that task's result.

use super::documents::Documents;
use super::errors::ServerError;
use super::forward::forward_terminal_events;
use super::position::Encoding;
use super::progress::Progress;
use super::protocol::*;
use super::state::State;
use super::transport::Notifier;
use super::turn::{EditorFrontEnd, run_chat};
use crate::conversation::Conversations;
use crate::engine::TurnStatus;
use crate::lock;
use crate::options::Options;
use crate::project::ProjectMap;
use crate::store::{Store, default_data_dir};
use crate::terminal::{TerminalEvent, Terminals};
use crate::types::ActionStatus;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// The commands any LSP client can run (`workspace/executeCommand`).
pub const COMMAND_CHAT: &str = "openbolt.chat";
pub const COMMAND_ABORT: &str = "openbolt.abort";
/// The session `openbolt.chat` commands continue.
const COMMAND_SESSION: &str = "editor-commands";

/// The `LanguageServer` implementation.
pub struct Backend {
    pub(super) state: Arc<State>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Backend")
    }
}

impl Backend {
    pub fn new(
        client: Client,
        notifier: Notifier,
        terminals: Terminals,
        terminal_events: mpsc::Receiver<TerminalEvent>,
        mcp: crate::mcp::Mcp,
        store: Arc<OnceLock<Store>>,
    ) -> Backend {
        let (saved, _) = broadcast::channel(64);
        let state = Arc::new(State {
            client,
            notifier,
            store,
            documents: Arc::new(Documents::default()),
            settings: Mutex::new(Options::default()),
            root: OnceLock::new(),
            reported: Mutex::new(Vec::new()),
            client_options: Mutex::new(ClientOptions::default()),
            show_document: AtomicBool::new(false),
            pull_configuration: AtomicBool::new(false),
            engine: Mutex::new(None),
            terminals,
            mcp,
            conversations: OnceLock::new(),
            map: OnceLock::new(),
            editor_errors: Mutex::new(std::collections::HashMap::new()),
            saved,
            work_done_progress: AtomicBool::new(false),
            progress: Progress::default(),
            work: tokio::runtime::Handle::current(),
        });
        tokio::spawn(forward_terminal_events(state.clone(), terminal_events));
        Backend { state }
    }

    /// Stops every turn and every process.
    pub async fn stop_everything(&self) {
        self.state.stop_everything().await;
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = Encoding::negotiate(
            params
                .capabilities
                .general
                .as_ref()
                .and_then(|general| general.position_encodings.as_deref()),
        );
        self.state.documents.set_encoding(encoding);
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|folders| folders.first())
            .and_then(|folder| folder.uri.to_file_path())
            .or_else(|| {
                #[allow(deprecated)]
                params.root_uri.as_ref().and_then(|uri| uri.to_file_path())
            })
            .and_then(|path| std::fs::canonicalize(path).ok());
        let capabilities = &params.capabilities;
        let window = capabilities.window.as_ref();
        self.state.work_done_progress.store(
            window
                .and_then(|window| window.work_done_progress)
                .unwrap_or(false),
            Ordering::Release,
        );
        self.state.show_document.store(
            window
                .and_then(|window| window.show_document.as_ref())
                .is_some_and(|show| show.support),
            Ordering::Release,
        );
        self.state.pull_configuration.store(
            capabilities
                .workspace
                .as_ref()
                .and_then(|workspace| workspace.configuration)
                .unwrap_or(false),
            Ordering::Release,
        );
        let options = params.initialization_options.as_ref();
        let client_options = ClientOptions::from_initialization_options(options);
        *lock(&self.state.client_options) = client_options.clone();
        if let Some(root) = &root {
            let _ = self.state.root.set(root.clone());
        }
        self.state.apply_settings(options);
        // Whether commands are sandboxed (a check runs a process once): off the protocol thread.
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || state.apply_sandbox()).await;
        if let Some(root) = root {
            let data_dir = default_data_dir(|name| std::env::var(name).ok());
            let _ = self.state.map.set(ProjectMap::start(
                &root,
                Some(ProjectMap::cache_file(&data_dir, &root)),
            ));
            // Opening the store creates and migrates it: off the async threads.
            let opened = tokio::task::spawn_blocking(|| {
                Store::open(&default_data_dir(|name| std::env::var(name).ok()))
            })
            .await;
            let store = match opened {
                Ok(Ok(store)) => {
                    // Closed when the server exits, whoever still holds a copy.
                    let _ = self.state.store.set(store.clone());
                    Some(store)
                }
                Ok(Err(failure)) => {
                    self.warn_not_saved(failure.to_string());
                    None
                }
                Err(failure) => {
                    self.warn_not_saved(failure.to_string());
                    None
                }
            };
            let front_end = EditorFrontEnd {
                state: self.state.clone(),
                saves_edits: client_options.saves_edits,
            };
            let _ = self.state.conversations.set(Arc::new(
                Conversations::new(
                    root,
                    store,
                    self.state.terminals.clone(),
                    Box::new(front_end),
                )
                .with_mcp(self.state.mcp.clone()),
            ));
            self.state.apply_mcp().await;
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(encoding.kind()),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                            include_text: Some(false),
                        })),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![COMMAND_CHAT.to_owned(), COMMAND_ABORT.to_owned()],
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "openbolt".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn shutdown(&self) -> Result<()> {
        self.state.stop_everything().await;
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        self.state.documents.open(
            &document.uri,
            &document.text,
            document.version,
            &document.language_id,
        );
        self.state.buffer_changed(&document.uri);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        if let Err(failure) = self.state.documents.change(
            &params.text_document.uri,
            params.text_document.version,
            &params.content_changes,
        ) {
            tracing::warn!(%failure, "didChange not applied");
        }
        self.state.buffer_changed(&params.text_document.uri);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let uri = params.text_document.uri;
        if let (Some(map), Some(path)) = (self.state.map.get(), uri.to_file_path()) {
            map.files_changed(&[path.into_owned()]);
        }
        let _ = self.state.saved.send(uri.as_str().to_owned());
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.state.documents.close(&uri);
        if let (Some(map), Some(path)) = (self.state.map.get(), uri.to_file_path()) {
            map.buffer_closed(&path);
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if !self.state.pull_configuration.load(Ordering::Acquire) {
            self.state.settings_changed(Some(&params.settings));
            return;
        }
        // The client keeps the settings: ask for our section (a round trip, so not in the handler).
        let state = self.state.clone();
        tokio::spawn(async move {
            let pulled = state
                .client
                .configuration(vec![ConfigurationItem {
                    scope_uri: None,
                    section: Some("openbolt".to_owned()),
                }])
                .await;
            match pulled {
                Ok(mut sections) if !sections.is_empty() => {
                    state.settings_changed(Some(&sections.swap_remove(0)));
                }
                // No answer: what the notification carried, if anything.
                _ => state.settings_changed(Some(&params.settings)),
            }
        });
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        match params.command.as_str() {
            COMMAND_CHAT => {
                let prompt = match params.arguments.first() {
                    Some(Value::String(prompt)) => prompt.clone(),
                    Some(Value::Object(object)) => object
                        .get("prompt")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    _ => String::new(),
                };
                let state = self.state.clone();
                let result = run_chat(
                    state.clone(),
                    ChatParams {
                        prompt,
                        session_id: Some(COMMAND_SESSION.to_owned()),
                        context: None,
                    },
                )
                .await?;
                // A client without our extension sees the reply in its log and a summary.
                let (prose, failed) = state
                    .conversations
                    .get()
                    .and_then(|conversations| conversations.find(COMMAND_SESSION))
                    .and_then(|conversation| conversation.entry(&result.message_id))
                    .map(|entry| {
                        let failed = entry
                            .actions
                            .iter()
                            .filter(|action| action.status == ActionStatus::Failed)
                            .count();
                        (entry.text, failed)
                    })
                    .unwrap_or_default();
                state.client.log_message(MessageType::INFO, prose).await;
                let summary = match (result.status, failed) {
                    (TurnStatus::Complete, 0) => "OpenBolt: done".to_owned(),
                    (TurnStatus::Complete, failed) => {
                        format!("OpenBolt: done, {failed} action(s) failed")
                    }
                    (TurnStatus::Aborted, _) => "OpenBolt: stopped".to_owned(),
                    (TurnStatus::Failed, _) => format!(
                        "OpenBolt: failed: {}",
                        result.error.clone().unwrap_or_default()
                    ),
                };
                state.client.show_message(MessageType::INFO, summary).await;
                Ok(serde_json::to_value(result).ok())
            }
            COMMAND_ABORT => {
                let stopped = self
                    .state
                    .conversations
                    .get()
                    .map_or(0, |conversations| conversations.abort_all());
                Ok(Some(Value::from(stopped)))
            }
            other => Err(ServerError::InvalidParams(format!("unknown command {other:?}")).into()),
        }
    }
}

impl Backend {
    fn warn_not_saved(&self, failure: String) {
        tracing::warn!(%failure, "sessions are not saved");
        self.state.show(
            MessageType::WARNING,
            format!("OpenBolt: conversations are not saved: {failure}"),
        );
    }
}
