//! What the model reads of a tool call's result.

use serde_json::Value;

/// The most of one result the model is shown.
pub const MAX_RESULT_CHARS: usize = 16_000;

/// A call's result as the model reads it: text content as is; images, audio and resources
/// summarized; structured content when there is nothing else; cut to [`MAX_RESULT_CHARS`].
pub fn result_text(result: &Value) -> String {
    let mut out = String::new();
    for item in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let text = match kind {
            "text" => item
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            "image" | "audio" => format!(
                "[{kind}: {}, {} bytes of base64]",
                item.get("mimeType").and_then(Value::as_str).unwrap_or("?"),
                item.get("data").and_then(Value::as_str).map_or(0, str::len)
            ),
            "resource" => {
                let resource = item.get("resource").unwrap_or(&Value::Null);
                let uri = resource.get("uri").and_then(Value::as_str).unwrap_or("?");
                match resource.get("text").and_then(Value::as_str) {
                    Some(text) => format!("[resource {uri}]\n{text}"),
                    None => format!("[resource {uri}: binary]"),
                }
            }
            "resource_link" => format!(
                "[resource link: {}]",
                item.get("uri").and_then(Value::as_str).unwrap_or("?")
            ),
            other => format!("[{other} content]"),
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&text);
    }
    if out.is_empty()
        && let Some(structured) = result.get("structuredContent")
    {
        out = structured.to_string();
    }
    cut(out)
}

fn cut(text: String) -> String {
    if text.chars().count() <= MAX_RESULT_CHARS {
        return text;
    }
    let kept: String = text.chars().take(MAX_RESULT_CHARS).collect();
    format!(
        "{kept}\n[… cut: the result has {} characters; the first {MAX_RESULT_CHARS} are shown]",
        text.chars().count()
    )
}
