//! One request's reply, streamed: the provider's stream (continued in follow-up requests when it hits
//! the output limit, up to `MAX_CONTINUATIONS`), only the new text fed to the parser, prose passed on as
//! it arrives, each action queued for the runner the moment it closes, and what the stream left
//! unfinished.

use super::{Engine, MAX_CONTINUATIONS, TurnStatus};
use crate::provider::{ChatRequest, Message, ProviderError, Role, StopReason, StreamItem, Usage};
use crate::types::{ActionStatus, ActionUpdate, Job, TurnEvent};
use crate::voice;
use openbolt_parser::{Event, Parser};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

impl Engine {
    #[expect(
        clippy::too_many_arguments,
        reason = "one request's whole setting; a struct for it would be built at one call site"
    )]
    pub(super) async fn stream_reply(
        &self,
        system: &str,
        mut messages: Vec<Message>,
        max_tokens: u32,
        first_action: usize,
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
            actions_seen: 0,
            refused_as_too_long: false,
        };
        let mut received = false;
        let mut parser = Parser::new();
        let mut parsed = Vec::new();
        let mut continuations = 0;
        let result: Result<(), TurnEnd> = 'segments: loop {
            // Known secrets never reach the model, whatever showed them (a file, a command, a tool).
            // Pictures go only to a model that takes them (a session may have changed models), and
            // only the latest message's: older ones are their notes.
            let pictured = messages
                .iter()
                .rposition(|message| !message.images.is_empty())
                .filter(|_| self.images);
            let request = ChatRequest {
                system: crate::secrets::redact(system).into_owned(),
                messages: messages
                    .iter()
                    .enumerate()
                    .map(|(index, message)| {
                        let mut sent = if Some(index) == pictured {
                            message.clone()
                        } else {
                            message.without_images()
                        };
                        if let std::borrow::Cow::Owned(redacted) =
                            crate::secrets::redact(&sent.content)
                        {
                            sent.content = redacted;
                        }
                        sent
                    })
                    .collect(),
                max_tokens,
            };
            let notices = events.clone();
            let opened = tokio::select! {
                opened = self.provider.open(&request, |notice| { let _ = notices.try_send(TurnEvent::Notice(notice)); }) => opened,
                () = cancel.cancelled() => break Err(TurnEnd::Aborted),
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(error) => {
                    if !received
                        && (error.is_context_too_long()
                            || matches!(error, ProviderError::Truncated(_)))
                    {
                        streamed.refused_as_too_long = true;
                    }
                    break Err(TurnEnd::Failed(error));
                }
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
                        // Local servers answer a prompt longer than their window with an empty stream.
                        if !received && matches!(error, ProviderError::Truncated(_)) {
                            streamed.refused_as_too_long = true;
                        }
                        break 'segments Err(TurnEnd::Failed(error));
                    }
                    Some(Ok(StreamItem::Usage(usage))) => {
                        received = true;
                        merge_usage(&mut segment_usage, usage);
                    }
                    Some(Ok(StreamItem::Stop(reason))) => break reason,
                    Some(Ok(StreamItem::Text(text))) => {
                        received = true;
                        streamed.reply.push_str(&text);
                        parser.feed_with(&text, |event| parsed.push(event.into_owned()));
                        for event in parsed.drain(..) {
                            streamed.actions_seen +=
                                usize::from(matches!(event, Event::ActionOpen(_)));
                            handle_event(
                                event,
                                first_action,
                                &jobs,
                                events,
                                &mut streamed.unfinished,
                            )
                            .await;
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
                    messages.push(Message::text(Role::Assistant, streamed.reply.clone()));
                    messages.push(Message::text(Role::User, voice::CONTINUE_PROMPT.to_owned()));
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
            streamed.actions_seen += usize::from(matches!(event, Event::ActionOpen(_)));
            handle_event(event, first_action, &jobs, events, &mut streamed.unfinished).await;
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

pub(super) struct Streamed {
    pub(super) status: TurnStatus,
    pub(super) error: Option<String>,
    pub(super) reply: String,
    pub(super) usage: Usage,
    /// Actions the runner never saw (open when the stream ended), with their final status.
    pub(super) unfinished: Vec<ActionUpdate>,
    /// How many actions the reply opened (the next round numbers on from there).
    pub(super) actions_seen: usize,
    /// The first request was refused as too long, or answered with nothing at all.
    pub(super) refused_as_too_long: bool,
}

enum TurnEnd {
    Aborted,
    Failed(ProviderError),
    TooLong,
}

/// Passes one parser event on: prose to the front end, closed actions to the runner. Actions are
/// numbered from `first_action` (a read round continues the turn's numbering).
async fn handle_event(
    event: Event<'static>,
    first_action: usize,
    jobs: &mpsc::Sender<Job>,
    events: &mpsc::Sender<TurnEvent>,
    unfinished: &mut Vec<ActionUpdate>,
) {
    match event {
        Event::Text(text) => {
            let _ = events.send(TurnEvent::Text(text.into_owned())).await;
        }
        Event::ActionOpen(action) => {
            let mut action = action.into_owned();
            action.index += first_action;
            let update = ActionUpdate::new(&action, None, ActionStatus::Pending);
            unfinished.push(update.clone());
            let _ = events.send(TurnEvent::Action(update)).await;
        }
        Event::ActionClose { action, content } => {
            let mut action = action.into_owned();
            action.index += first_action;
            unfinished.retain(|update| update.action_id != action.index);
            let _ = jobs
                .send(Job {
                    action,
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
