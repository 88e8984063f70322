//! Which models take images: hosted models known by name (the same names on any server: a proxy in
//! front of Anthropic or OpenAI takes what they take), or what the `modelImages` setting says. Models
//! nobody knows — what local servers run — are sent text alone unless the user says otherwise.

use crate::config::{ProviderKind, ProviderSettings};

/// The `modelImages` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelImages {
    /// Known models only.
    #[default]
    Auto,
    /// The model takes images (a local vision model: llava, qwen2.5vl, gemma3).
    Yes,
    /// Never send images.
    No,
}

impl std::str::FromStr for ModelImages {
    type Err = String;

    fn from_str(text: &str) -> Result<ModelImages, String> {
        match text.trim() {
            "auto" => Ok(ModelImages::Auto),
            "true" => Ok(ModelImages::Yes),
            "false" => Ok(ModelImages::No),
            other => Err(format!("{other:?} is not auto, true or false")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ModelImages {
    /// `true`, `false` or `"auto"` (and the strings `"true"`, `"false"`, as environment values are).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ModelImages, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Flag(true) => Ok(ModelImages::Yes),
            Raw::Flag(false) => Ok(ModelImages::No),
            Raw::Word(word) => word.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Whether the configured model is sent images.
pub fn takes_images(settings: &ProviderSettings, setting: ModelImages) -> bool {
    match setting {
        ModelImages::Yes => settings.kind != ProviderKind::Replay,
        ModelImages::No => false,
        ModelImages::Auto => settings.kind != ProviderKind::Replay && known(&settings.model),
    }
}

/// Hosted models that take images, by name (or the part after a `vendor/` prefix: OpenRouter's names).
pub fn known(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let name = model.rsplit('/').next().unwrap_or(&model);
    let starts = |prefixes: &[&str]| prefixes.iter().any(|prefix| name.starts_with(prefix));
    if name.starts_with("claude-") {
        // Every Claude since 3; not 2 or Instant.
        return !starts(&["claude-2", "claude-instant"]);
    }
    if starts(&[
        "o1-mini",
        "o1-preview",
        "o3-mini",
        "gpt-4-0",
        "gpt-4-32k",
        "gpt-3.5",
    ]) {
        return false;
    }
    starts(&[
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-4-turbo",
        "gpt-4-vision",
        "gpt-5",
        "o1",
        "o3",
        "o4-mini",
        "gemini-1.5",
        "gemini-2",
        "gemini-3",
        "grok-4",
        "grok-2-vision",
        "pixtral",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosted_models_take_images_and_others_do_not() {
        for model in [
            "claude-sonnet-4-5",
            "claude-3-5-haiku-latest",
            "claude-opus-4-1",
            "anthropic/claude-3.7-sonnet",
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-5",
            "o3",
            "o4-mini",
            "openai/gpt-4o",
            "gemini-2.5-pro",
        ] {
            assert!(known(model), "{model}");
        }
        for model in [
            "claude-2.1",
            "claude-instant-1.2",
            "gpt-3.5-turbo",
            "gpt-4-0613",
            "o1-mini",
            "o3-mini",
            "qwen2.5-coder:7b",
            "llama3.1",
            "deepseek-coder-v2",
            "my-local-model",
        ] {
            assert!(!known(model), "{model}");
        }
    }

    #[test]
    fn the_setting_decides_over_the_name() {
        let settings = |kind, model: &str| ProviderSettings {
            name: "test".to_owned(),
            kind,
            model: model.to_owned(),
            base_url: "http://127.0.0.1:1".to_owned(),
            api_key: None,
            replay_file: None,
            replay_bytes_per_second: 0,
        };
        let local = settings(ProviderKind::OpenAi, "llava:13b");
        assert!(!takes_images(&local, ModelImages::Auto));
        assert!(takes_images(&local, ModelImages::Yes));
        let claude = settings(ProviderKind::Anthropic, "claude-sonnet-4-5");
        assert!(takes_images(&claude, ModelImages::Auto));
        assert!(!takes_images(&claude, ModelImages::No));
        let replay = settings(ProviderKind::Replay, "claude-sonnet-4-5");
        assert!(!takes_images(&replay, ModelImages::Yes));
    }

    #[test]
    fn the_setting_reads_flags_and_words() {
        let read =
            |json: &str| serde_json::from_str::<ModelImages>(json).map_err(|e| e.to_string());
        assert_eq!(read("true"), Ok(ModelImages::Yes));
        assert_eq!(read("false"), Ok(ModelImages::No));
        assert_eq!(read("\"auto\""), Ok(ModelImages::Auto));
        assert_eq!(read("\"false\""), Ok(ModelImages::No));
        assert!(
            read("\"sometimes\"").is_err_and(|error| error.contains("not auto, true or false"))
        );
        assert!(read("3").is_err());
    }
}
