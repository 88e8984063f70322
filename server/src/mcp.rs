//! MCP: the user's Model Context Protocol servers, whose tools the model may call (each call approved).
//!
//! Configuration has the shape other tools use — `{"mcpServers": {"NAME": {"command", "args", "env"}}}`
//! for a server started as a process (stdio), `{"url", "headers"}` for a streamable HTTP one — from the
//! user's `~/.config/openbolt/mcp.json`, the workspace's `.openbolt/mcp.json` and the editor's
//! `mcpServers` setting (later ones win, by name). A bad entry is one message naming the server; the
//! others work.
//!
//! [`Mcp`] holds a workspace's servers. A server starts on the first turn that needs the tool list
//! (never before: configured but unused servers cost nothing), is initialized once, refetches its
//! tools after `notifications/tools/list_changed`, and stops — its whole process group — at
//! [`Mcp::shutdown`]. Its stderr goes to the log, never to the model. The protocol itself is rmcp's,
//! the official SDK.

pub mod schema;

use crate::lock;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a server is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A process speaking MCP on stdin/stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
    },
    /// Streamable HTTP.
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// One configured server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    /// Where it was configured (a file, or `settings`).
    pub source: String,
    /// Configured by the workspace (its `.openbolt/mcp.json`), not by the user: a cloned repository
    /// must not run a program unasked, so it starts only once the user agrees.
    pub from_workspace: bool,
}

/// The servers of a workspace and what was wrong with the configuration (one message per problem,
/// naming the server or the file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpConfig {
    pub servers: Vec<ServerConfig>,
    pub errors: Vec<String>,
}

const KEYS: &[&str] = &[
    "command", "args", "env", "cwd", "url", "headers", "type", "disabled",
];

/// The user's configuration directory: `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn user_config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
}

impl McpConfig {
    /// The configuration for `workspace`: the user's file (`config_dir/openbolt/mcp.json`), the
    /// workspace's (`.openbolt/mcp.json`), then the editor's `mcpServers` setting.
    pub fn load(
        workspace: &Path,
        config_dir: Option<&Path>,
        settings: Option<&Value>,
    ) -> McpConfig {
        let mut config = McpConfig::default();
        let files = config_dir
            .map(|dir| dir.join("openbolt/mcp.json"))
            .into_iter()
            .chain([workspace.join(".openbolt/mcp.json")]);
        let workspace_file = workspace.join(".openbolt/mcp.json");
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(value) => {
                        let servers = value.get("mcpServers").unwrap_or(&Value::Null);
                        let first = config.servers.len();
                        config.add(servers, &file.display().to_string());
                        if file == workspace_file {
                            for server in config.servers.iter_mut().skip(first) {
                                server.from_workspace = true;
                            }
                        }
                    }
                    Err(error) => config.errors.push(format!(
                        "MCP configuration {} is not JSON: {error}",
                        file.display()
                    )),
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => config.errors.push(format!(
                    "MCP configuration {} cannot be read: {error}",
                    file.display()
                )),
            }
        }
        if let Some(settings) = settings {
            config.add(settings, "settings (mcpServers)");
        }
        config
    }

    /// Adds the servers of one `mcpServers` object; a server of the same name is replaced.
    pub fn add(&mut self, servers: &Value, source: &str) {
        let entries = match servers {
            Value::Null => return,
            Value::Object(entries) => entries,
            other => {
                self.errors.push(format!(
                    "mcpServers in {source} must be an object of servers by name, not {other}"
                ));
                return;
            }
        };
        for (name, entry) in entries {
            self.servers.retain(|server| &server.name != name);
            match parse_server(name, entry) {
                Ok(Some(transport)) => self.servers.push(ServerConfig {
                    name: name.clone(),
                    transport,
                    source: source.to_owned(),
                    from_workspace: false,
                }),
                Ok(None) => {}
                Err(reason) => self
                    .errors
                    .push(format!("MCP server \"{name}\" ({source}): {reason}")),
            }
        }
    }
}

/// One server's entry; `None` when it is disabled.
fn parse_server(name: &str, entry: &Value) -> Result<Option<Transport>, String> {
    let Some(entry) = entry.as_object() else {
        return Err("must be an object with \"command\" or \"url\"".to_owned());
    };
    if let Some(key) = entry.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(format!(
            "unknown key \"{key}\" (known: {})",
            KEYS.join(", ")
        ));
    }
    if entry.get("disabled").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("\"{key}\" must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(format!("\"{key}\" must be a list of strings")),
        }
    };
    let map = |key: &str| -> Result<BTreeMap<String, String>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(items)) => items
                .iter()
                .map(|(name, value)| {
                    value
                        .as_str()
                        .map(|value| (name.clone(), value.to_owned()))
                        .ok_or_else(|| format!("\"{key}.{name}\" must be a string"))
                })
                .collect(),
            Some(_) => Err(format!("\"{key}\" must be an object of strings")),
        }
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if !value.trim().is_empty() => Ok(Some(value.clone())),
            Some(_) => Err(format!("\"{key}\" must be a non-empty string")),
        }
    };
    let kind = text("type")?;
    match (text("command")?, text("url")?) {
        (Some(command), None) => {
            if kind
                .as_deref()
                .is_some_and(|kind| !kind.eq_ignore_ascii_case("stdio"))
            {
                return Err(format!(
                    "\"type\" is {kind:?} but the server has a \"command\" (stdio)"
                ));
            }
            Ok(Some(Transport::Stdio {
                command,
                args: strings("args")?,
                env: map("env")?,
                cwd: text("cwd")?.map(PathBuf::from),
            }))
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("\"url\" must be an http(s) URL, not {url:?}"));
            }
            Ok(Some(Transport::Http {
                url,
                headers: map("headers")?,
            }))
        }
        (Some(_), Some(_)) => Err("has both \"command\" and \"url\": choose one".to_owned()),
        (None, None) => Err(format!(
            "needs \"command\" (a program to start) or \"url\" (a streamable HTTP server) — {name} has neither"
        )),
    }
}

/// A tool as the model is told of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolInfo {
    pub server: String,
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// A server's state, for people (`openbolt/mcpServers`, `:checkhealth`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub name: String,
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// `idle` (not started yet), `ready`, `failed`.
    pub state: &'static str,
    pub tools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub source: String,
}

/// What a tool call gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// For the model: the text content, images and resources summarized, cut with a note when long.
    pub text: String,
    /// The server said the tool failed (`isError`).
    pub is_error: bool,
}

/// How long a server may take to start and answer `initialize`, and a call to answer.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub start: Duration,
    pub call: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        let from_env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse().ok())
                .map_or(Duration::from_secs(default), Duration::from_millis)
        };
        Timeouts {
            start: from_env("OPENBOLT_MCP_START_TIMEOUT_MS", 30),
            call: from_env("OPENBOLT_MCP_CALL_TIMEOUT_MS", 120),
        }
    }
}

/// The most of one result the model is shown.
pub const MAX_RESULT_CHARS: usize = 16_000;

/// Notes `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Listener {
    stale: Arc<AtomicBool>,
}

impl rmcp::ClientHandler for Listener {
    fn on_tool_list_changed(
        &self,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.stale.store(true, Ordering::Release);
        std::future::ready(())
    }
}

struct Running {
    /// Kept for its cancellation token; requests go through `peer`.
    service: RunningService<RoleClient, Listener>,
    peer: rmcp::service::Peer<RoleClient>,
    tools: Mutex<Vec<ToolInfo>>,
    stale: Arc<AtomicBool>,
    /// The process group of a stdio server (its pid leads it).
    group: Option<i32>,
}

enum State {
    Idle,
    Starting,
    Ready(Arc<Running>),
    /// It did not start; tried again after [`RETRY_AFTER`].
    Failed {
        reason: String,
        at: std::time::Instant,
    },
}

/// Whether a workspace-configured server may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The user configured it, or agreed.
    Trusted,
    /// The workspace configured it: ask first.
    Ask,
    /// The user said no: it stays off for the life of the process.
    Refused,
}

struct Server {
    config: ServerConfig,
    state: State,
    trust: Trust,
}

/// How long a server that failed to start waits before the next turn tries again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// A workspace's MCP servers. Cheap to clone: clones share the servers. No lock is held while a
/// server starts or a call runs.
#[derive(Clone)]
pub struct Mcp {
    servers: Arc<Mutex<Vec<Server>>>,
    /// Process groups of stdio servers, from the moment they are spawned: a shutdown that cannot wait
    /// kills them all.
    groups: Arc<Mutex<Vec<i32>>>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Mcp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Mcp")
    }
}

fn server_from(config: &ServerConfig) -> Server {
    Server {
        config: config.clone(),
        state: State::Idle,
        trust: if config.from_workspace {
            Trust::Ask
        } else {
            Trust::Trusted
        },
    }
}

impl Mcp {
    pub fn new(config: &McpConfig, timeouts: Timeouts) -> Mcp {
        Mcp {
            servers: Arc::new(Mutex::new(config.servers.iter().map(server_from).collect())),
            groups: Arc::default(),
            timeouts,
        }
    }

    /// Takes a new configuration: servers whose entry changed or went away stop; new ones start when
    /// next needed.
    pub fn reconfigure(&self, config: &McpConfig) {
        let mut servers = lock(&self.servers);
        let mut kept = Vec::new();
        for server in servers.drain(..) {
            if config.servers.contains(&server.config) {
                kept.push(server);
            } else {
                self.stop(server);
            }
        }
        for wanted in &config.servers {
            if !kept.iter().any(|server| &server.config == wanted) {
                kept.push(server_from(wanted));
            }
        }
        *servers = kept;
    }

    /// Whether any server is configured.
    pub fn is_empty(&self) -> bool {
        lock(&self.servers).is_empty()
    }

    /// Workspace-configured servers not yet agreed to (name, what would run), for the question.
    pub fn unapproved(&self) -> Vec<(String, String)> {
        lock(&self.servers)
            .iter()
            .filter(|server| server.trust == Trust::Ask)
            .map(|server| {
                (
                    server.config.name.clone(),
                    describe_transport(&server.config.transport),
                )
            })
            .collect()
    }

    /// The user's answer about starting `name`.
    pub fn set_trust(&self, name: &str, trust: Trust) {
        if let Some(server) = lock(&self.servers)
            .iter_mut()
            .find(|server| server.config.name == name)
        {
            server.trust = trust;
        }
    }

    /// Every ready server's tools, starting (in parallel) the trusted servers that have not started
    /// yet and those whose failure is older than [`RETRY_AFTER`]. A server that fails is reported in
    /// `failures` (its name and why) and left out. The starting runs in its own task: a caller that
    /// stops waiting leaves it to finish.
    pub async fn tools(&self) -> (Vec<ToolInfo>, Vec<String>) {
        let to_start: Vec<ServerConfig> = {
            let mut servers = lock(&self.servers);
            servers
                .iter_mut()
                .filter(|server| server.trust == Trust::Trusted)
                .filter(|server| match &server.state {
                    State::Idle => true,
                    State::Failed { at, .. } => at.elapsed() >= RETRY_AFTER,
                    State::Starting | State::Ready(_) => false,
                })
                .map(|server| {
                    server.state = State::Starting;
                    server.config.clone()
                })
                .collect()
        };
        let mut failures = Vec::new();
        if !to_start.is_empty() {
            let mcp = self.clone();
            let started = tokio::spawn(async move {
                let results = futures::future::join_all(
                    to_start
                        .iter()
                        .map(|config| start(config, mcp.timeouts, &mcp.groups)),
                )
                .await;
                mcp.settle(&to_start, results)
            });
            failures = started.await.unwrap_or_default();
        }
        let ready: Vec<(String, Arc<Running>)> = lock(&self.servers)
            .iter()
            .filter_map(|server| match &server.state {
                State::Ready(running) => Some((server.config.name.clone(), Arc::clone(running))),
                _ => None,
            })
            .collect();
        let mut tools = Vec::new();
        for (name, running) in ready {
            if running.stale.swap(false, Ordering::AcqRel) {
                match list_tools(&name, &running.peer, self.timeouts).await {
                    Ok(fresh) => *lock(&running.tools) = fresh,
                    Err(reason) => {
                        tracing::warn!(server = %name, "the tool list could not be refreshed: {reason}");
                    }
                }
            }
            tools.extend(lock(&running.tools).iter().cloned());
        }
        (tools, failures)
    }

    /// Records how the starts went; returns the failures, for people.
    fn settle(
        &self,
        configs: &[ServerConfig],
        results: Vec<Result<Running, String>>,
    ) -> Vec<String> {
        let mut failures = Vec::new();
        let mut servers = lock(&self.servers);
        for (config, result) in configs.iter().zip(results) {
            let server = servers
                .iter_mut()
                .find(|server| &server.config == config && matches!(server.state, State::Starting));
            match (server, result) {
                (Some(server), Ok(running)) => {
                    tracing::info!(server = %config.name, tools = lock(&running.tools).len(), "MCP server ready");
                    server.state = State::Ready(Arc::new(running));
                }
                (Some(server), Err(reason)) => {
                    let message = format!("MCP server \"{}\" did not start: {reason}", config.name);
                    tracing::warn!("{message}");
                    failures.push(message.clone());
                    server.state = State::Failed {
                        reason: message,
                        at: std::time::Instant::now(),
                    };
                }
                // Reconfigured away while it started.
                (None, Ok(running)) => self.stop_running(&running),
                (None, Err(_)) => {}
            }
        }
        failures
    }

    /// The tool `name` of `server`, if that server is ready and has it.
    pub async fn tool(&self, server: &str, name: &str) -> Result<ToolInfo, String> {
        let (tools, _) = self.tools().await;
        if let Some(tool) = tools
            .iter()
            .find(|tool| tool.server == server && tool.name == name)
        {
            return Ok(tool.clone());
        }
        let servers = lock(&self.servers);
        match servers
            .iter()
            .find(|candidate| candidate.config.name == server)
        {
            None => Err(format!(
                "there is no MCP server \"{server}\" (configured: {})",
                servers
                    .iter()
                    .map(|server| server.config.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(found) if found.trust == Trust::Refused => Err(format!(
                "the MCP server \"{server}\" was not allowed to start"
            )),
            Some(Server {
                state: State::Failed { reason, .. },
                ..
            }) => Err(reason.clone()),
            Some(Server {
                state: State::Starting,
                ..
            }) => Err(format!("the MCP server \"{server}\" is still starting")),
            Some(_) => Err(format!(
                "the MCP server \"{server}\" has no tool \"{name}\" (it has: {})",
                tools
                    .iter()
                    .filter(|tool| tool.server == server)
                    .map(|tool| tool.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Calls a tool. The arguments must already fit its schema. Calls may run at once, also to one
    /// server.
    pub async fn call(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<CallResult, String> {
        let running = {
            let servers = lock(&self.servers);
            match servers
                .iter()
                .find(|candidate| candidate.config.name == server)
            {
                Some(Server {
                    state: State::Ready(running),
                    ..
                }) => Arc::clone(running),
                _ => return Err(format!("the MCP server \"{server}\" is not running")),
            }
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let result = tokio::time::timeout(self.timeouts.call, running.peer.call_tool(params))
            .await
            .map_err(|_| {
                format!(
                    "the MCP server \"{server}\" did not answer within {} s",
                    self.timeouts.call.as_secs()
                )
            })?;
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                if running.peer.is_transport_closed() {
                    // It went away (crashed, or was stopped): started again when next needed.
                    self.forget(server, &running);
                    return Err(format!(
                        "the MCP server \"{server}\" stopped during the call ({error}); it starts again with the next call"
                    ));
                }
                return Err(format!(
                    "the MCP server \"{server}\" failed the call: {error}"
                ));
            }
        };
        let value = serde_json::to_value(&result).unwrap_or(Value::Null);
        Ok(CallResult {
            text: result_text(&value),
            is_error: value.get("isError").and_then(Value::as_bool) == Some(true),
        })
    }

    /// Marks a server that went away as not started (only if it is still the instance that failed),
    /// its process group killed.
    fn forget(&self, name: &str, failed: &Arc<Running>) {
        let mut servers = lock(&self.servers);
        if let Some(server) = servers.iter_mut().find(|server| server.config.name == name)
            && matches!(&server.state, State::Ready(running) if Arc::ptr_eq(running, failed))
        {
            server.state = State::Idle;
        }
        drop(servers);
        self.stop_running(failed);
    }

    /// What each server is doing, for people.
    pub fn status(&self) -> Vec<ServerStatus> {
        lock(&self.servers)
            .iter()
            .map(|server| {
                let (state, tools, error) = match (&server.state, server.trust) {
                    (_, Trust::Refused) => (
                        "failed",
                        Vec::new(),
                        Some(format!(
                            "the MCP server \"{}\" was not allowed to start",
                            server.config.name
                        )),
                    ),
                    (State::Idle, _) => ("idle", Vec::new(), None),
                    (State::Starting, _) => ("starting", Vec::new(), None),
                    (State::Failed { reason, .. }, _) => {
                        ("failed", Vec::new(), Some(reason.clone()))
                    }
                    (State::Ready(running), _) => (
                        "ready",
                        lock(&running.tools)
                            .iter()
                            .map(|tool| tool.name.clone())
                            .collect(),
                        None,
                    ),
                };
                ServerStatus {
                    name: server.config.name.clone(),
                    transport: match server.config.transport {
                        Transport::Stdio { .. } => "stdio",
                        Transport::Http { .. } => "http",
                    },
                    state,
                    tools,
                    error,
                    source: server.config.source.clone(),
                }
            })
            .collect()
    }

    /// Stops every server: each stdio server's whole process group killed at once, the protocol
    /// closed.
    pub fn shutdown(&self) {
        self.kill_now();
        let servers: Vec<Server> = lock(&self.servers).drain(..).collect();
        for server in servers {
            self.stop(server);
        }
    }

    /// Kills every stdio server's process tree, started or starting (for an exit that cannot wait).
    pub fn kill_now(&self) {
        let groups: Vec<i32> = lock(&self.groups).drain(..).collect();
        crate::terminal::process::kill_now(&groups);
    }

    fn stop(&self, server: Server) {
        if let State::Ready(running) = server.state {
            self.stop_running(&running);
        }
    }

    fn stop_running(&self, running: &Running) {
        running.service.cancellation_token().cancel();
        if let Some(group) = running.group {
            kill_group(group);
            lock(&self.groups).retain(|known| *known != group);
        }
    }
}

/// Stops a stdio server's process tree at once, as the terminals stop theirs (the group, and what left it).
fn kill_group(group: i32) {
    crate::terminal::process::kill_now(&[group]);
}

/// What a server runs, for the question asking to start it.
fn describe_transport(transport: &Transport) -> String {
    match transport {
        Transport::Stdio { command, args, .. } => std::iter::once(command.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        Transport::Http { url, .. } => url.clone(),
    }
}

/// A server's connection and `initialize`, under way.
type Connecting<'a> =
    futures::future::BoxFuture<'a, Result<RunningService<RoleClient, Listener>, String>>;

/// Starts and initializes one server and lists its tools, within the start timeout. A stdio server's
/// process group is known to `groups` from its spawn, and killed on every way this fails.
async fn start(
    config: &ServerConfig,
    timeouts: Timeouts,
    groups: &Mutex<Vec<i32>>,
) -> Result<Running, String> {
    let listener = Listener::default();
    let stale = Arc::clone(&listener.stale);
    let (connecting, group): (Connecting<'_>, Option<i32>) = match &config.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let mut process = tokio::process::Command::new(command);
            for name in crate::secrets::KEY_VARIABLES {
                process.env_remove(name);
            }
            process
                .args(args)
                .envs(env)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                // Its own process group: stopping it stops everything it started.
                .process_group(0);
            if let Some(cwd) = cwd {
                process.current_dir(cwd);
            }
            let mut child = process
                .spawn()
                .map_err(|error| format!("cannot run {command:?}: {error}"))?;
            let group = child.id().and_then(|pid| i32::try_from(pid).ok());
            if let Some(group) = group {
                lock(groups).push(group);
            }
            if let Some(stderr) = child.stderr.take() {
                let name = config.name.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncBufReadExt;
                    let mut lines = tokio::io::BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        tracing::info!(server = %name, "MCP stderr: {line}");
                    }
                });
            }
            let pipes = (child.stdout.take(), child.stdin.take());
            // Reaped when it exits; killed (with its group) when it is stopped.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            let (Some(stdout), Some(stdin)) = pipes else {
                if let Some(group) = group {
                    kill_group(group);
                }
                return Err("its stdin or stdout is not available".to_owned());
            };
            (
                Box::pin(async move {
                    listener
                        .serve((stdout, stdin))
                        .await
                        .map_err(|error| format!("initialize failed: {error}"))
                }),
                group,
            )
        }
        Transport::Http { url, headers } => {
            use rmcp::transport::StreamableHttpClientTransport;
            use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
            let mut custom = std::collections::HashMap::new();
            for (name, value) in headers {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("the header name {name:?} is not valid"))?;
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|_| format!("the value of the header {name} is not valid"))?;
                custom.insert(name, value);
            }
            let transport = StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom),
            );
            (
                Box::pin(async move {
                    listener
                        .serve(transport)
                        .await
                        .map_err(|error| format!("initialize failed: {error}"))
                }),
                None,
            )
        }
    };
    let fail = |reason: String| {
        if let Some(group) = group {
            kill_group(group);
            lock(groups).retain(|known| *known != group);
        }
        Err(reason)
    };
    let service = match tokio::time::timeout(timeouts.start, connecting).await {
        Ok(Ok(service)) => service,
        Ok(Err(reason)) => return fail(reason),
        Err(_) => {
            return fail(format!(
                "no answer to initialize within {} s",
                timeouts.start.as_secs_f32()
            ));
        }
    };
    let peer = service.peer().clone();
    match list_tools(&config.name, &peer, timeouts).await {
        Ok(tools) => Ok(Running {
            service,
            peer,
            tools: Mutex::new(tools),
            stale,
            group,
        }),
        Err(reason) => {
            service.cancellation_token().cancel();
            fail(reason)
        }
    }
}

async fn list_tools(
    server: &str,
    peer: &rmcp::service::Peer<RoleClient>,
    timeouts: Timeouts,
) -> Result<Vec<ToolInfo>, String> {
    let tools = tokio::time::timeout(timeouts.start, peer.list_all_tools())
        .await
        .map_err(|_| "no answer to tools/list".to_owned())?
        .map_err(|error| format!("tools/list failed: {error}"))?;
    Ok(tools
        .into_iter()
        .map(|tool| ToolInfo {
            server: server.to_owned(),
            name: tool.name.to_string(),
            description: tool
                .description
                .map(|text| text.to_string())
                .unwrap_or_default(),
            input_schema: Value::Object((*tool.input_schema).clone()),
        })
        .collect())
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configuration_in_the_usual_shape_and_its_mistakes_by_name() {
        let mut config = McpConfig::default();
        config.add(
            &json!({
                "docs": {"command": "npx", "args": ["-y", "docs-server"], "env": {"TOKEN": "x"}},
                "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer t"}},
                "off": {"command": "x", "disabled": true},
                "typo": {"comand": "x"},
                "neither": {"args": []},
                "both": {"command": "x", "url": "http://a"},
                "bad-args": {"command": "x", "args": "one"}
            }),
            "test",
        );
        let names: Vec<&str> = config
            .servers
            .iter()
            .map(|server| server.name.as_str())
            .collect();
        assert_eq!(names, ["docs", "remote"]);
        assert_eq!(
            config.servers[0].transport,
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "docs-server".into()],
                env: [("TOKEN".to_owned(), "x".to_owned())].into(),
                cwd: None
            }
        );
        assert_eq!(config.errors.len(), 4, "{:?}", config.errors);
        assert!(config.errors.iter().any(|error| error.contains("\"typo\"") && error.contains("unknown key \"comand\"")));
        assert!(
            config
                .errors
                .iter()
                .any(|error| error.contains("\"neither\"") && error.contains("needs \"command\""))
        );
        assert!(config.errors.iter().any(|error| error.contains("\"both\"")));
        assert!(
            config
                .errors
                .iter()
                .any(|error| error.contains("\"bad-args\"") && error.contains("list of strings"))
        );
    }

    #[test]
    fn later_sources_replace_a_server_by_name_and_bad_files_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let workspace = dir.path().join("project");
        std::fs::create_dir_all(workspace.join(".openbolt")).expect("dirs");
        std::fs::create_dir_all(dir.path().join("config/openbolt")).expect("dirs");
        std::fs::write(
            dir.path().join("config/openbolt/mcp.json"),
            r#"{"mcpServers": {"a": {"command": "user-a"}, "b": {"command": "user-b"}}}"#,
        )
        .expect("user file");
        std::fs::write(
            workspace.join(".openbolt/mcp.json"),
            r#"{"mcpServers": {"a": {"command": "workspace-a"}}}"#,
        )
        .expect("workspace file");
        let settings = json!({"b": {"url": "http://localhost:1/mcp"}});
        let config = McpConfig::load(
            &workspace,
            Some(&dir.path().join("config")),
            Some(&settings),
        );
        assert!(config.errors.is_empty(), "{:?}", config.errors);
        let a = config
            .servers
            .iter()
            .find(|server| server.name == "a")
            .expect("a");
        assert!(
            matches!(&a.transport, Transport::Stdio { command, .. } if command == "workspace-a")
        );
        let b = config
            .servers
            .iter()
            .find(|server| server.name == "b")
            .expect("b");
        assert!(matches!(&b.transport, Transport::Http { .. }));
        std::fs::write(workspace.join(".openbolt/mcp.json"), "{ not json").expect("bad");
        let config = McpConfig::load(&workspace, None, None);
        assert_eq!(config.errors.len(), 1);
        assert!(
            config.errors[0].contains(".openbolt/mcp.json is not JSON"),
            "{:?}",
            config.errors
        );
    }

    #[test]
    fn results_are_text_with_the_rest_summarized_and_long_ones_cut() {
        let result = json!({"content": [
            {"type": "text", "text": "Echo: hi"},
            {"type": "image", "mimeType": "image/png", "data": "AAAA"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "A"}}
        ]});
        assert_eq!(
            result_text(&result),
            "Echo: hi\n[image: image/png, 4 bytes of base64]\n[resource file:///a.txt]\nA"
        );
        let long =
            json!({"content": [{"type": "text", "text": "x".repeat(MAX_RESULT_CHARS + 10)}]});
        let text = result_text(&long);
        assert!(text.ends_with(&format!(
            "[… cut: the result has {} characters; the first {MAX_RESULT_CHARS} are shown]",
            MAX_RESULT_CHARS + 10
        )));
        assert_eq!(
            result_text(&json!({"content": [], "structuredContent": {"n": 1}})),
            "{\"n\":1}"
        );
    }
}
