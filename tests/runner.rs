//! The action runner and its terminals with real PTYs and real processes: output, input, resize, exit
//! codes, back-pressure, process-tree cleanup, previews from a real HTTP server, timeouts, and the
//! order and statuses of a turn's actions.

use openbolt::actions::approval::{Approval, ApprovalPolicy, FixedApprover};
use openbolt::actions::command::COMMAND_TIMEOUT;
use openbolt::actions::{
    ActionStatus, ActionUpdate, DevServers, DiskWriter, Job, RunSettings, Runner,
};
use openbolt::engine::TurnEvent;
use openbolt::terminal::{Preview, Purpose, TerminalEvent, TerminalId, TerminalOptions, Terminals};
use openbolt_parser::{ActionInfo, ActionKind};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Long enough for a loaded CI machine; a test that needs it has failed anyway.
const PATIENCE: Duration = Duration::from_secs(30);

fn terminals(capacity: usize) -> (Terminals, mpsc::Receiver<TerminalEvent>) {
    let (sender, receiver) = mpsc::channel(capacity);
    let options = TerminalOptions {
        shell: "/bin/sh".to_owned(),
        kill_grace: Duration::from_millis(500),
        ..TerminalOptions::default()
    };
    (Terminals::new(options, sender), receiver)
}

/// Output of `id` until its exit; the exit code.
async fn output_until_exit(
    events: &mut mpsc::Receiver<TerminalEvent>,
    id: TerminalId,
) -> (String, i32) {
    let mut output = String::new();
    loop {
        match timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            TerminalEvent::Output { terminal_id, data } if terminal_id == id => {
                output.push_str(&data);
            }
            TerminalEvent::Exit { terminal_id, exit } if terminal_id == id => {
                return (output, exit.code);
            }
            _ => {}
        }
    }
}

/// Reads events until one of `id`'s output has shown `needle`; returns everything it printed.
async fn output_until(
    events: &mut mpsc::Receiver<TerminalEvent>,
    id: TerminalId,
    needle: &str,
) -> String {
    let mut output = String::new();
    while !output.contains(needle) {
        match timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            TerminalEvent::Output { terminal_id, data } if terminal_id == id => {
                output.push_str(&data);
            }
            TerminalEvent::Exit { terminal_id, .. } if terminal_id == id => {
                panic!("terminal {id} exited before printing {needle:?}: {output:?}")
            }
            _ => {}
        }
    }
    output
}

/// The number after `label=` in `text`.
fn number_after(text: &str, label: &str) -> i32 {
    let start = text.find(label).expect("label") + label.len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| openbolt::terminal::process::parse_stat(&stat))
        .is_some_and(|info| !info.zombie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_streams_and_exit_codes_are_reported() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = terminals
        .spawn(
            "s",
            "printf 'one\\n'; printf '日本🦀\\n' >&2; pwd; exit 3",
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    let (output, code) = output_until_exit(&mut events, spawned.id).await;
    assert_eq!(code, 3);
    let cwd = std::fs::canonicalize(dir.path()).expect("canonical");
    assert_eq!(output, format!("one\r\n日本🦀\r\n{}\r\n", cwd.display()));
    assert_eq!(terminals.tail(spawned.id).expect("tail"), output);
    let listed = terminals.list();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].running);
    assert_eq!(listed[0].exit_code, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_get_a_colour_terminal() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = terminals
        .spawn(
            "s",
            "echo \"term=$TERM browser=$BROWSER\"; test -t 1 && echo tty",
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    let (output, _) = output_until_exit(&mut events, spawned.id).await;
    assert_eq!(output, "term=xterm-256color browser=none\r\ntty\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_and_resize_reach_the_process() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = terminals
        .spawn(
            "s",
            "echo ready; read line; stty size; echo \"got:$line\"",
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    output_until(&mut events, spawned.id, "ready").await;
    terminals.resize(spawned.id, 101, 42).expect("resize");
    terminals
        .write(spawned.id, b"hello there\n")
        .await
        .expect("write");
    let (output, code) = output_until_exit(&mut events, spawned.id).await;
    assert_eq!(code, 0);
    assert!(output.contains("42 101\r\n"), "{output:?}");
    assert!(output.contains("got:hello there"), "{output:?}");
    assert!(terminals.write(spawned.id, b"late\n").await.is_err());
    assert!(terminals.resize(999, 80, 24).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_arrives_whole_in_coalesced_events_and_the_tail_is_bounded() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let total = 20_000_000usize;
    let spawned = terminals
        .spawn(
            "s",
            &format!("yes 'a line of output from a chatty build' | head -c {total}"),
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    let mut bytes = 0usize;
    let mut outputs = 0usize;
    loop {
        match timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            TerminalEvent::Output { data, .. } => {
                outputs += 1;
                // The PTY turns each \n into \r\n.
                bytes += data.len() - data.matches('\r').count();
                assert!(data.len() <= 64 << 10, "an event of {} bytes", data.len());
            }
            TerminalEvent::Exit { exit, .. } => {
                assert_eq!(exit.code, 0);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(bytes, total);
    // A PTY read gives at most 4 KiB: coalescing must have merged reads.
    assert!(outputs < total / 4096, "{outputs} events for {total} bytes");
    let tail = terminals.tail(spawned.id).expect("tail");
    assert_eq!(tail.len(), 64 << 10);
    assert!(tail.contains("\r\na line of output from a chatty build\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_does_not_read_stops_the_command_not_memory() {
    let (terminals, mut events) = terminals(8);
    let dir = tempfile::tempdir().expect("tempdir");
    // `exec`: the leader is `yes` itself, so its write count is in /proc/<leader>/io.
    let spawned = terminals
        .spawn(
            "s",
            "echo pid=$$; exec yes 'fill the pipeline'",
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    let first = output_until(&mut events, spawned.id, "pid=").await;
    let pid = number_after(&first, "pid=");
    let written = || -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("io");
        io.lines()
            .find_map(|line| line.strip_prefix("wchar: "))
            .expect("wchar")
            .parse()
            .expect("number")
    };
    // Nobody reads now. The writer must come to a stop: its write count stays the same across polls.
    let started = Instant::now();
    let mut last = written();
    let mut still = 0;
    while still < 5 {
        assert!(
            started.elapsed() < PATIENCE,
            "the writer never blocked: {last} bytes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = written();
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    // 8 events of at most 32 KiB, 4 reads of at most 64 KiB, the PTY's own buffer: a few MB at most.
    assert!(
        last < 8 << 20,
        "{last} bytes were taken from a consumer that reads nothing"
    );
    assert!(alive(pid));
    // Reading again lets it go on.
    let mut more = 0usize;
    while more < 16 << 20 {
        if let TerminalEvent::Output { data, .. } = timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            more += data.len();
        }
    }
    assert!(written() > last);
    terminals.kill(spawned.id).await.expect("kill");
    assert!(!alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_terminal_ends_its_whole_process_tree() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    // A grandchild that ignores SIGHUP and SIGTERM, one that left the session with setsid, and one
    // that left the process group.
    let command = "sh -c 'trap \"\" HUP TERM; while :; do sleep 1; done' & echo stubborn=$!; \
                   setsid sh -c 'while :; do sleep 1; done' & echo escaped=$!; \
                   sh -c 'set -m; sleep 1000 & echo grouped=$!; wait' & \
                   wait";
    let spawned = terminals
        .spawn("owner", command, dir.path(), Purpose::Shell)
        .expect("spawn");
    let mut output = String::new();
    for label in ["stubborn=", "escaped=", "grouped="] {
        if !output.contains(label) {
            output.push_str(&output_until(&mut events, spawned.id, label).await);
        }
    }
    let pids = ["stubborn=", "escaped=", "grouped="].map(|label| number_after(&output, label));
    for pid in pids {
        assert!(alive(pid), "{pid} should run before the stop");
    }
    terminals.stop_owner("owner", false).await;
    for pid in pids {
        assert!(!alive(pid), "{pid} survived the stop");
    }
    let (_, code) = output_until_exit(&mut events, spawned.id).await;
    assert_ne!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_terminals_ends_every_process() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned = terminals
        .spawn(
            "owner",
            "sh -c 'trap \"\" HUP TERM; sleep 1000' & echo child=$!; wait",
            dir.path(),
            Purpose::Shell,
        )
        .expect("spawn");
    let output = output_until(&mut events, spawned.id, "child=").await;
    let pid = number_after(&output, "child=");
    assert!(alive(pid));
    drop(terminals);
    assert!(!alive(pid), "{pid} outlived the terminals");
}

/// A tiny real HTTP server in Python: prints its URL (or not), listens on a port the OS chose.
fn http_server(print_url: bool) -> String {
    let announce = if print_url {
        "print(f'  Local:   http://localhost:{port}/', flush=True)"
    } else {
        "print('listening, address withheld', flush=True)"
    };
    format!(
        "exec python3 -c \"\nimport http.server\nserver = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\nport = server.server_address[1]\n{announce}\nserver.serve_forever()\n\""
    )
}

async fn preview_of(events: &mut mpsc::Receiver<TerminalEvent>) -> Preview {
    loop {
        if let TerminalEvent::Preview(preview) = timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            return preview;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_url_becomes_a_preview_once_it_answers() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "<h1>served</h1>").expect("page");
    let spawned = terminals
        .spawn("s", &http_server(true), dir.path(), Purpose::Start)
        .expect("spawn");
    let preview = preview_of(&mut events).await;
    assert_eq!(preview.terminal_id, spawned.id);
    assert_eq!(preview.url, format!("http://localhost:{}/", preview.port));
    let page = reqwest::get(&preview.url)
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert_eq!(page, "<h1>served</h1>");
    terminals.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_port_becomes_a_preview_when_nothing_is_printed() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "quiet").expect("page");
    terminals
        .spawn("s", &http_server(false), dir.path(), Purpose::Start)
        .expect("spawn");
    let preview = preview_of(&mut events).await;
    let page = reqwest::get(&preview.url)
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert_eq!(page, "quiet");
    terminals.shutdown().await;
    // The stopped server's end says we stopped it.
    loop {
        if let TerminalEvent::Exit { exit, .. } = timeout(PATIENCE, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            assert!(exit.stopped, "{exit:?}");
            break;
        }
    }
}

/// A `start` action outlives its turn: the runner leaves it running, and its server's end — here a
/// stop — becomes its final status, routed to the session and reply that started it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_servers_end_is_its_actions_final_status() {
    let (terminals, mut terminal_events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let dev_servers = DevServers::default();
    let mut runner = runner_with(dir.path(), &terminals, &dev_servers, Approval::Run, true);
    runner.begin_turn("reply-1", settings(true, COMMAND_TIMEOUT));
    let (updates, _) = run(
        &mut runner,
        vec![job(0, ActionKind::Start, None, "echo up; exec sleep 600")],
        CancellationToken::new(),
    )
    .await;
    assert_eq!(updates[0].status, ActionStatus::Running);
    let terminal = updates[0].terminal_id.expect("terminal");
    assert_eq!(dev_servers.len(), 1);
    output_until(&mut terminal_events, terminal, "up").await;
    terminals.kill(terminal).await.expect("kill");
    let exit = loop {
        if let TerminalEvent::Exit { terminal_id, exit } = timeout(PATIENCE, terminal_events.recv())
            .await
            .expect("an event")
            .expect("open")
            && terminal_id == terminal
        {
            break exit;
        }
    };
    let ended = dev_servers.ended(terminal, &exit).expect("a dev server");
    assert_eq!(
        (ended.session_id.as_str(), ended.message_id.as_str()),
        ("session", "reply-1")
    );
    assert_eq!(ended.update.status, ActionStatus::Aborted);
    assert_eq!(
        ended.update.error.as_deref(),
        Some("the server was stopped")
    );
    assert!(dev_servers.is_empty(), "an ended server is forgotten");
    assert!(dev_servers.ended(terminal, &exit).is_none());
}

fn action(index: usize, kind: ActionKind, file_path: Option<&str>) -> ActionInfo {
    ActionInfo::new("app", index, kind, file_path)
}

fn runner(root: &Path, terminals: &Terminals, approval: Approval, auto: bool) -> Runner {
    runner_with(root, terminals, &DevServers::default(), approval, auto)
}

fn runner_with(
    root: &Path,
    terminals: &Terminals,
    dev_servers: &DevServers,
    approval: Approval,
    auto: bool,
) -> Runner {
    let mut runner = Runner::new(
        root,
        Box::new(DiskWriter),
        Box::new(FixedApprover(approval)),
        terminals.clone(),
        dev_servers.clone(),
        "session",
    )
    .expect("runner");
    runner.begin_turn("reply-0", settings(auto, COMMAND_TIMEOUT));
    runner
}

/// A turn's settings: commands approved or asked for, and the command timeout.
fn settings(auto: bool, shell_timeout: Duration) -> RunSettings {
    RunSettings {
        policy: ApprovalPolicy {
            auto_approve: auto,
            ..ApprovalPolicy::default()
        },
        shell_timeout,
    }
}

/// Runs `jobs` through the runner; the final updates and every event.
async fn run(
    runner: &mut Runner,
    jobs: Vec<Job>,
    cancel: CancellationToken,
) -> (Vec<ActionUpdate>, Vec<TurnEvent>) {
    let (job_sender, queue) = mpsc::channel(1024);
    for job in jobs {
        job_sender.try_send(job).expect("queue");
    }
    drop(job_sender);
    let (events, mut receiver) = mpsc::channel(1024);
    let report = runner.run_queue(queue, events, cancel).await;
    let mut seen = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        seen.push(event);
    }
    (report.updates, seen)
}

fn job(index: usize, kind: ActionKind, file_path: Option<&str>, content: &str) -> Job {
    Job {
        action: action(index, kind, file_path),
        content: content.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_skips_the_rest_of_its_artifact_and_keeps_its_output() {
    let (terminals, _events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = runner(dir.path(), &terminals, Approval::Run, false);
    let (updates, events) = run(
        &mut runner,
        vec![
            job(0, ActionKind::File, Some("a.txt"), "a\n"),
            job(
                1,
                ActionKind::Shell,
                None,
                "test -f a.txt && echo 'Error: missing module x' && exit 7",
            ),
            job(2, ActionKind::File, Some("b.txt"), "b\n"),
            job(3, ActionKind::Start, None, "echo never"),
        ],
        CancellationToken::new(),
    )
    .await;
    let statuses: Vec<ActionStatus> = updates.iter().map(|update| update.status).collect();
    assert_eq!(
        statuses,
        [
            ActionStatus::Complete,
            ActionStatus::Failed,
            ActionStatus::Skipped,
            ActionStatus::Skipped
        ]
    );
    assert_eq!(updates[1].exit_code, Some(7));
    assert!(updates[1].terminal_id.is_some());
    assert_eq!(
        updates[1].output_tail.as_deref(),
        Some("Error: missing module x\n")
    );
    assert!(!dir.path().join("b.txt").exists());
    // The command was reported running, in its terminal, before its end.
    assert!(events.iter().any(|event| matches!(event,
        TurnEvent::Action(update) if update.action_id == 1 && update.status == ActionStatus::Running && update.terminal_id.is_some())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_command_is_skipped_with_the_reason_and_later_actions_run() {
    let (terminals, _events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = runner(
        dir.path(),
        &terminals,
        Approval::Skip("the user declined to run it".to_owned()),
        false,
    );
    let (updates, _) = run(
        &mut runner,
        vec![
            job(0, ActionKind::Shell, None, "touch ran.txt"),
            job(1, ActionKind::Shell, None, "sudo rm -rf /"),
            job(2, ActionKind::File, Some("after.txt"), "after\n"),
        ],
        CancellationToken::new(),
    )
    .await;
    assert_eq!(updates[0].status, ActionStatus::Skipped);
    assert_eq!(
        updates[0].error.as_deref(),
        Some("the user declined to run it")
    );
    assert_eq!(updates[1].status, ActionStatus::Skipped);
    assert!(
        updates[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .starts_with("refused")
    );
    assert_eq!(updates[2].status, ActionStatus::Complete);
    assert!(!dir.path().join("ran.txt").exists());
    assert!(
        terminals.list().is_empty(),
        "a denied command got a terminal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_command_that_runs_too_long_is_stopped_and_fails() {
    let (terminals, _events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = runner(dir.path(), &terminals, Approval::Run, true);
    runner.begin_turn("reply-1", settings(true, Duration::from_secs(1)));
    let (updates, _) = run(
        &mut runner,
        vec![job(0, ActionKind::Shell, None, "echo serving; sleep 600")],
        CancellationToken::new(),
    )
    .await;
    assert_eq!(updates[0].status, ActionStatus::Failed);
    let error = updates[0].error.clone().unwrap_or_default();
    assert!(error.contains("stopped after 1 s"), "{error}");
    assert!(terminals.list().iter().all(|terminal| !terminal.running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_running_command_and_the_dev_server() {
    let (terminals, mut terminal_events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = runner(dir.path(), &terminals, Approval::Run, true);
    let cancel = CancellationToken::new();
    let (job_sender, queue) = mpsc::channel(1024);
    job_sender
        .try_send(job(
            0,
            ActionKind::Start,
            None,
            "echo server=$$; exec sleep 600",
        ))
        .expect("queue");
    job_sender
        .try_send(job(
            1,
            ActionKind::Shell,
            None,
            "echo install=$$; exec sleep 600",
        ))
        .expect("queue");
    job_sender
        .try_send(job(2, ActionKind::File, Some("late.txt"), "late\n"))
        .expect("queue");
    drop(job_sender);
    let (events, _receiver) = mpsc::channel(1024);
    let stopper = cancel.clone();
    let watcher = async {
        let mut output = String::new();
        while !(output.contains("server=") && output.contains("install=")) {
            if let TerminalEvent::Output { data, .. } = timeout(PATIENCE, terminal_events.recv())
                .await
                .expect("an event")
                .expect("open")
            {
                output.push_str(&data);
            }
        }
        stopper.cancel();
        output
    };
    let (report, output) = tokio::join!(runner.run_queue(queue, events, cancel), watcher);
    let statuses: Vec<ActionStatus> = report.updates.iter().map(|update| update.status).collect();
    assert_eq!(
        statuses,
        [
            ActionStatus::Running,
            ActionStatus::Aborted,
            ActionStatus::Aborted
        ]
    );
    for label in ["server=", "install="] {
        let pid = number_after(&output, label);
        assert!(!alive(pid), "{label}{pid} survived the abort");
    }
    assert!(!dir.path().join("late.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_dev_server_replaces_the_old_one() {
    let (terminals, mut terminal_events) = terminals(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = runner(dir.path(), &terminals, Approval::Run, true);
    let (updates, _) = run(
        &mut runner,
        vec![job(
            0,
            ActionKind::Start,
            None,
            "echo first=$$; exec sleep 600",
        )],
        CancellationToken::new(),
    )
    .await;
    let first = updates[0].terminal_id.expect("terminal");
    let output = output_until(&mut terminal_events, first, "first=").await;
    let pid = number_after(&output, "first=");
    let (updates, _) = run(
        &mut runner,
        vec![job(1, ActionKind::Start, None, "exec sleep 600")],
        CancellationToken::new(),
    )
    .await;
    assert_eq!(updates[0].status, ActionStatus::Running);
    assert!(!alive(pid), "the first server still runs");
    let running: Vec<TerminalId> = terminals
        .list()
        .iter()
        .filter(|terminal| terminal.running)
        .map(|terminal| terminal.terminal_id)
        .collect();
    assert_eq!(running, vec![updates[0].terminal_id.expect("terminal")]);
    terminals.shutdown().await;
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// A long session runs hundreds of commands: a finished terminal gives back its PTY, so open file
/// descriptors stay level instead of growing by two per command until EMFILE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_terminals_give_back_their_file_descriptors() {
    let (terminals, mut events) = terminals(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run_one = async |index: usize| {
        let spawned = terminals
            .spawn("s", &format!("echo {index}"), dir.path(), Purpose::Shell)
            .expect("spawn");
        let (output, code) = output_until_exit(&mut events, spawned.id).await;
        assert_eq!((output.trim(), code), (index.to_string().as_str(), 0));
    };
    for index in 0..20 {
        run_one(index).await;
    }
    let level = open_fds();
    for index in 20..170 {
        run_one(index).await;
    }
    let after = open_fds();
    assert!(
        after <= level + 8,
        "open file descriptors grew from {level} to {after} over 150 commands"
    );
    terminals.shutdown().await;
}
