//! Edit actions as data: for each `tests/edits/NAME.before` (a file, byte for byte) and `NAME.edit` (the
//! action's body), `NAME.result` holds the summary (`+1 −1, exact`) or the exact error, and `NAME.after`
//! the file afterwards (the file itself when the edit fails: all or none).
//! `OPENBOLT_BLESS=1 cargo nextest run --test edits` rewrites the expected files; review the diff.

mod support;

use openbolt::actions::edit::{apply, parse_blocks};
use std::path::Path;

#[test]
fn every_edit_case_gives_its_expected_result() {
    let directory = support::repository().join("tests/edits");
    let bless = std::env::var_os("OPENBOLT_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&directory)
        .expect("tests/edits")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "before")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 16, "the cases are gone");
    let mut failures = Vec::new();
    for before_path in cases {
        let read = |extension: &str| {
            std::fs::read_to_string(before_path.with_extension(extension)).unwrap_or_default()
        };
        let before = read("before");
        let edit = read("edit");
        let (result, after) = match parse_blocks(&edit).and_then(|blocks| apply(&before, &blocks)) {
            Ok(applied) => (format!("ok: {}\n", applied.summary()), applied.text),
            Err(error) => (format!("error: {error}\n"), before.clone()),
        };
        let name = before_path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("?");
        if bless {
            write(&before_path.with_extension("result"), &result);
            write(&before_path.with_extension("after"), &after);
            continue;
        }
        if result != read("result") || after != read("after") {
            failures.push(format!(
                "{name}:\n--- expected\n{}{}\n--- actual\n{result}{after}",
                read("result"),
                read("after")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the expected result");
}
