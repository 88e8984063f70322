//! `openbolt parse` end to end: the real binary, fed on stdin, printing JSON Lines.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn openbolt_parse(arguments: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .arg("parse")
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openbolt");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("openbolt exits")
}

fn example_reply() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/replies/node-counter.md");
    std::fs::read(path).expect("the bundled example reply")
}

fn events(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn prints_one_json_object_per_event_with_camel_case_fields() {
    let events = events(&openbolt_parse(&["--coalesce"], &example_reply()));
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().expect("event name"))
        .collect();
    assert_eq!(kinds.first(), Some(&"text"));
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "actionClose").count(),
        5
    );
    let server = events
        .iter()
        .find(|event| event["event"] == "actionClose" && event["filePath"] == "server.js")
        .expect("server.js closes");
    assert_eq!(server["artifactId"], "node-counter");
    assert_eq!(server["type"], "file");
    assert_eq!(server["index"], 1);
    let content = server["content"].as_str().expect("content");
    assert!(
        content.starts_with("const http = require('node:http');\n"),
        "{content}"
    );
    assert!(
        content.ends_with("});\n") && !content.ends_with("\n\n"),
        "{content:?}"
    );
    let start = events
        .iter()
        .find(|event| event["event"] == "actionClose" && event["type"] == "start")
        .expect("the start action closes");
    assert_eq!(start["content"], "npm start");
    assert!(start.get("filePath").is_none());
}

#[test]
fn the_chunk_size_does_not_change_the_coalesced_events() {
    let reply = example_reply();
    let whole = openbolt_parse(&["--coalesce", "--chunk-size", "1000000"], &reply).stdout;
    for size in ["1", "7", "20", "4096"] {
        let chunked = openbolt_parse(&["--coalesce", "--chunk-size", size], &reply);
        assert!(chunked.status.success());
        assert_eq!(
            String::from_utf8_lossy(&chunked.stdout),
            String::from_utf8_lossy(&whole),
            "chunk size {size}"
        );
    }
    // Without --coalesce, small chunks give more, smaller events.
    let small = events(&openbolt_parse(&["--chunk-size", "20"], &reply));
    assert!(small.len() > events(&openbolt_parse(&["--coalesce"], &reply)).len());
}

#[test]
fn multibyte_characters_survive_any_chunk_size() {
    let reply = "Hi 👋 <boltArtifact id=\"ü\" title=\"日本\"><boltAction type=\"file\" filePath=\"é/ñ.txt\">🦀</boltAction></boltArtifact>";
    let events = events(&openbolt_parse(
        &["--coalesce", "--chunk-size", "1"],
        reply.as_bytes(),
    ));
    assert_eq!(events[0]["text"], "Hi 👋 ");
    assert_eq!(events[1]["title"], "日本");
    let close = events
        .iter()
        .find(|event| event["event"] == "actionClose")
        .expect("close");
    assert_eq!(close["filePath"], "é/ñ.txt");
    assert_eq!(close["content"], "🦀\n");
}

#[test]
fn an_unfinished_action_is_reported_incomplete() {
    let reply = b"<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"file\" filePath=\"x\">half";
    let events = events(&openbolt_parse(&["--coalesce"], reply));
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().expect("name"))
        .collect();
    assert_eq!(
        kinds,
        [
            "artifactOpen",
            "actionOpen",
            "actionDelta",
            "actionIncomplete",
            "artifactIncomplete"
        ]
    );
    assert_eq!(events[3]["filePath"], "x");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let invalid = openbolt_parse(&[], b"fine so far \xff\xfe");
    assert!(!invalid.status.success());
    let message = String::from_utf8_lossy(&invalid.stderr);
    assert!(
        message.contains("not UTF-8") && message.contains("offset 12"),
        "{message}"
    );

    let zero = openbolt_parse(&["--chunk-size", "0"], b"");
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("chunk-size"));
}
