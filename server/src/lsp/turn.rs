//! `openbolt/chat` in the editor: the turn runs through the conversation driver in a spawned task; this
//! module supplies the editor's side — files as workspace edits, approvals as questions, and every event
//! as an `openbolt/*` notification (with work-done progress for shell commands).

use super::editor::EditorApprover;
use super::errors::ServerError;
use super::protocol::*;
use super::state::State;
use crate::actions::FileWriter;
use crate::actions::approval::Approver;
use crate::conversation::fixes::Check;
use crate::conversation::{FixRound, FrontEnd, Sink};
use crate::engine::TurnStatus;
use crate::types::{ActionStatus, KindTraits, Lifetime, TurnEvent};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::ls_types::MessageType;

/// How long a turn waits for the editor's own diagnostics of the files it wrote.
const EDITOR_DIAGNOSTICS_PATIENCE: Duration = Duration::from_secs(6);

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

    fn reports_editor_errors(&self) -> bool {
        self.state.client_options().sends_diagnostics
    }

    /// Asks the client (one that sends diagnostics: the conversation asks only when
    /// [`FrontEnd::reports_editor_errors`]) with `openbolt/actionsDone` and waits for its
    /// `openbolt/diagnostics`, up to [`EDITOR_DIAGNOSTICS_PATIENCE`].
    fn editor_errors<'a>(
        &'a self,
        session_id: &'a str,
        message_id: &'a str,
        files: Vec<String>,
    ) -> BoxFuture<'a, Vec<crate::conversation::fixes::EditorError>> {
        Box::pin(async move {
            let (answer, answered) = tokio::sync::oneshot::channel();
            crate::lock(&self.state.editor_errors).insert(message_id.to_owned(), answer);
            // Forgotten however the wait ends (Stop drops it).
            let _forget = Forget(&self.state, message_id);
            self.state
                .notifier
                .notify::<ActionsDoneNotification>(ActionsDoneParams {
                    session_id: session_id.to_owned(),
                    message_id: message_id.to_owned(),
                    files: files.clone(),
                })
                .await;
            let files_answered = tokio::time::timeout(EDITOR_DIAGNOSTICS_PATIENCE, answered).await;
            let Ok(Ok(answered)) = files_answered else {
                tracing::info!(message_id, "no diagnostics from the editor in time");
                return Vec::new();
            };
            answered
                .into_iter()
                .filter(|file| files.contains(&file.file_path))
                .flat_map(|file| {
                    let path = file.file_path;
                    file.diagnostics.into_iter().map(move |diagnostic| {
                        crate::conversation::fixes::EditorError {
                            file_path: path.clone(),
                            line: diagnostic.line,
                            message: diagnostic.message,
                            source: diagnostic.source,
                        }
                    })
                })
                .collect()
        })
    }

    fn editor(&self) -> crate::engine::context::EditorContext {
        match self.state.conversations() {
            Ok(conversations) => {
                crate::blocking(|| self.state.editor_context(conversations.workspace(), None))
            }
            Err(_) => crate::engine::context::EditorContext::default(),
        }
    }
}

/// Forgets a turn's wait for the editor's diagnostics.
struct Forget<'a>(&'a State, &'a str);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        crate::lock(&self.0.editor_errors).remove(self.1);
    }
}

/// A turn's events as notifications.
struct Notifications {
    state: Arc<State>,
    session_id: String,
    message_id: String,
}

impl Sink for Notifications {
    fn started<'a>(
        &'a mut self,
        message_id: &'a str,
        fix: Option<&'a FixRound>,
    ) -> BoxFuture<'a, ()> {
        message_id.clone_into(&mut self.message_id);
        Box::pin(async move {
            self.state
                .notifier
                .notify::<TurnStartNotification>(TurnStartParams {
                    session_id: self.session_id.clone(),
                    message_id: self.message_id.clone(),
                    fix_round: fix.map(|fix| FixRoundParams {
                        round: fix.round,
                        rounds: fix.rounds,
                        problems: fix.problems,
                    }),
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
                TurnEvent::Page(check) => {
                    notifier
                        .notify::<PageCheckNotification>(PageCheckParams {
                            session_id,
                            message_id,
                            check: check.clone(),
                        })
                        .await;
                }
                TurnEvent::Action(update) => {
                    let traits = KindTraits::of(&update.kind);
                    if update.status == ActionStatus::Complete
                        && traits.writes_file
                        && let Some(path) = &update.file_path
                    {
                        self.state.publish_syntax(path, &update.diagnostics).await;
                    }
                    if let Some(terminal) = update.terminal_id
                        && update.status == ActionStatus::Running
                        && traits.terminal == Some(Lifetime::Exit)
                        && self.state.work_done_progress.load(Ordering::Acquire)
                    {
                        self.state
                            .start_progress(terminal, update.label.clone().unwrap_or_default());
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

    fn checking<'a>(&'a mut self, check: &'a Check) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.state
                .notifier
                .notify::<CheckingNotification>(CheckingParams {
                    session_id: self.session_id.clone(),
                    message_id: self.message_id.clone(),
                    check: check.kind().to_owned(),
                    text: check.describe(),
                })
                .await;
        })
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
    let effective = state.effective();
    let task_state = state.clone();
    let task = state.work.spawn(async move {
        // Comparing open documents with their files reads the disk: off the protocol thread.
        let editor = crate::blocking(|| {
            task_state.editor_context(conversations.workspace(), params.context.as_ref())
        });
        let request = effective.turn(params.prompt, editor);
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
