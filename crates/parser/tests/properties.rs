//! Properties over generated replies: random bytes and random markup never panic, and any chunking
//! gives the events of the whole reply.

mod support;

use openbolt_parser::Event;
use proptest::prelude::*;
use support::{parse_pieces, parse_whole, random_pieces};

/// Pieces of markup, near-markup and awkward text that generated replies are made of.
const FRAGMENTS: &[&str] = &[
    "<boltArtifact id=\"a\" title=\"T\">",
    "<boltArtifact id='b'\ntitle=\"x > y\">",
    "< boltArtifact>",
    "</boltArtifact>",
    "</ boltArtifact >",
    "<boltAction type=\"file\" filePath=\"src/a.js\">",
    "<boltAction type='shell'>",
    "<boltAction type=\"start\"/>",
    "<boltAction\ntype=\"build\">",
    "</boltAction>",
    "</boltActio",
    "<bolt",
    "<",
    ">",
    "/",
    "\"",
    "'",
    "`",
    "``",
    "```",
    "```js\n",
    "~~~",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "text",
    "a < b",
    "</div>",
    "<div>",
    "é",
    "日本",
    "🦀",
    "&amp;",
];

fn markup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|parts| parts.concat())
}

fn check_chunkings(reply: &str, seed: u64, max: usize) -> Result<(), TestCaseError> {
    let whole = parse_whole(reply);
    let pieces = random_pieces(reply, seed, max);
    prop_assert_eq!(
        parse_pieces(pieces.iter().copied()),
        whole.clone(),
        "pieces {:?}",
        pieces
    );
    for split in (0..=reply.len()).filter(|&at| reply.is_char_boundary(at)) {
        let (head, tail) = reply.split_at(split);
        prop_assert_eq!(
            parse_pieces([head, tail]),
            whole.clone(),
            "split at {}",
            split
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_markup_is_chunk_independent(reply in markup(), seed in any::<u64>(), max in 1usize..64) {
        check_chunkings(&reply, seed, max)?;
    }

    #[test]
    fn random_text_is_chunk_independent(reply in any::<String>(), seed in any::<u64>(), max in 1usize..64) {
        check_chunkings(&reply, seed, max)?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), seed in any::<u64>()) {
        let reply = String::from_utf8_lossy(&bytes);
        check_chunkings(&reply, seed, 16)?;
    }

    #[test]
    fn prose_outside_artifacts_passes_through(reply in markup()) {
        // Without any artifact tag, the text events are the reply itself.
        let prose = reply.replace("boltArtifact", "artifact");
        let events = parse_whole(&prose);
        let text: String = events
            .iter()
            .map(|event| match event {
                Event::Text(text) => text.as_ref(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        prop_assert_eq!(text, prose);
    }

    #[test]
    fn file_bodies_round_trip(body in "[a-z<>/ \n{}();=\"']{0,200}") {
        // Any body without the closing tag comes back as written, modulo the documented trimming.
        prop_assume!(!body.to_ascii_lowercase().contains("boltaction") && !body.to_ascii_lowercase().contains("boltartifact"));
        prop_assume!(!body.contains("```") && !body.contains("~~~"));
        let reply = format!("<boltArtifact id=\"p\" title=\"P\"><boltAction type=\"file\" filePath=\"f\">{body}</boltAction></boltArtifact>");
        let content = parse_whole(&reply).into_iter().find_map(|event| match event {
            Event::ActionClose { content, .. } => Some(content.into_owned()),
            _ => None,
        });
        let mut expected = body.trim_end().to_owned();
        if let Some(newline) = expected.find('\n')
            && expected[..newline].trim().is_empty()
        {
            expected.drain(..=newline);
        }
        if !expected.is_empty() {
            expected.push('\n');
        }
        prop_assert_eq!(content, Some(expected));
    }
}
