//! The turn engine: prompt → provider stream → parser → prose and actions → results, with history.
//!
//! One turn streams the reply (continuing it in follow-up requests when it hits the output limit),
//! feeds only the new text to the parser, passes prose on as it arrives, and queues each action the moment
//! it closes; the runner works through the queue while the reply still streams.

pub mod context;
pub mod prompt;

use crate::actions::{PreviousContent, Runner};
use crate::provider::{
    ChatRequest, Message, Provider, ProviderError, Role, StopReason, StreamItem, Usage,
};
pub use crate::types::TurnEvent;
use crate::types::{ActionStatus, ActionUpdate, Job};
use context::{Budget, EditorContext};
use openbolt_parser::{Event, Parser};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnStatus {
    Complete,
    Aborted,
    Failed,
}

/// A finished turn.
#[derive(Clone, Debug)]
pub struct TurnOutcome {
    pub status: TurnStatus,
    pub error: Option<String>,
    /// The whole reply as the model wrote it, markup included, across continuations.
    pub reply: String,
    pub usage: Usage,
    /// Final statuses of every action of the reply.
    pub actions: Vec<ActionUpdate>,
    pub previous_contents: Vec<PreviousContent>,
}

impl TurnOutcome {
    /// A turn that failed before it began.
    pub fn failed(error: String) -> TurnOutcome {
        TurnOutcome {
            status: TurnStatus::Failed,
            error: Some(error),
            reply: String::new(),
            usage: Usage::default(),
            actions: Vec::new(),
            previous_contents: Vec::new(),
        }
    }
}

/// A conversation: its messages, and what the last turn's actions did (told to the model next time).
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub messages: Vec<Message>,
    pub last_results: Vec<ActionUpdate>,
}

/// Closed actions waiting for the runner. A reply that gets this far ahead of its commands waits for
/// them (the stream is read on once the runner catches up): memory stays bounded.
const QUEUED_ACTIONS: usize = 256;

/// How many follow-up requests a reply cut off by the output limit may take.
const MAX_CONTINUATIONS: u32 = 5;

/// Runs turns against one provider in one workspace.
#[derive(Debug)]
pub struct Engine {
    provider: Arc<Provider>,
    workspace: PathBuf,
    system_prompt: String,
    pub max_tokens: u32,
    pub budget: Budget,
}

impl Engine {
    pub fn new(provider: Arc<Provider>, workspace: PathBuf) -> Engine {
        let system_prompt = prompt::system_prompt(&prompt::Machine::detect(), &workspace);
        Engine {
            provider,
            workspace,
            system_prompt,
            max_tokens: 16_384,
            budget: Budget::default(),
        }
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The message the model receives for `prompt`: the workspace, what the last actions did, the request.
    pub fn user_message(&self, session: &Session, prompt: &str, editor: &EditorContext) -> String {
        let mut message = context::render(&self.workspace, editor, self.budget);
        let results = describe_results(&session.last_results);
        if !results.is_empty() {
            message.push_str("\nWhat the actions of your previous reply did:\n");
            message.push_str(&results);
        }
        message.push_str("\n<request>\n");
        message.push_str(prompt);
        message.push_str("\n</request>\n");
        message
    }

    /// Runs one turn to its end. Events go to `events` as they happen; the session gains the user's
    /// message and the reply (also a partial one: the text streamed so far is kept).
    pub async fn run_turn(
        &self,
        session: &mut Session,
        prompt: &str,
        editor: &EditorContext,
        runner: &mut Runner,
        events: mpsc::Sender<TurnEvent>,
        cancel: CancellationToken,
    ) -> TurnOutcome {
        // The context walks the workspace and reads files.
        let user_message = crate::blocking(|| self.user_message(session, prompt, editor));
        let mut messages = session.messages.clone();
        messages.push(Message {
            role: Role::User,
            content: user_message,
        });

        let (jobs, queue) = mpsc::channel(QUEUED_ACTIONS);
        let runner_cancel = cancel.child_token();
        let runner_events = events.clone();
        let streaming = self.stream_reply(messages.clone(), jobs, &events, &cancel);
        let running = runner.run_queue(queue, runner_events, runner_cancel.clone());
        let (streamed, report) = tokio::join!(
            async {
                let streamed = streaming.await;
                // Aborting stops the runner too; a failed stream lets the complete actions finish.
                if streamed.status == TurnStatus::Aborted {
                    runner_cancel.cancel();
                }
                streamed
            },
            running
        );

        let mut actions = streamed.unfinished;
        actions.extend(report.updates);
        actions.sort_by_key(|update| update.action_id);

        session.messages = messages;
        if !streamed.reply.is_empty() {
            session.messages.push(Message {
                role: Role::Assistant,
                content: streamed.reply.clone(),
            });
        }
        session.last_results = actions.clone();
        TurnOutcome {
            status: streamed.status,
            error: streamed.error,
            reply: streamed.reply,
            usage: streamed.usage,
            actions,
            previous_contents: report.previous_contents,
        }
    }

    async fn stream_reply(
        &self,
        mut messages: Vec<Message>,
        jobs: mpsc::Sender<Job>,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> Streamed {
        let mut streamed = Streamed {
            status: TurnStatus::Complete,
            error: None,
            reply: String::new(),
            usage: Usage::default(),
            unfinished: Vec::new(),
        };
        let mut parser = Parser::new();
        let mut parsed = Vec::new();
        let mut continuations = 0;
        let result: Result<(), TurnEnd> = 'segments: loop {
            let request = ChatRequest {
                system: self.system_prompt.clone(),
                messages: messages.clone(),
                max_tokens: self.max_tokens,
            };
            let notices = events.clone();
            let opened = tokio::select! {
                opened = self.provider.open(&request, |notice| { let _ = notices.try_send(TurnEvent::Notice(notice)); }) => opened,
                () = cancel.cancelled() => break Err(TurnEnd::Aborted),
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(error) => break Err(TurnEnd::Failed(error)),
            };
            let mut segment_usage = Usage::default();
            let stop = loop {
                let item = tokio::select! {
                    item = stream.next() => item,
                    () = cancel.cancelled() => break 'segments Err(TurnEnd::Aborted),
                };
                match item {
                    None => break StopReason::EndTurn,
                    Some(Err(error)) => {
                        streamed.usage += segment_usage;
                        break 'segments Err(TurnEnd::Failed(error));
                    }
                    Some(Ok(StreamItem::Usage(usage))) => merge_usage(&mut segment_usage, usage),
                    Some(Ok(StreamItem::Stop(reason))) => break reason,
                    Some(Ok(StreamItem::Text(text))) => {
                        streamed.reply.push_str(&text);
                        parser.feed_with(&text, |event| parsed.push(event.into_owned()));
                        for event in parsed.drain(..) {
                            handle_event(event, &jobs, events, &mut streamed.unfinished).await;
                        }
                    }
                }
            };
            streamed.usage += segment_usage;
            match stop {
                StopReason::MaxTokens if continuations < MAX_CONTINUATIONS => {
                    continuations += 1;
                    let _ = events
                        .send(TurnEvent::Notice(format!(
                            "the reply reached the output limit; continuing it ({continuations} of {MAX_CONTINUATIONS})"
                        )))
                        .await;
                    messages.truncate(messages.len() - usize::from(continuations > 1) * 2);
                    messages.push(Message {
                        role: Role::Assistant,
                        content: streamed.reply.clone(),
                    });
                    messages.push(Message {
                        role: Role::User,
                        content: prompt::CONTINUE_PROMPT.to_owned(),
                    });
                }
                StopReason::MaxTokens => break Err(TurnEnd::TooLong),
                StopReason::EndTurn | StopReason::Other(_) => break Ok(()),
            }
        };

        match result {
            Ok(()) => {}
            Err(TurnEnd::Aborted) => {
                streamed.status = TurnStatus::Aborted;
                streamed.error = Some("the turn was stopped".to_owned());
            }
            Err(TurnEnd::Failed(error)) => {
                streamed.status = TurnStatus::Failed;
                streamed.error = Some(error.to_string());
            }
            Err(TurnEnd::TooLong) => {
                streamed.status = TurnStatus::Failed;
                streamed.error = Some(format!(
                    "the reply was still going after {MAX_CONTINUATIONS} continuations; stopped it there"
                ));
            }
        }
        parser.finish_with(|event| parsed.push(event.into_owned()));
        for event in parsed.drain(..) {
            // Text the parser held back when the stream broke off is a tag cut in half, not prose.
            if streamed.status != TurnStatus::Complete && matches!(event, Event::Text(_)) {
                continue;
            }
            handle_event(event, &jobs, events, &mut streamed.unfinished).await;
        }
        // Actions opened but never closed: not applied.
        let reason = streamed
            .error
            .clone()
            .unwrap_or_else(|| "the reply ended before this action was complete".to_owned());
        for update in &mut streamed.unfinished {
            if !update.status.is_final() {
                update.status = ActionStatus::Aborted;
                update.error = Some(format!("not applied: {reason}"));
                let _ = events.send(TurnEvent::Action(update.clone())).await;
            }
        }
        streamed
            .unfinished
            .retain(|update| update.status.is_final());
        streamed
    }
}

struct Streamed {
    status: TurnStatus,
    error: Option<String>,
    reply: String,
    usage: Usage,
    /// Actions the runner never saw (open when the stream ended), with their final status.
    unfinished: Vec<ActionUpdate>,
}

enum TurnEnd {
    Aborted,
    Failed(ProviderError),
    TooLong,
}

async fn handle_event(
    event: Event<'static>,
    jobs: &mpsc::Sender<Job>,
    events: &mpsc::Sender<TurnEvent>,
    unfinished: &mut Vec<ActionUpdate>,
) {
    match event {
        Event::Text(text) => {
            let _ = events.send(TurnEvent::Text(text.into_owned())).await;
        }
        Event::ActionOpen(action) => {
            let update = ActionUpdate::new(&action, None, ActionStatus::Pending);
            unfinished.push(update.clone());
            let _ = events.send(TurnEvent::Action(update)).await;
        }
        Event::ActionClose { action, content } => {
            unfinished.retain(|update| update.action_id != action.index);
            let _ = jobs
                .send(Job {
                    action: action.into_owned(),
                    content: content.into_owned(),
                })
                .await;
        }
        Event::ActionIncomplete(_)
        | Event::ActionDelta { .. }
        | Event::ArtifactOpen(_)
        | Event::ArtifactClose(_)
        | Event::ArtifactIncomplete(_) => {}
    }
}

/// Usage reports within one request replace earlier ones field by field (Anthropic's `message_delta` is
/// cumulative and may carry output tokens only).
fn merge_usage(total: &mut Usage, update: Usage) {
    let keep = |old: u64, new: u64| if new == 0 { old } else { new };
    total.input_tokens = keep(total.input_tokens, update.input_tokens);
    total.output_tokens = keep(total.output_tokens, update.output_tokens);
    total.cache_read_tokens = keep(total.cache_read_tokens, update.cache_read_tokens);
    total.cache_write_tokens = keep(total.cache_write_tokens, update.cache_write_tokens);
}

/// The last turn's action results, for the model: what failed or was skipped, and why.
fn describe_results(updates: &[ActionUpdate]) -> String {
    let mut out = String::new();
    for update in updates {
        let what = update.describe();
        out.push_str(&format!("- {what}: {}", update.status.as_str()));
        if let Some(code) = update.exit_code {
            out.push_str(&format!(" (exit code {code})"));
        }
        if let Some(error) = &update.error {
            out.push_str(&format!(" — {error}"));
        }
        out.push('\n');
        if let Some(tail) = update.output_tail.as_deref().map(str::trim_end)
            && !tail.is_empty()
        {
            out.push_str("  Its last output:\n  ```\n");
            for line in tail.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str("  ```\n");
        }
    }
    out
}
