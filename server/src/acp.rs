//! `openbolt acp`: the Agent Client Protocol front end (newline-delimited JSON-RPC on stdin/stdout), for
//! the editors that speak it — Zed, JetBrains, Emacs's agent-shell, Neovim's CodeCompanion and avante. It
//! runs the same conversation driver (`conversation`) and the same settings (`options`) as `openbolt
//! chat` and `openbolt lsp`; only presentation is here: `session/update`s for a turn's events
//! ([`updates`]), `session/request_permission` for approvals, `session/cancel` for Stop.
//!
//! Spoken with the official SDK, `agent-client-protocol` 5.2.0 (pinned), protocol version 1. Files are
//! written by OpenBolt (atomic, never over unseen code, revertible), never through the client's
//! `fs/write_text_file`; commands run in OpenBolt's sandboxed terminals, never the client's
//! `terminal/create`. One workspace per process: the first `session/new`'s `cwd`.

pub mod updates;

use crate::actions::approval::{Approval, ApprovalRequest, Approver, Subject};
use crate::actions::{DiskWriter, FileWriter};
use crate::conversation::{Conversations, FixRound, FrontEnd, Sink, fixes};
use crate::engine::context::EditorContext;
use crate::engine::{Engine, TurnStatus};
use crate::lock;
use crate::options::{Effective, Options};
use crate::project::ProjectMap;
use crate::store::{Store, default_data_dir};
use crate::terminal::{TerminalEvent, TerminalOptions, Terminals};
use crate::types::TurnEvent;
use acp::v1::schema::{
    CancelNotification, ContentBlock, InitializeRequest, InitializeResponse, McpServer,
    NewSessionRequest, NewSessionResponse, PromptRequest, PromptResponse, RequestPermissionOutcome,
    RequestPermissionRequest, SessionNotification, StopReason,
};
use acp::v1::{ConnectionTo, Responder};
use agent_client_protocol as acp;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use updates::{ToolCalls, Written};

/// What each write did, by file, oldest first: taken by the write's tool call when it completes (the
/// file on disk may have changed again by then).
type Writes = Arc<Mutex<HashMap<PathBuf, std::collections::VecDeque<Option<Written>>>>>;

/// The ACP protocol version spoken (through `agent-client-protocol` 5.2.0, schema 1.17).
pub const PROTOCOL_VERSION: u16 = 1;

type Connection = ConnectionTo<acp::Client>;

/// Serves ACP on stdin/stdout until the client closes its end; then every process OpenBolt started
/// ends with it.
pub async fn run() -> anyhow::Result<u8> {
    let (terminal_events, mut terminal_receiver) = mpsc::channel(256);
    let terminals = Terminals::new(TerminalOptions::default(), terminal_events);
    let host = Arc::new(Host {
        terminals: terminals.clone(),
        workspace: OnceLock::new(),
    });
    let router = tokio::spawn({
        let host = host.clone();
        async move {
            while let Some(event) = terminal_receiver.recv().await {
                host.terminal_event(event);
            }
        }
    });
    let (initialize, new_session, prompt, cancel) =
        (host.clone(), host.clone(), host.clone(), host.clone());
    let served = acp::Agent
        .v1()
        .name("openbolt")
        .on_receive_request(
            async move |request: InitializeRequest,
                        responder: Responder<InitializeResponse>,
                        _connection: Connection| {
                responder.respond(initialize.initialize(&request))
            },
            acp::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: NewSessionRequest,
                        responder: Responder<NewSessionResponse>,
                        connection: Connection| {
                match new_session.new_session(request, connection) {
                    Ok(session) => responder.respond(NewSessionResponse::new(session)),
                    Err(error) => responder.respond_with_error(error),
                }
            },
            acp::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: PromptRequest,
                        responder: Responder<PromptResponse>,
                        _connection: Connection| {
                // The turn runs outside the dispatch loop: its approvals' answers and a cancel must
                // get through while it runs.
                let host = prompt.clone();
                tokio::spawn(async move {
                    let answered = match host.prompt(request).await {
                        Ok(stop) => responder.respond(PromptResponse::new(stop)),
                        Err(error) => responder.respond_with_error(error),
                    };
                    if let Err(error) = answered {
                        tracing::warn!(%error, "the prompt's answer could not be sent");
                    }
                });
                Ok(())
            },
            acp::on_receive_request!(),
        )
        .on_receive_notification(
            async move |notification: CancelNotification, _connection: Connection| {
                cancel.cancel(&notification.session_id.0);
                Ok(())
            },
            acp::on_receive_notification!(),
        )
        .connect_to(acp::Stdio::new())
        .await;
    router.abort();
    host.shutdown().await;
    served.map_err(|error| anyhow::anyhow!("the ACP connection failed: {error}"))?;
    Ok(0)
}

/// The process: its terminals, and the workspace once a session names it.
struct Host {
    terminals: Terminals,
    workspace: OnceLock<Arc<Workspace>>,
}

/// The workspace and what its sessions share (as `openbolt chat` sets it up).
struct Workspace {
    root: PathBuf,
    conversations: Conversations,
    engine: Engine,
    effective: Effective,
    mcp: crate::mcp::Mcp,
    connection: Connection,
    /// Each session's tool calls.
    calls: Mutex<HashMap<String, ToolCalls>>,
    writes: Writes,
}

impl Host {
    fn initialize(&self, request: &InitializeRequest) -> InitializeResponse {
        tracing::info!(client = ?request.client_info, version = ?request.protocol_version, "ACP initialize");
        let response = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "agentCapabilities": {
                "loadSession": false,
                "promptCapabilities": {"image": false, "audio": false, "embeddedContext": true},
                "mcpCapabilities": {"http": true, "sse": false},
            },
            "authMethods": [],
            "agentInfo": {"name": "openbolt", "title": "OpenBolt", "version": env!("CARGO_PKG_VERSION")},
        });
        serde_json::from_value(response).unwrap_or_else(|error| {
            tracing::error!(%error, "the initialize answer does not fit the schema");
            InitializeResponse::new(request.protocol_version)
        })
    }

    /// A new session in the workspace `cwd` (the first one sets the workspace up).
    fn new_session(
        &self,
        request: NewSessionRequest,
        connection: Connection,
    ) -> Result<String, acp::Error> {
        let cwd = std::fs::canonicalize(&request.cwd).map_err(|error| {
            invalid_params(format!(
                "the cwd {} cannot be opened: {error}",
                request.cwd.display()
            ))
        })?;
        let workspace = match self.workspace.get() {
            Some(workspace) => workspace.clone(),
            None => {
                let workspace =
                    Arc::new(self.open_workspace(&cwd, &request.mcp_servers, connection)?);
                self.workspace.get_or_init(|| workspace).clone()
            }
        };
        if workspace.root != cwd {
            return Err(invalid_params(format!(
                "this agent serves the workspace {}; start another `openbolt acp` for {}",
                workspace.root.display(),
                cwd.display()
            )));
        }
        if !request.mcp_servers.is_empty() && !lock(&workspace.calls).is_empty() {
            tracing::info!(
                "MCP servers of a later session/new are the first session's (one workspace per process)"
            );
        }
        let conversation = crate::blocking(|| workspace.conversations.open(None));
        lock(&workspace.calls).insert(conversation.id.clone(), ToolCalls::default());
        Ok(conversation.id.clone())
    }

    /// The workspace at `root`, set up as `openbolt chat` sets one up; the client's MCP servers join the
    /// user's (they are the user's own).
    fn open_workspace(
        &self,
        root: &Path,
        servers: &[McpServer],
        connection: Connection,
    ) -> Result<Workspace, acp::Error> {
        let options = Options {
            mcp_servers: mcp_servers(servers),
            ..Options::default()
        };
        let effective = crate::options::effective(&options, Some(root));
        for message in &effective.messages {
            tracing::warn!(%message, "settings");
        }
        let data_dir = default_data_dir(|name| std::env::var(name).ok());
        let map = ProjectMap::start(root, Some(ProjectMap::cache_file(&data_dir, root)));
        let engine = effective
            .engine(root.to_path_buf(), Some(map))
            .map_err(|error| acp::Error::internal_error().data(error))?;
        let store = Store::open(&data_dir)
            .inspect_err(|error| tracing::warn!(%error, "the conversations are not saved"))
            .ok();
        let (sandbox, configured) = effective.sandbox();
        self.terminals.set_sandbox(sandbox);
        tracing::info!(message = %configured.message(), "sandbox");
        tracing::info!(message = %effective.page_checks_said().1, "page check");
        let mcp_config = effective.mcp_config(root);
        for error in &mcp_config.errors {
            tracing::warn!(%error, "MCP servers");
        }
        let mcp = crate::mcp::Mcp::new(&mcp_config, crate::mcp::Timeouts::default());
        let writes = Writes::default();
        let front_end = Client {
            connection: connection.clone(),
            writes: writes.clone(),
        };
        let conversations = Conversations::new(
            root.to_path_buf(),
            store,
            self.terminals.clone(),
            Box::new(front_end),
        )
        .with_mcp(mcp.clone());
        Ok(Workspace {
            root: root.to_path_buf(),
            conversations,
            engine,
            effective,
            mcp,
            connection,
            calls: Mutex::new(HashMap::new()),
            writes,
        })
    }

    /// Runs a prompt's turn (with its fix rounds) to its end.
    async fn prompt(&self, request: PromptRequest) -> Result<StopReason, acp::Error> {
        let workspace = self
            .workspace
            .get()
            .cloned()
            .ok_or_else(|| invalid_params("no session: call session/new first".to_owned()))?;
        let session = request.session_id.0.to_string();
        let conversation = workspace
            .conversations
            .find(&session)
            .ok_or_else(|| invalid_params(format!("no session {session}")))?;
        let text = prompt_text(&request.prompt, &workspace.root);
        if text.trim().is_empty() {
            return Err(invalid_params("the prompt has no text".to_owned()));
        }
        let mut state = conversation
            .lock_turn()
            .await
            .map_err(|error| invalid_params(error.to_string()))?;
        let turn_request = workspace.effective.turn(text, EditorContext::default());
        let mut sink = Updates {
            workspace: workspace.clone(),
            session: session.clone(),
            message_id: String::new(),
            pages: 0,
        };
        let turn = workspace
            .conversations
            .run_turn(
                &conversation,
                &mut state,
                &workspace.engine,
                turn_request,
                CancellationToken::new(),
                &mut sink,
            )
            .await;
        let outcome = turn.outcome;
        match outcome.status {
            TurnStatus::Complete => Ok(StopReason::EndTurn),
            TurnStatus::Aborted => Ok(StopReason::Cancelled),
            TurnStatus::Failed => {
                let error = outcome.error.unwrap_or_default();
                if error.contains("continuations") {
                    Ok(StopReason::MaxTokens)
                } else {
                    Err(acp::Error::internal_error().data(error))
                }
            }
        }
    }

    /// `session/cancel`: the session's reply and running command stop (its files stay whole).
    fn cancel(&self, session: &str) {
        if let Some(conversation) = self
            .workspace
            .get()
            .and_then(|workspace| workspace.conversations.find(session))
        {
            conversation.abort();
        }
    }

    /// A terminal's event: a command's output into its tool call, a preview into its session's prose,
    /// a dev server's end as its action's final status.
    fn terminal_event(&self, event: TerminalEvent) {
        let Some(workspace) = self.workspace.get() else {
            return;
        };
        match &event {
            TerminalEvent::Output { terminal_id, data } => {
                let plain = crate::terminal::preview::plain_text(data);
                let due = lock(&workspace.calls)
                    .iter_mut()
                    .find(|(_, calls)| calls.owns(*terminal_id))
                    .and_then(|(session, calls)| {
                        calls
                            .output(*terminal_id, &plain, Instant::now())
                            .map(|update| (session.clone(), update))
                    });
                if let Some((session, update)) = due {
                    workspace.send(&session, update);
                }
            }
            TerminalEvent::Preview(preview) => {
                let owner = self
                    .terminals
                    .list()
                    .into_iter()
                    .find(|terminal| terminal.terminal_id == preview.terminal_id)
                    .map(|terminal| terminal.owner);
                if let Some(session) = owner {
                    workspace.send(
                        &session,
                        updates::message_chunk(&format!("\n\nPreview: {}\n\n", preview.url)),
                    );
                }
            }
            TerminalEvent::Exit { .. } => {
                if let Some(server) = workspace.conversations.route(&event) {
                    let update = lock(&workspace.calls)
                        .get_mut(&server.session_id)
                        .map(|calls| {
                            calls.action(&server.message_id, &server.update, &workspace.root, None)
                        });
                    if let Some(update) = update {
                        workspace.send(&server.session_id, update);
                    }
                }
            }
        }
    }

    async fn shutdown(&self) {
        self.terminals.shutdown().await;
        if let Some(workspace) = self.workspace.get() {
            workspace.mcp.shutdown();
            if let Some(store) = workspace.conversations.store() {
                store.close();
            }
        }
        crate::browser::shared().close().await;
    }
}

impl Workspace {
    /// What the write of a completed file action did (the oldest write of its file not yet shown).
    fn written(&self, update: &crate::types::ActionUpdate) -> Option<Written> {
        if update.status != crate::types::ActionStatus::Complete
            || !crate::types::KindTraits::of(&update.kind).writes_file
        {
            return None;
        }
        let path = self.root.join(update.file_path.as_deref()?);
        lock(&self.writes).get_mut(&path)?.pop_front().flatten()
    }

    /// Sends `update` (a `sessionUpdate` object) to the client as a `session/update` of `session`.
    fn send(&self, session: &str, update: Value) {
        let notification = json!({"sessionId": session, "update": update});
        match serde_json::from_value::<SessionNotification>(notification) {
            Ok(notification) => {
                if let Err(error) = self.connection.send_notification(notification) {
                    tracing::debug!(%error, "a session update could not be sent");
                }
            }
            Err(error) => tracing::error!(%error, "a session update does not fit the schema"),
        }
    }
}

/// A turn's events as `session/update`s.
struct Updates {
    workspace: Arc<Workspace>,
    session: String,
    message_id: String,
    pages: usize,
}

impl Sink for Updates {
    fn started<'a>(
        &'a mut self,
        message_id: &'a str,
        fix: Option<&'a FixRound>,
    ) -> BoxFuture<'a, ()> {
        message_id.clone_into(&mut self.message_id);
        if let Some(fix) = fix {
            let said = format!(
                "\n\n**Fix round {} of {}**: {} problem{} sent back to the model.\n\n",
                fix.round,
                fix.rounds,
                fix.problems,
                if fix.problems == 1 { "" } else { "s" }
            );
            self.workspace
                .send(&self.session, updates::message_chunk(&said));
        }
        Box::pin(std::future::ready(()))
    }

    fn event<'a>(&'a mut self, event: &'a TurnEvent) -> BoxFuture<'a, ()> {
        let update = match event {
            TurnEvent::Text(text) => Some(updates::message_chunk(text)),
            TurnEvent::Notice(notice) => {
                Some(updates::message_chunk(&format!("\n\n> {notice}\n\n")))
            }
            TurnEvent::Action(update) => {
                let written = self.workspace.written(update);
                lock(&self.workspace.calls)
                    .get_mut(&self.session)
                    .map(|calls| {
                        calls.action(&self.message_id, update, &self.workspace.root, written)
                    })
            }
            TurnEvent::Page(check) => {
                self.pages += 1;
                lock(&self.workspace.calls)
                    .get_mut(&self.session)
                    .map(|calls| calls.page(&self.message_id, self.pages, check))
            }
        };
        if let Some(update) = update {
            self.workspace.send(&self.session, update);
        }
        Box::pin(std::future::ready(()))
    }

    fn checking<'a>(&'a mut self, check: &'a fixes::Check) -> BoxFuture<'a, ()> {
        self.workspace.send(
            &self.session,
            updates::message_chunk(&format!("\n\n_{}…_\n\n", check.describe())),
        );
        Box::pin(std::future::ready(()))
    }
}

/// The ACP client as the conversations' front end: files straight to disk (each write kept for its
/// tool call's diff), approvals asked through `session/request_permission`.
struct Client {
    connection: Connection,
    writes: Writes,
}

impl FrontEnd for Client {
    fn writer(&self) -> Box<dyn FileWriter> {
        Box::new(Diffing {
            writes: self.writes.clone(),
        })
    }

    fn approver(&self) -> Box<dyn Approver> {
        Box::new(Permissions {
            connection: self.connection.clone(),
        })
    }
}

/// How many writes of one file wait for their tool calls at most.
const KEPT_WRITES: usize = 8;

/// Writes as `openbolt chat` does ([`DiskWriter`]), keeping what each write found and left.
struct Diffing {
    writes: Writes,
}

impl Diffing {
    fn keep(&self, path: &Path, before: Option<&[u8]>, after: &str) {
        let mut writes = lock(&self.writes);
        let queue = writes.entry(path.to_path_buf()).or_default();
        queue.push_back(Written::of(before, after));
        // Writes no tool call shows (a revert's) do not pile up.
        if queue.len() > KEPT_WRITES {
            queue.pop_front();
        }
    }
}

impl FileWriter for Diffing {
    fn write<'a>(&'a self, path: &'a Path, content: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let before = tokio::fs::read(path).await.ok();
            DiskWriter.write(path, content).await?;
            self.keep(path, before.as_deref(), content);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<(), String>> {
        DiskWriter.delete(path)
    }

    fn current(&self, path: &Path) -> Option<Vec<u8>> {
        DiskWriter.current(path)
    }

    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let noted = DiskWriter.edit(path, before, after).await?;
            self.keep(path, Some(before.as_bytes()), after);
            Ok(noted)
        })
    }
}

/// Asks the client: allow once, allow always, reject once.
struct Permissions {
    connection: Connection,
}

/// The options a permission request offers, with the answers they mean.
const ALLOW_ONCE: &str = "allow-once";
const ALLOW_ALWAYS: &str = "allow-always";
const REJECT_ONCE: &str = "reject-once";

impl Approver for Permissions {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Approval> {
        Box::pin(async move {
            let asked = match permission_request(request) {
                Ok(asked) => asked,
                Err(error) => {
                    return Approval::Skip(format!("the question could not be asked: {error}"));
                }
            };
            let answer = self.connection.send_request(asked).block_task().await;
            match answer.map(|response| response.outcome) {
                Ok(RequestPermissionOutcome::Selected(selected)) => match &*selected.option_id.0 {
                    ALLOW_ONCE => Approval::Run,
                    ALLOW_ALWAYS => Approval::AlwaysThisSession,
                    _ => Approval::Skip("the user rejected it".to_owned()),
                },
                Ok(_) => Approval::Skip("the question was cancelled".to_owned()),
                Err(error) => Approval::Skip(format!("the question could not be asked: {error}")),
            }
        })
    }
}

/// `session/request_permission` for an approval: the action's tool call, and the three answers.
fn permission_request(
    request: &ApprovalRequest,
) -> Result<RequestPermissionRequest, serde_json::Error> {
    let id = match request.action_id {
        Some(action) => updates::tool_call_id(&request.message_id, action),
        None => format!("{}-mcp-server", request.message_id),
    };
    let kind = match request.subject {
        Subject::Command | Subject::DevServer => "execute",
        Subject::Tool => "fetch",
        Subject::McpServer => "other",
    };
    serde_json::from_value(json!({
        "sessionId": request.session_id,
        "toolCall": {
            "toolCallId": id,
            "title": format!("{} {}", request.subject.what(), request.command),
            "kind": kind,
            "status": "pending",
            "rawInput": {"command": request.command},
        },
        "options": [
            {"optionId": ALLOW_ONCE, "name": "Allow once", "kind": "allow_once"},
            {"optionId": ALLOW_ALWAYS, "name": request.subject.always(), "kind": "allow_always"},
            {"optionId": REJECT_ONCE, "name": "Reject", "kind": "reject_once"},
        ],
    }))
}

/// A prompt's content as the request's text: text as written, a linked or embedded file as an `@path`
/// mention (the context attaches it) when it is in the workspace, else its URI.
fn prompt_text(blocks: &[ContentBlock], root: &Path) -> String {
    let mention = |uri: &str| {
        let path = uri.strip_prefix("file://").map(PathBuf::from);
        match path
            .as_deref()
            .and_then(|path| path.strip_prefix(root).ok())
        {
            Some(relative) => format!("@{}", relative.display()),
            None => uri.to_owned(),
        }
    };
    let mut text = String::new();
    for block in blocks {
        let part = match serde_json::to_value(block).unwrap_or_default() {
            Value::Object(block) => match block.get("type").and_then(Value::as_str) {
                Some("text") => block.get("text").and_then(Value::as_str).map(str::to_owned),
                Some("resource_link") => block.get("uri").and_then(Value::as_str).map(mention),
                Some("resource") => block
                    .get("resource")
                    .and_then(|resource| resource.get("uri"))
                    .and_then(Value::as_str)
                    .map(mention),
                _ => None,
            },
            _ => None,
        };
        if let Some(part) = part {
            if !text.is_empty() && !text.ends_with(char::is_whitespace) {
                text.push(' ');
            }
            text.push_str(&part);
        }
    }
    text
}

/// The client's MCP servers in the `mcpServers` setting's shape.
fn mcp_servers(servers: &[McpServer]) -> Option<Value> {
    let mut shaped = serde_json::Map::new();
    for server in servers {
        let Ok(Value::Object(server)) = serde_json::to_value(server) else {
            continue;
        };
        let Some(name) = server.get("name").and_then(Value::as_str) else {
            continue;
        };
        let pairs = |key: &str| -> Value {
            server
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|pair| {
                    Some((
                        pair.get("name")?.as_str()?.to_owned(),
                        pair.get("value")?.clone(),
                    ))
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let entry = if let Some(url) = server.get("url") {
            json!({"url": url, "headers": pairs("headers")})
        } else {
            json!({"command": server.get("command"), "args": server.get("args").cloned().unwrap_or(json!([])), "env": pairs("env")})
        };
        shaped.insert(name.to_owned(), entry);
    }
    (!shaped.is_empty()).then_some(Value::Object(shaped))
}

fn invalid_params(message: String) -> acp::Error {
    acp::Error::invalid_params().data(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_mentions_its_files_and_keeps_its_words() {
        let blocks: Vec<ContentBlock> = serde_json::from_value(json!([
            {"type": "text", "text": "fix the total in"},
            {"type": "resource_link", "uri": "file:///w/src/total.js", "name": "total.js"},
            {"type": "resource_link", "uri": "https://example.com/spec", "name": "spec"},
        ]))
        .expect("blocks");
        assert_eq!(
            prompt_text(&blocks, Path::new("/w")),
            "fix the total in @src/total.js https://example.com/spec"
        );
    }

    #[test]
    fn the_clients_mcp_servers_take_the_settings_shape() {
        let servers: Vec<McpServer> = serde_json::from_value(json!([
            {"name": "docs", "command": "/usr/bin/docs-mcp", "args": ["--stdio"], "env": [{"name": "TOKEN", "value": "t"}]},
            {"type": "http", "name": "remote", "url": "https://mcp.example.com", "headers": [{"name": "Authorization", "value": "Bearer x"}]},
        ]))
        .expect("servers");
        assert_eq!(
            mcp_servers(&servers),
            Some(json!({
                "docs": {"command": "/usr/bin/docs-mcp", "args": ["--stdio"], "env": {"TOKEN": "t"}},
                "remote": {"url": "https://mcp.example.com", "headers": {"Authorization": "Bearer x"}},
            }))
        );
        assert_eq!(mcp_servers(&[]), None);
    }

    #[test]
    fn a_permission_request_offers_once_always_and_reject() {
        let asked = permission_request(&ApprovalRequest {
            subject: Subject::Command,
            command: "npm install".to_owned(),
            session_id: "s1".to_owned(),
            message_id: "m1".to_owned(),
            action_id: Some(2),
        })
        .expect("fits the schema");
        let asked = serde_json::to_value(asked).expect("json");
        assert_eq!(asked["toolCall"]["toolCallId"], "m1-2");
        assert_eq!(asked["toolCall"]["kind"], "execute");
        let kinds: Vec<&str> = asked["options"]
            .as_array()
            .expect("options")
            .iter()
            .filter_map(|option| option["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["allow_once", "allow_always", "reject_once"]);
    }
}
