//! The language server's lifecycle: `initialize` (the workspace, the store, the client's abilities and
//! settings), document sync, configuration, `workspace/executeCommand`, `shutdown`. The `openbolt/*`
//! requests are in `handlers.rs`, a turn's editor side in `turn.rs`, the terminals' events in
//! `forward.rs`; conversations themselves are the conversation layer's.
//!
//! Handlers stay short. Document changes are applied before any `.await`. A chat turn runs in a spawned
//! task — its provider stream, `workspace/applyEdit` round trips and approval questions never run inside
//! a handler — and the `openbolt/chat` handler only waits for that task's result.

use super::documents::Documents;
use super::editor::EditorWriter;
use super::errors::ServerError;
use super::forward::{Progress, forward_terminal_events};
use super::position::{self, Encoding};
use super::protocol::*;
use super::transport::Notifier;
use super::turn::{EditorFrontEnd, run_chat};
use crate::conversation::Conversations;
use crate::engine::context::{EditorBuffer, EditorContext, Selection};
use crate::engine::{Engine, TurnStatus};
use crate::lock;
use crate::options::{Effective, Options};
use crate::project::ProjectMap;
use crate::store::{Store, default_data_dir};
use crate::terminal::{TerminalEvent, Terminals};
use crate::types::ActionStatus;
use serde_json::Value;
use std::path::{Path, PathBuf};
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

/// Everything the handlers and the spawned tasks share.
pub(super) struct State {
    pub client: Client,
    /// Our `openbolt/…` notifications, in order with the responses.
    pub notifier: Notifier,
    pub documents: Arc<Documents>,
    /// What the editor's settings set (`initializationOptions`, `didChangeConfiguration`).
    settings: Mutex<Options>,
    /// The workspace root, once `initialize` named one.
    root: OnceLock<std::path::PathBuf>,
    /// Messages about the settings (files, environment) already shown: each is shown once.
    reported: Mutex<Vec<String>>,
    client_options: Mutex<ClientOptions>,
    pub show_document: AtomicBool,
    /// The client answers `workspace/configuration`: settings are pulled from it.
    pull_configuration: AtomicBool,
    engine: Mutex<Option<Arc<Engine>>>,
    pub terminals: Terminals,
    /// The workspace's MCP servers (configured by `initialize` and settings changes).
    pub mcp: crate::mcp::Mcp,
    /// Set by `initialize` when a workspace folder is open.
    pub conversations: OnceLock<Arc<Conversations>>,
    /// The workspace's project map, started by `initialize`.
    pub map: OnceLock<ProjectMap>,
    /// Turns waiting for the editor's diagnostics of their files, by reply id.
    pub editor_errors: Mutex<
        std::collections::HashMap<String, tokio::sync::oneshot::Sender<Vec<EditorFileDiagnostics>>>,
    >,
    /// URIs the client saved (`didSave`).
    pub saved: broadcast::Sender<String>,
    /// The client shows `$/progress` (`window.workDoneProgress`).
    pub work_done_progress: AtomicBool,
    pub progress: Progress,
    /// The main runtime, where turns run (handlers run on the protocol thread).
    pub work: tokio::runtime::Handle,
}

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
    ) -> Backend {
        let (saved, _) = broadcast::channel(64);
        let state = Arc::new(State {
            client,
            notifier,
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

impl State {
    pub(super) fn conversations(&self) -> std::result::Result<Arc<Conversations>, ServerError> {
        self.conversations
            .get()
            .cloned()
            .ok_or(ServerError::NoWorkspace)
    }

    /// Every setting decided: the editor's over the environment over the settings files over the
    /// defaults (`options`). What is wrong with the files or the environment is shown once.
    pub(super) fn effective(&self) -> Effective {
        let settings = lock(&self.settings).clone();
        let effective = crate::options::effective(&settings, self.root.get().map(PathBuf::as_path));
        let new: Vec<String> = {
            let mut reported = lock(&self.reported);
            let new: Vec<String> = effective
                .messages
                .iter()
                .filter(|message| !reported.contains(message))
                .cloned()
                .collect();
            reported.extend(new.iter().cloned());
            new
        };
        for message in new {
            tracing::warn!(%message, "settings");
            self.show(MessageType::WARNING, format!("OpenBolt: {message}"));
        }
        effective
    }

    pub(super) fn client_options(&self) -> ClientOptions {
        lock(&self.client_options).clone()
    }

    /// Writes files through the editor.
    pub(super) fn writer(&self, saves_edits: bool) -> EditorWriter {
        EditorWriter {
            client: self.client.clone(),
            documents: self.documents.clone(),
            saves_edits,
            saved: self.saved.clone(),
        }
    }

    /// Tells the project map a buffer changed; it copies the text on its own thread, later.
    fn buffer_changed(&self, uri: &Uri) {
        let (Some(map), Some(path)) = (self.map.get(), uri.to_file_path()) else {
            return;
        };
        let documents = self.documents.clone();
        let uri = uri.clone();
        map.buffer_changed_with(&path, move || {
            documents
                .get(&uri)
                .map(|document| document.rope.to_string())
        });
    }

    pub(super) fn engine(&self) -> std::result::Result<Arc<Engine>, ServerError> {
        if let Some(engine) = lock(&self.engine).clone() {
            return Ok(engine);
        }
        let workspace = self.conversations()?.workspace().to_path_buf();
        let engine = self
            .effective()
            .engine(workspace, self.map.get().cloned())
            .map_err(ServerError::Provider)?;
        let engine = Arc::new(engine);
        *lock(&self.engine) = Some(engine.clone());
        Ok(engine)
    }

    /// Takes settings from `initializationOptions`, `didChangeConfiguration` or a pull. Null or empty
    /// settings (some clients send `{}` right after `initialized`) change nothing.
    /// Returns whether the settings changed.
    fn apply_settings(&self, value: Option<&Value>) -> bool {
        if Options::is_empty(value) {
            return false;
        }
        match Options::from_value(value) {
            Ok(settings) => {
                *lock(&self.settings) = settings;
                *lock(&self.engine) = None;
                true
            }
            Err(message) => {
                tracing::warn!(%message, "settings refused");
                self.show(
                    MessageType::ERROR,
                    format!("OpenBolt: {message}; the previous settings stay in effect"),
                );
                let notifier = self.notifier.clone();
                tokio::spawn(async move {
                    notifier
                        .notify::<ErrorNotification>(ErrorParams {
                            session_id: None,
                            message,
                        })
                        .await;
                });
                false
            }
        }
    }

    /// Starts later commands in the sandbox the settings ask for, and tells the user whether they are
    /// sandboxed (the server log; a warning when they are not).
    fn apply_sandbox(&self) {
        let (sandbox, configured) = self.effective().sandbox();
        self.terminals.set_sandbox(sandbox);
        let message = format!("OpenBolt: {}", configured.message());
        tracing::info!(%message, "sandbox");
        let client = self.client.clone();
        let logged = message.clone();
        tokio::spawn(async move { client.log_message(MessageType::INFO, logged).await });
        if configured.is_warning() {
            self.show(MessageType::WARNING, message);
        }
    }

    /// Shows `message` in the editor (a round trip: never awaited here).
    pub(super) fn show(&self, kind: MessageType, message: String) {
        let client = self.client.clone();
        tokio::spawn(async move { client.show_message(kind, message).await });
    }

    /// A settings change from the client: the settings, and the sandbox they ask for.
    fn settings_changed(self: &Arc<Self>, value: Option<&Value>) {
        if self.apply_settings(value) {
            self.apply_sandbox();
            let state = Arc::clone(self);
            tokio::spawn(async move { state.apply_mcp().await });
        }
    }

    /// The editor's view for the model: open documents inside the workspace (with unsaved text) and
    /// the selection, if any.
    pub(super) fn editor_context(
        &self,
        root: &Path,
        context: Option<&ChatContext>,
    ) -> EditorContext {
        let mut editor = EditorContext::default();
        for document in self.documents.all() {
            let Some(path) = &document.path else { continue };
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let text = document.rope.to_string();
            let dirty = std::fs::read(path).ok().as_deref() != Some(text.as_bytes());
            editor.buffers.push(EditorBuffer {
                path: relative.to_path_buf(),
                text,
                dirty,
            });
        }
        if let Some(ChatContext {
            uri: Some(uri),
            range: Some(range),
        }) = context
            && let Some(document) = self.documents.get(uri)
            && let Some(path) = document
                .path
                .as_deref()
                .and_then(|path| path.strip_prefix(root).ok())
        {
            let encoding = self.documents.encoding();
            let start = position::to_char(&document.rope, range.start, encoding);
            let end = position::to_char(&document.rope, range.end, encoding);
            let (start, end) = (start.min(end), start.max(end));
            editor.selection = Some(Selection {
                path: path.to_path_buf(),
                start_line: document.rope.char_to_line(start) + 1,
                end_line: document.rope.char_to_line(end) + 1,
                text: document.rope.slice(start..end).to_string(),
            });
        }
        editor
    }

    async fn stop_everything(&self) {
        if let Some(conversations) = self.conversations.get() {
            conversations.abort_all();
        }
        self.terminals.shutdown().await;
        self.mcp.shutdown();
    }

    /// Reads the MCP configuration (the user's and the workspace's files, the `mcpServers` setting) and
    /// gives it to the servers; what is wrong with it is shown once, naming the server. Done before the
    /// next turn can start.
    pub(super) async fn apply_mcp(&self) {
        let Some(conversations) = self.conversations.get() else {
            return;
        };
        let workspace = conversations.workspace().to_path_buf();
        let config = self.effective().mcp_config(&workspace);
        for error in &config.errors {
            tracing::warn!("{error}");
        }
        if !config.errors.is_empty() {
            self.show(
                MessageType::WARNING,
                format!("OpenBolt: {}", config.errors.join("; ")),
            );
        }
        let names: Vec<&str> = config
            .servers
            .iter()
            .map(|server| server.name.as_str())
            .collect();
        if !names.is_empty() {
            let message = format!(
                "OpenBolt: MCP servers configured (they start with the first turn): {}",
                names.join(", ")
            );
            let client = self.client.clone();
            tokio::spawn(async move { client.log_message(MessageType::INFO, message).await });
        }
        self.mcp.reconfigure(&config);
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
                Ok(Ok(store)) => Some(store),
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
