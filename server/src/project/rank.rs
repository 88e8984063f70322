//! Which files and definitions matter for a request: personalized PageRank over the graph of
//! references → definitions.
//!
//! Each file is a node. A file that uses a name another file defines gets an edge to it, weighted by
//! how often it uses it (square root, so one hot loop does not dominate), by the name (names the prompt
//! mentions ×10, long specific names ×3, private `_names` ×0.1, names defined in many files ×0.1), and
//! shared between the name's definers. PageRank is the stationary distribution of a walk that follows
//! edges with probability 0.85 and otherwise jumps — not uniformly, but to the files the request is
//! about: those the prompt names by path, those that define or use a name the prompt mentions, the
//! editor's open buffers and selection, and the files this session touched. So a named symbol's file,
//! its callers (they use the name) and its callees (the walk flows on from it) come first.
//!
//! PageRank rather than counting references: it is principled (a file matters when files that matter
//! use it), needs no tuning beyond the damping factor, and converges in a few dozen sparse iterations
//! (≈ 2 ms for 2,000 files). Each definition then gets a share of its file's referrers' rank along the
//! edges that name it, which orders the definitions within a file.

use super::index::Files;
use std::collections::{BTreeSet, HashMap};

/// What the request is about.
#[derive(Clone, Debug, Default)]
pub struct Focus {
    /// Identifiers and paths in the prompt (the raw words; matched against the index).
    pub prompt: String,
    /// Files open in the editor (relative names), the selection's file first if there is one.
    pub open: Vec<String>,
    pub selection: Option<String>,
    /// Files the session wrote or read.
    pub touched: Vec<String>,
}

/// A ranked definition: the file, the index of the definition in the file's list, its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub file: String,
    pub definition: usize,
    pub score: f64,
}

/// The ranking of an index for a focus.
#[derive(Clone, Debug, Default)]
pub struct Ranking {
    /// Files, most relevant first, with their rank (they sum to 1).
    pub files: Vec<(String, f64)>,
    /// Definitions, most relevant first: a file's best definition scores its file's rank, its second
    /// half of it, and so on, so that important files show more of their definitions.
    pub definitions: Vec<Ranked>,
    /// Files the focus names (by path, open, selected or touched): shown even without definitions.
    pub focused: BTreeSet<String>,
}

const DAMPING: f64 = 0.85;
const ITERATIONS: usize = 60;
const TOLERANCE: f64 = 1e-9;

/// The identifiers of a prompt: words of letters, digits, `_` and `$`, three characters or more.
pub fn identifiers(prompt: &str) -> BTreeSet<&str> {
    prompt
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|word| word.len() >= 3)
        .collect()
}

/// Files the prompt names: by relative path, or by file name when it is distinctive (has an extension
/// and is not one of many files of that name).
fn named_files<'a>(prompt: &str, files: &'a Files) -> Vec<&'a str> {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for name in files.keys() {
        *by_name.entry(file_name(name)).or_default() += 1;
    }
    files
        .keys()
        .filter(|path| {
            let name = file_name(path);
            contains_word(prompt, path)
                || (name.contains('.')
                    && by_name.get(name) == Some(&1)
                    && contains_word(prompt, name))
        })
        .map(String::as_str)
        .collect()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `needle` occurs in `haystack` not as part of a longer path or word.
fn contains_word(haystack: &str, needle: &str) -> bool {
    let is_part = |c: char| c.is_alphanumeric() || c == '_' || c == '/' || c == '.' || c == '-';
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(|c| is_part(c) && c != '@')
            && !after.is_some_and(|c| is_part(c) && c != '.')
    })
}

/// Ranks `files` for `focus`.
pub fn rank(files: &Files, focus: &Focus) -> Ranking {
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let count = names.len();
    if count == 0 {
        return Ranking::default();
    }
    let index_of: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(index, name)| (*name, index))
        .collect();
    let entries: Vec<_> = files.values().collect();

    // Who defines each name.
    let mut definers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (file, entry) in entries.iter().enumerate() {
        for definition in &entry.definitions {
            let list = definers.entry(definition.name.as_str()).or_default();
            if list.last() != Some(&file) {
                list.push(file);
            }
        }
    }
    let mentioned = identifiers(&focus.prompt);

    // Personalization: where the walk restarts.
    let mut restart = vec![0.0f64; count];
    let mut focused = BTreeSet::new();
    let mut favour = |name: &str, weight: f64, restart: &mut Vec<f64>| {
        if let Some(&file) = index_of.get(name) {
            restart[file] += weight;
            focused.insert(name.to_owned());
        }
    };
    for name in named_files(&focus.prompt, files) {
        favour(name, 10.0, &mut restart);
    }
    if let Some(selection) = &focus.selection {
        favour(selection, 5.0, &mut restart);
    }
    for name in &focus.open {
        favour(name, 3.0, &mut restart);
    }
    for name in &focus.touched {
        favour(name, 2.0, &mut restart);
    }
    for identifier in &mentioned {
        if let Some(list) = definers.get(identifier) {
            for &file in list {
                restart[file] += 10.0 / list.len() as f64;
            }
        }
    }
    for (file, entry) in entries.iter().enumerate() {
        if entry.references.iter().any(|(name, _)| {
            mentioned.contains(name.as_str()) && definers.contains_key(name.as_str())
        }) {
            restart[file] += 3.0;
        }
    }
    let total: f64 = restart.iter().sum();
    if total > 0.0 {
        restart.iter_mut().for_each(|weight| *weight /= total);
    } else {
        restart
            .iter_mut()
            .for_each(|weight| *weight = 1.0 / count as f64);
    }

    // Edges: (from, to, weight, name).
    let mut edges: Vec<(usize, usize, f64, &str)> = Vec::new();
    for (from, entry) in entries.iter().enumerate() {
        for (name, uses) in &entry.references {
            let Some(list) = definers.get(name.as_str()) else {
                continue;
            };
            let mut weight = f64::from(*uses).sqrt() * name_weight(name, list.len(), &mentioned);
            weight /= list.len() as f64;
            for &to in list {
                if to != from {
                    edges.push((from, to, weight, name.as_str()));
                }
            }
        }
    }
    let mut out_weight = vec![0.0f64; count];
    for &(from, _, weight, _) in &edges {
        out_weight[from] += weight;
    }

    let mut rank = restart.clone();
    for _ in 0..ITERATIONS {
        let dangling: f64 = (0..count)
            .filter(|&file| out_weight[file] == 0.0)
            .map(|file| rank[file])
            .sum();
        let mut next: Vec<f64> = restart
            .iter()
            .map(|weight| (1.0 - DAMPING + DAMPING * dangling) * weight)
            .collect();
        for &(from, to, weight, _) in &edges {
            next[to] += DAMPING * rank[from] * weight / out_weight[from];
        }
        let change: f64 = next
            .iter()
            .zip(&rank)
            .map(|(new, old)| (new - old).abs())
            .sum();
        rank = next;
        if change < TOLERANCE {
            break;
        }
    }

    // Each definition's share of the rank flowing into its file under its name.
    let mut share: HashMap<(usize, &str), f64> = HashMap::new();
    for &(from, to, weight, name) in &edges {
        *share.entry((to, name)).or_default() += rank[from] * weight / out_weight[from];
    }
    let mut definitions = Vec::new();
    for (file, entry) in entries.iter().enumerate() {
        let mut order: Vec<(usize, f64)> = entry
            .definitions
            .iter()
            .enumerate()
            .map(|(at, definition)| {
                let mut score = share
                    .get(&(file, definition.name.as_str()))
                    .copied()
                    .unwrap_or(0.0);
                if mentioned.contains(definition.name.as_str()) {
                    score += 1.0;
                }
                (at, score)
            })
            .collect();
        // Best first; ties in the order of the file.
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (place, (at, _)) in order.into_iter().enumerate() {
            definitions.push(Ranked {
                file: names[file].to_owned(),
                definition: at,
                score: rank[file] / (1.0 + place as f64),
            });
        }
    }
    definitions.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.definition.cmp(&b.definition))
    });
    let mut ranked_files: Vec<(String, f64)> = names
        .iter()
        .enumerate()
        .map(|(file, name)| ((*name).to_owned(), rank[file]))
        .collect();
    ranked_files.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ranking {
        files: ranked_files,
        definitions,
        focused,
    }
}

/// How much a use of `name` says about the files that define it.
fn name_weight(name: &str, definers: usize, mentioned: &BTreeSet<&str>) -> f64 {
    let mut weight = 1.0;
    if mentioned.contains(name) {
        weight *= 10.0;
    }
    let specific =
        name.len() >= 8 && (name.contains('_') || name.chars().skip(1).any(char::is_uppercase));
    if specific {
        weight *= 3.0;
    }
    if name.starts_with('_') {
        weight *= 0.1;
    }
    if definers > 5 {
        weight *= 0.1;
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::index::entry_for;
    use std::sync::Arc;

    fn index(sources: &[(&str, &str)]) -> Files {
        sources
            .iter()
            .map(|(name, source)| {
                (
                    (*name).to_owned(),
                    Arc::new(entry_for(name, source.as_bytes(), 1)),
                )
            })
            .collect()
    }

    /// A small project: an invoice module with a caller and a callee, and unrelated files used a lot.
    fn project() -> Files {
        let mut sources = vec![
            (
                "src/invoice.js",
                "import { roundCents } from './money.js';\nexport function computeInvoiceTotals(invoice) {\n  return roundCents(invoice.total);\n}\n",
            ),
            (
                "src/money.js",
                "export function roundCents(value) {\n  return Math.round(value * 100) / 100;\n}\n",
            ),
            (
                "src/checkout.js",
                "import { computeInvoiceTotals } from './invoice.js';\nexport function checkout(cart) {\n  return computeInvoiceTotals(cart);\n}\n",
            ),
            (
                "src/log.js",
                "export function logEvent(name) {\n  console.log(name);\n}\n",
            ),
            (
                "src/theme.js",
                "export function themeColor(name) {\n  return name;\n}\n",
            ),
        ];
        let users: Vec<String> = (0..12)
            .map(|n| format!("export function page{n}() {{\n  logEvent('p');\n  themeColor('x');\n  logEvent('q');\n}}\n"))
            .collect();
        let names: Vec<String> = (0..12).map(|n| format!("src/pages/page{n}.js")).collect();
        for (name, source) in names.iter().zip(&users) {
            sources.push((name.as_str(), source.as_str()));
        }
        index(&sources)
    }

    fn top_files(ranking: &Ranking, count: usize) -> Vec<&str> {
        ranking
            .files
            .iter()
            .take(count)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    #[test]
    fn without_focus_the_most_used_files_rank_first() {
        let ranking = rank(&project(), &Focus::default());
        let top = top_files(&ranking, 2);
        assert!(
            top.contains(&"src/log.js") && top.contains(&"src/theme.js"),
            "{top:?}"
        );
    }

    #[test]
    fn the_named_symbol_its_callers_and_callees_rank_first() {
        let focus = Focus {
            prompt: "Apply the discount in computeInvoiceTotals".into(),
            ..Focus::default()
        };
        let ranking = rank(&project(), &focus);
        let mut top = top_files(&ranking, 3);
        top.sort_unstable();
        assert_eq!(
            top,
            ["src/checkout.js", "src/invoice.js", "src/money.js"],
            "{:?}",
            ranking.files
        );
        let first = &ranking.definitions[0];
        assert_eq!(
            (first.file.as_str(), first.definition),
            ("src/invoice.js", 0)
        );
    }

    #[test]
    fn an_open_buffer_raises_its_file() {
        let files = project();
        let before = rank(&files, &Focus::default());
        let position = |ranking: &Ranking| {
            ranking
                .files
                .iter()
                .position(|(name, _)| name == "src/pages/page7.js")
                .expect("ranked")
        };
        let focus = Focus {
            open: vec!["src/pages/page7.js".into()],
            ..Focus::default()
        };
        let after = rank(&files, &focus);
        assert!(position(&after) < position(&before));
        assert_eq!(position(&after), 0, "{:?}", after.files);
        assert!(after.focused.contains("src/pages/page7.js"));
    }

    #[test]
    fn a_path_in_the_prompt_focuses_that_file() {
        let focus = Focus {
            prompt: "look at src/theme.js please".into(),
            ..Focus::default()
        };
        let ranking = rank(&project(), &focus);
        assert_eq!(top_files(&ranking, 1), ["src/theme.js"]);
        assert!(contains_word("see money.js.", "money.js"));
        assert!(!contains_word("see src/money.jsx", "money.js"));
    }
}
