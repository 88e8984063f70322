//! Which files and definitions matter for a request: the request's words matched against every file's
//! (BM25F), blended with personalized PageRank over the graph of references → definitions.
//!
//! **Words first.** People ask in words ("the action runner does not wait for npm install"), not
//! identifiers. The request and every file are split into words (`project::words`: identifiers and paths
//! split, case folded, lightly stemmed, stop words out) and scored with BM25F over three fields — the
//! file's path (×5: a path says what a file is about), the names it defines (×3) and its text (×1, each
//! field length-normalized on its own) — with the recent requests' words at 0.3. Unless the request
//! speaks of tests, a test file's match counts half: a request is about the code, and its tests share
//! its words. A file's final score is 0.6 × its lexical score + 0.4 × its walk rank, each relative to
//! the best file; the best lexical matches are shown in the map even without definitions. Measured with
//! `bench/locate` (real commits of three projects): the lexical score as the walk's personalization did
//! worse than the blend (hit@5 67% against 84% at 16k), and adding it to the blend changed nothing that
//! held up, so the walk keeps its own focus below.
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
    /// The recent conversation (earlier requests): its words count, less than the prompt's.
    pub recent: String,
    /// Files open in the editor (relative names), the selection's file first if there is one.
    pub open: Vec<String>,
    pub selection: Option<String>,
    /// Files the session wrote or read.
    pub touched: Vec<String>,
}

/// A ranked definition: the file (its index in [`Ranking::names`]), the index of the definition in the
/// file's list, its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub file: usize,
    pub definition: usize,
    pub score: f64,
}

/// The ranking of an index for a focus.
#[derive(Clone, Debug, Default)]
pub struct Ranking {
    /// Every file's name, in the index's order ([`Ranked::file`] points here).
    pub names: Vec<String>,
    /// Files, most relevant first, with their score (the blend of the walk and the words).
    pub files: Vec<(String, f64)>,
    /// Definitions, most relevant first: a file's best definition scores its file's rank, its second
    /// half of it, and so on, so that important files show more of their definitions.
    pub definitions: Vec<Ranked>,
    /// Files the focus names (by path, open, selected or touched): shown even without definitions.
    pub focused: BTreeSet<String>,
}

const DAMPING: f64 = 0.85;
const ITERATIONS: usize = 50;
/// Total change in rank below which the walk has settled (ranks sum to 1).
const TOLERANCE: f64 = 1e-7;

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

/// A fast hash for short identifiers (the graph hashes every name of the index once per build; the
/// standard SipHash, made to resist flooding, costs twice as much and nothing here is adversarial).
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastHash = std::hash::BuildHasherDefault<FxHasher>;

/// One use of a defined name: from the file that uses it to the file that defines it.
#[derive(Clone, Copy, Debug)]
struct Edge {
    from: u32,
    to: u32,
    /// How much the use says, before the prompt's mentions weigh in.
    weight: f32,
    /// The definition it leads to, in [`Graph::slots`].
    slot: u32,
}

/// The graph of an index, built once per snapshot (ranking a focus then walks it, without strings),
/// and its lexical index.
#[derive(Debug, Default)]
pub struct Graph {
    /// Each name defined in a file, once per file: (file, index of the definition).
    slots: Vec<(u32, u32)>,
    edges: Vec<Edge>,
    lexicon: Lexicon,
}

/// The fields a file's words come from, for BM25F: its path, the names it defines, its text.
const FIELDS: usize = 3;
/// How much a word counts in each field: a path or a definition says what the file is about.
const FIELD_WEIGHTS: [f64; FIELDS] = [5.0, 3.0, 1.0];
/// How much each field's length normalizes (BM25's b): paths are short and alike; texts vary.
const FIELD_LENGTH_NORMALIZATION: [f64; FIELDS] = [0.3, 0.5, 0.75];
/// BM25's saturation: the tenth use of a word says less than the first.
const K1: f64 = 1.2;
/// How much the recent conversation's words count against the request's.
const RECENT_WEIGHT: f64 = 0.3;
/// The lexical score's share of a file's final score (the rest is the reference walk's).
const LEXICAL_SHARE: f64 = 0.6;
/// Files whose lexical score is at least this part of the best one are shown in the map even
/// without definitions; at most this many.
const LEXICAL_FOCUS: f64 = 0.5;
const LEXICAL_FOCUS_FILES: usize = 10;

/// How much a test file's lexical match counts when the request does not speak of tests.
const TEST_MATCH: f64 = 0.5;

/// A test file: under `test/`, `tests/`, `spec/` or `__tests__/`, or named `test_*`, `*_test.*`,
/// `*.test.*`, `*.spec.*`.
fn is_test(path: &str) -> bool {
    let mut parts = path.split('/');
    let name = parts.next_back().unwrap_or(path);
    parts.any(|part| matches!(part, "test" | "tests" | "spec" | "__tests__"))
        || name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// One word's occurrences in one file, per field.
#[derive(Clone, Copy, Debug)]
struct Posting {
    file: u32,
    counts: [f32; FIELDS],
}

/// The words of every file (see `project::words`), for scoring a request's words (BM25F).
#[derive(Debug, Default)]
struct Lexicon {
    postings: HashMap<Box<str>, Vec<Posting>, FastHash>,
    /// Each file's length in words, per field.
    lengths: Vec<[f32; FIELDS]>,
    average: [f64; FIELDS],
}

impl Lexicon {
    fn build(entries: &[(&String, &std::sync::Arc<super::index::FileEntry>)]) -> Lexicon {
        let mut lexicon = Lexicon {
            lengths: vec![[0.0; FIELDS]; entries.len()],
            ..Lexicon::default()
        };
        let add = |lexicon: &mut Lexicon, file: usize, field: usize, word: &str, count: f32| {
            lexicon.lengths[file][field] += count;
            let list = match lexicon.postings.get_mut(word) {
                Some(list) => list,
                None => lexicon.postings.entry(Box::from(word)).or_default(),
            };
            match list.last_mut() {
                Some(last) if last.file == file as u32 => last.counts[field] += count,
                _ => {
                    let mut counts = [0.0; FIELDS];
                    counts[field] = count;
                    list.push(Posting {
                        file: file as u32,
                        counts,
                    });
                }
            }
        };
        for (file, (name, entry)) in entries.iter().enumerate() {
            super::words::each_word(name, |word| add(&mut lexicon, file, 0, word, 1.0));
            for definition in &entry.definitions {
                super::words::each_word(&definition.name, |word| {
                    add(&mut lexicon, file, 1, word, 1.0);
                });
            }
            for (word, count) in &entry.words {
                add(&mut lexicon, file, 2, word, *count as f32);
            }
        }
        let files = entries.len().max(1) as f64;
        for field in 0..FIELDS {
            let total: f64 = lexicon
                .lengths
                .iter()
                .map(|lengths| f64::from(lengths[field]))
                .sum();
            lexicon.average[field] = (total / files).max(1.0);
        }
        lexicon
    }

    /// Each file's BM25F score for `query`'s words, each weighted.
    fn score(&self, query: &[(String, f64)]) -> Vec<f64> {
        let files = self.lengths.len();
        let mut scores = vec![0.0f64; files];
        for (word, weight) in query {
            let Some(postings) = self.postings.get(word.as_str()) else {
                continue;
            };
            let frequency = postings.len() as f64;
            let idf = (1.0 + (files as f64 - frequency + 0.5) / (frequency + 0.5)).ln();
            for posting in postings {
                let lengths = &self.lengths[posting.file as usize];
                let mut term = 0.0;
                for field in 0..FIELDS {
                    let count = f64::from(posting.counts[field]);
                    if count > 0.0 {
                        let normalization = FIELD_LENGTH_NORMALIZATION[field];
                        let relative = f64::from(lengths[field]) / self.average[field];
                        term += FIELD_WEIGHTS[field] * count
                            / (1.0 - normalization + normalization * relative);
                    }
                }
                scores[posting.file as usize] += weight * idf * term * (K1 + 1.0) / (term + K1);
            }
        }
        scores
    }
}

/// The words a ranking looks for: the prompt's (weight 1), then the recent requests' not already there
/// (weight [`RECENT_WEIGHT`]).
fn query(prompt: &str, recent: &str) -> Vec<(String, f64)> {
    let mut query: Vec<(String, f64)> = Vec::new();
    for (text, weight) in [(prompt, 1.0), (recent, RECENT_WEIGHT)] {
        super::words::each_word(text, |word| {
            if !query.iter().any(|(known, _)| known == word) {
                query.push((word.to_owned(), weight));
            }
        });
    }
    query
}

impl Graph {
    /// Builds the graph of `files`.
    pub fn build(files: &Files) -> Graph {
        let lexicon = Lexicon::build(&files.iter().collect::<Vec<_>>());
        let entries: Vec<_> = files.values().collect();
        let mut slots: Vec<(u32, u32)> = Vec::new();
        let mut definers: HashMap<&str, Vec<(u32, u32)>, FastHash> = HashMap::default();
        for (file, entry) in entries.iter().enumerate() {
            let file = file as u32;
            for (at, definition) in entry.definitions.iter().enumerate() {
                let list = definers.entry(&*definition.name).or_default();
                if list.last().is_some_and(|(last, _)| *last == file) {
                    continue;
                }
                list.push((file, slots.len() as u32));
                slots.push((file, at as u32));
            }
        }
        let mut edges = Vec::new();
        for (from, entry) in entries.iter().enumerate() {
            for (name, uses) in &entry.references {
                let Some(list) = definers.get(&**name) else {
                    continue;
                };
                let weight =
                    f64::from(*uses).sqrt() * name_weight(name, list.len()) / list.len() as f64;
                for &(to, slot) in list {
                    if to as usize != from {
                        edges.push(Edge {
                            from: from as u32,
                            to,
                            weight: weight as f32,
                            slot,
                        });
                    }
                }
            }
        }
        Graph {
            slots,
            edges,
            lexicon,
        }
    }

    /// Ranks `files` (the index this graph was built from) for `focus`.
    pub fn rank(&self, files: &Files, focus: &Focus) -> Ranking {
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        let count = names.len();
        if count == 0 {
            return Ranking::default();
        }
        let entries: Vec<_> = files.values().collect();
        let definition = |slot: usize| {
            let (file, at) = self.slots[slot];
            &entries[file as usize].definitions[at as usize]
        };
        let mentioned = identifiers(&focus.prompt);
        // Which definitions the prompt names, and how many files define each such name.
        let mut named_slot = vec![false; self.slots.len()];
        let mut definer_count: HashMap<&str, usize> = HashMap::new();
        if !mentioned.is_empty() {
            for (slot, flag) in named_slot.iter_mut().enumerate() {
                let name = &*definition(slot).name;
                if mentioned.contains(name) {
                    *flag = true;
                    *definer_count.entry(name).or_default() += 1;
                }
            }
        }

        // Personalization: where the walk restarts.
        let mut restart = vec![0.0f64; count];
        let mut focused = BTreeSet::new();
        let mut favour = |name: &str, weight: f64, restart: &mut Vec<f64>| {
            if let Ok(file) = names.binary_search(&name) {
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
        for (slot, named) in named_slot.iter().enumerate() {
            if *named {
                let (file, _) = self.slots[slot];
                let definers = definer_count[&*definition(slot).name];
                restart[file as usize] += 10.0 / definers as f64;
            }
        }
        // The request's words, scored per file (BM25F), relative to the best match.
        let query = query(&focus.prompt, &focus.recent);
        let mut lexical = self.lexicon.score(&query);
        // A request is about the code; its tests match the same words. Unless it speaks of tests, a
        // test file's match counts half.
        if !query
            .iter()
            .any(|(word, weight)| *weight == 1.0 && (word == "test" || word == "spec"))
        {
            for (file, score) in lexical.iter_mut().enumerate() {
                if is_test(names[file]) {
                    *score *= TEST_MATCH;
                }
            }
        }
        let best = lexical.iter().copied().fold(0.0f64, f64::max);
        if best > 0.0 {
            lexical.iter_mut().for_each(|score| *score /= best);
        }
        // Callers: files that use a name the prompt mentions.
        let mut callers = vec![false; count];
        for edge in &self.edges {
            if named_slot[edge.slot as usize] {
                callers[edge.from as usize] = true;
            }
        }
        for (file, caller) in callers.iter().enumerate() {
            if *caller {
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

        // Weights for this focus: names the prompt mentions count ten times.
        let weights: Vec<f64> = self
            .edges
            .iter()
            .map(|edge| {
                let weight = f64::from(edge.weight);
                if named_slot[edge.slot as usize] {
                    weight * 10.0
                } else {
                    weight
                }
            })
            .collect();
        let mut out_weight = vec![0.0f64; count];
        for (edge, weight) in self.edges.iter().zip(&weights) {
            out_weight[edge.from as usize] += weight;
        }
        let share_of: Vec<f64> = self
            .edges
            .iter()
            .zip(&weights)
            .map(|(edge, weight)| weight / out_weight[edge.from as usize])
            .collect();

        let mut rank = restart.clone();
        let mut next = vec![0.0f64; count];
        for _ in 0..ITERATIONS {
            let dangling: f64 = (0..count)
                .filter(|&file| out_weight[file] == 0.0)
                .map(|file| rank[file])
                .sum();
            for (slot, weight) in next.iter_mut().zip(&restart) {
                *slot = (1.0 - DAMPING + DAMPING * dangling) * weight;
            }
            for (edge, share) in self.edges.iter().zip(&share_of) {
                next[edge.to as usize] += DAMPING * rank[edge.from as usize] * share;
            }
            let change: f64 = next
                .iter()
                .zip(&rank)
                .map(|(new, old)| (new - old).abs())
                .sum();
            std::mem::swap(&mut rank, &mut next);
            if change < TOLERANCE {
                break;
            }
        }

        // A file's score: the walk's rank and the lexical match, each relative to the best.
        let best_rank = rank.iter().copied().fold(0.0f64, f64::max);
        if best > 0.0 && best_rank > 0.0 {
            for (file, score) in rank.iter_mut().enumerate() {
                *score = (1.0 - LEXICAL_SHARE) * *score / best_rank + LEXICAL_SHARE * lexical[file];
            }
        }
        let mut lexical_order: Vec<usize> = (0..count)
            .filter(|&file| lexical[file] >= LEXICAL_FOCUS)
            .collect();
        lexical_order.sort_by(|a, b| lexical[*b].total_cmp(&lexical[*a]));
        for file in lexical_order.into_iter().take(LEXICAL_FOCUS_FILES) {
            focused.insert(names[file].to_owned());
        }

        // Each definition's share of the rank flowing into its file under its name.
        let mut score_of: Vec<Vec<f64>> = entries
            .iter()
            .map(|entry| vec![0.0; entry.definitions.len()])
            .collect();
        for (edge, share) in self.edges.iter().zip(&share_of) {
            let (file, at) = self.slots[edge.slot as usize];
            score_of[file as usize][at as usize] += rank[edge.from as usize] * share;
        }
        for (slot, named) in named_slot.iter().enumerate() {
            if *named {
                let (file, at) = self.slots[slot];
                score_of[file as usize][at as usize] += 1.0;
            }
        }
        let mut definitions = Vec::new();
        for (file, scores) in score_of.iter().enumerate() {
            let mut order: Vec<(usize, f64)> = scores.iter().copied().enumerate().collect();
            // Best first; ties in the order of the file.
            order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (place, (at, _)) in order.into_iter().enumerate() {
                definitions.push(Ranked {
                    file,
                    definition: at,
                    score: rank[file] / (1.0 + place as f64),
                });
            }
        }
        // Only the best few thousand can ever be shown: order those.
        let order = |a: &Ranked, b: &Ranked| {
            b.score
                .total_cmp(&a.score)
                .then(a.file.cmp(&b.file))
                .then(a.definition.cmp(&b.definition))
        };
        if definitions.len() > SHOWN_AT_MOST {
            definitions.select_nth_unstable_by(SHOWN_AT_MOST, order);
            definitions.truncate(SHOWN_AT_MOST);
        }
        definitions.sort_by(order);
        let mut ranked_files: Vec<(String, f64)> = names
            .iter()
            .enumerate()
            .map(|(file, name)| ((*name).to_owned(), rank[file]))
            .collect();
        ranked_files.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ranking {
            names: names.iter().map(|name| (*name).to_owned()).collect(),
            files: ranked_files,
            definitions,
            focused,
        }
    }
}

/// More definitions than a map of the largest budget can show.
const SHOWN_AT_MOST: usize = 5_000;

/// Ranks `files` for `focus` (building their graph; [`Graph::rank`] reuses one).
pub fn rank(files: &Files, focus: &Focus) -> Ranking {
    Graph::build(files).rank(files, focus)
}

/// How much a use of `name` says about the files that define it.
fn name_weight(name: &str, definers: usize) -> f64 {
    let mut weight = 1.0;
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
mod tests;
