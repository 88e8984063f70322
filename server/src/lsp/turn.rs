//! `openbolt/chat` in the editor: the turn runs through the conversation driver in a spawned task; this
//! module supplies the editor's side — files as workspace edits, approvals as questions, and every event
//! as an `openbolt/*` notification (with work-done progress for shell commands).

use super::backend::State;
use super::editor::EditorApprover;
use super::errors::ServerError;
use super::forward::{ProgressEvent, report_progress};
use super::protocol::*;
use crate::actions::FileWriter;
use crate::actions::approval::Approver;
use crate::conversation::{FrontEnd, Sink, TurnRequest};
use crate::engine::TurnStatus;
use crate::types::{ActionKind, ActionStatus, TurnEvent};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::ls_types::MessageType;

/// How file actions and approvals reach the editor.
pub(super) struct EditorFrontEnd {
    pub state: Arc<State>,
    pub saves_edits: bool,
}

impl FrontEnd for EditorFrontEnd {
    fn writer(&self) -> Box<dyn FileWriter> {
        Box::new(self.state.writer(self.saves_edits))
    }

    fn approver(&self) -> Box<dyn Approver> {
        Box::new(EditorApprover {
            client: self.state.client.clone(),
        })
    }
}

/// A turn's events as notifications.
struct Notifications {
    state: Arc<State>,
    session_id: String,
    message_id: String,
}

impl Sink for Notifications {
    fn started<'a>(&'a mut self, message_id: &'a str) -> BoxFuture<'a, ()> {
        message_id.clone_into(&mut self.message_id);
        Box::pin(async move {
            self.state
                .notifier
                .notify::<TurnStartNotification>(TurnStartParams {
                    session_id: self.session_id.clone(),
                    message_id: self.message_id.clone(),
                })
                .await;
        })
    }

    fn event<'a>(&'a mut self, event: &'a TurnEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let notifier = &self.state.notifier;
            let session_id = self.session_id.clone();
            let message_id = self.message_id.clone();
            match event {
                TurnEvent::Text(text) => {
                    notifier
                        .notify::<ChatDeltaNotification>(ChatDelta {
                            session_id,
                            message_id,
                            text: text.clone(),
                        })
                        .await;
                }
                TurnEvent::Notice(text) => {
                    notifier
                        .notify::<NoticeNotification>(NoticeParams {
                            session_id,
                            message_id,
                            text: text.clone(),
                        })
                        .await;
                }
                TurnEvent::Action(update) => {
                    if let Some(terminal) = update.terminal_id
                        && update.status == ActionStatus::Running
                        && update.kind == ActionKind::Shell
                        && self.state.work_done_progress.load(Ordering::Acquire)
                    {
                        self.state
                            .start_progress(terminal, update.command.clone().unwrap_or_default());
                    }
                    notifier
                        .notify::<ActionUpdateNotification>(ActionUpdateParams {
                            session_id,
                            message_id,
                            update: update.clone(),
                        })
                        .await;
                }
            }
        })
    }
}

impl State {
    /// Reports a shell command's progress until its end.
    fn start_progress(&self, terminal: crate::terminal::TerminalId, command: String) {
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

/// Runs a turn; answers when it has ended. `$/cancelRequest` drops this future: its guard then stops
/// the turn.
pub(super) async fn run_chat(
    state: Arc<State>,
    params: ChatParams,
) -> Result<ChatResult, ServerError> {
    if params.prompt.trim().is_empty() {
        return Err(ServerError::InvalidParams("the prompt is empty".to_owned()));
    }
    let conversations = state.conversations()?;
    let engine = state.engine()?;
    let opening = conversations.clone();
    let session_id = params.session_id.clone();
    // Opening may read the store.
    let conversation = tokio::task::spawn_blocking(move || opening.open(session_id.as_deref()))
        .await
        .map_err(|failure| ServerError::Internal(failure.to_string()))?;
    let mut turn_state = conversation.lock_turn().await?;
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let settings = state.settings();
    let task_state = state.clone();
    let task = state.work.spawn(async move {
        // Comparing open documents with their files reads the disk: off the protocol thread.
        let editor = crate::blocking(|| {
            task_state.editor_context(conversations.workspace(), params.context.as_ref())
        });
        let request = TurnRequest {
            prompt: params.prompt,
            editor,
            policy: settings.approval_policy(),
            shell_timeout: Duration::from_secs(settings.command_timeout.unwrap_or(600).max(1)),
        };
        let mut sink = Notifications {
            state: task_state.clone(),
            session_id: conversation.id.clone(),
            message_id: String::new(),
        };
        let turn = conversations
            .run_turn(
                &conversation,
                &mut turn_state,
                &engine,
                request,
                cancel,
                &mut sink,
            )
            .await;
        (conversation.id.clone(), turn)
    });
    let result = task.await;
    guard.disarm();
    let (session_id, turn) =
        result.map_err(|failure| ServerError::Internal(format!("the turn failed: {failure}")))?;
    let outcome = turn.outcome;
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
    // The turn's notifications reach the client before its response.
    state.notifier.written().await;
    let usage = outcome.usage;
    Ok(ChatResult {
        session_id,
        message_id: turn.message_id,
        status: outcome.status,
        error: outcome.error,
        usage: Some(UsageReport {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_tokens,
            cache_write_tokens: usage.cache_write_tokens,
        }),
    })
}
