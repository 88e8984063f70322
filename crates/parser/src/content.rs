//! Normalising an action's body into its final content when the action closes.

use crate::ActionKind;
use std::ops::Range;

/// Normalises `body` in place and returns where the content starts: the content is `&body[start..]`.
///
/// The rules are in the crate documentation, "Content"; this function is their only implementation.
pub(crate) fn normalize(kind: &ActionKind, body: &mut String) -> usize {
    let text = body.as_str();
    let mut range = 0..trim_end(text, 0);

    // One leading blank line goes: the line break right after the opening tag.
    if let Some(newline) = memchr::memchr(b'\n', text[range.clone()].as_bytes())
        && is_blank(&text[..newline])
    {
        range.start = newline + 1;
    }

    if let Some(inner) = unwrap_fence(&text[range.clone()]) {
        let offset = range.start;
        range = offset + inner.start..offset + inner.end;
        range.end = trim_end(&text[..range.end], range.start);
    }

    let newline = match kind {
        // An edit's body is raw lines too (its SEARCH text may be indented).
        ActionKind::File | ActionKind::Edit => {
            let crlf =
                memchr::memchr(b'\n', text[range.clone()].as_bytes()).is_some_and(|newline| {
                    newline > 0 && text.as_bytes()[range.start + newline - 1] == b'\r'
                });
            (!range.is_empty()).then_some(if crlf { "\r\n" } else { "\n" })
        }
        // A command's indentation means nothing.
        _ => {
            range.start = range.end - text[range.clone()].trim_start().len();
            None
        }
    };

    body.truncate(range.end);
    if let Some(newline) = newline {
        body.push_str(newline);
    }
    range.start
}

/// The end of `text` with trailing blank space (spaces, tabs, line breaks) removed, but not before `start`.
fn trim_end(text: &str, start: usize) -> usize {
    start
        + text[start..]
            .trim_end_matches([' ', '\t', '\r', '\n'])
            .len()
}

fn is_blank(line: &str) -> bool {
    line.bytes()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\r'))
}

/// If `text` (already trimmed at its end) is one fenced code block and nothing else but blank lines
/// before it, returns the range of the block's inner text.
///
/// The block's first line is a fence of three or more backticks or tildes, with an optional info string;
/// its last line is a bare fence of the same character, at least as long. Fences inside must balance: a
/// fence with an info string opens a nested block and a bare one closes it, so a README that merely
/// starts and ends with separate code blocks is left alone.
fn unwrap_fence(text: &str) -> Option<Range<usize>> {
    let mut lines = Lines { text, at: 0 };
    let (open_line, _) = lines.by_ref().find(|(line, _)| !is_blank(line))?;
    let (fence_char, open_len, _) = fence(open_line)?;
    let inner_start = lines.at;
    let last_start = text.rfind('\n').map_or(0, |newline| newline + 1);
    if last_start < inner_start {
        return None;
    }
    match fence(&text[last_start..]) {
        Some((character, len, "")) if character == fence_char && len >= open_len => {}
        _ => return None,
    }

    let mut depth = 0usize;
    let inner = Lines {
        text: &text[..last_start],
        at: inner_start,
    };
    for (line, _) in inner {
        let Some((character, len, info)) = fence(line) else {
            continue;
        };
        if character != fence_char {
            continue;
        }
        if !info.is_empty() {
            depth += 1;
        } else if depth > 0 {
            depth -= 1;
        } else if len >= open_len {
            // This bare fence closes the outer block before the end.
            return None;
        } else {
            depth += 1;
        }
    }
    Some(inner_start..last_start)
}

/// A fence line: its character, the run's length and the info string after it (trimmed).
fn fence(line: &str) -> Option<(u8, usize, &str)> {
    let line = line
        .trim_start_matches([' ', '\t'])
        .trim_end_matches([' ', '\t', '\r']);
    let character = *line.as_bytes().first()?;
    if character != b'`' && character != b'~' {
        return None;
    }
    let len = line.bytes().take_while(|&byte| byte == character).count();
    let info = line[len..].trim();
    // CommonMark: a backtick fence's info string has no backtick (else it is inline code).
    (len >= 3 && !(character == b'`' && info.contains('`'))).then_some((character, len, info))
}

/// Lines of `text` from `at`, each without its `\n`, with the offset where it starts.
struct Lines<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.text.len() {
            return None;
        }
        let start = self.at;
        let rest = &self.text[start..];
        let line = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(newline) => {
                self.at = start + newline + 1;
                &rest[..newline]
            }
            None => {
                self.at = self.text.len();
                rest
            }
        };
        Some((line, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: ActionKind, body: &str, expected: &str) {
        let mut owned = body.to_owned();
        let start = normalize(&kind, &mut owned);
        assert_eq!(&owned[start..], expected, "{body:?}");
    }

    #[test]
    fn files_lose_one_leading_blank_line_and_trailing_space_and_end_with_one_newline() {
        check(ActionKind::File, "\n  indented\n\n  \n", "  indented\n");
        check(ActionKind::File, "\n\nsecond\n", "\nsecond\n");
        check(ActionKind::File, "  \r\na\r\nb\r\n\r\n", "a\r\nb\r\n");
        check(ActionKind::File, "same line", "same line\n");
        check(ActionKind::File, "\n \n\t", "");
        check(ActionKind::File, "", "");
    }

    #[test]
    fn one_wrapping_fence_is_unwrapped() {
        check(
            ActionKind::File,
            "\n```tsx\n  <App />\n```\n",
            "  <App />\n",
        );
        check(ActionKind::File, "\n\n~~~~\na\n~~~~~", "a\n");
        check(
            ActionKind::File,
            "```markdown\n# T\n```bash\nnpm i\n```\n```\n",
            "# T\n```bash\nnpm i\n```\n",
        );
        check(
            ActionKind::Shell,
            "\n```bash\n  npm install\n```\n",
            "npm install",
        );
        check(ActionKind::File, "```\n```", "");
    }

    #[test]
    fn text_that_is_not_one_block_keeps_its_fences() {
        let readme = "```bash\nnpm i\n```\n\ntext\n\n```bash\nnpm start\n```";
        check(ActionKind::File, readme, &format!("{readme}\n"));
        check(ActionKind::File, "```js\nunclosed\n", "```js\nunclosed\n");
        check(ActionKind::File, "```js\n```tsx", "```js\n```tsx\n");
        check(ActionKind::File, "```", "```\n");
        check(
            ActionKind::Edit,
            "\n```\n<<<<<<< SEARCH\n    a\n=======\n    b\n>>>>>>> REPLACE\n```\n",
            "<<<<<<< SEARCH\n    a\n=======\n    b\n>>>>>>> REPLACE\n",
        );
        check(ActionKind::File, "```a`b\nx\n```", "```a`b\nx\n```\n");
    }

    #[test]
    fn commands_are_trimmed_both_ends() {
        check(
            ActionKind::Shell,
            "\n    npm install && npm run build\n  ",
            "npm install && npm run build",
        );
        check(ActionKind::Start, "npm run dev", "npm run dev");
    }
}
