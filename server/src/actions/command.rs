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
pub struct DevServers(Arc<Mutex<HashMap<TerminalId, Running>>>);

/// A dev server as it runs: its record, and (sandboxed) the guard of what it may plant in `.git`, with
/// what was undone so far.
#[derive(Debug)]
struct Running {
    server: DevServer,
    guard: Option<(Arc<GitGuard>, Vec<String>)>,
}

/// How often a sandboxed dev server's `.git` is checked for planted hooks while it runs.
const GIT_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl DevServers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TerminalId, Running>> {
        crate::lock(&self.0)
    }

    pub(super) fn started(&self, terminal: TerminalId, server: DevServer, guard: Option<GitGuard>) {
        let guard = guard.map(|guard| (Arc::new(guard), Vec::new()));
        let watched = guard.as_ref().map(|(guard, _)| guard.clone());
        self.lock().insert(terminal, Running { server, guard });
        // A server does not end: what it plants in `.git` is undone while it runs, not only after.
        if let Some(guard) = watched {
            let servers = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(GIT_CHECK_EVERY).await;
                    if !servers.lock().contains_key(&terminal) {
                        return;
                    }
                    let checked = guard.clone();
                    let Ok(undone) =
                        tokio::task::spawn_blocking(move || checked.restore_planted()).await
                    else {
                        return;
                    };
                    if undone.is_empty() {
                        continue;
                    }
                    tracing::warn!(?undone, "a dev server planted code in .git; it was undone");
                    if let Some(Running {
                        guard: Some((_, seen)),
                        ..
                    }) = servers.lock().get_mut(&terminal)
                    {
                        seen.extend(undone);
                    }
                }
            });
        }
    }

    /// A terminal ended. If it was a dev server: its action with its final status (and what it left in
    /// `.git` undone, said), and where it belongs.
    pub fn ended(&self, terminal: TerminalId, exit: &ExitInfo) -> Option<DevServer> {
        let Running { mut server, guard } = self.lock().remove(&terminal)?;
        server.update = final_start_update(server.update, exit);
        if let Some((guard, mut undone)) = guard {
            undone.extend(crate::blocking(|| guard.restore_planted()));
            server.update = with_undone(server.update, &undone);
        }
        Some(server)
    }

    /// The terminals and commands of `session`'s running dev servers.
    pub fn of_session(&self, session: &str) -> Vec<(TerminalId, String)> {
        let mut servers: Vec<(TerminalId, String)> = self
            .lock()
            .iter()
            .filter(|(_, running)| running.server.session_id == session)
            .map(|(terminal, running)| {
                (
                    *terminal,
                    running.server.update.label.clone().unwrap_or_default(),
                )
            })
            .collect();
        servers.sort();
        servers
    }

    /// The terminals of the running dev servers that the replies `messages` started.
    pub fn started_by(&self, messages: &[String]) -> Vec<TerminalId> {
        self.lock()
            .iter()
            .filter(|(_, running)| messages.contains(&running.server.message_id))
            .map(|(terminal, _)| *terminal)
            .collect()
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
        // A sandboxed command may write `.git`; what git would run later is put back after it (a dev
        // server's, while it runs and when it ends).
        let guard = self
            .terminals
            .sandbox()
            .is_some_and(|sandbox| !sandbox.allow_git_hooks)
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
                guard,
            );
            return update;
        }
        let _ = events.send(TurnEvent::Action(update.clone())).await;
        let finished = self.wait_for_command(spawned, update, cancel).await;
        // A `.env` the command wrote (`supabase start`, a setup script) holds secrets from now on, before
        // a later command of the same turn prints them.
        crate::blocking(|| crate::secrets::values::know_workspace(&self.root));
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
        let hint = self
            .terminals
            .sandbox()
            .zip(tail.as_deref())
            .and_then(|(sandbox, tail)| sandbox.denied_hint(tail));
        let reason = match hint {
            Some(hint) => format!("{reason} — {hint}"),
            None => reason,
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
fn undo_planted(guard: &GitGuard, update: ActionUpdate) -> ActionUpdate {
    let undone = crate::blocking(|| guard.restore());
    with_undone(update, &undone)
}

/// `update` saying what was undone in `.git` (nothing: as it is).
fn with_undone(mut update: ActionUpdate, undone: &[String]) -> ActionUpdate {
    if undone.is_empty() {
        return update;
    }
    let notice = crate::sandbox::git::undone_notice(undone);
    update.error = Some(match update.error.take() {
        Some(error) => format!("{error}; {notice}"),
        None => notice,
    });
    update
}

#[cfg(test)]
mod tests {
    use super::*;
    use openbolt_parser::ActionKind;

    /// What a dev server plants in `.git` is undone, at the latest when it ends, and its action says so.
    #[tokio::test]
    async fn a_dev_server_cannot_plant_git_hooks_either() {
        let workspace = tempfile::tempdir().expect("dir");
        let git = workspace.path().join(".git/hooks");
        std::fs::create_dir_all(&git).expect("hooks");
        std::fs::write(
            workspace.path().join(".git/config"),
            "[core]\n\tbare = false\n",
        )
        .expect("config");
        let servers = DevServers::default();
        let update = ActionUpdate::for_test(
            ActionKind::Start,
            None,
            Some("npm run dev"),
            ActionStatus::Running,
        );
        servers.started(
            7,
            DevServer {
                session_id: "s".into(),
                message_id: "m".into(),
                update,
            },
            Some(GitGuard::snapshot(workspace.path())),
        );
        std::fs::write(git.join("pre-commit"), "#!/bin/sh\necho planted\n").expect("hook");
        let exit = ExitInfo {
            code: 0,
            signal: None,
            stopped: true,
        };
        let ended = servers.ended(7, &exit).expect("a dev server");
        assert!(!git.join("pre-commit").exists(), "the hook is gone");
        let error = ended.update.error.expect("said");
        assert!(error.contains(".git/hooks/pre-commit"), "{error}");
        assert!(servers.is_empty());
    }
}
