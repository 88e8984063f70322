//! Helpers shared by the parser's integration tests: feeding a reply in given pieces, and a
//! deterministic random chunking.

#![allow(dead_code, unreachable_pub)]

use openbolt_parser::{Event, Parser, coalesce};

/// Feeds `pieces` one after the other, finishes, and returns the coalesced events.
pub fn parse_pieces<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Vec<Event<'static>> {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed_with(piece, |event| events.push(event.into_owned()));
    }
    parser.finish_with(|event| events.push(event.into_owned()));
    coalesce(events)
}

pub fn parse_whole(reply: &str) -> Vec<Event<'static>> {
    parse_pieces([reply])
}

/// Splits `reply` into pieces of 1 to `max` bytes, moved to char boundaries, from a seed.
pub fn random_pieces(reply: &str, seed: u64, max: usize) -> Vec<&str> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < reply.len() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut end = (start + 1 + (state % max as u64) as usize).min(reply.len());
        while !reply.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&reply[start..end]);
        start = end;
    }
    pieces
}

/// Every split into two pieces and `random_runs` random chunkings give the events of the whole.
pub fn assert_chunk_independent(reply: &str, random_runs: u64) {
    let whole = parse_whole(reply);
    for split in (0..=reply.len()).filter(|&at| reply.is_char_boundary(at)) {
        let (head, tail) = reply.split_at(split);
        let split_events = parse_pieces([head, tail]);
        assert_eq!(split_events, whole, "split at byte {split} of {reply:?}");
    }
    for seed in 0..random_runs {
        let pieces = random_pieces(reply, seed, 64);
        assert_eq!(
            parse_pieces(pieces.iter().copied()),
            whole,
            "random pieces {pieces:?}"
        );
    }
}

/// The events as text, one line each: the form of the expected files under `test_data/`.
pub fn render(events: &[Event<'_>]) -> String {
    let mut out = String::new();
    for event in events {
        let line = match event {
            Event::Text(text) => format!("text {text:?}"),
            Event::ArtifactOpen(artifact) => {
                format!(
                    "artifact-open id={:?} title={:?}",
                    artifact.id, artifact.title
                )
            }
            Event::ArtifactClose(artifact) => format!("artifact-close id={:?}", artifact.id),
            Event::ArtifactIncomplete(artifact) => {
                format!("artifact-incomplete id={:?}", artifact.id)
            }
            Event::ActionOpen(action) => {
                let mut line = format!(
                    "action-open #{} {:?} path={:?} artifact={:?}",
                    action.index,
                    action.kind.as_str(),
                    action.file_path,
                    action.artifact_id
                );
                for (name, value) in [
                    ("lines", &action.lines),
                    ("pattern", &action.pattern),
                    ("regex", &action.regex),
                    ("case", &action.case),
                ] {
                    if let Some(value) = value {
                        line.push_str(&format!(" {name}={value:?}"));
                    }
                }
                line
            }
            Event::ActionDelta { index, text } => format!("action-delta #{index} {text:?}"),
            Event::ActionClose { action, content } => {
                format!("action-close #{} content={content:?}", action.index)
            }
            Event::ActionIncomplete(action) => format!("action-incomplete #{}", action.index),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
