//! Working on a real project, end to end through `openbolt chat` and `openbolt lsp` with the provider
//! stand-in: the project map in the context, files read on demand within the turn, `@path`, and a
//! context that fits the model's window (learned from the server, retried smaller when refused).

mod lsp_client;
mod support;

use lsp_client::{Lsp, uri};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{Fault, Format, Reply, StandIn};

/// A project with a big file (over the 16 KiB sent whole), a secret, and callers of its function.
struct Project {
    _root: tempfile::TempDir,
    path: PathBuf,
}

impl Project {
    fn new() -> Project {
        let root = tempfile::tempdir().expect("temp dir");
        let path = root.path().join("project");
        let write = |name: &str, text: &str| {
            let file = path.join(name);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, text).expect("write");
        };
        let mut ledger = String::from(
            "import { roundCents } from './money.js';\n\nexport function computeInvoiceTotals(invoice) {\n  let total = 0;\n  for (const item of invoice.items) {\n    total += item.price * item.qty;\n  }\n  return roundCents(total);\n}\n",
        );
        for n in 0..600 {
            ledger.push_str(&format!(
                "\nexport function helper{n}(value) {{\n  return value + {n};\n}}\n"
            ));
        }
        write("src/ledger.js", &ledger);
        write(
            "src/money.js",
            "export function roundCents(value) {\n  return Math.round(value * 100) / 100;\n}\n",
        );
        write(
            "src/checkout.js",
            "import { computeInvoiceTotals } from './ledger.js';\n\nexport function checkout(cart) {\n  return computeInvoiceTotals(cart);\n}\n",
        );
        write(".env", "STRIPE_KEY=sk-live-do-not-send\n");
        std::fs::write(root.path().join("outside.txt"), "outside the workspace\n")
            .expect("outside");
        Project { _root: root, path }
    }

    fn ledger_lines(&self) -> usize {
        std::fs::read_to_string(self.path.join("src/ledger.js"))
            .expect("ledger")
            .lines()
            .count()
    }

    fn data_dir(&self) -> PathBuf {
        self.path.parent().expect("parent").join("data")
    }
}

async fn chat(standin: &StandIn, project: &Project, arguments: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"));
    command
        .arg("chat")
        .arg("--workspace")
        .arg(&project.path)
        .args(arguments)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &project.path)
        .env("OPENBOLT_DATA_DIR", project.data_dir())
        .env("OPENAI_BASE_URL", &standin.url)
        .env("OPENBOLT_MODEL", "local-model")
        .stdin(std::process::Stdio::null());
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("openbolt chat finishes within a minute")
        .expect("openbolt runs")
}

fn stdout(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const READS: &str = "Let me read the code first.\n<boltArtifact id=\"read\" title=\"Read\">\n<boltAction type=\"read\" filePath=\"src/ledger.js\"/>\n<boltAction type=\"read\" filePath=\"src/ledger.js\" lines=\"3-9\"/>\n<boltAction type=\"read\" filePath=\".env\"/>\n<boltAction type=\"read\" filePath=\"../outside.txt\"/>\n</boltArtifact>";

const DONE: &str = "I have read it: computeInvoiceTotals sums the items.";

#[tokio::test]
async fn a_read_is_answered_within_the_turn_and_secrets_and_escapes_are_refused() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(READS), Reply::text(DONE)]).await;
    let project = Project::new();
    let output = chat(
        &standin,
        &project,
        &[
            "how are invoice totals computed?",
            "--context-tokens",
            "200000",
            "--auto-fix",
            "0",
        ],
    )
    .await;
    let text = stdout(&output);
    let lines = project.ledger_lines();

    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "one turn, two requests:\n{text}");
    // The big file is mapped, not sent whole, in the first request.
    let first = support::last_user_message(&requests[0].body);
    assert!(first.contains("<map>"), "{first}");
    assert!(
        first.contains("│ export function computeInvoiceTotals(invoice) {"),
        "{first}"
    );
    assert!(
        !first.contains("return value + 599;"),
        "the big file is not sent whole"
    );
    // The second carries the file (numbered), the range, and the refusals.
    let second = &requests[1].body;
    let answer = support::last_user_message(second);
    assert!(
        answer.contains(&format!("<file path=\"src/ledger.js\" lines=\"{lines}\">")),
        "{answer}"
    );
    assert!(
        answer.contains("return value + 599;"),
        "the whole file is read"
    );
    assert!(
        answer.contains(&format!(
            "<file path=\"src/ledger.js\" shown=\"3-9\" of=\"{lines}\">"
        )),
        "{answer}"
    );
    assert!(
        answer.contains("3│ export function computeInvoiceTotals"),
        "{answer}"
    );
    assert!(
        answer.contains("<file path=\".env\" refused=\"refused: .env holds secrets"),
        "{answer}"
    );
    assert!(
        answer.contains(
            "<file path=\"../outside.txt\" refused=\"refused: ../outside.txt leaves the workspace"
        ),
        "{answer}"
    );
    // The model's own read request precedes the answer in the conversation.
    let messages = second["messages"].as_array().expect("messages");
    assert_eq!(messages[messages.len() - 2]["role"], "assistant");
    for request in &requests {
        let body = request.body.to_string();
        assert!(!body.contains("sk-live-do-not-send") && !body.contains("outside the workspace"));
    }

    assert!(
        output.status.code() == Some(1),
        "a refused read is a failed action:\n{text}"
    );
    assert!(
        text.contains(&format!("✓ read src/ledger.js ({lines} lines)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("✓ read src/ledger.js (lines 3-9 of {lines})")),
        "{text}"
    );
    assert!(text.contains("✗ read .env — refused"), "{text}");
    assert!(text.contains("✗ read ../outside.txt — refused"), "{text}");
    assert!(text.contains(DONE), "{text}");
}

#[tokio::test]
async fn a_model_that_keeps_looking_is_told_to_go_on_and_the_turn_ends_without_failing() {
    let look_again = "<boltArtifact id=\"r\" title=\"R\"><boltAction type=\"search\" pattern=\"roundCents\"/><boltAction type=\"read\" filePath=\"src/money.js\"/></boltArtifact>";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(look_again)]).await;
    let project = Project::new();
    let output = chat(&standin, &project, &["go", "--auto-fix", "0"]).await;
    let text = stdout(&output);
    let requests = standin.recorded();
    assert_eq!(
        requests.len(),
        9,
        "the request and eight look-up rounds:\n{text}"
    );
    let last = support::last_user_message(&requests[8].body);
    assert!(
        last.contains("That was the last look-up this turn allows"),
        "{last}"
    );
    let before = support::last_user_message(&requests[7].body);
    assert!(before.contains("Look up more only if you must"), "{before}");
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("the model looked things up in 8 rounds, the most a turn allows"),
        "{text}"
    );
}

/// A scripted session on the fixture project: the model searches for a name, reads the file the
/// search found, and edits it — all within one turn.
#[tokio::test]
async fn search_then_read_then_edit_within_one_turn() {
    let search = "I will find where cents are rounded.\n<boltArtifact id=\"look\" title=\"Look\">\n<boltAction type=\"search\" pattern=\"roundcents(\"/>\n<boltAction type=\"search\" pattern=\"STRIPE\"/>\n<boltAction type=\"search\" pattern=\"round\" path=\"../**\"/>\n<boltAction type=\"search\" pattern=\"Math\\.(round|floor)\\(\" regex=\"true\" path=\"src/*.js\"/>\n<boltAction type=\"search\" pattern=\"(unclosed\" regex=\"true\"/>\n<boltAction type=\"search\" path=\"src/*\"/>\n</boltArtifact>";
    let read = "<boltArtifact id=\"look\" title=\"Look\"><boltAction type=\"read\" filePath=\"src/money.js\"/></boltArtifact>";
    let edit = "<boltArtifact id=\"fix\" title=\"Fix\"><boltAction type=\"edit\" filePath=\"src/money.js\">\n<<<<<<< SEARCH\n  return Math.round(value * 100) / 100;\n=======\n  return Math.round((value + Number.EPSILON) * 100) / 100;\n>>>>>>> REPLACE\n</boltAction></boltArtifact>\nRounded with an epsilon.";
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(search), Reply::text(read), Reply::text(edit)],
    )
    .await;
    let project = Project::new();
    let output = chat(
        &standin,
        &project,
        &["round cents correctly", "--auto-fix", "0"],
    )
    .await;
    let text = stdout(&output);
    let requests = standin.recorded();
    assert_eq!(requests.len(), 3, "search, read, edit:\n{text}");

    let found = support::last_user_message(&requests[1].body);
    // Literal, case ignored; the files the request ranks first.
    assert!(
        found.contains("<search pattern=\"roundcents(\" found=\"2 matches in 2 files\">"),
        "{found}"
    );
    assert!(
        found.contains("src/money.js:1: export function roundCents(value) {\nsrc/money.js-2-   return Math.round(value * 100) / 100;"),
        "{found}"
    );
    assert!(
        found.contains("src/ledger.js:8:   return roundCents(total);"),
        "{found}"
    );
    // The secret is never searched; the escape and the bad regex are answered, not failed.
    assert!(
        found.contains("<search pattern=\"STRIPE\" found=\"no matches\">"),
        "{found}"
    );
    assert!(
        found.contains(
            "<search query=\"'round' in ../**\" error=\"refused: .. leaves the workspace\"/>"
        ),
        "{found}"
    );
    assert!(
        found.contains("error=\"the pattern is not a valid regular expression:"),
        "{found}"
    );
    assert!(
        found.contains("regex=\"true\" path=\"src/*.js\" found=\"1 match in 1 file\">"),
        "{found}"
    );
    // A glob and no pattern: the files.
    assert!(
        found.contains("path=\"src/*\" found=\"3 files\">\nsrc/checkout.js\nsrc/ledger.js\nsrc/money.js\n</search>"),
        "{found}"
    );
    for request in &requests {
        assert!(!request.body.to_string().contains("sk-live-do-not-send"));
    }
    let shown = support::last_user_message(&requests[2].body);
    assert!(
        shown.contains("<file path=\"src/money.js\" lines=\"3\">"),
        "{shown}"
    );

    assert_eq!(
        std::fs::read_to_string(project.path.join("src/money.js")).expect("money"),
        "export function roundCents(value) {\n  return Math.round((value + Number.EPSILON) * 100) / 100;\n}\n"
    );
    assert!(
        text.contains("✓ search \"roundcents(\" — 2 matches in 2 files"),
        "{text}"
    );
    assert!(text.contains("✓ search \"STRIPE\" — no matches"), "{text}");
    assert!(
        text.contains("✗ search \"round\" in ../** — refused: .. leaves the workspace"),
        "{text}"
    );
    assert!(text.contains("✓ search files src/* — 3 files"), "{text}");
    assert!(text.contains("✓ edit src/money.js"), "{text}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed search is a failed action:\n{text}"
    );
}

#[tokio::test]
async fn at_path_attaches_a_file_and_the_map_ranks_what_the_prompt_names() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(DONE)]).await;
    let project = Project::new();
    let output = chat(
        &standin,
        &project,
        &["fix computeInvoiceTotals, see @src/money.js and @.env"],
    )
    .await;
    assert!(output.status.success(), "{}", stdout(&output));
    let first = support::last_user_message(&standin.recorded()[0].body);
    assert!(
        first.contains("<file path=\"src/money.js\">\nexport function roundCents"),
        "{first}"
    );
    assert!(
        first.contains("@.env: secret files are never sent"),
        "{first}"
    );
    assert!(!first.contains("sk-live-do-not-send"));
    // The map puts the file that defines the named function, its caller and its callee first.
    let map = &first[first.find("<map>").expect("a map")..first.find("</map>").expect("its end")];
    let files: Vec<&str> = map
        .lines()
        .filter(|line| line.starts_with("src/"))
        .map(|line| line.split(' ').next().unwrap_or(line))
        .collect();
    let mut top = files.clone();
    top.sort_unstable();
    assert_eq!(
        top,
        ["src/checkout.js", "src/ledger.js", "src/money.js"],
        "{map}"
    );
    assert!(
        map.contains("│ export function computeInvoiceTotals(invoice) {"),
        "{map}"
    );
}

#[tokio::test]
async fn the_window_a_local_server_reports_bounds_every_request() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(DONE)]).await;
    standin.answer(
        "/props",
        json!({"default_generation_settings": {"n_ctx": 4096}}),
    );
    let project = Project::new();
    // Many files: far more than 4,096 tokens of context if nothing bounded it.
    for n in 0..400 {
        let file = project.path.join(format!("src/generated/module{n}.js"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            file,
            format!("export function generated{n}() {{ return {n}; }}\n").repeat(20),
        )
        .expect("write");
    }
    let output = chat(&standin, &project, &["add a test"]).await;
    assert!(output.status.success(), "{}", stdout(&output));
    let probes: Vec<String> = standin
        .other_requests()
        .iter()
        .map(|probe| probe.path.clone())
        .collect();
    assert_eq!(probes, ["/props"], "llama.cpp's /props answers first");
    let request = &standin.recorded()[0].body;
    assert_eq!(
        request["max_tokens"], 1024,
        "a quarter of the window for the reply"
    );
    // What was sent fits the window with the reply: ~4 characters a token is generous for code.
    let sent = request["messages"].to_string().len() + request.to_string().len() / 10;
    assert!(
        sent < (4096 - 1024) * 4,
        "{sent} characters for a 4,096-token window"
    );
}

#[tokio::test]
async fn a_prompt_refused_as_too_long_is_sent_again_smaller_once() {
    let refusal = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 30412 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::status(400, refusal), Reply::text(DONE)],
    )
    .await;
    let project = Project::new();
    let output = chat(&standin, &project, &["go", "--context-tokens", "60000"]).await;
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("refused the prompt as too long"), "{text}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].body.to_string().len() < requests[0].body.to_string().len(),
        "the second request is smaller"
    );

    // Refused twice: the turn fails and says why.
    let standin = StandIn::start(Format::OpenAi, vec![Reply::status(400, refusal)]).await;
    let output = chat(&standin, &project, &["go"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(standin.recorded().len(), 2, "retried once, not more");
}

#[tokio::test]
async fn an_empty_stream_names_the_likely_cause() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::with_fault("", Fault::Empty)]).await;
    let project = Project::new();
    let output = chat(&standin, &project, &["go"]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(standin.recorded().len(), 2, "tried once more, smaller");
    assert!(text.contains("the model sent no reply"), "{text}");
    assert!(text.contains("longer than the context window"), "{text}");
    assert!(text.contains("set contextTokens"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lsp_reads_the_editors_unsaved_buffer_and_reports_the_read() {
    let reads = "<boltArtifact id=\"r\" title=\"R\"><boltAction type=\"read\" filePath=\"src/money.js\"/></boltArtifact>";
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(reads), Reply::text(DONE)]).await;
    let project = Project::new();
    let data = project.data_dir().display().to_string();
    let env = [
        ("OPENAI_BASE_URL", standin.url.as_str()),
        ("OPENBOLT_MODEL", "local-model"),
        ("OPENBOLT_DATA_DIR", data.as_str()),
    ];
    let mut lsp = Lsp::start(&project.path, &env, json!({}), false).await;
    // A file typed in the editor and never saved is in the map the model gets.
    lsp.open_document(
        &project.path.join("src/draft.js"),
        "export function freshlyTypedHelper(value) {\n  return value;\n}\n",
    )
    .await;
    let money = project.path.join("src/money.js");
    let unsaved =
        "export function roundCents(value) {\n  return Number(value.toFixed(2)); // unsaved\n}\n";
    lsp.open_document(&money, unsaved).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "check rounding"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2);
    let answer = support::last_user_message(&requests[1].body);
    assert!(
        answer.contains("// unsaved"),
        "the buffer, not the disk: {answer}"
    );
    let read = lsp
        .notifications("openbolt/actionUpdate")
        .into_iter()
        .find(|update| update["type"] == "read" && update["status"] == "complete")
        .expect("a complete read");
    assert_eq!(read["filePath"], "src/money.js");
    assert_eq!(read["summary"], "3 lines");
    // Reloading the session shows the read with its summary.
    let session = response["result"]["sessionId"].as_str().expect("session");
    let loaded = lsp
        .request("openbolt/loadSession", json!({"sessionId": session}))
        .await;
    let actions = &loaded["result"]["messages"][1]["actions"];
    assert_eq!(actions[0]["type"], "read");
    assert_eq!(actions[0]["summary"], "3 lines");
    let _ = uri(Path::new("/"));
    assert!(lsp.stop().await.success());
}

/// A refused prompt is sent again with a shorter history; the turn is still recorded whole in the
/// conversation the next turn continues (it was lost when the history's length was taken before the retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_retried_smaller_stays_in_the_conversation() {
    let long_reply = "A long answer. ".repeat(150);
    let refusal = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 9000 tokens > 8192 maximum"}}"#;
    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::text(&long_reply),
            Reply::text(&long_reply),
            Reply::text(&long_reply),
            Reply::status(400, refusal),
            Reply::text("Second answer."),
            Reply::text("Third answer."),
        ],
    )
    .await;
    let project = Project::new();
    let data = project.data_dir().display().to_string();
    let env = [
        ("ANTHROPIC_API_KEY", "sk-test-retry"),
        ("ANTHROPIC_BASE_URL", standin.url.as_str()),
        ("OPENBOLT_DATA_DIR", data.as_str()),
    ];
    let mut lsp = Lsp::start(&project.path, &env, json!({"contextTokens": 12000}), false).await;
    let mut session = Value::Null;
    for prompt in ["one", "two", "three", "the refused one", "after it"] {
        let response = lsp
            .request(
                "openbolt/chat",
                json!({"prompt": prompt, "sessionId": session}),
            )
            .await;
        assert_eq!(
            response["result"]["status"], "complete",
            "{prompt}: {response}"
        );
        session = response["result"]["sessionId"].clone();
    }
    let requests = standin.recorded();
    assert_eq!(requests.len(), 6);
    // The retry sent less history than the refused request.
    let count = |index: usize| {
        requests[index].body["messages"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert!(count(4) < count(3), "{} then {}", count(3), count(4));
    // The next turn continues a conversation that has the retried turn in it.
    let last = requests[5].body["messages"].to_string();
    assert!(
        last.contains("the refused one") && last.contains("Second answer."),
        "{last}"
    );
    assert!(lsp.stop().await.success());
}

/// The files `request` names outside its `<workspace>` listing, in order of first appearance.
fn named_in_order(request: &str, files: &[String]) -> Vec<String> {
    let body = match (request.find("<workspace"), request.find("</workspace>")) {
        (Some(start), Some(end)) => format!("{}{}", &request[..start], &request[end..]),
        _ => request.to_owned(),
    };
    let mut found: Vec<(usize, String)> = files
        .iter()
        .filter_map(|name| body.find(name.as_str()).map(|at| (at, name.clone())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, name)| name).collect()
}

/// A request in plain words — no identifier, no path — reaches the file it is about, among ~50 files of
/// which many talk about npm, installs and servers.
#[test]
fn a_request_in_plain_words_reaches_the_code_it_is_about() {
    let project = Project::new();
    let root = &project.path;
    let mut files: Vec<(String, String)> = vec![
        (
            "lib/runtime/action-runner.ts".into(),
            "import { Terminal } from '../shell/terminal';\n\n/** Runs the actions of an artifact in order. */\nexport class ActionRunner {\n  #current: Promise<void> = Promise.resolve();\n\n  async runShellAction(command: string, terminal: Terminal) {\n    await terminal.execute(command);\n  }\n\n  async runStartAction(command: string, terminal: Terminal) {\n    // Starts without waiting for the queue.\n    terminal.spawn(command);\n  }\n\n  addAction(action: { type: string; content: string }) {\n    this.#current = this.#current.then(() => this.run(action));\n  }\n}\n".into(),
        ),
        (
            "lib/npm/registry.ts".into(),
            "/** The npm registry client: package metadata for npm install. */\nexport async function fetchPackage(name: string) {\n  return fetch(`https://registry.npmjs.org/${name}`);\n}\nexport function installCommand(packages: string[]) {\n  return `npm install ${packages.join(' ')}`;\n}\n".into(),
        ),
        (
            "lib/npm/lockfile.ts".into(),
            "// npm lockfile parsing: what npm install resolved.\nexport function parseLockfile(text: string) { return JSON.parse(text); }\n".into(),
        ),
        (
            "server/dev-server.ts".into(),
            "// The site's own dev server (vite), for contributors: npm run dev.\nexport function startDevServer(port: number) {\n  console.log(`dev server on ${port}`);\n}\n".into(),
        ),
        (
            "server/index.ts".into(),
            "import { startDevServer } from './dev-server';\n// Starting the server.\nstartDevServer(5173);\n".into(),
        ),
        (
            "components/InstallButton.tsx".into(),
            "// A button that says npm install and copies it.\nexport function InstallButton() { return <button>npm install</button>; }\n".into(),
        ),
        (
            "lib/shell/terminal.ts".into(),
            "export class Terminal {\n  async execute(command: string) {}\n  spawn(command: string) {}\n}\n".into(),
        ),
        (
            "lib/logger.ts".into(),
            "export const logger = { info(message: string) { console.log(message); } };\n".into(),
        ),
        (
            "docs/installing.ts".into(),
            "// How to install: npm install, then npm run dev starts the dev server. Wait for it.\nexport const installing = 'npm install';\n".into(),
        ),
    ];
    for n in 0..42 {
        files.push((
            format!("components/widgets/Widget{n}.tsx"),
            format!(
                "import {{ logger }} from '../../lib/logger';\nexport function Widget{n}() {{ logger.info('widget {n}'); return null; }}\n"
            ),
        ));
    }
    for (name, text) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["context", "--context-tokens", "16384", "--workspace"])
        .arg(root)
        .arg("the action runner does not wait for npm install before starting the dev server")
        .output()
        .expect("openbolt context runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let request = String::from_utf8(output.stdout).expect("UTF-8");
    let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    let named = named_in_order(&request, &names);
    assert!(
        named
            .iter()
            .take(3)
            .any(|name| name == "lib/runtime/action-runner.ts"),
        "first files named: {named:?}\n{request}"
    );
}
