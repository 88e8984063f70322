//! The terminal pipeline against a bare PTY, in the same run: `head -c 200M` of a repeated line read
//! straight from a portable-pty master (the baseline) and through [`Terminals`] to a consumer of its
//! events (reader thread, tail, coalescing, UTF-8 assembly, channel). Then memory: a consumer that
//! reads 1 MB/s from an endless `yes` for a few seconds; the process's resident set is sampled. Then the
//! sandbox: the time from spawn to exit of `true` without and with it (p50/p99 over 200 runs each), and
//! the throughput through sandboxed terminals.
//!
//! `cargo bench -p openbolt --bench terminal` (`BENCH_RUNS`, default 3; `BENCH_MB`, default 200)

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use openbolt::sandbox::{self, Sandbox, SandboxMode};
use openbolt::terminal::{Purpose, TerminalEvent, TerminalOptions, Terminals};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::Read;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn command(megabytes: usize) -> String {
    format!(
        "yes 'a line of output from a chatty build tool, as npm install prints' | head -c {megabytes}000000"
    )
}

/// The baseline: the same command in a bare PTY, read in a thread until EOF.
fn bare_pty(command: &str) -> (usize, Duration) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut builder = CommandBuilder::new("/bin/sh");
    builder.arg("-c");
    builder.arg(command);
    let started = Instant::now();
    let mut child = pair.slave.spawn_command(builder).expect("spawn");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let mut buffer = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => total += read,
        }
    }
    let elapsed = started.elapsed();
    child.wait().expect("wait");
    (total, elapsed)
}

/// The sandbox the front ends give the terminals on this machine (the `openbolt` binary does the work).
fn sandbox() -> Option<Sandbox> {
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_openbolt"));
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let settings = sandbox::Settings {
        mode: SandboxMode::Required,
        network: true,
        ..sandbox::Settings::default()
    };
    sandbox::configure(&settings, program, home.as_deref(), Vec::new()).0
}

async fn through_terminals(command: &str, sandbox: Option<Sandbox>) -> (usize, usize, Duration) {
    let (sender, mut events) = mpsc::channel(64);
    let terminals = Terminals::new(
        TerminalOptions {
            shell: "/bin/sh".into(),
            ..TerminalOptions::default()
        },
        sender,
    );
    terminals.set_sandbox(sandbox);
    let started = Instant::now();
    terminals
        .spawn("bench", command, &std::env::temp_dir(), Purpose::Shell)
        .expect("spawn");
    let mut total = 0;
    let mut count = 0;
    while let Some(event) = events.recv().await {
        match event {
            TerminalEvent::Output { data, .. } => {
                total += data.len();
                count += 1;
            }
            TerminalEvent::Exit { .. } => break,
            _ => {}
        }
    }
    (total, count, started.elapsed())
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

async fn slow_consumer(seconds: u64) {
    let (sender, mut events) = mpsc::channel(64);
    let terminals = Terminals::new(
        TerminalOptions {
            shell: "/bin/sh".into(),
            ..TerminalOptions::default()
        },
        sender,
    );
    let before = resident_kib();
    terminals
        .spawn(
            "bench",
            "exec yes 'endless output'",
            &std::env::temp_dir(),
            Purpose::Shell,
        )
        .expect("spawn");
    let started = Instant::now();
    let mut read = 0usize;
    let mut peak = before;
    let mut samples = Vec::new();
    let mut next_sample = Duration::from_secs(1);
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some(TerminalEvent::Output { data, .. }) = events.recv().await {
            read += data.len();
        }
        // 1 MB/s: wait until the bytes read so far are due.
        let due = Duration::from_secs_f64(read as f64 / 1e6);
        if due > started.elapsed() {
            tokio::time::sleep(due - started.elapsed()).await;
        }
        let now = resident_kib();
        peak = peak.max(now);
        if started.elapsed() >= next_sample {
            samples.push(now);
            next_sample += Duration::from_secs(1);
        }
    }
    terminals.shutdown().await;
    println!(
        "slow consumer (1 MB/s, {seconds} s, {:.1} MB read): RSS before {} KiB, peak {} KiB (+{} KiB), per second {:?} KiB",
        read as f64 / 1e6,
        before,
        peak,
        peak.saturating_sub(before),
        samples
    );
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

/// From spawn to the exit of `true`, `runs` times each without the sandbox, in the write-only sandbox and
/// in the sandbox that also denies the credentials' reads (this machine's `$HOME`), interleaved.
async fn sandbox_startup(runs: usize) {
    let (sender, mut events) = mpsc::channel(64);
    let terminals = Terminals::new(
        TerminalOptions {
            shell: "/bin/sh".into(),
            detect_previews: false,
            ..TerminalOptions::default()
        },
        sender,
    );
    let write_only = sandbox();
    let reads = write_only.clone().map(|mut sandbox| {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let data = openbolt::store::default_data_dir(|name| std::env::var(name).ok());
        sandbox.deny_read = sandbox::reads::default_denied(
            home.as_deref(),
            openbolt::config::user_config_dir().as_deref(),
            &data,
        );
        sandbox
    });
    let variants = [None, write_only, reads];
    let mut times: [Vec<Duration>; 3] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for round in 0..runs * 3 {
        let variant = round % 3;
        terminals.set_sandbox(variants[variant].clone());
        let started = Instant::now();
        let spawned = terminals
            .spawn("bench", "true", &std::env::temp_dir(), Purpose::Shell)
            .expect("spawn");
        loop {
            if let Some(TerminalEvent::Exit { terminal_id, exit }) = events.recv().await
                && terminal_id == spawned.id
            {
                assert!(exit.success(), "{exit:?}");
                break;
            }
        }
        times[variant].push(started.elapsed());
    }
    for list in &mut times {
        list.sort_unstable();
    }
    let [plain, sandboxed, reading] = &times;
    let added = |more: &[Duration], base: &[Duration], fraction: f64| {
        percentile(more, fraction).saturating_sub(percentile(base, fraction))
    };
    println!(
        "`true` from spawn to exit ({runs} runs each): unsandboxed p50 {:.2?} p99 {:.2?}; sandboxed p50 {:.2?} p99 {:.2?}; added p50 {:.2?} p99 {:.2?}",
        percentile(plain, 0.5),
        percentile(plain, 0.99),
        percentile(sandboxed, 0.5),
        percentile(sandboxed, 0.99),
        added(sandboxed, plain, 0.5),
        added(sandboxed, plain, 0.99),
    );
    println!(
        "credential reads denied too: p50 {:.2?} p99 {:.2?}; added to the write-only sandbox p50 {:.2?} p99 {:.2?}",
        percentile(reading, 0.5),
        percentile(reading, 0.99),
        added(reading, sandboxed, 0.5),
        added(reading, sandboxed, 0.99),
    );
}

/// The redaction of terminal output (`secrets::values::Stream`) with 20 known secrets, over `megabytes`
/// of output in 4 KiB chunks: its throughput, to set beside the terminal's own. The secrets stay known,
/// so the terminal runs after it redact too.
fn redaction_throughput(megabytes: usize) -> f64 {
    openbolt::secrets::values::know(
        "bench",
        (0..20).map(|index| format!("bench-secret-value-{index:04}-xyz")),
    );
    let line = b"  GET /api/items?page=12 200 in 4ms (compiled /api/items in 113ms) token=bench-secret-value-0007-xyz\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(4096).collect();
    let chunks = megabytes * 256;
    let mut stream = openbolt::secrets::values::Stream::default();
    let started = Instant::now();
    let mut out = 0;
    for _ in 0..chunks {
        out += stream.feed(&chunk).len();
    }
    out += stream.finish().len();
    assert!(out > 0);
    (chunks * 4096) as f64 / 1e6 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    openbolt::install_crypto_provider();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(3);
    let megabytes: usize = std::env::var("BENCH_MB")
        .ok()
        .and_then(|mb| mb.parse().ok())
        .unwrap_or(200);
    // Memory first, so that the throughput runs do not raise the baseline.
    slow_consumer(6).await;
    sandbox_startup(200).await;
    let redaction = redaction_throughput(megabytes);

    let command = command(megabytes);
    let mut bare_best = Duration::MAX;
    let mut ours_best = Duration::MAX;
    let (mut bare_bytes, mut ours_bytes, mut ours_events) = (0, 0, 0);
    let mut sandboxed_best = Duration::MAX;
    let mut sandboxed_bytes = 0;
    for _ in 0..runs {
        let command_for_thread = command.clone();
        let (bytes, elapsed) = tokio::task::spawn_blocking(move || bare_pty(&command_for_thread))
            .await
            .expect("bare");
        bare_bytes = bytes;
        bare_best = bare_best.min(elapsed);
        let (bytes, count, elapsed) = through_terminals(&command, None).await;
        ours_bytes = bytes;
        ours_events = count;
        ours_best = ours_best.min(elapsed);
        let (bytes, _, elapsed) = through_terminals(&command, sandbox()).await;
        sandboxed_bytes = bytes;
        sandboxed_best = sandboxed_best.min(elapsed);
    }
    let rate = |bytes: usize, elapsed: Duration| bytes as f64 / 1e6 / elapsed.as_secs_f64();
    println!(
        "bare PTY: {:.0} MB in {:.2?} = {:.0} MB/s; through Terminals: {:.0} MB in {:.2?} = {:.0} MB/s in {} events; ours/bare throughput {:.2}",
        bare_bytes as f64 / 1e6,
        bare_best,
        rate(bare_bytes, bare_best),
        ours_bytes as f64 / 1e6,
        ours_best,
        rate(ours_bytes, ours_best),
        ours_events,
        rate(ours_bytes, ours_best) / rate(bare_bytes, bare_best),
    );
    println!(
        "through Terminals in the sandbox: {:.0} MB/s; sandboxed/unsandboxed throughput {:.2}",
        rate(sandboxed_bytes, sandboxed_best),
        rate(sandboxed_bytes, sandboxed_best) / rate(ours_bytes, ours_best),
    );
    println!(
        "redaction alone (20 secrets, 4 KiB chunks): {redaction:.0} MB/s; redaction/terminal throughput {:.1} (the terminal runs above redact the same 20)",
        redaction / rate(ours_bytes, ours_best),
    );
}
