//! Parser throughput on generated replies, fed in 20-byte and 4 KiB chunks, beside a baseline measured
//! in the same run: copying the same chunks into a buffer (the least any parser must do with a body).
//!
//! `cargo bench -p openbolt-parser` — then `python3 bench/ratios.py` prints the ratios.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openbolt_parser::{Event, Parser};
use std::hint::black_box;
use std::time::Duration;

/// A deterministic generator of source-like replies.
struct Generator {
    state: u64,
}

impl Generator {
    fn next(&mut self, bound: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % bound
    }

    fn source_line(&mut self, out: &mut String) {
        const LINES: &[&str] = &[
            "  const [items, setItems] = useState<string[]>([]);",
            "  return <li key={item.id} className=\"todo\">{item.text}</li>;",
            "  if (a < b && b > c) { console.log(`value: ${a}`); }",
            "import { useState } from 'react';",
            "export default function App() {",
            "}",
            "    <div className=\"app\"><h1>Todos</h1></div>",
            "  .container { display: flex; gap: 8px; }",
            "",
            "  // Keep the list sorted: the newest first.",
        ];
        out.push_str(LINES[self.next(LINES.len() as u64) as usize]);
        out.push('\n');
    }

    fn prose(&mut self, out: &mut String) {
        const SENTENCES: &[&str] = &[
            "I'll set up the project with Vite and React. ",
            "The `<App>` component keeps the list in state; a < b is fine in prose. ",
            "Next, install the dependencies and start the dev server.\n",
            "Here is what changed:\n\n- the list\n- the styles\n\n",
        ];
        for _ in 0..1 + self.next(4) {
            out.push_str(SENTENCES[self.next(SENTENCES.len() as u64) as usize]);
        }
    }

    fn reply(&mut self, target: usize) -> String {
        let mut out = String::with_capacity(target + 64 * 1024);
        let mut artifact = 0;
        while out.len() < target {
            self.prose(&mut out);
            out.push_str(&format!(
                "\n<boltArtifact id=\"app-{artifact}\" title=\"App {artifact}\">\n"
            ));
            for action in 0..5 + self.next(20) {
                match self.next(10) {
                    0 => out.push_str("  <boltAction type=\"shell\">npm install</boltAction>\n"),
                    1 => out.push_str("  <boltAction type=\"start\">npm run dev</boltAction>\n"),
                    _ => {
                        out.push_str(&format!(
                            "  <boltAction type=\"file\" filePath=\"src/c{artifact}_{action}.tsx\">\n"
                        ));
                        for _ in 0..20 + self.next(380) {
                            self.source_line(&mut out);
                        }
                        out.push_str("</boltAction>\n");
                    }
                }
            }
            out.push_str("</boltArtifact>\n");
            artifact += 1;
        }
        out
    }

    fn huge_action(&mut self, size: usize) -> String {
        let mut out = String::from(
            "One big file:\n<boltArtifact id=\"big\" title=\"Big\">\n<boltAction type=\"file\" filePath=\"big.ts\">\n",
        );
        while out.len() < size {
            self.source_line(&mut out);
        }
        out.push_str("</boltAction>\n</boltArtifact>\n");
        out
    }
}

fn chunks(reply: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(reply.len() / size + 1);
    let mut rest = reply;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces
}

fn parse(pieces: &[&str], parser: &mut Parser) -> usize {
    let mut seen = 0usize;
    let mut on_event = |event: Event<'_>| {
        seen += match event {
            Event::Text(text) | Event::ActionDelta { text, .. } => text.len(),
            Event::ActionClose { content, .. } => content.len(),
            _ => 1,
        };
    };
    for piece in pieces {
        parser.feed_with(piece, &mut on_event);
    }
    parser.finish_with(&mut on_event);
    seen
}

fn copy(pieces: &[&str], buffer: &mut String) -> usize {
    buffer.clear();
    for piece in pieces {
        buffer.push_str(black_box(piece));
    }
    buffer.len()
}

fn bench_replies(criterion: &mut Criterion) {
    let mut generator = Generator { state: 0x5EED };
    let replies = [
        ("1MB", generator.reply(1 << 20)),
        ("20MB", generator.reply(20 << 20)),
        ("huge-action-4MB", generator.huge_action(4 << 20)),
    ];
    for (name, reply) in &replies {
        let mut group = criterion.benchmark_group(format!("parser/{name}"));
        group.throughput(Throughput::Bytes(reply.len() as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        for chunk_size in [20usize, 4096] {
            let pieces = chunks(reply, chunk_size);
            let mut parser = Parser::new();
            group.bench_with_input(
                BenchmarkId::new("parse", chunk_size),
                &pieces,
                |bencher, pieces| {
                    bencher.iter(|| parse(pieces, &mut parser));
                },
            );
            let mut buffer = String::with_capacity(reply.len());
            group.bench_with_input(
                BenchmarkId::new("copy-baseline", chunk_size),
                &pieces,
                |bencher, pieces| {
                    bencher.iter(|| copy(pieces, &mut buffer));
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench_replies);
criterion_main!(benches);
