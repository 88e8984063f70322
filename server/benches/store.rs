//! What persistence costs, beside the same work without it in the same run:
//! - the time to hand on one streamed text delta (parse it, pass its prose on) with and without also
//!   appending it to the session store (p50/p99 per delta);
//! - the database after 100 turns that each rewrite a 50 KB file (snapshots deduplicated by content),
//!   against the raw bytes of those versions.
//!
//! `cargo bench -p openbolt --bench store`

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use openbolt::engine::TurnStatus;
use openbolt::provider::Usage;
use openbolt::store::Store;
use openbolt_parser::{Event, Parser};
use std::path::Path;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn deltas() -> Vec<String> {
    let mut out = Vec::new();
    for index in 0..200_000 {
        out.push(format!("prose piece {index:06} of a long reply, "));
        if index % 500 == 0 {
            out.push("<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"file\" filePath=\"x.js\">let x = 1;</boltAction></boltArtifact>".to_owned());
        }
    }
    out
}

fn hand_on(deltas: &[String], store: Option<&Store>) -> Vec<Duration> {
    let mut parser = Parser::new();
    let mut times = Vec::with_capacity(deltas.len());
    let mut prose = String::new();
    for delta in deltas {
        let started = Instant::now();
        prose.clear();
        parser.feed_with(delta, |event| {
            if let Event::Text(text) = event {
                prose.push_str(&text);
            }
        });
        if let Some(store) = store
            && !prose.is_empty()
        {
            store.append_prose("bench-message", &prose);
        }
        std::hint::black_box(&prose);
        times.push(started.elapsed());
    }
    times.sort_unstable();
    times
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("store");
    store.begin_turn(
        "bench",
        Path::new("/bench"),
        "go",
        "bench-prompt",
        "bench-message",
        &[],
    );
    let deltas = deltas();
    let without = hand_on(&deltas, None);
    let with = hand_on(&deltas, Some(&store));
    let without_again = hand_on(&deltas, None);
    let _ = store.end_turn(
        "bench-message",
        TurnStatus::Complete,
        "",
        None,
        Usage::default(),
    );
    println!(
        "per delta ({} deltas): without persistence p50 {:.2?} p99 {:.2?} (again: p99 {:.2?}); with it p50 {:.2?} p99 {:.2?}; p99 with/without {:.2}",
        deltas.len(),
        percentile(&without, 0.5),
        percentile(&without, 0.99),
        percentile(&without_again, 0.99),
        percentile(&with, 0.5),
        percentile(&with, 0.99),
        percentile(&with, 0.99).as_secs_f64() / percentile(&without, 0.99).as_secs_f64(),
    );
    drop(store);

    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("store");
    // A source file of varied lines (names and numbers differ), one line of which changes per turn.
    let version = |turn: usize| -> Vec<u8> {
        let mut text = String::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut index = 0;
        while text.len() < 50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = if index == turn % 600 {
                turn as u64
            } else {
                state % 100_000
            };
            text.push_str(&format!(
                "export const item{index}_{:x} = compute({value}, options.{}, '{:08x}');\n",
                state % 4096,
                ["width", "height", "depth", "colour", "label"][(state % 5) as usize],
                state >> 32
            ));
            index += 1;
        }
        text.into_bytes()
    };
    let path = Path::new("/bench/project/src/big.js");
    let mut raw = 0usize;
    let started = Instant::now();
    for turn in 1..=100 {
        let message = format!("m{turn}");
        store.begin_turn(
            "big",
            Path::new("/bench/project"),
            &format!("change {turn}"),
            &format!("u{turn}"),
            &message,
            &[],
        );
        store.append_prose(&message, "Updated the rows.");
        let (before, after) = (version(turn - 1), version(turn));
        raw += after.len();
        store.record_snapshot(&message, path, Some(before), Some(after));
        let _ = store.end_turn(
            &message,
            TurnStatus::Complete,
            "Updated the rows.",
            None,
            Usage::default(),
        );
    }
    let elapsed = started.elapsed();
    drop(store);
    // Let the writer thread close the database.
    std::thread::sleep(Duration::from_millis(300));
    let file = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|meta| meta.len())
            .unwrap_or(0) as f64
            / 1e6
    };
    // The WAL is reported apart: it is not always checkpointed by the time the store is gone.
    println!(
        "100 turns rewriting a {} KB file: database {:.2} MB (+ WAL {:.2} MB) against {:.2} MB of file versions; {:.1} ms per durable turn",
        version(0).len() / 1000,
        file("sessions.sqlite3"),
        file("sessions.sqlite3-wal"),
        raw as f64 / 1e6,
        elapsed.as_secs_f64() * 1000.0 / 100.0,
    );
}
