//! `openbolt acp` driven by a client no one here wrote: the official ACP TypeScript SDK's
//! `ClientSideConnection` (`tests/acp/client.mjs`, the SDK installed by `scripts/acp-test-deps`), against
//! the provider stand-in in both wire formats. A turn writes a file and runs two commands — one permitted,
//! one rejected, which does not run — and ends with `end_turn`; `session/cancel` stops a reply mid-way; a
//! reply that breaks off is an error and the agent lives on; bad JSON and unknown methods get errors;
//! closing the client's pipe leaves no process behind.

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Fault, Format, Reply, StandIn, TempProject};

const TURN: &str = "Here is the page.\n<boltArtifact id=\"page\" title=\"Page\">\n<boltAction type=\"file\" filePath=\"hello.txt\">\nhello from openbolt\n</boltAction>\n<boltAction type=\"shell\">\necho permitted > permitted.txt\n</boltAction>\n<boltAction type=\"shell\">\necho rejected > rejected.txt\n</boltAction>\n</boltArtifact>\nDone.\n";

/// Runs `scenario` of the client script in `project` against `standin`: what it reports.
async fn client(
    scenario: &str,
    project: &TempProject,
    standin: &StandIn,
    env: &[(&str, &str)],
) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sdk = root.join(".acp-test/node_modules/@agentclientprotocol/sdk");
    assert!(
        sdk.join("package.json").is_file(),
        "the ACP SDK is missing: run `bash scripts/acp-test-deps`"
    );
    let home = project.path.with_file_name("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("tests/acp/client.mjs"))
        .arg(scenario)
        .arg(&project.path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("ACP_SDK", &sdk)
        .env("OPENBOLT_BIN", env!("CARGO_BIN_EXE_openbolt"))
        .env("OPENBOLT_DATA_DIR", project.data())
        .env("OPENBOLT_AUTO_FIX", "0")
        .env("OPENBOLT_PREVIEW_CHECK", "off");
    match standin.format {
        Format::Anthropic => command
            .env("OPENBOLT_PROVIDER", "anthropic")
            .env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("ANTHROPIC_BASE_URL", &standin.url),
        Format::OpenAi => command
            .env("OPENAI_BASE_URL", &standin.url)
            .env("OPENBOLT_MODEL", "m"),
    };
    command.envs(env.iter().copied());
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("the client finishes within 90 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// The updates of one kind (`sessionUpdate`).
fn of_kind<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|update| update["sessionUpdate"] == kind)
        .collect()
}

/// The prose the client was sent.
fn prose(report: &Value) -> String {
    of_kind(report, "agent_message_chunk")
        .iter()
        .filter_map(|update| update["content"]["text"].as_str())
        .collect()
}

/// The last state of each tool call, by id, in the order they were announced.
fn tool_calls(report: &Value) -> Vec<(String, Value)> {
    let mut calls: Vec<(String, Value)> = Vec::new();
    for update in report["updates"].as_array().into_iter().flatten() {
        let Some(id) = update["toolCallId"].as_str() else {
            continue;
        };
        match calls.iter_mut().find(|(known, _)| known == id) {
            Some((_, call)) => {
                for (key, value) in update.as_object().into_iter().flatten() {
                    call[key] = value.clone();
                }
            }
            None => calls.push((id.to_owned(), update.clone())),
        }
    }
    calls
}

#[tokio::test]
async fn a_turn_writes_runs_what_is_permitted_and_ends_in_both_formats() {
    for format in [Format::OpenAi, Format::Anthropic] {
        let standin = StandIn::start(format, vec![Reply::text(TURN)]).await;
        let project = TempProject::new();
        let report = client("turn", &project, &standin, &[]).await;
        assert_eq!(report["initialize"]["protocolVersion"], 1, "{report}");
        assert_eq!(report["initialize"]["agentInfo"]["name"], "openbolt");
        assert!(
            report["otherCwd"]
                .as_str()
                .is_some_and(|said| said.contains("this agent serves the workspace")),
            "{report}"
        );
        assert_eq!(report["stopReason"], "end_turn", "{report}");
        assert_eq!(project.read("hello.txt"), "hello from openbolt\n");
        assert_eq!(project.read("permitted.txt"), "permitted\n");
        assert!(
            !project.path.join("rejected.txt").exists(),
            "the rejected command ran"
        );
        assert!(prose(&report).contains("Here is the page.") && prose(&report).contains("Done."));
        // Each action a tool call: the file an edit with its diff, the commands executes.
        let calls = tool_calls(&report);
        assert_eq!(calls.len(), 3, "{calls:?}");
        let (_, file) = &calls[0];
        assert_eq!(file["kind"], "edit");
        assert_eq!(file["status"], "completed");
        assert_eq!(file["content"][0]["type"], "diff");
        assert_eq!(file["content"][0]["newText"], "hello from openbolt\n");
        assert!(
            file["content"][0]["oldText"].is_null(),
            "a new file: {file}"
        );
        let (_, permitted) = &calls[1];
        assert_eq!(
            (permitted["kind"].as_str(), permitted["status"].as_str()),
            (Some("execute"), Some("completed"))
        );
        let (_, rejected) = &calls[2];
        assert_eq!(
            (rejected["kind"].as_str(), rejected["status"].as_str()),
            (Some("execute"), Some("failed")),
            "{rejected}"
        );
        // The file's tool call went pending → completed; a command's went through in_progress.
        let statuses: Vec<&str> = report["updates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|update| update["toolCallId"] == calls[1].0.as_str())
            .filter_map(|update| update["status"].as_str())
            .collect();
        assert!(
            statuses.contains(&"in_progress") && statuses.last() == Some(&"completed"),
            "{statuses:?}"
        );
        // Both commands were asked about, with the three answers.
        let asked = report["permissions"].as_array().expect("permissions");
        assert_eq!(asked.len(), 2, "{asked:?}");
        let kinds: Vec<&str> = asked[0]["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|option| option["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["allow_once", "allow_always", "reject_once"]);
        assert_eq!(report["exit"], 0, "{report}");
    }
}

#[tokio::test]
async fn a_client_that_offers_to_write_files_is_not_relied_on() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(TURN)]).await;
    let project = TempProject::new();
    let report = client("turn-fs", &project, &standin, &[]).await;
    assert_eq!(report["stopReason"], "end_turn", "{report}");
    assert_eq!(report["fsWrites"], serde_json::json!([]));
    assert_eq!(project.read("hello.txt"), "hello from openbolt\n");
}

#[tokio::test]
async fn a_cancel_stops_the_reply_and_leaves_no_half_file() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::stalled_in_a_file()]).await;
    let project = TempProject::new();
    let report = client("cancel", &project, &standin, &[]).await;
    assert_eq!(report["stopReason"], "cancelled", "{report}");
    assert!(prose(&report).contains("This one takes a while."));
    assert!(!project.path.join("slow.txt").exists());
}

#[tokio::test]
async fn a_reply_that_breaks_off_is_an_error_and_the_agent_lives_on() {
    let text = "Starting on it now, writing the page in a moment.\n";
    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::with_fault(text, Fault::Drop { after: 30 }),
            Reply::text("Second answer."),
        ],
    )
    .await;
    let project = TempProject::new();
    let report = client("fault", &project, &standin, &[]).await;
    let message = report["error"].to_string();
    assert!(message.contains("dropped"), "{report}");
    assert_eq!(report["after"], "end_turn", "{report}");
}

#[tokio::test]
async fn bad_json_and_unknown_methods_get_errors_and_the_agent_answers_after() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text("unused")]).await;
    let project = TempProject::new();
    let report = client("raw", &project, &standin, &[]).await;
    assert_eq!(
        report["beforeInitialize"]["error"]["code"], -32600,
        "{report}"
    );
    assert_eq!(report["unknown"]["error"]["code"], -32601, "{report}");
    assert!(
        report["session"]["result"]["sessionId"].is_string(),
        "{report}"
    );
    let parse_errors = report["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|line| line["error"]["code"] == -32700)
        .count();
    assert_eq!(parse_errors, 1, "{report}");
    assert_eq!(
        report["initialize"]["result"]["protocolVersion"], 1,
        "{report}"
    );
    assert_eq!(report["exit"], 0);
}

/// Processes whose working directory is in `root`.
fn processes_in(root: &Path) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(root))
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|stat| !stat.contains(") Z "))
        })
        .collect()
}

#[tokio::test]
async fn closing_the_clients_pipe_ends_the_agent_and_its_dev_server() {
    let serve = "The page is served.\n<boltArtifact id=\"serve\" title=\"Serve\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>hi</h1>\n</boltAction>\n<boltAction type=\"start\">\npython3 -m http.server 0 --bind 127.0.0.1\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(serve)]).await;
    let project = TempProject::new();
    // With the page check on, the turn waits for the preview and checks the page.
    let report = client(
        "turn",
        &project,
        &standin,
        &[("OPENBOLT_PREVIEW_CHECK", "auto")],
    )
    .await;
    assert_eq!(report["stopReason"], "end_turn", "{report}");
    assert!(
        prose(&report).contains("Preview: http://127.0.0.1:"),
        "{report}"
    );
    let calls = tool_calls(&report);
    let (_, page) = calls
        .iter()
        .find(|(_, call)| {
            call["title"]
                .as_str()
                .is_some_and(|title| title.starts_with("Page check of http://127.0.0.1:"))
        })
        .expect("the page check as a tool call");
    assert_eq!(
        (page["kind"].as_str(), page["status"].as_str()),
        (Some("fetch"), Some("completed")),
        "{page}"
    );
    assert_eq!(
        page["content"][1]["content"]["type"], "image",
        "its screenshot: {page}"
    );
    assert_eq!(page["content"][1]["content"]["mimeType"], "image/jpeg");
    assert_eq!(report["exit"], 0, "{report}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let root = std::fs::canonicalize(&project.path).expect("root");
    let mut left = processes_in(&root);
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = processes_in(&root);
    }
    assert!(left.is_empty(), "processes left in the workspace: {left:?}");
}

#[tokio::test]
async fn a_fix_round_runs_in_the_same_prompt_and_says_so() {
    let fails = "Checking.\n<boltArtifact id=\"check\" title=\"Check\">\n<boltAction type=\"shell\">\nls missing-file\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(fails),
            Reply::text("The file is not there; nothing to fix."),
        ],
    )
    .await;
    let project = TempProject::new();
    let report = client("turn", &project, &standin, &[("OPENBOLT_AUTO_FIX", "1")]).await;
    assert_eq!(report["stopReason"], "end_turn", "{report}");
    let said = prose(&report);
    assert!(
        said.contains("**Fix round 1 of 1**: 1 problem sent back to the model."),
        "{said}"
    );
    assert!(said.contains("nothing to fix"), "{said}");
    assert_eq!(standin.recorded().len(), 2);
    let (_, command) = &tool_calls(&report)[0];
    assert_eq!(command["status"], "failed", "{command}");
    let output = command["content"].to_string();
    assert!(
        output.contains("missing-file"),
        "its output is in the tool call: {command}"
    );
}
