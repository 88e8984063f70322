//! `shell` and `start` actions: a command approved, then run in a terminal of the session — awaited to
//! its exit, or (a dev server) left running, its end reported later through [`DevServers`].

use super::approval::Approval;
use super::{ActionStatus, ActionUpdate, Job, Runner, TurnEvent};
use crate::sandbox::git::GitGuard;
use crate::terminal::{ExitInfo, Purpose, TerminalId};
use crate::types::{KindTraits, Lifetime};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How much of a failed command's output the model is shown.
const OUTPUT_TAIL_FOR_MODEL: usize = 3000;

/// How long a `shell` action may run unless the settings say otherwise (`commandTimeout`).
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

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

    pub(super) fn started(&self, terminal: TerminalId, server: DevServer) {
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

impl Runner {
    /// A `shell` or `start` action: approved (by the policy, an earlier "always", or the user), then
    /// run in a terminal. A `shell` action is waited for (up to the timeout); a `start` action replaces
    /// the session's running dev server and is left running.
    pub(super) async fn run_command(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let approval = match self.settings.policy.decide(&job.content) {
            Some(decision) => decision,
            None => match self.ask(job, &job.content, &update, events, cancel).await {
                Some(approval) => approval,
                None => {
                    return update.stopped();
                }
            },
        };
        match approval {
            Approval::Run => {}
            Approval::AlwaysThisSession => {
                self.always_this_session = true;
                self.settings.policy.auto_approve = true;
            }
            Approval::Skip(reason) => {
                return update.with_error(reason).status(ActionStatus::Skipped);
            }
        }
        self.spawn_command(job, update, events, cancel).await
    }

    async fn spawn_command(
        &mut self,
        job: &Job,
        mut update: ActionUpdate,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let command = job.content.as_str();
        let is_start = KindTraits::of(&job.action.kind).terminal == Some(Lifetime::Kept);
        if is_start {
            self.terminals.stop_owner(&self.owner, true).await;
        }
        let purpose = if is_start {
            Purpose::Start
        } else {
            Purpose::Shell
        };
        // A sandboxed command may write `.git`; what git would run later is put back after it. (A dev
        // server, which does not end, is not checked yet.)
        let guard = (self.terminals.sandbox().is_some() && !is_start)
            .then(|| GitGuard::snapshot(&self.root));
        let spawned = match self
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
        let finished = self.wait_for_command(spawned, update, cancel).await;
        match guard {
            Some(guard) => undo_planted(&guard, finished),
            None => finished,
        }
    }

    async fn wait_for_command(
        &mut self,
        mut spawned: crate::terminal::Spawned,
        mut update: ActionUpdate,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let timeout = self.settings.shell_timeout;
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
                return update.stopped();
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

/// A finished command's action, with what it left in `.git` that git would run put back and said.
fn undo_planted(guard: &GitGuard, mut update: ActionUpdate) -> ActionUpdate {
    let undone = crate::blocking(|| guard.restore());
    if undone.is_empty() {
        return update;
    }
    let notice = crate::sandbox::git::undone_notice(&undone);
    update.error = Some(match update.error.take() {
        Some(error) => format!("{error}; {notice}"),
        None => notice,
    });
    update
}
