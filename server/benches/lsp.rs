//! `openbolt lsp` figures, each beside a baseline measured in the same run:
//! - `initialize` answered after spawn, against spawning `cat` and getting the same frame echoed;
//! - resident memory of an idle server after `initialize`, against `cat`'s;
//! - one incremental edit on a 10 MB document (rope), against rebuilding the string;
//! - `openbolt/document` round trips while a 10 MB reply streams at full speed and a command floods its
//!   terminal, against the same requests to an idle server (p50/p99).
//!
//! `cargo bench -p openbolt --bench lsp` (`BENCH_RUNS`, default 20)

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

#[path = "../../tests/lsp_client.rs"]
mod lsp_client;
#[path = "../../tests/support.rs"]
mod support;

use lsp_client::{Lsp, uri};
use openbolt::lsp::documents::Documents;
use serde_json::json;
use std::str::FromStr;
use std::time::{Duration, Instant};
use support::{Format, Reply, StandIn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn initialize_frame(root: &std::path::Path) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": uri(root), "capabilities": {}}}).to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Spawn → the first bytes of the answer to `frame` on stdout; and the process's RSS then.
async fn first_answer(program: &str, arguments: &[&str], frame: &[u8]) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(arguments)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(frame).await.expect("write");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut byte = [0u8; 1];
    stdout.read_exact(&mut byte).await.expect("an answer");
    let elapsed = started.elapsed();
    // Let the answer finish and the process settle into idle before measuring memory.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = resident_kib(child.id().expect("pid"));
    drop(stdin);
    let _ = child.kill().await;
    (elapsed, rss)
}

fn edits_on_a_big_document() {
    let line = "let value = compute(items[index], options); // 🦀 a line of a big generated file\n";
    let text = line.repeat((10 << 20) / line.len());
    let documents = Documents::default();
    let target = Uri::from_str("file:///bench/big.ts").expect("uri");
    documents.open(&target, &text, 1, "typescript");
    let lines = text.lines().count() as u32;
    let edits = 2000;
    let started = Instant::now();
    for version in 0..edits {
        let at = Position {
            line: (version * 7919) % lines,
            character: 10,
        };
        let change = TextDocumentContentChangeEvent {
            range: Some(Range { start: at, end: at }),
            range_length: None,
            text: "x".to_owned(),
        };
        documents
            .change(&target, version as i32 + 2, &[change])
            .expect("change");
    }
    let rope_each = started.elapsed() / edits;

    let mut naive = text.clone();
    let rebuilds = 20u32;
    let started = Instant::now();
    for round in 0..rebuilds {
        let at = (round as usize * 104_729) % naive.len();
        let at = (at..naive.len())
            .find(|index| naive.is_char_boundary(*index))
            .unwrap_or(0);
        naive = format!("{}x{}", &naive[..at], &naive[at..]);
    }
    std::hint::black_box(&naive);
    let naive_each = started.elapsed() / rebuilds;
    println!(
        "one incremental edit on a {:.1} MB document: rope {:.2?}, naive string rebuild {:.2?}; rebuild/rope {:.0}×",
        text.len() as f64 / 1e6,
        rope_each,
        naive_each,
        naive_each.as_secs_f64() / rope_each.as_secs_f64()
    );
}

async fn document_round_trips(lsp: &mut Lsp, target: &str, count: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let response = lsp
            .request("openbolt/document", json!({"uri": target}))
            .await;
        assert!(response.get("result").is_some(), "{response}");
        times.push(started.elapsed());
    }
    times.sort_unstable();
    times
}

async fn responsiveness_under_load() {
    let line = "  return <li key={i}>{items[i]}</li>; // a generated line of a big component\n";
    let mut reply = String::from(
        "<boltArtifact id=\"load\" title=\"Load\">\n<boltAction type=\"start\">\nexec yes 'a dev server that prints far too much'\n</boltAction>\n",
    );
    for file in 0.. {
        if reply.len() > 10 << 20 {
            break;
        }
        reply.push_str(&format!(
            "<boltAction type=\"file\" filePath=\"src/f{file}.tsx\">\n"
        ));
        reply.push_str(&line.repeat(1000));
        reply.push_str("</boltAction>\n");
    }
    reply.push_str("</boltArtifact>\n");
    let standin = StandIn::start(Format::Anthropic, vec![Reply::bulk(&reply, 256)]).await;
    let workspace = tempfile::tempdir().expect("workspace");
    let url = standin.url.clone();
    let env = [
        ("ANTHROPIC_API_KEY", "bench"),
        ("ANTHROPIC_BASE_URL", url.as_str()),
    ];
    let mut lsp = Lsp::start(
        workspace.path(),
        &env,
        json!({"approval": {"autoApprove": true}}),
        true,
    )
    .await;
    let path = workspace.path().join("open.ts");
    lsp.open_document(&path, "const open = true;\n").await;
    let target = uri(&path);

    let idle = document_round_trips(&mut lsp, &target, 500).await;
    let chat = lsp
        .start_request("openbolt/chat", json!({"prompt": "load"}))
        .await;
    lsp.wait_method("openbolt/terminalOutput").await;
    let busy = document_round_trips(&mut lsp, &target, 500).await;
    let notifications = lsp.seen.len();
    lsp.request("openbolt/abort", json!({"sessionId": ""}))
        .await;
    let _ = lsp
        .request(
            "workspace/executeCommand",
            json!({"command": "openbolt.abort"}),
        )
        .await;
    let _ = lsp.response(chat).await;
    println!(
        "openbolt/document round trip: idle p50 {:.2?} p99 {:.2?}; while a 10 MB reply streams and `yes` floods a terminal p50 {:.2?} p99 {:.2?} ({} notifications read meanwhile); busy/idle p99 {:.1}",
        percentile(&idle, 0.5),
        percentile(&idle, 0.99),
        percentile(&busy, 0.5),
        percentile(&busy, 0.99),
        notifications,
        percentile(&busy, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64(),
    );
    let _ = lsp.stop().await;
}

#[tokio::main]
async fn main() {
    openbolt::install_crypto_provider();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(20);
    let root = tempfile::tempdir().expect("root");
    let frame = initialize_frame(root.path());
    let mut ours = Vec::new();
    let mut cat = Vec::new();
    let (mut our_rss, mut cat_rss) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (elapsed, rss) = first_answer(env!("CARGO_BIN_EXE_openbolt"), &["lsp"], &frame).await;
        ours.push(elapsed);
        our_rss.push(rss);
        let (elapsed, rss) = first_answer("cat", &[], &frame).await;
        cat.push(elapsed);
        cat_rss.push(rss);
    }
    ours.sort_unstable();
    cat.sort_unstable();
    our_rss.sort_unstable();
    cat_rss.sort_unstable();
    println!(
        "initialize answered after spawn: median {:.2?} (p90 {:.2?}); `cat` echoing the same frame: median {:.2?}; ratio {:.1}",
        percentile(&ours, 0.5),
        percentile(&ours, 0.9),
        percentile(&cat, 0.5),
        percentile(&ours, 0.5).as_secs_f64() / percentile(&cat, 0.5).as_secs_f64()
    );
    println!(
        "idle RSS after initialize: median {} KiB (max {} KiB); `cat`: {} KiB",
        our_rss[our_rss.len() / 2],
        our_rss[our_rss.len() - 1],
        cat_rss[cat_rss.len() / 2]
    );
    edits_on_a_big_document();
    responsiveness_under_load().await;
}
