//! `tool` actions: an MCP server's tool, found, its arguments checked against its schema, the call
//! approved (unless `mcpAllow` or an earlier "always" allows it), made, and its result answered within
//! the turn as a typed [`ToolAnswer`].

use super::approval::{self, Approval, ApprovalRequest};
use super::{ActionStatus, ActionUpdate, Answer, Job, Runner, RunnerReport, TurnEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How much of a tool's result the session's record keeps (characters).
const RECORDED_CHARS: usize = 4_000;

/// What a tool answered, for the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolAnswer {
    pub server: String,
    pub tool: String,
    /// The server said the call failed.
    pub is_error: bool,
    /// The result's text, cut to the round's budget.
    pub text: String,
    /// When cut: the characters shown and the whole result's.
    pub cut: Option<(usize, usize)>,
}

/// How a tool call shows on its card and in the question: `server · tool {"arguments": …}` (one line).
pub fn label(action: &openbolt_parser::ActionInfo, content: &str) -> String {
    let arguments = serde_json::from_str::<serde_json::Value>(content.trim())
        .map(|value| value.to_string())
        .unwrap_or_else(|_| content.split_whitespace().collect::<Vec<_>>().join(" "));
    let arguments: String = arguments.chars().take(200).collect();
    format!(
        "{} · {} {arguments}",
        action.server.as_deref().unwrap_or("?"),
        action.tool.as_deref().unwrap_or("?")
    )
}

impl Runner {
    /// The MCP tools for this turn. A server the workspace's own file configures starts only once the
    /// user agreed (asked once per server and process; `mcpAllow` naming it counts as agreeing).
    pub async fn mcp_tools(
        &mut self,
        mcp: &crate::mcp::Mcp,
        cancel: &CancellationToken,
    ) -> (Vec<crate::mcp::ToolInfo>, Vec<String>) {
        let mut refused = Vec::new();
        for (name, runs) in mcp.unapproved() {
            let allowed = self
                .settings
                .policy
                .mcp_allow
                .iter()
                .any(|rule| rule == &name || rule.starts_with(&format!("{name}/")));
            if allowed {
                mcp.set_trust(&name, crate::mcp::Trust::Trusted);
                continue;
            }
            let request = ApprovalRequest {
                subject: approval::Subject::McpServer,
                command: format!(
                    "{name} ({runs}), configured by this workspace's .openbolt/mcp.json"
                ),
                session_id: self.owner.clone(),
                message_id: self.message_id.clone(),
                action_id: None,
            };
            let approval = tokio::select! {
                approval = self.approver.approve(&request) => approval,
                () = cancel.cancelled() => return (Vec::new(), Vec::new()),
            };
            match approval {
                Approval::Run | Approval::AlwaysThisSession => {
                    mcp.set_trust(&name, crate::mcp::Trust::Trusted);
                }
                Approval::Skip(reason) => {
                    mcp.set_trust(&name, crate::mcp::Trust::Refused);
                    refused.push(format!(
                        "MCP server \"{name}\" not started ({reason}); its tools are not offered"
                    ));
                }
            }
        }
        let (tools, mut failures) = mcp.tools().await;
        failures.extend(refused);
        (tools, failures)
    }

    /// A `tool` action: the tool found, its arguments checked against its schema, the call approved
    /// (unless `mcpAllow` or an earlier "always" allows it), made, and its result kept for the model.
    pub(super) async fn run_tool(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> ActionUpdate {
        let (Some(server), Some(name)) = (job.action.server.as_deref(), job.action.tool.as_deref())
        else {
            return update
                .with_error("a tool action needs server=\"…\" and tool=\"…\"")
                .status(ActionStatus::Failed);
        };
        let Some(mcp) = self.mcp.clone() else {
            return update
                .with_error("no MCP servers are configured (.openbolt/mcp.json, ~/.config/openbolt/mcp.json or the mcpServers setting)")
                .status(ActionStatus::Failed);
        };
        let tool = match mcp.tool(server, name).await {
            Ok(tool) => tool,
            Err(reason) => return update.with_error(reason).status(ActionStatus::Failed),
        };
        let text = job.content.trim();
        let arguments = if text.is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(arguments) => arguments,
                Err(error) => {
                    return update
                        .with_error(format!("the arguments are not JSON ({error}); not called"))
                        .status(ActionStatus::Failed);
                }
            }
        };
        if let Err(reason) = crate::mcp::schema::check(&tool.input_schema, &arguments) {
            return update
                .with_error(format!("invalid arguments, not called: {reason}"))
                .status(ActionStatus::Failed);
        }
        let key = format!("{server}/{name}");
        if !self.settings.policy.allows_tool(server, name) && !self.allowed_tools.contains(&key) {
            let label = update.label.clone().unwrap_or_default();
            let Some(approval) = self.ask(job, &label, &update, events, cancel).await else {
                return update.stopped();
            };
            match approval {
                Approval::Run => {}
                Approval::AlwaysThisSession => {
                    self.allowed_tools.insert(key);
                }
                Approval::Skip(reason) => {
                    return update.with_error(reason).status(ActionStatus::Skipped);
                }
            }
        }
        let _ = events.send(TurnEvent::Action(update.clone())).await;
        let result = tokio::select! {
            result = mcp.call(server, name, arguments) => result,
            () = cancel.cancelled() => return update.stopped(),
        };
        match result {
            Ok(result) => {
                // A result takes from the round's context budget, as reads do.
                let allowed = self.answer_allowance();
                let total = result.text.chars().count();
                let (text, cut) = if crate::tokens::estimate(&result.text) > allowed {
                    let end = crate::tokens::prefix_bytes_within(&result.text, allowed);
                    let shown = result.text[..end].to_owned();
                    let count = shown.chars().count();
                    (shown, Some((count, total)))
                } else {
                    (result.text, None)
                };
                let first_line: String = text
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect();
                let mut update = if result.is_error {
                    update
                        .with_error(format!("the tool failed: {first_line}"))
                        .status(ActionStatus::Failed)
                } else {
                    update.status(ActionStatus::Complete)
                };
                update.summary = Some(if first_line.is_empty() {
                    "no text".to_owned()
                } else {
                    first_line
                });
                // Recorded with the session (the result, not the server's configuration).
                update.output_tail = Some(text.chars().take(RECORDED_CHARS).collect());
                let answer = ToolAnswer {
                    server: server.to_owned(),
                    tool: name.to_owned(),
                    is_error: result.is_error,
                    text,
                    cut,
                };
                self.answered(job, Answer::Tool(answer), report);
                update
            }
            Err(reason) => update.with_error(reason).status(ActionStatus::Failed),
        }
    }
}
