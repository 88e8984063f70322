//! MCP tools end to end: the real `openbolt` binary, the provider stand-in, and real MCP servers — the
//! reference servers from npm (`scripts/mcp-test-deps` installs them into `.mcp-test/`; `scripts/test`
//! runs it) and `tests/mcp/fake_server.py` for the ways a server fails (crashing mid-call, never
//! answering `initialize`, changing its tool list).

mod lsp_client;
mod support;

use lsp_client::Lsp;
use serde_json::{Value, json};
use std::path::PathBuf;
use support::{Format, Reply, StandIn, TempProject, repository};

fn everything() -> PathBuf {
    let path = repository().join(".mcp-test/node_modules/.bin/mcp-server-everything");
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/mcp-test-deps` (scripts/test runs it)",
        path.display()
    );
    path
}

fn fake(mode: &str, marker: &str) -> Value {
    json!({"command": "python3", "args": [repository().join("tests/mcp/fake_server.py"), mode, marker]})
}

/// Writes the user's `~/.config/openbolt/mcp.json` (the runs' HOME is the project folder): servers the
/// user configured start without a question.
fn configure_user(project: &TempProject, servers: Value) {
    std::fs::create_dir_all(project.path.join(".config/openbolt")).expect("dir");
    std::fs::write(
        project.path.join(".config/openbolt/mcp.json"),
        json!({"mcpServers": servers}).to_string(),
    )
    .expect("mcp.json");
}

/// Writes the workspace's `.openbolt/mcp.json` (its servers start once the user agrees).
fn configure(project: &TempProject, servers: Value) {
    std::fs::create_dir_all(project.path.join(".openbolt")).expect("dir");
    std::fs::write(
        project.path.join(".openbolt/mcp.json"),
        json!({"mcpServers": servers}).to_string(),
    )
    .expect("mcp.json");
}

const ECHO: &str = "I'll ask the server.\n\n<boltArtifact id=\"ask\" title=\"Ask\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"echo\">{\"message\": \"hello from openbolt\"}</boltAction>\n</boltArtifact>";
const DONE: &str = "The server answered.";

/// The text of every message of an OpenAI-format request (the system prompt is the first).
fn request_text(request: &Value) -> String {
    request["messages"].to_string()
}

/// `openbolt chat` in `project` with extra environment, against an OpenAI-format stand-in.
async fn chat(
    project: &TempProject,
    standin: &StandIn,
    arguments: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let arguments: Vec<&str> = std::iter::once("chat")
        .chain(arguments.iter().copied())
        .collect();
    project.openbolt_with(standin, &arguments, env).await
}

/// One `openbolt chat` turn whose reply calls everything's `echo` (allowed by `allow`), then ends: its
/// output and the provider requests, checked to be a success in two requests.
async fn echo_turn(project: &TempProject, allow: &str) -> (String, Vec<support::Recorded>) {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(ECHO), Reply::text(DONE)]).await;
    let (code, output) = chat(
        project,
        &standin,
        &["--mcp-allow", allow, "ask the server"],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{output}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "one turn, two requests: {output}");
    (output, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_is_answered_in_the_same_turn() {
    let project = TempProject::new();
    configure(
        &project,
        json!({"everything": {"command": everything(), "args": ["stdio"]}}),
    );
    let (output, requests) = echo_turn(&project, "everything").await;
    // The system prompt listed the server's tools, compactly.
    let first = request_text(&requests[0].body);
    assert!(
        first.contains("server=\\\"everything\\\" tool=\\\"echo\\\"")
            && first.contains("message: string"),
        "{first}"
    );
    // The second request carries the result.
    let second = request_text(&requests[1].body);
    assert!(second.contains("Echo: hello from openbolt"), "{second}");
    assert!(
        output.contains("✓ tool `everything · echo {\"message\":\"hello from openbolt\"}` (Echo: hello from openbolt)"),
        "{output}"
    );
    // What the server printed on stderr went to the log, not to the model.
    assert!(!second.contains("Everything Reference Server"), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_do_not_fit_the_schema_are_refused_without_a_call() {
    let project = TempProject::new();
    configure(
        &project,
        json!({"everything": {"command": everything(), "args": ["stdio"]}}),
    );
    let bad = ECHO.replace("\"message\": \"hello from openbolt\"", "\"msg\": 1");
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&bad), Reply::text(DONE)]).await;
    let (_, output) = chat(
        &project,
        &standin,
        &["--mcp-allow", "everything", "ask the server"],
        &[],
    )
    .await;
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "{output}");
    let second = request_text(&requests[1].body);
    assert!(
        second.contains("invalid arguments, not called: arguments.message is required"),
        "{second}"
    );
    assert!(!second.contains("Echo:"), "{second}");
    assert!(output.contains("✗ tool `everything · echo"), "{output}");
}

/// Every process whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// Waits (polling, up to 10 s) until no process holds `marker`.
async fn assert_gone(marker: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !processes_with(marker).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        processes_with(marker).is_empty(),
        "{:?}",
        processes_with(marker)
    );
}

async fn start_lsp(project: &TempProject, standin: &StandIn, env: &[(&str, &str)]) -> Lsp {
    let mut all: Vec<(&str, String)> = project.lsp_env(standin);
    all.push(("HOME", project.path.display().to_string()));
    all.extend(env.iter().map(|(key, value)| (*key, (*value).to_owned())));
    Lsp::start(&project.path, &all, json!({}), false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_approved_in_the_editor_and_a_skip_is_respected() {
    let project = TempProject::new();
    configure_user(
        &project,
        json!({"everything": {"command": everything(), "args": ["stdio"]}}),
    );
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(ECHO),
            Reply::text(DONE),
            Reply::text(ECHO),
            Reply::text(DONE),
        ],
    )
    .await;
    let mut lsp = start_lsp(&project, &standin, &[]).await;
    // Configured, not started: nothing runs until a turn needs the tools.
    let servers = lsp.request("openbolt/mcpServers", Value::Null).await;
    assert_eq!(servers["result"][0]["name"], "everything", "{servers}");
    assert_eq!(servers["result"][0]["state"], "idle", "{servers}");
    lsp.approval = Some("Skip".to_owned());
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "ask the server"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let question = lsp
        .questions()
        .first()
        .expect("the call was asked about")
        .clone();
    assert!(
        question["params"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("call the MCP tool: everything · echo")),
        "{question}"
    );
    let titles: Vec<&str> = question["params"]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|action| action["title"].as_str())
        .collect();
    assert_eq!(titles, ["Run", "Always for this tool", "Skip"]);
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2);
    let second = request_text(&requests[1].body);
    assert!(second.contains("the user chose not to run it"), "{second}");
    assert!(!second.contains("Echo:"), "{second}");
    let skipped = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .any(|update| update["type"] == "tool" && update["status"] == "skipped");
    assert!(skipped, "{:?}", lsp.notifications("openbolt/actionUpdate"));
    // Allowed this time: the tool answers within the turn.
    lsp.approval = Some("Always for this tool".to_owned());
    let session = response["result"]["sessionId"].clone();
    let response = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "ask again", "sessionId": session}),
        )
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let fourth = request_text(&standin.recorded()[3].body);
    assert!(fourth.contains("Echo: hello from openbolt"), "{fourth}");
    let servers = lsp.request("openbolt/mcpServers", Value::Null).await;
    assert_eq!(servers["result"][0]["state"], "ready", "{servers}");
    assert!(
        servers["result"][0]["tools"]
            .as_array()
            .is_some_and(|tools| tools.contains(&json!("echo"))),
        "{servers}"
    );
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_fail_are_named_and_the_chat_goes_on() {
    let project = TempProject::new();
    let marker = format!("openbolt-mcp-failing-{}", std::process::id());
    configure_user(
        &project,
        json!({
            "crashy": fake("crash", &marker),
            "silent": fake("silent", &marker),
            "broken": {"command": "/nonexistent/mcp-server", "args": []},
            "typo": {"comand": "x"},
        }),
    );
    let call = "Calling.\n\n<boltArtifact id=\"c\" title=\"C\">\n<boltAction type=\"tool\" server=\"crashy\" tool=\"first\">{}</boltAction>\n</boltArtifact>";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(call), Reply::text(DONE)]).await;
    let (code, output) = chat(
        &project,
        &standin,
        &["--mcp-allow", "crashy", "call it"],
        &[("OPENBOLT_MCP_START_TIMEOUT_MS", "1500")],
    )
    .await;
    // The turn ran to its end (the failed call makes the exit code 1, as a failed command does).
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("── done"), "{output}");
    // One clear message per server, naming it.
    assert!(output.contains("MCP server \"typo\""), "{output}");
    assert!(output.contains("unknown key \"comand\""), "{output}");
    assert!(
        output
            .contains("MCP server \"silent\" did not start: no answer to initialize within 1.5 s"),
        "{output}"
    );
    assert!(
        output.contains(
            "MCP server \"broken\" did not start: cannot run \"/nonexistent/mcp-server\""
        ),
        "{output}"
    );
    // The crash mid-call reached the model as the call's failure; the turn went on.
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "{output}");
    let second = request_text(&requests[1].body);
    assert!(
        second.contains("the MCP server 'crashy' stopped during the call"),
        "{second}"
    );
    assert!(output.contains("✗ tool `crashy · first {}`"), "{output}");
    assert!(output.contains(DONE), "{output}");
    // Nothing of them is left running.
    assert_gone(&marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_tool_list_is_picked_up_and_no_server_outlives_the_editor() {
    let project = TempProject::new();
    let marker = format!("openbolt-mcp-changing-{}", std::process::id());
    // Through a shell, so the server is a grandchild: stopping must take the whole process group.
    configure_user(
        &project,
        json!({"changing": {"command": "sh", "args": ["-c", format!("python3 {} changing {marker}; exit 0", repository().join("tests/mcp/fake_server.py").display())]}}),
    );
    let call = "Calling.\n\n<boltArtifact id=\"c\" title=\"C\">\n<boltAction type=\"tool\" server=\"changing\" tool=\"first\">{}</boltAction>\n</boltArtifact>";
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(call), Reply::text(DONE), Reply::text(DONE)],
    )
    .await;
    // Provider keys in OpenBolt's environment: the server must get none of them (the same list as
    // commands').
    let mut lsp = start_lsp(
        &project,
        &standin,
        &[
            ("OPENAI_API_KEY", "sk-not-for-mcp"),
            ("OPENBOLT_API_KEY", "sk-not-for-mcp-either"),
        ],
    )
    .await;
    lsp.approval = Some("Always for this tool".to_owned());
    let session = "mcp-changing";
    let response = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "call it", "sessionId": session}),
        )
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let first_turn = request_text(&standin.recorded()[0].body);
    assert!(
        first_turn.contains("tool=\\\"first\\\"") && !first_turn.contains("tool=\\\"second\\\""),
        "{first_turn}"
    );
    assert!(
        request_text(&standin.recorded()[1].body)
            .contains("called first; provider keys seen: none")
    );
    // The server announced a new tool after the call: the next turn lists it.
    let response = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "and now?", "sessionId": session}),
        )
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let next_turn = request_text(&standin.recorded()[2].body);
    assert!(next_turn.contains("tool=\\\"second\\\""), "{next_turn}");
    assert!(!processes_with(&marker).is_empty(), "the server runs");
    // The editor goes away (stdin closes): no server process is left.
    lsp.close_stdin();
    assert_gone(&marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamable_http_server_is_called() {
    // The same reference server, over streamable HTTP on a free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port();
    let mut server = tokio::process::Command::new(everything())
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the HTTP server starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the HTTP server never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let project = TempProject::new();
    configure(
        &project,
        json!({"everything": {"url": format!("http://127.0.0.1:{port}/mcp"), "headers": {"X-Openbolt-Test": "yes"}}}),
    );
    let (output, requests) = echo_turn(&project, "everything/echo").await;
    assert!(
        request_text(&requests[1].body).contains("Echo: hello from openbolt"),
        "{output}"
    );
    let _ = server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_the_workspace_configures_starts_only_once_the_user_agrees() {
    let project = TempProject::new();
    configure(
        &project,
        json!({"everything": {"command": everything(), "args": ["stdio"]}}),
    );
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(DONE), Reply::text(DONE)]).await;
    // Refused: not started, its tools not offered, the user told.
    let mut lsp = start_lsp(&project, &standin, &[]).await;
    lsp.approval = Some("Skip".to_owned());
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "hello"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let question = lsp.questions().first().expect("asked").clone();
    let text = question["params"]["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("start the MCP server: everything (")
            && text.contains("configured by this workspace's .openbolt/mcp.json"),
        "{question}"
    );
    // Not a question about an action: no card to answer it on.
    assert!(
        question["params"]["actions"][0].get("actionId").is_none(),
        "{question}"
    );
    assert!(!request_text(&standin.recorded()[0].body).contains("MCP tools you may call"));
    assert!(
        lsp.notifications("openbolt/notice")
            .iter()
            .any(|notice| notice["text"]
                .as_str()
                .is_some_and(|text| text.contains("MCP server \"everything\" not started"))),
        "{:?}",
        lsp.notifications("openbolt/notice")
    );
    let servers = lsp.request("openbolt/mcpServers", Value::Null).await;
    assert_eq!(servers["result"][0]["state"], "failed", "{servers}");
    assert!(lsp.stop().await.success());
    // Agreed: it starts and its tools are offered.
    let mut lsp = start_lsp(&project, &standin, &[]).await;
    lsp.approval = Some("Run".to_owned());
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "hello again"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    assert!(
        request_text(&standin.recorded()[1].body)
            .contains("server=\\\"everything\\\" tool=\\\"echo\\\"")
    );
    let servers = lsp.request("openbolt/mcpServers", Value::Null).await;
    assert_eq!(servers["result"][0]["state"], "ready", "{servers}");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_result_is_cut_to_the_context_left() {
    let project = TempProject::new();
    configure_user(&project, json!({"long": fake("long", "openbolt-mcp-long")}));
    let call = "Calling.\n\n<boltArtifact id=\"c\" title=\"C\">\n<boltAction type=\"tool\" server=\"long\" tool=\"first\">{}</boltAction>\n</boltArtifact>";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(call), Reply::text(DONE)]).await;
    let (_, output) = chat(
        &project,
        &standin,
        &["--mcp-allow", "long", "--context-tokens", "8192", "call it"],
        &[],
    )
    .await;
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "{output}");
    let second = request_text(&requests[1].body);
    assert!(second.contains("[… cut to fit the context:"), "{output}");
    // The follow-up still fits the window (about 4 bytes a token; 8,192 tokens).
    assert!(second.len() < 8_192 * 4, "{} bytes", second.len());
}

/// A secret an MCP server is configured with (an env value under a secret-looking name) never reaches the
/// model nor the terminal, even when a tool hands it back: everything's `get-env` returns its whole
/// environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_a_tool_returns_is_redacted() {
    let project = TempProject::new();
    let secret = "mcp-configured-secret-77";
    configure_user(
        &project,
        json!({"everything": {"command": everything(), "args": ["stdio"], "env": {"SERVICE_TOKEN": secret, "SERVICE_REGION": "eu-west-1"}}}),
    );
    let call = "Looking.\n\n<boltArtifact id=\"env\" title=\"Env\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"get-env\">{}</boltAction>\n</boltArtifact>";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(call), Reply::text(DONE)]).await;
    let (code, output) = chat(
        &project,
        &standin,
        &["--mcp-allow", "everything", "env?"],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{output}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "{output}");
    let second = request_text(&requests[1].body);
    assert!(
        second.contains("SERVICE_TOKEN") && second.contains("[redacted]"),
        "{second}"
    );
    assert!(second.contains("eu-west-1"), "not a secret: {second}");
    assert!(!second.contains(secret), "the secret reached the model");
    assert!(
        !output.contains(secret),
        "the secret reached the terminal: {output}"
    );
}
