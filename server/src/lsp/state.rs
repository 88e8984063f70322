//! The server's shared state — what the handlers, a turn's editor side and the terminals' forwarder all
//! use — and what it does: the effective settings (and the sandbox, the engine and the MCP servers built
//! from them), the editor's view for the model, syntax diagnostics, progress reporters. The modules that
//! use it (`backend.rs`, `turn.rs`, `forward.rs`) point here; it points at none of them.

use super::documents::Documents;
use super::editor::EditorWriter;
use super::errors::ServerError;
use super::position;
use super::progress::{Progress, ProgressEvent, report_progress};
use super::protocol::*;
use super::transport::Notifier;
use crate::conversation::Conversations;
use crate::engine::Engine;
use crate::engine::context::{EditorBuffer, EditorContext, Selection};
use crate::lock;
use crate::options::{Effective, Options};
use crate::project::ProjectMap;
use crate::terminal::Terminals;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

/// Everything the handlers and the spawned tasks share.
pub(super) struct State {
    pub client: Client,
    /// Our `openbolt/…` notifications, in order with the responses.
    pub notifier: Notifier,
    pub documents: Arc<Documents>,
    /// What the editor's settings set (`initializationOptions`, `didChangeConfiguration`).
    pub(super) settings: Mutex<Options>,
    /// The workspace root, once `initialize` named one.
    pub(super) root: OnceLock<std::path::PathBuf>,
    /// Messages about the settings (files, environment) already shown: each is shown once.
    pub(super) reported: Mutex<Vec<String>>,
    pub(super) client_options: Mutex<ClientOptions>,
    pub show_document: AtomicBool,
    /// The client answers `workspace/configuration`: settings are pulled from it.
    pub(super) pull_configuration: AtomicBool,
    pub(super) engine: Mutex<Option<Arc<Engine>>>,
    pub terminals: Terminals,
    /// The workspace's MCP servers (configured by `initialize` and settings changes).
    pub mcp: crate::mcp::Mcp,
    /// Set by `initialize` when a workspace folder is open.
    pub conversations: OnceLock<Arc<Conversations>>,
    /// The workspace's project map, started by `initialize`.
    pub map: OnceLock<ProjectMap>,
    /// The session store, once `initialize` opened it: `serve_stdio` closes it at exit.
    pub store: Arc<OnceLock<crate::store::Store>>,
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
    pub(super) fn buffer_changed(&self, uri: &Uri) {
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
    pub(super) fn apply_settings(&self, value: Option<&Value>) -> bool {
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
    /// sandboxed (the server log; a warning when they are not) and which browser checks previews.
    pub(super) fn apply_sandbox(&self) {
        let effective = self.effective();
        let (sandbox, configured) = effective.sandbox();
        self.terminals.set_sandbox(sandbox);
        let message = format!("OpenBolt: {}", configured.message());
        tracing::info!(%message, "sandbox");
        let client = self.client.clone();
        let logged = message.clone();
        // The page check's browser, said once per settings change in the server log.
        let page = format!("OpenBolt: {}", effective.page_checks_said().1);
        tracing::info!(message = %page, "page check");
        tokio::spawn(async move {
            client.log_message(MessageType::INFO, logged).await;
            client.log_message(MessageType::INFO, page).await;
        });
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
    pub(super) fn settings_changed(self: &Arc<Self>, value: Option<&Value>) {
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

    pub(super) async fn stop_everything(&self) {
        if let Some(conversations) = self.conversations.get() {
            conversations.abort_all();
        }
        self.terminals.shutdown().await;
        self.mcp.shutdown();
        crate::browser::shared().close().await;
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

impl State {
    /// Publishes the syntax errors of a file the AI wrote (`source: openbolt`); none clears them.
    pub(super) async fn publish_syntax(
        &self,
        relative: &str,
        diagnostics: &[crate::types::Diagnostic],
    ) {
        let Ok(conversations) = self.conversations() else {
            return;
        };
        let Ok(root) = std::fs::canonicalize(conversations.workspace()) else {
            return;
        };
        let Ok(path) = crate::actions::files::resolve_in_workspace(&root, relative) else {
            return;
        };
        let Some(uri) = tower_lsp_server::ls_types::Uri::from_file_path(&path) else {
            return;
        };
        let encoding = self.documents.encoding();
        let rope = match self.documents.by_path(&path) {
            Some((_, document)) => document.rope,
            None if diagnostics.is_empty() => ropey::Rope::new(),
            None => ropey::Rope::from_str(&String::from_utf8_lossy(
                &tokio::fs::read(&path).await.unwrap_or_default(),
            )),
        };
        let position = |line: u32, column: u32| {
            let line = (line as usize).min(rope.len_lines().saturating_sub(1));
            let start = rope.line_to_byte(line);
            let end = rope.line_to_byte((line + 1).min(rope.len_lines()));
            let byte = (start + column as usize).min(end);
            let char_index = rope.byte_to_char(byte);
            super::position::to_position(&rope, char_index, encoding)
        };
        let published = diagnostics
            .iter()
            .map(|diagnostic| tower_lsp_server::ls_types::Diagnostic {
                range: tower_lsp_server::ls_types::Range {
                    start: position(diagnostic.line, diagnostic.column),
                    end: position(diagnostic.end_line, diagnostic.end_column),
                },
                severity: Some(tower_lsp_server::ls_types::DiagnosticSeverity::ERROR),
                source: Some("openbolt".to_owned()),
                message: diagnostic.message.clone(),
                ..tower_lsp_server::ls_types::Diagnostic::default()
            })
            .collect();
        self.client.publish_diagnostics(uri, published, None).await;
    }

    /// Reports a shell command's progress until its end.
    pub(super) fn start_progress(&self, terminal: crate::terminal::TerminalId, command: String) {
        let (sender, receiver) = mpsc::channel(16);
        self.progress.insert(terminal, sender.clone());
        // It may have ended already, its exit forwarded before this registration.
        if let Some(info) = self
            .terminals
            .list()
            .into_iter()
            .find(|info| info.terminal_id == terminal && !info.running)
        {
            self.progress.remove(terminal);
            let _ = sender.try_send(ProgressEvent::Done(info.exit_code.unwrap_or(0)));
        }
        tokio::spawn(report_progress(
            self.client.clone(),
            terminal,
            command,
            receiver,
        ));
    }
}
