//! One conversation for every front end. `openbolt chat` and `openbolt lsp` keep only presentation; this
//! layer opens and resumes sessions, runs a turn (recording it and handing its events to the front end's
//! [`Sink`]), routes the terminals' late events to the turn they belong to, and reverts turns.
//!
//! [`Conversations`] is one per process: the store, the terminals, the running dev servers and the
//! loaded sessions. A [`Conversation`] is one session: its turn lock (held for a whole turn), the running
//! turn's cancel token, the engine's history, its runner, and the transcript a chat panel shows.

pub mod fixes;
pub mod revert;
pub mod stored;
pub mod transcript;

use crate::actions::approval::Approver;
use crate::actions::{DevServer, DevServers, FileWriter, RunSettings, Runner, RunnerMemory};
use crate::engine::context::EditorContext;
use crate::engine::{Engine, History, TurnOutcome};
use crate::lock;
use crate::store::{SessionRecorder, Store, StoreError, new_id};
use crate::terminal::{TerminalEvent, Terminals};
use crate::types::TurnEvent;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stored::load_conversation;
use tokio::sync::{OwnedMutexGuard, mpsc};
use tokio_util::sync::CancellationToken;
pub use transcript::{Entry, EntryRole};

/// How many automatic fix rounds follow a turn with problems unless the settings say otherwise
/// (`autoFix`).
pub const AUTO_FIX: u32 = 3;

/// Forgets a conversation's cancel token when its turn (with all its rounds) is over.
struct ClearCancel<'a>(&'a Conversation);

impl Drop for ClearCancel<'_> {
    fn drop(&mut self) {
        *lock(&self.0.cancel) = None;
    }
}

/// How many idle sessions stay loaded when the store can load them again.
const LOADED_SESSIONS: usize = 32;

/// How long a new turn waits for a stopped turn of its session to wind down.
const STOPPING_TURN_PATIENCE: Duration = Duration::from_secs(15);

/// What a front end's request to a conversation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("no session {0}")]
    NoSession(String),
    #[error("session {0} is already running a turn: wait for it or stop it")]
    Busy(String),
    #[error("the session store is not available, so {0}")]
    NoStore(&'static str),
    #[error("nothing to revert in this session")]
    NothingToRevert,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a front end's turns reach files and ask for approvals.
pub trait FrontEnd: Send + Sync {
    /// Where a session's file actions go: the disk, or the editor.
    fn writer(&self) -> Box<dyn FileWriter>;
    /// Who a session's commands are asked of.
    fn approver(&self) -> Box<dyn Approver>;

    /// What the editor shows now (buffers): the context of an automatic fix round.
    fn editor(&self) -> EditorContext {
        EditorContext::default()
    }

    /// Whether [`FrontEnd::editor_errors`] asks the editor (and so waits for it).
    fn reports_editor_errors(&self) -> bool {
        false
    }

    /// The errors the editor's own tools report in `files` (relative) that were not there when the
    /// turn `message_id` began, once they have settled. Asked only when
    /// [`FrontEnd::reports_editor_errors`].
    fn editor_errors<'a>(
        &'a self,
        _session_id: &'a str,
        _message_id: &'a str,
        _files: Vec<String>,
    ) -> BoxFuture<'a, Vec<fixes::EditorError>> {
        Box::pin(std::future::ready(Vec::new()))
    }
}

/// An automatic fix round, as the front end announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixRound {
    pub round: u32,
    pub rounds: u32,
    pub problems: usize,
}

/// Where a turn's events are shown: a printer, or the editor's notifications. Called in the order the
/// events happen, after each is recorded.
pub trait Sink: Send {
    /// The turn begins; its reply will have the id `message_id`. Called before any event. `fix` is set
    /// for an automatic fix round (its prompt is OpenBolt's report, not the user's words).
    fn started<'a>(
        &'a mut self,
        message_id: &'a str,
        fix: Option<&'a FixRound>,
    ) -> BoxFuture<'a, ()>;
    fn event<'a>(&'a mut self, event: &'a TurnEvent) -> BoxFuture<'a, ()>;
    /// The reply is over and the turn now waits for `check` (it ends, or a fix round begins, after).
    fn checking<'a>(&'a mut self, check: &'a fixes::Check) -> BoxFuture<'a, ()>;
}

/// What a turn is asked to do, with the settings in force for it.
#[derive(Debug)]
pub struct TurnRequest {
    pub prompt: String,
    pub editor: EditorContext,
    /// What the runner follows this turn: approvals, the command timeout.
    pub run: RunSettings,
    /// How many automatic fix rounds may follow a turn with problems (0: none).
    pub auto_fix: u32,
    /// The prompt is a fix round's report (set by the conversation itself).
    pub fix_round: bool,
    /// Whether the previews it leaves running are checked in a browser, and with which.
    pub page_checks: crate::browser::PageChecks,
    /// Screenshots of the pages a fix round reports on: they go with its prompt (to a model that
    /// takes images).
    pub screenshots: Vec<crate::types::Screenshot>,
}

/// A finished turn: its reply's id and how it went.
#[derive(Debug)]
pub struct Turn {
    pub message_id: String,
    pub outcome: TurnOutcome,
}

/// Every conversation of a process, and what they share.
pub struct Conversations {
    workspace: PathBuf,
    store: Option<Store>,
    terminals: Terminals,
    dev_servers: DevServers,
    front_end: Box<dyn FrontEnd>,
    /// Loaded sessions, least recently used first.
    loaded: Mutex<Vec<Arc<Conversation>>>,
    /// The runners' memories of unloaded sessions, by session.
    memories: Mutex<HashMap<String, RunnerMemory>>,
    /// The workspace's MCP servers, whose tools every session may call.
    mcp: Option<crate::mcp::Mcp>,
}

impl std::fmt::Debug for Conversations {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Conversations")
            .field("workspace", &self.workspace)
            .field("loaded", &lock(&self.loaded).len())
            .finish_non_exhaustive()
    }
}

/// One session.
#[derive(Debug)]
pub struct Conversation {
    pub id: String,
    state: Arc<tokio::sync::Mutex<TurnState>>,
    cancel: Mutex<Option<CancellationToken>>,
    /// The running turn's reply is over and its checks run (see [`fixes::Check`]): a revert or a new
    /// prompt waits for the turn instead of failing.
    checking: AtomicBool,
    transcript: Mutex<Vec<Entry>>,
}

/// Marks a conversation as checking while it lives.
struct Checking<'a>(&'a Conversation);

impl<'a> Checking<'a> {
    fn begin(conversation: &'a Conversation) -> Self {
        conversation.checking.store(true, Ordering::Release);
        Checking(conversation)
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.0.checking.store(false, Ordering::Release);
    }
}

/// What a turn changes: held for the whole turn.
#[derive(Debug)]
pub struct TurnState {
    history: History,
    runner: Option<Runner>,
    /// What the session's runner learned before it was unloaded: given to its next runner.
    memory: Option<RunnerMemory>,
    recorder: SessionRecorder,
}

/// A session's turn lock, held.
pub type TurnGuard = OwnedMutexGuard<TurnState>;

impl Conversation {
    /// The transcript as a chat panel shows it.
    pub fn transcript(&self) -> Vec<Entry> {
        lock(&self.transcript).clone()
    }

    /// One entry of the transcript.
    pub fn entry(&self, message_id: &str) -> Option<Entry> {
        lock(&self.transcript)
            .iter()
            .rev()
            .find(|entry| entry.message_id == message_id)
            .cloned()
    }

    /// A turn runs now.
    pub fn is_busy(&self) -> bool {
        self.state.try_lock().is_err()
    }

    /// Stops the running turn; `false` when none runs.
    pub fn abort(&self) -> bool {
        lock(&self.cancel).as_ref().is_some_and(|cancel| {
            cancel.cancel();
            true
        })
    }

    /// Takes the turn lock. A turn whose reply is over and is being checked (its dev servers, the
    /// editor's diagnostics) is waited for, with the fix rounds that may follow; so is a turn that was
    /// stopped and is winding down (stopping its processes), for a while. A turn whose reply is still
    /// coming makes this fail.
    pub async fn lock_turn(&self) -> Result<TurnGuard, ConversationError> {
        if let Ok(guard) = self.state.clone().try_lock_owned() {
            return Ok(guard);
        }
        let stopping = lock(&self.cancel)
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled);
        if stopping {
            return tokio::time::timeout(STOPPING_TURN_PATIENCE, self.state.clone().lock_owned())
                .await
                .map_err(|_| ConversationError::Busy(self.id.clone()));
        }
        if self.checking.load(Ordering::Acquire) {
            return Ok(self.state.clone().lock_owned().await);
        }
        Err(ConversationError::Busy(self.id.clone()))
    }

    fn update_entry(&self, message_id: &str, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = lock(&self.transcript)
            .iter_mut()
            .rev()
            .find(|entry| entry.message_id == message_id)
        {
            change(entry);
        }
    }
}

/// A turn's end: durable in the store (what could not be saved is told to the user), final in the
/// transcript.
async fn finish(
    conversation: &Conversation,
    recorder: &mut SessionRecorder,
    message_id: &str,
    outcome: &TurnOutcome,
    sink: &mut dyn Sink,
) {
    // The final statuses keep their places in the prose.
    let placed = match conversation.entry(message_id) {
        Some(entry) => outcome
            .actions
            .iter()
            .cloned()
            .map(|mut update| {
                entry.place(&mut update);
                update
            })
            .collect(),
        None => outcome.actions.clone(),
    };
    if let Err(failure) = recorder.end(message_id, outcome, placed).await {
        let notice = TurnEvent::Notice(format!(
            "the conversation was not saved completely: {failure}"
        ));
        sink.event(&notice).await;
    }
    conversation.update_entry(message_id, |entry| entry.status = Some(outcome.status));
}

impl Conversations {
    /// The conversations of `workspace` (canonical); `store` is `None` when it could not be opened (the
    /// conversations are then not saved).
    pub fn new(
        workspace: PathBuf,
        store: Option<Store>,
        terminals: Terminals,
        front_end: Box<dyn FrontEnd>,
    ) -> Conversations {
        // Secrets stored before they were known (or before redaction existed) are redacted now: the
        // keys from every session, the workspace's `.env` values from its own.
        let env = crate::blocking(|| crate::secrets::values::know_workspace(&workspace));
        if let Some(store) = &store {
            store.scrub(crate::secrets::values::known_from("provider keys"), None);
            store.scrub(env, Some(&workspace));
        }
        Conversations {
            workspace,
            store,
            terminals,
            dev_servers: DevServers::default(),
            front_end,
            loaded: Mutex::new(Vec::new()),
            memories: Mutex::new(HashMap::new()),
            mcp: None,
        }
    }

    /// Gives the sessions the workspace's MCP servers.
    pub fn with_mcp(mut self, mcp: crate::mcp::Mcp) -> Conversations {
        self.mcp = Some(mcp);
        self
    }

    /// The workspace's MCP servers, if any are set up.
    pub fn mcp(&self) -> Option<&crate::mcp::Mcp> {
        self.mcp.as_ref()
    }

    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    pub fn terminals(&self) -> &Terminals {
        &self.terminals
    }

    /// A loaded session.
    pub fn find(&self, id: &str) -> Option<Arc<Conversation>> {
        lock(&self.loaded)
            .iter()
            .find(|conversation| conversation.id == id)
            .cloned()
    }

    /// Every loaded session, least recently used first.
    pub fn loaded(&self) -> Vec<Arc<Conversation>> {
        lock(&self.loaded).clone()
    }

    /// The session `id` — loaded, or continued from the store, or new with that id (a client may choose
    /// a new session's id) — or a new session. Looking up and adding happen under one lock, so two
    /// requests for one new id get one session. Reads the store: call it off the async threads.
    pub fn open(&self, id: Option<&str>) -> Arc<Conversation> {
        match self.load(id, false) {
            Ok(conversation) => conversation,
            Err(_) => unreachable!("load only fails for a session that must exist"),
        }
    }

    /// A saved session, continued: it must exist.
    pub fn resume(&self, id: &str) -> Result<Arc<Conversation>, ConversationError> {
        self.load(Some(id), true)
    }

    fn load(
        &self,
        id: Option<&str>,
        must_exist: bool,
    ) -> Result<Arc<Conversation>, ConversationError> {
        let id = id.map_or_else(|| new_id("s"), str::to_owned);
        let mut loaded = lock(&self.loaded);
        if let Some(index) = loaded.iter().position(|conversation| conversation.id == id) {
            let conversation = loaded.remove(index);
            loaded.push(conversation.clone());
            return Ok(conversation);
        }
        let stored = match &self.store {
            Some(store) => {
                let read = load_conversation(store, &id)
                    .and_then(|history| Ok((history, transcript::stored(store, &id)?)));
                match read {
                    Ok(found) => Some(found),
                    Err(error) if must_exist => return Err(error.into()),
                    Err(StoreError::NoSession(_)) => None,
                    Err(error) => {
                        tracing::warn!(%error, session = %id, "the saved session could not be read; it starts empty");
                        None
                    }
                }
            }
            None if must_exist => {
                return Err(ConversationError::NoStore("no session can be continued"));
            }
            None => None,
        };
        let (history, transcript) = stored.unwrap_or_default();
        let conversation = Arc::new(self.conversation(id, history, transcript));
        loaded.push(conversation.clone());
        self.unload_idle(&mut loaded);
        Ok(conversation)
    }

    fn conversation(&self, id: String, history: History, transcript: Vec<Entry>) -> Conversation {
        Conversation {
            state: Arc::new(tokio::sync::Mutex::new(TurnState {
                history,
                runner: None,
                memory: lock(&self.memories).remove(&id),
                recorder: SessionRecorder::new(self.store.clone(), id.clone(), &self.workspace),
            })),
            id,
            cancel: Mutex::new(None),
            checking: AtomicBool::new(false),
            transcript: Mutex::new(transcript),
        }
    }

    /// Keeps memory level in a long editor session: idle sessions beyond [`LOADED_SESSIONS`] are
    /// unloaded (the store loads them again when asked). Without a store nothing is unloaded.
    fn unload_idle(&self, loaded: &mut Vec<Arc<Conversation>>) {
        if self.store.is_none() {
            return;
        }
        while loaded.len() > LOADED_SESSIONS {
            let Some(index) = loaded.iter().position(|conversation| {
                !conversation.is_busy()
                    && Arc::strong_count(conversation) == 1
                    && !self.has_dev_server(&conversation.id)
            }) else {
                return;
            };
            let unloaded = loaded.remove(index);
            // Its runner's memory stays (the store keeps the rest), for when it is loaded again.
            if let Ok(mut state) = unloaded.state.try_lock()
                && let Some(runner) = state.runner.take()
            {
                lock(&self.memories).insert(unloaded.id.clone(), runner.into_memory());
            }
        }
    }

    fn has_dev_server(&self, session_id: &str) -> bool {
        self.terminals
            .list()
            .iter()
            .any(|terminal| terminal.owner == session_id && terminal.running)
    }

    /// Runs one turn of `conversation` (whose lock `state` is) to its end: records it, hands every event
    /// to `sink` as it happens, and keeps the transcript. When the turn's actions have problems (see
    /// [`fixes`]), up to `request.auto_fix` fix rounds follow — each a turn of its own whose prompt is the
    /// report — until nothing fails, a round fails the same way as the one before, or the user stops.
    /// The last round is returned, with the usage of all of them.
    pub async fn run_turn(
        &self,
        conversation: &Conversation,
        state: &mut TurnState,
        engine: &Engine,
        request: TurnRequest,
        cancel: CancellationToken,
        sink: &mut dyn Sink,
    ) -> Turn {
        let rounds = request.auto_fix;
        let mut request = request;
        let mut fix: Option<FixRound> = None;
        let mut previous: Option<Vec<String>> = None;
        let mut usage = crate::provider::Usage::default();
        // Stop reaches the turn for its whole life: its rounds and the checks between them.
        *lock(&conversation.cancel) = Some(cancel.clone());
        let _clear = ClearCancel(conversation);
        loop {
            let message_id = new_id("m");
            sink.started(&message_id, fix.as_ref()).await;
            let run = request.run.clone();
            let page_checks = request.page_checks.clone();
            let mut outcome = self
                .drive(
                    conversation,
                    state,
                    engine,
                    request,
                    &message_id,
                    cancel.clone(),
                    sink,
                )
                .await;
            usage += outcome.usage;
            let round = fix.as_ref().map_or(0, |fix| fix.round);
            let done = |mut outcome: TurnOutcome| {
                outcome.usage = usage;
                Turn {
                    message_id: message_id.clone(),
                    outcome,
                }
            };
            if outcome.status != crate::engine::TurnStatus::Complete || cancel.is_cancelled() {
                return done(outcome);
            }
            if round >= rounds {
                // No fix round follows, but the user still learns what the page does wrong.
                let checking = Checking::begin(conversation);
                tokio::select! {
                    _ = self.check_pages(conversation, &message_id, &outcome, &page_checks, sink) => {}
                    () = cancel.cancelled() => {}
                }
                drop(checking);
                return done(outcome);
            }
            let root =
                std::fs::canonicalize(&self.workspace).unwrap_or_else(|_| self.workspace.clone());
            let checking = Checking::begin(conversation);
            let mut failures = fixes::action_problems(&outcome.actions, &root);
            let servers = fixes::dev_servers(&outcome.actions);
            if !servers.is_empty() {
                let commands = servers
                    .iter()
                    .map(|server| server.label.clone().unwrap_or_default())
                    .collect();
                sink.checking(&fixes::Check::DevServers(commands)).await;
                tokio::select! {
                    found = fixes::watch_servers(&servers, &self.terminals) => failures.extend(found),
                    () = cancel.cancelled() => return done(outcome),
                }
            }
            // A server that broke is the problem; its page would only repeat it.
            let mut screenshots = Vec::new();
            if failures.is_empty() {
                tokio::select! {
                    (found, shots) = self.check_pages(conversation, &message_id, &outcome, &page_checks, sink) => {
                        failures.extend(found);
                        screenshots = shots;
                    }
                    () = cancel.cancelled() => return done(outcome),
                }
            }
            let written: Vec<String> = outcome
                .actions
                .iter()
                .filter(|update| {
                    update.status == crate::types::ActionStatus::Complete
                        && crate::types::KindTraits::of(&update.kind).writes_file
                })
                .filter_map(|update| update.file_path.clone())
                .collect();
            if !written.is_empty() && self.front_end.reports_editor_errors() {
                sink.checking(&fixes::Check::EditorDiagnostics(written.clone()))
                    .await;
                let errors = tokio::select! {
                    errors = self.front_end.editor_errors(&conversation.id, &message_id, written) => errors,
                    () = cancel.cancelled() => return done(outcome),
                };
                failures.extend(fixes::editor_failures(&errors, &root));
            }
            drop(checking);
            if failures.is_empty() || cancel.is_cancelled() {
                return done(outcome);
            }
            let keys = fixes::keys(&failures);
            if previous.as_ref() == Some(&keys) {
                let notice = crate::types::TurnEvent::Notice(
                    "the fix round ended with the same problems as the one before: no more rounds"
                        .to_owned(),
                );
                sink.event(&notice).await;
                outcome.error = Some("the same problems remain after a fix round".to_owned());
                return done(outcome);
            }
            previous = Some(keys);
            let next = FixRound {
                round: round + 1,
                rounds,
                problems: failures.len(),
            };
            request = TurnRequest {
                prompt: crate::voice::fix_report(&failures, next.round, rounds),
                editor: self.front_end.editor(),
                run,
                auto_fix: rounds,
                fix_round: true,
                page_checks,
                screenshots,
            };
            fix = Some(next);
        }
    }

    /// Checks the pages of the session's dev servers that the turn `message_id` started or whose files
    /// it changed (announced; each verdict shown, kept with the turn, its screenshot kept as a file):
    /// their problems, and the screenshots of the pages that have any.
    async fn check_pages(
        &self,
        conversation: &Conversation,
        message_id: &str,
        outcome: &TurnOutcome,
        page_checks: &crate::browser::PageChecks,
        sink: &mut dyn Sink,
    ) -> (Vec<crate::voice::Problem>, Vec<crate::types::Screenshot>) {
        let crate::browser::PageChecks::With {
            program,
            profile,
            screenshots,
        } = page_checks
        else {
            return (Vec::new(), Vec::new());
        };
        let targets = fixes::page_targets(
            &outcome.actions,
            self.dev_servers.of_session(&conversation.id),
            |terminal| self.terminals.answered_preview(terminal),
        );
        if targets.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let commands = targets
            .iter()
            .map(|target| target.command.clone())
            .collect();
        sink.checking(&fixes::Check::Pages(commands)).await;
        let root =
            std::fs::canonicalize(&self.workspace).unwrap_or_else(|_| self.workspace.clone());
        let shoot = screenshots.as_ref().map(|_| crate::browser::SCREENSHOT);
        let verdicts =
            fixes::check_pages(&targets, &self.terminals, program, profile, &root, shoot).await;
        let mut problems = Vec::new();
        let mut shots = Vec::new();
        for (index, mut verdict) in verdicts.into_iter().enumerate() {
            if let (Some(capture), Some(directory)) = (verdict.capture.take(), screenshots) {
                let path = directory.join(&conversation.id).join(format!(
                    "{message_id}-{}.{}",
                    index + 1,
                    capture.format.extension()
                ));
                let kept = crate::blocking(|| {
                    let kept = crate::browser::keep(&capture, &path);
                    crate::browser::prune(directory, crate::browser::KEPT_SCREENSHOTS);
                    kept
                });
                match kept {
                    Ok(kept) => verdict.screenshot = Some(kept),
                    Err(error) => {
                        tracing::warn!(%error, path = %path.display(), "the page's screenshot could not be kept")
                    }
                }
            }
            problems.extend(fixes::page_problems(&verdict));
            if !verdict.problems.is_empty() {
                shots.extend(verdict.screenshot.clone());
            }
            crate::secrets::values::redact_page(&mut verdict);
            if let Some(store) = &self.store {
                store.record_page(message_id, &verdict);
            }
            let event = TurnEvent::Page(verdict);
            conversation.update_entry(message_id, |entry| entry.apply(&event));
            sink.event(&event).await;
        }
        (problems, shots)
    }

    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        conversation: &Conversation,
        state: &mut TurnState,
        engine: &Engine,
        request: TurnRequest,
        message_id: &str,
        cancel: CancellationToken,
        sink: &mut dyn Sink,
    ) -> TurnOutcome {
        let TurnState {
            history,
            runner,
            memory,
            recorder,
        } = state;
        // A `.env` value written since the last round is a secret from now on.
        crate::blocking(|| crate::secrets::values::know_workspace(&self.workspace));
        let user_message_id = recorder.begin(&request.prompt, message_id, &request.screenshots);
        let images: Vec<crate::provider::Image> = crate::blocking(|| {
            request
                .screenshots
                .iter()
                .filter_map(stored::picture)
                .collect()
        });
        {
            let mut transcript = lock(&conversation.transcript);
            transcript.push(Entry::user(user_message_id, &request.prompt));
            transcript.push(Entry::assistant(message_id.to_owned()));
        }
        let runner = match runner {
            Some(runner) => runner,
            None => match Runner::new(
                &self.workspace,
                self.front_end.writer(),
                self.front_end.approver(),
                self.terminals.clone(),
                self.dev_servers.clone(),
                &conversation.id,
            ) {
                Ok(mut created) => {
                    if let Some(memory) = memory.take() {
                        created.remember(memory);
                    }
                    runner.insert(created)
                }
                Err(failure) => {
                    let outcome = TurnOutcome::failed(format!(
                        "cannot open the workspace {}: {failure}",
                        self.workspace.display()
                    ));
                    finish(conversation, recorder, message_id, &outcome, sink).await;
                    return outcome;
                }
            },
        };
        runner.mcp.clone_from(&self.mcp);
        runner.begin_turn(message_id, request.run);

        let (events, mut receiver) = mpsc::channel::<TurnEvent>(256);
        let present = async {
            while let Some(mut event) = receiver.recv().await {
                // Known secrets go no further: not to the transcript, the store, the editor.
                crate::secrets::redact_event(&mut event);
                conversation.update_entry(message_id, |entry| {
                    if let TurnEvent::Action(update) = &mut event {
                        entry.place(update);
                    }
                    entry.apply(&event);
                });
                recorder.event(message_id, &event);
                sink.event(&event).await;
            }
        };
        let prompt = crate::engine::Prompt {
            text: &request.prompt,
            editor: &request.editor,
            fix_round: request.fix_round,
            images: &images,
        };
        let turn = engine.answer(history, prompt, runner, events, cancel);
        let (mut outcome, ()) = tokio::join!(turn, present);
        // The outcome goes to the front end too (a provider's error may quote what it was sent).
        if let Some(error) = &mut outcome.error {
            crate::secrets::values::redact_in_place(error);
        }
        outcome
            .actions
            .iter_mut()
            .for_each(crate::secrets::values::redact_update);
        finish(conversation, recorder, message_id, &outcome, sink).await;
        outcome
    }

    /// What a terminal event means for a conversation: a dev server's end is its `start` action's final
    /// status, recorded here (store and transcript) and returned for the front end to show.
    pub fn route(&self, event: &TerminalEvent) -> Option<DevServer> {
        let TerminalEvent::Exit { terminal_id, exit } = event else {
            return None;
        };
        let mut server = self.dev_servers.ended(*terminal_id, exit)?;
        // The browser checks previews: with no dev server left, it goes.
        if self.dev_servers.is_empty()
            && crate::browser::shared().is_running()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(crate::browser::shared().close());
        }
        if let Some(conversation) = self.find(&server.session_id) {
            conversation.update_entry(&server.message_id, |entry| {
                entry.place(&mut server.update);
                entry.apply(&TurnEvent::Action(server.update.clone()));
            });
        }
        if let Some(store) = &self.store {
            store.record_action(&server.message_id, &server.update);
        }
        Some(server)
    }

    /// Stops every running turn.
    pub fn abort_all(&self) -> usize {
        self.loaded()
            .iter()
            .filter(|conversation| conversation.abort())
            .count()
    }
}
