//! The fix loop end to end: scripted replies from the provider stand-in, the real binary. A turn whose
//! actions have problems is followed by automatic fix rounds — each a turn of its own carrying the
//! report — until nothing fails, the same problems come back, the rounds run out, or the user stops.

mod lsp_client;
mod support;

use lsp_client::{Lsp, uri};
use serde_json::json;
use support::{Format, Reply, StandIn, TempProject};

fn artifact(actions: &str) -> String {
    format!("Working on it.\n<boltArtifact id=\"work\" title=\"Work\">\n{actions}</boltArtifact>\n")
}

fn file(path: &str, content: &str) -> String {
    format!("<boltAction type=\"file\" filePath=\"{path}\">\n{content}</boltAction>\n")
}

fn shell(command: &str) -> String {
    format!("<boltAction type=\"shell\">\n{command}\n</boltAction>\n")
}

/// `openbolt lsp` in `project` against `standin`, with `options`.
async fn lsp(project: &TempProject, standin: &StandIn, options: serde_json::Value) -> Lsp {
    Lsp::start(&project.path, &project.lsp_env(standin), options, false).await
}

async fn chat(
    project: &TempProject,
    standin: &StandIn,
    arguments: &[&str],
) -> (Option<i32>, String) {
    let workspace = project.path.display().to_string();
    let arguments = [
        &["chat", "--workspace", workspace.as_str(), "--yes"],
        arguments,
    ]
    .concat();
    project.openbolt(standin, &arguments).await
}

const BROKEN: &str =
    "export function total(items) {\n  return items.reduce((a, b) => a + b, 0;\n}\n";
const FIXED: &str =
    "export function total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n";

#[tokio::test]
async fn a_broken_file_and_a_failing_command_are_fixed_in_one_round() {
    let first = artifact(
        &(file("src/total.js", BROKEN) + &shell("echo checking; node -e 'process.exit(2)'")),
    );
    let second = artifact(&file("src/total.js", FIXED));
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&first), Reply::text(&second)],
    )
    .await;
    let project = TempProject::new();
    let (code, text) = chat(&project, &standin, &["write total"]).await;
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "the turn and one fix round:\n{text}");
    // The CLI shows the syntax error under the action, then the round.
    assert!(
        text.contains("✓ file src/total.js\n    ! src/total.js:2:"),
        "{text}"
    );
    assert!(text.contains("fix round 1 of 3: 2 problems"), "{text}");
    // The round's prompt carries both problems, with the broken line.
    let report = support::last_user_message(&requests[1].body);
    assert!(
        report.contains("2 problems (automatic fix round 1 of 3)"),
        "{report}"
    );
    assert!(
        report.contains("src/total.js:2:")
            && report.contains("2│   return items.reduce((a, b) => a + b, 0;"),
        "{report}"
    );
    assert!(
        report.contains("the command `echo checking; node -e 'process.exit(2)'` failed"),
        "{report}"
    );
    assert!(report.contains("| checking"), "{report}");
    // Each failure is stated once: the list of the last actions gives statuses, the report the detail.
    let message = support::last_user_message(&requests[1].body);
    assert_eq!(
        message.matches("exited with code 2").count(),
        1,
        "{message}"
    );
    assert_eq!(message.matches("| checking").count(), 1, "{message}");
    assert!(
        message.contains("- shell `echo checking; node -e 'process.exit(2)'`: failed\n"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(project.path.join("src/total.js")).expect("file"),
        FIXED
    );
    assert_eq!(code, Some(0), "the last round succeeded:\n{text}");
}

#[tokio::test]
async fn ever_different_failures_get_three_rounds_and_no_more() {
    let replies: Vec<Reply> = (0..6)
        .map(|n| {
            Reply::text(&artifact(&shell(&format!(
                "echo attempt {n}; exit {}",
                n + 1
            ))))
        })
        .collect();
    let standin = StandIn::start(Format::OpenAi, replies).await;
    let project = TempProject::new();
    let (code, text) = chat(&project, &standin, &["go"]).await;
    assert_eq!(
        standin.recorded().len(),
        4,
        "the turn and three rounds:\n{text}"
    );
    assert!(text.contains("fix round 3 of 3"), "{text}");
    assert_eq!(code, Some(1), "{text}");
}

#[tokio::test]
async fn the_same_failure_twice_stops_after_one_round() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&artifact(&shell("exit 7")))],
    )
    .await;
    let project = TempProject::new();
    let (_, text) = chat(&project, &standin, &["go"]).await;
    assert_eq!(standin.recorded().len(), 2, "{text}");
    assert!(
        text.contains("the same problems as the one before"),
        "{text}"
    );
}

#[tokio::test]
async fn auto_fix_zero_runs_no_round_and_a_crashing_dev_server_is_reported() {
    let crash = artifact(
        "<boltAction type=\"start\">\necho 'Error: Cannot find module express'; exit 3\n</boltAction>\n",
    );
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&crash),
            Reply::text(&crash),
            Reply::text("Fixed."),
        ],
    )
    .await;
    let project = TempProject::new();
    let (_, text) = chat(
        &project,
        &standin,
        &["--auto-fix", "0", "--no-wait", "serve"],
    )
    .await;
    assert_eq!(standin.recorded().len(), 1, "{text}");
    let (_, text) = chat(&project, &standin, &["--no-wait", "serve"]).await;
    let requests = standin.recorded();
    assert_eq!(requests.len(), 3, "{text}");
    let report = support::last_user_message(&requests[2].body);
    assert!(
        report.contains("the dev server `echo 'Error: Cannot find module express'; exit 3`"),
        "{report}"
    );
    assert!(
        report.contains("| Error: Cannot find module express"),
        "{report}"
    );
}

/// A dev server whose page answers 500 is reported, with what it answered.
#[tokio::test]
async fn a_preview_that_answers_500_is_reported() {
    let server = "python3 -c \"import http.server as h\nclass H(h.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(500); self.end_headers(); self.wfile.write(b'ReferenceError: total is not defined')\ns = h.HTTPServer(('127.0.0.1', 0), H); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"";
    let start = artifact(&format!(
        "<boltAction type=\"start\">\n{server}\n</boltAction>\n"
    ));
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&start), Reply::text("Fixed.")],
    )
    .await;
    let project = TempProject::new();
    let (_, text) = chat(&project, &standin, &["--no-wait", "serve"]).await;
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "{text}");
    let report = support::last_user_message(&requests[1].body);
    assert!(report.contains("answers HTTP 500"), "{report}");
    assert!(
        report.contains("| ReferenceError: total is not defined"),
        "{report}"
    );
}

/// In the editor: the syntax error is published as a diagnostic and cleared by the fix round; the chat
/// client learns of the round from `turnStart.fixRound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_gets_the_diagnostic_and_sees_it_cleared() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&artifact(&file("src/total.js", BROKEN))),
            Reply::text(&artifact(&file("src/total.js", FIXED))),
        ],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp(&project, &standin, json!({"savesEdits": true})).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "write total"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let target = uri(&project.path.join("src/total.js"));
    let published: Vec<serde_json::Value> = lsp
        .notifications("textDocument/publishDiagnostics")
        .into_iter()
        .filter(|params| params["uri"] == target.as_str())
        .collect();
    assert_eq!(published.len(), 2, "{published:?}");
    let first = &published[0]["diagnostics"][0];
    assert_eq!(first["source"], "openbolt");
    assert_eq!(first["severity"], 1);
    assert_eq!(first["range"]["start"]["line"], 1, "{first}");
    assert_eq!(published[1]["diagnostics"], json!([]), "cleared by the fix");
    let starts = lsp.notifications("openbolt/turnStart");
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[1]["fixRound"],
        json!({"round": 1, "rounds": 3, "problems": 1})
    );
    assert!(lsp.stop().await.success());
}

/// Stop during a fix round stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_a_fix_round_stops_it() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&artifact(&shell("exit 4"))),
            Reply::stalled_in_a_file(),
        ],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp(
        &project,
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let id = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "go", "sessionId": "fixing"}),
        )
        .await;
    let round = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/turnStart" && message["params"]["fixRound"]["round"] == 1
        })
        .await;
    let round_id = round["params"]["messageId"].clone();
    // The round's reply has begun (and stalls): stop it.
    lsp.wait_for(|message| {
        message["method"] == "openbolt/chatDelta" && message["params"]["messageId"] == round_id
    })
    .await;
    let aborted = lsp
        .request("openbolt/abort", json!({"sessionId": "fixing"}))
        .await;
    assert_eq!(aborted["result"], true, "{aborted}");
    let response = lsp.response(id).await;
    assert_eq!(response["result"]["status"], "aborted", "{response}");
    assert_eq!(standin.recorded().len(), 2);
    assert!(lsp.stop().await.success());
}

/// A client that sends diagnostics gets `openbolt/actionsDone` for a turn's files and answers with its
/// own errors (a type checker's, say); they are problems of the turn, fixed in a round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editors_own_errors_start_a_fix_round() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&artifact(&file(
                "src/total.js",
                "export const total = count + 1;\n",
            ))),
            Reply::text(&artifact(&file(
                "src/total.js",
                "export const total = 1;\n",
            ))),
        ],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp(&project, &standin, json!({"sendsDiagnostics": true})).await;
    let id = lsp
        .start_request("openbolt/chat", json!({"prompt": "total"}))
        .await;
    let done = lsp
        .wait_for(|message| message["method"] == "openbolt/actionsDone")
        .await;
    assert_eq!(done["params"]["files"], json!(["src/total.js"]));
    let message_id = done["params"]["messageId"].clone();
    lsp.notify(
        "openbolt/diagnostics",
        json!({"sessionId": done["params"]["sessionId"], "messageId": message_id, "files": [{"filePath": "src/total.js", "diagnostics": [{"line": 0, "message": "'count' is not defined", "source": "eslint"}]}]}),
    )
    .await;
    // The fix round's files are checked too: no new errors this time.
    let second = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/actionsDone"
                && message["params"]["messageId"] != message_id
        })
        .await;
    lsp.notify(
        "openbolt/diagnostics",
        json!({"sessionId": second["params"]["sessionId"], "messageId": second["params"]["messageId"], "files": []}),
    )
    .await;
    let response = lsp.response(id).await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2);
    let report = support::last_user_message(&requests[1].body);
    assert!(
        report.contains("src/total.js:1: 'count' is not defined (eslint)"),
        "{report}"
    );
    assert!(
        report.contains("1│ export const total = count + 1;"),
        "{report}"
    );
    assert!(lsp.stop().await.success());
}

/// Stop while the turn's dev server is being watched (between the turn and its fix round): no round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_between_the_turn_and_its_fix_round_prevents_the_round() {
    let server = artifact(
        "<boltAction type=\"start\">\nsleep 1; echo 'Error: boom'; sleep 30\n</boltAction>\n",
    );
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&server), Reply::text("Fixed.")],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp(
        &project,
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let id = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "serve", "sessionId": "watching"}),
        )
        .await;
    lsp.wait_for(|message| {
        message["method"] == "openbolt/actionUpdate"
            && message["params"]["type"] == "start"
            && message["params"]["status"] == "running"
    })
    .await;
    let aborted = lsp
        .request("openbolt/abort", json!({"sessionId": "watching"}))
        .await;
    assert_eq!(
        aborted["result"], true,
        "the turn can be stopped while it is watched: {aborted}"
    );
    let response = lsp.response(id).await;
    assert!(response.get("result").is_some(), "{response}");
    assert_eq!(standin.recorded().len(), 1, "no fix round after Stop");
    assert!(lsp.stop().await.success());
}

/// After its reply, a turn that started a dev server is checked before it ends, and says so
/// (`openbolt/checking`); a revert and a new prompt sent meanwhile wait for the turn instead of failing
/// ("already running a turn").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_and_a_prompt_during_the_checks_wait_for_the_turn() {
    let serve = |page: &str| {
        artifact(
            &(file(page, "<h1>hi</h1>\n")
                + "<boltAction type=\"start\">\necho serving; sleep 30\n</boltAction>\n"),
        )
    };
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&serve("one.html")),
            Reply::text(&serve("two.html")),
            Reply::text("Third."),
        ],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp(
        &project,
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let checking = |message: &serde_json::Value| message["method"] == "openbolt/checking";
    let prompt = |text: &str| json!({"prompt": text, "sessionId": "checked"});

    let first = lsp.start_request("openbolt/chat", prompt("one")).await;
    let check = lsp.wait_for(checking).await;
    assert_eq!(check["params"]["check"], "devServer", "{check}");
    assert_eq!(check["params"]["sessionId"], "checked", "{check}");
    assert!(
        check["params"]["text"]
            .as_str()
            .is_some_and(|text| text.contains("echo serving; sleep 30")),
        "{check}"
    );
    let revert = lsp
        .start_request("openbolt/revert", json!({"sessionId": "checked"}))
        .await;
    let turn = lsp.response(first).await;
    assert_eq!(turn["result"]["status"], "complete", "{turn}");
    let reverted = lsp.response(revert).await;
    assert_eq!(
        reverted["result"]["files"][0]["path"], "one.html",
        "the revert waited for the turn and undid it: {reverted}"
    );
    assert!(!project.path.join("one.html").exists());

    let second = lsp.start_request("openbolt/chat", prompt("two")).await;
    lsp.wait_for(|message| {
        checking(message) && message["params"]["messageId"] != check["params"]["messageId"]
    })
    .await;
    let third = lsp.start_request("openbolt/chat", prompt("three")).await;
    assert_eq!(lsp.response(second).await["result"]["status"], "complete");
    let turn = lsp.response(third).await;
    assert_eq!(
        turn["result"]["status"], "complete",
        "the prompt waited for the turn: {turn}"
    );
    assert_eq!(standin.recorded().len(), 3);
    assert!(lsp.stop().await.success());
}
