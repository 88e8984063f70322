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
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(value) => {
                        let servers = value.get("mcpServers").unwrap_or(&Value::Null);
                        config.add(servers, &file.display().to_string());
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
    service: RunningService<RoleClient, Listener>,
    tools: Vec<ToolInfo>,
    stale: Arc<AtomicBool>,
    /// The process group of a stdio server (its pid leads it).
    group: Option<i32>,
}

enum State {
    Idle,
    Ready(Arc<tokio::sync::Mutex<Running>>),
    Failed(String),
}

struct Server {
    config: ServerConfig,
    state: State,
}

/// A workspace's MCP servers. Cheap to clone: clones share the servers.
#[derive(Clone)]
pub struct Mcp {
    servers: Arc<tokio::sync::Mutex<Vec<Server>>>,
    /// Process groups of running stdio servers, for a shutdown that cannot wait.
    groups: Arc<Mutex<Vec<i32>>>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Mcp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Mcp")
    }
}

impl Mcp {
    pub fn new(config: &McpConfig, timeouts: Timeouts) -> Mcp {
        Mcp {
            servers: Arc::new(tokio::sync::Mutex::new(
                config
                    .servers
                    .iter()
                    .map(|server| Server {
                        config: server.clone(),
                        state: State::Idle,
                    })
                    .collect(),
            )),
            groups: Arc::default(),
            timeouts,
        }
    }

    /// Takes a new configuration: servers whose entry changed or went away stop; new ones start when
    /// next needed.
    pub async fn reconfigure(&self, config: &McpConfig) {
        let mut servers = self.servers.lock().await;
        let mut kept = Vec::new();
        for server in servers.drain(..) {
            if config.servers.contains(&server.config) {
                kept.push(server);
            } else {
                self.stop(server).await;
            }
        }
        for wanted in &config.servers {
            if !kept.iter().any(|server| &server.config == wanted) {
                kept.push(Server {
                    config: wanted.clone(),
                    state: State::Idle,
                });
            }
        }
        *servers = kept;
    }

    /// Whether any server is configured.
    pub async fn is_empty(&self) -> bool {
        self.servers.lock().await.is_empty()
    }

    /// Every ready server's tools, starting the servers that have not started yet (in parallel). A
    /// server that fails is reported once in `failures` (its name and why) and left out.
    pub async fn tools(&self) -> (Vec<ToolInfo>, Vec<String>) {
        let mut servers = self.servers.lock().await;
        let starting: Vec<_> = servers
            .iter()
            .enumerate()
            .filter(|(_, server)| matches!(server.state, State::Idle))
            .map(|(index, server)| {
                let config = server.config.clone();
                let timeouts = self.timeouts;
                async move { (index, start(&config, timeouts).await) }
            })
            .collect();
        let mut failures = Vec::new();
        for (index, started) in futures::future::join_all(starting).await {
            let server = &mut servers[index];
            server.state = match started {
                Ok(running) => {
                    if let Some(group) = running.group {
                        lock(&self.groups).push(group);
                    }
                    tracing::info!(server = %server.config.name, tools = running.tools.len(), "MCP server ready");
                    State::Ready(Arc::new(tokio::sync::Mutex::new(running)))
                }
                Err(reason) => {
                    let message = format!(
                        "MCP server \"{}\" did not start: {reason}",
                        server.config.name
                    );
                    tracing::warn!("{message}");
                    failures.push(message.clone());
                    State::Failed(message)
                }
            };
        }
        let mut tools = Vec::new();
        for server in servers.iter_mut() {
            let State::Ready(running) = &server.state else {
                continue;
            };
            let running = Arc::clone(running);
            let mut running = running.lock().await;
            if running.stale.swap(false, Ordering::AcqRel) {
                match list_tools(&server.config.name, &running.service, self.timeouts).await {
                    Ok(fresh) => running.tools = fresh,
                    Err(reason) => {
                        tracing::warn!(server = %server.config.name, "the tool list could not be refreshed: {reason}")
                    }
                }
            }
            tools.extend(running.tools.iter().cloned());
        }
        (tools, failures)
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
        let servers = self.servers.lock().await;
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
            Some(Server {
                state: State::Failed(reason),
                ..
            }) => Err(reason.clone()),
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

    /// Calls a tool. The arguments must already fit its schema.
    pub async fn call(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<CallResult, String> {
        let running = {
            let servers = self.servers.lock().await;
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
        let running = running.lock().await;
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let result = tokio::time::timeout(self.timeouts.call, running.service.call_tool(params))
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
                let closed = running.service.is_transport_closed();
                drop(running);
                if closed {
                    // It went away (crashed, or was stopped): started again when next needed.
                    self.forget(server).await;
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

    /// Marks a server that went away as not started, its process group killed.
    async fn forget(&self, name: &str) {
        let mut servers = self.servers.lock().await;
        if let Some(server) = servers.iter_mut().find(|server| server.config.name == name) {
            let stopped = std::mem::replace(&mut server.state, State::Idle);
            let config = server.config.clone();
            drop(servers);
            self.stop(Server {
                config,
                state: stopped,
            })
            .await;
        }
    }

    /// What each server is doing, for people.
    pub async fn status(&self) -> Vec<ServerStatus> {
        let servers = self.servers.lock().await;
        let mut out = Vec::new();
        for server in servers.iter() {
            let (state, tools, error) = match &server.state {
                State::Idle => ("idle", Vec::new(), None),
                State::Failed(reason) => ("failed", Vec::new(), Some(reason.clone())),
                State::Ready(running) => {
                    let running = running.lock().await;
                    let names = running.tools.iter().map(|tool| tool.name.clone()).collect();
                    ("ready", names, None)
                }
            };
            out.push(ServerStatus {
                name: server.config.name.clone(),
                transport: match server.config.transport {
                    Transport::Stdio { .. } => "stdio",
                    Transport::Http { .. } => "http",
                },
                state,
                tools,
                error,
                source: server.config.source.clone(),
            });
        }
        out
    }

    /// Stops every server: the protocol closed, then each stdio server's whole process group killed.
    pub async fn shutdown(&self) {
        let mut servers = self.servers.lock().await;
        for server in servers.drain(..) {
            self.stop(server).await;
        }
        self.kill_now();
    }

    /// Kills every stdio server's process group at once (for an exit that cannot wait).
    pub fn kill_now(&self) {
        for group in lock(&self.groups).drain(..) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    async fn stop(&self, server: Server) {
        if let State::Ready(running) = server.state {
            let running = running.lock().await;
            running.service.cancellation_token().cancel();
            if let Some(group) = running.group {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(group),
                    nix::sys::signal::Signal::SIGKILL,
                );
                lock(&self.groups).retain(|known| *known != group);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts and initializes one server and lists its tools, within the start timeout.
async fn start(config: &ServerConfig, timeouts: Timeouts) -> Result<Running, String> {
    let listener = Listener::default();
    let stale = Arc::clone(&listener.stale);
    let started = async {
        match &config.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut process = tokio::process::Command::new(command);
                process
                    .args(args)
                    .envs(env)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    // Its own process group: stopping it stops everything it started.
                    .process_group(0)
                    .kill_on_drop(true);
                if let Some(cwd) = cwd {
                    process.current_dir(cwd);
                }
                let mut child = process
                    .spawn()
                    .map_err(|error| format!("cannot run {command:?}: {error}"))?;
                let group = child.id().and_then(|pid| i32::try_from(pid).ok());
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
                let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                    return Err("its stdin or stdout is not available".to_owned());
                };
                // The child is reaped when it exits; the group is killed at shutdown.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                let service = listener
                    .serve((stdout, stdin))
                    .await
                    .map_err(|error| format!("initialize failed: {error}"))?;
                Ok((service, group))
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
                    StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .custom_headers(custom),
                );
                let service = listener
                    .serve(transport)
                    .await
                    .map_err(|error| format!("initialize failed: {error}"))?;
                Ok((service, None))
            }
        }
    };
    let (service, group) = match tokio::time::timeout(timeouts.start, started).await {
        Ok(Ok(started)) => started,
        Ok(Err(reason)) => return Err(reason),
        Err(_) => {
            return Err(format!(
                "no answer to initialize within {} s",
                timeouts.start.as_secs_f32()
            ));
        }
    };
    let kill = |group: Option<i32>| {
        if let Some(group) = group {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    };
    match list_tools(&config.name, &service, timeouts).await {
        Ok(tools) => Ok(Running {
            service,
            tools,
            stale,
            group,
        }),
        Err(reason) => {
            kill(group);
            Err(reason)
        }
    }
}

async fn list_tools(
    server: &str,
    service: &RunningService<RoleClient, Listener>,
    timeouts: Timeouts,
) -> Result<Vec<ToolInfo>, String> {
    let tools = tokio::time::timeout(timeouts.start, service.list_all_tools())
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

/// The tools as the system prompt lists them: one line each, `server` · `tool`, its description's
/// first sentence, its arguments compactly — within `budget` tokens (the rest are named only).
pub fn describe_tools(tools: &[ToolInfo], budget: usize) -> String {
    if tools.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "MCP tools you may call (the user approves each call). Call one with\n<boltAction type=\"tool\" server=\"SERVER\" tool=\"TOOL\">{\"argument\": \"value\"}</boltAction>\n(inside an artifact; the content is the JSON arguments). The results come back in this turn; then go on.\n",
    );
    let mut left_out = Vec::new();
    for tool in tools {
        let description = tool
            .description
            .split_terminator(['\n'])
            .next()
            .unwrap_or_default();
        let line = format!(
            "- server=\"{}\" tool=\"{}\": {} Arguments: {}\n",
            tool.server,
            tool.name,
            description.trim(),
            compact_schema(&tool.input_schema)
        );
        // Descriptions take up to 85% of the budget: the names of the rest get what is left.
        if !left_out.is_empty()
            || crate::tokens::estimate(&out) + crate::tokens::estimate(&line) > budget * 85 / 100
        {
            left_out.push(format!("{}/{}", tool.server, tool.name));
        } else {
            out.push_str(&line);
        }
    }
    if !left_out.is_empty() {
        // Their names, as far as the budget goes.
        let mut named = String::from("More tools (no room to describe them):");
        let mut more = 0;
        for name in &left_out {
            let entry = format!(" {name},");
            if more == 0
                && crate::tokens::estimate(&out)
                    + crate::tokens::estimate(&named)
                    + crate::tokens::estimate(&entry)
                    + 8
                    <= budget
            {
                named.push_str(&entry);
            } else {
                more += 1;
            }
        }
        let mut named = named.trim_end_matches(',').to_owned();
        if more > 0 {
            named.push_str(&format!(" and {more} more"));
        }
        out.push_str(&named);
        out.push('\n');
    }
    out
}

/// `{message: string (required), times?: integer}` for an object schema.
fn compact_schema(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return "none".to_owned();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let fields: Vec<String> = properties
        .iter()
        .map(|(name, property)| {
            let kind = match property.get("type") {
                Some(Value::String(kind)) => kind.clone(),
                Some(Value::Array(kinds)) => kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                _ if property.get("enum").is_some() => property["enum"].to_string(),
                _ => "any".to_owned(),
            };
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            format!("{name}{optional}: {kind}")
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
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

    #[test]
    fn tools_are_listed_compactly_within_their_budget() {
        let tool = |name: &str| ToolInfo {
            server: "everything".into(),
            name: name.into(),
            description: "Echoes back the input.\nMore detail.".into(),
            input_schema: json!({"type": "object", "properties": {"message": {"type": "string"}, "n": {"type": "integer"}}, "required": ["message"]}),
        };
        let listed = describe_tools(&[tool("echo")], 1_000);
        assert!(listed.contains("- server=\"everything\" tool=\"echo\": Echoes back the input. Arguments: {message: string, n?: integer}"), "{listed}");
        let many: Vec<ToolInfo> = (0..200).map(|index| tool(&format!("t{index}"))).collect();
        let listed = describe_tools(&many, 500);
        assert!(
            crate::tokens::estimate(&listed) <= 510,
            "{}",
            crate::tokens::estimate(&listed)
        );
        assert!(
            listed.contains("More tools (no room to describe them): everything/t"),
            "{listed}"
        );
        assert!(listed.trim_end().ends_with(" more"), "{listed}");
    }
}
