//! The words every layer shares: an action's status and its updates, a closed action ready to run, what
//! a turn reports while it runs and how it ended (`TurnOutcome`, with its token `Usage` and what its files
//! held before), and the table of what each action kind is. A leaf: it depends on the parser's types only.

use openbolt_parser::ActionInfo;
pub use openbolt_parser::ActionKind;

/// The version of the protocol between `openbolt lsp` and our editor extensions (the `openbolt/…`
/// methods and settings of docs/protocol.md). Raised when a change would break an extension built for
/// the previous one; `openbolt version --json` says it, and the extensions check it before they start
/// the server.
pub const PROTOCOL_VERSION: u32 = 1;

/// How many times one turn answers the model's look-ups (reads, searches, tool calls) with a follow-up
/// request. Search → read → edit takes two; a model that needs more narrows its searches.
pub const MAX_LOOKUP_ROUNDS: usize = 8;

/// Token counts of one request or, summed, of one turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
}

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnStatus {
    Complete,
    Aborted,
    Failed,
}

/// What a file held before the turn first touched it: for reverting the turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousContent {
    pub path: std::path::PathBuf,
    /// `None`: the file did not exist.
    pub content: Option<Vec<u8>>,
}

/// A finished turn.
#[derive(Clone, Debug)]
pub struct TurnOutcome {
    pub status: TurnStatus,
    pub error: Option<String>,
    /// The whole reply as the model wrote it, markup included, across continuations and look-up rounds.
    pub reply: String,
    pub usage: Usage,
    /// Final statuses of every action of the reply.
    pub actions: Vec<ActionUpdate>,
    pub previous_contents: Vec<PreviousContent>,
}

impl TurnOutcome {
    /// A turn that failed before it began.
    pub fn failed(error: String) -> TurnOutcome {
        TurnOutcome {
            status: TurnStatus::Failed,
            error: Some(error),
            reply: String::new(),
            usage: Usage::default(),
            actions: Vec::new(),
            previous_contents: Vec::new(),
        }
    }
}

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
    /// What names the action besides its path, as its kind says (`KindTraits::label`): a command, an MCP
    /// call (`server · tool {arguments}`), a search's query. `command` on the wire.
    #[serde(rename = "command", skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
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
    /// What a `search` action found, as the model was shown it: matching lines, or the files a glob
    /// listed (a card expands to them; each opens its file at its line).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub found: Vec<Hit>,
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
    pub fn new(action: &ActionInfo, label: Option<&str>, status: ActionStatus) -> ActionUpdate {
        ActionUpdate {
            artifact_id: action.artifact_id.clone(),
            action_id: action.index,
            kind: action.kind.clone(),
            file_path: action.file_path.clone(),
            label: label.map(str::to_owned),
            status,
            exit_code: None,
            error: None,
            terminal_id: None,
            summary: None,
            diagnostics: Vec::new(),
            found: Vec::new(),
            prose_offset: None,
            output_tail: None,
        }
    }

    /// An update of a first action of artifact `a` (for tests of what reads updates).
    #[cfg(test)]
    pub fn for_test(
        kind: ActionKind,
        path: Option<&str>,
        command: Option<&str>,
        status: ActionStatus,
    ) -> ActionUpdate {
        ActionUpdate::new(&ActionInfo::new("a", 0, kind, path), command, status)
    }

    pub fn with_error(mut self, error: impl Into<String>) -> ActionUpdate {
        self.error = Some(error.into());
        self
    }

    /// The update of an action the user's Stop ended.
    pub fn stopped(self) -> ActionUpdate {
        self.with_error("the turn was stopped")
            .status(ActionStatus::Aborted)
    }

    pub fn status(mut self, status: ActionStatus) -> ActionUpdate {
        self.status = status;
        self
    }

    /// What the action is, for people and the model: `file src/app.js`, ``shell `npm install` ``,
    /// `search "npm install" in app/**`.
    pub fn describe(&self) -> String {
        let kind = self.kind.as_str();
        match (
            KindTraits::of(&self.kind).label,
            &self.file_path,
            &self.label,
        ) {
            (Label::Query, _, Some(query)) => format!("{kind} {query}"),
            (_, Some(path), _) => format!("{kind} {path}"),
            (_, None, Some(command)) => format!("{kind} `{command}`"),
            (_, None, None) => kind.to_owned(),
        }
    }
}

/// One thing a `search` action found: a matching line (1-based), or a file a glob listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Relative to the workspace, with `/`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    /// The line's text (cut when long).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
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
pub enum TurnEvent {
    /// Prose for the chat.
    Text(String),
    /// Something the user should know that is not the model's (a retry, a continuation).
    Notice(String),
    Action(ActionUpdate),
    /// A page check's verdict on a preview (`browser`): what the page itself did wrong.
    Page(PageCheck),
}

/// What a page check found when it loaded a preview in the browser.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageCheck {
    pub url: String,
    /// The dev server's terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<TerminalId>,
    pub problems: Vec<PageProblem>,
    /// The page loaded and its network went quiet within the check's bound; `false`: what was found
    /// until the bound.
    pub settled: bool,
    /// From the check's start to its verdict, browser start included.
    pub millis: u64,
    /// Why the page could not be checked (the browser did not start); no verdict then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The settled page as it looked, kept in OpenBolt's data directory (`previewScreenshots`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<Screenshot>,
    /// The picture as the browser took it, until it is kept (never sent to a front end).
    #[serde(skip)]
    pub capture: Option<Capture>,
}

impl PageCheck {
    /// The verdict in lines of text: the headline, each problem with up to `frames` frames, and the
    /// screenshot's file (what a terminal shows, and an ACP client).
    pub fn lines(&self, frames: usize) -> Vec<String> {
        let unsettled = if self.settled {
            ""
        } else {
            " (it did not settle within the check's bound)"
        };
        if let Some(error) = &self.error {
            return vec![format!("! page check of {} failed: {error}", self.url)];
        }
        let count = self.problems.len();
        let mut lines = vec![if count == 0 {
            format!("✓ page check: {} shows no problem{unsettled}", self.url)
        } else {
            format!(
                "✗ page check: {} has {count} problem{}{unsettled}",
                self.url,
                if count == 1 { "" } else { "s" }
            )
        }];
        for problem in &self.problems {
            let times = if problem.count > 1 {
                format!(" (×{})", problem.count)
            } else {
                String::new()
            };
            lines.push(format!(
                "  {}: {}{times}",
                problem.kind.as_str(),
                problem.message
            ));
            for frame in problem.frames.iter().take(frames) {
                lines.push(format!("    at {frame}"));
            }
        }
        if let Some(shot) = &self.screenshot {
            lines.push(format!(
                "  screenshot: {} ({}×{}, {} KB)",
                shot.path,
                shot.width,
                shot.height,
                shot.bytes.div_ceil(1024)
            ));
        }
        lines
    }
}

/// A picture of a checked page, kept as a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Screenshot {
    /// The image file (absolute).
    pub path: String,
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    /// In pixels.
    pub width: u32,
    pub height: u32,
    /// The file's size.
    pub bytes: u64,
    /// How long the browser took to take it.
    pub millis: u64,
}

/// A picture the browser took of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub data: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// How long taking it took.
    pub millis: u64,
}

/// How a screenshot is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    /// JPEG at this quality (0–100).
    Jpeg(u8),
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg(_) => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg(_) => "jpg",
        }
    }
}

/// One thing a page did wrong, deduplicated (`count` times).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageProblem {
    pub kind: PageProblemKind,
    /// The exception's or the console's message, or `GET /src/missing.js: 404 Not Found`.
    pub message: String,
    /// Where it happened, top frames first (at most 3): `render (src/main.js:3:15)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    pub count: u32,
}

/// The kinds of a page's problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PageProblemKind {
    /// An uncaught exception.
    Exception,
    /// An unhandled promise rejection.
    Rejection,
    /// `console.error`, or an error the browser logged (a module that failed to load).
    Console,
    /// A same-origin request that failed or answered 4xx/5xx.
    Request,
    /// Nothing visible in `body` once the page settled.
    Blank,
}

impl PageProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PageProblemKind::Exception => "exception",
            PageProblemKind::Rejection => "rejection",
            PageProblemKind::Console => "console",
            PageProblemKind::Request => "request",
            PageProblemKind::Blank => "blank",
        }
    }
}

/// An action's kind on the wire and in the store: its name (`file`, `shell`, `start`, `read`, `edit`,
/// `tool`, `search`, or an unknown type as written).
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

/// What an action kind is, as every layer needs to know it: one row of [`KindTraits::of`] per kind, so
/// that a new kind is one row here (and one module in `actions/`), never a case added to lists spread
/// over the engine, the conversation, the fix rounds, the history and the front ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindTraits {
    /// Changes a workspace file: its syntax is checked, the editor is asked for its errors, a reverted
    /// turn restores it.
    pub writes_file: bool,
    /// Runs a command in a terminal: awaited to its exit (`shell`), or left running (`start`).
    pub terminal: Option<Lifetime>,
    /// Asks the user before it runs (unless a rule or an earlier "always" allows it).
    pub asks_first: bool,
    /// Answered within the turn: the round ends and a follow-up request carries the answer.
    pub answers_in_turn: bool,
    /// Counts as a file the session touched (the project map ranks it higher).
    pub touches_file: bool,
    /// A failure skips the rest of its artifact (later actions depend on a command's effect).
    pub failure_stops_artifact: bool,
    /// A failure is a problem of the turn, for a fix round.
    pub failure_is_problem: bool,
    /// What a card and a status line name: its path, its command, or its call.
    pub label: Label,
    /// A status line says when it starts running (quick ones show only their end).
    pub shows_running: bool,
    /// How it is shortened when old history must fit the window.
    pub in_history: InHistory,
}

/// How long a terminal action's process lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Awaited to its exit (with a timeout); its exit decides the action.
    Exit,
    /// A dev server: left running; its end, later, is the action's final status.
    Kept,
}

/// What names an action on a card, a status line and in a fix report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// `filePath`.
    Path,
    /// The command (the action's content).
    Command,
    /// An MCP call: `server · tool {arguments}`.
    Call,
    /// A search: its pattern and where (`"npm install" in app/**`), or the glob it lists.
    Query,
}

/// What a closed action of an old reply becomes when history is shortened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InHistory {
    /// A whole file: its path and how many lines it has.
    Lines,
    /// SEARCH/REPLACE blocks: the path and how many lines they changed.
    Changed,
    /// Its path alone (what it showed came back in another message).
    Named,
    /// Its content as written (a command is short).
    Verbatim,
    /// Its query (what it found came back in another message).
    Query,
}

impl KindTraits {
    /// The row of `kind`.
    pub const fn of(kind: &ActionKind) -> KindTraits {
        const QUIET: KindTraits = KindTraits {
            writes_file: false,
            terminal: None,
            asks_first: false,
            answers_in_turn: false,
            touches_file: false,
            failure_stops_artifact: false,
            failure_is_problem: false,
            label: Label::Path,
            shows_running: false,
            in_history: InHistory::Verbatim,
        };
        match kind {
            ActionKind::File => KindTraits {
                writes_file: true,
                touches_file: true,
                failure_is_problem: true,
                in_history: InHistory::Lines,
                ..QUIET
            },
            ActionKind::Edit => KindTraits {
                writes_file: true,
                touches_file: true,
                failure_is_problem: true,
                in_history: InHistory::Changed,
                ..QUIET
            },
            ActionKind::Read => KindTraits {
                answers_in_turn: true,
                touches_file: true,
                failure_is_problem: true,
                in_history: InHistory::Named,
                ..QUIET
            },
            ActionKind::Shell => KindTraits {
                terminal: Some(Lifetime::Exit),
                asks_first: true,
                failure_stops_artifact: true,
                failure_is_problem: true,
                label: Label::Command,
                shows_running: true,
                ..QUIET
            },
            // A dev server's failures are found by watching it after the turn (`conversation::fixes`).
            ActionKind::Start => KindTraits {
                terminal: Some(Lifetime::Kept),
                asks_first: true,
                label: Label::Command,
                shows_running: true,
                ..QUIET
            },
            // A failed call was answered within the turn (the model read the error and went on): a fix
            // round would state it a second time.
            ActionKind::Tool => KindTraits {
                asks_first: true,
                answers_in_turn: true,
                label: Label::Call,
                shows_running: true,
                ..QUIET
            },
            // Like a read, answered within the turn; a failure (a bad pattern, a path outside the
            // workspace) was answered there too.
            ActionKind::Search => KindTraits {
                answers_in_turn: true,
                label: Label::Query,
                in_history: InHistory::Query,
                ..QUIET
            },
            ActionKind::Other(_) => QUIET,
        }
    }
}
