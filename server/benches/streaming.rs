//! Streaming through the engine's pipeline: a 10 MB reply from the provider stand-in over loopback HTTP,
//! SSE-decoded, mapped and parsed, beside a baseline in the same run — the same response read as raw
//! bytes with no decoding or parsing. Also the time the pipeline adds per chunk, from a chunk arriving to
//! its prose (or action events) being handed on, as a distribution (p50/p99/max). Both clocks start once
//! the response has begun (the stand-in makes the whole body first), so they time transfer and work,
//! not the stand-in's making of the body.
//!
//! `cargo bench -p openbolt --bench streaming`

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

#[path = "../../tests/support.rs"]
mod support;

use futures::StreamExt;
use openbolt::config::{ProviderKind, ProviderSettings};
use openbolt::provider::{ChatRequest, Message, Provider, Role, StreamItem};
use openbolt_parser::{Event, Parser};
use std::time::{Duration, Instant};
use support::{Format, Reply, StandIn};

fn reply(target: usize) -> String {
    let mut out = String::with_capacity(target + 4096);
    let mut index = 0;
    while out.len() < target {
        out.push_str("Some prose about the change, with `code` and a < b.\n\n<boltArtifact id=\"app\" title=\"App\">\n");
        for file in 0..8 {
            out.push_str(&format!(
                "<boltAction type=\"file\" filePath=\"src/f{index}_{file}.tsx\">\n"
            ));
            for line in 0..120 {
                out.push_str(&format!(
                    "  return <li key={{{line}}}>{{items[{line}]}}</li>; // line {line}\n"
                ));
            }
            out.push_str("</boltAction>\n");
        }
        out.push_str("</boltArtifact>\n");
        index += 1;
    }
    out
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

#[tokio::main]
async fn main() {
    let text = reply(10 << 20);
    let request = ChatRequest {
        system: "bench".into(),
        messages: vec![Message::text(Role::User, "go".into())],
        max_tokens: 1024,
    };
    for format in [Format::Anthropic, Format::OpenAi] {
        let standin = StandIn::start(format, vec![Reply::bulk(&text, 256)]).await;
        let settings = ProviderSettings {
            name: "bench".into(),
            kind: match format {
                Format::Anthropic => ProviderKind::Anthropic,
                Format::OpenAi => ProviderKind::OpenAi,
            },
            model: "bench".into(),
            base_url: standin.url.clone(),
            api_key: None,
            replay_file: None,
            replay_bytes_per_second: 0,
        };
        let provider = Provider::new(settings).expect("provider");
        let path = match format {
            Format::Anthropic => format!("{}/v1/messages", standin.url),
            Format::OpenAi => format!("{}/chat/completions", standin.url),
        };

        let mut raw_best = Duration::MAX;
        let mut pipeline_best = Duration::MAX;
        let mut added = Vec::new();
        let mut wire_bytes = 0usize;
        let runs: usize = std::env::var("BENCH_RUNS")
            .ok()
            .and_then(|runs| runs.parse().ok())
            .unwrap_or(2);
        for _ in 0..runs {
            // Baseline: the same response, bytes only.
            let started = Instant::now();
            let response = reqwest::Client::new()
                .post(&path)
                .body("{}")
                .send()
                .await
                .expect("raw request");
            let mut body = response.bytes_stream();
            wire_bytes = 0;
            while let Some(chunk) = body.next().await {
                wire_bytes += chunk.expect("raw chunk").len();
            }
            raw_best = raw_best.min(started.elapsed());

            // The pipeline: SSE decoding, wire format mapping, parsing, events handed on.
            let mut stream = provider.open(&request, |_| {}).await.expect("open");
            let started = Instant::now();
            let mut parser = Parser::new();
            let mut prose = 0usize;
            loop {
                let Some(item) = stream.next().await else {
                    break;
                };
                let arrived = Instant::now();
                match item.expect("stream item") {
                    StreamItem::Text(piece) => {
                        parser.feed_with(&piece, |event| {
                            if let Event::Text(text) = event {
                                prose += text.len();
                            }
                        });
                        added.push(arrived.elapsed());
                    }
                    StreamItem::Stop(_) => break,
                    StreamItem::Usage(_) => {}
                }
            }
            std::hint::black_box(prose);
            pipeline_best = pipeline_best.min(started.elapsed());
        }
        added.sort_unstable();
        let megabytes = text.len() as f64 / 1e6;
        println!(
            "{format:?}: reply {:.1} MB ({:.1} MB on the wire): pipeline {:.0} MB/s of reply ({:.2?}), raw bytes {:.0} MB/s of wire ({:.2?}); pipeline/raw time {:.2}",
            megabytes,
            wire_bytes as f64 / 1e6,
            megabytes / pipeline_best.as_secs_f64(),
            pipeline_best,
            wire_bytes as f64 / 1e6 / raw_best.as_secs_f64(),
            raw_best,
            pipeline_best.as_secs_f64() / raw_best.as_secs_f64(),
        );
        println!(
            "{format:?}: time added per text delta ({} deltas): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            added.len(),
            percentile(&added, 0.5),
            percentile(&added, 0.99),
            added.last().copied().unwrap_or_default(),
        );
    }
}
