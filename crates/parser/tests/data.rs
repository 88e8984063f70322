//! Tests as data: every `test_data/NAME.txt` reply parses to `test_data/NAME.events`, however it is split.
//!
//! `UPDATE_EXPECT=1 cargo test -p openbolt-parser --test data` rewrites the expected files; review the diff.

mod support;

use std::path::{Path, PathBuf};
use support::{assert_chunk_independent, parse_pieces, parse_whole, render};

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

fn inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(test_data())
        .expect("test_data exists")
        .map(|entry| entry.expect("readable test_data").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "test_data lost its inputs");
    inputs
}

#[test]
fn replies_parse_to_the_expected_events() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for input in inputs() {
        let reply = std::fs::read_to_string(&input).expect("input is UTF-8");
        let actual = render(&parse_whole(&reply));
        let expected_path = input.with_extension("events");
        if update {
            std::fs::write(&expected_path, &actual).expect("write expected events");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n+++ actual\n{actual}",
                input.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_split_of_every_reply_gives_the_same_events() {
    for input in inputs() {
        let reply = std::fs::read_to_string(&input).expect("input is UTF-8");
        assert_chunk_independent(&reply, 300);
    }
}

#[test]
fn byte_at_a_time_gives_the_same_events() {
    for input in inputs() {
        let reply = std::fs::read_to_string(&input).expect("input is UTF-8");
        let chars: Vec<&str> = reply
            .char_indices()
            .map(|(at, character)| &reply[at..at + character.len_utf8()])
            .collect();
        assert_eq!(
            parse_pieces(chars),
            parse_whole(&reply),
            "{}",
            input.display()
        );
    }
}

#[test]
fn the_parser_is_reusable_after_finish() {
    let reply = std::fs::read_to_string(test_data().join("basic.txt")).expect("basic.txt");
    let mut parser = openbolt_parser::Parser::new();
    let mut first = parser.feed(&reply[..reply.len() / 2]);
    first.extend(parser.finish());
    let mut second = parser.feed(&reply);
    second.extend(parser.finish());
    assert_eq!(openbolt_parser::coalesce(second), parse_whole(&reply));
}
