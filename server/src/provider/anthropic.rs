//! Anthropic's Messages API wire format: the request body, and stream events → [`StreamItem`]s.

use super::{ChatRequest, ProviderError, StopReason, StreamItem, Usage};
use crate::provider::sse::SseEvent;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::VecDeque;

/// `content_block_delta`, the event nearly every byte of a reply arrives in: typed, so that decoding it
/// builds no map and borrows what has no escapes.
#[derive(Deserialize)]
struct BlockDelta<'a> {
    #[serde(borrow)]
    delta: DeltaBody<'a>,
}

#[derive(Deserialize)]
struct DeltaBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

/// The body of `POST /v1/messages`. The system prompt and the history before the newest message are
/// marked for prompt caching: they are the stable prefix of every turn.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let last = request.messages.len().saturating_sub(1);
    let messages: Vec<Value> = request
        .messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            // Pictures first, then the text about them (as Anthropic advises).
            let mut content: Vec<Value> = message
                .images
                .iter()
                .map(|image| {
                    json!({
                        "type": "image",
                        "source": {"type": "base64", "media_type": image.media_type, "data": &*image.data},
                    })
                })
                .collect();
            let mut block = json!({"type": "text", "text": message.content});
            // The last message before the new one closes the cached prefix.
            if index + 1 == last {
                block["cache_control"] = json!({"type": "ephemeral"});
            }
            content.push(block);
            json!({"role": message.role, "content": content})
        })
        .collect();
    json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "stream": true,
        "system": [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
    })
}

/// Maps one stream event. The stop reason of `message_delta` is kept in `finish` and reported at
/// `message_stop`: a stream without it was cut off. Unknown event types and `ping` are ignored; `error`
/// fails the stream.
pub fn map_event(
    event: &SseEvent,
    finish: &mut Option<StopReason>,
    out: &mut VecDeque<StreamItem>,
) -> Result<(), ProviderError> {
    let parse = || -> Result<Value, ProviderError> {
        serde_json::from_str(&event.data).map_err(|error| {
            ProviderError::Protocol(format!("{} event is not JSON: {error}", event.event))
        })
    };
    match event.event.as_str() {
        "message_start" => {
            let data = parse()?;
            out.push_back(StreamItem::Usage(usage(&data["message"]["usage"])));
        }
        "content_block_delta" => {
            let data: BlockDelta = serde_json::from_str(&event.data).map_err(|error| {
                ProviderError::Protocol(format!("content_block_delta event is malformed: {error}"))
            })?;
            // Other deltas (`input_json_delta`, `thinking_delta`, …) carry no reply text.
            if data.delta.kind == "text_delta"
                && let Some(text) = data.delta.text
                && !text.is_empty()
            {
                out.push_back(StreamItem::Text(text.into_owned()));
            }
        }
        "message_delta" => {
            let data = parse()?;
            // `message_delta.usage` is cumulative; it may hold output tokens only.
            let delta_usage = &data["usage"];
            if delta_usage.is_object() {
                out.push_back(StreamItem::Usage(usage(delta_usage)));
            }
            if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                *finish = Some(match reason {
                    "max_tokens" => StopReason::MaxTokens,
                    "end_turn" | "stop_sequence" => StopReason::EndTurn,
                    other => StopReason::Other(other.to_owned()),
                });
            }
        }
        "message_stop" => out.push_back(StreamItem::Stop(
            finish.take().unwrap_or(StopReason::EndTurn),
        )),
        "error" => {
            let data = parse()?;
            let kind = data["error"]["type"].as_str().unwrap_or("error");
            let message = data["error"]["message"].as_str().unwrap_or("unknown error");
            return Err(ProviderError::Stream {
                message: format!("{kind}: {message}"),
                transient: matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error"),
            });
        }
        _ => {}
    }
    Ok(())
}

fn usage(value: &Value) -> Usage {
    let count = |name: &str| value[name].as_u64().unwrap_or(0);
    Usage {
        input_tokens: count("input_tokens"),
        output_tokens: count("output_tokens"),
        cache_read_tokens: count("cache_read_input_tokens"),
        cache_write_tokens: count("cache_creation_input_tokens"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, Role};

    fn map(event: &str, data: &str) -> Result<Vec<StreamItem>, ProviderError> {
        let mut out = VecDeque::new();
        let mut finish = None;
        let event = SseEvent {
            event: event.into(),
            data: data.into(),
        };
        map_event(&event, &mut finish, &mut out)?;
        if finish.is_some() {
            map_event(
                &SseEvent {
                    event: "message_stop".into(),
                    data: "{}".into(),
                },
                &mut finish,
                &mut out,
            )?;
        }
        Ok(out.into())
    }

    #[test]
    fn maps_text_usage_and_stop() {
        assert_eq!(
            map("message_start", r#"{"message":{"usage":{"input_tokens":10,"cache_read_input_tokens":7,"output_tokens":1}}}"#).ok(),
            Some(vec![StreamItem::Usage(Usage { input_tokens: 10, output_tokens: 1, cache_read_tokens: 7, cache_write_tokens: 0 })])
        );
        assert_eq!(
            map(
                "content_block_delta",
                r#"{"index":0,"delta":{"type":"text_delta","text":"hi"}}"#
            )
            .ok(),
            Some(vec![StreamItem::Text("hi".into())])
        );
        assert_eq!(map("ping", "{}").ok(), Some(vec![]));
        assert_eq!(map("some_future_event", "not json").ok(), Some(vec![]));
        assert_eq!(
            map(
                "message_delta",
                r#"{"delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}"#
            )
            .ok(),
            Some(vec![
                StreamItem::Usage(Usage {
                    output_tokens: 9,
                    ..Usage::default()
                }),
                StreamItem::Stop(StopReason::MaxTokens)
            ])
        );
    }

    #[test]
    fn an_error_event_is_an_error() {
        let error = map(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .expect_err("error event");
        assert!(error.is_transient());
        assert_eq!(
            error.to_string(),
            "the provider reported an error: overloaded_error: Overloaded"
        );
    }

    #[test]
    fn the_stable_prefix_is_cached() {
        let request = ChatRequest {
            system: "sys".into(),
            messages: vec![
                Message::text(Role::User, "a".into()),
                Message::text(Role::Assistant, "b".into()),
                Message::text(Role::User, "c".into()),
            ],
            max_tokens: 100,
        };
        let body = request_body("m", &request);
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(
            body["messages"][1]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
        assert!(
            body["messages"][2]["content"][0]
                .get("cache_control")
                .is_none()
        );
        assert_eq!(body["stream"], true);
    }

    #[test]
    fn a_picture_is_an_image_block_before_its_text() {
        let mut message = Message::text(Role::User, "the page shows this".into());
        message.images.push(crate::provider::Image {
            media_type: "image/jpeg".into(),
            data: "/9j/4AAQ".into(),
            width: 1280,
            height: 800,
            note: "[a screenshot]".into(),
        });
        let request = ChatRequest {
            system: "sys".into(),
            messages: vec![message],
            max_tokens: 100,
        };
        let body = request_body("claude-sonnet-4-5", &request);
        let content = &body["messages"][0]["content"];
        assert_eq!(
            content[0],
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}})
        );
        assert_eq!(
            content[1],
            json!({"type": "text", "text": "the page shows this"})
        );
        assert_eq!(content.as_array().map(Vec::len), Some(2));
    }
}
