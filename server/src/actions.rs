//! The action runner: one queue per turn, run in order — files written atomically inside the workspace,
//! commands approved before they run — reporting every status change.

pub mod approval;
pub mod diff;
pub mod edit;
pub mod files;
pub mod read;

use crate::terminal::{ExitInfo, Purpose, TerminalId, Terminals};
pub use crate::types::{ActionStatus, ActionUpdate, Job, TurnEvent};
use approval::{Approval, ApprovalPolicy, ApprovalRequest, Approver};
use openbolt_parser::ActionKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How file actions reach the files: straight to disk (the CLI) or through the editor (the LSP).
pub trait FileWriter: Send + Sync {
    /// Writes `content` to `path` (absolute, already checked to be inside the workspace).
    fn write<'a>(
        &'a self,
        path: &'a Path,
        content: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>>;

    /// Deletes `path` (a file a turn created, when that turn is reverted). A missing file is no error.
    fn delete<'a>(&'a self, path: &'a Path) -> futures::future::BoxFuture<'a, Result<(), String>>;

    /// What `path` holds as the user sees it (an editor's unsaved text included); `None`: absent.
    fn current(&self, path: &Path) -> Option<Vec<u8>>;

    /// Changes `path` from `before` (what [`FileWriter::current`] gave) to `after`, where the text is:
    /// the editor's buffer when open, else the disk. Fails when the text is no longer `before`. The
    /// answer may note where the change went (`in the editor, not saved`).
    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, String>>;
}

/// Writes to disk, atomically.
#[derive(Debug, Default)]
pub struct DiskWriter;

impl FileWriter for DiskWriter {
    fn write<'a>(
        &'a self,
        path: &'a Path,
        content: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = path.to_path_buf();
            let content = content.as_bytes().to_vec();
            tokio::task::spawn_blocking(move || files::write_atomically(&path, &content))
                .await
                .map_err(|error| format!("the write task failed: {error}"))?
                .map_err(|error| error.to_string())
        })
    }

    fn delete<'a>(&'a self, path: &'a Path) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match tokio::fs::remove_file(path).await {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })
    }

    fn current(&self, path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            if std::fs::read(path).ok().as_deref() != Some(before.as_bytes()) {
                return Err(
                    "the file changed while the edit was made; nothing was changed".to_owned(),
                );
            }
            self.write(path, after).await.map(|()| None)
        })
    }
}

/// What a file held before the turn first touched it: for reverting the turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousContent {
    pub path: PathBuf,
    /// `None`: the file did not exist.
    pub content: Option<Vec<u8>>,
}

/// The runner's account of a turn.
#[derive(Clone, Debug, Default)]
pub struct RunnerReport {
    /// The final status of every action that reached the runner, in order.
    pub updates: Vec<ActionUpdate>,
    pub previous_contents: Vec<PreviousContent>,
    /// What each completed read action shows the model, by action id.
    pub reads: Vec<(usize, String)>,
    /// What each called MCP tool answered, for the model, by action id.
    pub tools: Vec<(usize, String)>,
}

/// How many recently written files keep their parse for an incremental check.
const KEPT_PARSES: usize = 8;

/// A read shows at least this much, however full the context is.
const MIN_READ_TOKENS: usize = 300;

/// How much of a failed command's output the model is shown.
const OUTPUT_TAIL_FOR_MODEL: usize = 3000;

/// How a tool call shows on its card and in the question: `server · tool {"arguments": …}` (one line).
fn tool_label(action: &openbolt_parser::ActionInfo, content: &str) -> String {
    let arguments = serde_json::from_str::<serde_json::Value>(content.trim())
        .map(|value| value.to_string())
        .unwrap_or_else(|_| content.split_whitespace().collect::<Vec<_>>().join(" "));
    let arguments: String = arguments.chars().take(200).collect();
    format!(
        "{} · {} {arguments}",
        action.server.as_deref().unwrap_or("?"),
        action.tool.as_deref().unwrap_or("?")
    )
}

/// A running dev server: its `start` action outlives its turn, and its end is that action's final status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevServer {
    pub session_id: String,
    /// The reply whose action started it.
    pub message_id: String,
    pub update: ActionUpdate,
}

/// Every session's running dev servers, by terminal. Shared by the runners and whoever receives the
/// terminals' events; a server is forgotten when it ends, so this holds only what runs.
#[derive(Clone, Debug, Default)]
pub struct DevServers(Arc<Mutex<HashMap<TerminalId, DevServer>>>);

impl DevServers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TerminalId, DevServer>> {
        crate::lock(&self.0)
    }

    fn started(&self, terminal: TerminalId, server: DevServer) {
        self.lock().insert(terminal, server);
    }

    /// A terminal ended. If it was a dev server: its action with its final status, and where it belongs.
    pub fn ended(&self, terminal: TerminalId, exit: &ExitInfo) -> Option<DevServer> {
        let mut server = self.lock().remove(&terminal)?;
        server.update = final_start_update(server.update, exit);
        Some(server)
    }

    /// How many run.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dev server's action once its process has ended.
fn final_start_update(mut update: ActionUpdate, exit: &ExitInfo) -> ActionUpdate {
    update.exit_code = Some(exit.code);
    if exit.stopped {
        update.status = ActionStatus::Aborted;
        update.error = Some("the server was stopped".to_owned());
    } else if exit.success() {
        update.status = ActionStatus::Complete;
    } else {
        update.status = ActionStatus::Failed;
        update.error = Some(match &exit.signal {
            Some(signal) => format!("the server was ended by {signal}"),
            None => format!("the server exited with code {}", exit.code),
        });
    }
    update
}

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

/// Runs a session's actions in order.
pub struct Runner {
    root: PathBuf,
    writer: Box<dyn FileWriter>,
    approver: Box<dyn Approver>,
    policy: ApprovalPolicy,
    terminals: Terminals,
    /// Whose terminals these are (the session).
    owner: String,
    dev_servers: DevServers,
    /// The reply whose actions run now.
    message_id: String,
    /// A `shell` action still running after this long is stopped and fails.
    pub shell_timeout: Duration,
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
    /// How many tokens this round's read actions may still show the model (each takes at most half
    /// of what is left, and never less than a small minimum).
    pub read_tokens: usize,
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
        policy: ApprovalPolicy,
        terminals: Terminals,
        dev_servers: DevServers,
        owner: &str,
    ) -> std::io::Result<Runner> {
        Ok(Runner {
            root: std::fs::canonicalize(root)?,
            writer,
            approver,
            policy,
            terminals,
            owner: owner.to_owned(),
            dev_servers,
            message_id: String::new(),
            shell_timeout: Duration::from_secs(600),
            always_this_session: false,
            allowed_tools: std::collections::HashSet::new(),
            mcp: None,
            read_tokens: 8_000,
            seen: Seen::default(),
            parsed: Vec::new(),
        })
    }

    /// The workspace root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The model was shown these files whole (relative path, content) in its context.
    pub fn saw_context(&mut self, shown: &[(String, String)]) {
        for (name, text) in shown {
            self.seen.saw(&self.root.join(name), text.as_bytes());
        }
    }

    /// Takes new approval settings; an "always for this session" answer still stands.
    pub fn set_policy(&mut self, mut policy: ApprovalPolicy) {
        policy.auto_approve |= self.always_this_session;
        self.policy = policy;
    }

    /// The reply whose actions the next queue holds (a dev server's end is reported to it).
    pub fn begin_turn(&mut self, message_id: &str) {
        message_id.clone_into(&mut self.message_id);
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
            let command = match job.action.kind {
                ActionKind::Shell | ActionKind::Start => Some(job.content.clone()),
                ActionKind::Tool => Some(tool_label(&job.action, &job.content)),
                _ => None,
            };
            let update = ActionUpdate::new(&job.action, command.as_deref(), ActionStatus::Running);
            let final_update = if cancel.is_cancelled() {
                update
                    .with_error("the turn was stopped")
                    .status(ActionStatus::Aborted)
            } else if failed_artifact.as_deref() == Some(job.action.artifact_id.as_str()) {
                update
                    .with_error("an earlier action of this artifact failed")
                    .status(ActionStatus::Skipped)
            } else {
                let outcome = self
                    .run_one(&job, update, &mut report, &events, &cancel)
                    .await;
                if outcome.status == ActionStatus::Failed && job.action.kind == ActionKind::Shell {
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
                        update.diagnostics =
                            crate::blocking(|| self.syntax_diagnostics(&path, &written));
                        update
                    }
                    Err(error) => update.with_error(error).status(ActionStatus::Failed),
                }
            }
            ActionKind::Shell | ActionKind::Start => {
                let approval = match self.policy.decide(&job.content) {
                    Some(decision) => decision,
                    None => match self.ask(job, &job.content, &update, events, cancel).await {
                        Some(approval) => approval,
                        None => {
                            return update
                                .with_error("the turn was stopped")
                                .status(ActionStatus::Aborted);
                        }
                    },
                };
                match approval {
                    Approval::Run => {}
                    Approval::AlwaysThisSession => {
                        self.always_this_session = true;
                        self.policy.auto_approve = true;
                    }
                    Approval::Skip(reason) => {
                        return update.with_error(reason).status(ActionStatus::Skipped);
                    }
                }
                self.run_command(job, update, events, cancel).await
            }
            ActionKind::Read => match self.read(job) {
                Ok((text, summary)) => {
                    self.read_tokens = self
                        .read_tokens
                        .saturating_sub(crate::tokens::estimate(&text));
                    report.reads.push((job.action.index, text));
                    let mut update = update.status(ActionStatus::Complete);
                    update.summary = Some(summary);
                    update
                }
                Err(reason) => update.with_error(reason).status(ActionStatus::Failed),
            },
            ActionKind::Tool => self.call_tool(job, update, report, events, cancel).await,
            ActionKind::Other(name) => update
                .with_error(format!("unknown action type {name:?}: nothing was run"))
                .status(ActionStatus::Skipped),
        }
    }

    /// The MCP tools for this turn. A server the workspace's own file configures starts only once the
    /// user agreed (asked once per server and process; `mcpAllow` naming it counts as agreeing).
    pub async fn mcp_tools(
        &mut self,
        mcp: &crate::mcp::Mcp,
        cancel: &CancellationToken,
    ) -> (Vec<crate::mcp::ToolInfo>, Vec<String>) {
        let mut refused = Vec::new();
        for (name, runs) in mcp.unapproved() {
            let allowed = self
                .policy
                .mcp_allow
                .iter()
                .any(|rule| rule == &name || rule.starts_with(&format!("{name}/")));
            if allowed {
                mcp.set_trust(&name, crate::mcp::Trust::Trusted);
                continue;
            }
            let request = ApprovalRequest {
                subject: approval::Subject::McpServer,
                command: format!(
                    "{name} ({runs}), configured by this workspace's .openbolt/mcp.json"
                ),
                session_id: self.owner.clone(),
                message_id: self.message_id.clone(),
                action_id: None,
            };
            let approval = tokio::select! {
                approval = self.approver.approve(&request) => approval,
                () = cancel.cancelled() => return (Vec::new(), Vec::new()),
            };
            match approval {
                Approval::Run | Approval::AlwaysThisSession => {
                    mcp.set_trust(&name, crate::mcp::Trust::Trusted);
                }
                Approval::Skip(reason) => {
                    mcp.set_trust(&name, crate::mcp::Trust::Refused);
                    refused.push(format!(
                        "MCP server \"{name}\" not started ({reason}); its tools are not offered"
                    ));
                }
            }
        }
        let (tools, mut failures) = mcp.tools().await;
        failures.extend(refused);
        (tools, failures)
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

    /// A `tool` action: the tool found, its arguments checked against its schema, the call approved
    /// (unless `mcpAllow` or an earlier "always" allows it), made, and its result kept for the model.
    async fn call_tool(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let (Some(server), Some(name)) = (job.action.server.as_deref(), job.action.tool.as_deref())
        else {
            return update
                .with_error("a tool action needs server=\"…\" and tool=\"…\"")
                .status(ActionStatus::Failed);
        };
        let Some(mcp) = self.mcp.clone() else {
            return update
                .with_error("no MCP servers are configured (.openbolt/mcp.json, ~/.config/openbolt/mcp.json or the mcpServers setting)")
                .status(ActionStatus::Failed);
        };
        let tool = match mcp.tool(server, name).await {
            Ok(tool) => tool,
            Err(reason) => return update.with_error(reason).status(ActionStatus::Failed),
        };
        let text = job.content.trim();
        let arguments = if text.is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(arguments) => arguments,
                Err(error) => {
                    return update
                        .with_error(format!("the arguments are not JSON ({error}); not called"))
                        .status(ActionStatus::Failed);
                }
            }
        };
        if let Err(reason) = crate::mcp::schema::check(&tool.input_schema, &arguments) {
            return update
                .with_error(format!("invalid arguments, not called: {reason}"))
                .status(ActionStatus::Failed);
        }
        let key = format!("{server}/{name}");
        if !self.policy.allows_tool(server, name) && !self.allowed_tools.contains(&key) {
            let label = update.command.clone().unwrap_or_default();
            let Some(approval) = self.ask(job, &label, &update, events, cancel).await else {
                return update
                    .with_error("the turn was stopped")
                    .status(ActionStatus::Aborted);
            };
            match approval {
                Approval::Run => {}
                Approval::AlwaysThisSession => {
                    self.allowed_tools.insert(key);
                }
                Approval::Skip(reason) => {
                    return update.with_error(reason).status(ActionStatus::Skipped);
                }
            }
        }
        let _ = events.send(TurnEvent::Action(update.clone())).await;
        let result = tokio::select! {
            result = mcp.call(server, name, arguments) => result,
            () = cancel.cancelled() => return update.with_error("the turn was stopped").status(ActionStatus::Aborted),
        };
        match result {
            Ok(mut result) => {
                // A result takes from the round's context budget, as reads do (each at most half of
                // what is left, never less than a small minimum).
                let allowed = (self.read_tokens / 2).max(MIN_READ_TOKENS);
                if crate::tokens::estimate(&result.text) > allowed {
                    let cut = crate::tokens::prefix_bytes_within(&result.text, allowed);
                    result.text = format!(
                        "{}\n[… cut to fit the context: {} of {} characters shown]",
                        &result.text[..cut],
                        result.text[..cut].chars().count(),
                        result.text.chars().count()
                    );
                }
                self.read_tokens = self
                    .read_tokens
                    .saturating_sub(crate::tokens::estimate(&result.text));
                let first_line: String = result
                    .text
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect();
                report.tools.push((
                    job.action.index,
                    format!(
                        "<tool-result server=\"{server}\" tool=\"{name}\"{}>\n{}\n</tool-result>\n",
                        if result.is_error {
                            " error=\"true\""
                        } else {
                            ""
                        },
                        result.text
                    ),
                ));
                let mut update = if result.is_error {
                    update
                        .with_error(format!("the tool failed: {first_line}"))
                        .status(ActionStatus::Failed)
                } else {
                    update.status(ActionStatus::Complete)
                };
                update.summary = Some(if first_line.is_empty() {
                    "no text".to_owned()
                } else {
                    first_line
                });
                // Recorded with the session (the result, not the server's configuration).
                update.output_tail = Some(result.text.chars().take(4_000).collect());
                update
            }
            Err(reason) => update.with_error(reason).status(ActionStatus::Failed),
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

    /// A file action: the whole file. Refused when it would replace code the model has not seen, or
    /// when it stands in for code with a placeholder comment.
    async fn write_file(
        &mut self,
        path: &Path,
        relative: &str,
        content: &str,
        report: &mut RunnerReport,
    ) -> Result<(Option<String>, String), String> {
        if let Some(line) = edit::placeholder(content) {
            return Err(format!(
                "refused: the file stands in for code with a placeholder ({}) — write the whole file, or change part of it with an edit action",
                line.trim()
            ));
        }
        let current = crate::blocking(|| self.writer.current(path));
        if let Some(current) = &current
            && current.as_slice() != content.as_bytes()
            && !self.seen.has_seen(path, current)
        {
            if crate::secrets::is_secret(Path::new(relative.trim())) {
                return Err(format!(
                    "refused: {relative} holds secrets, which you never see, so it is not replaced; tell the user what to set in it"
                ));
            }
            return Err(format!(
                "refused: {relative} exists and you have not seen its current content in this conversation — read it first, or use an edit"
            ));
        }
        Self::remember_previous(path, current.as_deref(), report);
        self.writer
            .write(path, content)
            .await
            .map_err(|error| format!("cannot write {relative}: {error}"))?;
        self.seen.saw(path, content.as_bytes());
        let summary = current.map(|before| {
            let (added, removed) = diff::counts(&String::from_utf8_lossy(&before), content);
            format!("+{added} −{removed}")
        });
        Ok((summary, content.to_owned()))
    }

    /// An edit action: its blocks applied to the file as the user sees it (the editor's buffer when
    /// open, the user's unsaved changes elsewhere kept), all or none.
    async fn edit(
        &mut self,
        path: &Path,
        relative: &str,
        body: &str,
        report: &mut RunnerReport,
    ) -> Result<(Option<String>, String), String> {
        let Some(current) = crate::blocking(|| self.writer.current(path)) else {
            return Err(format!(
                "{relative} does not exist: an edit changes an existing file (create one with a file action)"
            ));
        };
        if current[..current.len().min(8192)].contains(&0) {
            return Err(format!("{relative} is a binary file"));
        }
        let before =
            String::from_utf8(current).map_err(|_| format!("{relative} is not UTF-8 text"))?;
        let blocks = edit::parse_blocks(body)?;
        // Matching (and, when it fails, finding the closest lines) reads the whole file.
        let applied = crate::blocking(|| edit::apply(&before, &blocks))
            .map_err(|reason| format!("nothing was changed in {relative}: {reason}"))?;
        Self::remember_previous(path, Some(before.as_bytes()), report);
        let note = self
            .writer
            .edit(path, &before, &applied.text)
            .await
            .map_err(|error| format!("cannot edit {relative}: {error}"))?;
        // Whoever saw the file whole before the edit knows it after.
        if self.seen.has_seen(path, before.as_bytes()) {
            self.seen.saw(path, applied.text.as_bytes());
        }
        let mut summary = applied.summary();
        if let Some(note) = note {
            summary.push_str(&format!("; {note}"));
        }
        Ok((Some(summary), applied.text))
    }

    /// A read action: the file as the user sees it (the editor's buffer when open), through the same
    /// workspace gate as writes; secrets are refused.
    fn read(&mut self, job: &Job) -> Result<(String, String), String> {
        let Some(relative) = job.action.file_path.as_deref() else {
            return Err("the read action has no filePath".to_owned());
        };
        let path = files::resolve_in_workspace(&self.root, relative)
            .map_err(|error| format!("refused: {error}"))?;
        if crate::secrets::is_secret(Path::new(relative.trim())) {
            return Err(format!(
                "refused: {relative} holds secrets, which are never sent to the model"
            ));
        }
        let range = job
            .action
            .lines
            .as_deref()
            .map(read::parse_lines)
            .transpose()?;
        let bytes = crate::blocking(|| self.writer.current(&path))
            .ok_or_else(|| format!("{relative} does not exist"))?;
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return Err(format!("{relative} is a binary file"));
        }
        let text = String::from_utf8_lossy(&bytes);
        let allowance = (self.read_tokens / 2).max(MIN_READ_TOKENS);
        let rendered = read::render(relative.trim(), &text, range, allowance);
        if rendered.whole {
            self.seen.saw(&path, &bytes);
        }
        Ok((rendered.text, rendered.summary))
    }
}

impl Runner {
    /// Runs an approved command in a terminal. A `shell` action is waited for (up to the timeout);
    /// a `start` action replaces the session's running dev server and is left running.
    async fn run_command(
        &mut self,
        job: &Job,
        mut update: ActionUpdate,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let command = job.content.as_str();
        let is_start = job.action.kind == ActionKind::Start;
        if is_start {
            self.terminals.stop_owner(&self.owner, true).await;
        }
        let purpose = if is_start {
            Purpose::Start
        } else {
            Purpose::Shell
        };
        let mut spawned = match self
            .terminals
            .spawn(&self.owner, command, &self.root, purpose)
        {
            Ok(spawned) => spawned,
            Err(error) => {
                return update
                    .with_error(error.to_string())
                    .status(ActionStatus::Failed);
            }
        };
        update.terminal_id = Some(spawned.id);
        if is_start {
            // The server keeps running; its end is this action's final status.
            self.dev_servers.started(
                spawned.id,
                DevServer {
                    session_id: self.owner.clone(),
                    message_id: self.message_id.clone(),
                    update: update.clone(),
                },
            );
            return update;
        }
        let _ = events.send(TurnEvent::Action(update.clone())).await;
        let timeout = self.shell_timeout;
        let exit = tokio::select! {
            exit = spawned.exited() => exit,
            () = tokio::time::sleep(timeout) => {
                let _ = self.terminals.kill(spawned.id).await;
                let mut failed = update.with_error(format!(
                    "stopped after {} s: a shell command must finish (a server belongs in a start action)",
                    timeout.as_secs()
                ));
                failed.output_tail = self.plain_tail(spawned.id);
                return failed.status(ActionStatus::Failed);
            }
            () = cancel.cancelled() => {
                let _ = self.terminals.kill(spawned.id).await;
                return update.with_error("the turn was stopped").status(ActionStatus::Aborted);
            }
        };
        update.exit_code = Some(exit.code);
        if exit.success() {
            return update.status(ActionStatus::Complete);
        }
        let reason = match &exit.signal {
            Some(signal) => format!("ended by {signal}"),
            None => format!("exited with code {}", exit.code),
        };
        let tail = self.plain_tail(spawned.id);
        let sandboxed = self.terminals.sandbox().is_some();
        let reason = match &tail {
            Some(tail) if sandboxed && crate::sandbox::looks_denied(tail) => {
                format!("{reason} — {}", crate::sandbox::DENIED_HINT)
            }
            _ => reason,
        };
        let mut failed = update.with_error(reason);
        failed.output_tail = tail;
        failed.status(ActionStatus::Failed)
    }

    fn plain_tail(&self, id: TerminalId) -> Option<String> {
        let tail = crate::terminal::preview::plain_text(&self.terminals.tail(id).ok()?);
        let start = tail.len().saturating_sub(OUTPUT_TAIL_FOR_MODEL);
        let start = (start..tail.len())
            .find(|index| tail.is_char_boundary(*index))
            .unwrap_or(tail.len());
        Some(tail[start..].to_owned())
    }
}
