//! How many tokens a model can take: a table of known models, what local servers say of themselves,
//! and a conservative default for the rest.

use crate::config::{ProviderKind, ProviderSettings};
use std::time::Duration;

/// Where a context window came from, for the log and the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSource {
    /// The user's `contextTokens` setting.
    Setting,
    /// The server said so (llama.cpp `/props`, vLLM or OpenRouter `/models`, Ollama `/api/show`,
    /// LM Studio's models API).
    Server,
    /// The table of known models.
    Known,
    /// Nobody said: a conservative guess.
    Default,
}

/// A model's context window in tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextWindow {
    pub tokens: u32,
    pub source: WindowSource,
}

/// For a model nobody describes on a local server: small models' usual window.
pub const LOCAL_DEFAULT: u32 = 8_192;
/// For a model nobody describes on a hosted service.
pub const HOSTED_DEFAULT: u32 = 32_768;

/// Known models by name prefix (the longest matching prefix wins).
const KNOWN: &[(&str, u32)] = &[
    ("claude-", 200_000),
    ("claude-sonnet-4", 200_000),
    ("gpt-4o", 128_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("gemini-1.5", 1_048_576),
    ("gemini-2", 1_048_576),
    ("deepseek-chat", 65_536),
    ("deepseek-coder", 65_536),
    ("qwen2.5-coder", 32_768),
    ("llama3.1", 131_072),
    ("llama-3.1", 131_072),
    ("mistral-large", 131_072),
];

/// The window of a known model: its name, or the part after a `vendor/` prefix (OpenRouter's names).
pub fn known(model: &str) -> Option<u32> {
    let model = model.to_ascii_lowercase();
    let name = model.rsplit('/').next().unwrap_or(&model);
    KNOWN
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, tokens)| *tokens)
}

/// Whether `base_url` is on this machine or the local network (a server the user runs).
pub fn is_local(base_url: &str) -> bool {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost"
        || host.starts_with("127.")
        || host == "[::1]"
        || host.starts_with("192.168.")
        || host.starts_with("10.")
        || host.ends_with(".local")
        || host == "0.0.0.0"
}

/// The context window for these settings: the setting, else what the server says, else the table,
/// else a default.
pub async fn resolve(
    settings: &ProviderSettings,
    setting: Option<u32>,
    http: &reqwest::Client,
) -> ContextWindow {
    if let Some(tokens) = setting.filter(|tokens| *tokens > 0) {
        return ContextWindow {
            tokens,
            source: WindowSource::Setting,
        };
    }
    let hosted_api = settings.base_url.contains("api.openai.com")
        || settings.base_url.contains("api.anthropic.com");
    if settings.kind == ProviderKind::OpenAi
        && !hosted_api
        && let Some(tokens) = ask_server(settings, http).await
    {
        return ContextWindow {
            tokens,
            source: WindowSource::Server,
        };
    }
    if let Some(tokens) = known(&settings.model) {
        return ContextWindow {
            tokens,
            source: WindowSource::Known,
        };
    }
    let tokens = if settings.kind == ProviderKind::Replay {
        // A recorded reply reads nothing: the context may be as large as for a hosted model.
        200_000
    } else if is_local(&settings.base_url) {
        LOCAL_DEFAULT
    } else {
        HOSTED_DEFAULT
    };
    ContextWindow {
        tokens,
        source: WindowSource::Default,
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks an OpenAI-compatible server for the model's window, trying each server's own way.
async fn ask_server(settings: &ProviderSettings, http: &reqwest::Client) -> Option<u32> {
    let base = settings.base_url.trim_end_matches('/');
    let origin = base.strip_suffix("/v1").unwrap_or(base);
    let model = settings.model.as_str();
    let get = |url: String| {
        let mut request = http.get(url).timeout(PROBE_TIMEOUT);
        if let Some(key) = &settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        async move {
            let response = request.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            serde_json::from_slice::<serde_json::Value>(&response.bytes().await.ok()?).ok()
        }
    };
    // llama.cpp's server.
    if let Some(props) = get(format!("{origin}/props")).await
        && let Some(tokens) = llama_cpp_props(&props)
    {
        return Some(tokens);
    }
    // vLLM (`max_model_len`), OpenRouter (`context_length`), and servers that copy them.
    if let Some(models) = get(format!("{base}/models")).await
        && let Some(tokens) = models_list(&models, model)
    {
        return Some(tokens);
    }
    // LM Studio's own API.
    if let Some(info) = get(format!("{origin}/api/v0/models/{model}")).await
        && let Some(tokens) = lm_studio(&info)
    {
        return Some(tokens);
    }
    // Ollama.
    let response = http
        .post(format!("{origin}/api/show"))
        .timeout(PROBE_TIMEOUT)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "model": model }).to_string())
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    ollama_show(&serde_json::from_slice(&response.bytes().await.ok()?).ok()?)
}

fn positive(value: Option<&serde_json::Value>) -> Option<u32> {
    value
        .and_then(serde_json::Value::as_u64)
        .filter(|tokens| *tokens > 0)
        .and_then(|tokens| u32::try_from(tokens).ok())
}

/// llama.cpp `/props`: `default_generation_settings.n_ctx` (or `n_ctx` at the top in some versions).
pub fn llama_cpp_props(props: &serde_json::Value) -> Option<u32> {
    positive(props.pointer("/default_generation_settings/n_ctx")).or(positive(props.get("n_ctx")))
}

/// `/v1/models`: the entry of `model` (or the only one) with `max_model_len` or `context_length`.
pub fn models_list(models: &serde_json::Value, model: &str) -> Option<u32> {
    let data = models.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|entry| entry.get("id").and_then(serde_json::Value::as_str) == Some(model))
        .or_else(|| (data.len() == 1).then(|| &data[0]))?;
    positive(entry.get("max_model_len"))
        .or(positive(entry.get("context_length")))
        .or(positive(entry.pointer("/meta/n_ctx_train")))
}

/// LM Studio: the loaded context if the model is loaded, else its maximum.
pub fn lm_studio(info: &serde_json::Value) -> Option<u32> {
    positive(info.get("loaded_context_length")).or(positive(info.get("max_context_length")))
}

/// Ollama `/api/show`: `num_ctx` when the model sets it, else Ollama's default of 4,096 (what it runs
/// with, whatever the model could take), never more than the model's `*.context_length`.
pub fn ollama_show(show: &serde_json::Value) -> Option<u32> {
    let trained = show
        .get("model_info")?
        .as_object()?
        .iter()
        .find(|(key, _)| key.ends_with(".context_length"))
        .and_then(|(_, value)| positive(Some(value)));
    let configured = show
        .get("parameters")
        .and_then(serde_json::Value::as_str)
        .and_then(|parameters| {
            parameters.lines().find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("num_ctx"))
                    .then(|| words.next()?.parse::<u32>().ok())
                    .flatten()
            })
        });
    let running = configured.unwrap_or(4_096);
    Some(trained.map_or(running, |trained| running.min(trained)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn servers_say_their_window_each_in_their_way() {
        assert_eq!(
            llama_cpp_props(&json!({"default_generation_settings": {"n_ctx": 8192}})),
            Some(8192)
        );
        assert_eq!(
            models_list(
                &json!({"data": [{"id": "a", "max_model_len": 4096}, {"id": "qwen", "max_model_len": 32768}]}),
                "qwen"
            ),
            Some(32768)
        );
        assert_eq!(
            models_list(
                &json!({"data": [{"id": "x/y", "context_length": 65536}]}),
                "other"
            ),
            Some(65536)
        );
        assert_eq!(
            models_list(&json!({"data": [{"id": "smollm2"}]}), "smollm2"),
            None
        );
        assert_eq!(
            lm_studio(&json!({"max_context_length": 32768, "loaded_context_length": 8192})),
            Some(8192)
        );
        assert_eq!(
            ollama_show(
                &json!({"model_info": {"llama.context_length": 131072}, "parameters": "num_ctx 16384\nstop x"})
            ),
            Some(16384)
        );
        assert_eq!(
            ollama_show(&json!({"model_info": {"qwen2.context_length": 32768}})),
            Some(4096)
        );
    }

    #[test]
    fn known_models_and_local_servers() {
        assert_eq!(known("claude-sonnet-4-5"), Some(200_000));
        assert_eq!(known("openai/gpt-4o-mini"), Some(128_000));
        assert_eq!(known("gpt-4"), Some(8_192));
        assert_eq!(known("smollm2"), None);
        assert!(is_local("http://127.0.0.1:8080/v1"));
        assert!(is_local("http://localhost:11434/v1"));
        assert!(!is_local("https://openrouter.ai/api/v1"));
    }
}
