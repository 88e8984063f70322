//! What MCP tools cost, beside baselines measured in the same run against the same real server
//! (`@modelcontextprotocol/server-everything` from npm; `bash scripts/mcp-test-deps` installs it):
//! - the first tool call of a turn — the server started, initialized, its tools listed, the call made —
//!   through `Mcp`, against doing the same by hand over the process's pipes (the server's own time);
//! - a warm call (`echo`) through `Mcp`, against the same call by hand: the overhead we add;
//! - the idle memory of `openbolt lsp` with two servers configured but not used, against none (servers
//!   start lazily: nothing may run, nothing may be held).
//!
//! `cargo bench -p openbolt --bench mcp`

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use openbolt::mcp::{Mcp, McpConfig, Timeouts};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn everything() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.mcp-test/node_modules/.bin/mcp-server-everything");
    assert!(path.exists(), "run `bash scripts/mcp-test-deps` first");
    path
}

/// The server driven by hand: newline-delimited JSON-RPC over its pipes.
struct Raw {
    child: Child,
    lines: BufReader<std::process::ChildStdout>,
    next: u64,
}

impl Raw {
    fn start() -> Raw {
        let mut child = Command::new(everything())
            .arg("stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let lines = BufReader::new(child.stdout.take().expect("stdout"));
        Raw {
            child,
            lines,
            next: 1,
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{message}").expect("write");
        stdin.flush().expect("flush");
        loop {
            let mut line = String::new();
            self.lines.read_line(&mut line).expect("read");
            let answer: Value = serde_json::from_str(&line).expect("JSON");
            if answer["id"] == id {
                return answer;
            }
        }
    }

    fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(
            stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .expect("write");
    }

    fn echo(&mut self) -> Value {
        self.request(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config() -> McpConfig {
    let mut config = McpConfig::default();
    config.add(
        &json!({"everything": {"command": everything(), "args": ["stdio"]}}),
        "bench",
    );
    config
}

fn first_calls(runtime: &tokio::runtime::Runtime) -> (Vec<Duration>, Vec<Duration>) {
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let mut server = Raw::start();
        server.initialize();
        server.request("tools/list", json!({}));
        let answer = server.echo();
        raw.push(started.elapsed());
        assert!(answer.to_string().contains("Echo: hi"));
        drop(server);

        runtime.block_on(async {
            let mcp = Mcp::new(&config(), Timeouts::default());
            let started = Instant::now();
            let (tools, failures) = mcp.tools().await;
            assert!(failures.is_empty() && !tools.is_empty(), "{failures:?}");
            let result = mcp
                .call("everything", "echo", json!({"message": "hi"}))
                .await
                .expect("the call");
            ours.push(started.elapsed());
            assert_eq!(result.text, "Echo: hi");
            mcp.shutdown();
        });
    }
    (ours, raw)
}

fn warm_calls(runtime: &tokio::runtime::Runtime) -> (Vec<Duration>, Vec<Duration>) {
    let mut server = Raw::start();
    server.initialize();
    let mut raw = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        server.echo();
        raw.push(started.elapsed());
    }
    drop(server);
    runtime.block_on(async {
        let mcp = Mcp::new(&config(), Timeouts::default());
        mcp.tools().await;
        let mut ours = Vec::new();
        for _ in 0..300 {
            let started = Instant::now();
            mcp.call("everything", "echo", json!({"message": "hi"}))
                .await
                .expect("the call");
            ours.push(started.elapsed());
        }
        mcp.shutdown();
        (ours, raw)
    })
}

/// An `openbolt lsp` in `workspace`, initialized, answering: its resident memory in KiB and how many
/// processes it has started.
fn idle_lsp(workspace: &Path, data: &Path) -> (u64, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .arg("lsp")
        .current_dir(workspace)
        .env("OPENBOLT_DATA_DIR", data)
        .env("HOME", workspace)
        .env("ANTHROPIC_API_KEY", "sk-bench")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openbolt lsp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let uri = format!("file://{}", workspace.display());
    let send = |stdin: &mut std::process::ChildStdin, message: Value| {
        let body = message.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    };
    let answer = |stdout: &mut BufReader<std::process::ChildStdout>, id: u64| loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        stdout.read_exact(&mut body).expect("body");
        let message: Value = serde_json::from_slice(&body).expect("JSON");
        if message["id"] == id && message.get("method").is_none() {
            return message;
        }
    };
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "w"}], "capabilities": {}}}),
    );
    answer(&mut stdout, 1);
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "openbolt/mcpServers", "params": null}),
    );
    let servers = answer(&mut stdout, 2);
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("status")
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS");
    let children =
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
            .unwrap_or_default()
            .split_whitespace()
            .count();
    assert!(
        servers["result"]
            .as_array()
            .is_some_and(|list| list.iter().all(|server| server["state"] == "idle")),
        "{servers}"
    );
    drop(stdin);
    let _ = child.wait();
    (rss, children)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut ours, mut raw) = first_calls(&runtime);
    ours.sort();
    raw.sort();
    println!(
        "first call (start + initialize + list + call), 15 runs: ours p50 {:.1} ms, p99 {:.1} ms; by hand p50 {:.1} ms, p99 {:.1} ms; added p50 {:.1} ms ({:.2}×)",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99)),
        ms(percentile(&raw, 0.5)),
        ms(percentile(&raw, 0.99)),
        ms(percentile(&ours, 0.5)) - ms(percentile(&raw, 0.5)),
        ms(percentile(&ours, 0.5)) / ms(percentile(&raw, 0.5)),
    );
    let (mut ours, mut raw) = warm_calls(&runtime);
    ours.sort();
    raw.sort();
    println!(
        "warm call (echo), 300 calls: ours p50 {:.3} ms, p99 {:.3} ms; by hand p50 {:.3} ms, p99 {:.3} ms; overhead p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99)),
        ms(percentile(&raw, 0.5)),
        ms(percentile(&raw, 0.99)),
        ms(percentile(&ours, 0.5)) - ms(percentile(&raw, 0.5)),
        ms(percentile(&ours, 0.99)) - ms(percentile(&raw, 0.99)),
    );

    let dir = tempfile::tempdir().expect("dir");
    let plain = dir.path().join("plain");
    let configured = dir.path().join("configured");
    std::fs::create_dir_all(&plain).expect("dir");
    std::fs::create_dir_all(configured.join(".openbolt")).expect("dir");
    std::fs::write(
        configured.join(".openbolt/mcp.json"),
        json!({"mcpServers": {
            "everything": {"command": everything(), "args": ["stdio"]},
            "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]}
        }})
        .to_string(),
    )
    .expect("mcp.json");
    let mut none = Vec::new();
    let mut two = Vec::new();
    for _ in 0..5 {
        none.push(idle_lsp(&plain, &dir.path().join("data")));
        two.push(idle_lsp(&configured, &dir.path().join("data")));
    }
    assert!(
        two.iter().all(|(_, children)| *children == 0),
        "a server started: {two:?}"
    );
    let median = |runs: &mut Vec<(u64, usize)>| {
        runs.sort();
        runs[runs.len() / 2].0
    };
    let (none, two) = (median(&mut none), median(&mut two));
    println!(
        "idle openbolt lsp: no MCP servers {none} KiB, two configured (not started, no child process) {two} KiB: {:+} KiB (target within 1 MiB)",
        two as i64 - none as i64
    );
}
