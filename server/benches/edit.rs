//! What edits cost, beside baselines measured in the same run:
//! - 10 SEARCH/REPLACE blocks applied to a 2,000-line file (p50/p99 of 200 runs), against copying the
//!   file's text;
//! - the minimal line diff an open document gets when a 10 MB file is rewritten (one line changed, 1% of
//!   lines changed, every line changed), against splitting both texts into lines;
//! - the bytes of an edit action that changes one function of a 2,000-line file, against the whole-file
//!   rewrite it replaces.
//!
//! `cargo bench -p openbolt --bench edit`

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use openbolt::actions::diff::line_changes;
use openbolt::actions::edit::{apply, parse_blocks};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

/// A 2,000-line file of 250 small functions.
fn source() -> String {
    let mut text = String::new();
    for n in 0..250 {
        let _ = write!(
            text,
            "export function step{n}(items) {{\n  let total = 0;\n  for (const item of items) {{\n    total += item.price * {n};\n  }}\n  return total;\n}}\n\n"
        );
    }
    text
}

fn main() {
    let file = source();
    assert_eq!(file.lines().count(), 2000);

    // 10 blocks, each changing one line of a different function (3 lines of SEARCH each).
    let mut body = String::new();
    for n in (0..250).step_by(25) {
        let _ = write!(
            body,
            "<<<<<<< SEARCH\n  for (const item of items) {{\n    total += item.price * {n};\n  }}\n=======\n  for (const item of items) {{\n    total += item.price * {n} * (1 - item.discount);\n  }}\n>>>>>>> REPLACE\n"
        );
    }
    let blocks = parse_blocks(&body).expect("blocks");
    let mut applies = Vec::new();
    let mut copies = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let applied = apply(&file, &blocks).expect("applies");
        applies.push(started.elapsed());
        std::hint::black_box(applied);
        let started = Instant::now();
        std::hint::black_box(file.clone());
        copies.push(started.elapsed());
    }
    applies.sort_unstable();
    copies.sort_unstable();
    println!(
        "10 blocks on a 2,000-line file: p50 {:.2?} p99 {:.2?}; copying the file p50 {:.2?}; apply/copy p50 {:.0}",
        percentile(&applies, 0.5),
        percentile(&applies, 0.99),
        percentile(&copies, 0.5),
        percentile(&applies, 0.5).as_secs_f64() / percentile(&copies, 0.5).as_secs_f64().max(1e-9)
    );

    // The line diff of a 10 MB rewrite.
    let big: String = (0..200_000)
        .map(|n| format!("const value{n:06} = computeSomething({n:06}, 'line');\n"))
        .collect();
    println!("document: {:.1} MB, 200,000 lines", big.len() as f64 / 1e6);
    let one = big.replacen("value100000 =", "renamed100000 =", 1);
    let scattered: String = big
        .lines()
        .enumerate()
        .map(|(n, line)| {
            if n % 100 == 0 {
                format!("{line} // changed\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let everything = big.replace("computeSomething", "computeOther");
    for (name, after) in [
        ("one line changed", &one),
        ("1% of lines changed", &scattered),
        ("every line changed", &everything),
    ] {
        let started = Instant::now();
        let changes = line_changes(&big, after);
        let diff_time = started.elapsed();
        // Baseline: reading both texts line by line once, which any line diff must do.
        let started = Instant::now();
        std::hint::black_box(big.lines().count() + after.lines().count());
        let compare = started.elapsed();
        let sent: usize = changes.iter().map(|change| change.text.len()).sum();
        println!(
            "  {name}: diff {diff_time:.2?} → {} edits, {:.2} MB sent; splitting both into lines {compare:.2?}; diff/split {:.1}",
            changes.len(),
            sent as f64 / 1e6,
            diff_time.as_secs_f64() / compare.as_secs_f64().max(1e-9)
        );
    }

    // An edit of one function against the whole-file rewrite.
    let edit = "<boltAction type=\"edit\" filePath=\"src/steps.js\">\n<<<<<<< SEARCH\n    total += item.price * 120;\n=======\n    total += item.price * 120 * (1 - item.discount);\n>>>>>>> REPLACE\n</boltAction>\n";
    let changed = file.replace(
        "    total += item.price * 120;\n",
        "    total += item.price * 120 * (1 - item.discount);\n",
    );
    let rewrite =
        format!("<boltAction type=\"file\" filePath=\"src/steps.js\">\n{changed}</boltAction>\n");
    assert_eq!(
        apply(&file, &parse_blocks(edit).expect("blocks"))
            .expect("applies")
            .text,
        changed
    );
    println!(
        "one function changed in a 2,000-line file: edit {} bytes, rewrite {} bytes; edit/rewrite {:.2}%",
        edit.len(),
        rewrite.len(),
        edit.len() as f64 / rewrite.len() as f64 * 100.0
    );
}
