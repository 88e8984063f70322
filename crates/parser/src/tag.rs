//! Recognising one tag of the markup at a `<`, and reading its attributes.
//!
//! The decision is a function of the bytes after the `<` only, never of how they were chunked: given a
//! prefix, [`match_tag`] either decides (tag or text) or asks for more, and a decision never changes when
//! more bytes arrive. That property is what makes the parser chunk-boundary independent.
//!
//! ```text
//! <  ws*  [/ ws*]  name        (ws | > | /) attributes… >      an opening tag
//! <  ws*   / ws*   name  ws*   >                               a closing tag
//!    ^ at most MAX_GAP bytes of whitespace in each gap; the whole tag at most MAX_TAG_LEN bytes
//! ```

use std::borrow::Cow;
use std::ops::Range;

/// The tags of the markup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagKind {
    OpenArtifact,
    CloseArtifact,
    OpenAction,
    CloseAction,
}

/// Which tags are recognised in the current context; everything else is text there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Allowed {
    pub(crate) open_artifact: bool,
    pub(crate) close_artifact: bool,
    pub(crate) open_action: bool,
    pub(crate) close_action: bool,
}

impl Allowed {
    fn permits(self, kind: TagKind) -> bool {
        match kind {
            TagKind::OpenArtifact => self.open_artifact,
            TagKind::CloseArtifact => self.close_artifact,
            TagKind::OpenAction => self.open_action,
            TagKind::CloseAction => self.close_action,
        }
    }
}

/// The outcome of looking at the bytes from a `<`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// The bytes so far could still become an allowed tag.
    NeedMore,
    /// The `<` does not start an allowed tag: it is text.
    NotTag,
    /// An allowed tag spans the first `len` bytes.
    Tag {
        kind: TagKind,
        len: usize,
        self_closing: bool,
    },
}

/// Longest tag, attributes included. A longer "tag" is text: a model that never closes a quote must not
/// swallow the rest of the reply.
pub(crate) const MAX_TAG_LEN: usize = 4096;
/// Most whitespace accepted between `<`, `/`, the tag name and `>`.
const MAX_GAP: usize = 16;

const ARTIFACT_NAME: &[u8] = b"boltartifact";
const ACTION_NAME: &[u8] = b"boltaction";

/// Decides whether `text`, which starts with `<`, starts a tag allowed here.
pub(crate) fn match_tag(text: &str, allowed: Allowed) -> Match {
    let bytes = text.as_bytes();
    debug_assert_eq!(bytes.first(), Some(&b'<'));
    // Byte-based on purpose: the limit must fall at the same place however the text was chunked.
    let bytes = &bytes[..bytes.len().min(MAX_TAG_LEN)];
    let need_more = if bytes.len() == MAX_TAG_LEN {
        Match::NotTag
    } else {
        Match::NeedMore
    };

    let Some(mut at) = skip_gap(bytes, 1) else {
        return Match::NotTag;
    };
    if at == bytes.len() {
        return need_more;
    }
    let closing = bytes[at] == b'/';
    if closing {
        let Some(after) = skip_gap(bytes, at + 1) else {
            return Match::NotTag;
        };
        at = after;
        if at == bytes.len() {
            return need_more;
        }
    }

    let candidates: [(TagKind, &[u8]); 2] = if closing {
        [
            (TagKind::CloseArtifact, ARTIFACT_NAME),
            (TagKind::CloseAction, ACTION_NAME),
        ]
    } else {
        [
            (TagKind::OpenArtifact, ARTIFACT_NAME),
            (TagKind::OpenAction, ACTION_NAME),
        ]
    };
    let mut could_grow = false;
    let mut found = None;
    for (kind, name) in candidates {
        if !allowed.permits(kind) {
            continue;
        }
        match prefix_ignore_case(&bytes[at..], name) {
            Prefix::Full => found = Some((kind, name.len())),
            Prefix::Partial => could_grow = true,
            Prefix::Mismatch => {}
        }
    }
    let Some((kind, name_len)) = found else {
        return if could_grow { need_more } else { Match::NotTag };
    };
    at += name_len;
    if at == bytes.len() {
        return need_more;
    }

    if closing {
        let Some(after) = skip_gap(bytes, at) else {
            return Match::NotTag;
        };
        return match bytes.get(after) {
            None => need_more,
            Some(b'>') => Match::Tag {
                kind,
                len: after + 1,
                self_closing: false,
            },
            Some(_) => Match::NotTag,
        };
    }

    // The name must end here: `<boltArtifacts` is not our tag.
    if !(is_space(bytes[at]) || bytes[at] == b'>' || bytes[at] == b'/') {
        return Match::NotTag;
    }
    match lex_attributes(bytes, at, |_, _| {}) {
        Some((len, self_closing)) => Match::Tag {
            kind,
            len,
            self_closing,
        },
        None => need_more,
    }
}

/// Calls `on_attribute(name, value)` for each attribute of a complete tag, in order. Values have their
/// quotes removed and character references decoded; an attribute without `=` has no value.
pub(crate) fn attributes(tag: &str, mut on_attribute: impl FnMut(&str, Option<Cow<'_, str>>)) {
    let bytes = tag.as_bytes();
    // Skip `<`, the gaps, and the name: attributes start at the first space after the name.
    let name_end = bytes
        .iter()
        .enumerate()
        .skip(1)
        .skip_while(|(_, byte)| is_space(**byte) || **byte == b'/')
        .find(|(_, byte)| !byte.is_ascii_alphabetic())
        .map_or(bytes.len(), |(index, _)| index);
    // The ranges end at ASCII delimiters, so slicing `tag` with them is always on char boundaries.
    lex_attributes(bytes, name_end, |name, value| {
        on_attribute(
            &tag[name],
            value.map(|value| decode_references(&tag[value])),
        );
    });
}

/// Reads attributes from `start` to the end of the tag, reporting the byte ranges of each name and
/// value. Returns the tag's length and whether it ends
/// with `/>`, or `None` when `text` ends first.
///
/// A quote opens a quoted value only right after `=`, so `title=it's` is the value `it's`, and `>` inside a
/// quoted value does not end the tag.
fn lex_attributes(
    bytes: &[u8],
    start: usize,
    mut on_attribute: impl FnMut(Range<usize>, Option<Range<usize>>),
) -> Option<(usize, bool)> {
    let mut at = start;
    loop {
        at = skip_spaces(bytes, at);
        match *bytes.get(at)? {
            b'>' => return Some((at + 1, false)),
            b'/' => {
                if *bytes.get(at + 1)? == b'>' {
                    return Some((at + 2, true));
                }
                at += 1;
                continue;
            }
            quote @ (b'"' | b'\'') => {
                // A stray quoted string where a name belongs: skip it whole.
                let close = memchr::memchr(quote, &bytes[at + 1..])?;
                at += close + 2;
                continue;
            }
            _ => {}
        }
        let name_start = at;
        while at < bytes.len() && !is_space(bytes[at]) && !matches!(bytes[at], b'=' | b'>' | b'/') {
            at += 1;
        }
        let name = name_start..at;
        at = skip_spaces(bytes, at);
        if *bytes.get(at)? != b'=' {
            on_attribute(name, None);
            continue;
        }
        at = skip_spaces(bytes, at + 1);
        let value = match *bytes.get(at)? {
            quote @ (b'"' | b'\'') => {
                let close = at + 1 + memchr::memchr(quote, &bytes[at + 1..])?;
                let value = at + 1..close;
                at = close + 1;
                value
            }
            _ => {
                let value_start = at;
                while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b'>' {
                    at += 1;
                }
                if at == bytes.len() {
                    return None;
                }
                value_start..at
            }
        };
        on_attribute(name, Some(value));
    }
}

/// Decodes the character references a model may put in an attribute value: the five XML entities and
/// numeric references. Anything else stays as written.
fn decode_references(value: &str) -> Cow<'_, str> {
    if !value.contains('&') {
        return Cow::Borrowed(value);
    }
    let mut decoded = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let reference = rest[1..]
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| Some((decode_reference(&rest[1..=semi])?, semi + 2)));
        match reference {
            Some((character, len)) => {
                decoded.push(character);
                rest = &rest[len..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    Cow::Owned(decoded)
}

fn decode_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

enum Prefix {
    Full,
    Partial,
    Mismatch,
}

/// Whether `name` (lowercase ASCII) starts `bytes`, ignoring ASCII case.
fn prefix_ignore_case(bytes: &[u8], name: &[u8]) -> Prefix {
    let common = bytes.len().min(name.len());
    if !bytes[..common].eq_ignore_ascii_case(&name[..common]) {
        Prefix::Mismatch
    } else if common == name.len() {
        Prefix::Full
    } else {
        Prefix::Partial
    }
}

/// Skips at most [`MAX_GAP`] bytes of whitespace from `at`; `None` when there are more.
fn skip_gap(bytes: &[u8], at: usize) -> Option<usize> {
    let end = skip_spaces(bytes, at);
    (end - at <= MAX_GAP).then_some(end)
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    at
}

pub(crate) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Allowed = Allowed {
        open_artifact: true,
        close_artifact: true,
        open_action: true,
        close_action: true,
    };

    fn check(text: &str, expected: Match) {
        assert_eq!(match_tag(text, ALL), expected, "{text:?}");
    }

    fn tag(kind: TagKind, len: usize) -> Match {
        Match::Tag {
            kind,
            len,
            self_closing: false,
        }
    }

    #[test]
    fn decides_from_the_bytes_after_the_lt() {
        check("<", Match::NeedMore);
        check("<bolt", Match::NeedMore);
        check("<boltArtifact", Match::NeedMore);
        check("<boltArtifact id=\"a", Match::NeedMore);
        check("<boltArtifact>", tag(TagKind::OpenArtifact, 14));
        check("< BOLTARTIFACT\n id='a'>x", tag(TagKind::OpenArtifact, 23));
        check(
            "<boltArtifact title=\"a > b\">",
            tag(TagKind::OpenArtifact, 28),
        );
        check("</boltAction >", tag(TagKind::CloseAction, 14));
        check("</ boltArtifact>", tag(TagKind::CloseArtifact, 16));
        check("<boltArtifacts>", Match::NotTag);
        check("<div>", Match::NotTag);
        check("<<", Match::NotTag);
        check("</boltAction x>", Match::NotTag);
        check(
            "<boltAction type=\"file\" filePath=\"a\"/>",
            Match::Tag {
                kind: TagKind::OpenAction,
                len: 38,
                self_closing: true,
            },
        );
    }

    #[test]
    fn a_runaway_tag_is_text() {
        let long = format!("<boltArtifact title=\"{}", "x".repeat(MAX_TAG_LEN));
        check(&long, Match::NotTag);
        check(&long[..MAX_TAG_LEN - 1], Match::NeedMore);
        let gap = format!("<{}boltArtifact>", " ".repeat(MAX_GAP + 1));
        check(&gap, Match::NotTag);
    }

    #[test]
    fn reads_attributes_in_any_order_and_quoting() {
        let mut seen = Vec::new();
        attributes(
            "<boltAction\n contentType=\"text/plain\" filePath='src/a b.ts' type=file flag title=\"&lt;x&#x3e; &amp;c &bogus;\">",
            |name, value| seen.push((name.to_owned(), value.map(Cow::into_owned))),
        );
        assert_eq!(
            seen,
            [
                ("contentType".into(), Some("text/plain".into())),
                ("filePath".into(), Some("src/a b.ts".into())),
                ("type".into(), Some("file".into())),
                ("flag".into(), None),
                ("title".into(), Some("<x> &c &bogus;".into())),
            ]
        );
    }
}
