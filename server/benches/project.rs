//! The project map on a generated repository of 2,000 source files (~40 MB of JavaScript, TypeScript,
//! Python and Rust that call each other), beside baselines measured in the same run:
//! - cold map (walk, read, parse, tag on every core), against reading every file once;
//! - warm start from the cache, against the cold map;
//! - re-map after one file changes (p50/p99 of 20 changes), against tagging that file alone;
//! - the rendered map against its token budget (1k, 4k, 8k);
//! - memory the map holds (RSS growth), against the repository's size;
//! - context assembly for a turn when warm (p50/p99 of 100 prompts), against walking the workspace
//!   (what the context did every turn before the map).
//!
//! `cargo bench -p openbolt --bench project` (`BENCH_FILES=N` for another size)

#![allow(clippy::print_stdout)]
// a benchmark reports on stdout
// The counting allocator below is the one unsafe part: it forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts the bytes allocated and not yet freed, so the map's own memory can be told apart from what
/// the allocator keeps after parsing (which RSS includes).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_mb() -> f64 {
    LIVE.load(Ordering::Relaxed) as f64 / 1_000_000.0
}

#[path = "common/generated.rs"]
mod generated;

use generated::{Random, generate, source};
use openbolt::engine::context::{self, Budget, EditorContext};
use openbolt::project::ProjectMap;
use openbolt::project::index::entry_for;
use openbolt::project::rank::Focus;
use std::path::Path;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn walk(root: &Path) -> usize {
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .build()
        .flatten()
        .filter(|entry| entry.file_type().is_some_and(|kind| kind.is_file()))
        .count()
}

const PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    let count: usize = std::env::var("BENCH_FILES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2_000);
    let workspace = tempfile::tempdir().expect("workspace");
    let data = tempfile::tempdir().expect("data");
    let root = std::fs::canonicalize(workspace.path()).expect("root");
    let bytes = generate(&root, count);
    println!(
        "repository: {count} files, {:.1} MB",
        bytes as f64 / 1_000_000.0
    );

    // Baseline: read every file once.
    let started = Instant::now();
    let mut read = 0usize;
    for entry in ignore::WalkBuilder::new(&root).build().flatten() {
        if entry.file_type().is_some_and(|kind| kind.is_file()) {
            read += std::fs::read(entry.path()).map_or(0, |content| content.len());
        }
    }
    let read_time = started.elapsed();
    std::hint::black_box(read);

    let cache = ProjectMap::cache_file(data.path(), &root);
    let rss_before = rss_kib();
    let live_before = live_mb();
    let started = Instant::now();
    let map = ProjectMap::start(&root, Some(cache.clone()));
    let cold = map.wait_past(0, PATIENCE);
    let cold_time = started.elapsed();
    assert!(cold.complete && cold.files.len() == count);
    let rss_after = rss_kib();
    let live_map = live_mb() - live_before;
    let definitions: usize = cold
        .files
        .values()
        .map(|entry| entry.definitions.len())
        .sum();
    println!(
        "cold map: {cold_time:.2?} ({} files parsed, {definitions} definitions); reading the files alone {read_time:.2?}; cold/read {:.1}",
        cold.parsed,
        cold_time.as_secs_f64() / read_time.as_secs_f64()
    );
    cold.graph();
    let rss_graph = rss_kib();
    let live_graph = live_mb() - live_before;
    println!(
        "memory held by the map: {live_map:.1} MB, {live_graph:.1} MB with its graph ({:.2} × the repository's size); RSS grew {:.1} MB, {:.1} MB with the graph (the allocator keeps what parsing freed)",
        live_graph * 1_000_000.0 / bytes as f64,
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0,
        (rss_graph.saturating_sub(rss_before)) as f64 / 1024.0,
    );

    // Re-map after one change, p50/p99 of 20; baseline: tagging the changed file alone.
    let mut remaps = Vec::new();
    let mut alone = Vec::new();
    let mut generation = cold.generation;
    let mut random = Random(7);
    for round in 0..20 {
        let (name, mut text) = source(random.next(count), count, &mut random);
        text.push_str(&format!(
            "\nexport function added_{round}() {{ return {round}; }}\n"
        ));
        let path = root.join(&name);
        std::fs::write(&path, &text).expect("change");
        let started = Instant::now();
        let entry = entry_for(&name, text.as_bytes(), 1);
        alone.push(started.elapsed());
        std::hint::black_box(entry);
        let started = Instant::now();
        map.files_changed(&[path]);
        let after = map.wait_past(generation, PATIENCE);
        remaps.push(started.elapsed());
        assert_eq!(after.parsed, 1);
        generation = after.generation;
    }
    remaps.sort_unstable();
    alone.sort_unstable();
    println!(
        "re-map after one change: p50 {:.2?} p99 {:.2?}; tagging the file alone p50 {:.2?}; re-map/alone p50 {:.1}",
        percentile(&remaps, 0.5),
        percentile(&remaps, 0.99),
        percentile(&alone, 0.5),
        percentile(&remaps, 0.5).as_secs_f64() / percentile(&alone, 0.5).as_secs_f64()
    );

    // The map against its budget.
    let snapshot = map.snapshot();
    let focus = Focus {
        prompt: format!("change fn_{}_3 so that it rounds", count / 2),
        ..Focus::default()
    };
    let mut fits = Vec::new();
    for budget in [1_000, 4_000, 8_000] {
        let (_, text) = snapshot.render(&focus, budget);
        let used = openbolt::tokens::estimate(&text);
        fits.push(format!(
            "{budget}: {used} ({:.2})",
            used as f64 / budget as f64
        ));
    }
    println!("map tokens for a budget of {}", fits.join(", "));

    // Ranking a request in plain words (every file holds "value": the longest postings), warm.
    let mut plain = Vec::new();
    for turn in 0..20 {
        let focus = Focus {
            prompt: format!(
                "the value {turn} is not rounded when the checkout adds totals and waits for the server"
            ),
            ..Focus::default()
        };
        let started = Instant::now();
        std::hint::black_box(snapshot.rank(&focus));
        plain.push(started.elapsed());
    }
    plain.sort_unstable();
    println!(
        "ranking a request in plain words, warm: p50 {:.2?} p99 {:.2?} (target ≤ 50 ms)",
        percentile(&plain, 0.5),
        percentile(&plain, 0.99)
    );

    // Where a turn's context time goes: ranking, and the map's rendering.
    let mut ranks = Vec::new();
    let mut renders = Vec::new();
    for turn in 0..20 {
        let focus = Focus {
            prompt: format!("fix fn_{}_{} please", turn * 17 % count, turn % 40),
            ..Focus::default()
        };
        let started = Instant::now();
        let ranking = snapshot.rank(&focus);
        ranks.push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(openbolt::project::render::render(
            &snapshot.files,
            &ranking,
            8_000,
        ));
        renders.push(started.elapsed());
    }
    ranks.sort_unstable();
    renders.sort_unstable();
    println!(
        "  of which ranking p50 {:.2?}, rendering 8,000 tokens p50 {:.2?}",
        percentile(&ranks, 0.5),
        percentile(&renders, 0.5)
    );

    // Context assembly when warm, against walking the workspace.
    let editor = EditorContext::default();
    let mut assembly = Vec::new();
    let mut walks = Vec::new();
    for turn in 0..100 {
        let prompt = format!("fix fn_{}_{} please", turn * 17 % count, turn % 40);
        let started = Instant::now();
        let assembled = context::assemble(&context::Inputs {
            root: &root,
            editor: &editor,
            prompt: &prompt,
            recent: "",
            touched: &[],
            map: Some(&snapshot),
            limits: Budget::default(),
            tokens: 100_000,
        });
        assembly.push(started.elapsed());
        std::hint::black_box(assembled);
        let started = Instant::now();
        std::hint::black_box(walk(&root));
        walks.push(started.elapsed());
    }
    assembly.sort_unstable();
    walks.sort_unstable();
    println!(
        "context assembly (100,000-token budget): p50 {:.2?} p99 {:.2?}; walking the workspace p50 {:.2?}; assembly/walk p99 {:.2}",
        percentile(&assembly, 0.5),
        percentile(&assembly, 0.99),
        percentile(&walks, 0.5),
        percentile(&assembly, 0.99).as_secs_f64() / percentile(&walks, 0.99).as_secs_f64()
    );

    // Warm start: the cache is written when the map goes.
    drop(snapshot);
    drop(map);
    let started = Instant::now();
    let again = ProjectMap::start(&root, Some(cache.clone()));
    let warm = again.wait_past(0, PATIENCE);
    let warm_time = started.elapsed();
    assert_eq!(warm.parsed, 0, "a warm start parses nothing");
    println!(
        "warm start from the cache ({:.1} MB): {warm_time:.2?}; warm/cold {:.2}",
        std::fs::metadata(&cache).map_or(0, |meta| meta.len()) as f64 / 1_000_000.0,
        warm_time.as_secs_f64() / cold_time.as_secs_f64()
    );
}
