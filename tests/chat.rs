//! `openbolt chat` end to end: the real binary against the provider stand-in, in a temporary workspace.

mod support;

use std::path::Path;
use std::process::Output;
use support::{Fault, Format, Reply, StandIn};

const KEY: &str = "sk-test-SECRET-4242";

const TWO_FILES: &str = "Here is the app.\n\n<boltArtifact id=\"app\" title=\"App\">\n<boltAction type=\"file\" filePath=\"src/first.js\">\nconsole.log('first');\n</boltAction>\n<boltAction type=\"file\" filePath=\"src/second.js\">\nconsole.log('second');\nconsole.log('still second');\n</boltAction>\n</boltArtifact>\n\nAll done.";

/// Runs `openbolt chat` in `workspace` against `standin` with only the given environment.
async fn chat(standin: &StandIn, workspace: &Path, arguments: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"));
    command
        .arg("chat")
        .arg("--workspace")
        .arg(workspace)
        .args(arguments)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", workspace)
        .env("OPENBOLT_DATA_DIR", data_dir(workspace))
        .stdin(std::process::Stdio::null());
    match standin.format {
        Format::Anthropic => command
            .env("ANTHROPIC_API_KEY", KEY)
            .env("ANTHROPIC_BASE_URL", &standin.url),
        Format::OpenAi => command
            .env("OPENAI_BASE_URL", &standin.url)
            .env("OPENBOLT_MODEL", "local-model"),
    };
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("openbolt chat finishes within a minute")
        .expect("openbolt runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !all.contains(KEY),
        "the API key leaked into the output:\n{all}"
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A project directory and, beside it, the directory `openbolt` keeps its sessions in.
struct Workspace {
    _root: tempfile::TempDir,
    project: std::path::PathBuf,
}

impl Workspace {
    fn path(&self) -> &Path {
        &self.project
    }
}

/// Where the sessions of the project at `project` are kept in these tests.
fn data_dir(project: &Path) -> std::path::PathBuf {
    project
        .parent()
        .expect("the project has a parent")
        .join("data")
}

fn workspace() -> Workspace {
    let root = tempfile::tempdir().expect("temp workspace");
    let project = root.path().join("project");
    std::fs::create_dir(&project).expect("project dir");
    std::fs::write(
        project.join(".env"),
        "DATABASE_PASSWORD=hunter2-do-not-send\n",
    )
    .expect("write .env");
    std::fs::write(project.join("README.md"), "# Existing project\n").expect("write README");
    Workspace {
        _root: root,
        project,
    }
}

#[tokio::test]
async fn anthropic_turn_writes_files_and_sends_a_clean_request() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(TWO_FILES)]).await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), &["build the app"]).await;
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("Here is the app.") && text.contains("All done."),
        "{text}"
    );
    assert!(
        text.contains("✓ file src/first.js") && text.contains("✓ file src/second.js"),
        "{text}"
    );
    assert!(
        text.contains("tokens in 1200 (cached 1000), out 321"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/first.js")).expect("first"),
        "console.log('first');\n"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/second.js")).expect("second"),
        "console.log('second');\nconsole.log('still second');\n"
    );

    let requests = standin.recorded();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.body["model"], "claude-sonnet-4-5");
    assert_eq!(request.body["stream"], true);
    let system = request.body["system"][0]["text"]
        .as_str()
        .expect("system prompt");
    assert!(
        system.contains("You are OpenBolt")
            && system.contains(
                &workspace
                    .path()
                    .canonicalize()
                    .expect("canonical")
                    .display()
                    .to_string()
            )
    );
    assert_eq!(
        request.body["system"][0]["cache_control"]["type"],
        "ephemeral"
    );
    let user = support::last_user_message(&request.body);
    assert!(
        user.contains("<request>\nbuild the app\n</request>"),
        "{user}"
    );
    assert!(
        user.contains("README.md") && user.contains("# Existing project"),
        "{user}"
    );
    assert!(user.contains(".env\n"), "the secret file is listed by name");
    let body = request.body.to_string();
    assert!(!body.contains("hunter2"), "a secret reached the provider");
}

#[tokio::test]
async fn an_openai_compatible_local_server_needs_no_key() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(TWO_FILES)]).await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), &["make it"]).await;
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(workspace.path().join("src/second.js").exists());
    let request = &standin.recorded()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        None,
        "a local server gets no key"
    );
    assert_eq!(request.body["model"], "local-model");
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert!(stdout(&output).contains("tokens in 1200 (cached 1000), out 321"));
}

#[tokio::test]
async fn rate_limits_and_overload_before_the_first_token_are_retried_visibly() {
    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::status(
                429,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
            ),
            Reply::status(
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
            Reply::with_fault("", Fault::ErrorEvent { after: 0 }),
            Reply::text(TWO_FILES),
        ],
    )
    .await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), &["go"]).await;
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("rate limited; retrying in 0 ms (attempt 2 of 4)"),
        "{text}"
    );
    assert!(
        text.contains("the provider is overloaded; retrying"),
        "{text}"
    );
    assert!(
        text.contains("overloaded_error: Overloaded; retrying"),
        "{text}"
    );
    assert_eq!(standin.recorded().len(), 4);
    assert!(workspace.path().join("src/second.js").exists());
}

/// After the first file closes and while the second streams, the reply breaks in `fault`'s way.
async fn check_mid_stream_failure(
    format: Format,
    fault: Fault,
    expected: &str,
    arguments: &[&str],
) {
    let standin = StandIn::start(format, vec![Reply::with_fault(TWO_FILES, fault)]).await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), arguments).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(expected), "expected {expected:?} in:\n{text}");
    assert!(
        text.contains("Here is the app."),
        "the prose so far is kept:\n{text}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/first.js"))
            .expect("the complete file stays"),
        "console.log('first');\n"
    );
    assert!(
        !workspace.path().join("src/second.js").exists(),
        "no half-written file"
    );
    assert!(text.contains("file src/second.js aborted"), "{text}");
    assert_eq!(
        standin.recorded().len(),
        1,
        "no retry once tokens have flowed"
    );
}

fn middle_of_second_file() -> usize {
    TWO_FILES.find("still second").expect("marker")
}

#[tokio::test]
async fn an_error_event_mid_stream_fails_the_turn_and_keeps_what_was_complete() {
    let after = middle_of_second_file();
    check_mid_stream_failure(
        Format::Anthropic,
        Fault::ErrorEvent { after },
        "overloaded_error: Overloaded",
        &["go"],
    )
    .await;
    check_mid_stream_failure(
        Format::OpenAi,
        Fault::ErrorEvent { after },
        "The server had an error",
        &["go"],
    )
    .await;
}

#[tokio::test]
async fn a_dropped_connection_fails_the_turn_without_a_half_file() {
    let after = middle_of_second_file();
    check_mid_stream_failure(
        Format::Anthropic,
        Fault::Drop { after },
        "the connection dropped mid-reply",
        &["go"],
    )
    .await;
    check_mid_stream_failure(
        Format::OpenAi,
        Fault::Drop { after },
        "the connection dropped mid-reply",
        &["go"],
    )
    .await;
}

#[tokio::test]
async fn a_stall_fails_the_turn_after_the_idle_timeout() {
    let after = middle_of_second_file();
    check_mid_stream_failure(
        Format::OpenAi,
        Fault::Stall { after },
        "no data from the provider for 1 s",
        &["--idle-timeout", "1", "go"],
    )
    .await;
}

#[tokio::test]
async fn a_stream_without_its_end_marker_is_truncated() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::with_fault(TWO_FILES, Fault::NoEnd)],
    )
    .await;
    let output = chat(&standin, workspace().path(), &["go"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("the reply ended without [DONE]: it was cut off"),
        "{}",
        stdout(&output)
    );

    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::with_fault(TWO_FILES, Fault::NoEnd)],
    )
    .await;
    let output = chat(&standin, workspace().path(), &["go"]).await;
    assert!(
        stdout(&output).contains("the reply ended without message_stop"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_reply_cut_at_the_output_limit_continues_seamlessly() {
    let split = middle_of_second_file() + 3;
    let (first, second) = TWO_FILES.split_at(split);
    for format in [Format::Anthropic, Format::OpenAi] {
        let standin = StandIn::start(
            format,
            vec![Reply::cut_at_limit(first), Reply::text(second)],
        )
        .await;
        let workspace = workspace();
        let output = chat(&standin, workspace.path(), &["go"]).await;
        let text = stdout(&output);
        assert!(output.status.success(), "{text}");
        assert!(text.contains("continuing it (1 of 5)"), "{text}");
        assert_eq!(
            std::fs::read_to_string(workspace.path().join("src/second.js"))
                .expect("the file spanning both requests"),
            "console.log('second');\nconsole.log('still second');\n"
        );
        let requests = standin.recorded();
        assert_eq!(requests.len(), 2);
        let messages = requests[1].body["messages"]
            .as_array()
            .expect("messages")
            .clone();
        let partial = &messages[messages.len() - 2];
        assert_eq!(partial["role"], "assistant");
        assert!(
            partial.to_string().contains("console.log('sti"),
            "the partial reply is sent back: {partial}"
        );
        assert!(
            support::last_user_message(&requests[1].body)
                .contains("Continue exactly where it stopped")
        );
    }
}

#[tokio::test]
async fn authentication_and_request_errors_are_explained() {
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::status(401, r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)],
    )
    .await;
    let output = chat(&standin, workspace().path(), &["go"]).await;
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains(
            "authentication failed (HTTP 401): invalid x-api-key; check ANTHROPIC_API_KEY"
        ),
        "{text}"
    );
    assert_eq!(standin.recorded().len(), 1, "auth errors are not retried");

    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::status(400, r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error"}}"#)],
    )
    .await;
    let output = chat(&standin, workspace().path(), &["go"]).await;
    assert!(
        stdout(&output)
            .contains("rejected the request (HTTP 400): This model's maximum context length"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn commands_are_not_run_without_approval() {
    let reply = "<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"shell\">touch ran.txt</boltAction></boltArtifact>";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), &["go"]).await;
    assert!(
        stdout(&output).contains("shell `touch ran.txt` skipped — not approved"),
        "{}",
        stdout(&output)
    );
    assert!(!workspace.path().join("ran.txt").exists());
}

#[tokio::test]
async fn nothing_configured_is_one_clear_error() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["chat", "hello"])
        .env_clear()
        .output()
        .await
        .expect("openbolt runs");
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("no model provider is configured")
            && message.contains("ANTHROPIC_API_KEY"),
        "{message}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_the_turn_and_leaves_no_half_file() {
    use tokio::io::AsyncBufReadExt;
    // Everything up to the middle of the second file in one delta, then a stall: the second file is open
    // (and incomplete) by the time the first is written, however busy the machine is.
    let after = middle_of_second_file();
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::Stream {
            text: TWO_FILES[..after].to_owned(),
            cut_at_limit: false,
            fault: Some(Fault::Stall { after: usize::MAX }),
            seed: 11,
            max_piece: TWO_FILES.len(),
            max_write: 16 << 10,
        }],
    )
    .await;
    let workspace = workspace();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["chat", "--workspace"])
        .arg(workspace.path())
        .arg("go")
        .env_clear()
        .env("OPENBOLT_DATA_DIR", data_dir(workspace.path()))
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", &standin.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openbolt runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    // Wait until the first file is written: the reply is then stalled inside the second.
    while !seen.contains("✓ file src/first.js") {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("output within 30 s")
            .expect("readable stdout")
            .expect("more output");
        seen.push_str(&line);
        seen.push('\n');
    }
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("exits after Ctrl-C")
        .expect("exit status");
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("file src/second.js aborted") && seen.contains("── stopped"),
        "{seen}"
    );
    assert!(workspace.path().join("src/first.js").exists());
    assert!(
        !workspace.path().join("src/second.js").exists(),
        "no half-written file"
    );
}

/// Reads `lines` into `seen` until it contains `needle`.
async fn read_until(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: &mut String,
    needle: &str,
) {
    while !seen.contains(needle) {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within 30 s:\n{seen}"))
            .expect("readable stdout")
            .unwrap_or_else(|| panic!("the output ended before {needle:?}:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
    }
}

fn spawn_chat(standin: &StandIn, workspace: &Path, arguments: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["chat", "--workspace"])
        .arg(workspace)
        .args(arguments)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", workspace)
        .env("OPENBOLT_DATA_DIR", data_dir(workspace))
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", &standin.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openbolt runs")
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn the_app_runs_its_server_shows_the_preview_and_ctrl_c_ends_it() {
    use tokio::io::AsyncBufReadExt;
    openbolt::install_crypto_provider();
    let reply = "Your page.\n\n<boltArtifact id=\"site\" title=\"Site\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>Hello from the preview</h1>\n</boltAction>\n<boltAction type=\"shell\">\necho \"key=[$ANTHROPIC_API_KEY]\"; test -f index.html\n</boltAction>\n<boltAction type=\"start\">\necho server-pid=$$; exec python3 -c \"import http.server as h; s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    let workspace = workspace();
    let mut child = spawn_chat(&standin, workspace.path(), &["--yes", "make a page"]);
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    read_until(&mut lines, &mut seen, "◉ preview: ").await;
    assert!(
        seen.contains("key=[]"),
        "the provider key reached a command:\n{seen}"
    );
    // A command's output shows before its end.
    assert!(seen.find("key=[]") < seen.find("✓ shell `echo"), "{seen}");
    assert!(seen.contains("✓ shell `echo"), "{seen}");
    assert!(seen.contains("▸ start `echo server-pid"), "{seen}");
    // The turn ends once its dev server has settled (watched for an early error), maybe after the preview.
    if !seen.contains("── done") {
        read_until(&mut lines, &mut seen, "── done").await;
    }
    let url = seen
        .lines()
        .find_map(|line| line.split("◉ preview: ").nth(1))
        .expect("the preview line")
        .trim()
        .to_owned();
    let page = reqwest::get(&url).await.expect("the preview answers");
    assert_eq!(
        page.text().await.expect("body"),
        "<h1>Hello from the preview</h1>\n"
    );
    let server_pid = seen
        .lines()
        .find_map(|line| line.trim().strip_prefix("server-pid="))
        .expect("the server's pid")
        .to_owned();
    assert!(
        server_pid.parse::<u32>().is_ok() && alive(&server_pid),
        "{server_pid}"
    );

    let pid = child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("exits after Ctrl-C")
        .expect("exit status");
    assert_eq!(status.code(), Some(0), "{seen}");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(
        !alive(&server_pid),
        "the dev server outlived openbolt chat:\n{seen}{rest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_big_write_leaves_the_old_file_or_the_new_one() {
    let size = 48 << 20;
    let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let body = line.repeat(size / line.len());
    let reply = format!(
        "<boltArtifact id=\"big\" title=\"Big\">\n<boltAction type=\"file\" filePath=\"data/big.txt\">\n{body}</boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::bulk(&reply, 4096)]).await;
    for round in 0..2 {
        let workspace = workspace();
        let data = workspace.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        std::fs::write(data.join("big.txt"), "old\n").expect("old content");
        let mut child = spawn_chat(&standin, workspace.path(), &["go"]);
        // Kill the moment the write is seen under way: a temporary file, or a changed target.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the write never started"
            );
            let names: Vec<String> = std::fs::read_dir(&data)
                .expect("list")
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect();
            let target = std::fs::metadata(data.join("big.txt"))
                .map(|meta| meta.len())
                .unwrap_or(0);
            if names.len() > 1 || target != 4 {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("round {round}: openbolt ended ({status}) before the write was seen");
            }
            // The stand-in serves from this runtime.
            tokio::task::yield_now().await;
        }
        child.start_kill().expect("kill -9");
        child.wait().await.expect("reaped");
        let content = std::fs::read(data.join("big.txt")).expect("the file is still there");
        assert!(
            content == b"old\n" || content == body.as_bytes(),
            "round {round}: a partial file of {} bytes",
            content.len()
        );
    }
}

/// Runs `openbolt <arguments>` (not chat) in `workspace` with its data directory.
async fn openbolt(workspace: &Path, arguments: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(arguments)
        .current_dir(workspace)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OPENBOLT_DATA_DIR", data_dir(workspace))
        .output()
        .await
        .expect("openbolt runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_saved_continued_exported_and_reverted() {
    let second = "Changed it.\n<boltArtifact id=\"b\" title=\"B\">\n<boltAction type=\"file\" filePath=\"src/first.js\">\nconsole.log('first, changed');\n</boltAction>\n<boltAction type=\"file\" filePath=\"README.md\">\n# Rewritten\n</boltAction>\n<boltAction type=\"file\" filePath=\".env\">\nDATABASE_PASSWORD=hunter3-new-secret\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::text(TWO_FILES), Reply::text(second)],
    )
    .await;
    let workspace = workspace();
    let first = chat(&standin, workspace.path(), &["make two files"]).await;
    assert!(first.status.success(), "{}", stdout(&first));
    let header = stdout(&first);
    let session = header
        .lines()
        .next()
        .and_then(|line| line.rsplit("session ").next())
        .expect("the session id in the header")
        .trim()
        .to_owned();

    let listed = openbolt(workspace.path(), &["sessions"]).await;
    let listed = stdout(&listed);
    assert!(
        listed.starts_with(&session) && listed.contains("2 messages  make two files"),
        "{listed}"
    );

    // Continue it: the model gets the history.
    let continued = chat(
        &standin,
        workspace.path(),
        &["--session", &session, "--auto-fix", "0", "change the first"],
    )
    .await;
    // The existing .env, whose content the model never sees, is not replaced.
    assert_eq!(continued.status.code(), Some(1), "{}", stdout(&continued));
    assert!(
        stdout(&continued).contains("✗ file .env — refused: .env holds secrets"),
        "{}",
        stdout(&continued)
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join(".env")).expect(".env"),
        "DATABASE_PASSWORD=hunter2-do-not-send\n"
    );
    let request = &standin.recorded()[1].body;
    let messages = request["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{request}");
    assert_eq!(messages[0]["content"][0]["text"], "make two files");
    assert!(
        messages[1]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("<boltArtifact id=\"app\"")
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/first.js")).expect("first"),
        "console.log('first, changed');\n"
    );

    // The user edits README.md after the turn: reverting leaves it alone and says so.
    std::fs::write(workspace.path().join("README.md"), "# My own edit\n").expect("edit");
    let reverted = openbolt(workspace.path(), &["revert"]).await;
    let report = stdout(&reverted);
    assert_eq!(reverted.status.code(), Some(1), "{report}");
    assert!(report.contains("↺ src/first.js restored"), "{report}");
    assert!(
        report.contains("! README.md: it changed after the turn wrote it"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/first.js")).expect("first"),
        "console.log('first');\n"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("README.md")).expect("readme"),
        "# My own edit\n"
    );

    // Reverting the first turn too deletes the files it created.
    let again = openbolt(workspace.path(), &["revert"]).await;
    assert!(
        stdout(&again).contains("src/second.js deleted"),
        "{}",
        stdout(&again)
    );
    assert!(!workspace.path().join("src/second.js").exists());
    assert!(!workspace.path().join("src/first.js").exists());
    assert!(
        !workspace.path().join("src").exists(),
        "the emptied directory it created is gone"
    );

    let exported = openbolt(workspace.path(), &["sessions", "--export", &session]).await;
    let markdown = stdout(&exported);
    assert!(
        markdown.starts_with(
            "# make two files\n\n## You\n\nmake two files\n\n## OpenBolt\n\nHere is the app."
        ),
        "{markdown}"
    );
    assert!(markdown.contains("*This turn was reverted.*"), "{markdown}");

    // No secret reached the database or the project map's cache: not the API key, not the .env contents.
    let data = data_dir(workspace.path());
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut folders = vec![data.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("data dir").flatten() {
            if entry.path().is_dir() {
                folders.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    assert!(
        files.iter().any(|file| file.starts_with(data.join("maps"))),
        "the map's cache is checked too: {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for secret in [KEY, "hunter2-do-not-send"] {
            assert!(!text.contains(secret), "{secret} is in {}", file.display());
        }
    }
}

/// Text and an error event in one network read: the text is shown, in order, and the turn fails
/// without a retry (the model had already begun its reply).
#[tokio::test]
async fn text_read_together_with_an_error_is_kept_and_not_retried() {
    const PROSE: &str = "The first sentence of the reply arrived. ";
    for format in [Format::Anthropic, Format::OpenAi] {
        // One HTTP chunk of up to 16 KiB carries the whole body: the text and the error behind it.
        let Reply::Stream {
            text,
            seed,
            max_piece,
            max_write,
            ..
        } = Reply::bulk(PROSE, 64)
        else {
            unreachable!("bulk is a stream")
        };
        let reply = Reply::Stream {
            text,
            cut_at_limit: false,
            fault: Some(Fault::ErrorEvent { after: PROSE.len() }),
            seed,
            max_piece,
            max_write,
        };
        let standin = StandIn::start(format, vec![reply]).await;
        let workspace = workspace();
        let output = chat(&standin, workspace.path(), &["go"]).await;
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{format:?}: {text}");
        assert!(
            text.contains(PROSE.trim_end()),
            "{format:?}: the text was lost:\n{text}"
        );
        assert!(!text.contains("retrying"), "{format:?}: retried:\n{text}");
        assert_eq!(standin.recorded().len(), 1, "{format:?}: {text}");
    }
}

/// A reply that breaks off in the middle of a tag: the half tag is not shown as prose (it was markup
/// on its way, not the model's words).
#[tokio::test]
async fn a_tag_cut_off_by_a_failure_is_not_shown_as_prose() {
    const REPLY: &str = "Writing it.\n<boltArtifact id=\"a\" title=\"A\">\n<boltAction type=\"file\" filePath=\"a.txt\">\nhello\n</boltAction>\n</boltArtifact>\n";
    let tag = REPLY.find("<boltAction").expect("a tag");
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::with_fault(REPLY, Fault::Stall { after: tag + 5 })],
    )
    .await;
    let workspace = workspace();
    let output = chat(&standin, workspace.path(), &["--idle-timeout", "1", "go"]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("Writing it."), "{text}");
    assert!(
        !text.contains("<bolt"),
        "a half tag was shown as prose:\n{text}"
    );
    assert!(!workspace.path().join("a.txt").exists());
}

/// `openbolt chat` with its own `$HOME` (apart from the workspace) and its own temp directory (`tmp`
/// beside the workspace: wherever the repository is, even under /tmp, only that one is the sandbox's
/// temp), commands approved.
async fn chat_with_home(
    standin: &StandIn,
    workspace: &Path,
    home: &Path,
    arguments: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let temp = workspace.parent().expect("a parent").join("tmp");
    std::fs::create_dir_all(&temp).expect("temp");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"));
    command
        .arg("chat")
        .arg("--workspace")
        .arg(workspace)
        .args(["--yes", "--no-wait"])
        .args(arguments)
        .env_clear()
        .env("TMPDIR", &temp)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("OPENBOLT_DATA_DIR", data_dir(workspace))
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", &standin.url)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null());
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("openbolt chat finishes within a minute")
        .expect("openbolt runs")
}

/// The reply of the sandbox tests: one command that tries every way out (each attempt says whether it
/// got through), one that only writes `~/.bashrc`, and a dev server that writes `~/.profile`.
fn escapes(outside: &Path) -> String {
    let outside = outside.display();
    format!(
        "Trying.\n<boltArtifact id=\"a\" title=\"Attempts\">\n<boltAction type=\"shell\">\n\
         try() {{ if sh -c \"$2\" 2>/dev/null; then echo \"$1=written\"; else echo \"$1=denied\"; fi; }}\n\
         try workspace 'echo w > inside.txt'\n\
         try temp 'echo t > \"${{TMPDIR:-/tmp}}/openbolt-sandbox-$$\" && rm \"${{TMPDIR:-/tmp}}/openbolt-sandbox-$$\"'\n\
         try cache 'mkdir -p \"$HOME/.cache/openbolt-test\"'\n\
         try bashrc 'echo evil >> \"$HOME/.bashrc\"'\n\
         try ssh 'mkdir -p \"$HOME/.ssh\" && echo key >> \"$HOME/.ssh/authorized_keys\"'\n\
         try other 'echo x > {outside}/other.txt'\n\
         ln -s {outside} escape\n\
         try symlink 'echo x > escape/through-link.txt'\n\
         try grandchild 'sh -c \"sh -c \\\"echo g > {outside}/grandchild.txt\\\"\"'\n\
         grep NoNewPrivs /proc/self/status\n\
         </boltAction>\n</boltArtifact>\n\
         <boltArtifact id=\"b\" title=\"Bashrc\">\n<boltAction type=\"shell\">\necho evil >> \"$HOME/.bashrc\"\n</boltAction>\n</boltArtifact>\n\
         <boltArtifact id=\"c\" title=\"Server\">\n<boltAction type=\"start\">\necho p >> \"$HOME/.profile\" || echo profile=denied; exec sleep 600\n</boltAction>\n</boltArtifact>\n"
    )
}

/// What the session store beside `project` holds on disk (database and log), as text.
fn store_text(project: &Path) -> String {
    std::fs::read_dir(data_dir(project))
        .expect("the store")
        .flatten()
        .map(|entry| {
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned()
        })
        .collect()
}

/// A project, a home and another project (`chat_with_home` gives them a temp directory of their own).
fn sandbox_dirs() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let root = tempfile::tempdir().expect("root");
    let (project, home, outside) = (
        root.path().join("project"),
        root.path().join("home"),
        root.path().join("other-project"),
    );
    for dir in [&project, &home, &outside] {
        std::fs::create_dir(dir).expect("dir");
    }
    (root, project, home, outside)
}

/// A sandboxed command may use git (init, add, commit) but not leave code git would run later, outside
/// the sandbox: a hook and a `core.hooksPath` it plants are undone, and its action says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_cannot_plant_git_hooks() {
    let (_root, project, home, _outside) = sandbox_dirs();
    std::fs::write(project.join("app.js"), "console.log(1);\n").expect("app");
    let plant = "git init -q && git add -A && git -c user.email=a@b.c -c user.name=A commit -qm first && \
         printf '#!/bin/sh\\necho planted\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && \
         git config core.hooksPath /tmp/elsewhere && echo committed";
    let reply = format!(
        "Committing.\n<boltArtifact id=\"g\" title=\"Git\">\n<boltAction type=\"shell\">\n{plant}\n</boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&reply)]).await;
    let output = chat_with_home(&standin, &project, &home, &["commit it"], &[]).await;
    let text = stdout(&output);
    assert!(text.contains("commands run in a sandbox"), "{text}");
    assert!(
        text.contains("committed"),
        "git works in the sandbox:\n{text}"
    );
    assert!(
        text.contains("the new hook .git/hooks/pre-commit (removed)")
            && text.contains("core.hookspath in .git/config (taken out)"),
        "{text}"
    );
    let git = project.join(".git");
    assert!(!git.join("hooks/pre-commit").exists());
    let config = std::fs::read_to_string(git.join("config")).expect("config");
    assert!(!config.to_lowercase().contains("hookspath"), "{config}");
    assert!(config.contains("repositoryformatversion"), "{config}");
    // The commit is there.
    let log = std::process::Command::new("git")
        .args(["log", "--oneline"])
        .current_dir(&project)
        .output()
        .expect("git log");
    assert!(String::from_utf8_lossy(&log.stdout).contains("first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_write_only_in_the_workspace_temp_and_caches() {
    let (_root, project, home, outside) = sandbox_dirs();
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&escapes(&outside))]).await;
    let output = chat_with_home(&standin, &project, &home, &["go"], &[]).await;
    let text = stdout(&output);
    assert!(text.contains("commands run in a sandbox"), "{text}");
    for allowed in ["workspace", "temp", "cache"] {
        assert!(
            text.contains(&format!("{allowed}=written")),
            "{allowed}:\n{text}"
        );
    }
    for denied in ["bashrc", "ssh", "other", "symlink", "grandchild"] {
        assert!(
            text.contains(&format!("{denied}=denied")),
            "{denied}:\n{text}"
        );
    }
    assert!(
        text.contains("NoNewPrivs:\t1"),
        "setuid programs could gain privileges:\n{text}"
    );
    assert!(
        text.contains("profile=denied"),
        "the dev server wrote ~/.profile:\n{text}"
    );
    // The command that failed says why, and which setting to change.
    assert!(
        text.contains("the sandbox may have blocked a write"),
        "{text}"
    );
    assert!(text.contains("sandboxWritable"), "{text}");
    assert!(project.join("inside.txt").exists());
    for left in [
        home.join(".bashrc"),
        home.join(".ssh/authorized_keys"),
        home.join(".profile"),
        outside.join("other.txt"),
        outside.join("through-link.txt"),
        outside.join("grandchild.txt"),
    ] {
        assert!(!left.exists(), "{} was written", left.display());
    }

    // Without the sandbox the same reply gets out: the test can tell.
    let output = chat_with_home(&standin, &project, &home, &["--sandbox", "off", "go"], &[]).await;
    let text = stdout(&output);
    assert!(
        text.contains("commands are not sandboxed (sandbox: off)"),
        "{text}"
    );
    assert!(text.contains("bashrc=written"), "{text}");
    assert!(home.join(".bashrc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_sandbox_without_kernel_support_refuses_commands() {
    let (_root, project, home, outside) = sandbox_dirs();
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&escapes(&outside))]).await;
    let simulate = [(openbolt::sandbox::SIMULATE_UNSUPPORTED, "1")];
    let output = chat_with_home(
        &standin,
        &project,
        &home,
        &["--sandbox", "required", "go"],
        &simulate,
    )
    .await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("commands will not run: the sandbox is required"),
        "{text}"
    );
    assert!(
        text.contains("the command was not run: the sandbox is required"),
        "{text}"
    );
    assert!(
        !project.join("inside.txt").exists(),
        "a refused command ran"
    );
    assert!(!home.join(".bashrc").exists());
    // In auto mode the same machine runs commands unrestricted, after one warning.
    let output = chat_with_home(&standin, &project, &home, &["go"], &simulate).await;
    let text = stdout(&output);
    assert_eq!(
        text.matches("commands are NOT sandboxed").count(),
        1,
        "{text}"
    );
    assert!(project.join("inside.txt").exists());
}

/// Installs work in the sandbox: a virtualenv, an npm package from a local tarball, a new cargo project
/// — each writes its workspace and its tool's cache, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_work_in_the_sandbox() {
    // Not inside this repository: `cargo new` would add the project to its Cargo workspace (a write
    // the sandbox refuses, rightly).
    let root = tempfile::tempdir().expect("root");
    let (project, home) = (root.path().join("project"), root.path().join("home"));
    for dir in [&project, &home] {
        std::fs::create_dir(dir).expect("dir");
    }
    let package = project.join("demo");
    std::fs::create_dir(&package).expect("package");
    std::fs::write(
        package.join("package.json"),
        r#"{"name": "openbolt-demo", "version": "1.0.0", "main": "index.js"}"#,
    )
    .expect("package.json");
    std::fs::write(package.join("index.js"), "module.exports = 'demo-ok';\n").expect("index.js");
    const INSTALLS: &str = "Installing.\n<boltArtifact id=\"i\" title=\"Installs\">\n\
        <boltAction type=\"shell\">\npython3 -m venv .venv && .venv/bin/python -c \"print('venv' + '-ok')\"\n</boltAction>\n\
        <boltAction type=\"shell\">\nnpm pack ./demo --silent && npm install ./openbolt-demo-1.0.0.tgz --offline --no-audit --no-fund --silent && node -e \"console.log(require('openbolt-demo'))\"\n</boltAction>\n\
        <boltAction type=\"shell\">\ncargo new --vcs none hello --quiet && test -f hello/Cargo.toml && echo cargo-ok\n</boltAction>\n\
        </boltArtifact>\n";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(INSTALLS)]).await;
    // The toolchains the machine has (rustup's and cargo's homes are the real user's).
    let real_home = std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let rustup = real_home.join(".rustup").display().to_string();
    let cargo = real_home.join(".cargo").display().to_string();
    let env = [
        ("RUSTUP_HOME", rustup.as_str()),
        ("CARGO_HOME", cargo.as_str()),
    ];
    let output = chat_with_home(&standin, &project, &home, &["go"], &env).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for done in ["venv-ok", "demo-ok", "cargo-ok"] {
        assert!(text.contains(done), "{done}:\n{text}");
    }
    assert!(project.join(".venv/bin/python").exists());
    assert!(project.join("node_modules/openbolt-demo/index.js").exists());
    assert!(
        home.join(".npm").is_dir(),
        "npm's cache is where npm keeps it"
    );
}

/// `--sandbox-network false`: a command cannot connect out (over TCP), but can still listen (a dev
/// server); by default it can connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_can_keep_commands_offline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("address").port();
    let reply = format!(
        "Checking the network.\n<boltArtifact id=\"n\" title=\"Network\">\n<boltAction type=\"shell\">\n\
         python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connect' + 'ed')\" || echo connect-refused\n\
         python3 -c \"import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('listen' + 'ing')\"\n\
         </boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&reply)]).await;
    let root = tempfile::tempdir().expect("root");
    let (project, home) = (root.path().join("project"), root.path().join("home"));
    for dir in [&project, &home] {
        std::fs::create_dir(dir).expect("dir");
    }
    let output = chat_with_home(
        &standin,
        &project,
        &home,
        &["--sandbox-network", "false", "go"],
        &[],
    )
    .await;
    let text = stdout(&output);
    assert!(
        text.contains("they make no outgoing TCP connection"),
        "{text}"
    );
    assert!(
        text.contains("connect-refused"),
        "a sandboxed command connected out:\n{text}"
    );
    assert!(text.contains("listening"), "{text}");
    let output = chat_with_home(&standin, &project, &home, &["go"], &[]).await;
    let text = stdout(&output);
    assert!(text.contains("connected"), "{text}");
    drop(listener);
}

/// With the defaults and `--yes`, commands cannot read the user's credentials — a shell command, Python,
/// tar, a dev server — while installs, venvs, git and servers keep working; and known secret values (the
/// provider key, `.env` secrets) a command prints reach neither the terminal, nor the model, nor the
/// store, even cut between two chunks of output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_cannot_be_read_and_secret_values_never_leave() {
    let (root, project, home, _outside) = sandbox_dirs();
    let credentials = [
        (".ssh/id_ed25519", "SSH-PRIVATE-KEY-CONTENT"),
        (".aws/credentials", "AWS-SECRET-CONTENT"),
        (".gnupg/private-keys", "GPG-KEY-CONTENT"),
        (".netrc", "NETRC-PASSWORD-CONTENT"),
        (".config/gh/hosts.yml", "GH-TOKEN-CONTENT"),
    ];
    for (path, content) in credentials {
        let path = home.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, content).expect("credential");
    }
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = A\n\temail = a@b.c\n",
    )
    .expect("git");
    std::fs::write(
        project.join(".env"),
        "DB_PASSWORD=hunter2-db\nPORT=3000\nAPI_TOKEN=tok-env-secret-123\n",
    )
    .expect(".env");
    // A file that happens to hold the provider key, as a planted README might.
    std::fs::write(project.join("notes.txt"), format!("the key is {KEY}\n")).expect("notes");
    let reads = "cat ~/.ssh/id_ed25519 || echo ssh=denied\n\
         cat ~/.aws/credentials || echo aws=denied\n\
         tar c ~/.gnupg > /dev/null || echo gnupg=denied\n\
         python3 -c \"import os; print(open(os.path.expanduser('~/.netrc')).read())\" || echo netrc=denied\n\
         ls ~/.ssh\n\
         cat notes.txt\n\
         sed -n 's/^DB_PASSWORD=/db=/p; s/^PORT=/port=/p' .env\n\
         T=$(sed -n 's/^API_TOKEN=//p' .env); printf 'token=%s' \"${T%%secret*}\"; sleep 0.3; printf '%s\\n' \"secret${T#*secret}\"\n\
         cat ~/.ssh/id_ed25519";
    let works = "git init -q && git add -A && git commit -qm first && echo git=ok\n\
         python3 -m venv venv && echo venv=ok\n\
         mkdir pkg && (cd pkg && npm init -y > /dev/null && npm pack --silent > /dev/null) && npm init -y > /dev/null && npm install --offline --no-audit --no-fund ./pkg/pkg-1.0.0.tgz > /dev/null && echo npm=ok\n\
         node -e \"require('http').createServer().listen(0, function () { console.log('node=ok'); process.exit(0); })\"\n\
         cargo new --vcs none --quiet hello && echo cargo=ok";
    let reply = format!(
        "Trying.\n<boltArtifact id=\"w\" title=\"Works\">\n<boltAction type=\"shell\">\n{works}\n</boltAction>\n</boltArtifact>\n\
         <boltArtifact id=\"r\" title=\"Reads\">\n<boltAction type=\"shell\">\n{reads}\n</boltAction>\n</boltArtifact>\n\
         <boltArtifact id=\"s\" title=\"Server\">\n<boltAction type=\"start\">\ncat ~/.config/gh/hosts.yml || echo gh=denied; exec sleep 600\n</boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::text(&reply), Reply::text("Nothing more to do.")],
    )
    .await;
    // cargo through rustup, whose toolchains are in the real home.
    let real_home = std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map_or_else(|| real_home.join(".rustup"), std::path::PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map_or_else(|| real_home.join(".cargo"), std::path::PathBuf::from);
    let (rustup_home, cargo_home) = (
        rustup_home.display().to_string(),
        cargo_home.display().to_string(),
    );
    let output = chat_with_home(
        &standin,
        &project,
        &home,
        &["try", "--auto-fix", "1"],
        &[("RUSTUP_HOME", &rustup_home), ("CARGO_HOME", &cargo_home)],
    )
    .await;
    let text = stdout(&output);
    assert!(text.contains("cannot read your credentials"), "{text}");
    for works in ["git=ok", "venv=ok", "npm=ok", "node=ok", "cargo=ok"] {
        assert!(text.contains(works), "{works}:\n{text}");
    }
    for denied in [
        "ssh=denied",
        "aws=denied",
        "gnupg=denied",
        "netrc=denied",
        "gh=denied",
    ] {
        assert!(text.contains(denied), "{denied}:\n{text}");
    }
    assert!(text.contains("id_ed25519"), "names stay listable:\n{text}");
    // The failed command says which path the sandbox kept it from reading, and the setting.
    assert!(
        text.contains("the sandbox keeps commands from reading")
            && text.contains("sandboxAllowRead"),
        "{text}"
    );
    assert!(text.contains("port=3000"), "{text}");
    assert!(
        text.contains("token=[redacted]"),
        "cut between chunks:\n{text}"
    );
    assert!(text.contains("db=[redacted]"), "{text}");
    // The fix round's request carries the command's output, redacted.
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "a fix round follows the failed command");
    let fix = requests[1].body.to_string();
    assert!(
        fix.contains("[redacted]") && fix.contains("port=3000"),
        "{fix}"
    );
    let store = store_text(&project);
    assert!(store.contains("[redacted]"), "the output was stored");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let contents = credentials.iter().map(|(_, content)| *content);
    for secret in contents.chain([KEY, "hunter2-db", "tok-env-secret-123"]) {
        for (place, seen) in [
            ("the terminal", &text),
            ("the request", &fix),
            ("the store", &store),
            ("the log", &stderr),
        ] {
            assert!(!seen.contains(secret), "{secret} reached {place}");
        }
    }
    // Files are never altered: the key is still in the file that held it.
    assert!(
        std::fs::read_to_string(project.join("notes.txt"))
            .expect("notes")
            .contains(KEY)
    );
    drop(root);
}

/// A path added with --sandbox-deny-read is unreadable; one allowed back with --sandbox-allow-read is
/// readable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_can_be_denied_and_allowed_back() {
    let (_root, project, home, outside) = sandbox_dirs();
    std::fs::write(outside.join("private.txt"), "PRIVATE-CONTENT").expect("private");
    std::fs::create_dir_all(home.join(".ssh")).expect("ssh");
    std::fs::write(home.join(".ssh/known_hosts"), "KNOWN-HOSTS").expect("known hosts");
    std::fs::write(home.join(".ssh/id_rsa"), "RSA-CONTENT").expect("key");
    let reply = format!(
        "Reading.\n<boltArtifact id=\"r\" title=\"Reads\">\n<boltAction type=\"shell\">\n\
         cat {}/private.txt || echo private=denied\ncat ~/.ssh/known_hosts\ncat ~/.ssh/id_rsa || echo rsa=denied\n\
         </boltAction>\n</boltArtifact>\n",
        outside.display()
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&reply)]).await;
    let deny = outside.display().to_string();
    let output = chat_with_home(
        &standin,
        &project,
        &home,
        &[
            "read",
            "--sandbox-deny-read",
            &deny,
            "--sandbox-allow-read",
            "~/.ssh/known_hosts",
        ],
        &[],
    )
    .await;
    let text = stdout(&output);
    assert!(
        text.contains("private=denied") && !text.contains("PRIVATE-CONTENT"),
        "{text}"
    );
    assert!(text.contains("KNOWN-HOSTS"), "allowed back:\n{text}");
    assert!(
        text.contains("rsa=denied") && !text.contains("RSA-CONTENT"),
        "{text}"
    );
    assert!(
        text.contains(&format!(", {deny})")),
        "the line names the added path:\n{text}"
    );
    assert!(
        text.contains("except "),
        "and the one allowed back:\n{text}"
    );
}

/// A secret a session stored before it was known (a command's output, before the `.env` held it) is
/// gone from the store once the workspace is opened again — not left in freed pages either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stored_before_are_redacted_when_the_workspace_is_opened_again() {
    let (_root, project, home, _outside) = sandbox_dirs();
    let secret = "pre-existing-secret-99";
    let reply = "Printing.\n<boltArtifact id=\"p\" title=\"Print\">\n<boltAction type=\"shell\">\nprintf 'value=%s\\n' \"$(cat value.txt)\"; exit 1\n</boltAction>\n</boltArtifact>\n";
    std::fs::write(project.join("value.txt"), secret).expect("value");
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    chat_with_home(
        &standin,
        &project,
        &home,
        &["print it", "--auto-fix", "0"],
        &[],
    )
    .await;
    assert!(
        store_text(&project).contains(secret),
        "not a secret yet: stored as printed"
    );

    std::fs::write(project.join(".env"), format!("SESSION_SECRET={secret}\n")).expect(".env");
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text("Hello.")]).await;
    let output = chat_with_home(&standin, &project, &home, &["hello"], &[]).await;
    assert!(output.status.success(), "{}", stdout(&output));
    let stored = store_text(&project);
    assert!(
        !stored.contains(secret),
        "the stored output was not redacted"
    );
    assert!(stored.contains("value=[redacted]"), "redacted in place");
}

/// With --sandbox-allow-git-hooks (a project whose install sets up husky), the hooks a command installs
/// are kept, and the chat says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_hooks_may_be_allowed() {
    let (_root, project, home, _outside) = sandbox_dirs();
    let install = "git init -q && mkdir -p .husky && git config core.hooksPath .husky && \
         printf '#!/bin/sh\\nnpm test\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && echo installed";
    let reply = format!(
        "Installing.\n<boltArtifact id=\"h\" title=\"Hooks\">\n<boltAction type=\"shell\">\n{install}\n</boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&reply)]).await;
    let output = chat_with_home(
        &standin,
        &project,
        &home,
        &["install", "--sandbox-allow-git-hooks"],
        &[],
    )
    .await;
    let text = stdout(&output);
    assert!(text.contains("git hooks they install are kept"), "{text}");
    assert!(
        text.contains("installed") && !text.contains("undid"),
        "{text}"
    );
    assert!(project.join(".git/hooks/pre-commit").exists());
    let config = std::fs::read_to_string(project.join(".git/config")).expect("config");
    assert!(config.contains("hooksPath = .husky"), "{config}");
}

/// A dev server that prints a `.env` secret and then its URL: the secret is redacted, `PORT=3000` is not,
/// and the preview is still found.
#[tokio::test]
async fn a_dev_server_printing_a_secret_is_redacted_and_still_previewed() {
    use tokio::io::AsyncBufReadExt;
    openbolt::install_crypto_provider();
    let reply = "Serving.\n\n<boltArtifact id=\"site\" title=\"Site\">\n<boltAction type=\"start\">\ncat .env; exec python3 -c \"import http.server as h; s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    let workspace = workspace();
    std::fs::write(
        workspace.path().join(".env"),
        "API_SECRET=preview-secret-55\nPORT=3000\n",
    )
    .expect(".env");
    let mut child = spawn_chat(&standin, workspace.path(), &["--yes", "serve it"]);
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    read_until(&mut lines, &mut seen, "◉ preview: http://localhost:").await;
    assert!(seen.contains("API_SECRET=[redacted]"), "{seen}");
    assert!(seen.contains("PORT=3000"), "{seen}");
    assert!(!seen.contains("preview-secret-55"), "{seen}");
    child.kill().await.expect("stopped");
}
