//! `openbolt lsp` end to end: the real binary, a scripted editor (`lsp_client.rs`) and the provider
//! stand-in.

mod lsp_client;
mod support;

use lsp_client::{Lsp, PATIENCE, uri};
use serde_json::{Value, json};
use std::path::Path;
use support::{Fault, Format, Reply, StandIn};

const KEY: &str = "sk-test-LSP-SECRET-7";

fn provider_env(standin: &StandIn) -> Vec<(&'static str, String)> {
    vec![
        ("ANTHROPIC_API_KEY", KEY.to_owned()),
        ("ANTHROPIC_BASE_URL", standin.url.clone()),
    ]
}

async fn start(workspace: &Path, standin: &StandIn, options: Value) -> Lsp {
    let mut env = provider_env(standin);
    env.push((
        "OPENBOLT_DATA_DIR",
        data_dir(workspace).display().to_string(),
    ));
    Lsp::start(workspace, &env, options, false).await
}

/// A project directory and, beside it, the directory the server keeps sessions in.
struct Workspace {
    _root: tempfile::TempDir,
    project: std::path::PathBuf,
}

impl Workspace {
    fn path(&self) -> &Path {
        &self.project
    }
}

fn data_dir(project: &Path) -> std::path::PathBuf {
    project
        .parent()
        .expect("the project has a parent")
        .join("data")
}

fn workspace() -> Workspace {
    let root = tempfile::tempdir().expect("temp workspace");
    let project = root.path().join("project");
    std::fs::create_dir(&project).expect("project");
    std::fs::write(project.join("README.md"), "# Project\n").expect("readme");
    Workspace {
        _root: root,
        project,
    }
}

/// A workspace, its stand-in answering `reply` once, and `openbolt lsp` on it running commands without
/// asking; `prompt` has been sent and its turn has completed.
async fn one_approved_turn(reply: &str, prompt: &str) -> (Workspace, StandIn, Lsp) {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    let workspace = workspace();
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": prompt}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    (workspace, standin, lsp)
}

/// The first terminal output holding `needle`.
async fn terminal_output_with(lsp: &mut Lsp, needle: &str) -> String {
    let output = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/terminalOutput"
                && message["params"]["data"]
                    .as_str()
                    .is_some_and(|data| data.contains(needle))
        })
        .await;
    output["params"]["data"].as_str().expect("data").to_owned()
}

fn updates_for(lsp: &Lsp, path: &str) -> Vec<String> {
    lsp.notifications("openbolt/actionUpdate")
        .iter()
        .filter(|update| update["filePath"] == path)
        .map(|update| update["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const APP: &str = "I'll add the page.\n\n<boltArtifact id=\"app\" title=\"App\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>new</h1>\n</boltAction>\n<boltAction type=\"file\" filePath=\"src/main.js\">\nconsole.log('main');\n</boltAction>\n</boltArtifact>\n\nOpen index.html.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_negotiates_the_encoding_and_offers_commands() {
    let workspace = workspace();
    for (utf8, expected) in [(true, "utf-8"), (false, "utf-16")] {
        let mut lsp = Lsp::spawn(lsp_client::NO_ENV);
        let encodings = if utf8 {
            json!(["utf-8", "utf-16"])
        } else {
            json!(["utf-16"])
        };
        let response = lsp
            .request(
                "initialize",
                json!({"processId": null, "rootUri": uri(workspace.path()), "capabilities": {"general": {"positionEncodings": encodings}}}),
            )
            .await;
        let capabilities = &response["result"]["capabilities"];
        assert_eq!(capabilities["positionEncoding"], expected);
        assert_eq!(capabilities["textDocumentSync"]["change"], 2);
        assert_eq!(
            capabilities["executeCommandProvider"]["commands"],
            json!(["openbolt.chat", "openbolt.abort"])
        );
        lsp.notify("initialized", json!({})).await;
        assert!(lsp.stop().await.success());
    }
}

/// Applies an edit to `text` the way an editor does, with UTF-16 positions.
fn apply_utf16(text: &str, start: (usize, usize), end: (usize, usize), insert: &str) -> String {
    let offset = |(line, character): (usize, usize)| -> usize {
        let mut at = 0;
        for _ in 0..line {
            let rest = &text[at..];
            let next = rest.find(['\n', '\r']).map_or(text.len(), |index| {
                let after = at + index;
                if text[after..].starts_with("\r\n") {
                    after + 2
                } else {
                    after + 1
                }
            });
            at = next.min(text.len());
        }
        let line_text = &text[at..];
        let line_end = line_text.find(['\n', '\r']).unwrap_or(line_text.len());
        let mut units = 0;
        for (index, character_here) in line_text[..line_end].char_indices() {
            if units >= character {
                return at + index;
            }
            units += character_here.len_utf16();
        }
        at + line_end
    };
    let (from, to) = (offset(start), offset(end));
    format!("{}{}{}", &text[..from], insert, &text[to..])
}

/// Where `byte` falls, as an LSP (line, UTF-16 character) position.
fn position_of(text: &str, byte: usize) -> (usize, usize) {
    let mut line = 0;
    let mut line_start = 0;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < byte {
        match bytes[index] {
            b'\r' if bytes.get(index + 1) == Some(&b'\n') && index + 1 < byte => {
                index += 2;
                line += 1;
                line_start = index;
                continue;
            }
            b'\r' | b'\n' => {
                line += 1;
                line_start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }
    (line, text[line_start..byte].encode_utf16().count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rapid_incremental_edits_leave_the_same_text() {
    let workspace = workspace();
    let mut lsp = Lsp::start(workspace.path(), lsp_client::NO_ENV, json!({}), false).await;
    let path = workspace.path().join("notes.md");
    let mut text = "start 🦀\r\nsecond 日本語\rthird\nend".to_owned();
    lsp.open_document(&path, &text).await;
    let pieces = ["a", "🦀", "日本", "\r\n", "\n", "é", "", "xyz", "\r"];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for version in 2..1002 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|index| text.is_char_boundary(*index))
            .collect();
        let first = boundaries[(state % boundaries.len() as u64) as usize];
        let second = boundaries[((state >> 20) % boundaries.len() as u64) as usize];
        // Never split a \r\n: editors do not.
        let inside_crlf = |at: usize| {
            at > 0 && text.as_bytes()[at - 1] == b'\r' && text.as_bytes().get(at) == Some(&b'\n')
        };
        if inside_crlf(first) || inside_crlf(second) {
            continue;
        }
        let (from, to) = (
            first.min(second),
            first.max(second).min(first.min(second) + 8),
        );
        let to = (to..=text.len())
            .find(|index| text.is_char_boundary(*index) && !inside_crlf(*index))
            .unwrap_or(text.len());
        let insert = pieces[((state >> 40) % pieces.len() as u64) as usize];
        let start = position_of(&text, from);
        let end = position_of(&text, to);
        let updated = apply_utf16(&text, start, end, insert);
        assert_eq!(
            updated,
            format!("{}{}{}", &text[..from], insert, &text[to..]),
            "the test's own model agrees"
        );
        text = updated;
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri(&path), "version": version}, "contentChanges": [{"range": {"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}}, "text": insert}]}),
        )
        .await;
    }
    let response = lsp
        .request("openbolt/document", json!({"uri": uri(&path)}))
        .await;
    assert_eq!(response["result"]["text"], text);
    assert!(response["result"]["version"].as_i64().expect("version") > 900);
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_streams_prose_and_applies_files_as_edits() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    std::fs::write(workspace.path().join("index.html"), "<h1>old</h1>\n").expect("old page");
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    // The page is open in the editor, saved: it must update there, and on disk.
    lsp.open_document(&workspace.path().join("index.html"), "<h1>old</h1>\n")
        .await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "make the page new"}))
        .await;
    let result = &response["result"];
    assert_eq!(result["status"], "complete", "{response}");
    assert_eq!(result["usage"]["outputTokens"], 321);
    let session = result["sessionId"].as_str().expect("session").to_owned();
    let message = result["messageId"].as_str().expect("message").to_owned();

    let prose: String = lsp
        .notifications("openbolt/chatDelta")
        .iter()
        .inspect(|delta| {
            assert_eq!(delta["sessionId"], session);
            assert_eq!(delta["messageId"], message);
        })
        .map(|delta| delta["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(prose, "I'll add the page.\n\n\n\nOpen index.html.");
    assert_eq!(
        updates_for(&lsp, "index.html"),
        ["pending", "running", "complete"]
    );
    assert_eq!(
        updates_for(&lsp, "src/main.js"),
        ["pending", "running", "complete"]
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("index.html")).expect("page"),
        "<h1>new</h1>\n"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("src/main.js")).expect("js"),
        "console.log('main');\n"
    );
    // The open document got a versioned edit; the closed file did not need one.
    let edits: Vec<Value> = lsp
        .seen
        .iter()
        .filter(|message| message["method"] == "workspace/applyEdit")
        .cloned()
        .collect();
    assert_eq!(edits.len(), 1, "{edits:#?}");
    assert_eq!(
        edits[0]["params"]["edit"]["documentChanges"][0]["textDocument"]["version"],
        1
    );
    assert_eq!(
        lsp.open[&uri(&workspace.path().join("index.html"))].1,
        "<h1>new</h1>\n"
    );
    // The editor's unsaved buffer was in the context the model received.
    let request = &standin.recorded()[0].body;
    assert!(request.to_string().contains("index.html"));
    assert!(!request.to_string().contains(KEY));

    // The session can be listed and loaded.
    let sessions = lsp.request("openbolt/sessions", Value::Null).await;
    assert_eq!(sessions["result"][0]["sessionId"], session);
    assert_eq!(sessions["result"][0]["title"], "make the page new");
    let loaded = lsp
        .request("openbolt/loadSession", json!({"sessionId": session}))
        .await;
    let messages = &loaded["result"]["messages"];
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(
        messages[1]["text"],
        "I'll add the page.\n\n\n\nOpen index.html."
    );
    assert_eq!(messages[1]["actions"][1]["status"], "complete");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsaved_changes_in_the_editor_are_never_overwritten() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    let page = workspace.path().join("index.html");
    std::fs::write(&page, "<h1>old</h1>\n").expect("old page");
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    lsp.open_document(&page, "<h1>old</h1>\n").await;
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&page), "version": 2}, "contentChanges": [{"text": "<h1>mine, unsaved</h1>\n"}]}),
    )
    .await;
    let response = lsp.request("openbolt/chat", json!({"prompt": "go"})).await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let failed = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .find(|update| update["filePath"] == "index.html" && update["status"] == "failed")
        .expect("the conflicting action failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unsaved changes"),
        "{failed}"
    );
    assert_eq!(
        std::fs::read_to_string(&page).expect("page"),
        "<h1>old</h1>\n"
    );
    assert!(!lsp.methods().contains(&"workspace/applyEdit".to_owned()));
    let document = lsp
        .request("openbolt/document", json!({"uri": uri(&page)}))
        .await;
    assert_eq!(document["result"]["text"], "<h1>mine, unsaved</h1>\n");
    // The other file of the artifact was still written.
    assert!(workspace.path().join("src/main.js").exists());
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_saves_edits_gets_every_file_as_a_workspace_edit() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"savesEdits": true, "handlesPreview": true}),
    )
    .await;
    let response = lsp.request("openbolt/chat", json!({"prompt": "go"})).await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let edits: Vec<Value> = lsp
        .seen
        .iter()
        .filter(|message| message["method"] == "workspace/applyEdit")
        .map(|message| message["params"]["edit"]["documentChanges"].clone())
        .collect();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0][0]["kind"], "create");
    assert_eq!(edits[0][1]["edits"][0]["newText"], "<h1>new</h1>\n");
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("index.html")).expect("page"),
        "<h1>new</h1>\n"
    );
    assert_eq!(
        updates_for(&lsp, "src/main.js").last().map(String::as_str),
        Some("complete")
    );
    assert!(lsp.stop().await.success());
}

const COMMANDS: &str = "Running it.\n<boltArtifact id=\"run\" title=\"Run\">\n<boltAction type=\"shell\">\necho \"hello from the terminal, key=[$ANTHROPIC_API_KEY]\"\n</boltAction>\n<boltAction type=\"shell\">\necho second\n</boltAction>\n</boltArtifact>\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_approved_through_the_editor_and_stream_to_terminals() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(COMMANDS)]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    lsp.approval = Some("Always for this session".to_owned());
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "run it"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let questions = lsp.questions();
    // "Always" answered the first question for the second command too.
    assert_eq!(questions.len(), 1, "{questions:#?}");
    let titles: Vec<&str> = questions[0]["params"]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|action| action["title"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(titles, ["Run", "Always for this session", "Skip"]);
    // Each answer names the action asking, for a panel that asks on the action's card.
    let session = response["result"]["sessionId"].clone();
    for item in questions[0]["params"]["actions"]
        .as_array()
        .expect("actions")
    {
        assert_eq!(item["sessionId"], session, "{item}");
        assert_eq!(item["messageId"], response["result"]["messageId"], "{item}");
        assert_eq!(item["actionId"], 0, "{item}");
        assert!(
            item["command"]
                .as_str()
                .is_some_and(|command| command.contains("echo")),
            "{item}"
        );
    }
    // While the question was open, the chat panel was told what the command waits for.
    let first_statuses: Vec<Value> = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .filter(|update| update["actionId"] == 0)
        .map(|update| update["status"].clone())
        .collect();
    assert_eq!(
        first_statuses,
        ["pending", "approval", "running", "complete"],
        "{first_statuses:?}"
    );
    let first = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .find(|update| update["actionId"] == 0 && update["status"] == "complete")
        .expect("the first command completed");
    assert_eq!(first["exitCode"], 0);
    let terminal = first["terminalId"].as_u64().expect("terminal id");
    let output: String = lsp
        .notifications("openbolt/terminalOutput")
        .iter()
        .filter(|output| output["terminalId"] == terminal)
        .map(|output| output["data"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(output, "hello from the terminal, key=[]\r\n");
    let exit = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/terminalExit"
                && message["params"]["terminalId"] == terminal
        })
        .await;
    assert_eq!(exit["params"]["exitCode"], 0);
    // An editor resizes the panel of a finished terminal too: nothing to do, and no error (no noise in
    // the server log); an unknown terminal is still an error.
    let resized = lsp
        .request(
            "openbolt/terminalResize",
            json!({"terminalId": terminal, "cols": 100, "rows": 30}),
        )
        .await;
    assert_eq!(resized["result"], Value::Null, "{resized}");
    assert!(resized.get("error").is_none(), "{resized}");
    let unknown = lsp
        .request(
            "openbolt/terminalResize",
            json!({"terminalId": 987654, "cols": 100, "rows": 30}),
        )
        .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    // The client shows work-done progress: each command is a progress that begins and ends.
    let token = format!("openbolt/terminal/{terminal}");
    let created = lsp
        .wait_for(|message| {
            message["method"] == "window/workDoneProgress/create"
                && message["params"]["token"] == token
        })
        .await;
    assert_eq!(created["params"]["token"], token);
    let end = lsp
        .wait_for(|message| {
            message["method"] == "$/progress"
                && message["params"]["token"] == token
                && message["params"]["value"]["kind"] == "end"
        })
        .await;
    assert_eq!(end["params"]["value"]["message"], "exit code 0");
    let listed = lsp.request("openbolt/terminals", Value::Null).await;
    assert_eq!(listed["result"].as_array().expect("terminals").len(), 2);
    assert_eq!(
        listed["result"][0]["tail"],
        "hello from the terminal, key=[]\r\n"
    );
    let all = serde_json::to_string(&lsp.seen).expect("json");
    assert!(!all.contains(KEY), "the key reached the client");
    assert!(lsp.stop().await.success());
}

const CAT: &str = "A program that reads what you type.\n<boltArtifact id=\"cat\" title=\"Cat\">\n<boltAction type=\"start\">\nexec cat\n</boltAction>\n</boltArtifact>\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystrokes_reach_the_terminal_in_the_order_they_were_typed() {
    let (_workspace, _standin, mut lsp) = one_approved_turn(CAT, "start cat").await;
    let running = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/actionUpdate" && message["params"]["status"] == "running"
        })
        .await;
    let terminal = running["params"]["terminalId"].clone();
    // One request per keystroke, all sent before any answer comes back, as an editor does when the
    // user types fast.
    let typed: String = (0..300)
        .map(|index| char::from(b'a' + (index % 26) as u8))
        .collect();
    let mut ids = Vec::new();
    for key in typed.chars() {
        ids.push(
            lsp.start_request(
                "openbolt/terminalInput",
                json!({"terminalId": terminal, "data": key.to_string()}),
            )
            .await,
        );
    }
    ids.push(
        lsp.start_request(
            "openbolt/terminalInput",
            json!({"terminalId": terminal, "data": "\n"}),
        )
        .await,
    );
    for id in ids {
        let answer = lsp.response(id).await;
        assert!(answer.get("error").is_none(), "{answer}");
    }
    // The PTY echoes the line, then cat prints it back: both exactly as typed.
    let expected = format!("{typed}\r\n{typed}\r\n");
    let output = lsp
        .wait_until(|lsp| {
            let output: String = lsp
                .notifications("openbolt/terminalOutput")
                .iter()
                .filter(|output| output["terminalId"] == terminal)
                .map(|output| output["data"].as_str().unwrap_or_default().to_owned())
                .collect();
            (output.len() >= expected.len()).then_some(output)
        })
        .await;
    assert_eq!(output, expected);
    // Closing the terminal stops the program; its action's end belongs to the message that started it.
    let killed = lsp
        .request("openbolt/terminalKill", json!({"terminalId": terminal}))
        .await;
    assert!(killed.get("error").is_none(), "{killed}");
    let ended = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/actionUpdate"
                && message["params"]["terminalId"] == terminal
                && message["params"]["status"] == "aborted"
        })
        .await;
    assert_eq!(ended["params"]["error"], "the server was stopped");
    assert_eq!(ended["params"]["messageId"], running["params"]["messageId"]);
    assert_eq!(ended["params"]["sessionId"], running["params"]["sessionId"]);
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_command_does_not_run_and_says_why() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(COMMANDS)]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    lsp.approval = Some("Skip".to_owned());
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "run it"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let finals: Vec<Value> = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .filter(|update| update["status"] == "skipped")
        .collect();
    assert_eq!(finals.len(), 2);
    assert_eq!(finals[0]["error"], "the user chose not to run it");
    assert!(lsp.notifications("openbolt/terminalOutput").is_empty());
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_chat_request_aborts_the_turn() {
    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::with_fault(APP, Fault::Stall { after: 100 }),
            Reply::text(APP),
        ],
    )
    .await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let id = lsp
        .start_request("openbolt/chat", json!({"prompt": "go"}))
        .await;
    // Stalled inside the first file: its action is open.
    lsp.wait_for(|message| {
        message["method"] == "openbolt/actionUpdate" && message["params"]["status"] == "pending"
    })
    .await;
    lsp.notify("$/cancelRequest", json!({"id": id})).await;
    let response = lsp.response(id).await;
    assert_eq!(response["error"]["code"], -32800, "{response}");
    let aborted = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/actionUpdate" && message["params"]["status"] == "aborted"
        })
        .await;
    assert_eq!(aborted["params"]["filePath"], "index.html");
    assert!(
        !workspace.path().join("index.html").exists(),
        "no half-written file"
    );
    // The session is free again.
    let session = aborted["params"]["sessionId"]
        .as_str()
        .expect("session")
        .to_owned();
    let again = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "again", "sessionId": session}),
        )
        .await;
    assert_eq!(again["result"]["status"], "complete", "{again}");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abort_request_stops_a_running_turn() {
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::with_fault(APP, Fault::Stall { after: 60 })],
    )
    .await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let id = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "go", "sessionId": "mine"}),
        )
        .await;
    lsp.wait_method("openbolt/chatDelta").await;
    let busy = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "meanwhile", "sessionId": "mine"}),
        )
        .await;
    assert!(
        busy["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already running"),
        "{busy}"
    );
    let abort = lsp
        .request("openbolt/abort", json!({"sessionId": "mine"}))
        .await;
    assert_eq!(abort["result"], true);
    let response = lsp.response(id).await;
    assert_eq!(response["result"]["status"], "aborted", "{response}");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_get_errors_and_the_server_keeps_running() {
    let workspace = workspace();
    let mut lsp = Lsp::spawn(lsp_client::NO_ENV);
    // Before initialize.
    let early = lsp.request("openbolt/sessions", Value::Null).await;
    assert_eq!(early["error"]["code"], -32002, "{early}");
    lsp.notify("textDocument/didOpen", json!({"nonsense": true}))
        .await;
    let _ = lsp
        .request(
            "initialize",
            json!({"processId": null, "rootUri": uri(workspace.path()), "capabilities": {}}),
        )
        .await;
    lsp.notify("initialized", json!({})).await;
    // Malformed JSON in a well-formed frame.
    let garbage = b"{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": ";
    let mut frame = format!("Content-Length: {}\r\n\r\n", garbage.len()).into_bytes();
    frame.extend_from_slice(garbage);
    lsp.send_raw(&frame).await;
    let unknown = lsp.request("openbolt/noSuchMethod", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let wrong = lsp.request("openbolt/chat", json!({"prompt": 42})).await;
    assert_eq!(wrong["error"]["code"], -32602, "{wrong}");
    let no_provider = lsp
        .request("openbolt/chat", json!({"prompt": "hello"}))
        .await;
    let message = no_provider["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ANTHROPIC_API_KEY"), "{no_provider}");
    // Bad settings: a clear message, the server stays.
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"openbolt": {"modle": "x"}}}),
    )
    .await;
    let shown = lsp.wait_method("window/showMessage").await;
    assert!(
        shown["params"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("modle"),
        "{shown}"
    );
    let parse_error = lsp.responses_with_code(-32700);
    assert!(parse_error, "no parse error answer for malformed JSON");
    let sessions = lsp.request("openbolt/sessions", Value::Null).await;
    assert_eq!(sessions["result"], json!([]));
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_going_away_stops_every_process() {
    let reply = "<boltArtifact id=\"s\" title=\"S\">\n<boltAction type=\"start\">\nsh -c 'trap \"\" HUP TERM; sleep 1000' & echo child=$!; exec sleep 1000\n</boltAction>\n</boltArtifact>\n";
    let (_workspace, _standin, mut lsp) = one_approved_turn(reply, "serve").await;
    let text = terminal_output_with(&mut lsp, "child=").await;
    let pid: String = text[text.find("child=").expect("pid") + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    assert!(alive(&pid));
    lsp.close_stdin();
    let status = tokio::time::timeout(PATIENCE, lsp.child.wait())
        .await
        .expect("exits on EOF")
        .expect("status");
    assert!(status.success(), "{status}");
    assert!(!alive(&pid), "a process outlived the server");
}

/// From SIGTERM on, the server starts nothing new: a request sent after it gets "shutting down" — or no
/// answer, when the process is gone first — never a result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_server_answers_nothing_new() {
    let standin = StandIn::start(Format::Anthropic, vec![]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let pid = lsp.child.id().expect("a pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    lsp.wait_for(|message| {
        message["method"] == "window/logMessage"
            && message["params"]["message"]
                .as_str()
                .is_some_and(|text| text.contains("shutting down"))
    })
    .await;
    let late = lsp
        .try_start_request("openbolt/sessions", Value::Null)
        .await;
    let rest = lsp.rest().await;
    if let Some(id) = late
        && let Some(answer) = rest.iter().find(|message| message["id"] == id)
    {
        assert_eq!(answer["error"]["code"], -32015, "{answer}");
        assert_eq!(answer["error"]["message"], "the server is shutting down");
    }
    tokio::time::timeout(PATIENCE, lsp.child.wait())
        .await
        .expect("exits")
        .expect("status");
}

/// The server's work runs below its protocol thread, which answers the editor first; a command the
/// user approves keeps the normal priority (the editor's, here this test's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_thread_comes_first_and_commands_keep_the_normal_priority() {
    let reply = "<boltArtifact id=\"n\" title=\"N\">\n<boltAction type=\"shell\">\necho nice=$(nice)\n</boltAction>\n</boltArtifact>\n";
    let (_workspace, _standin, mut lsp) = one_approved_turn(reply, "how nice").await;
    let normal = String::from_utf8(
        std::process::Command::new("nice")
            .output()
            .expect("nice runs")
            .stdout,
    )
    .expect("a number")
    .trim()
    .to_owned();
    let data = terminal_output_with(&mut lsp, "nice=").await;
    assert!(
        data.contains(&format!("nice={normal}\r")),
        "the command ran at {data:?}, the editor at {normal}"
    );
    // The threads' nice values (field 19 of /proc/…/stat).
    let pid = lsp.child.id().expect("the server runs");
    let threads: Vec<(String, i64)> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("its threads")
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
            let nice = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .nth(16)?
                .parse()
                .ok()?;
            Some((name, nice))
        })
        .collect();
    let nice_of = |wanted: &str| {
        threads
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, nice)| *nice)
    };
    let normal: i64 = normal.parse().expect("a number");
    assert_eq!(nice_of("openbolt-lsp"), Some(normal), "{threads:?}");
    assert!(
        nice_of("tokio-rt-worker").is_some_and(|nice| nice > normal),
        "{threads:?}"
    );
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_lsp_client_can_chat_through_execute_command() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let response = lsp
        .request(
            "workspace/executeCommand",
            json!({"command": "openbolt.chat", "arguments": ["make the page"]}),
        )
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    assert!(workspace.path().join("index.html").exists());
    // The reply's prose is in the log (beside other lines, such as whether commands are sandboxed).
    let logged = lsp
        .wait_for(|message| {
            message["method"] == "window/logMessage"
                && message["params"]["message"]
                    .as_str()
                    .is_some_and(|text| text.contains("I'll add the page."))
        })
        .await;
    assert_eq!(logged["params"]["type"], 3, "{logged}");
    let shown = lsp.wait_method("window/showMessage").await;
    assert_eq!(shown["params"]["message"], "OpenBolt: done");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_server_is_previewed_and_an_abort_leaves_no_process() {
    let reply = "Starting.\n<boltArtifact id=\"srv\" title=\"Server\">\n<boltAction type=\"start\">\necho server-pid=$$; exec python3 -c \"import http.server as h; s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"\n</boltAction>\n<boltAction type=\"file\" filePath=\"late.txt\">\nthis file is never finished\n</boltAction>\n</boltArtifact>\n";
    let stall = reply.find("never finished").expect("marker");
    let standin = StandIn::start(
        Format::Anthropic,
        vec![Reply::with_fault(reply, Fault::Stall { after: stall })],
    )
    .await;
    let workspace = workspace();
    std::fs::write(workspace.path().join("index.html"), "previewed\n").expect("page");
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let id = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "serve", "sessionId": "srv"}),
        )
        .await;
    let preview = lsp.wait_method("openbolt/preview").await;
    let url = preview["params"]["url"].as_str().expect("url").to_owned();
    openbolt::install_crypto_provider();
    let page = reqwest::get(&url)
        .await
        .expect("the preview answers")
        .text()
        .await
        .expect("body");
    assert_eq!(page, "previewed\n");
    // A plain client (no handlesPreview) that can show documents is asked to open it.
    let shown = lsp.wait_method("window/showDocument").await;
    assert_eq!(shown["params"]["uri"], url);
    assert_eq!(shown["params"]["external"], true);
    let output = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/terminalOutput"
                && message["params"]["data"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("server-pid=")
        })
        .await;
    let text = output["params"]["data"].as_str().expect("data").to_owned();
    let pid: String = text[text.find("server-pid=").expect("pid") + 11..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    assert!(alive(&pid));
    let abort = lsp
        .request("openbolt/abort", json!({"sessionId": "srv"}))
        .await;
    assert_eq!(abort["result"], true);
    let response = lsp.response(id).await;
    assert_eq!(response["result"]["status"], "aborted", "{response}");
    assert!(!alive(&pid), "the dev server outlived the aborted turn");
    assert!(
        !workspace.path().join("late.txt").exists(),
        "no half-written file"
    );
    let start_final = lsp
        .wait_for(|message| {
            message["method"] == "openbolt/actionUpdate"
                && message["params"]["type"] == "start"
                && message["params"]["status"] == "aborted"
        })
        .await;
    assert_eq!(start_final["params"]["sessionId"], "srv");
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_the_server_and_a_turn_reverts_through_the_editor() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    let page = workspace.path().join("index.html");
    std::fs::write(&page, "<h1>old</h1>\n").expect("old page");
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    lsp.open_document(&page, "<h1>old</h1>\n").await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "make the page new"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let session = response["result"]["sessionId"]
        .as_str()
        .expect("session")
        .to_owned();
    assert!(lsp.stop().await.success());
    // The store was closed: SQLite folded its write-ahead log back and removed it.
    let wal = data_dir(workspace.path()).join("sessions.sqlite3-wal");
    assert!(
        data_dir(workspace.path()).join("sessions.sqlite3").exists() && !wal.exists(),
        "{} is left after the server exited",
        wal.display()
    );

    // A new server process (the editor was restarted) lists and loads it.
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    lsp.open_document(&page, "<h1>new</h1>\n").await;
    let sessions = lsp.request("openbolt/sessions", Value::Null).await;
    assert_eq!(sessions["result"][0]["sessionId"], session, "{sessions}");
    assert_eq!(sessions["result"][0]["title"], "make the page new");
    let loaded = lsp
        .request("openbolt/loadSession", json!({"sessionId": session}))
        .await;
    let messages = &loaded["result"]["messages"];
    assert_eq!(messages[0]["text"], "make the page new", "{loaded}");
    assert_eq!(
        messages[1]["text"],
        "I'll add the page.\n\n\n\nOpen index.html."
    );
    assert_eq!(messages[1]["actions"][0]["status"], "complete");

    // Revert: the open page goes back through a workspace edit (undoable there), the new file goes.
    let reverted = lsp
        .request("openbolt/revert", json!({"sessionId": session}))
        .await;
    let files = reverted["result"]["files"]
        .as_array()
        .expect("files")
        .clone();
    let status = |path: &str| {
        files
            .iter()
            .find(|file| file["path"] == path)
            .map(|file| file["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        status("index.html").as_deref(),
        Some("restored"),
        "{reverted}"
    );
    assert_eq!(
        status("src/main.js").as_deref(),
        Some("deleted"),
        "{reverted}"
    );
    assert_eq!(
        std::fs::read_to_string(&page).expect("page"),
        "<h1>old</h1>\n"
    );
    assert_eq!(
        lsp.open[&uri(&page)].1,
        "<h1>old</h1>\n",
        "the editor's document was edited"
    );
    assert!(!workspace.path().join("src/main.js").exists());
    let again = lsp
        .request("openbolt/loadSession", json!({"sessionId": session}))
        .await;
    assert_eq!(again["result"]["messages"][1]["reverted"], true, "{again}");
    assert!(lsp.stop().await.success());
}

/// A session unloaded to keep memory level (after 32 newer ones) and loaded again keeps the user's
/// "Always for this session": its next command runs without asking, as in a session that stayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_loaded_again_keeps_its_always_answer() {
    let command = |text: &str| {
        format!(
            "Running.\n<boltArtifact id=\"c\" title=\"C\">\n<boltAction type=\"shell\">\necho {text}\n</boltAction>\n</boltArtifact>\n"
        )
    };
    let mut replies = vec![Reply::text(&command("one"))];
    replies.extend((0..33).map(|_| Reply::text("Fine.")));
    replies.push(Reply::text(&command("two")));
    let standin = StandIn::start(Format::Anthropic, replies).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let turn = |session: &str, prompt: &str| json!({"prompt": prompt, "sessionId": session});
    lsp.approval = Some("Always for this session".to_owned());
    let first = lsp.request("openbolt/chat", turn("kept", "one")).await;
    assert_eq!(first["result"]["status"], "complete", "{first}");
    let asked = lsp.notifications("window/showMessageRequest").len();
    assert_eq!(asked, 1, "the first command was asked about");
    for other in 0..33 {
        let response = lsp
            .request("openbolt/chat", turn(&format!("other-{other}"), "hello"))
            .await;
        assert_eq!(response["result"]["status"], "complete", "{response}");
    }
    // Asked again, the question would be dismissed and the command skipped.
    lsp.approval = None;
    let again = lsp.request("openbolt/chat", turn("kept", "two")).await;
    assert_eq!(again["result"]["status"], "complete", "{again}");
    let update = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .rfind(|update| update["type"] == "shell")
        .expect("the second command's update");
    assert_eq!(update["status"], "complete", "{update}");
    assert_eq!(
        lsp.notifications("window/showMessageRequest").len(),
        asked,
        "the second command was not asked about"
    );
    assert!(lsp.stop().await.success());
}

/// What the server process holds: open file descriptors, its own threads (the PTY readers and
/// waiters, the store's writer, the main thread — not tokio's, whose blocking pool grows and shrinks on
/// its own up to its limit), resident memory in KiB.
fn holdings(lsp: &lsp_client::Lsp) -> (usize, usize, usize) {
    let pid = lsp.child.id().expect("the server runs");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("its fds")
        .count();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("its threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() != "tokio-rt-worker")
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<usize>().ok())
        .expect("VmRSS");
    (fds, threads, rss)
}

const ONE_COMMAND: &str = "Checking.\n<boltArtifact id=\"check\" title=\"Check\">\n<boltAction type=\"shell\">\necho soak\n</boltAction>\n</boltArtifact>\n";

/// A long editor session: many turns over several sessions, each running a command. File descriptors
/// and threads stay level (they grew by two descriptors per command until EMFILE), and every turn
/// completes. `OPENBOLT_SOAK_TURNS` sets the count (the closing figures use 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_session_holds_its_resources_level() {
    let turns: usize = std::env::var("OPENBOLT_SOAK_TURNS")
        .ok()
        .and_then(|turns| turns.parse().ok())
        .unwrap_or(120);
    let standin = StandIn::start(Format::Anthropic, vec![Reply::bulk(ONE_COMMAND, 64)]).await;
    let workspace = workspace();
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    let mut level = None;
    for turn in 0..turns {
        let session = format!("soak-{}", turn % 4);
        let response = lsp
            .request(
                "openbolt/chat",
                json!({"prompt": format!("check {turn}"), "sessionId": session}),
            )
            .await;
        assert_eq!(
            response["result"]["status"], "complete",
            "turn {turn}: {response}"
        );
        if turn == 19 {
            level = Some(holdings(&lsp));
        }
        // Keep the record of what was seen from growing with the soak itself.
        lsp.seen.clear();
    }
    let (fds, threads, rss) = holdings(&lsp);
    let (level_fds, level_threads, level_rss) = level.expect("20 turns ran");
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "soak: {turns} turns; fds {level_fds} -> {fds}, threads {level_threads} -> {threads}, RSS {level_rss} -> {rss} KiB"
        );
    }
    assert!(
        fds <= level_fds + 8,
        "open file descriptors grew from {level_fds} to {fds}"
    );
    assert!(
        threads <= level_threads + 2,
        "threads grew from {level_threads} to {threads}"
    );
    assert!(lsp.stop().await.success());
}

/// GNU Emacs's eglot sends empty settings right after `initialized`: what `initializationOptions` gave
/// stays (here: commands run without asking).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_say_nothing_keep_what_the_client_gave() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(ONE_COMMAND)]).await;
    let workspace = workspace();
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"approval": {"autoApprove": true}}),
    )
    .await;
    for empty in [
        json!({}),
        Value::Null,
        json!({"openbolt": {}}),
        json!({"openbolt": null}),
    ] {
        lsp.notify(
            "workspace/didChangeConfiguration",
            json!({"settings": empty}),
        )
        .await;
    }
    lsp.approval = None;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "check"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    assert!(
        !lsp.methods()
            .iter()
            .any(|method| method == "window/showMessageRequest"),
        "the user was asked: autoApprove was dropped"
    );
    let statuses = lsp
        .notifications("openbolt/actionUpdate")
        .iter()
        .map(|update| update["status"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("complete"),
        "{statuses:?}"
    );
    assert!(lsp.stop().await.success());
}

/// Methods that take no params answer whether the client sends none, `null`, `{}`, `[]` or `[null]`
/// (VS Code's client sent `[null]` and "Open Session…" failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_without_params_take_any_empty_params() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(APP)]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    for method in ["openbolt/sessions", "openbolt/terminals"] {
        for params in [
            None,
            Some(Value::Null),
            Some(json!({})),
            Some(json!([])),
            Some(json!([null])),
        ] {
            let mut message = json!({"jsonrpc": "2.0", "id": 900, "method": method});
            if let Some(params) = &params {
                message["params"] = params.clone();
            }
            lsp.send(&message).await;
            let response = lsp.response(900).await;
            assert!(
                response["result"].is_array(),
                "{method} with params {params:?}: {response}"
            );
        }
    }
    assert!(lsp.stop().await.success());
}

/// A binary file the model has never seen (it cannot: binary files are not shown or read) is not replaced
/// by a file action: the action fails saying why, and the bytes stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_file_the_model_never_saw_is_not_overwritten() {
    const OVERWRITE: &str = "Replacing the logo.\n<boltArtifact id=\"logo\" title=\"Logo\">\n<boltAction type=\"file\" filePath=\"logo.bin\">\nnot a logo\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(OVERWRITE)]).await;
    let workspace = workspace();
    let logo = workspace.path().join("logo.bin");
    let bytes: Vec<u8> = vec![
        0x89, b'P', b'N', b'G', 0x00, 0x9F, 0x92, 0x96, 0xFF, 0xFE, b'\n',
    ];
    std::fs::write(&logo, &bytes).expect("logo");
    let mut lsp = start(workspace.path(), &standin, json!({"savesEdits": true})).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "new logo"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let failed = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .find(|update| update["filePath"] == "logo.bin" && update["status"] == "failed")
        .expect("the file action failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|error| error.contains("you have not seen its current content")),
        "{failed}"
    );
    assert_eq!(std::fs::read(&logo).expect("logo"), bytes);
    assert!(lsp.stop().await.success());
}

/// A client may name a new session itself, and learns the ids of a turn before its first delta; Stop
/// then stops that session's turn only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_names_its_session_and_stops_only_that_turn() {
    let standin = StandIn::start(Format::Anthropic, vec![Reply::stalled_in_a_file()]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let first = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "one", "sessionId": "panel-1"}),
        )
        .await;
    let second = lsp
        .start_request(
            "openbolt/chat",
            json!({"prompt": "two", "sessionId": "panel-2"}),
        )
        .await;
    // Both stream their prose; each turn announced itself before it.
    lsp.wait_until(|lsp| {
        let deltas = lsp.notifications("openbolt/chatDelta");
        let stalled = |session: &str| {
            deltas
                .iter()
                .filter(|delta| delta["sessionId"] == session)
                .map(|delta| delta["text"].as_str().unwrap_or_default())
                .collect::<String>()
                .contains("takes a while")
        };
        (stalled("panel-1") && stalled("panel-2")).then_some(())
    })
    .await;
    for session in ["panel-1", "panel-2"] {
        let start = lsp
            .seen
            .iter()
            .position(|message| {
                message["method"] == "openbolt/turnStart"
                    && message["params"]["sessionId"] == session
            })
            .expect("turnStart");
        let delta = lsp
            .seen
            .iter()
            .position(|message| {
                message["method"] == "openbolt/chatDelta"
                    && message["params"]["sessionId"] == session
            })
            .expect("a delta");
        assert!(start < delta, "{session}: turnStart came after a delta");
    }
    // The same new id twice at once: one turn, the other is told the session is busy.
    let busy = lsp
        .request(
            "openbolt/chat",
            json!({"prompt": "again", "sessionId": "panel-1"}),
        )
        .await;
    assert_eq!(busy["error"]["code"], -32012, "{busy}");
    let stopped = lsp
        .request("openbolt/abort", json!({"sessionId": "panel-1"}))
        .await;
    assert_eq!(stopped["result"], true, "{stopped}");
    let first = lsp.response(first).await;
    assert_eq!(first["result"]["status"], "aborted", "{first}");
    assert_eq!(first["result"]["sessionId"], "panel-1");
    let sessions = lsp.request("openbolt/sessions", Value::Null).await;
    let busy: Vec<&Value> = sessions["result"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|session| session["busy"] == true)
        .collect();
    assert_eq!(busy.len(), 1, "{sessions}");
    assert_eq!(busy[0]["sessionId"], "panel-2");
    let stopped = lsp
        .request("openbolt/abort", json!({"sessionId": "panel-2"}))
        .await;
    assert_eq!(stopped["result"], true);
    let second = lsp.response(second).await;
    assert_eq!(second["result"]["status"], "aborted", "{second}");
    assert!(!workspace.path().join("slow.txt").exists());
    assert!(lsp.stop().await.success());
}

/// Commands started through the editor run in the sandbox too: the `sandbox` setting applies, the log
/// says so, and a write outside the workspace fails with the reason in the action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_commands_run_in_the_sandbox() {
    let outside = tempfile::tempdir().expect("outside");
    let target = outside.path().join("escaped.txt");
    // The server's temp directory (which sandboxed commands may write) is one of its own.
    let temp = tempfile::tempdir().expect("temp");
    let reply = format!(
        "Writing.\n<boltArtifact id=\"w\" title=\"W\">\n<boltAction type=\"shell\">\necho inside > inside.txt && echo out > {}\n</boltAction>\n</boltArtifact>\n",
        target.display()
    );
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(&reply)]).await;
    let workspace = workspace();
    let data = data_dir(workspace.path()).display().to_string();
    let temp_dir = temp.path().display().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("ANTHROPIC_API_KEY", KEY),
        ("ANTHROPIC_BASE_URL", standin.url.as_str()),
        ("OPENBOLT_DATA_DIR", data.as_str()),
    ];
    env.push(("TMPDIR", temp_dir.as_str()));
    let mut lsp = Lsp::start(
        workspace.path(),
        &env,
        json!({"sandbox": "required", "approval": {"autoApprove": true}}),
        false,
    )
    .await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "write"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let failed = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .find(|update| update["status"] == "failed")
        .expect("the command failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|error| error.contains("sandboxWritable")),
        "{failed}"
    );
    assert!(workspace.path().join("inside.txt").exists());
    assert!(!target.exists(), "the command wrote outside the workspace");
    let logged = lsp.seen.iter().any(|message| {
        message["method"] == "window/logMessage"
            && message["params"]["message"]
                .as_str()
                .is_some_and(|text| text.contains("commands run in a sandbox"))
    });
    assert!(logged, "the log does not say commands are sandboxed");
    assert!(lsp.stop().await.success());
}

/// Where each artifact sits in the prose: on every action update live, in the session loaded from the
/// running server and from a new one — in bytes and UTF-16 code units, which differ once the prose has
/// non-ASCII text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_says_where_it_sits_in_the_prose() {
    const ORDERED: &str = "Voilà — the page first.\n\n<boltArtifact id=\"a\" title=\"A\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>é</h1>\n</boltAction>\n<boltAction type=\"file\" filePath=\"app.js\">\nlet x = 1;\n</boltAction>\n</boltArtifact>\n\nThen the script 🚀.\n\n<boltArtifact id=\"b\" title=\"B\">\n<boltAction type=\"file\" filePath=\"more.js\">\nlet y = 2;\n</boltAction>\n</boltArtifact>\n\nDone.";
    let first = "Voilà — the page first.\n\n";
    let second = format!("{first}\n\nThen the script 🚀.\n\n");
    let at = |prose: &str| json!({"utf8": prose.len(), "utf16": prose.encode_utf16().count()});
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(ORDERED)]).await;
    let workspace = workspace();
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "build it in order"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let session = response["result"]["sessionId"]
        .as_str()
        .expect("session")
        .to_owned();
    let expected = [
        ("index.html", at(first)),
        ("app.js", at(first)),
        ("more.js", at(&second)),
    ];
    let updates = lsp.notifications("openbolt/actionUpdate");
    for (path, offset) in &expected {
        let of_file: Vec<&Value> = updates
            .iter()
            .filter(|update| update["filePath"] == *path)
            .collect();
        assert!(of_file.len() >= 2, "{path}: {updates:?}");
        for update in of_file {
            assert_eq!(&update["proseOffset"], offset, "{path}: {update}");
        }
    }
    let check = |loaded: &Value| {
        let reply = &loaded["result"]["messages"][1];
        assert_eq!(
            reply["text"],
            format!("{second}\n\nDone."),
            "the stored prose: {loaded}"
        );
        for (index, (path, offset)) in expected.iter().enumerate() {
            assert_eq!(reply["actions"][index]["filePath"], *path, "{loaded}");
            assert_eq!(&reply["actions"][index]["proseOffset"], offset, "{loaded}");
        }
    };
    check(
        &lsp.request("openbolt/loadSession", json!({"sessionId": session}))
            .await,
    );
    assert!(lsp.stop().await.success());
    let mut lsp = start(workspace.path(), &standin, json!({})).await;
    check(
        &lsp.request("openbolt/loadSession", json!({"sessionId": session}))
            .await,
    );
    assert!(lsp.stop().await.success());
}

/// A `.env` secret a command prints reaches neither the editor (terminal output, action updates) nor the
/// store: `[redacted]` stands in its place; `PORT=3000` is no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_a_command_prints_reaches_neither_the_editor_nor_the_store() {
    let secret = "sk_live_lsp_secret_42";
    let reply = "Checking.\n<boltArtifact id=\"e\" title=\"Env\">\n<boltAction type=\"shell\">\ncat .env; exit 1\n</boltAction>\n</boltArtifact>\n";
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(reply)]).await;
    let workspace = workspace();
    std::fs::write(
        workspace.path().join(".env"),
        format!("STRIPE_SECRET_KEY={secret}\nPORT=3000\n"),
    )
    .expect(".env");
    let mut lsp = start(
        workspace.path(),
        &standin,
        json!({"approval": {"autoApprove": true}, "autoFix": 0}),
    )
    .await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "show the env"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let output = terminal_output_with(&mut lsp, "PORT=3000").await;
    assert!(output.contains("STRIPE_SECRET_KEY=[redacted]"), "{output}");
    assert!(
        !lsp.everything_seen().contains(secret),
        "the secret reached the editor"
    );
    lsp.stop().await;
    let stored = store_text(&workspace);
    assert!(
        stored.contains("[redacted]"),
        "the failed command's output is stored"
    );
    assert!(!stored.contains(secret), "the secret reached the store");
}

/// What the session store holds on disk, as text.
fn store_text(workspace: &Workspace) -> String {
    std::fs::read_dir(data_dir(workspace.path()))
        .expect("the store")
        .flatten()
        .map(|entry| {
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned()
        })
        .collect()
}
