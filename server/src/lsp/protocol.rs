//! The custom part of the protocol: every `openbolt/…` method and its parameters, as `docs/protocol.md`
//! describes them. Field names are camelCase on the wire.

pub use crate::conversation::Entry as TranscriptMessage;
pub use crate::conversation::revert::{Reverted as RevertResult, RevertedFile};
use crate::terminal::{TerminalId, TerminalInfo};
use crate::types::ActionUpdate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::ls_types::{Range, Uri, notification::Notification};

/// `openbolt/chat` params.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatParams {
    pub prompt: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub context: Option<ChatContext>,
}

/// Where the user is: a document and a selection in it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatContext {
    #[serde(default)]
    pub uri: Option<Uri>,
    #[serde(default)]
    pub range: Option<Range>,
}

/// `openbolt/chat` result, when the turn has ended.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResult {
    pub session_id: String,
    pub message_id: String,
    pub status: crate::engine::TurnStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageReport>,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

/// The params of a method that takes none: absent, `null`, `{}` (any fields ignored), `[]` or `[null]`
/// alike (the transport turns absent ones into `{}`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoParams;

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NoParams, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null | Value::Object(_) => Ok(NoParams),
            Value::Array(items) if items.iter().all(Value::is_null) => Ok(NoParams),
            other => Err(serde::de::Error::custom(format!(
                "this method takes no params, got {other}"
            ))),
        }
    }
}

/// Params naming a session: `openbolt/abort`, `openbolt/loadSession`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionParams {
    pub session_id: String,
}

/// One entry of `openbolt/sessions`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub session_id: String,
    pub title: String,
    pub message_count: usize,
    pub busy: bool,
}

/// `openbolt/loadSession` result: the conversation as the chat panel shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionTranscript {
    pub session_id: String,
    pub messages: Vec<TranscriptMessage>,
}

/// `openbolt/revert` params.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertParams {
    pub session_id: String,
    /// The first reply to revert (with every later one); default: the last one not reverted.
    #[serde(default)]
    pub message_id: Option<String>,
}

/// `openbolt/fileDiff` params: a file a turn changed.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiffParams {
    /// The reply whose action changed the file.
    pub message_id: String,
    /// As the action named it, relative to the workspace.
    pub file_path: String,
}

/// `openbolt/fileDiff` result: the file before and after that turn.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    pub file_path: String,
    /// The file existed before the turn.
    pub existed: bool,
    /// Its text before the turn (`null`: it did not exist, or was not kept — a secret or over 5 MB).
    pub before: Option<String>,
    /// Its text after the turn (`null`: not kept).
    pub after: Option<String>,
}

/// `openbolt/actionsDone` (server → client): a turn's actions are done; a client that sends
/// diagnostics answers with `openbolt/diagnostics` once its own diagnostics of `files` have settled.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionsDoneParams {
    pub session_id: String,
    pub message_id: String,
    /// The files the turn wrote, relative to the workspace.
    pub files: Vec<String>,
}

/// `openbolt/diagnostics` (client → server): the errors the editor's own tools report in the files of
/// `openbolt/actionsDone` that were not there when the turn began.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorDiagnosticsParams {
    pub session_id: String,
    pub message_id: String,
    #[serde(default)]
    pub files: Vec<EditorFileDiagnostics>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorFileDiagnostics {
    pub file_path: String,
    #[serde(default)]
    pub diagnostics: Vec<EditorDiagnostic>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorDiagnostic {
    /// 0-based.
    pub line: u32,
    pub message: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// `openbolt/terminalInput`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalInputParams {
    pub terminal_id: TerminalId,
    pub data: String,
}

/// `openbolt/terminalResize`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalResizeParams {
    pub terminal_id: TerminalId,
    pub cols: u16,
    pub rows: u16,
}

/// `openbolt/terminalKill`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalParams {
    pub terminal_id: TerminalId,
}

/// One entry of `openbolt/terminals`: what a late viewer needs to show a terminal.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalSnapshot {
    #[serde(flatten)]
    pub info: TerminalInfo,
    /// The last output kept (64 KiB), escape sequences included.
    pub tail: String,
}

/// `openbolt/document` params (a diagnostic: what the server holds for a document).
#[derive(Clone, Debug, Deserialize)]
pub struct DocumentParams {
    pub uri: Uri,
}

#[derive(Clone, Debug, Serialize)]
pub struct DocumentState {
    pub version: i32,
    pub text: String,
}

macro_rules! notification {
    ($name:ident, $method:literal, $params:ty) => {
        #[derive(Debug)]
        pub enum $name {}
        impl Notification for $name {
            type Params = $params;
            const METHOD: &'static str = $method;
        }
    };
}

/// `openbolt/turnStart`: a turn began; sent before any of its deltas, so that a client learns a new
/// session's id (and the reply's) at once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub session_id: String,
    pub message_id: String,
    /// Set when the turn is an automatic fix round (its prompt is OpenBolt's report of the problems).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fix_round: Option<FixRoundParams>,
}

/// `turnStart.fixRound`: `{round, rounds, problems}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixRoundParams {
    pub round: u32,
    pub rounds: u32,
    pub problems: usize,
}

/// `openbolt/chatDelta`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatDelta {
    pub session_id: String,
    pub message_id: String,
    pub text: String,
}

/// `openbolt/actionUpdate`: an [`ActionUpdate`] with its session and message.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionUpdateParams {
    pub session_id: String,
    pub message_id: String,
    #[serde(flatten)]
    pub update: ActionUpdate,
}

/// `openbolt/notice`: something the user should know that is not the model's (a retry, a continuation).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeParams {
    pub session_id: String,
    pub message_id: String,
    pub text: String,
}

/// `openbolt/pageCheck`: a page check's verdict on a preview the turn left running.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageCheckParams {
    pub session_id: String,
    pub message_id: String,
    #[serde(flatten)]
    pub check: crate::types::PageCheck,
}

/// `openbolt/checking`: the turn's reply is over and it waits for a check before it ends or a fix round
/// begins (the turn is still running: Stop ends the wait).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckingParams {
    pub session_id: String,
    pub message_id: String,
    /// `devServer` or `diagnostics`.
    pub check: String,
    pub text: String,
}

/// `openbolt/terminalOutput`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalOutputParams {
    pub terminal_id: TerminalId,
    pub data: String,
}

/// `openbolt/terminalExit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalExitParams {
    pub terminal_id: TerminalId,
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<String>,
}

/// `openbolt/preview`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewParams {
    pub url: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub terminal_id: Option<TerminalId>,
}

/// `openbolt/error`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorParams {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_id: Option<String>,
    pub message: String,
}

notification!(TurnStartNotification, "openbolt/turnStart", TurnStartParams);
notification!(
    ActionsDoneNotification,
    "openbolt/actionsDone",
    ActionsDoneParams
);
notification!(ChatDeltaNotification, "openbolt/chatDelta", ChatDelta);
notification!(
    ActionUpdateNotification,
    "openbolt/actionUpdate",
    ActionUpdateParams
);
notification!(NoticeNotification, "openbolt/notice", NoticeParams);
notification!(CheckingNotification, "openbolt/checking", CheckingParams);
notification!(PageCheckNotification, "openbolt/pageCheck", PageCheckParams);
notification!(
    TerminalOutputNotification,
    "openbolt/terminalOutput",
    TerminalOutputParams
);
notification!(
    TerminalExitNotification,
    "openbolt/terminalExit",
    TerminalExitParams
);
notification!(PreviewNotification, "openbolt/preview", PreviewParams);
notification!(ErrorNotification, "openbolt/error", ErrorParams);

/// What a client declares in `initializationOptions` besides settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientOptions {
    /// The client saves a document after applying our edit to it (our extensions do), so the server
    /// waits for `didSave` instead of writing the file itself.
    pub saves_edits: bool,
    /// The client opens previews itself on `openbolt/preview`; no `window/showDocument`.
    pub handles_preview: bool,
    /// The client answers `openbolt/actionsDone` with `openbolt/diagnostics`: the errors its own
    /// language tools found in the files a turn wrote.
    pub sends_diagnostics: bool,
}

impl ClientOptions {
    pub fn from_initialization_options(options: Option<&Value>) -> ClientOptions {
        options
            .and_then(|options| serde_json::from_value(options.clone()).ok())
            .unwrap_or_default()
    }
}
