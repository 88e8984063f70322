//! MCP configuration: the servers of the user's `~/.config/openbolt/mcp.json`, the workspace's
//! `.openbolt/mcp.json` and the editor's `mcpServers` setting, by name, each entry checked on its own.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

impl McpConfig {
    /// The secrets the servers are configured with: env values and headers under a secret-looking name,
    /// URLs' passwords.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for server in &self.servers {
            let pairs = match &server.transport {
                Transport::Stdio { env, .. } => env,
                Transport::Http { headers, .. } => headers,
            };
            for (name, value) in pairs {
                secrets.extend(crate::secrets::values::secret_named(name, value));
            }
            if let Transport::Http { url, .. } = &server.transport {
                secrets.extend(crate::secrets::values::secret_named("url", url));
            }
        }
        secrets
    }

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
