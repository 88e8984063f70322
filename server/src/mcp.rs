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

mod config;
mod connect;
mod result;
pub mod schema;

pub use config::{McpConfig, ServerConfig, Transport};
use connect::{Running, describe_transport, kill_group, list_tools, start};
pub use result::{MAX_RESULT_CHARS, result_text};

use crate::lock;
use rmcp::model::CallToolRequestParams;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Where a server is in its life.
enum Life {
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
    state: Life,
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
        state: Life::Idle,
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
                    Life::Idle => true,
                    Life::Failed { at, .. } => at.elapsed() >= RETRY_AFTER,
                    Life::Starting | Life::Ready(_) => false,
                })
                .map(|server| {
                    server.state = Life::Starting;
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
                Life::Ready(running) => Some((server.config.name.clone(), Arc::clone(running))),
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
                .find(|server| &server.config == config && matches!(server.state, Life::Starting));
            match (server, result) {
                (Some(server), Ok(running)) => {
                    tracing::info!(server = %config.name, tools = lock(&running.tools).len(), "MCP server ready");
                    server.state = Life::Ready(Arc::new(running));
                }
                (Some(server), Err(reason)) => {
                    let message = format!("MCP server \"{}\" did not start: {reason}", config.name);
                    tracing::warn!("{message}");
                    failures.push(message.clone());
                    server.state = Life::Failed {
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
                state: Life::Failed { reason, .. },
                ..
            }) => Err(reason.clone()),
            Some(Server {
                state: Life::Starting,
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
                    state: Life::Ready(running),
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
            && matches!(&server.state, Life::Ready(running) if Arc::ptr_eq(running, failed))
        {
            server.state = Life::Idle;
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
                    (Life::Idle, _) => ("idle", Vec::new(), None),
                    (Life::Starting, _) => ("starting", Vec::new(), None),
                    (Life::Failed { reason, .. }, _) => {
                        ("failed", Vec::new(), Some(reason.clone()))
                    }
                    (Life::Ready(running), _) => (
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
        if let Life::Ready(running) = server.state {
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

#[cfg(test)]
mod tests;
