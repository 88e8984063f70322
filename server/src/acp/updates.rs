//! A turn as ACP `session/update`s: the model's prose as message chunks, each action as a tool call whose
//! status goes pending → in progress → completed or failed, fix rounds and checks as prose, page checks as
//! `fetch` tool calls with their verdict and screenshot. Pure (no I/O but reading a file an action wrote,
//! for its diff): the wire shapes are tested here.

use crate::types::{ActionStatus, ActionUpdate, PageCheck, TerminalId};
use openbolt_parser::ActionKind;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest file shown as a diff in a tool call (a bigger one is named, not shown).
const MAX_DIFF_BYTES: u64 = 1 << 20;

/// The most of a command's output a tool call shows (its end).
pub const MAX_OUTPUT_BYTES: usize = 32 << 10;

/// How often a running command's tool call is sent its output (it is kept meanwhile, and sent whole with
/// the action's end).
pub const OUTPUT_EVERY: Duration = Duration::from_millis(250);

/// A tool call's id for an action of the reply `message_id`.
pub fn tool_call_id(message_id: &str, action_id: usize) -> String {
    format!("{message_id}-{action_id}")
}

/// ACP's kind of tool call for an action.
pub fn kind(action: &ActionKind) -> &'static str {
    match action {
        ActionKind::File | ActionKind::Edit => "edit",
        ActionKind::Shell | ActionKind::Start => "execute",
        ActionKind::Read => "read",
        ActionKind::Search => "search",
        ActionKind::Tool => "fetch",
        ActionKind::Other(_) => "other",
    }
}

/// ACP's status of a tool call for an action's.
pub fn status(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Pending | ActionStatus::Approval => "pending",
        ActionStatus::Running => "in_progress",
        ActionStatus::Complete => "completed",
        ActionStatus::Failed | ActionStatus::Aborted | ActionStatus::Skipped => "failed",
    }
}

/// `{"sessionUpdate": "agent_message_chunk", …}` of `text`.
pub fn message_chunk(text: &str) -> Value {
    json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}})
}

/// A file as an action found it (`None`: absent) and left it: its tool call's diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub before: Option<String>,
    pub after: String,
}

impl Written {
    /// A write of `after` over `before` (bytes as on disk); `None` when either is too big or not text
    /// to show as a diff.
    pub fn of(before: Option<&[u8]>, after: &str) -> Option<Written> {
        let text = |bytes: &[u8]| {
            (bytes.len() as u64 <= MAX_DIFF_BYTES)
                .then(|| String::from_utf8(bytes.to_vec()).ok())
                .flatten()
        };
        let before = match before {
            Some(bytes) => Some(text(bytes)?),
            None => None,
        };
        Some(Written {
            before,
            after: text(after.as_bytes())?,
        })
    }
}

/// The tool calls of one session's turns: which were announced, and what a command printed.
#[derive(Debug, Default)]
pub struct ToolCalls {
    /// Announced tool calls, by id.
    announced: HashSet<String>,
    /// What each command's terminal printed, by terminal.
    output: HashMap<TerminalId, Printed>,
}

/// A command's output as its tool call shows it.
#[derive(Debug)]
struct Printed {
    tool_call: String,
    /// Its end, at most [`MAX_OUTPUT_BYTES`].
    text: String,
    /// When the tool call was last sent it.
    sent: Option<Instant>,
}

impl ToolCalls {
    /// The update for an action's new status (a `tool_call` the first time, then `tool_call_update`s);
    /// `written` is what a completed file action did, as its write saw it. `root` is the workspace:
    /// diffs name files by absolute path.
    pub fn action(
        &mut self,
        message_id: &str,
        update: &ActionUpdate,
        root: &Path,
        written: Option<Written>,
    ) -> Value {
        let id = tool_call_id(message_id, update.action_id);
        let path = update.file_path.as_deref().map(|file| root.join(file));
        if let Some(terminal) = update.terminal_id {
            self.output.entry(terminal).or_insert_with(|| Printed {
                tool_call: id.clone(),
                text: String::new(),
                sent: None,
            });
        }
        let mut fields = json!({
            "toolCallId": id,
            "title": update.describe(),
            "kind": kind(&update.kind),
            "status": status(update.status),
        });
        if let Some(path) = &path {
            fields["locations"] = json!([{"path": path}]);
        }
        if let Some(label) = &update.label {
            fields["rawInput"] = json!({"command": label});
        }
        let content = self.content(update, path.as_deref(), written);
        if !content.is_empty() {
            fields["content"] = Value::Array(content);
        }
        let first = self.announced.insert(id);
        fields["sessionUpdate"] = json!(if first {
            "tool_call"
        } else {
            "tool_call_update"
        });
        fields
    }

    fn content(
        &self,
        update: &ActionUpdate,
        path: Option<&Path>,
        written: Option<Written>,
    ) -> Vec<Value> {
        let mut content = Vec::new();
        let writes = matches!(update.kind, ActionKind::File | ActionKind::Edit);
        if writes
            && update.status == ActionStatus::Complete
            && let Some(path) = path
        {
            match written {
                Some(written) => content.push(json!({"type": "diff", "path": path, "oldText": written.before, "newText": written.after})),
                None => content.push(text(&format!("wrote {}", path.display()))),
            }
        }
        if let Some(summary) = &update.summary {
            content.push(text(summary));
        }
        for diagnostic in &update.diagnostics {
            content.push(text(&format!(
                "syntax error at {}:{}: {}",
                diagnostic.line + 1,
                diagnostic.column + 1,
                diagnostic.message
            )));
        }
        for hit in update.found.iter().take(50) {
            let line = match (hit.line, &hit.text) {
                (Some(line), Some(found)) => format!("{}:{line}: {found}", hit.path),
                _ => hit.path.clone(),
            };
            content.push(text(&line));
        }
        let output = update
            .terminal_id
            .and_then(|terminal| self.output.get(&terminal))
            .map(|printed| printed.text.clone())
            .filter(|printed| !printed.trim().is_empty())
            .or_else(|| update.output_tail.clone());
        if let Some(output) = output.filter(|_| update.status != ActionStatus::Pending) {
            content.push(text(&output));
        }
        if let Some(error) = &update.error {
            content.push(text(error));
        }
        content
    }

    /// Whether a terminal belongs to an action of this session.
    pub fn owns(&self, terminal: TerminalId) -> bool {
        self.output.contains_key(&terminal)
    }

    /// A terminal this session owns printed `data` (plain text) at `now`: kept, and the update of its
    /// tool call with the output so far when one is due ([`OUTPUT_EVERY`]); `None` otherwise.
    pub fn output(&mut self, terminal: TerminalId, data: &str, now: Instant) -> Option<Value> {
        let printed = self.output.get_mut(&terminal)?;
        printed.text.push_str(data);
        if printed.text.len() > MAX_OUTPUT_BYTES {
            let mut cut = printed.text.len() - MAX_OUTPUT_BYTES;
            while !printed.text.is_char_boundary(cut) {
                cut += 1;
            }
            printed.text.drain(..cut);
        }
        if printed
            .sent
            .is_some_and(|last| now.duration_since(last) < OUTPUT_EVERY)
        {
            return None;
        }
        printed.sent = Some(now);
        Some(json!({
            "sessionUpdate": "tool_call_update",
            "toolCallId": printed.tool_call,
            "content": [text(&printed.text)],
        }))
    }

    /// A page check as a `fetch` tool call of its own: the verdict's lines, and its screenshot.
    pub fn page(&mut self, message_id: &str, index: usize, check: &PageCheck) -> Value {
        let id = format!("{message_id}-page-{index}");
        self.announced.insert(id.clone());
        let mut content = vec![text(&check.lines(3).join("\n"))];
        if let Some(shot) = &check.screenshot
            && let Ok(bytes) = std::fs::read(&shot.path)
        {
            use base64::Engine as _;
            content.push(json!({
                "type": "content",
                "content": {
                    "type": "image",
                    "mimeType": shot.media_type,
                    "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                },
            }));
        }
        let failed = check.error.is_some() || !check.problems.is_empty();
        json!({
            "sessionUpdate": "tool_call",
            "toolCallId": id,
            "title": format!("Page check of {}", check.url),
            "kind": "fetch",
            "status": if failed { "failed" } else { "completed" },
            "rawInput": {"url": check.url},
            "content": content,
        })
    }
}

/// A text content block of a tool call.
fn text(text: &str) -> Value {
    json!({"type": "content", "content": {"type": "text", "text": text}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_client_protocol::v1::schema::SessionUpdate;

    fn update(kind: ActionKind, status: ActionStatus) -> ActionUpdate {
        serde_json::from_value(json!({
            "artifactId": "a", "actionId": 0, "type": kind_name(&kind), "status": status.as_str(),
        }))
        .expect("an update")
    }

    fn kind_name(kind: &ActionKind) -> &'static str {
        match kind {
            ActionKind::File => "file",
            ActionKind::Edit => "edit",
            ActionKind::Shell => "shell",
            _ => "start",
        }
    }

    /// What ACP's own types make of an update: a wrong shape fails here.
    fn typed(update: &Value) -> SessionUpdate {
        serde_json::from_value(update.clone()).unwrap_or_else(|error| panic!("{error}: {update}"))
    }

    #[test]
    fn a_file_action_is_an_edit_tool_call_that_ends_with_its_diff() {
        let root = tempfile::tempdir().expect("dir");
        let mut calls = ToolCalls::default();
        let mut action = update(ActionKind::Edit, ActionStatus::Pending);
        action.file_path = Some("app.js".to_owned());
        let first = calls.action("m1", &action, root.path(), None);
        assert_eq!(first["sessionUpdate"], "tool_call");
        assert_eq!(first["kind"], "edit");
        assert_eq!(first["status"], "pending");
        assert_eq!(first["toolCallId"], "m1-0");
        assert!(matches!(typed(&first), SessionUpdate::ToolCall(_)));
        action.status = ActionStatus::Complete;
        let written = Written::of(Some(b"old\n"), "new\n");
        let done = calls.action("m1", &action, root.path(), written);
        assert_eq!(done["sessionUpdate"], "tool_call_update");
        assert_eq!(done["status"], "completed");
        assert_eq!(
            done["content"][0],
            json!({"type": "diff", "path": root.path().join("app.js"), "oldText": "old\n", "newText": "new\n"})
        );
        assert!(matches!(typed(&done), SessionUpdate::ToolCallUpdate(_)));
        // A read says what it read; a search, what it found.
        let mut read = update(ActionKind::File, ActionStatus::Complete);
        read.kind = ActionKind::Read;
        read.action_id = 1;
        read.summary = Some("412 lines".to_owned());
        let shown = calls.action("m1", &read, root.path(), None);
        assert_eq!(shown["kind"], "read");
        assert_eq!(shown["content"][0]["content"]["text"], "412 lines");
    }

    #[test]
    fn a_command_is_an_execute_tool_call_whose_output_streams_into_it() {
        let root = tempfile::tempdir().expect("dir");
        let mut calls = ToolCalls::default();
        let mut action = update(ActionKind::Shell, ActionStatus::Running);
        action.label = Some("npm test".to_owned());
        action.terminal_id = Some(7);
        let first = calls.action("m1", &action, root.path(), None);
        assert_eq!(first["kind"], "execute");
        assert_eq!(first["status"], "in_progress");
        assert_eq!(first["rawInput"], json!({"command": "npm test"}));
        let start = Instant::now();
        assert!(calls.output(8, "not ours", start).is_none());
        let streamed = calls.output(7, "ok 1\n", start).expect("its tool call");
        assert_eq!(streamed["content"][0]["content"]["text"], "ok 1\n");
        typed(&streamed);
        action.status = ActionStatus::Failed;
        action.error = Some("exit code 1".to_owned());
        let done = calls.action("m1", &action, root.path(), None);
        assert_eq!(done["status"], "failed");
        assert_eq!(done["content"][0]["content"]["text"], "ok 1\n");
        assert_eq!(done["content"][1]["content"]["text"], "exit code 1");
        // A long output keeps its end.
        let long = calls
            .output(7, &"x".repeat(MAX_OUTPUT_BYTES), start + OUTPUT_EVERY)
            .expect("update");
        let shown = long["content"][0]["content"]["text"]
            .as_str()
            .expect("text");
        assert_eq!(shown.len(), MAX_OUTPUT_BYTES);
    }

    #[test]
    fn a_page_check_is_a_fetch_tool_call_with_its_verdict() {
        let mut calls = ToolCalls::default();
        let check: PageCheck = serde_json::from_value(json!({
            "url": "http://127.0.0.1:5173/",
            "problems": [{"kind": "exception", "message": "TypeError: x", "frames": ["render (main.js:3:54)"], "count": 1}],
            "settled": true, "millis": 700,
        }))
        .expect("a verdict");
        let call = calls.page("m1", 0, &check);
        assert_eq!(call["kind"], "fetch");
        assert_eq!(call["status"], "failed");
        let shown = call["content"][0]["content"]["text"]
            .as_str()
            .expect("text");
        assert!(
            shown.contains("exception: TypeError: x") && shown.contains("at render (main.js:3:54)")
        );
        typed(&call);
        typed(&message_chunk("hello"));
    }
}
