//! What the parser reports: prose, artifacts and actions as they open, grow and close.

use std::borrow::Cow;

/// One thing the parser recognised. Borrowed from the parser or the chunk while it is handed to the
/// callback of [`Parser::feed_with`](crate::Parser::feed_with); [`Event::into_owned`] keeps it longer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Prose for the chat, byte for byte as the model wrote it, markup removed. Never empty.
    Text(Cow<'a, str>),
    /// `<boltArtifact …>` was read.
    ArtifactOpen(Cow<'a, ArtifactInfo>),
    /// `</boltArtifact>` was read (or implied by a new `<boltArtifact>`).
    ArtifactClose(Cow<'a, ArtifactInfo>),
    /// `<boltAction …>` was read.
    ActionOpen(Cow<'a, ActionInfo>),
    /// More of an open action's raw body, for showing a file as it grows. The pieces concatenate to the
    /// raw body; the normalised content comes with [`Event::ActionClose`]. Never empty.
    ActionDelta {
        /// The action's [`ActionInfo::index`].
        index: usize,
        text: Cow<'a, str>,
    },
    /// The action closed: `content` is final and normalised (see the crate documentation). Only now may a
    /// file be written or a command run.
    ActionClose {
        action: Cow<'a, ActionInfo>,
        content: Cow<'a, str>,
    },
    /// The stream ended inside this action: its body is incomplete and must not be applied.
    ActionIncomplete(Cow<'a, ActionInfo>),
    /// The stream ended inside this artifact.
    ArtifactIncomplete(Cow<'a, ArtifactInfo>),
}

/// An artifact's attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// The `id` attribute, empty when missing.
    pub id: String,
    /// The `title` attribute, empty when missing.
    pub title: String,
}

/// An action's attributes and place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionInfo {
    /// The id of the artifact holding it.
    pub artifact_id: String,
    /// Its position among all actions of the reply (across artifacts), from 0.
    pub index: usize,
    pub kind: ActionKind,
    /// The `filePath` attribute, as written.
    pub file_path: Option<String>,
    /// The `lines` attribute of a `read` action (`"120-240"`), as written.
    pub lines: Option<String>,
    /// The `server` and `tool` attributes of a `tool` action (an MCP server's tool; the content holds
    /// its JSON arguments), as written.
    pub server: Option<String>,
    pub tool: Option<String>,
    /// The `pattern` attribute of a `search` action (also accepted as `query`), and its `regex` and
    /// `case` flags, as written. A search's `path` glob is [`ActionInfo::file_path`].
    pub pattern: Option<String>,
    pub regex: Option<String>,
    pub case: Option<String>,
}

impl ActionInfo {
    /// An action of `kind` at `index` in artifact `artifact_id`, with `file_path` and no other
    /// attribute (for callers that make actions themselves: tests, benches).
    pub fn new(
        artifact_id: &str,
        index: usize,
        kind: ActionKind,
        file_path: Option<&str>,
    ) -> ActionInfo {
        ActionInfo {
            artifact_id: artifact_id.to_owned(),
            index,
            kind,
            file_path: file_path.map(str::to_owned),
            lines: None,
            server: None,
            tool: None,
            pattern: None,
            regex: None,
            case: None,
        }
    }
}

/// The `type` of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Write `filePath` with the content.
    File,
    /// Run a command to its exit.
    Shell,
    /// Start a long-running process (a dev server) and go on.
    Start,
    /// Show the model `filePath` (optionally `lines`): the engine answers within the same turn.
    Read,
    /// Change `filePath` with SEARCH/REPLACE blocks (the content).
    Edit,
    /// Call `tool` of the MCP server `server` with the JSON arguments of the content: the engine answers
    /// within the same turn.
    Tool,
    /// Look for `pattern` in the workspace's files (or list the files a `path` glob matches): the engine
    /// answers within the same turn.
    Search,
    /// Any other type, as written (empty when the attribute is missing), so that the caller can report it.
    Other(String),
}

impl ActionKind {
    /// Reads a `type` attribute, ignoring ASCII case.
    pub fn from_attribute(value: &str) -> ActionKind {
        if value.eq_ignore_ascii_case("file") {
            ActionKind::File
        } else if value.eq_ignore_ascii_case("shell") {
            ActionKind::Shell
        } else if value.eq_ignore_ascii_case("start") {
            ActionKind::Start
        } else if value.eq_ignore_ascii_case("read") {
            ActionKind::Read
        } else if value.eq_ignore_ascii_case("edit") {
            ActionKind::Edit
        } else if value.eq_ignore_ascii_case("tool") {
            ActionKind::Tool
        } else if value.eq_ignore_ascii_case("search") {
            ActionKind::Search
        } else {
            ActionKind::Other(value.to_owned())
        }
    }

    /// The name as the protocol spells it: `file`, `shell`, `start`, `read`, `edit`, `tool`, `search`,
    /// or the unknown type itself.
    pub fn as_str(&self) -> &str {
        match self {
            ActionKind::File => "file",
            ActionKind::Shell => "shell",
            ActionKind::Start => "start",
            ActionKind::Read => "read",
            ActionKind::Edit => "edit",
            ActionKind::Tool => "tool",
            ActionKind::Search => "search",
            ActionKind::Other(name) => name,
        }
    }
}

impl Event<'_> {
    /// Copies whatever is borrowed.
    pub fn into_owned(self) -> Event<'static> {
        fn own<T: ToOwned + ?Sized>(value: Cow<'_, T>) -> Cow<'static, T> {
            Cow::Owned(value.into_owned())
        }
        match self {
            Event::Text(text) => Event::Text(own(text)),
            Event::ArtifactOpen(artifact) => Event::ArtifactOpen(own(artifact)),
            Event::ArtifactClose(artifact) => Event::ArtifactClose(own(artifact)),
            Event::ActionOpen(action) => Event::ActionOpen(own(action)),
            Event::ActionDelta { index, text } => Event::ActionDelta {
                index,
                text: own(text),
            },
            Event::ActionClose { action, content } => Event::ActionClose {
                action: own(action),
                content: own(content),
            },
            Event::ActionIncomplete(action) => Event::ActionIncomplete(own(action)),
            Event::ArtifactIncomplete(artifact) => Event::ArtifactIncomplete(own(artifact)),
        }
    }
}

/// Merges adjacent [`Event::Text`] events, and adjacent [`Event::ActionDelta`] events of one action: the
/// form in which any two chunkings of one reply give equal events.
pub fn coalesce<'a>(events: impl IntoIterator<Item = Event<'a>>) -> Vec<Event<'a>> {
    let mut merged: Vec<Event<'a>> = Vec::new();
    for event in events {
        match (merged.last_mut(), event) {
            (Some(Event::Text(previous)), Event::Text(text)) => previous.to_mut().push_str(&text),
            (
                Some(Event::ActionDelta {
                    index: previous_index,
                    text: previous,
                }),
                Event::ActionDelta { index, text },
            ) if *previous_index == index => previous.to_mut().push_str(&text),
            (_, event) => merged.push(event),
        }
    }
    merged
}
