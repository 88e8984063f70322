//! Edit actions: SEARCH/REPLACE blocks applied to a file's current text, all or none.
//!
//! ```text
//! <<<<<<< SEARCH
//!     total += item.price * item.qty;
//! =======
//!     total += item.price * item.qty * (1 - (item.discount || 0));
//! >>>>>>> REPLACE
//! ```
//!
//! Matching is line by line; the first rule that finds a place wins: exact; then without blank lines at
//! the SEARCH text's edges that the file does not have there (the REPLACE text loses the same blank edge
//! lines, so the file neither gains nor loses blank lines the model did not mean); then ignoring trailing
//! whitespace and the line-ending style; then ignoring a uniform difference in leading indentation (the
//! replacement is re-indented by the same difference). The looser rules also try the SEARCH text
//! without its blank edges.
//!
//! The markers are read as models write them where that cannot be taken for content: five or more `<`
//! (or Cline's `-`) before `SEARCH`, five or more `>` (or Cline's `+`) before `REPLACE`, trailing spaces
//! ignored; the divider is a line of exactly seven or eight `=` inside a block (a Markdown `=====`
//! underline in SEARCH stays text). A SEARCH that matches in more than one place
//! fails, naming the lines of each; an empty SEARCH fails. Blocks apply in order to the text as changed
//! so far; if one fails, nothing is applied and the reason shows the closest region of the file with line
//! numbers. Replaced lines take the file's line ending (a CRLF file stays CRLF).

use super::{Runner, RunnerReport};
use std::fmt::Write as _;
use std::path::Path;

/// One SEARCH/REPLACE block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub search: Vec<String>,
    pub replace: Vec<String>,
}

impl Block {
    /// The block without the blank lines at its SEARCH text's edges, and as many blank lines at the same
    /// edges of its REPLACE text (where it has them); `None` when SEARCH has no blank edge.
    fn without_blank_edges(&self) -> Option<Block> {
        let blank = |line: &String| line.trim().is_empty();
        let head = self.search.iter().take_while(|line| blank(line)).count();
        if head == self.search.len() {
            return None;
        }
        let tail = self
            .search
            .iter()
            .rev()
            .take_while(|line| blank(line))
            .count();
        if head == 0 && tail == 0 {
            return None;
        }
        let replace_head = self
            .replace
            .iter()
            .take_while(|line| blank(line))
            .count()
            .min(head);
        let rest = &self.replace[replace_head..];
        let replace_tail = rest
            .iter()
            .rev()
            .take_while(|line| blank(line))
            .count()
            .min(tail);
        Some(Block {
            search: self.search[head..self.search.len() - tail].to_vec(),
            replace: rest[..rest.len() - replace_tail].to_vec(),
        })
    }
}

/// How a block found its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    Exact,
    /// Blank lines at the SEARCH text's edges that the file does not have dropped.
    BlankEdges,
    /// Trailing whitespace and line endings ignored.
    Whitespace,
    /// A uniform difference in leading indentation ignored.
    Indentation,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Exact => "exact",
            Rule::BlankEdges => "blank edges",
            Rule::Whitespace => "whitespace",
            Rule::Indentation => "indentation",
        }
    }
}

/// A successful edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub text: String,
    /// The loosest rule any block needed.
    pub rule: Rule,
    pub added: usize,
    pub removed: usize,
}

impl Applied {
    /// `+1 −1, exact`
    pub fn summary(&self) -> String {
        format!("+{} −{}, {}", self.added, self.removed, self.rule.as_str())
    }
}

/// Whether `line` is a marker: five or more of one of `symbols`, then `word` (spaces around it allowed).
fn is_marker(line: &str, symbols: [char; 2], word: &str) -> bool {
    let line = line.trim_end();
    symbols.iter().any(|symbol| {
        let run = line.chars().take_while(|c| c == symbol).count();
        run >= 5 && line[run..].trim() == word
    })
}

/// Whether `line` divides SEARCH from REPLACE: exactly seven or eight `=` (trailing spaces allowed).
fn is_divider(line: &str) -> bool {
    let line = line.trim_end();
    (7..=8).contains(&line.len()) && line.bytes().all(|byte| byte == b'=')
}

/// Reads the blocks of an edit action's body. Text outside blocks is ignored. The SEARCH and REPLACE
/// markers may have 5 or more `<` / `>` (Cline's `-` / `+` too); the divider is seven or eight `=`.
pub fn parse_blocks(body: &str) -> Result<Vec<Block>, String> {
    enum State {
        Outside,
        Search,
        Replace,
    }
    let mut blocks = Vec::new();
    let mut state = State::Outside;
    let mut search = Vec::new();
    let mut replace = Vec::new();
    for line in body.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match state {
            State::Outside => {
                if is_marker(line, ['<', '-'], "SEARCH") {
                    state = State::Search;
                }
            }
            State::Search => {
                // Seven or eight: a Markdown underline (`=====`) inside the SEARCH text is text.
                if is_divider(line) {
                    state = State::Replace;
                } else {
                    search.push(line.to_owned());
                }
            }
            State::Replace => {
                if is_marker(line, ['>', '+'], "REPLACE") {
                    blocks.push(Block {
                        search: std::mem::take(&mut search),
                        replace: std::mem::take(&mut replace),
                    });
                    state = State::Outside;
                } else {
                    replace.push(line.to_owned());
                }
            }
        }
    }
    if !matches!(state, State::Outside) {
        return Err(format!(
            "block {} is not closed: each block is <<<<<<< SEARCH, the lines to find, =======, the new lines, >>>>>>> REPLACE",
            blocks.len() + 1
        ));
    }
    if blocks.is_empty() {
        return Err("the edit has no <<<<<<< SEARCH … ======= … >>>>>>> REPLACE block".to_owned());
    }
    Ok(blocks)
}

/// A file's text as lines without their endings, each line's own ending kept (a mixed file stays mixed),
/// and the ending new lines take (the first line's).
struct Lines {
    lines: Vec<String>,
    endings: Vec<&'static str>,
    ending: &'static str,
}

impl Lines {
    fn split(text: &str) -> Lines {
        let mut lines = Vec::new();
        let mut endings = Vec::new();
        for piece in text.split_inclusive('\n') {
            let (line, ending) = if let Some(line) = piece.strip_suffix("\r\n") {
                (line, "\r\n")
            } else if let Some(line) = piece.strip_suffix('\n') {
                (line, "\n")
            } else {
                (piece, "")
            };
            lines.push(line.to_owned());
            endings.push(ending);
        }
        let ending = endings
            .iter()
            .find(|ending| !ending.is_empty())
            .copied()
            .unwrap_or("\n");
        Lines {
            lines,
            endings,
            ending,
        }
    }

    /// Replaces lines `range` with `replacement`: new lines take the file's ending; the last one keeps
    /// the ending of the last line replaced (so a file without a final line break stays without).
    fn splice(&mut self, range: std::ops::Range<usize>, replacement: Vec<String>) {
        let last_ending = self.endings[range.end - 1];
        let count = replacement.len();
        let mut endings: Vec<&'static str> = vec![self.ending; count];
        if let Some(last) = endings.last_mut() {
            *last = last_ending;
        }
        let through_the_end = range.end == self.lines.len();
        self.lines.splice(range.clone(), replacement);
        self.endings.splice(range.clone(), endings);
        // Lines deleted through the end of a file without a final line break: the new last line goes
        // without one too.
        if count == 0
            && through_the_end
            && last_ending.is_empty()
            && let Some(last) = self.endings.last_mut()
        {
            *last = "";
        }
    }

    fn join(&self) -> String {
        let mut text = String::new();
        for (line, ending) in self.lines.iter().zip(&self.endings) {
            text.push_str(line);
            text.push_str(ending);
        }
        text
    }
}

fn leading(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Where `search` matches `lines` under `rule`: each place's first line, and for the indentation rule
/// how to re-indent (the file's indentation minus the block's, or the other way round).
fn places(lines: &[String], search: &[String], rule: Rule) -> Vec<(usize, Reindent)> {
    let count = search.len();
    if count == 0 || count > lines.len() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for start in 0..=lines.len() - count {
        let window = &lines[start..start + count];
        let matched = match rule {
            Rule::Exact | Rule::BlankEdges => window
                .iter()
                .zip(search)
                .all(|(a, b)| a == b)
                .then_some(Reindent::None),
            Rule::Whitespace => window
                .iter()
                .zip(search)
                .all(|(a, b)| a.trim_end() == b.trim_end())
                .then_some(Reindent::None),
            Rule::Indentation => reindent_between(window, search),
        };
        if let Some(reindent) = matched {
            found.push((start, reindent));
        }
    }
    found
}

/// How a block's lines are shifted to the file's indentation.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reindent {
    None,
    /// The file has this much more indentation than the block.
    Add(String),
    /// The file has this much less.
    Remove(String),
}

/// Whether `window` (file lines) equals `search` up to one uniform difference of leading whitespace.
fn reindent_between(window: &[String], search: &[String]) -> Option<Reindent> {
    let mut difference: Option<Reindent> = None;
    for (file, block) in window.iter().zip(search) {
        let (file, block) = (file.trim_end(), block.trim_end());
        if file.is_empty() && block.is_empty() {
            continue;
        }
        if file.trim_start() != block.trim_start() {
            return None;
        }
        let (file_indent, block_indent) = (leading(file), leading(block));
        let this = if let Some(extra) = file_indent.strip_suffix(block_indent) {
            if extra.is_empty() {
                Reindent::None
            } else {
                Reindent::Add(extra.to_owned())
            }
        } else if let Some(extra) = block_indent.strip_suffix(file_indent) {
            Reindent::Remove(extra.to_owned())
        } else {
            return None;
        };
        match &difference {
            None => difference = Some(this),
            Some(known) if *known == this => {}
            Some(_) => return None,
        }
    }
    difference
}

fn reindented(line: &str, reindent: &Reindent) -> String {
    match reindent {
        Reindent::None => line.to_owned(),
        Reindent::Add(_) if line.trim().is_empty() => line.to_owned(),
        Reindent::Add(extra) => format!("{extra}{line}"),
        Reindent::Remove(extra) => line.strip_prefix(extra.as_str()).unwrap_or(line).to_owned(),
    }
}

/// How alike two lines are, 0 to 1 (characters in common, in order), ignoring indentation.
fn likeness(a: &str, b: &str) -> f32 {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(std::time::Duration::from_millis(1))
        .diff_chars(a, b)
        .ratio()
}

/// Likeness is computed for at most this many (file line, block line) pairs when a block fails; beyond
/// it (a long file, a long block), lines are only compared whole.
const FUZZY_PAIRS: usize = 20_000;

/// The file's region most like `search`, numbered, for a failure the model can retry from.
fn closest_region(lines: &[String], search: &[String]) -> String {
    let wanted: Vec<&String> = search
        .iter()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let count = search.len().max(1);
    let fuzzy = lines.len().saturating_mul(wanted.len()) <= FUZZY_PAIRS;
    // Each file line's best likeness to a line of the block.
    let scores: Vec<f32> = lines
        .iter()
        .map(|line| {
            wanted
                .iter()
                .map(|want| {
                    if fuzzy {
                        likeness(line, want)
                    } else {
                        f32::from(u8::from(line.trim() == want.trim()))
                    }
                })
                .fold(0.0, f32::max)
        })
        .collect();
    let mut best = (0usize, 0.0f32);
    for start in 0..lines.len() {
        let end = (start + count).min(lines.len());
        let score: f32 = scores[start..end].iter().sum();
        if score > best.1 {
            best = (start, score);
        }
    }
    if best.1 < 0.5 {
        return "nothing in the file resembles the SEARCH text".to_owned();
    }
    let from = best.0.saturating_sub(2);
    let to = (best.0 + count + 2).min(lines.len());
    let width = to.to_string().len();
    let mut out = format!("the closest lines of the file ({}-{}):\n", from + 1, to);
    for (number, line) in lines.iter().enumerate().take(to).skip(from) {
        let _ = writeln!(out, "{:>width$}│ {line}", number + 1);
    }
    out
}

/// Applies `blocks` to `text` in order, all or none.
pub fn apply(text: &str, blocks: &[Block]) -> Result<Applied, String> {
    let mut file = Lines::split(text);
    let mut loosest = Rule::Exact;
    let mut added = 0;
    let mut removed = 0;
    for (index, block) in blocks.iter().enumerate() {
        let number = index + 1;
        if block.search.iter().all(|line| line.trim().is_empty()) {
            return Err(format!(
                "block {number} has an empty SEARCH: an edit changes lines that exist (create a file with a file action)"
            ));
        }
        let trimmed = block.without_blank_edges();
        let mut chosen = None;
        'ladder: for rule in [
            Rule::Exact,
            Rule::BlankEdges,
            Rule::Whitespace,
            Rule::Indentation,
        ] {
            // Each rule past the exact one also tries the SEARCH text without its blank edges.
            let candidates: Vec<&Block> = match (rule, trimmed.as_ref()) {
                (Rule::Exact, _) => vec![block],
                (Rule::BlankEdges, Some(trimmed)) => vec![trimmed],
                (Rule::BlankEdges, None) => Vec::new(),
                (_, Some(trimmed)) => vec![block, trimmed],
                (_, None) => vec![block],
            };
            for candidate in candidates {
                let found = places(&file.lines, &candidate.search, rule);
                match found.len() {
                    0 => continue,
                    1 => {
                        let place = found.into_iter().next().expect("one place");
                        chosen = Some((rule, place, candidate));
                        break 'ladder;
                    }
                    _ => {
                        let lines: Vec<String> = found
                            .iter()
                            .map(|(start, _)| {
                                format!("{}-{}", start + 1, start + candidate.search.len())
                            })
                            .collect();
                        return Err(format!(
                            "block {number}: the SEARCH text is in {} places (lines {}); make it unique with more lines around the change",
                            found.len(),
                            lines.join(", ")
                        ));
                    }
                }
            }
        }
        let Some((rule, (start, reindent), block)) = chosen else {
            return Err(format!(
                "block {number}: the SEARCH text is not in the file (after the blocks before it); {}",
                closest_region(&file.lines, &block.search)
            ));
        };
        loosest = loosest.max(rule);
        let replacement: Vec<String> = block
            .replace
            .iter()
            .map(|line| reindented(line, &reindent))
            .collect();
        let old = &file.lines[start..start + block.search.len()];
        let common_head = old
            .iter()
            .zip(&replacement)
            .take_while(|(a, b)| a == b)
            .count();
        let common_tail = old[common_head..]
            .iter()
            .rev()
            .zip(replacement[common_head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        removed += old.len() - common_head - common_tail;
        added += replacement.len() - common_head - common_tail;
        file.splice(start..start + block.search.len(), replacement);
    }
    Ok(Applied {
        text: file.join(),
        rule: loosest,
        added,
        removed,
    })
}

/// Whether a `file` body stands in for code it leaves out: a comment like `// ... existing code ...` or
/// `# rest of the file unchanged`. The line is returned to name it.
pub fn placeholder(content: &str) -> Option<&str> {
    const MARKERS: [&str; 6] = ["//", "#", "/*", "<!--", "--", "*"];
    const WORDS: [&str; 8] = [
        "existing code",
        "rest of the",
        "rest of file",
        "unchanged",
        "remains the same",
        "same as before",
        "previous code",
        "code omitted",
    ];
    content.lines().find(|line| {
        let trimmed = line.trim();
        let Some(marker) = MARKERS.iter().find(|marker| trimmed.starts_with(**marker)) else {
            return false;
        };
        let comment = trimmed[marker.len()..].to_lowercase();
        let elided = comment.contains("...") || comment.contains('…');
        WORDS.iter().any(|word| comment.contains(word))
            && (elided || comment.contains("rest of the") || comment.contains("existing code"))
    })
}

impl Runner {
    /// An edit action: its blocks applied to the file as the user sees it (the editor's buffer when
    /// open, the user's unsaved changes elsewhere kept), all or none.
    pub(super) async fn edit(
        &mut self,
        path: &Path,
        relative: &str,
        body: &str,
        report: &mut RunnerReport,
    ) -> Result<(Option<String>, String), String> {
        let Some(current) = crate::blocking(|| self.writer.current(path)) else {
            return Err(format!(
                "{relative} does not exist: an edit changes an existing file (create one with a file action)"
            ));
        };
        if super::files::is_binary(&current) {
            return Err(format!("{relative} is a binary file"));
        }
        let before =
            String::from_utf8(current).map_err(|_| format!("{relative} is not UTF-8 text"))?;
        let blocks = parse_blocks(body)?;
        // Matching (and, when it fails, finding the closest lines) reads the whole file.
        let applied = crate::blocking(|| apply(&before, &blocks))
            .map_err(|reason| format!("nothing was changed in {relative}: {reason}"))?;
        Self::remember_previous(path, Some(before.as_bytes()), report);
        let note = self
            .writer
            .edit(path, &before, &applied.text)
            .await
            .map_err(|error| format!("cannot edit {relative}: {error}"))?;
        // Whoever saw the file whole before the edit knows it after.
        if self.seen.has_seen(path, before.as_bytes()) {
            self.seen.saw(path, applied.text.as_bytes());
        }
        let mut summary = applied.summary();
        if let Some(note) = note {
            summary.push_str(&format!("; {note}"));
        }
        Ok((Some(summary), applied.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised_and_ordinary_comments_are_not() {
        assert!(placeholder("a();\n// ... existing code ...\nb();\n").is_some());
        assert!(placeholder("x = 1\n# rest of the file unchanged\n").is_some());
        assert!(placeholder("<!-- … rest of the page … -->\n").is_some());
        assert!(placeholder("/* ...unchanged... */").is_some());
        assert!(placeholder("// compute the rest\n// unchanged inputs are cached\n").is_none());
        assert!(placeholder("const s = '...';\n").is_none());
    }
}
