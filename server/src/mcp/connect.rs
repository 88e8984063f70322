//! Reaching a server: its process (its own process group, stderr to the log, never the provider keys)
//! or its streamable HTTP endpoint, `initialize`, and its tool list — within the start timeout.

use super::config::{ServerConfig, Transport};
use super::{Timeouts, ToolInfo};
use crate::lock;
use rmcp::ServiceExt;
use rmcp::service::{RoleClient, RunningService};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Notes `notifications/tools/list_changed`.
#[derive(Clone, Default)]
pub(super) struct Listener {
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

pub(super) struct Running {
    /// Kept for its cancellation token; requests go through `peer`.
    pub(super) service: RunningService<RoleClient, Listener>,
    pub(super) peer: rmcp::service::Peer<RoleClient>,
    pub(super) tools: Mutex<Vec<ToolInfo>>,
    pub(super) stale: Arc<AtomicBool>,
    /// The process group of a stdio server (its pid leads it).
    pub(super) group: Option<i32>,
}

/// Stops a stdio server's process tree at once, as the terminals stop theirs (the group, and what left it).
pub(super) fn kill_group(group: i32) {
    crate::terminal::process::kill_now(&[group]);
}

/// What a server runs, for the question asking to start it.
pub(super) fn describe_transport(transport: &Transport) -> String {
    match transport {
        Transport::Stdio { command, args, .. } => std::iter::once(command.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        Transport::Http { url, .. } => url.clone(),
    }
}

/// A server's connection and `initialize`, under way.
pub(super) type Connecting<'a> =
    futures::future::BoxFuture<'a, Result<RunningService<RoleClient, Listener>, String>>;

/// Starts and initializes one server and lists its tools, within the start timeout. A stdio server's
/// process group is known to `groups` from its spawn, and killed on every way this fails.
pub(super) async fn start(
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
                        let line = crate::secrets::redact(&line);
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

pub(super) async fn list_tools(
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
