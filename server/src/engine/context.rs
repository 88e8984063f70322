//! What the model sees of the workspace, within a token budget: the selection, files the prompt names
//! with `@path`, the editor's buffers (unsaved ones first), the project map (ranked definitions), the
//! file tree, and small files in rank order. Secrets are never sent.
//!
//! Each part may take a share of the budget; what a part leaves unused goes to the parts after it.

use crate::actions::files::resolve_in_workspace;
use crate::project::Snapshot;
use crate::project::index;
use crate::project::rank::{Focus, Ranking};
use crate::secrets::is_secret;
use crate::tokens;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the editor knows that the disk does not.
#[derive(Clone, Debug, Default)]
pub struct EditorContext {
    /// Open documents with their current (possibly unsaved) text, by path relative to the workspace.
    pub buffers: Vec<EditorBuffer>,
    pub selection: Option<Selection>,
}

#[derive(Clone, Debug)]
pub struct EditorBuffer {
    pub path: PathBuf,
    pub text: String,
    /// Whether the text differs from the file on disk.
    pub dirty: bool,
}

#[derive(Clone, Debug)]
pub struct Selection {
    pub path: PathBuf,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    pub text: String,
}

/// Limits on small files sent whole, besides the token budget.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_tree_entries: usize,
    pub max_file_bytes: usize,
    pub max_total_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_tree_entries: 400,
            max_file_bytes: 16 * 1024,
            max_total_bytes: 64 * 1024,
        }
    }
}

/// Everything a turn's context is made from.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub root: &'a Path,
    pub editor: &'a EditorContext,
    pub prompt: &'a str,
    /// The recent conversation's requests: their words help the ranking, less than the prompt's.
    pub recent: &'a str,
    /// Files the session wrote or read (relative).
    pub touched: &'a [String],
    /// The project map, if there is one.
    pub map: Option<&'a Snapshot>,
    pub limits: Budget,
    /// Tokens the whole context may take.
    pub tokens: usize,
}

/// The assembled context and what went into it.
#[derive(Debug, Default)]
pub struct Assembled {
    pub text: String,
    /// Files whose whole current content the model was shown: (relative path, that content).
    pub shown: Vec<(String, String)>,
    /// `@path` mentions that could not be attached, with why.
    pub refused: Vec<String>,
    /// The workspace's files as the request ranked them, best first (empty without a map).
    pub ranked: Vec<String>,
}

/// Shares of the budget (in percent) each part may take at most.
const SELECTION_SHARE: usize = 20;
const MENTIONS_SHARE: usize = 40;
const BUFFERS_SHARE: usize = 40;
const MAP_SHARE: usize = 30;
const MAP_MAX_TOKENS: usize = 8_192;
const TREE_SHARE: usize = 10;
/// The most relevant files shown whole or in part after the map, and the share they may take.
const TOP_FILES: usize = 3;
const TOP_FILES_SHARE: usize = 50;
/// The most one of them takes: a larger file is shown in part, and read in ranges when needed.
const TOP_FILE_TOKENS: usize = 4_000;
/// A file larger than this is never read for the context (the map describes it).
const MAX_TOP_FILE_BYTES: u64 = 1024 * 1024;
/// How many of the best-ranked files keep their directories unfolded in the file tree.
const TREE_EXPANDED_FILES: usize = 12;

/// The `@path` mentions of a prompt: `@` at the start or after whitespace, then a path; trailing
/// punctuation is not part of it.
pub fn mentions(prompt: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in prompt.split_whitespace() {
        let Some(path) = word.strip_prefix('@') else {
            continue;
        };
        let path = path.trim_end_matches([',', ';', ':', '!', '?', ')', '"', '\'', '`']);
        let path = path.strip_suffix('.').unwrap_or(path);
        if !path.is_empty()
            && (path.contains('.') || path.contains('/'))
            && !found.iter().any(|f| f == path)
        {
            found.push(path.to_owned());
        }
    }
    found
}

/// Builds the context.
pub fn assemble(inputs: &Inputs<'_>) -> Assembled {
    let total = inputs.tokens;
    let mut left = total;
    let mut out = Assembled::default();
    let share = |percent: usize, left: usize| (total * percent / 100).min(left);

    // The files, from the map when there is one (no second walk), else a walk.
    let (names, listed_total) = match inputs
        .map
        .filter(|map| !map.files.is_empty() || map.complete)
    {
        Some(map) => (
            map.files.keys().cloned().collect::<Vec<_>>(),
            map.files.len(),
        ),
        None => walk_names(inputs.root),
    };

    // 1. The selection.
    if let Some(selection) = &inputs.editor.selection
        && !is_secret(&selection.path)
    {
        let header = format!(
            "<selection path=\"{}\" lines=\"{}-{}\">\n",
            selection.path.display(),
            selection.start_line,
            selection.end_line
        );
        let (text, _) = cut_to(&selection.text, share(SELECTION_SHARE, left));
        let block = format!("{header}{text}\n</selection>\n");
        left = left.saturating_sub(tokens::estimate(&block));
        out.text.push_str(&block);
    }

    // 2. Files the prompt names with @path.
    let mut mentions_left = share(MENTIONS_SHARE, left);
    for mention in mentions(inputs.prompt) {
        let shown_already = out.shown.iter().any(|(name, _)| *name == mention);
        match read_mention(inputs.root, inputs.editor, &mention) {
            Ok(_) if shown_already => {}
            Ok(text) => {
                let (block, whole) = file_block(&mention, &text, None, mentions_left);
                if block.is_empty() {
                    out.refused.push(format!(
                        "@{mention}: too long for what is left of the context (its first line alone); ask for it to be read in parts"
                    ));
                    continue;
                }
                mentions_left = mentions_left.saturating_sub(tokens::estimate(&block));
                left = left.saturating_sub(tokens::estimate(&block));
                out.text.push_str(&block);
                if whole {
                    out.shown.push((mention, text));
                }
            }
            Err(reason) => out.refused.push(format!("@{mention}: {reason}")),
        }
    }

    // 3. The editor's buffers, unsaved first.
    let mut buffers: Vec<&EditorBuffer> = inputs.editor.buffers.iter().collect();
    buffers.sort_by_key(|buffer| !buffer.dirty);
    let mut buffers_left = share(BUFFERS_SHARE, left);
    for buffer in buffers {
        let name = buffer.path.to_string_lossy().replace('\\', "/");
        if is_secret(&buffer.path) || out.shown.iter().any(|(shown, _)| *shown == name) {
            continue;
        }
        let tag = if buffer.dirty { "unsaved" } else { "open" };
        let (block, whole) = file_block(&name, &buffer.text, Some(tag), buffers_left);
        if block.is_empty() {
            continue;
        }
        buffers_left = buffers_left.saturating_sub(tokens::estimate(&block));
        left = left.saturating_sub(tokens::estimate(&block));
        out.text.push_str(&block);
        if whole {
            out.shown.push((name, buffer.text.clone()));
        }
    }

    // 4. The project map.
    let focus = Focus {
        prompt: inputs.prompt.to_owned(),
        recent: inputs.recent.to_owned(),
        open: inputs
            .editor
            .buffers
            .iter()
            .map(|buffer| buffer.path.to_string_lossy().replace('\\', "/"))
            .collect(),
        selection: inputs
            .editor
            .selection
            .as_ref()
            .map(|selection| selection.path.to_string_lossy().replace('\\', "/")),
        touched: inputs.touched.to_vec(),
    };
    let mut ranking = Ranking::default();
    if let Some(map) = inputs.map
        && !map.files.is_empty()
    {
        let budget = share(MAP_SHARE, left).min(MAP_MAX_TOKENS);
        let (ranked, text) = map.render(&focus, budget.saturating_sub(40));
        ranking = ranked;
        out.ranked = ranking.files.iter().map(|(name, _)| name.clone()).collect();
        if !text.is_empty() {
            let note = if map.complete {
                ""
            } else {
                " partial=\"still mapping\""
            };
            let block = format!(
                "<map{note}>\nThe files that matter most for this request, with the lines that define their main symbols (line│ code):\n{text}</map>\n"
            );
            left = left.saturating_sub(tokens::estimate(&block));
            out.text.push_str(&block);
        }
    }

    // 5. The file tree: directories folded, except the branches that hold the ranked files.
    let mut tree = String::new();
    let _ = writeln!(tree, "<workspace root=\"{}\">", inputs.root.display());
    if names.is_empty() {
        tree.push_str("The workspace is empty.\n");
    } else {
        let tree_budget = share(TREE_SHARE, left).max(64);
        let hot: Vec<&str> = ranking
            .files
            .iter()
            .take(TREE_EXPANDED_FILES)
            .map(|(name, _)| name.as_str())
            .chain(ranking.focused.iter().map(String::as_str))
            .collect();
        let listed = folded_tree(&names, &hot, tree_budget, inputs.limits.max_tree_entries);
        let _ = writeln!(
            tree,
            "Files ({listed_total}; a folded directory shows how many files it holds):"
        );
        tree.push_str(&listed);
    }
    tree.push_str("</workspace>\n");
    left = left.saturating_sub(tokens::estimate(&tree));
    out.text.insert_str(0, &tree);

    // 6. The most relevant files, whole when they fit and in part otherwise.
    let mut top_left = share(TOP_FILES_SHARE, left);
    for (name, _) in ranking.files.iter().take(TOP_FILES) {
        if not_to_show(&out, inputs.editor, name) {
            continue;
        }
        let Some(text) = read_text(inputs.root, name, MAX_TOP_FILE_BYTES) else {
            continue;
        };
        let (block, whole) = file_block(name, &text, None, (top_left / 2).min(TOP_FILE_TOKENS));
        if block.is_empty() {
            continue;
        }
        let cost = tokens::estimate(&block);
        top_left = top_left.saturating_sub(cost);
        left = left.saturating_sub(cost);
        out.text.push_str(&block);
        if whole {
            out.shown.push((name.clone(), text));
        }
    }

    // 7. Small files, most relevant first, whole or not at all.
    let order: Vec<&String> = if ranking.files.is_empty() {
        names.iter().collect()
    } else {
        ranking.files.iter().map(|(name, _)| name).collect()
    };
    let mut spent_bytes = 0usize;
    for name in order {
        if not_to_show(&out, inputs.editor, name) {
            continue;
        }
        // Within the per-file limit and what is left of the total.
        let limit = inputs
            .limits
            .max_file_bytes
            .min(inputs.limits.max_total_bytes.saturating_sub(spent_bytes));
        let Some(text) = read_text(inputs.root, name, limit as u64) else {
            continue;
        };
        let block = format!("<file path=\"{name}\">\n{}\n</file>\n", text.trim_end());
        let cost = tokens::estimate(&block);
        if cost > left {
            continue;
        }
        left -= cost;
        spent_bytes += text.len();
        out.text.push_str(&block);
        out.shown.push((name.clone(), text));
    }
    out
}

/// A file for the context: whole when it fits in `budget`, else its first lines with a note saying how
/// to read on. The flag says it is whole.
fn file_block(name: &str, text: &str, editor: Option<&str>, budget: usize) -> (String, bool) {
    let header = match editor {
        Some(tag) => format!("<file path=\"{name}\" editor=\"{tag}\">\n"),
        None => format!("<file path=\"{name}\">\n"),
    };
    let (shown, whole) = cut_to(
        text.trim_end(),
        budget.saturating_sub(tokens::estimate(&header) + 30),
    );
    if shown.is_empty() && !text.trim().is_empty() {
        return (String::new(), false);
    }
    let mut block = header;
    block.push_str(shown);
    block.push('\n');
    if !whole {
        let shown_lines = shown.lines().count();
        let total_lines = text.lines().count();
        let _ = writeln!(
            block,
            "(lines 1-{shown_lines} of {total_lines}; read the rest with <boltAction type=\"read\" filePath=\"{name}\" lines=\"{}-{total_lines}\"/>)",
            shown_lines + 1
        );
    }
    block.push_str("</file>\n");
    (block, whole)
}

/// The prefix of `text` that fits in `budget` tokens, cut at a line; the flag says it is all of it.
fn cut_to(text: &str, budget: usize) -> (&str, bool) {
    let end = tokens::prefix_within(text, budget);
    (&text[..end], end == text.len())
}

/// What `@mention` holds: the editor's buffer when open, else the disk; refused outside the workspace,
/// for secrets, binary and missing files.
fn read_mention(root: &Path, editor: &EditorContext, mention: &str) -> Result<String, String> {
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let path = resolve_in_workspace(&canonical, mention).map_err(|error| error.to_string())?;
    if is_secret(Path::new(mention)) {
        return Err("secret files are never sent to the model".to_owned());
    }
    if let Some(buffer) = editor
        .buffers
        .iter()
        .find(|buffer| buffer.path == Path::new(mention))
    {
        return Ok(buffer.text.clone());
    }
    let bytes = std::fs::read(&path).map_err(|_| "no such file".to_owned())?;
    if bytes.contains(&0) {
        return Err("a binary file".to_owned());
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

/// Whether `name` is already in the context (shown, or an open buffer) or holds secrets.
fn not_to_show(out: &Assembled, editor: &EditorContext, name: &str) -> bool {
    out.shown.iter().any(|(shown, _)| shown == name)
        || is_secret(Path::new(name))
        || editor
            .buffers
            .iter()
            .any(|buffer| buffer.path == Path::new(name))
}

/// A text file of the workspace, when it is not larger than `limit` and is UTF-8 text.
fn read_text(root: &Path, name: &str, limit: u64) -> Option<String> {
    let metadata = std::fs::metadata(root.join(name)).ok()?;
    if metadata.len() > limit {
        return None;
    }
    let bytes = std::fs::read(root.join(name)).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// The file tree within `budget` tokens: every file when they all fit; else the files at the root and
/// in the directories that lead to a `hot` file, every other directory folded into one line
/// (`app/components/ (212 files)`). When even that is too long, directories are folded from the
/// deepest hot branch up; what still does not fit is cut.
pub fn folded_tree(names: &[String], hot: &[&str], budget: usize, max_entries: usize) -> String {
    let whole: usize = names.iter().map(|name| tokens::estimate(name) + 1).sum();
    if whole <= budget && names.len() <= max_entries {
        return names.iter().map(|name| format!("{name}\n")).collect();
    }
    let mut expanded: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for name in hot {
        let mut end = 0;
        while let Some(at) = name[end..].find('/') {
            end += at + 1;
            expanded.insert(&name[..end]);
        }
    }
    loop {
        let lines = tree_lines(names, &expanded);
        let cost: usize = lines.iter().map(|line| tokens::estimate(line) + 1).sum();
        if (cost <= budget && lines.len() <= max_entries) || expanded.is_empty() {
            let mut out = String::new();
            let mut spent = 0;
            for line in lines.iter().take(max_entries) {
                let cost = tokens::estimate(line) + 1;
                if spent + cost > budget {
                    let shown = out.lines().count();
                    let _ = writeln!(out, "… ({} more entries)", lines.len() - shown);
                    break;
                }
                spent += cost;
                out.push_str(line);
                out.push('\n');
            }
            return out;
        }
        // Fold the deepest expanded directory (the last of the longest).
        let deepest = expanded
            .iter()
            .max_by_key(|directory| (directory.matches('/').count(), directory.len()))
            .copied();
        if let Some(deepest) = deepest {
            expanded.remove(deepest);
        }
    }
}

/// The lines of the tree with `expanded` directories open (`names` sorted).
fn tree_lines(names: &[String], expanded: &std::collections::BTreeSet<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut index = 0;
    while index < names.len() {
        let name = &names[index];
        // The outermost directory of `name` that is folded, if any.
        let mut folded = None;
        let mut end = 0;
        while let Some(at) = name[end..].find('/') {
            end += at + 1;
            if !expanded.contains(&name[..end]) {
                folded = Some(&name[..end]);
                break;
            }
        }
        match folded {
            None => {
                lines.push(name.clone());
                index += 1;
            }
            Some(directory) => {
                let count = names[index..]
                    .iter()
                    .take_while(|other| other.starts_with(directory))
                    .count();
                lines.push(format!(
                    "{directory} ({count} file{})",
                    if count == 1 { "" } else { "s" }
                ));
                index += count;
            }
        }
    }
    lines
}

/// The workspace's files when there is no map: the map's walk, capped the same way.
fn walk_names(root: &Path) -> (Vec<String>, usize) {
    let walked = index::walk(root, &std::sync::atomic::AtomicBool::new(false));
    let names: Vec<String> = walked.files.into_iter().map(|(name, _, _)| name).collect();
    let total = names.len();
    (names, total)
}

#[cfg(test)]
mod tests;
