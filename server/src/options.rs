//! One way to start a conversation. Every front end gives what the user set as [`Options`] (the same keys
//! as the LSP's `openbolt` settings section and the settings files), and [`resolve`] layers it with one
//! precedence — what the user set (a flag, an editor setting) > the environment > the settings files
//! (the workspace's `.openbolt/settings.json` over the user's `~/.config/openbolt/settings.json`) > the
//! default — into [`Effective`], which builds what a front end needs: the engine (provider, limits,
//! project map), the command sandbox, the MCP configuration and each turn's request.
//!
//! Defaults live with what they govern (`conversation::AUTO_FIX`, `actions::command::COMMAND_TIMEOUT`,
//! `provider::IDLE_TIMEOUT`, `SandboxMode::default`); this is where they are applied.
//!
//! A cloned repository must not hurt its user through its settings file: a workspace file may not set
//! anything that sends the user's prompts or keys elsewhere, replaces the model, runs a program, loosens
//! the sandbox or approvals ([`WORKSPACE_REFUSED`]). Each refused or wrong key is one message naming it;
//! the rest of the file applies.

use crate::actions::RunSettings;
use crate::actions::approval::ApprovalPolicy;
use crate::browser::PageChecks;
use crate::config::{ConfigError, ProviderChoice, ProviderSettings, Secret, user_config_dir};
use crate::conversation::TurnRequest;
use crate::engine::Engine;
use crate::engine::context::EditorContext;
use crate::project::ProjectMap;
use crate::sandbox::SandboxMode;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the user set, in one layer; names are camelCase on the wire and in the files
/// (`openbolt.baseUrl`, `"baseUrl"`). `None`: not set here.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Options {
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
    /// Automatic fix rounds after a turn with problems (0: none).
    pub auto_fix: Option<u32>,
    /// Seconds without a byte from the provider before the turn fails.
    pub idle_timeout: Option<u64>,
    /// Seconds a shell command may run.
    pub command_timeout: Option<u64>,
    pub approval: ApprovalOptions,
    /// Commands in the sandbox: `auto` (default), `required`, `off`.
    pub sandbox: Option<SandboxMode>,
    /// More paths sandboxed commands may write beneath.
    pub sandbox_writable: Option<Vec<PathBuf>>,
    /// `false`: sandboxed commands make no outgoing TCP connection.
    pub sandbox_network: Option<bool>,
    /// More paths sandboxed commands may not read (besides the credentials denied by default).
    pub sandbox_deny_read: Option<Vec<PathBuf>>,
    /// Paths sandboxed commands may read although denied (`~/.npmrc` for a private registry).
    pub sandbox_allow_read: Option<Vec<PathBuf>>,
    /// Keep the hooks and git config entries that run programs a sandboxed command leaves in `.git`
    /// (a project whose install sets up husky).
    pub sandbox_allow_git_hooks: Option<bool>,
    /// MCP servers, in the usual `mcpServers` shape (over the workspace's and the user's `mcp.json`).
    pub mcp_servers: Option<Value>,
    /// MCP tools called without asking: a server's name, or `server/tool`.
    pub mcp_allow: Option<Vec<String>>,
    /// Check previews in a headless browser after a turn: `auto` (default: when a browser is found) or
    /// `off`.
    pub preview_check: Option<AutoOff>,
    /// The browser the page check runs (default: `chromium`, `chromium-browser`, `google-chrome` or
    /// `chrome` on `PATH`).
    pub browser_path: Option<PathBuf>,
    /// Keep a screenshot of each checked page, shown with its verdict and sent to models that take
    /// images with a fix round the page caused: `auto` (default) or `off`.
    pub preview_screenshots: Option<AutoOff>,
    /// Whether the model takes images: `auto` (hosted models known to), `true`, `false`.
    pub model_images: Option<crate::provider::images::ModelImages>,
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

/// A setting that is `auto` or `off` (`previewCheck`, `previewScreenshots`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoOff {
    #[default]
    Auto,
    Off,
}

impl std::str::FromStr for AutoOff {
    type Err = String;

    fn from_str(text: &str) -> Result<AutoOff, String> {
        match text.trim() {
            "auto" => Ok(AutoOff::Auto),
            "off" => Ok(AutoOff::Off),
            other => Err(format!("{other:?} is neither auto nor off")),
        }
    }
}

/// `approval`: each key its own layer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ApprovalOptions {
    /// Run commands without asking (dangerous ones are refused regardless).
    pub auto_approve: Option<bool>,
    /// Commands that run without asking when they start with one of these words: `npm install`.
    pub allow: Option<Vec<String>>,
    /// Commands that never run.
    pub deny: Option<Vec<String>>,
}

/// The keys a workspace's settings file may not set, and why.
pub const WORKSPACE_REFUSED: &[(&str, &str)] = &[
    ("provider", "it chooses where your prompts and keys go"),
    ("baseUrl", "it chooses where your prompts and keys go"),
    ("apiKey", "it chooses which key is sent"),
    ("replayFile", "it replaces your model"),
    ("replaySpeed", "it belongs with replayFile"),
    ("mcpServers", "it runs programs"),
    ("mcpAllow", "it lets tools run without asking"),
    ("approval", "it lets commands run without asking"),
    ("sandbox", "it loosens the sandbox"),
    ("sandboxWritable", "it loosens the sandbox"),
    ("sandboxNetwork", "it loosens the sandbox"),
    (
        "sandboxDenyRead",
        "it replaces your own list of paths commands may not read",
    ),
    ("sandboxAllowRead", "it loosens the sandbox"),
    ("sandboxAllowGitHooks", "it loosens the sandbox"),
    ("browserPath", "it runs a program"),
];

impl Options {
    /// Reads settings from `{"openbolt": {…}}` or the section itself; `null` means none. A wrong key
    /// or type is an error that names it.
    pub fn from_value(value: Option<&Value>) -> Result<Options, String> {
        let section = match value {
            None | Some(Value::Null) => return Ok(Options::default()),
            Some(Value::Object(map)) if map.contains_key("openbolt") => &map["openbolt"],
            Some(other) => other,
        };
        if section.is_null() {
            return Ok(Options::default());
        }
        let mut options: Options = serde_json::from_value(section.clone())
            .map_err(|error| format!("invalid openbolt settings: {error}"))?;
        options.blank_is_unset();
        Ok(options)
    }

    /// Settings that say nothing: `null`, `{}`, or an `openbolt` section that is `null` or `{}`. Some
    /// clients (GNU Emacs's eglot) send these right after `initialized`; they must not reset what
    /// `initializationOptions` gave.
    pub fn is_empty(value: Option<&Value>) -> bool {
        // Lua clients send an empty table as `[]`.
        let nothing = |value: &Value| match value {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
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

    /// Editors send unset text settings as "": that means "not set here".
    fn blank_is_unset(&mut self) {
        for text in [&mut self.provider, &mut self.model, &mut self.base_url] {
            if text.as_deref().is_some_and(|value| value.trim().is_empty()) {
                *text = None;
            }
        }
        if self
            .api_key
            .as_ref()
            .is_some_and(|key| key.expose().trim().is_empty())
        {
            self.api_key = None;
        }
    }

    /// Field by field: this layer's value where it has one, else `under`'s.
    pub fn over(self, under: Options) -> Options {
        Options {
            provider: self.provider.or(under.provider),
            model: self.model.or(under.model),
            base_url: self.base_url.or(under.base_url),
            api_key: self.api_key.or(under.api_key),
            replay_file: self.replay_file.or(under.replay_file),
            replay_speed: self.replay_speed.or(under.replay_speed),
            max_tokens: self.max_tokens.or(under.max_tokens),
            context_tokens: self.context_tokens.or(under.context_tokens),
            auto_fix: self.auto_fix.or(under.auto_fix),
            idle_timeout: self.idle_timeout.or(under.idle_timeout),
            command_timeout: self.command_timeout.or(under.command_timeout),
            approval: ApprovalOptions {
                auto_approve: self.approval.auto_approve.or(under.approval.auto_approve),
                allow: self.approval.allow.or(under.approval.allow),
                deny: self.approval.deny.or(under.approval.deny),
            },
            sandbox: self.sandbox.or(under.sandbox),
            sandbox_writable: self.sandbox_writable.or(under.sandbox_writable),
            sandbox_network: self.sandbox_network.or(under.sandbox_network),
            sandbox_deny_read: self.sandbox_deny_read.or(under.sandbox_deny_read),
            sandbox_allow_read: self.sandbox_allow_read.or(under.sandbox_allow_read),
            sandbox_allow_git_hooks: self
                .sandbox_allow_git_hooks
                .or(under.sandbox_allow_git_hooks),
            mcp_servers: self.mcp_servers.or(under.mcp_servers),
            mcp_allow: self.mcp_allow.or(under.mcp_allow),
            preview_check: self.preview_check.or(under.preview_check),
            browser_path: self.browser_path.or(under.browser_path),
            preview_screenshots: self.preview_screenshots.or(under.preview_screenshots),
            model_images: self.model_images.or(under.model_images),
            client_only: None,
            client_preview: None,
            client_saves_edits: None,
            client_handles_preview: None,
            client_sends_diagnostics: None,
        }
    }

    /// The provider as this layer chooses it.
    fn provider_choice(&self) -> ProviderChoice {
        ProviderChoice {
            provider: self.provider.clone(),
            model: self.model.clone(),
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            replay_file: self.replay_file.clone(),
            replay_bytes_per_second: self.replay_speed,
        }
    }
}

/// The environment's layer (the provider's variables are read with the provider, in `config`):
/// `OPENBOLT_AUTO_FIX`, `OPENBOLT_CONTEXT_TOKENS`, `OPENBOLT_PREVIEW_CHECK`,
/// `OPENBOLT_PREVIEW_SCREENSHOTS`, `OPENBOLT_MODEL_IMAGES`. A value that is not one the setting takes is a
/// message.
fn from_env(env: &dyn Fn(&str) -> Option<String>, messages: &mut Vec<String>) -> Options {
    let mut number = |name: &str| -> Option<u32> {
        let value = env(name)?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match value.parse() {
            Ok(number) => Some(number),
            Err(_) => {
                messages.push(format!(
                    "{name}={value:?} is not a whole number; it is ignored"
                ));
                None
            }
        }
    };
    let auto_fix = number("OPENBOLT_AUTO_FIX");
    let context_tokens = number("OPENBOLT_CONTEXT_TOKENS");
    let preview_check = word(env, "OPENBOLT_PREVIEW_CHECK", messages);
    let preview_screenshots = word(env, "OPENBOLT_PREVIEW_SCREENSHOTS", messages);
    let model_images = word(env, "OPENBOLT_MODEL_IMAGES", messages);
    Options {
        auto_fix,
        context_tokens,
        preview_check,
        preview_screenshots,
        model_images,
        ..Options::default()
    }
}

/// The environment variable `name` as one of a setting's words; not one of them is a message.
fn word<T: std::str::FromStr<Err = String>>(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    messages: &mut Vec<String>,
) -> Option<T> {
    let value = env(name).filter(|value| !value.trim().is_empty())?;
    match value.parse() {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            messages.push(format!("{name}: {error}; it is ignored"));
            None
        }
    }
}

/// The settings files' layer: the workspace's over the user's, and what was wrong with them.
#[derive(Clone, Debug, Default)]
pub struct Files {
    pub options: Options,
    pub messages: Vec<String>,
}

impl Files {
    /// Reads `config_dir/openbolt/settings.json` (the user's) and `workspace/.openbolt/settings.json`.
    /// A missing file is no message.
    pub fn load(workspace: Option<&Path>, config_dir: Option<&Path>) -> Files {
        let mut messages = Vec::new();
        let user = config_dir
            .map(|dir| read_file(&dir.join("openbolt/settings.json"), false, &mut messages))
            .unwrap_or_default();
        let project = workspace
            .map(|root| read_file(&root.join(".openbolt/settings.json"), true, &mut messages))
            .unwrap_or_default();
        Files {
            options: project.over(user),
            messages,
        }
    }
}

/// One settings file, key by key: a refused, unknown or ill-typed key is a message and the rest
/// applies.
fn read_file(path: &Path, workspace: bool, messages: &mut Vec<String>) -> Options {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Options::default(),
        Err(error) => {
            messages.push(format!("{}: {error}; it is ignored", path.display()));
            return Options::default();
        }
    };
    let map = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            messages.push(format!(
                "{}: not a JSON object of settings; it is ignored",
                path.display()
            ));
            return Options::default();
        }
        Err(error) => {
            messages.push(format!(
                "{}: not valid JSON ({error}); it is ignored",
                path.display()
            ));
            return Options::default();
        }
    };
    let mut options = Options::default();
    for (key, value) in map {
        if workspace && let Some((_, why)) = WORKSPACE_REFUSED.iter().find(|(name, _)| *name == key)
        {
            messages.push(format!(
                "{}: \"{key}\" is refused in a workspace's settings file ({why}); set it in your own settings",
                path.display()
            ));
            continue;
        }
        let single = Value::Object([(key.clone(), value)].into_iter().collect());
        match serde_json::from_value::<Options>(single) {
            Ok(mut one) => {
                one.blank_is_unset();
                options = one.over(options);
            }
            Err(error) => {
                messages.push(format!("{}: \"{key}\" is ignored: {error}", path.display()))
            }
        }
    }
    options
}

/// Every setting decided: what the user set, else the environment, else the files, else the default.
#[derive(Clone, Debug)]
pub struct Effective {
    pub provider: Result<ProviderSettings, ConfigError>,
    pub max_tokens: Option<u32>,
    pub context_tokens: Option<u32>,
    pub auto_fix: u32,
    pub idle_timeout: Duration,
    /// Approvals and the command timeout, for each turn's runner.
    pub run: RunSettings,
    pub sandbox: crate::sandbox::Settings,
    /// The `mcpServers` setting (over the `mcp.json` files).
    pub mcp_servers: Option<Value>,
    /// `previewCheck` is not `off`.
    pub preview_check: bool,
    /// The `browserPath` setting.
    pub browser_path: Option<PathBuf>,
    /// `previewScreenshots` is not `off`.
    pub preview_screenshots: bool,
    /// The `modelImages` setting.
    pub model_images: crate::provider::images::ModelImages,
    /// What was wrong with the environment's values and the files, one line each.
    pub messages: Vec<String>,
}

/// Layers `set` (what the user set through the front end) over the environment and `files`.
pub fn resolve(set: &Options, env: &dyn Fn(&str) -> Option<String>, files: &Files) -> Effective {
    let mut messages = files.messages.clone();
    let environment = from_env(env, &mut messages);
    let provider = set
        .provider_choice()
        .resolve_over(&files.options.provider_choice(), env);
    let options = set.clone().over(environment).over(files.options.clone());
    Effective {
        provider,
        max_tokens: options.max_tokens,
        context_tokens: options.context_tokens.filter(|tokens| *tokens > 0),
        auto_fix: options.auto_fix.unwrap_or(crate::conversation::AUTO_FIX),
        idle_timeout: options
            .idle_timeout
            .map_or(crate::provider::IDLE_TIMEOUT, |seconds| {
                Duration::from_secs(seconds.max(1))
            }),
        run: RunSettings {
            policy: ApprovalPolicy {
                auto_approve: options.approval.auto_approve.unwrap_or(false),
                allow: options.approval.allow.unwrap_or_default(),
                deny: options.approval.deny.unwrap_or_default(),
                mcp_allow: options.mcp_allow.unwrap_or_default(),
            },
            shell_timeout: options
                .command_timeout
                .map_or(crate::actions::command::COMMAND_TIMEOUT, |seconds| {
                    Duration::from_secs(seconds.max(1))
                }),
        },
        sandbox: crate::sandbox::Settings {
            mode: options.sandbox.unwrap_or_default(),
            writable: home_paths(options.sandbox_writable, env),
            network: options.sandbox_network.unwrap_or(true),
            deny_read: home_paths(options.sandbox_deny_read, env),
            allow_read: home_paths(options.sandbox_allow_read, env),
            allow_git_hooks: options.sandbox_allow_git_hooks.unwrap_or(false),
        },
        mcp_servers: options.mcp_servers,
        preview_check: options.preview_check.unwrap_or_default() == AutoOff::Auto,
        browser_path: home_paths(options.browser_path.map(|path| vec![path]), env).pop(),
        preview_screenshots: options.preview_screenshots.unwrap_or_default() == AutoOff::Auto,
        model_images: options.model_images.unwrap_or_default(),
        messages,
    }
}

/// Paths as the user wrote them, with a leading `~/` meaning `$HOME`.
fn home_paths(paths: Option<Vec<PathBuf>>, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    paths
        .unwrap_or_default()
        .into_iter()
        .map(|path| match (path.strip_prefix("~"), &home) {
            (Ok(rest), Some(home)) => home.join(rest),
            _ => path,
        })
        .collect()
}

/// Reads the files and layers everything for `workspace` (none: the user's file only) with this
/// process's environment.
pub fn effective(set: &Options, workspace: Option<&Path>) -> Effective {
    let files = crate::blocking(|| Files::load(workspace, user_config_dir().as_deref()));
    let effective = resolve(set, &|name| std::env::var(name).ok(), &files);
    // The keys are redacted wherever a command or a tool shows them.
    let mut keys: Vec<String> = crate::secrets::KEY_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    if let Ok(provider) = &effective.provider {
        keys.extend(provider.api_key.as_ref().map(|key| key.expose().to_owned()));
    }
    crate::secrets::values::know("provider keys", keys);
    effective
}

impl Effective {
    /// The engine for `workspace`: the provider with its idle timeout, the output and context limits,
    /// and the project map.
    pub fn engine(&self, workspace: PathBuf, map: Option<ProjectMap>) -> Result<Engine, String> {
        let settings = self.provider.clone().map_err(|error| error.to_string())?;
        let images = crate::provider::images::takes_images(&settings, self.model_images);
        let mut provider =
            crate::provider::Provider::new(settings).map_err(|error| error.to_string())?;
        provider.idle_timeout = self.idle_timeout;
        let mut engine = Engine::new(Arc::new(provider), workspace);
        if let Some(max_tokens) = self.max_tokens {
            engine.max_tokens = max_tokens;
        }
        engine.context_tokens = self.context_tokens;
        engine.map = map;
        engine.images = images;
        Ok(engine)
    }

    /// The sandbox commands start in, and what to tell the user about it.
    pub fn sandbox(&self) -> (Option<crate::sandbox::Sandbox>, crate::sandbox::Configured) {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let program = match std::env::current_exe() {
            Ok(program) => program,
            Err(error) => {
                return (
                    None,
                    crate::sandbox::Configured::Unavailable(format!(
                        "cannot find the openbolt binary ({error}): commands are not sandboxed"
                    )),
                );
            }
        };
        let config_dir = user_config_dir();
        let data_dir = crate::store::default_data_dir(|name| std::env::var(name).ok());
        crate::blocking(|| {
            let denied = crate::sandbox::reads::default_denied(
                home.as_deref(),
                config_dir.as_deref(),
                &data_dir,
            );
            crate::sandbox::configure(&self.sandbox, &program, home.as_deref(), denied)
        })
    }

    /// The MCP servers for `workspace`: the user's and the workspace's `mcp.json`, then the
    /// `mcpServers` setting.
    pub fn mcp_config(&self, workspace: &Path) -> crate::mcp::McpConfig {
        let config_dir = user_config_dir();
        let config = crate::blocking(|| {
            crate::mcp::McpConfig::load(workspace, config_dir.as_deref(), self.mcp_servers.as_ref())
        });
        crate::secrets::values::know("MCP servers", config.secrets());
        config
    }

    /// The page check's browser profile: `browser` in OpenBolt's data directory.
    pub fn browser_profile(&self) -> PathBuf {
        crate::store::default_data_dir(|name| std::env::var(name).ok()).join("browser")
    }

    /// Whether turns check their previews, with which browser (`browserPath`, else `PATH`).
    pub fn page_checks(&self) -> PageChecks {
        if !self.preview_check {
            return PageChecks::Off;
        }
        match crate::browser::find(
            self.browser_path.as_deref(),
            std::env::var_os("PATH").as_deref(),
        ) {
            Ok(program) => PageChecks::With {
                program,
                profile: self.browser_profile(),
                screenshots: self.preview_screenshots.then(|| {
                    crate::store::default_data_dir(|name| std::env::var(name).ok())
                        .join("screenshots")
                }),
            },
            Err(why) => PageChecks::Missing(why),
        }
    }

    /// What the user is told once about the page check (the server log, `openbolt chat`'s header): the
    /// browser, and whether the model is sent the screenshots; and whether it is a warning.
    pub fn page_checks_said(&self) -> (bool, String) {
        let checks = self.page_checks();
        let (warning, mut said) = checks.describe();
        if let PageChecks::With {
            screenshots: Some(_),
            ..
        } = &checks
        {
            let sees = self.provider.as_ref().is_ok_and(|provider| {
                crate::provider::images::takes_images(provider, self.model_images)
            });
            use crate::provider::images::ModelImages;
            said.push_str(match (sees, self.model_images) {
                (true, _) => "; their screenshots go to the model with a fix round",
                (false, ModelImages::No) => {
                    "; their screenshots are not sent to the model (modelImages is false)"
                }
                (false, _) => {
                    "; their screenshots are not sent to the model: it is not known to take images (set modelImages to true if it does)"
                }
            });
        }
        (warning, said)
    }

    /// A turn's request for `prompt`.
    pub fn turn(&self, prompt: String, editor: EditorContext) -> TurnRequest {
        TurnRequest {
            prompt,
            editor,
            run: self.run.clone(),
            auto_fix: self.auto_fix,
            fix_round: false,
            page_checks: self.page_checks(),
            screenshots: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
