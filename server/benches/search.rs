//! The `search` action on the generated 2,000-file repository (~40 MB) and on a tree of 100,000 small
//! files, beside ripgrep's own `rg` on the same trees in the same run — the limit: ripgrep's engine and
//! walk, as a process, with the same rules (hidden files searched, `.git` not, a line around each match):
//! - time to answer, p50/p99 of repeated searches per pattern, and the ratio of the p50s;
//! - the tokens a result costs the model, cut to a round's budget, against what the whole result (rg's
//!   output) would cost.
//!
//! `cargo bench -p openbolt --bench search` (`RG=/path/to/rg` when `rg` is not on PATH; without it the
//! baseline columns say so; `BENCH_RUNS=N` for more runs).

#![allow(clippy::print_stdout)]
// a benchmark reports on stdout

#[path = "common/generated.rs"]
mod generated;

use openbolt::actions::search::{Found, LIMITS, Query, Setting, search};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What an answer may take: half of a round's default 8,000 tokens (`Runner::answer_allowance`).
const BUDGET: usize = 4_000;

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn rg() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RG") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join("rg"))
        .find(|candidate| candidate.is_file())
}

/// rg's arguments for the same search: its output is the whole result.
fn rg_arguments(query: &Query) -> Vec<String> {
    let mut arguments: Vec<String> = [
        "--hidden",
        "--glob",
        "!.git",
        "--line-number",
        "--context",
        "1",
        "--no-heading",
        "--color",
        "never",
    ]
    .iter()
    .map(|argument| (*argument).to_owned())
    .collect();
    if !query.case_sensitive {
        arguments.push("--ignore-case".to_owned());
    }
    if !query.regex {
        arguments.push("--fixed-strings".to_owned());
    }
    arguments.push("--".to_owned());
    arguments.push(query.pattern.clone().unwrap_or_default());
    arguments
}

struct Case {
    name: &'static str,
    query: Query,
}

fn case(name: &'static str, pattern: &str, regex: bool) -> Case {
    Case {
        name,
        query: Query {
            pattern: Some(pattern.to_owned()),
            path: None,
            regex,
            case_sensitive: false,
        },
    }
}

fn run_case(root: &Path, case: &Case, runs: usize, rg: Option<&Path>) {
    let setting = Setting {
        root,
        ranked: &[],
        open: &[],
        budget: BUDGET,
        limits: LIMITS,
    };
    let mut ours = Vec::with_capacity(runs);
    let mut found: Option<Found> = None;
    for _ in 0..runs {
        let started = Instant::now();
        let result = search(&case.query, &setting).expect("a search");
        ours.push(started.elapsed());
        found = Some(result);
    }
    ours.sort();
    let found = found.expect("one run");
    let answer = openbolt::voice::search_result(&found);
    let tokens = openbolt::tokens::estimate(&answer);
    let (theirs, whole_tokens) = match rg {
        Some(rg) => {
            let mut times = Vec::with_capacity(runs);
            let mut output = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                let result = Command::new(rg)
                    .args(rg_arguments(&case.query))
                    .current_dir(root)
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .expect("rg runs");
                times.push(started.elapsed());
                output = result.stdout;
            }
            times.sort();
            let whole = openbolt::tokens::estimate(&String::from_utf8_lossy(&output));
            (Some(times), Some(whole))
        }
        None => (None, None),
    };
    let (rg_p50, rg_p99, ratio) = match &theirs {
        Some(times) => (
            millis(percentile(times, 0.5)),
            millis(percentile(times, 0.99)),
            format!(
                "{:.2}",
                percentile(&ours, 0.5).as_secs_f64() / percentile(times, 0.5).as_secs_f64()
            ),
        ),
        None => ("no rg".to_owned(), "-".to_owned(), "-".to_owned()),
    };
    println!(
        "{:<28}{:>9}{:>9}{:>9}{:>9}{:>8}{:>10}{:>8}{:>12}  {}",
        case.name,
        millis(percentile(&ours, 0.5)),
        millis(percentile(&ours, 0.99)),
        rg_p50,
        rg_p99,
        ratio,
        found.matches,
        tokens,
        whole_tokens.map_or_else(|| "-".to_owned(), |whole| whole.to_string()),
        match found.stopped {
            Some(stopped) => format!("stopped: {stopped:?}"),
            None => String::new(),
        }
    );
}

fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<28}{:>9}{:>9}{:>9}{:>9}{:>8}{:>10}{:>8}{:>12}",
        "search",
        "p50 ms",
        "p99 ms",
        "rg p50",
        "rg p99",
        "ratio",
        "matches",
        "tokens",
        "all tokens"
    );
}

/// 100,000 small files in 1,000 directories; one file in 1,000 holds a rare word. In memory where the
/// machine has it.
fn tree(root: &Path) {
    for directory in 0..1_000 {
        let path = root.join(format!("d{directory:03}"));
        std::fs::create_dir(&path).expect("mkdir");
        for file in 0..100 {
            let index = directory * 100 + file;
            let rare = if index % 1_000 == 7 {
                "let marker = needle_rare_word;\n"
            } else {
                ""
            };
            std::fs::write(
                path.join(format!("f{file:02}.js")),
                format!(
                    "// file {index}\nexport const value{index} = {index};\n{rare}export function use{index}(input) {{ return input + value{index}; }}\n"
                ),
            )
            .expect("write");
        }
    }
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(30);
    let rg = rg();
    match &rg {
        Some(rg) => println!("baseline: {}", rg.display()),
        None => println!("baseline: rg not found (set RG=/path/to/rg); ours only"),
    }
    println!(
        "budget {BUDGET} tokens per answer; {runs} runs per search ({} for the 100,000-file tree)",
        runs / 3
    );

    let project = tempfile::tempdir().expect("project");
    let root = std::fs::canonicalize(project.path()).expect("root");
    let bytes = generated::generate(&root, 2_000);
    header(&format!(
        "2,000-file repository ({:.1} MB)",
        bytes as f64 / 1_000_000.0
    ));
    for case in [
        case("rare name (fn_1999_39)", "fn_1999_39", false),
        case("regex (fn_\\d+_7\\b)", r"fn_\d+_7\b", true),
        case("common word (input)", "input", false),
    ] {
        run_case(&root, &case, runs, rg.as_deref());
    }

    let shm = Path::new("/dev/shm");
    let big = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tree");
    let big_root = std::fs::canonicalize(big.path()).expect("root");
    tree(&big_root);
    header("100,000-file tree");
    for case in [
        case("rare word (needle_rare)", "needle_rare", false),
        case("regex (use\\d+7\\()", r"use\d+7\(", true),
        case("common word (export)", "export", false),
    ] {
        run_case(&big_root, &case, (runs / 3).max(3), rg.as_deref());
    }
}
