//! The language server: documents, settings, sessions, and the `openbolt/…` methods.
//!
//! Handlers stay short. Document changes are applied before any `.await`. A chat turn runs in a spawned
//! task — its provider stream, `workspace/applyEdit` round trips and approval questions never run inside
//! a handler — and the `openbolt/chat` handler only waits for that task's result. If the request is
//! cancelled (`$/cancelRequest`), dropping the handler's future cancels the turn through a drop guard.

use super::documents::Documents;
use super::editor::{EditorApprover, EditorWriter};
use super::position::{self, Encoding};
use super::protocol::*;
use super::settings::Settings;
use super::transport::Notifier;
use crate::actions::{ActionStatus, Runner};
use crate::engine::context::{EditorBuffer, EditorContext, Selection};
use crate::engine::{Engine, Session, TurnEvent, TurnStatus};
use crate::provider::Provider;
use crate::store::{SessionRecorder, Store, default_data_dir, load_conversation};
use crate::terminal::{TerminalEvent, TerminalId, Terminals};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// The commands any LSP client can run (`workspace/executeCommand`).
pub const COMMAND_CHAT: &str = "openbolt.chat";
pub const COMMAND_ABORT: &str = "openbolt.abort";
/// The session `openbolt.chat` commands continue.
const COMMAND_SESSION: &str = "editor-commands";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(code: i64, message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::ServerError(code),
        message: message.into().into(),
        data: None,
    }
}

fn invalid_params(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into().into(),
        data: None,
    }
}

/// A conversation: its turn lock (held for a whole turn), the running turn's cancel token, and the
/// transcript the chat panel shows.
struct SessionSlot {
    id: String,
    data: Arc<tokio::sync::Mutex<SessionData>>,
    cancel: Mutex<Option<CancellationToken>>,
    transcript: Mutex<Vec<TranscriptMessage>>,
}

#[derive(Default)]
struct SessionData {
    session: Session,
    runner: Option<Runner>,
    recorder: Option<SessionRecorder>,
}

/// Everything the handlers and the spawned tasks share.
struct State {
    client: Client,
    /// Our `openbolt/…` notifications, in order with the responses.
    notifier: Notifier,
    documents: Arc<Documents>,
    root: Mutex<Option<PathBuf>>,
    settings: Mutex<Settings>,
    client_options: Mutex<ClientOptions>,
    show_document: AtomicBool,
    engine: Mutex<Option<Arc<Engine>>>,
    terminals: Terminals,
    sessions: Mutex<Vec<Arc<SessionSlot>>>,
    saved: broadcast::Sender<String>,
    /// Which session and message a terminal belongs to, for late action updates.
    terminal_owners: Mutex<HashMap<TerminalId, (String, String)>>,
    /// Saved sessions; `None` when the store could not be opened (the conversation is then not saved).
    store: Mutex<Option<Store>>,
    /// The client shows `$/progress` (`window.workDoneProgress`).
    work_done_progress: AtomicBool,
    /// A running shell command's progress reporter, fed with its output's last line and its end.
    progress: Mutex<HashMap<TerminalId, mpsc::Sender<ProgressEvent>>>,
    next_id: AtomicU64,
}

/// The `LanguageServer` implementation.
pub struct Backend {
    state: Arc<State>,
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
    ) -> Backend {
        let (saved, _) = broadcast::channel(64);
        let state = Arc::new(State {
            client,
            notifier,
            documents: Arc::new(Documents::default()),
            root: Mutex::new(None),
            settings: Mutex::new(Settings::default()),
            client_options: Mutex::new(ClientOptions::default()),
            show_document: AtomicBool::new(false),
            engine: Mutex::new(None),
            terminals,
            sessions: Mutex::new(Vec::new()),
            saved,
            terminal_owners: Mutex::new(HashMap::new()),
            work_done_progress: AtomicBool::new(false),
            progress: Mutex::new(HashMap::new()),
            store: Mutex::new(None),
            next_id: AtomicU64::new(1),
        });
        tokio::spawn(forward_terminal_events(state.clone(), terminal_events));
        Backend { state }
    }

    /// `openbolt/chat`: runs a turn; answers when it has ended.
    pub async fn chat(&self, params: ChatParams) -> Result<ChatResult> {
        run_chat(self.state.clone(), params).await
    }

    /// `openbolt/abort`: stops the session's running turn, if any.
    pub async fn abort(&self, params: SessionParams) -> Result<Value> {
        let slot = self
            .state
            .find_session(&params.session_id)
            .ok_or_else(|| invalid_params(format!("no session {}", params.session_id)))?;
        let cancel = lock(&slot.cancel).clone();
        Ok(Value::Bool(cancel.is_some_and(|cancel| {
            cancel.cancel();
            true
        })))
    }

    /// `openbolt/sessions`: the conversations of this workspace, newest first.
    pub async fn sessions(&self) -> Result<Vec<SessionSummary>> {
        let store = lock(&self.state.store).clone();
        let root = lock(&self.state.root).clone();
        if let (Some(store), Some(root)) = (store, root) {
            let rows = store
                .sessions(&root)
                .map_err(|failure| error(-32006, failure.to_string()))?;
            return Ok(rows
                .into_iter()
                .map(|row| SessionSummary {
                    busy: self
                        .state
                        .find_session(&row.session_id)
                        .is_some_and(|slot| slot.data.try_lock().is_err()),
                    session_id: row.session_id,
                    title: row.title,
                    message_count: usize::try_from(row.message_count).unwrap_or_default(),
                })
                .collect());
        }
        let sessions = lock(&self.state.sessions).clone();
        Ok(sessions
            .iter()
            .rev()
            .map(|slot| {
                let transcript = lock(&slot.transcript);
                SessionSummary {
                    session_id: slot.id.clone(),
                    title: transcript
                        .first()
                        .map(|message| message.text.chars().take(80).collect())
                        .unwrap_or_default(),
                    message_count: transcript.len(),
                    busy: slot.data.try_lock().is_err(),
                }
            })
            .collect())
    }

    /// `openbolt/loadSession`: one conversation as the chat panel shows it.
    pub async fn load_session(&self, params: SessionParams) -> Result<SessionTranscript> {
        if self.state.find_session(&params.session_id).is_none()
            && let Some(store) = lock(&self.state.store).clone()
        {
            let messages = stored_transcript(&store, &params.session_id)
                .map_err(|failure| invalid_params(failure.to_string()))?;
            return Ok(SessionTranscript {
                session_id: params.session_id,
                messages,
            });
        }
        let slot = self
            .state
            .find_session(&params.session_id)
            .ok_or_else(|| invalid_params(format!("no session {}", params.session_id)))?;
        let messages = lock(&slot.transcript).clone();
        Ok(SessionTranscript {
            session_id: slot.id.clone(),
            messages,
        })
    }

    /// `openbolt/revert`: undoes the files of a turn (`messageId`, default the last one not reverted)
    /// and of every later turn, through the editor; files changed since are reported, not touched.
    pub async fn revert(&self, params: RevertParams) -> Result<RevertResult> {
        let store = lock(&self.state.store).clone().ok_or_else(|| {
            error(
                -32001,
                "the session store is not available, so there is nothing to revert",
            )
        })?;
        let slot = self.state.session(Some(&params.session_id));
        let Ok(_turn) = slot.data.clone().try_lock_owned() else {
            return Err(error(
                -32004,
                "a turn is running in this session: stop it first",
            ));
        };
        let messages = store
            .messages(&params.session_id)
            .map_err(|failure| invalid_params(failure.to_string()))?;
        let target = match params.message_id {
            Some(id) => id,
            None => messages
                .iter()
                .rev()
                .find(|message| message.role == "assistant" && !message.reverted)
                .map(|message| message.message_id.clone())
                .ok_or_else(|| invalid_params("nothing to revert in this session"))?,
        };
        let documents = self.state.documents.clone();
        let (turns, steps) = store
            .revert_plan(&params.session_id, &target, |path| {
                // The editor's text is what counts for an open document.
                match documents.by_path(path) {
                    Some((_, document)) => Some(document.rope.to_string().into_bytes()),
                    None => std::fs::read(path).ok(),
                }
            })
            .map_err(|failure| invalid_params(failure.to_string()))?;
        let writer = EditorWriter {
            client: self.state.client.clone(),
            documents: self.state.documents.clone(),
            saves_edits: lock(&self.state.client_options).saves_edits,
            saved: self.state.saved.clone(),
        };
        let root = lock(&self.state.root).clone().unwrap_or_default();
        let mut files = Vec::new();
        for step in steps {
            let shown = step
                .path
                .strip_prefix(&root)
                .unwrap_or(&step.path)
                .display()
                .to_string();
            let (status, reason) = if let Some(conflict) = step.conflict {
                ("conflict", Some(conflict))
            } else if let Some(content) = step.restore {
                let text = String::from_utf8_lossy(&content).into_owned();
                match crate::actions::FileWriter::write(&writer, &step.path, &text).await {
                    Ok(()) => ("restored", None),
                    Err(failure) => ("conflict", Some(failure)),
                }
            } else {
                match writer.delete(&step.path).await {
                    Ok(()) => ("deleted", None),
                    Err(failure) => ("conflict", Some(failure)),
                }
            };
            files.push(RevertedFile {
                path: shown,
                status,
                reason,
            });
        }
        let reverted = turns.clone();
        tokio::task::spawn_blocking(move || store.mark_reverted(turns))
            .await
            .map_err(|failure| error(-32005, failure.to_string()))?;
        for entry in lock(&slot.transcript).iter_mut() {
            if reverted.contains(&entry.message_id) {
                entry.reverted = true;
            }
        }
        Ok(RevertResult { reverted, files })
    }

    pub async fn terminal_input(&self, params: TerminalInputParams) -> Result<Value> {
        self.state
            .terminals
            .write(params.terminal_id, params.data.as_bytes())
            .await
            .map_err(|failure| invalid_params(failure.to_string()))?;
        Ok(Value::Null)
    }

    pub async fn terminal_resize(&self, params: TerminalResizeParams) -> Result<Value> {
        self.state
            .terminals
            .resize(params.terminal_id, params.cols, params.rows)
            .map_err(|failure| invalid_params(failure.to_string()))?;
        Ok(Value::Null)
    }

    pub async fn terminal_kill(&self, params: TerminalParams) -> Result<Value> {
        // Stopping waits out the grace period: do it off the handler.
        let terminals = self.state.terminals.clone();
        if !terminals
            .list()
            .iter()
            .any(|terminal| terminal.terminal_id == params.terminal_id)
        {
            return Err(invalid_params(format!(
                "no terminal {}",
                params.terminal_id
            )));
        }
        tokio::spawn(async move {
            let _ = terminals.kill(params.terminal_id).await;
        });
        Ok(Value::Null)
    }

    /// `openbolt/terminals`: every terminal with its kept output, for a late viewer.
    pub async fn terminals(&self) -> Result<Vec<TerminalSnapshot>> {
        let terminals = &self.state.terminals;
        Ok(terminals
            .list()
            .into_iter()
            .map(|info| TerminalSnapshot {
                tail: terminals.tail(info.terminal_id).unwrap_or_default(),
                info,
            })
            .collect())
    }

    /// `openbolt/document`: the server's copy of an open document (for diagnosing sync problems).
    pub async fn document(&self, params: DocumentParams) -> Result<DocumentState> {
        let document = self
            .state
            .documents
            .get(&params.uri)
            .ok_or_else(|| invalid_params(format!("{} is not open", params.uri.as_str())))?;
        Ok(DocumentState {
            version: document.version,
            text: document.rope.to_string(),
        })
    }

    /// Stops every turn and every process.
    pub async fn stop_everything(&self) {
        self.state.stop_everything().await;
    }
}

impl State {
    fn new_id(&self, prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        format!(
            "{prefix}-{:x}-{}",
            nanos,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn find_session(&self, id: &str) -> Option<Arc<SessionSlot>> {
        lock(&self.sessions)
            .iter()
            .find(|slot| slot.id == id)
            .cloned()
    }

    fn session(&self, id: Option<&str>) -> Arc<SessionSlot> {
        if let Some(id) = id
            && let Some(slot) = self.find_session(id)
        {
            return slot;
        }
        let id = id.map_or_else(|| crate::store::new_id("s"), str::to_owned);
        // A saved session continues where it ended: its conversation and its transcript.
        let store = lock(&self.store).clone();
        let (session, transcript) = store
            .as_ref()
            .and_then(|store| {
                let session = load_conversation(store, &id).ok()?;
                let transcript = stored_transcript(store, &id).ok()?;
                Some((session, transcript))
            })
            .unwrap_or_default();
        let root = lock(&self.root).clone().unwrap_or_default();
        let slot = Arc::new(SessionSlot {
            data: Arc::new(tokio::sync::Mutex::new(SessionData {
                session,
                runner: None,
                recorder: Some(SessionRecorder::new(store, id.clone(), &root)),
            })),
            id,
            cancel: Mutex::new(None),
            transcript: Mutex::new(transcript),
        });
        lock(&self.sessions).push(slot.clone());
        slot
    }

    fn root(&self) -> Result<PathBuf> {
        lock(&self.root).clone().ok_or_else(|| {
            error(
                -32002,
                "no workspace folder is open: OpenBolt writes into the workspace, so open a folder first",
            )
        })
    }

    fn engine(&self, root: &Path) -> Result<Arc<Engine>> {
        if let Some(engine) = lock(&self.engine).clone() {
            return Ok(engine);
        }
        let settings = lock(&self.settings).clone();
        let resolved = settings
            .provider_choice()
            .resolve(|name| std::env::var(name).ok())
            .map_err(|failure| error(-32003, failure.to_string()))?;
        let mut provider =
            Provider::new(resolved).map_err(|failure| error(-32003, failure.to_string()))?;
        if let Some(seconds) = settings.idle_timeout {
            provider.idle_timeout = Duration::from_secs(seconds.max(1));
        }
        let mut engine = Engine::new(Arc::new(provider), root.to_path_buf());
        if let Some(max_tokens) = settings.max_tokens {
            engine.max_tokens = max_tokens;
        }
        let engine = Arc::new(engine);
        *lock(&self.engine) = Some(engine.clone());
        Ok(engine)
    }

    fn apply_settings(&self, value: Option<&Value>) {
        match Settings::from_value(value) {
            Ok(settings) => {
                *lock(&self.settings) = settings;
                *lock(&self.engine) = None;
            }
            Err(message) => {
                tracing::warn!(%message, "settings refused");
                let client = self.client.clone();
                let notifier = self.notifier.clone();
                tokio::spawn(async move {
                    client
                        .show_message(
                            MessageType::ERROR,
                            format!("OpenBolt: {message}; the previous settings stay in effect"),
                        )
                        .await;
                    notifier
                        .notify::<ErrorNotification>(ErrorParams {
                            session_id: None,
                            message,
                        })
                        .await;
                });
            }
        }
    }

    /// The editor's view for the model: open documents inside the workspace (with unsaved text) and
    /// the selection, if any.
    fn editor_context(&self, root: &Path, context: Option<&ChatContext>) -> EditorContext {
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
        let sessions = lock(&self.sessions).clone();
        for slot in sessions {
            if let Some(cancel) = lock(&slot.cancel).as_ref() {
                cancel.cancel();
            }
        }
        self.terminals.shutdown().await;
    }
}

async fn run_chat(state: Arc<State>, params: ChatParams) -> Result<ChatResult> {
    if params.prompt.trim().is_empty() {
        return Err(invalid_params("the prompt is empty"));
    }
    let root = state.root()?;
    let engine = state.engine(&root)?;
    let slot = state.session(params.session_id.as_deref());
    let data = match slot.data.clone().try_lock_owned() {
        Ok(data) => data,
        Err(_) => {
            // A turn that was stopped may still be winding down (stopping its processes): wait for it.
            let stopping = lock(&slot.cancel)
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled);
            let busy = || {
                error(
                    -32004,
                    format!(
                        "session {} is already running a turn: wait for it or stop it (openbolt/abort)",
                        slot.id
                    ),
                )
            };
            if !stopping {
                return Err(busy());
            }
            tokio::time::timeout(Duration::from_secs(15), slot.data.clone().lock_owned())
                .await
                .map_err(|_| busy())?
        }
    };
    let message_id = state.new_id("m");
    let cancel = CancellationToken::new();
    *lock(&slot.cancel) = Some(cancel.clone());
    // `$/cancelRequest` drops this handler's future: the guard then stops the turn.
    let guard = cancel.clone().drop_guard();
    let task = tokio::spawn(turn_task(
        state.clone(),
        slot.clone(),
        data,
        engine,
        root,
        params,
        message_id,
        cancel,
    ));
    let result = task.await;
    guard.disarm();
    *lock(&slot.cancel) = None;
    result.map_err(|failure| error(-32005, format!("the turn failed: {failure}")))
}

#[allow(clippy::too_many_arguments)]
async fn turn_task(
    state: Arc<State>,
    slot: Arc<SessionSlot>,
    mut data: tokio::sync::OwnedMutexGuard<SessionData>,
    engine: Arc<Engine>,
    root: PathBuf,
    params: ChatParams,
    message_id: String,
    cancel: CancellationToken,
) -> ChatResult {
    let settings = lock(&state.settings).clone();
    let client_options = lock(&state.client_options).clone();
    let session_id = slot.id.clone();
    let SessionData {
        session,
        runner,
        recorder,
    } = &mut *data;
    let recorder = recorder.get_or_insert_with(|| {
        SessionRecorder::new(lock(&state.store).clone(), session_id.clone(), &root)
    });
    recorder.begin_as(&params.prompt, &message_id);
    if runner.is_none() {
        let writer = EditorWriter {
            client: state.client.clone(),
            documents: state.documents.clone(),
            saves_edits: client_options.saves_edits,
            saved: state.saved.clone(),
        };
        let approver = EditorApprover {
            client: state.client.clone(),
        };
        match Runner::new(
            &root,
            Box::new(writer),
            Box::new(approver),
            settings.approval_policy(),
            state.terminals.clone(),
            &session_id,
        ) {
            Ok(created) => *runner = Some(created),
            Err(failure) => {
                return ChatResult {
                    session_id,
                    message_id,
                    status: TurnStatus::Failed,
                    error: Some(format!(
                        "cannot open the workspace {}: {failure}",
                        root.display()
                    )),
                    usage: None,
                };
            }
        }
    }
    let Some(runner) = runner.as_mut() else {
        unreachable!("the runner was just made")
    };
    runner.set_policy(settings.approval_policy());
    if let Some(seconds) = settings.command_timeout {
        runner.shell_timeout = Duration::from_secs(seconds.max(1));
    }

    {
        let mut transcript = lock(&slot.transcript);
        transcript.push(TranscriptMessage {
            message_id: format!("{message_id}-prompt"),
            role: "user",
            text: params.prompt.clone(),
            actions: Vec::new(),
            status: None,
            reverted: false,
        });
        transcript.push(TranscriptMessage {
            message_id: message_id.clone(),
            role: "assistant",
            text: String::new(),
            actions: Vec::new(),
            status: None,
            reverted: false,
        });
    }
    let editor = state.editor_context(&root, params.context.as_ref());
    let (events, mut receiver) = mpsc::channel::<TurnEvent>(256);
    let forward = async {
        while let Some(event) = receiver.recv().await {
            recorder.event(&message_id, &event);
            forward_turn_event(&state, &slot, &session_id, &message_id, event).await;
        }
    };
    let turn = engine.run_turn(session, &params.prompt, &editor, runner, events, cancel);
    let (outcome, ()) = tokio::join!(turn, forward);
    recorder.end(&message_id, &outcome);

    if let Some(entry) = lock(&slot.transcript)
        .iter_mut()
        .rev()
        .find(|entry| entry.message_id == message_id)
    {
        entry.status = Some(outcome.status);
    }
    if let Some(message) = &outcome.error
        && outcome.status == TurnStatus::Failed
    {
        state
            .notifier
            .notify::<ErrorNotification>(ErrorParams {
                session_id: Some(session_id.clone()),
                message: message.clone(),
            })
            .await;
        state
            .client
            .show_message(MessageType::ERROR, format!("OpenBolt: {message}"))
            .await;
    }
    let usage = outcome.usage;
    ChatResult {
        session_id,
        message_id,
        status: outcome.status,
        error: outcome.error,
        usage: Some(UsageReport {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_tokens,
            cache_write_tokens: usage.cache_write_tokens,
        }),
    }
}

async fn forward_turn_event(
    state: &State,
    slot: &SessionSlot,
    session_id: &str,
    message_id: &str,
    event: TurnEvent,
) {
    let notifier = &state.notifier;
    match event {
        TurnEvent::Text(text) => {
            if let Some(entry) = lock(&slot.transcript)
                .iter_mut()
                .rev()
                .find(|entry| entry.message_id == message_id)
            {
                entry.text.push_str(&text);
            }
            notifier
                .notify::<ChatDeltaNotification>(ChatDelta {
                    session_id: session_id.to_owned(),
                    message_id: message_id.to_owned(),
                    text,
                })
                .await;
        }
        TurnEvent::Notice(text) => {
            notifier
                .notify::<NoticeNotification>(NoticeParams {
                    session_id: session_id.to_owned(),
                    message_id: message_id.to_owned(),
                    text,
                })
                .await;
        }
        TurnEvent::Action(update) => {
            if let Some(terminal) = update.terminal_id {
                lock(&state.terminal_owners)
                    .insert(terminal, (session_id.to_owned(), message_id.to_owned()));
                if update.status == ActionStatus::Running
                    && update.kind == "shell"
                    && state.work_done_progress.load(Ordering::Acquire)
                {
                    let (sender, receiver) = mpsc::channel(16);
                    lock(&state.progress).insert(terminal, sender.clone());
                    // It may have ended already, its exit forwarded before this registration.
                    if let Some(info) = state
                        .terminals
                        .list()
                        .into_iter()
                        .find(|info| info.terminal_id == terminal && !info.running)
                    {
                        lock(&state.progress).remove(&terminal);
                        let _ = sender.try_send(ProgressEvent::Done(info.exit_code.unwrap_or(0)));
                    }
                    tokio::spawn(report_progress(
                        state.client.clone(),
                        terminal,
                        update.command.clone().unwrap_or_default(),
                        receiver,
                    ));
                }
            }
            record_action(slot, message_id, &update);
            notifier
                .notify::<ActionUpdateNotification>(ActionUpdateParams {
                    session_id: session_id.to_owned(),
                    message_id: message_id.to_owned(),
                    update,
                })
                .await;
        }
    }
}

/// A saved session as the chat panel shows it.
fn stored_transcript(
    store: &Store,
    session_id: &str,
) -> std::result::Result<Vec<TranscriptMessage>, crate::store::StoreError> {
    Ok(store
        .messages(session_id)?
        .into_iter()
        .map(|message| TranscriptMessage {
            status: match message.status.as_deref() {
                Some("complete") => Some(TurnStatus::Complete),
                Some("aborted") => Some(TurnStatus::Aborted),
                Some("failed" | "interrupted") => Some(TurnStatus::Failed),
                _ => None,
            },
            role: if message.role == "user" {
                "user"
            } else {
                "assistant"
            },
            text: message.prose,
            actions: message.actions,
            reverted: message.reverted,
            message_id: message.message_id,
        })
        .collect())
}

fn record_action(slot: &SessionSlot, message_id: &str, update: &crate::actions::ActionUpdate) {
    if let Some(entry) = lock(&slot.transcript)
        .iter_mut()
        .rev()
        .find(|entry| entry.message_id == message_id)
    {
        match entry
            .actions
            .iter_mut()
            .find(|action| action.action_id == update.action_id)
        {
            Some(action) => *action = update.clone(),
            None => entry.actions.push(update.clone()),
        }
    }
}

/// What a command's progress reporter hears.
enum ProgressEvent {
    /// The last line it printed.
    Line(String),
    Done(i32),
}

/// `window/workDoneProgress/create` + `$/progress` for one shell command: begun with the command, its
/// last output line at most every 250 ms, finished with its exit code.
async fn report_progress(
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
async fn forward_terminal_events(state: Arc<State>, mut events: mpsc::Receiver<TerminalEvent>) {
    while let Some(event) = events.recv().await {
        let client = &state.client;
        let notifier = &state.notifier;
        match event {
            TerminalEvent::Output { terminal_id, data } => {
                if let Some(reporter) = lock(&state.progress).get(&terminal_id)
                    && let Some(line) = last_line(&data)
                {
                    // Progress is a courtesy: never wait for it.
                    let _ = reporter.try_send(ProgressEvent::Line(line));
                }
                notifier
                    .notify::<TerminalOutputNotification>(TerminalOutputParams {
                        terminal_id,
                        data,
                    })
                    .await;
            }
            TerminalEvent::Exit { terminal_id, exit } => {
                if let Some(reporter) = lock(&state.progress).remove(&terminal_id) {
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
                let handles_preview = lock(&state.client_options).handles_preview;
                if !handles_preview
                    && state.show_document.load(Ordering::Acquire)
                    && let Ok(uri) = preview.url.parse::<Uri>()
                {
                    let client = client.clone();
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
            TerminalEvent::Action { owner, update } => {
                let known = update
                    .terminal_id
                    .and_then(|terminal| lock(&state.terminal_owners).get(&terminal).cloned());
                let (session_id, message_id) = known.unwrap_or((owner, String::new()));
                if let Some(slot) = state.find_session(&session_id) {
                    record_action(&slot, &message_id, &update);
                }
                if let Some(store) = lock(&state.store).as_ref()
                    && !message_id.is_empty()
                {
                    store.record_action(&message_id, &update);
                }
                notifier
                    .notify::<ActionUpdateNotification>(ActionUpdateParams {
                        session_id,
                        message_id,
                        update,
                    })
                    .await;
            }
        }
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
        *lock(&self.state.root) = root;
        match Store::open(&default_data_dir(|name| std::env::var(name).ok())) {
            Ok(store) => *lock(&self.state.store) = Some(store),
            Err(failure) => {
                tracing::warn!(%failure, "sessions are not saved");
                let client = self.state.client.clone();
                tokio::spawn(async move {
                    client
                        .show_message(
                            MessageType::WARNING,
                            format!("OpenBolt: conversations are not saved: {failure}"),
                        )
                        .await;
                });
            }
        }
        self.state.work_done_progress.store(
            params
                .capabilities
                .window
                .as_ref()
                .and_then(|window| window.work_done_progress)
                .unwrap_or(false),
            Ordering::Release,
        );
        self.state.show_document.store(
            params
                .capabilities
                .window
                .as_ref()
                .and_then(|window| window.show_document.as_ref())
                .is_some_and(|show| show.support),
            Ordering::Release,
        );
        let options = params.initialization_options.as_ref();
        *lock(&self.state.client_options) = ClientOptions::from_initialization_options(options);
        self.state.apply_settings(options);
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
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        if let Err(failure) = self.state.documents.change(
            &params.text_document.uri,
            params.text_document.version,
            &params.content_changes,
        ) {
            tracing::warn!(%failure, "didChange not applied");
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let _ = self
            .state
            .saved
            .send(params.text_document.uri.as_str().to_owned());
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.state.documents.close(&params.text_document.uri);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.state.apply_settings(Some(&params.settings));
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
                    .find_session(COMMAND_SESSION)
                    .and_then(|slot| {
                        lock(&slot.transcript)
                            .iter()
                            .rev()
                            .find(|entry| entry.message_id == result.message_id)
                            .map(|entry| {
                                let failed = entry
                                    .actions
                                    .iter()
                                    .filter(|action| action.status == ActionStatus::Failed)
                                    .count();
                                (entry.text.clone(), failed)
                            })
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
                let sessions = lock(&self.state.sessions).clone();
                let mut stopped = 0;
                for slot in sessions {
                    if let Some(cancel) = lock(&slot.cancel).as_ref() {
                        cancel.cancel();
                        stopped += 1;
                    }
                }
                Ok(Some(Value::from(stopped)))
            }
            other => Err(invalid_params(format!("unknown command {other:?}"))),
        }
    }
}
