//! The action runner: one queue per turn, run in order — files written atomically inside the workspace,
//! commands approved before they run — reporting every status change.

pub mod approval;
pub mod command;
pub mod diff;
pub mod edit;
pub mod file;
pub mod files;
pub mod read;
pub mod search;
pub mod tool;
pub mod writer;

use crate::terminal::Terminals;
pub use crate::types::{ActionStatus, ActionUpdate, Job, PreviousContent, TurnEvent};
use crate::types::{KindTraits, Label};
use approval::{Approval, ApprovalPolicy, ApprovalRequest, Approver};
pub use command::{DevServer, DevServers};
use openbolt_parser::ActionKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
pub use writer::{DiskWriter, FileWriter};

/// The runner's account of a turn.
#[derive(Clone, Debug, Default)]
pub struct RunnerReport {
    /// The final status of every action that reached the runner, in order.
    pub updates: Vec<ActionUpdate>,
    pub previous_contents: Vec<PreviousContent>,
    /// What the actions answered within the turn ([`KindTraits::answers_in_turn`]), by action id: the
    /// follow-up request carries them (the voice module renders them).
    pub answers: Vec<(usize, Answer)>,
}

impl RunnerReport {
    /// What action `id` answered, if it answered.
    pub fn answer(&self, id: usize) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|(answer_id, _)| *answer_id == id)
            .map(|(_, answer)| answer)
    }
}

/// What an action answered within the turn, typed: the model reads it as the voice module renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// What a read shows of a file.
    Read(read::Shown),
    /// An MCP tool's result.
    Tool(tool::ToolAnswer),
    /// What a search found.
    Search(search::Found),
}

impl Answer {
    /// About how many tokens it costs the request (its text and its framing).
    pub fn tokens(&self) -> usize {
        let text = match self {
            Answer::Read(shown) => &shown.body,
            Answer::Tool(answer) => &answer.text,
            Answer::Search(found) => &found.body,
        };
        crate::tokens::estimate(text) + ANSWER_FRAMING_TOKENS
    }
}

/// The tokens an answer's framing (its tag and attributes) costs, on the high side.
const ANSWER_FRAMING_TOKENS: usize = 24;

/// How many recently written files keep their parse for an incremental check.
const KEPT_PARSES: usize = 8;

/// An answer shows at least this much, however full the context is.
const MIN_ANSWER_TOKENS: usize = 300;

/// The files whose whole content the model has seen in this conversation, by content: shown in its
/// context, read whole, or written by it. A `file` action may replace only what the model has seen.
#[derive(Debug, Default)]
pub struct Seen(HashMap<PathBuf, std::collections::HashSet<[u8; 32]>>);

impl Seen {
    fn digest(content: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(content).into()
    }

    /// The model saw `path` holding `content`.
    pub fn saw(&mut self, path: &Path, content: &[u8]) {
        self.0
            .entry(path.to_path_buf())
            .or_default()
            .insert(Self::digest(content));
    }

    /// Whether the model saw `path` holding `content`.
    pub fn has_seen(&self, path: &Path, content: &[u8]) -> bool {
        self.0
            .get(path)
            .is_some_and(|seen| seen.contains(&Self::digest(content)))
    }
}

/// What a session's runner learned that later turns rely on: the user's "always" answers and what the
/// model has seen. Kept when an idle session is unloaded and given back when it is loaded again, so a
/// session behaves the same whether it stayed loaded or not.
#[derive(Debug, Default)]
pub struct RunnerMemory {
    always_this_session: bool,
    allowed_tools: std::collections::HashSet<String>,
    seen: Seen,
}

/// What a turn's settings say to the runner.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub policy: ApprovalPolicy,
    /// A `shell` action still running after this long is stopped and fails.
    pub shell_timeout: Duration,
}

/// Runs a session's actions in order.
pub struct Runner {
    root: PathBuf,
    writer: Box<dyn FileWriter>,
    approver: Box<dyn Approver>,
    terminals: Terminals,
    /// Whose terminals these are (the session).
    owner: String,
    dev_servers: DevServers,
    /// The reply whose actions run now.
    message_id: String,
    /// What this turn's settings say (approval, the command timeout).
    settings: RunSettings,
    /// The user answered "always" once: commands of this session run without asking.
    always_this_session: bool,
    /// MCP tools (`server/tool`) the user allowed for the session.
    allowed_tools: std::collections::HashSet<String>,
    /// The workspace's MCP servers, for `tool` actions.
    pub mcp: Option<crate::mcp::Mcp>,
    /// What the model has seen of the workspace's files.
    pub seen: Seen,
    /// The last files written, parsed: the next check of one of them parses only what changed.
    parsed: Vec<(PathBuf, openbolt_syntax::Parsed)>,
    /// How many tokens this round's answers (reads, tool results) may still show the model (each
    /// takes at most half of what is left, and never less than a small minimum).
    pub answer_tokens: usize,
    /// The workspace's files as the turn's request ranked them, best first: a search shows matches
    /// in these first.
    pub ranked: Vec<String>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runner")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner for the workspace at `root` (made canonical here), running commands in `terminals`
    /// on behalf of `owner`.
    pub fn new(
        root: &Path,
        writer: Box<dyn FileWriter>,
        approver: Box<dyn Approver>,
        terminals: Terminals,
        dev_servers: DevServers,
        owner: &str,
    ) -> std::io::Result<Runner> {
        Ok(Runner {
            root: std::fs::canonicalize(root)?,
            writer,
            approver,
            terminals,
            owner: owner.to_owned(),
            dev_servers,
            message_id: String::new(),
            settings: RunSettings {
                policy: ApprovalPolicy::default(),
                shell_timeout: command::COMMAND_TIMEOUT,
            },
            always_this_session: false,
            allowed_tools: std::collections::HashSet::new(),
            mcp: None,
            answer_tokens: 8_000,
            seen: Seen::default(),
            parsed: Vec::new(),
            ranked: Vec::new(),
        })
    }

    /// What this runner learned, for the session's next runner ([`Runner::remember`]).
    pub fn into_memory(self) -> RunnerMemory {
        RunnerMemory {
            always_this_session: self.always_this_session,
            allowed_tools: self.allowed_tools,
            seen: self.seen,
        }
    }

    /// Takes up what an earlier runner of the session learned.
    pub fn remember(&mut self, memory: RunnerMemory) {
        self.always_this_session |= memory.always_this_session;
        self.allowed_tools.extend(memory.allowed_tools);
        for (path, digests) in memory.seen.0 {
            self.seen.0.entry(path).or_default().extend(digests);
        }
    }

    /// The workspace root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sandbox commands start in (`None`: unrestricted).
    pub fn sandbox(&self) -> Option<crate::sandbox::Sandbox> {
        self.terminals.sandbox()
    }

    /// The model was shown these files whole (relative path, content) in its context.
    pub fn saw_context(&mut self, shown: &[(String, String)]) {
        for (name, text) in shown {
            self.seen.saw(&self.root.join(name), text.as_bytes());
        }
    }

    /// A turn begins: the reply whose actions the next queue holds (a dev server's end is reported to
    /// it), and the turn's settings (an "always for this session" answer still stands).
    pub fn begin_turn(&mut self, message_id: &str, mut settings: RunSettings) {
        message_id.clone_into(&mut self.message_id);
        settings.policy.auto_approve |= self.always_this_session;
        self.settings = settings;
    }

    /// Runs jobs until the queue closes. After `cancel`, the running action is aborted and every later
    /// one reported aborted without running.
    pub async fn run_queue(
        &mut self,
        mut jobs: mpsc::Receiver<Job>,
        events: mpsc::Sender<TurnEvent>,
        cancel: CancellationToken,
    ) -> RunnerReport {
        let mut report = RunnerReport::default();
        let mut failed_artifact: Option<String> = None;
        while let Some(job) = jobs.recv().await {
            let command = match KindTraits::of(&job.action.kind).label {
                Label::Command => Some(job.content.clone()),
                Label::Call => Some(tool::label(&job.action, &job.content)),
                Label::Query => Some(search::Query::of(&job.action).label()),
                Label::Path => None,
            };
            let update = ActionUpdate::new(&job.action, command.as_deref(), ActionStatus::Running);
            let final_update = if cancel.is_cancelled() {
                update.stopped()
            } else if failed_artifact.as_deref() == Some(job.action.artifact_id.as_str()) {
                update
                    .with_error("an earlier action of this artifact failed")
                    .status(ActionStatus::Skipped)
            } else {
                let outcome = self
                    .run_one(&job, update, &mut report, &events, &cancel)
                    .await;
                if outcome.status == ActionStatus::Failed
                    && KindTraits::of(&job.action.kind).failure_stops_artifact
                {
                    failed_artifact = Some(job.action.artifact_id.clone());
                }
                outcome
            };
            let _ = events.send(TurnEvent::Action(final_update.clone())).await;
            report.updates.push(final_update);
        }
        if cancel.is_cancelled() {
            // Stopping a turn stops what it started, dev servers included.
            self.terminals.stop_owner(&self.owner, false).await;
        }
        report
    }

    async fn run_one(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        match &job.action.kind {
            ActionKind::File | ActionKind::Edit => {
                self.run_file_change(job, update, report, events).await
            }
            ActionKind::Read => self.run_read(job, update, report),
            ActionKind::Shell | ActionKind::Start => {
                self.run_command(job, update, events, cancel).await
            }
            ActionKind::Tool => self.run_tool(job, update, report, events, cancel).await,
            ActionKind::Search => self.run_search(job, update, report),
            ActionKind::Other(name) => update
                .with_error(format!("unknown action type {name:?}: nothing was run"))
                .status(ActionStatus::Skipped),
        }
    }

    /// A `file` or `edit` action (`file.rs`, `edit.rs`): its path through the workspace gate, the change
    /// made, and the syntax errors of what it wrote.
    async fn run_file_change(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
        events: &mpsc::Sender<TurnEvent>,
    ) -> ActionUpdate {
        let _ = events.send(TurnEvent::Action(update.clone())).await;
        let Some(relative) = job.action.file_path.as_deref() else {
            return update
                .with_error(format!(
                    "the {} action has no filePath",
                    job.action.kind.as_str()
                ))
                .status(ActionStatus::Failed);
        };
        let path = match files::resolve_in_workspace(&self.root, relative) {
            Ok(path) => path,
            Err(error) => {
                return update
                    .with_error(error.to_string())
                    .status(ActionStatus::Failed);
            }
        };
        let result = if job.action.kind == ActionKind::Edit {
            self.edit(&path, relative, &job.content, report).await
        } else {
            self.write_file(&path, relative, &job.content, report).await
        };
        match result {
            Ok((summary, written)) => {
                let mut update = update.status(ActionStatus::Complete);
                update.summary = summary;
                update.diagnostics = crate::blocking(|| self.syntax_diagnostics(&path, &written));
                update
            }
            Err(error) => update.with_error(error).status(ActionStatus::Failed),
        }
    }

    /// How many tokens the next answer may take: half of what is left, never less than a minimum.
    fn answer_allowance(&self) -> usize {
        (self.answer_tokens / 2).max(MIN_ANSWER_TOKENS)
    }

    /// Keeps `answer` for the follow-up request and charges it to the round's budget.
    fn answered(&mut self, job: &Job, answer: Answer, report: &mut RunnerReport) {
        self.answer_tokens = self.answer_tokens.saturating_sub(answer.tokens());
        report.answers.push((job.action.index, answer));
    }

    /// Asks the user about `job` (its card says `approval` meanwhile); `None` when the turn was stopped
    /// first.
    async fn ask(
        &self,
        job: &Job,
        command: &str,
        update: &ActionUpdate,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> Option<Approval> {
        let request = ApprovalRequest {
            subject: approval::Subject::of(&job.action.kind),
            command: command.to_owned(),
            session_id: self.owner.clone(),
            message_id: self.message_id.clone(),
            action_id: Some(job.action.index),
        };
        // Shown while the question is open, so a chat panel can say what it waits for.
        let asking = update.clone().status(ActionStatus::Approval);
        let _ = events.send(TurnEvent::Action(asking)).await;
        tokio::select! {
            approval = self.approver.approve(&request) => Some(approval),
            () = cancel.cancelled() => None,
        }
    }

    /// The syntax errors of `text` written to `path`, when its language is one OpenBolt parses. The
    /// last few files written keep their parse, so a later change to one is checked incrementally.
    fn syntax_diagnostics(&mut self, path: &Path, text: &str) -> Vec<crate::types::Diagnostic> {
        let Some(language) = openbolt_syntax::Language::detect(path, text.as_bytes()) else {
            return Vec::new();
        };
        let previous = self
            .parsed
            .iter()
            .position(|(parsed_path, _)| parsed_path == path)
            .map(|at| self.parsed.remove(at).1);
        let (errors, parsed) = openbolt_syntax::check(language, text.as_bytes(), previous);
        if let Some(parsed) = parsed {
            self.parsed.push((path.to_path_buf(), parsed));
            if self.parsed.len() > KEPT_PARSES {
                self.parsed.remove(0);
            }
        }
        errors
            .into_iter()
            .map(|error| crate::types::Diagnostic {
                line: error.start.0,
                column: error.start.1,
                end_line: error.end.0,
                end_column: error.end.1,
                message: error.message,
            })
            .collect()
    }

    /// Records what `path` held before the turn first touched it (for revert): what the user saw —
    /// an open buffer's unsaved text included, so that reverting an edit of it gives that text back.
    fn remember_previous(path: &Path, current: Option<&[u8]>, report: &mut RunnerReport) {
        if !report
            .previous_contents
            .iter()
            .any(|previous| previous.path == path)
        {
            report.previous_contents.push(PreviousContent {
                path: path.to_path_buf(),
                content: current.map(<[u8]>::to_vec),
            });
        }
    }
}
