//! OpenAI's Chat Completions wire format (also Ollama, llama.cpp, vLLM, LM Studio, OpenRouter): the request
//! body, and stream chunks → [`StreamItem`]s.

use super::{ChatRequest, ProviderError, StopReason, StreamItem, Usage};
use crate::provider::sse::SseEvent;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::VecDeque;

/// One `chat.completion.chunk`, typed for the hot path; the rare parts (`error`, `usage`) stay loose
/// because servers differ in their shape.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<ChoiceDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChoiceDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
}

/// The body of `POST /chat/completions`.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    messages.extend(request.messages.iter().map(|message| {
        if message.images.is_empty() {
            // Plain text: what every compatible server takes.
            return json!({"role": message.role, "content": message.content});
        }
        let mut parts = vec![json!({"type": "text", "text": message.content})];
        parts.extend(message.images.iter().map(|image| {
            json!({"type": "image_url", "image_url": {"url": image.data_url(), "detail": "high"}})
        }));
        json!({"role": message.role, "content": parts})
    }));
    json!({
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    })
}

/// Maps one `data:` payload. `finish_reason` is kept in `finish` and reported as the stop only at
/// `[DONE]`, after the usage chunk: a stream without `[DONE]` was cut off. An object with `error` fails it.
pub fn map_event(
    event: &SseEvent,
    finish: &mut Option<StopReason>,
    out: &mut VecDeque<StreamItem>,
) -> Result<(), ProviderError> {
    let data = event.data.trim();
    if data == "[DONE]" {
        out.push_back(StreamItem::Stop(
            finish.take().unwrap_or(StopReason::EndTurn),
        ));
        return Ok(());
    }
    let chunk: Chunk = serde_json::from_str(data).map_err(|error| {
        ProviderError::Protocol(format!(
            "stream chunk is not a chat.completion.chunk: {error}"
        ))
    })?;
    if let Some(error) = chunk.error.as_ref().filter(|error| !error.is_null()) {
        let message = error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .unwrap_or("unknown error");
        let transient = error["code"]
            .as_u64()
            .is_some_and(|code| code == 429 || code >= 500)
            || error["type"]
                .as_str()
                .is_some_and(|kind| kind.contains("overloaded") || kind.contains("server"));
        return Err(ProviderError::Stream {
            message: message.to_owned(),
            transient,
        });
    }
    if let Some(choice) = chunk.choices.and_then(|choices| choices.into_iter().next()) {
        if let Some(text) = choice.delta.and_then(|delta| delta.content)
            && !text.is_empty()
        {
            out.push_back(StreamItem::Text(text.into_owned()));
        }
        if let Some(reason) = choice.finish_reason {
            *finish = Some(match reason.as_ref() {
                "length" => StopReason::MaxTokens,
                "stop" => StopReason::EndTurn,
                other => StopReason::Other(other.to_owned()),
            });
        }
    }
    if let Some(usage) = chunk.usage.as_ref().filter(|usage| usage.is_object()) {
        out.push_back(StreamItem::Usage(Usage {
            input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
            output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
            cache_read_tokens: usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
            cache_write_tokens: 0,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_all(payloads: &[&str]) -> Result<Vec<StreamItem>, ProviderError> {
        let mut out = VecDeque::new();
        let mut finish = None;
        for payload in payloads {
            map_event(
                &SseEvent {
                    event: String::new(),
                    data: (*payload).into(),
                },
                &mut finish,
                &mut out,
            )?;
        }
        Ok(out.into())
    }

    #[test]
    fn text_then_finish_then_usage_then_done() {
        let items = map_all(&[
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":3}}}"#,
            "[DONE]",
        ])
        .expect("valid stream");
        assert_eq!(
            items,
            [
                StreamItem::Text("Hel".into()),
                StreamItem::Usage(Usage {
                    input_tokens: 5,
                    output_tokens: 2,
                    cache_read_tokens: 3,
                    cache_write_tokens: 0
                }),
                StreamItem::Stop(StopReason::MaxTokens),
            ]
        );
    }

    #[test]
    fn an_error_object_mid_stream_is_an_error() {
        let error = map_all(&[
            r#"{"choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"error":{"message":"model crashed","code":500}}"#,
        ])
        .expect_err("error chunk");
        assert!(error.is_transient());
        assert!(error.to_string().contains("model crashed"));
    }

    #[test]
    fn a_picture_is_an_image_url_part_and_text_alone_stays_a_string() {
        let mut message =
            crate::provider::Message::text(crate::provider::Role::User, "look".into());
        message.images.push(crate::provider::Image {
            media_type: "image/png".into(),
            data: "iVBORw0K".into(),
            width: 1280,
            height: 800,
            note: "[a screenshot]".into(),
        });
        let request = ChatRequest {
            system: "sys".into(),
            messages: vec![
                crate::provider::Message::text(crate::provider::Role::User, "plain".into()),
                message,
            ],
            max_tokens: 100,
        };
        let body = request_body("gpt-4o", &request);
        assert_eq!(body["messages"][1]["content"], "plain");
        assert_eq!(
            body["messages"][2]["content"],
            json!([
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "high"}}
            ])
        );
    }
}
