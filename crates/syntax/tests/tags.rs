//! Tags as data: for each source in `tests/tags/`, its expected tags in `<name>.tags` beside it.
//! `OPENBOLT_BLESS=1 cargo test -p openbolt-syntax --test tags` rewrites the expected files.

use openbolt_syntax::{Language, TagKind, tags};
use std::fmt::Write as _;
use std::path::Path;

fn render(source: &[u8], language: Language) -> String {
    let found = tags(language, source);
    let mut out = String::new();
    for tag in &found.tags {
        let kind = match tag.kind {
            TagKind::Definition => "def",
            TagKind::Reference => "ref",
        };
        let _ = write!(
            out,
            "{:>4} {kind} {:<14} {}",
            tag.line, tag.syntax, tag.name
        );
        if let Some(signature) = &tag.signature {
            let _ = write!(out, "  | {signature}");
        }
        out.push('\n');
    }
    if found.has_errors {
        out.push_str("(syntax errors)\n");
    }
    out
}

#[test]
fn every_language_tags_its_sample_as_expected() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tags");
    let bless = std::env::var_os("OPENBOLT_BLESS").is_some();
    let mut sources: Vec<_> = std::fs::read_dir(&directory)
        .expect("tests/tags")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension != "tags")
        })
        .collect();
    sources.sort();
    let mut languages = Vec::new();
    let mut failures = Vec::new();
    for source_path in &sources {
        let source = std::fs::read(source_path).expect("source");
        let language = Language::detect(source_path, &source).expect("a mapped language");
        languages.push(language);
        let actual = render(&source, language);
        let expected_path = source_path.with_extension(format!(
            "{}.tags",
            source_path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
        ));
        if bless {
            std::fs::write(&expected_path, &actual).expect("write expected tags");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                source_path.display()
            ));
        }
    }
    languages.sort();
    languages.dedup();
    assert_eq!(languages, Language::ALL, "a sample for every language");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
