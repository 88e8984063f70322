//! What checking the AI's work costs, beside baselines measured in the same run:
//! - the syntax check of a 1 MB JavaScript file (p50/p99 of 20), against tree-sitter parsing it alone
//!   (the check walks the tree for errors only where there are some); and after a one-line change,
//!   against the file's previous parse (incremental), as the runner checks a file it wrote before;
//! - gathering a turn's failures (10 written files, two with syntax errors, a failed command), against
//!   reading those files.
//!
//! `cargo bench -p openbolt --bench check`

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use openbolt::conversation::fixes;
use openbolt::types::{ActionKind, ActionStatus, ActionUpdate, Diagnostic};
use openbolt_parser::ActionInfo;
use openbolt_syntax::{Language, check, syntax_errors};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn main() {
    let mut source = String::new();
    let mut n = 0;
    while source.len() < 1_000_000 {
        let _ = write!(
            source,
            "export function step{n}(items) {{\n  let total = 0;\n  for (const item of items) {{\n    total += item.price * {n};\n  }}\n  return total;\n}}\n\n"
        );
        n += 1;
    }
    let broken = source.replacen("return total;", "return total;;)", 1);
    let mut checks = Vec::new();
    let mut parses = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let errors = syntax_errors(Language::JavaScript, broken.as_bytes());
        checks.push(started.elapsed());
        assert!(!errors.is_empty());
        let started = Instant::now();
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&Language::JavaScript.grammar())
            .expect("grammar");
        std::hint::black_box(parser.parse(broken.as_bytes(), None));
        parses.push(started.elapsed());
    }
    let mut clean = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert!(syntax_errors(Language::JavaScript, source.as_bytes()).is_empty());
        clean.push(started.elapsed());
    }
    clean.sort_unstable();
    println!(
        "syntax check of the same file without the error: p50 {:.2?}",
        percentile(&clean, 0.5)
    );
    checks.sort_unstable();
    parses.sort_unstable();
    println!(
        "syntax check of a {:.1} MB file with an error: p50 {:.2?} p99 {:.2?}; parsing alone p50 {:.2?}; check/parse {:.2}",
        broken.len() as f64 / 1e6,
        percentile(&checks, 0.5),
        percentile(&checks, 0.99),
        percentile(&parses, 0.5),
        percentile(&checks, 0.5).as_secs_f64() / percentile(&parses, 0.5).as_secs_f64()
    );

    // The same file changed by one line, checked against its previous parse (what the runner keeps
    // for the files it wrote last), against checking it whole.
    let (_, mut previous) = check(Language::JavaScript, source.as_bytes(), None);
    let mut incremental = Vec::new();
    for round in 0..20 {
        let changed = if round % 2 == 0 { &broken } else { &source };
        let started = Instant::now();
        let (errors, parsed) = check(Language::JavaScript, changed.as_bytes(), previous.take());
        incremental.push(started.elapsed());
        assert_eq!(errors.is_empty(), round % 2 == 1);
        previous = parsed;
    }
    incremental.sort_unstable();
    println!(
        "syntax check of the 1 MB file after a one-line change, against its previous parse: p50 {:.2?} p99 {:.2?}; whole/incremental p50 {:.0}",
        percentile(&incremental, 0.5),
        percentile(&incremental, 0.99),
        percentile(&checks, 0.5).as_secs_f64() / percentile(&incremental, 0.5).as_secs_f64()
    );

    let directory = tempfile::tempdir().expect("dir");
    let mut actions = Vec::new();
    for index in 0..10 {
        let name = format!("src/file{index}.js");
        let path = directory.path().join(&name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &source[..20_000]).expect("write");
        let info = ActionInfo::new("a", index, ActionKind::File, Some(&name));
        let mut update = ActionUpdate::new(&info, None, ActionStatus::Complete);
        if index < 2 {
            update.diagnostics = vec![Diagnostic {
                line: 3,
                column: 4,
                end_line: 3,
                end_column: 9,
                message: "syntax error".into(),
            }];
        }
        actions.push(update);
    }
    let info = ActionInfo::new("a", 10, ActionKind::Shell, None);
    let mut failed = ActionUpdate::new(&info, Some("npm test"), ActionStatus::Failed);
    failed.output_tail = Some("1 failing\n".repeat(100));
    actions.push(failed);
    let mut gathers = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let failures = fixes::action_problems(&actions, directory.path());
        gathers.push(started.elapsed());
        assert_eq!(failures.len(), 3);
        let started = Instant::now();
        for index in 0..10 {
            std::hint::black_box(
                std::fs::read(directory.path().join(format!("src/file{index}.js"))).ok(),
            );
        }
        reads.push(started.elapsed());
    }
    gathers.sort_unstable();
    reads.sort_unstable();
    println!(
        "gathering a turn's failures (10 files, 3 problems): p50 {:.2?} p99 {:.2?}; reading the files p50 {:.2?}; gather/read {:.1}",
        percentile(&gathers, 0.5),
        percentile(&gathers, 0.99),
        percentile(&reads, 0.5),
        percentile(&gathers, 0.5).as_secs_f64() / percentile(&reads, 0.5).as_secs_f64()
    );
}
