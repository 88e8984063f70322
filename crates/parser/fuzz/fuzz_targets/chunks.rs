//! Any bytes, split anywhere: the parser never panics, and the chunked events equal the whole reply's.
//! The first byte seeds the chunk sizes; the rest (made UTF-8) is the reply. A crash found here
//! becomes a named input under `crates/parser/test_data/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openbolt_parser::{Event, Parser, coalesce};

fn parse<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Vec<Event<'static>> {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed_with(piece, |event| events.push(event.into_owned()));
    }
    parser.finish_with(|event| events.push(event.into_owned()));
    coalesce(events)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let reply = String::from_utf8_lossy(rest);
    let whole = parse([reply.as_ref()]);
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut state = u32::from(seed) | 1;
    while start < reply.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mut end = (start + 1 + (state >> 16) as usize % 64).min(reply.len());
        while !reply.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&reply[start..end]);
        start = end;
    }
    assert_eq!(parse(pieces), whole);
});
