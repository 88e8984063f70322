//! Every conversion between LSP positions and rope offsets. Nothing else in the server computes a
//! position.
//!
//! LSP lines end at `\n`, `\r\n` or a lone `\r` — ropey's `cr_lines` feature breaks lines at the same
//! places (and, with `unicode_lines` off, nowhere else). A `character` counts UTF-16 code units unless
//! UTF-8 was negotiated. A character offset past the end of its line means the end of the line (before
//! the line break); a line past the end of the document means the end of the document; an offset inside
//! a character (half a surrogate pair, the middle of a UTF-8 sequence) means the start of that character.

use ropey::{Rope, RopeSlice};
use tower_lsp_server::ls_types::{Position, PositionEncodingKind, Range};

/// How `Position::character` counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    Utf16,
    Utf8,
}

impl Encoding {
    /// UTF-8 when the client offers it (cheaper for us and exact for Rust strings), else UTF-16, which
    /// every client must support.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf8 => PositionEncodingKind::UTF8,
        }
    }
}

/// The number of chars of the line break that ends `line` (0 for the last line).
fn line_break_chars(line: RopeSlice<'_>) -> usize {
    let length = line.len_chars();
    if length >= 2 && line.char(length - 2) == '\r' && line.char(length - 1) == '\n' {
        2
    } else if length >= 1 && matches!(line.char(length - 1), '\n' | '\r') {
        1
    } else {
        0
    }
}

/// The char index of `position` in `rope`.
pub fn to_char(rope: &Rope, position: Position, encoding: Encoding) -> usize {
    let line_index = position.line as usize;
    if line_index >= rope.len_lines() {
        return rope.len_chars();
    }
    let line = rope.line(line_index);
    let line_start = rope.line_to_char(line_index);
    let content_chars = line.len_chars() - line_break_chars(line);
    let wanted = position.character as usize;
    let offset = match encoding {
        Encoding::Utf16 => {
            let content_units = line.char_to_utf16_cu(content_chars);
            line.utf16_cu_to_char(wanted.min(content_units))
        }
        Encoding::Utf8 => {
            let content_bytes = line.char_to_byte(content_chars);
            line.byte_to_char(wanted.min(content_bytes))
        }
    };
    line_start + offset
}

/// The position of the char index `index` in `rope`.
pub fn to_position(rope: &Rope, index: usize, encoding: Encoding) -> Position {
    let index = index.min(rope.len_chars());
    let line_index = rope.char_to_line(index);
    let line = rope.line(line_index);
    let in_line = index - rope.line_to_char(line_index);
    let character = match encoding {
        Encoding::Utf16 => line.char_to_utf16_cu(in_line),
        Encoding::Utf8 => line.char_to_byte(in_line),
    };
    Position {
        line: u32::try_from(line_index).unwrap_or(u32::MAX),
        character: u32::try_from(character).unwrap_or(u32::MAX),
    }
}

/// The range covering all of `rope`.
pub fn whole(rope: &Rope, encoding: Encoding) -> Range {
    Range {
        start: Position {
            line: 0,
            character: 0,
        },
        end: to_position(rope, rope.len_chars(), encoding),
    }
}

/// Replaces `range` with `text` (a `didChange` content change), start and end ordered.
pub fn apply_change(rope: &mut Rope, range: Range, text: &str, encoding: Encoding) {
    let start = to_char(rope, range.start, encoding);
    let end = to_char(rope, range.end, encoding);
    let (start, end) = (start.min(end), start.max(end));
    rope.remove(start..end);
    rope.insert(start, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn utf16_counts_surrogate_pairs_twice_and_utf8_counts_bytes() {
        let rope = Rope::from_str("a🦀b日\nx");
        // a(1) 🦀(2 units, 4 bytes) b(1) 日(1 unit, 3 bytes)
        assert_eq!(to_char(&rope, position(0, 3), Encoding::Utf16), 2);
        assert_eq!(to_char(&rope, position(0, 5), Encoding::Utf8), 2);
        assert_eq!(to_char(&rope, position(0, 4), Encoding::Utf16), 3);
        assert_eq!(to_char(&rope, position(0, 9), Encoding::Utf8), 4);
        assert_eq!(to_position(&rope, 4, Encoding::Utf16), position(0, 5));
        assert_eq!(to_position(&rope, 4, Encoding::Utf8), position(0, 9));
        // Half a surrogate pair, or inside a UTF-8 sequence: the start of that character.
        assert_eq!(to_char(&rope, position(0, 2), Encoding::Utf16), 1);
        assert_eq!(to_char(&rope, position(0, 3), Encoding::Utf8), 1);
    }

    #[test]
    fn every_line_break_kind_ends_a_line_and_offsets_past_it_clamp() {
        let rope = Rope::from_str("crlf\r\nlone\rlf\nlast");
        assert_eq!(rope.len_lines(), 4);
        for encoding in [Encoding::Utf16, Encoding::Utf8] {
            assert_eq!(to_char(&rope, position(1, 0), encoding), 6);
            assert_eq!(to_char(&rope, position(2, 0), encoding), 11);
            assert_eq!(to_char(&rope, position(3, 2), encoding), 16);
            // Past the end of a line: before its break, never between \r and \n.
            assert_eq!(to_char(&rope, position(0, 99), encoding), 4);
            assert_eq!(to_char(&rope, position(1, 99), encoding), 10);
            // Past the last line: the end.
            assert_eq!(to_char(&rope, position(9, 0), encoding), rope.len_chars());
            assert_eq!(
                to_position(&rope, rope.len_chars(), encoding),
                position(3, 4)
            );
            assert_eq!(whole(&rope, encoding).end, position(3, 4));
        }
    }

    #[test]
    fn other_unicode_line_separators_are_not_line_breaks() {
        let rope = Rope::from_str("a\u{2028}b\u{85}c\u{b}d\u{c}e\nf");
        assert_eq!(rope.len_lines(), 2);
        assert_eq!(to_char(&rope, position(1, 0), Encoding::Utf16), 10);
    }

    #[test]
    fn changes_apply_in_either_encoding() {
        let mut rope = Rope::from_str("héllo 🦀 wörld\r\nnext");
        apply_change(
            &mut rope,
            Range {
                start: position(0, 6),
                end: position(0, 8),
            },
            "crab",
            Encoding::Utf16,
        );
        assert_eq!(rope.to_string(), "héllo crab wörld\r\nnext");
        apply_change(
            &mut rope,
            Range {
                start: position(0, 12),
                end: position(1, 0),
            },
            "",
            Encoding::Utf8,
        );
        assert_eq!(rope.to_string(), "héllo crab next");
        // A reversed range is treated as ordered.
        apply_change(
            &mut rope,
            Range {
                start: position(0, 3),
                end: position(0, 1),
            },
            "E",
            Encoding::Utf16,
        );
        assert_eq!(rope.to_string(), "hElo crab next");
    }
}
