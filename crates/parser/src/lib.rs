//! A streaming parser of the assistant's artifact markup (bolt.new's), fed the reply chunk by chunk.
//!
//! Pure: no I/O, no async, no allocation per byte of prose, and it never panics on any input. Feed it only
//! the new text ([`Parser::feed_with`] or [`Parser::feed`]) and call [`Parser::finish_with`] at the end of
//! the stream. However the reply is split into chunks, the events are the same once adjacent text and
//! delta pieces are merged ([`coalesce`]).
//!
//! ```
//! use openbolt_parser::{Event, Parser};
//!
//! let mut parser = Parser::new();
//! let mut events = parser.feed("Here you go.\n<boltArtifact id=\"hi\" title=\"Hello\">\n<boltAction typ");
//! events.extend(parser.feed("e=\"file\" filePath=\"hello.txt\">\nHello!\n</boltAction></boltArtifact>"));
//! events.extend(parser.finish());
//! let contents: Vec<_> = events
//!     .iter()
//!     .filter_map(|event| match event {
//!         Event::ActionClose { content, .. } => Some(content.as_ref()),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(contents, ["Hello!\n"]);
//! ```
//!
//! # The markup
//!
//! ```text
//! prose <boltArtifact id="todo-app" title="Todo app">
//!   <boltAction type="file" filePath="src/main.js">…content…</boltAction>
//!   <boltAction type="shell">npm install</boltAction>
//!   <boltAction type="start">npm run dev</boltAction>
//!   <boltAction type="read" filePath="src/big.js" lines="120-240"/>
//!   <boltAction type="tool" server="docs" tool="search">{"query": "useEffect"}</boltAction>
//!   <boltAction type="search" pattern="npm install" path="app/lib/**"/>
//!   <boltAction type="edit" filePath="src/ledger.js">
//! <<<<<<< SEARCH
//!     total += item.price * item.qty;
//! =======
//!     total += item.price * item.qty * (1 - (item.discount || 0));
//! >>>>>>> REPLACE
//!   </boltAction>
//! </boltArtifact> more prose
//! ```
//!
//! # Exact rules
//!
//! **Tags.** A tag is `<`, optional whitespace, the name, then attributes up to `>`; a closing tag is
//! `<`, optional whitespace, `/`, optional whitespace, the name, optional whitespace, `>`. Names are matched
//! ignoring ASCII case (`boltArtifact`, `boltAction`) and must end at whitespace, `>` or `/` (so
//! `<boltArtifacts>` is not a tag). Each whitespace gap may hold at most 16 bytes, newlines included.
//! A tag longer than 4096 bytes is not a tag. An opening tag ending in `/>` opens and closes at once.
//!
//! **Attributes** come in any order, separated by whitespace (newlines too): `name="value"`,
//! `name='value'`, `name=value` (unquoted, up to whitespace or `>`), or a bare `name`. A quote opens a value
//! only right after `=`, and `>` inside a quoted value does not end the tag. Unknown attributes are
//! ignored. `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` and numeric references are decoded in values.
//! An artifact reads `id` and `title` (empty when missing). An action reads `type` — `file`, `shell`,
//! `start`, `read`, `edit`, `tool`, `search` ignoring case; anything else is reported as
//! [`ActionKind::Other`] with the type as written, never dropped; a missing `type` with a `filePath`
//! means `file` — `filePath` (also accepted as `file_path`, `path`, `file` or `glob`, ignoring case),
//! `lines` (a `read` action's range), `server` and `tool` (a `tool` action's), and `pattern` (also
//! `query`), `regex` and `case` (a `search` action's), all as written.
//!
//! **Where tags are recognised.** In prose, only `<boltArtifact`. Inside an artifact, `<boltAction`,
//! `</boltArtifact>`, and `<boltArtifact` (which closes the open artifact first). Inside an action, only
//! `</boltAction>` and `</boltArtifact>` (which closes the action, then the artifact): everything else —
//! `<`, `>`, `</div>`, `</script>`, `a < b`, `<boltAction` — is content.
//!
//! **Prose** is everything outside artifacts and passes through byte for byte, including a `<` that does
//! not start a tag, a `<` held at the very end of the stream, and tags inside an inline code span: in
//! prose, a run of one or two backticks opens or closes a span, a run of three or more (a fence) and a
//! line break end it, so `` `<boltArtifact>` `` stays prose. Fenced blocks do not hide tags, because
//! models wrap whole artifacts in them.
//!
//! **Text inside an artifact but outside actions** is usually layout: whitespace-only runs between tags
//! are dropped. Anything else (a model explaining itself, prose after an artifact that never closes) is
//! reported as [`Event::Text`], so no text is ever lost.
//!
//! **Content.** An action's body is the raw text between its tags, streamed as [`Event::ActionDelta`].
//! At [`Event::ActionClose`] it is normalised:
//! 1. trailing whitespace (spaces, tabs, line breaks) is removed;
//! 2. if the first line is blank, that one line is removed (the break after the opening tag); the
//!    indentation of the first real line is kept;
//! 3. if what remains is one fenced code block (```` ```lang ```` … ```` ``` ````, or `~~~`), possibly after
//!    blank lines, it is unwrapped and trailing whitespace is removed again. The closing fence must be the
//!    last line, and fences inside must balance (one with an info string opens, a bare one closes), so a
//!    README that starts and ends with two separate code blocks is left alone;
//! 4. `file` and `edit` content that is not empty ends with exactly one line break: `\r\n` when its
//!    first line ends with `\r\n`, else `\n`. Other actions (commands) have leading whitespace removed
//!    too and no final line break. An `edit` body is otherwise raw: its SEARCH/REPLACE blocks (see the
//!    server's `actions::edit`) keep their indentation, and fences inside them stay.
//!
//! Entities in content are not decoded: a file may need `&lt;`.
//!
//! **End of stream.** [`Parser::finish_with`] flushes a held `<` as text, then reports an action still open
//! as [`Event::ActionIncomplete`] (its content must not be applied) and an artifact still open as
//! [`Event::ArtifactIncomplete`]. The parser is then ready for a new reply.
//!
//! Input is `&str`: a caller holding bytes must cut chunks at character boundaries.

mod content;
mod event;
mod tag;

pub use event::{ActionInfo, ActionKind, ArtifactInfo, Event, coalesce};

use std::borrow::Cow;
use tag::{Allowed, Match, TagKind};

/// The streaming parser. One per reply; [`Parser::finish_with`] resets it for the next.
#[derive(Debug, Default)]
pub struct Parser {
    context: Context,
    /// Text from a `<` that may start a tag, waiting for the rest of it.
    pending_tag: String,
    /// Prose: inside an inline code span, where tags are not recognised.
    in_inline_code: bool,
    /// Prose: backticks seen in a row, not yet settled.
    backtick_run: u32,
    /// Inside an artifact: whitespace after the last tag, shown only if text follows.
    stray_space: String,
    artifact: ArtifactInfo,
    action: Option<ActionInfo>,
    /// The open action's raw body.
    body: String,
    next_action_index: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Context {
    #[default]
    Prose,
    Artifact,
    Action,
}

/// How many bytes of a new chunk a pending tag takes at a time: a tag is usually decided in a few bytes.
const RESUME_STEP: usize = 64;

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds the next chunk of the reply and hands every event it completes to `on_event`, borrowed.
    pub fn feed_with(&mut self, chunk: &str, mut on_event: impl FnMut(Event<'_>)) {
        self.process(chunk, &mut on_event);
    }

    /// Ends the reply: flushes what was held back and reports what is left open. Resets the parser.
    pub fn finish_with(&mut self, mut on_event: impl FnMut(Event<'_>)) {
        self.flush_pending_tag(&mut on_event);
        match self.context {
            Context::Prose => {}
            Context::Artifact => {
                on_event(Event::ArtifactIncomplete(Cow::Borrowed(&self.artifact)));
            }
            Context::Action => {
                if let Some(action) = &self.action {
                    on_event(Event::ActionIncomplete(Cow::Borrowed(action)));
                }
                on_event(Event::ArtifactIncomplete(Cow::Borrowed(&self.artifact)));
            }
        }
        let mut body = std::mem::take(&mut self.body);
        let mut pending_tag = std::mem::take(&mut self.pending_tag);
        body.clear();
        pending_tag.clear();
        *self = Parser {
            body,
            pending_tag,
            ..Parser::default()
        };
    }

    /// [`Parser::feed_with`], collecting owned events.
    pub fn feed(&mut self, chunk: &str) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        self.feed_with(chunk, |event| events.push(event.into_owned()));
        events
    }

    /// [`Parser::finish_with`], collecting owned events.
    pub fn finish(&mut self) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        self.finish_with(|event| events.push(event.into_owned()));
        events
    }

    /// Whether the reply is inside an action's body right now (its content is not final).
    pub fn in_action(&self) -> bool {
        self.context == Context::Action
    }

    fn process<F: FnMut(Event<'_>)>(&mut self, input: &str, on_event: &mut F) {
        let mut rest = input;
        while !rest.is_empty() {
            rest = if self.pending_tag.is_empty() {
                match self.context {
                    Context::Prose => self.scan_prose(rest, on_event),
                    Context::Artifact => self.scan_artifact(rest, on_event),
                    Context::Action => self.scan_action(rest, on_event),
                }
            } else {
                self.resume_tag(rest, on_event)
            };
        }
    }

    /// Prose: text until a `<` outside inline code starts an artifact.
    fn scan_prose<'i, F: FnMut(Event<'_>)>(&mut self, input: &'i str, on_event: &mut F) -> &'i str {
        let bytes = input.as_bytes();
        let mut at = 0;
        loop {
            let Some(offset) = memchr::memchr3(b'<', b'`', b'\n', &bytes[at..]) else {
                if at < bytes.len() {
                    self.settle_backticks();
                }
                emit_text(input, on_event);
                return "";
            };
            if offset > 0 {
                self.settle_backticks();
            }
            let found = at + offset;
            at = found + 1;
            match bytes[found] {
                b'`' => self.backtick_run += 1,
                b'\n' => {
                    self.settle_backticks();
                    self.in_inline_code = false;
                }
                _ => {
                    self.settle_backticks();
                    if self.in_inline_code {
                        continue;
                    }
                    let (text, tag) = input.split_at(found);
                    if let Some(rest) = self.at_possible_tag(text, tag, on_event) {
                        return rest;
                    }
                }
            }
        }
    }

    /// Inside an artifact, between actions.
    fn scan_artifact<'i, F: FnMut(Event<'_>)>(
        &mut self,
        input: &'i str,
        on_event: &mut F,
    ) -> &'i str {
        let Some(found) = memchr::memchr(b'<', input.as_bytes()) else {
            self.stray_text(input, on_event);
            return "";
        };
        let (text, tag) = input.split_at(found);
        self.stray_text(text, on_event);
        match tag::match_tag(tag, self.allowed()) {
            Match::NotTag => {
                self.stray_text("<", on_event);
                &tag[1..]
            }
            Match::NeedMore => {
                self.pending_tag.push_str(tag);
                ""
            }
            Match::Tag {
                kind,
                len,
                self_closing,
            } => {
                self.handle_tag(kind, &tag[..len], self_closing, on_event);
                &tag[len..]
            }
        }
    }

    /// Inside an action's body: content until its closing tag.
    fn scan_action<'i, F: FnMut(Event<'_>)>(
        &mut self,
        input: &'i str,
        on_event: &mut F,
    ) -> &'i str {
        let bytes = input.as_bytes();
        let mut at = 0;
        while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
            let found = at + offset;
            at = found + 1;
            let (text, tag) = input.split_at(found);
            if let Some(rest) = self.at_possible_tag(text, tag, on_event) {
                return rest;
            }
        }
        self.body_text(input, on_event);
        ""
    }

    /// At a `<` (the start of `tag`) in prose or in an action body: when it starts a tag, or may, hands on
    /// the `text` before it and handles or holds the tag, returning the input after it. `None`: the `<` is
    /// text, and scanning goes on.
    fn at_possible_tag<'i, F: FnMut(Event<'_>)>(
        &mut self,
        text: &str,
        tag: &'i str,
        on_event: &mut F,
    ) -> Option<&'i str> {
        match tag::match_tag(tag, self.allowed()) {
            Match::NotTag => None,
            Match::NeedMore => {
                self.text_in_context(text, on_event);
                self.pending_tag.push_str(tag);
                Some("")
            }
            Match::Tag {
                kind,
                len,
                self_closing,
            } => {
                self.text_in_context(text, on_event);
                self.handle_tag(kind, &tag[..len], self_closing, on_event);
                Some(&tag[len..])
            }
        }
    }

    /// A tag began in an earlier chunk: give it more of `input` until it is decided.
    fn resume_tag<'i, F: FnMut(Event<'_>)>(&mut self, input: &'i str, on_event: &mut F) -> &'i str {
        let take = floor_char_boundary(input, RESUME_STEP.min(input.len()));
        // A character longer than the step (impossible for RESUME_STEP >= 4) still makes progress.
        let take = if take == 0 { input.len() } else { take };
        let held = self.pending_tag.len();
        self.pending_tag.push_str(&input[..take]);
        match tag::match_tag(&self.pending_tag, self.allowed()) {
            Match::NeedMore => &input[take..],
            Match::Tag {
                kind,
                len,
                self_closing,
            } => {
                let mut tag = std::mem::take(&mut self.pending_tag);
                tag.truncate(len);
                self.handle_tag(kind, &tag, self_closing, on_event);
                tag.clear();
                if self.pending_tag.is_empty() {
                    self.pending_tag = tag;
                }
                // The tag did not end before the held bytes did, so it ends inside `input`.
                &input[len - held..]
            }
            Match::NotTag => {
                self.reject_pending_tag(on_event);
                &input[take..]
            }
        }
    }

    /// The held `<` is text in the current context; what followed it is read again from the start.
    fn reject_pending_tag<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) {
        let mut held = std::mem::take(&mut self.pending_tag);
        self.text_in_context("<", on_event);
        self.process(&held[1..], on_event);
        if self.pending_tag.is_empty() {
            held.clear();
            self.pending_tag = held;
        }
    }

    fn flush_pending_tag<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) {
        while !self.pending_tag.is_empty() {
            self.reject_pending_tag(on_event);
        }
    }

    fn handle_tag<F: FnMut(Event<'_>)>(
        &mut self,
        kind: TagKind,
        tag: &str,
        self_closing: bool,
        on_event: &mut F,
    ) {
        match kind {
            TagKind::OpenArtifact => {
                if self.context == Context::Artifact {
                    on_event(Event::ArtifactClose(Cow::Borrowed(&self.artifact)));
                }
                self.artifact = read_artifact(tag);
                self.stray_space.clear();
                on_event(Event::ArtifactOpen(Cow::Borrowed(&self.artifact)));
                self.context = Context::Artifact;
                if self_closing {
                    self.close_artifact(on_event);
                }
            }
            TagKind::CloseArtifact => {
                if self.context == Context::Action {
                    self.close_action(on_event);
                }
                self.close_artifact(on_event);
            }
            TagKind::OpenAction => {
                let action = read_action(tag, &self.artifact.id, self.next_action_index);
                self.next_action_index += 1;
                self.stray_space.clear();
                self.body.clear();
                on_event(Event::ActionOpen(Cow::Borrowed(self.action.insert(action))));
                self.context = Context::Action;
                if self_closing {
                    self.close_action(on_event);
                }
            }
            TagKind::CloseAction => self.close_action(on_event),
        }
    }

    fn close_action<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) {
        self.context = Context::Artifact;
        let Some(action) = self.action.take() else {
            return;
        };
        let start = content::normalize(&action.kind, &mut self.body);
        on_event(Event::ActionClose {
            action: Cow::Owned(action),
            content: Cow::Borrowed(&self.body[start..]),
        });
        self.body.clear();
    }

    fn close_artifact<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) {
        on_event(Event::ArtifactClose(Cow::Borrowed(&self.artifact)));
        self.stray_space.clear();
        self.context = Context::Prose;
    }

    fn allowed(&self) -> Allowed {
        let in_artifact = self.context == Context::Artifact;
        Allowed {
            open_artifact: self.context != Context::Action,
            close_artifact: self.context != Context::Prose,
            open_action: in_artifact,
            close_action: self.context == Context::Action,
        }
    }

    fn text_in_context<F: FnMut(Event<'_>)>(&mut self, text: &str, on_event: &mut F) {
        match self.context {
            Context::Prose => emit_text(text, on_event),
            Context::Artifact => self.stray_text(text, on_event),
            Context::Action => self.body_text(text, on_event),
        }
    }

    fn body_text<F: FnMut(Event<'_>)>(&mut self, text: &str, on_event: &mut F) {
        if text.is_empty() {
            return;
        }
        self.body.push_str(text);
        if let Some(action) = &self.action {
            on_event(Event::ActionDelta {
                index: action.index,
                text: Cow::Borrowed(text),
            });
        }
    }

    /// Text inside an artifact outside actions: whitespace waits; anything else is shown with the
    /// whitespace before it.
    fn stray_text<F: FnMut(Event<'_>)>(&mut self, text: &str, on_event: &mut F) {
        let shown = text.trim_end_matches(|c: char| c.is_ascii() && tag::is_space(c as u8));
        if shown.is_empty() {
            self.stray_space.push_str(text);
            return;
        }
        if !self.stray_space.is_empty() {
            on_event(Event::Text(Cow::Borrowed(&self.stray_space)));
            self.stray_space.clear();
        }
        on_event(Event::Text(Cow::Borrowed(shown)));
        self.stray_space.push_str(&text[shown.len()..]);
    }

    /// A run of one or two backticks toggles an inline code span; a longer run is a fence and ends it.
    fn settle_backticks(&mut self) {
        match self.backtick_run {
            0 => return,
            1 | 2 => self.in_inline_code = !self.in_inline_code,
            _ => self.in_inline_code = false,
        }
        self.backtick_run = 0;
    }
}

fn emit_text<F: FnMut(Event<'_>)>(text: &str, on_event: &mut F) {
    if !text.is_empty() {
        on_event(Event::Text(Cow::Borrowed(text)));
    }
}

fn read_artifact(tag: &str) -> ArtifactInfo {
    let mut artifact = ArtifactInfo::default();
    tag::attributes(tag, |name, value| {
        let value = value.unwrap_or_default().into_owned();
        if name.eq_ignore_ascii_case("id") {
            artifact.id = value;
        } else if name.eq_ignore_ascii_case("title") {
            artifact.title = value;
        }
    });
    artifact
}

fn read_action(tag: &str, artifact_id: &str, index: usize) -> ActionInfo {
    let mut kind = None;
    let mut file_path = None;
    let mut lines = None;
    let mut server = None;
    let mut tool = None;
    let mut pattern = None;
    let mut regex = None;
    let mut case = None;
    tag::attributes(tag, |name, value| {
        let value = value.unwrap_or_default();
        if name.eq_ignore_ascii_case("pattern") || name.eq_ignore_ascii_case("query") {
            pattern = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("regex") {
            regex = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("case") {
            case = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("lines") {
            lines = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("server") {
            server = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("tool") {
            tool = Some(value.into_owned());
        } else if name.eq_ignore_ascii_case("type") {
            kind = Some(ActionKind::from_attribute(&value));
        } else if ["filePath", "file_path", "path", "file", "glob"]
            .iter()
            .any(|alias| name.eq_ignore_ascii_case(alias))
        {
            file_path = Some(value.into_owned());
        }
    });
    let kind = match (kind, &file_path) {
        (Some(kind), _) => kind,
        (None, Some(_)) => ActionKind::File,
        (None, None) => ActionKind::Other(String::new()),
    };
    ActionInfo {
        artifact_id: artifact_id.to_owned(),
        index,
        kind,
        file_path,
        lines,
        server,
        tool,
        pattern,
        regex,
        case,
    }
}

/// The largest char boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len()))
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0)
}
