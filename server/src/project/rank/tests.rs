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
        (ranking.names[first.file].as_str(), first.definition),
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
