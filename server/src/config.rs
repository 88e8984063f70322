//! Settings: which provider and model, where, with which key. Resolved from explicit values (CLI flags,
//! LSP settings) first, then the environment (the official SDKs' variable names), then the settings
//! files (`options::Files`), then the provider's defaults.

use std::path::PathBuf;

/// The user's configuration directory: `$XDG_CONFIG_HOME`, else `~/.config`. Its `openbolt/` holds
/// `settings.json` and `mcp.json`.
pub fn user_config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
}

/// An API key. Its `Debug` never shows it; only [`Secret::expose`] does, at the HTTP header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(redacted)")
    }
}

/// The wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    Anthropic,
    /// OpenAI's Chat Completions, and every compatible server.
    OpenAi,
    /// A recorded reply streamed from a file.
    Replay,
}

/// A resolved provider configuration.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The name the user chose (`anthropic`, `openai`, `ollama`, …).
    pub name: String,
    pub kind: ProviderKind,
    pub model: String,
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Replay: the recorded reply and its pace in bytes per second (0: as fast as possible).
    pub replay_file: Option<PathBuf>,
    pub replay_bytes_per_second: u64,
}

/// What the user said explicitly (flags or editor settings); `None` falls back to the environment.
#[derive(Clone, Debug, Default)]
pub struct ProviderChoice {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub replay_file: Option<PathBuf>,
    pub replay_bytes_per_second: Option<u64>,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "no model provider is configured: set ANTHROPIC_API_KEY for Anthropic, OPENAI_API_KEY for OpenAI, \
         or OPENAI_BASE_URL for a local OpenAI-compatible server (e.g. OPENAI_BASE_URL=http://localhost:11434/v1 \
         for Ollama) and OPENBOLT_MODEL; or replay a recorded reply with --reply FILE"
    )]
    NothingConfigured,
    #[error(
        "unknown provider {0:?}: use anthropic, openai, ollama, lmstudio, llamacpp, vllm, openrouter or replay"
    )]
    UnknownProvider(String),
    #[error("the {provider} provider needs a model: set OPENBOLT_MODEL or pass --model")]
    NoModel { provider: String },
    #[error("the {provider} provider needs an API key: set {variable}")]
    NoKey {
        provider: String,
        variable: &'static str,
    },
    #[error("the replay provider needs a recorded reply: pass --reply FILE")]
    NoReplyFile,
    #[error("invalid base URL {url:?}: it must start with http:// or https://")]
    BadUrl { url: String },
}

/// Known providers: name, wire format, default base URL, default model, key variable, key required.
struct Known {
    name: &'static str,
    kind: ProviderKind,
    base_url: &'static str,
    model: Option<&'static str>,
    key_variable: &'static str,
    needs_key: bool,
}

const KNOWN: &[Known] = &[
    Known {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        base_url: "https://api.anthropic.com",
        model: Some("claude-sonnet-4-5"),
        key_variable: "ANTHROPIC_API_KEY",
        needs_key: true,
    },
    Known {
        name: "openai",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.openai.com/v1",
        model: Some("gpt-4.1"),
        key_variable: "OPENAI_API_KEY",
        needs_key: false,
    },
    Known {
        name: "ollama",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:11434/v1",
        model: None,
        key_variable: "OPENAI_API_KEY",
        needs_key: false,
    },
    Known {
        name: "lmstudio",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:1234/v1",
        model: None,
        key_variable: "OPENAI_API_KEY",
        needs_key: false,
    },
    Known {
        name: "llamacpp",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:8080/v1",
        model: None,
        key_variable: "OPENAI_API_KEY",
        needs_key: false,
    },
    Known {
        name: "vllm",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:8000/v1",
        model: None,
        key_variable: "OPENAI_API_KEY",
        needs_key: false,
    },
    Known {
        name: "openrouter",
        kind: ProviderKind::OpenAi,
        base_url: "https://openrouter.ai/api/v1",
        model: None,
        key_variable: "OPENROUTER_API_KEY",
        needs_key: true,
    },
];

/// Replay pace by default: a brisk model, about 2,000 characters a second.
pub const DEFAULT_REPLAY_BYTES_PER_SECOND: u64 = 2_000;

impl ProviderChoice {
    /// Resolves against the environment, read through `env` (so tests need not touch the process's):
    /// what was chosen explicitly, else the environment, else the provider's defaults.
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProviderSettings, ConfigError> {
        self.resolve_over(&ProviderChoice::default(), env)
    }

    /// As [`ProviderChoice::resolve`], with `files` (the settings files' choice) between the
    /// environment and the provider's defaults.
    pub fn resolve_over(
        &self,
        files: &ProviderChoice,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProviderSettings, ConfigError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let chosen = self
            .provider
            .clone()
            .or_else(|| env("OPENBOLT_PROVIDER"))
            .or_else(|| files.provider.clone());
        let replay_file = self
            .replay_file
            .clone()
            .or_else(|| files.replay_file.clone());
        let name = match chosen {
            Some(name) => name.trim().to_ascii_lowercase(),
            None if replay_file.is_some() => "replay".to_owned(),
            None if env("ANTHROPIC_API_KEY").is_some() => "anthropic".to_owned(),
            None if env("OPENAI_API_KEY").is_some() || env("OPENAI_BASE_URL").is_some() => {
                "openai".to_owned()
            }
            None => return Err(ConfigError::NothingConfigured),
        };
        if name == "replay" {
            let replay_file = replay_file.ok_or(ConfigError::NoReplyFile)?;
            return Ok(ProviderSettings {
                name,
                kind: ProviderKind::Replay,
                model: "replay".to_owned(),
                base_url: String::new(),
                api_key: None,
                replay_file: Some(replay_file),
                replay_bytes_per_second: self
                    .replay_bytes_per_second
                    .or(files.replay_bytes_per_second)
                    .unwrap_or(DEFAULT_REPLAY_BYTES_PER_SECOND),
            });
        }
        let known = KNOWN
            .iter()
            .find(|known| known.name == name)
            .ok_or_else(|| ConfigError::UnknownProvider(name.clone()))?;
        let base_url_variable = match known.kind {
            ProviderKind::Anthropic => "ANTHROPIC_BASE_URL",
            _ => "OPENAI_BASE_URL",
        };
        // A named local server keeps its own default address unless the user gives one explicitly.
        let env_base_url = if matches!(known.name, "anthropic" | "openai") {
            env(base_url_variable)
        } else {
            None
        };
        let base_url = self
            .base_url
            .clone()
            .or(env_base_url)
            .or_else(|| files.base_url.clone())
            .unwrap_or_else(|| known.base_url.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::BadUrl { url: base_url });
        }
        let model = self
            .model
            .clone()
            .or_else(|| env("OPENBOLT_MODEL"))
            .or_else(|| files.model.clone())
            .or_else(|| known.model.map(str::to_owned))
            .ok_or_else(|| ConfigError::NoModel {
                provider: name.clone(),
            })?;
        let api_key = self
            .api_key
            .clone()
            .or_else(|| env(known.key_variable).map(Secret::new))
            .or_else(|| files.api_key.clone());
        // OpenAI itself needs a key; a compatible server at another address may not.
        let needs_key = known.needs_key
            || (known.name == "openai" && base_url.starts_with("https://api.openai.com"));
        if needs_key && api_key.is_none() {
            return Err(ConfigError::NoKey {
                provider: name,
                variable: known.key_variable,
            });
        }
        Ok(ProviderSettings {
            name,
            kind: known.kind,
            model,
            base_url,
            api_key,
            replay_file: None,
            replay_bytes_per_second: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        choice: ProviderChoice,
        env: &[(&str, &str)],
    ) -> Result<ProviderSettings, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        choice.resolve(|name| env.get(name).cloned())
    }

    #[test]
    fn nothing_configured_names_what_to_set() {
        let error = resolve(ProviderChoice::default(), &[]).expect_err("nothing set");
        assert_eq!(error, ConfigError::NothingConfigured);
        let message = error.to_string();
        assert!(
            message.contains("ANTHROPIC_API_KEY") && message.contains("OPENAI_BASE_URL"),
            "{message}"
        );
    }

    #[test]
    fn the_environment_picks_the_provider() {
        let anthropic = resolve(
            ProviderChoice::default(),
            &[("ANTHROPIC_API_KEY", "sk-ant")],
        )
        .expect("anthropic");
        assert_eq!(anthropic.kind, ProviderKind::Anthropic);
        assert_eq!(anthropic.base_url, "https://api.anthropic.com");
        assert_eq!(format!("{:?}", anthropic.api_key), "Some(Secret(redacted))");

        let local = resolve(
            ProviderChoice::default(),
            &[
                ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
                ("OPENBOLT_MODEL", "qwen"),
            ],
        )
        .expect("a local server needs no key");
        assert_eq!(
            (local.kind, local.model.as_str(), local.api_key),
            (ProviderKind::OpenAi, "qwen", None)
        );
    }

    #[test]
    fn explicit_choices_win_and_bad_ones_are_explained() {
        let choice = ProviderChoice {
            provider: Some("ollama".into()),
            model: Some("llama3".into()),
            ..ProviderChoice::default()
        };
        let ollama = resolve(choice, &[("OPENBOLT_PROVIDER", "anthropic")]).expect("ollama");
        assert_eq!(ollama.base_url, "http://localhost:11434/v1");

        let no_model = resolve(
            ProviderChoice {
                provider: Some("vllm".into()),
                ..Default::default()
            },
            &[],
        );
        assert!(
            no_model
                .expect_err("no model")
                .to_string()
                .contains("OPENBOLT_MODEL")
        );
        let no_key = resolve(
            ProviderChoice {
                provider: Some("anthropic".into()),
                ..Default::default()
            },
            &[],
        );
        assert!(
            no_key
                .expect_err("no key")
                .to_string()
                .contains("ANTHROPIC_API_KEY")
        );
        let unknown = resolve(
            ProviderChoice {
                provider: Some("bard".into()),
                ..Default::default()
            },
            &[],
        );
        assert!(matches!(unknown, Err(ConfigError::UnknownProvider(_))));
        let bad_url = resolve(
            ProviderChoice::default(),
            &[
                ("OPENAI_BASE_URL", "localhost:1234"),
                ("OPENBOLT_MODEL", "m"),
            ],
        );
        assert!(matches!(bad_url, Err(ConfigError::BadUrl { .. })));
    }
}
