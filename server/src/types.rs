//! The words every layer shares: an action's status and its updates, a closed action ready to run, and
//! what a turn reports while it runs. A leaf: it depends on the parser's types only.

use openbolt_parser::ActionInfo;
pub use openbolt_parser::ActionKind;

/// Identifies a terminal for the life of the server.
pub type TerminalId = u64;

/// Where an action is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    Pending,
    /// A command waits for the user to approve it.
    Approval,
    Running,
    Complete,
    Failed,
    Aborted,
    Skipped,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Approval => "approval",
            ActionStatus::Running => "running",
            ActionStatus::Complete => "complete",
            ActionStatus::Failed => "failed",
            ActionStatus::Aborted => "aborted",
            ActionStatus::Skipped => "skipped",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(
            self,
            ActionStatus::Pending | ActionStatus::Approval | ActionStatus::Running
        )
    }
}

/// A status change of one action, as the protocol's `openbolt/actionUpdate` carries it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionUpdate {
    pub artifact_id: String,
    /// The action's index in the reply.
    pub action_id: usize,
    #[serde(rename = "type", with = "kind_name")]
    pub kind: ActionKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<String>,
    pub status: ActionStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The terminal a command runs in.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub terminal_id: Option<TerminalId>,
    /// A short result for people: `412 lines` for a read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary: Option<String>,
    /// Syntax errors in what a `file` or `edit` action wrote (empty: none, or not a mapped language).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub diagnostics: Vec<Diagnostic>,
    /// Where the action sits in its reply's prose (set by the conversation layer as the action opens), so
    /// a chat panel shows the reply in the order the model wrote it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prose_offset: Option<ProseOffset>,
    /// The end of a failed command's output, escape sequences removed: for the model's next turn.
    #[serde(skip)]
    pub output_tail: Option<String>,
}

/// A place in a reply's prose: its length up to there, in bytes (UTF-8) and in UTF-16 code units — what
/// a Lua and a JavaScript client index strings by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProseOffset {
    pub utf8: usize,
    pub utf16: usize,
}

impl ProseOffset {
    /// The end of `prose`.
    pub fn end_of(prose: &str) -> ProseOffset {
        ProseOffset {
            utf8: prose.len(),
            utf16: prose.encode_utf16().count(),
        }
    }
}

impl ActionUpdate {
    pub fn new(action: &ActionInfo, command: Option<&str>, status: ActionStatus) -> ActionUpdate {
        ActionUpdate {
            artifact_id: action.artifact_id.clone(),
            action_id: action.index,
            kind: action.kind.clone(),
            file_path: action.file_path.clone(),
            command: command.map(str::to_owned),
            status,
            exit_code: None,
            error: None,
            terminal_id: None,
            summary: None,
            diagnostics: Vec::new(),
            prose_offset: None,
            output_tail: None,
        }
    }

    pub fn with_error(mut self, error: impl Into<String>) -> ActionUpdate {
        self.error = Some(error.into());
        self
    }

    pub fn status(mut self, status: ActionStatus) -> ActionUpdate {
        self.status = status;
        self
    }

    /// What the action is, for people and the model: `file src/app.js`, ``shell `npm install` ``.
    pub fn describe(&self) -> String {
        match (&self.file_path, &self.command) {
            (Some(path), _) => format!("{} {path}", self.kind.as_str()),
            (None, Some(command)) => format!("{} `{command}`", self.kind.as_str()),
            (None, None) => self.kind.as_str().to_owned(),
        }
    }
}

/// A syntax error in a file the AI wrote: 0-based lines, byte columns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
}

/// A closed action, ready to run.
#[derive(Clone, Debug)]
pub struct Job {
    pub action: ActionInfo,
    pub content: String,
}

/// What a turn reports while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "action updates are most of the events; boxing each would allocate as much as it saves"
)]
pub enum TurnEvent {
    /// Prose for the chat.
    Text(String),
    /// Something the user should know that is not the model's (a retry, a continuation).
    Notice(String),
    Action(ActionUpdate),
}

/// An action's kind on the wire and in the store: its name (`file`, `shell`, `start`, `read`, or an unknown type
/// as written).
mod kind_name {
    use super::ActionKind;

    pub(super) fn serialize<S: serde::Serializer>(
        kind: &ActionKind,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.as_str())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<ActionKind, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(deserializer)?;
        Ok(ActionKind::from_attribute(&name))
    }
}
