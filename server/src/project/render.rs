//! The map as the model reads it: ranked files, each with the lines that define its top symbols
//! (signatures, not bodies), cut to a token budget.

use super::index::Files;
use super::rank::Ranking;
use crate::tokens;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The map of the `count` best definitions (and the focused files, by name), files in rank order,
/// each file's definitions in line order.
fn render_top(files: &Files, ranking: &Ranking, count: usize) -> String {
    let mut chosen: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for ranked in ranking.definitions.iter().take(count) {
        chosen
            .entry(ranking.names[ranked.file].as_str())
            .or_default()
            .insert(ranked.definition);
    }
    let mut out = String::new();
    for (name, _) in &ranking.files {
        let definitions = chosen.get(name.as_str());
        if definitions.is_none() && !ranking.focused.contains(name) {
            continue;
        }
        let Some(entry) = files.get(name) else {
            continue;
        };
        let _ = writeln!(out, "{name} ({} lines)", entry.lines);
        let mut lines: Vec<_> = definitions
            .into_iter()
            .flatten()
            .filter_map(|at| entry.definitions.get(*at))
            .collect();
        lines.sort_by_key(|definition| definition.line);
        lines.dedup_by_key(|definition| definition.line);
        for definition in lines {
            let _ = writeln!(out, "{:>5}│ {}", definition.line, definition.signature);
        }
    }
    out
}

/// The largest map whose estimate fits in `budget` tokens. Empty when nothing fits.
pub fn render(files: &Files, ranking: &Ranking, budget: usize) -> String {
    let fits = |count: usize| {
        let text = render_top(files, ranking, count);
        let cost = tokens::estimate(&text);
        (cost <= budget).then_some(text)
    };
    let Some(mut best) = fits(0) else {
        return String::new();
    };
    // How many definitions are shown: the cost grows with the count. Double until it does not fit
    // (a map is a few hundred lines, the index may hold a hundred thousand), then bisect.
    let total = ranking.definitions.len();
    let (mut low, mut high) = (0usize, total);
    let mut probe = 64usize;
    while probe < total {
        match fits(probe) {
            Some(text) => {
                best = text;
                low = probe;
                probe *= 2;
            }
            None => {
                high = probe - 1;
                break;
            }
        }
    }
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        match fits(middle) {
            Some(text) => {
                best = text;
                low = middle;
            }
            None => high = middle - 1,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::index::entry_for;
    use crate::project::rank::{Focus, rank};
    use std::sync::Arc;

    #[test]
    fn the_map_fills_its_budget_and_no_more() {
        let files: Files = (0..200)
            .map(|n| {
                let source = format!(
                    "export function handler{n}(request) {{\n  return helper{}(request);\n}}\nexport const LIMIT_{n} = {n};\n",
                    (n + 1) % 200
                );
                let name = format!("src/module{n:03}.js");
                let entry = entry_for(&name, source.as_bytes(), 1);
                (name, Arc::new(entry))
            })
            .collect();
        let ranking = rank(&files, &Focus::default());
        for budget in [200, 1000, 4000] {
            let map = render(&files, &ranking, budget);
            let cost = tokens::estimate(&map);
            assert!(cost <= budget, "{cost} > {budget}");
            assert!(cost * 10 >= budget * 9, "{cost} is far below {budget}");
        }
        let map = render(&files, &ranking, 1000);
        assert!(map.contains("│ export function handler"), "{map}");
        assert!(!map.contains("return helper"), "signatures, not bodies");
    }
}
