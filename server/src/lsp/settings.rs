//! The `openbolt` settings section, from `initializationOptions` and `workspace/didChangeConfiguration`.
//! Unset values fall back to the environment (see `config.rs`).

use crate::actions::approval::ApprovalPolicy;
use crate::config::{ProviderChoice, Secret};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

/// Every setting; names are camelCase on the wire (`openbolt.baseUrl`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// Prefer the environment (`ANTHROPIC_API_KEY`, …); a key given here is used, never shown or stored.
    pub api_key: Option<Secret>,
    /// Replay a recorded reply instead of asking a model (demos, tests).
    pub replay_file: Option<PathBuf>,
    pub replay_speed: Option<u64>,
    pub max_tokens: Option<u32>,
    /// The model's context window, for models and servers that do not say.
    pub context_tokens: Option<u32>,
    /// Automatic fix rounds after a turn with problems (default 3; 0: none).
    pub auto_fix: Option<u32>,
    /// Seconds without a byte from the provider before the turn fails.
    pub idle_timeout: Option<u64>,
    /// Seconds a shell command may run.
    pub command_timeout: Option<u64>,
    pub approval: ApprovalSettings,
    /// Commands in the sandbox: `auto` (default), `required`, `off`.
    pub sandbox: Option<crate::sandbox::SandboxMode>,
    /// More paths sandboxed commands may write beneath.
    pub sandbox_writable: Vec<PathBuf>,
    /// `false`: sandboxed commands make no outgoing TCP connection.
    pub sandbox_network: Option<bool>,
    /// MCP servers, in the usual `mcpServers` shape (over the workspace's and the user's files).
    pub mcp_servers: Option<Value>,
    /// MCP tools called without asking: a server's name, or `server/tool`.
    pub mcp_allow: Vec<String>,
    /// Keys the server does not know but a client may send alongside ours (the extensions' own
    /// settings, such as `server.path`): accepted and ignored.
    #[serde(rename = "server")]
    pub client_only: Option<Value>,
    #[serde(rename = "preview")]
    pub client_preview: Option<Value>,
    #[serde(rename = "savesEdits")]
    pub client_saves_edits: Option<Value>,
    #[serde(rename = "handlesPreview")]
    pub client_handles_preview: Option<Value>,
    #[serde(rename = "sendsDiagnostics")]
    pub client_sends_diagnostics: Option<Value>,
}

/// `openbolt.approval`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Run commands without asking (dangerous ones are refused regardless).
    pub auto_approve: bool,
    /// Commands that run without asking when they start with one of these words: `npm install`.
    pub allow: Vec<String>,
    /// Commands that never run.
    pub deny: Vec<String>,
}

impl Settings {
    /// Reads settings from `{"openbolt": {…}}` or the section itself; `null` means defaults. A wrong
    /// key or type is an error that names it.
    pub fn from_value(value: Option<&Value>) -> Result<Settings, String> {
        let section = match value {
            None | Some(Value::Null) => return Ok(Settings::default()),
            Some(Value::Object(map)) if map.contains_key("openbolt") => &map["openbolt"],
            Some(other) => other,
        };
        if section.is_null() {
            return Ok(Settings::default());
        }
        serde_json::from_value(section.clone())
            .map_err(|error| format!("invalid openbolt settings: {error}"))
    }

    /// Settings that say nothing: `null`, `{}`, or an `openbolt` section that is `null` or `{}`. Some
    /// clients (GNU Emacs's eglot) send these right after `initialized`; they must not reset what
    /// `initializationOptions` gave.
    pub fn is_empty(value: Option<&Value>) -> bool {
        let nothing = |value: &Value| match value {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            _ => false,
        };
        match value {
            None => true,
            Some(Value::Object(map)) if map.len() == 1 && map.contains_key("openbolt") => {
                nothing(&map["openbolt"])
            }
            Some(value) => nothing(value),
        }
    }

    pub fn provider_choice(&self) -> ProviderChoice {
        // Editors send unset text settings as "": that means "from the environment".
        let set = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        ProviderChoice {
            provider: set(&self.provider),
            model: set(&self.model),
            base_url: set(&self.base_url),
            api_key: self.api_key.clone(),
            replay_file: self.replay_file.clone(),
            replay_bytes_per_second: self.replay_speed,
        }
    }

    pub fn approval_policy(&self) -> ApprovalPolicy {
        ApprovalPolicy {
            auto_approve: self.approval.auto_approve,
            allow: self.approval.allow.clone(),
            deny: self.approval.deny.clone(),
            mcp_allow: self.mcp_allow.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_come_wrapped_or_bare_and_errors_name_the_key() {
        let wrapped = json!({"openbolt": {"provider": "ollama", "model": "qwen", "approval": {"autoApprove": true, "allow": ["npm install"]}}});
        let settings = Settings::from_value(Some(&wrapped)).expect("valid");
        assert_eq!(settings.provider.as_deref(), Some("ollama"));
        assert!(settings.approval_policy().auto_approve);
        let bare = json!({"model": "gpt-4.1", "server": {"path": "/x"}, "savesEdits": true});
        assert_eq!(
            Settings::from_value(Some(&bare))
                .expect("valid")
                .model
                .as_deref(),
            Some("gpt-4.1")
        );
        assert!(
            Settings::from_value(None)
                .expect("defaults")
                .model
                .is_none()
        );
        let error = Settings::from_value(Some(&json!({"modle": "x"}))).expect_err("unknown key");
        assert!(error.contains("modle"), "{error}");
        let error =
            Settings::from_value(Some(&json!({"maxTokens": "many"}))).expect_err("wrong type");
        assert!(error.contains("invalid openbolt settings"), "{error}");
        let blank =
            Settings::from_value(Some(&json!({"provider": "", "model": " "}))).expect("valid");
        assert_eq!(blank.provider_choice().provider, None);
        assert_eq!(blank.provider_choice().model, None);
        let keyed = Settings::from_value(Some(&json!({"apiKey": "sk-secret"}))).expect("valid");
        assert!(!format!("{keyed:?}").contains("sk-secret"));
    }
}
