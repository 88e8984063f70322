//! The page check end to end: the real binary, Debian's Chromium, pages served on this machine. What a
//! page does wrong in the browser (an uncaught exception, an unhandled rejection, `console.error`, a
//! module that 404s, a blank page) is found; a turn whose preview throws gets a fix round that carries
//! the exception and its frame; no browser means no check and one note; the browser never outlives the
//! server — not after it exits, not after `kill -9`, not after a revert stops the last dev server.
//!
//! Chromium comes from `scripts/vscode-test-deps` (the README's test command installs it).

mod lsp_client;
mod support;

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Format, Reply, StandIn, TempProject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A static site on 127.0.0.1: `path → body` (HTML for `.html` and `/`-ending paths, JavaScript
/// otherwise); `/hang` never answers; anything else is 404.
struct Site {
    url: String,
    _task: tokio::task::JoinHandle<()>,
}

impl Site {
    async fn serve(files: &[(&str, &str)]) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let files: Arc<HashMap<String, String>> = Arc::new(
            files
                .iter()
                .map(|(path, body)| ((*path).to_owned(), (*body).to_owned()))
                .collect(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let files = files.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => request.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request);
                    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                    if path == "/hang" {
                        // Held open, never answered: the page never settles.
                        let _ = socket.read(&mut buffer).await;
                        return;
                    }
                    let (status, body) = match files.get(&path) {
                        Some(body) => ("200 OK", body.clone()),
                        None => ("404 Not Found", "not found".to_owned()),
                    };
                    let kind = if path.ends_with('/') || path.ends_with(".html") {
                        "text/html"
                    } else {
                        "text/javascript"
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Site { url, _task: task }
    }
}

/// `openbolt check-page <url> --json` with `data` as the data directory: the verdict and the exit code.
async fn check_page(url: &str, data: &Path) -> (Value, Option<i32>) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["check-page", url, "--json"])
        .env("OPENBOLT_DATA_DIR", data)
        .env("HOME", data)
        .output()
        .await
        .expect("openbolt runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdict = stdout
        .lines()
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "no verdict: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (verdict, output.status.code())
}

fn kinds(verdict: &Value) -> Vec<String> {
    verdict["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|problem| problem["kind"].as_str().expect("kind").to_owned())
        .collect()
}

fn page(script: &str) -> String {
    format!(
        "<!doctype html><html><body><h1>Ledger</h1><div id=\"root\"></div><script type=\"module\">{script}</script></body></html>"
    )
}

#[tokio::test]
async fn each_kind_of_problem_is_found_and_a_sound_page_has_none() {
    let site = Site::serve(&[
        (
            "/exception/",
            "<!doctype html><html><body><div id=\"root\"></div><script type=\"module\" src=\"/exception/main.js\"></script></body></html>",
        ),
        (
            "/exception/main.js",
            "const user = undefined;\nfunction render() {\n  document.getElementById('root').textContent = user.name;\n}\nrender();\n",
        ),
        (
            "/rejection/",
            &page("Promise.reject(new Error('the ledger could not load'));"),
        ),
        (
            "/console/",
            &page("console.error('failed to render the total', 3);"),
        ),
        (
            "/missing/",
            "<!doctype html><html><body><h1>Ledger</h1><script type=\"module\" src=\"/missing/app.js\"></script></body></html>",
        ),
        ("/missing/app.js", "import { total } from './totals.js';\ntotal();\n"),
        (
            "/blank/",
            "<!doctype html><html><body><div id=\"root\"></div><script type=\"module\">document.title = 'Ledger';</script></body></html>",
        ),
        ("/sound/", &page("document.getElementById('root').textContent = 'ok';")),
        (
            "/mapped/",
            "<!doctype html><html><body><h1>Ledger</h1><script type=\"module\" src=\"/mapped/app.js\"></script></body></html>",
        ),
        // What a dev server serves for src/app.ts: transformed, with an inline map (line 3, column 3 of
        // the script is line 20, column 5 of the source).
        (
            "/mapped/app.js",
            "// transformed from src/app.ts\nfunction render() {\n  throw new Error('mapped failure');\n}\nrender();\n//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjogMywgInNvdXJjZXMiOiBbInNyYy9hcHAudHMiXSwgIm5hbWVzIjogW10sICJtYXBwaW5ncyI6ICI7O0VBbUJJIn0=\n",
        ),
    ])
    .await;
    let data = tempfile::tempdir().expect("dir");
    let url = |path: &str| format!("{}{}", site.url, path.trim_start_matches('/'));

    let (verdict, code) = check_page(&url("/exception/"), data.path()).await;
    assert_eq!(code, Some(1), "{verdict}");
    assert_eq!(verdict["settled"], true, "{verdict}");
    let exception = &verdict["problems"][0];
    assert_eq!(exception["kind"], "exception", "{verdict}");
    assert_eq!(
        exception["message"],
        "TypeError: Cannot read properties of undefined (reading 'name')"
    );
    assert_eq!(
        exception["frames"][0], "render (exception/main.js:3:54)",
        "{verdict}"
    );
    // The page shows nothing either: the exception came first.
    assert_eq!(kinds(&verdict), ["exception", "blank"], "{verdict}");

    let (verdict, _) = check_page(&url("/rejection/"), data.path()).await;
    assert_eq!(kinds(&verdict), ["rejection"], "{verdict}");
    assert_eq!(
        verdict["problems"][0]["message"],
        "Error: the ledger could not load"
    );

    let (verdict, _) = check_page(&url("/console/"), data.path()).await;
    assert_eq!(kinds(&verdict), ["console"], "{verdict}");
    assert_eq!(
        verdict["problems"][0]["message"],
        "failed to render the total 3"
    );

    let (verdict, _) = check_page(&url("/missing/"), data.path()).await;
    assert_eq!(kinds(&verdict)[0], "request", "{verdict}");
    assert_eq!(
        verdict["problems"][0]["message"], "GET /missing/totals.js: 404 Not Found",
        "{verdict}"
    );

    let (verdict, _) = check_page(&url("/blank/"), data.path()).await;
    assert_eq!(kinds(&verdict), ["blank"], "{verdict}");

    let (verdict, _) = check_page(&url("/mapped/"), data.path()).await;
    assert_eq!(kinds(&verdict), ["exception"], "{verdict}");
    assert_eq!(
        verdict["problems"][0]["frames"],
        json!(["render (mapped/src/app.ts:20:5)", "mapped/app.js:5:1"]),
        "the frame in the transformed script is put back in its source: {verdict}"
    );

    let (verdict, code) = check_page(&url("/sound/"), data.path()).await;
    assert_eq!(kinds(&verdict), Vec::<String>::new(), "{verdict}");
    assert_eq!(code, Some(0));
    assert!(
        browser_gone(&data.path().join("browser")).await,
        "the browser ended with the command"
    );
}

#[tokio::test]
async fn a_page_that_never_settles_is_judged_within_the_bound() {
    let site = Site::serve(&[(
        "/",
        &page("fetch('/hang'); document.getElementById('root').textContent = 'waiting'; console.error('still waiting');"),
    )])
    .await;
    let data = tempfile::tempdir().expect("dir");
    let (verdict, _) = check_page(&site.url, data.path()).await;
    assert_eq!(verdict["settled"], false, "{verdict}");
    // What happened before the bound is still reported.
    assert_eq!(kinds(&verdict), ["console"], "{verdict}");
    let millis = verdict["millis"].as_u64().expect("millis");
    assert!(
        (10_000..11_000).contains(&millis),
        "the check ends at its 10 s bound: {millis} ms"
    );
}

/// The live processes whose command line names `profile` (the browser's main process) and every
/// process in their groups (its helpers: renderers, the GPU and network services, zygotes).
fn browser_processes(profile: &Path) -> Vec<i32> {
    let marker = format!("--user-data-dir={}", profile.display());
    let named = |pid: i32| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|command| String::from_utf8_lossy(&command).contains(&marker))
    };
    let processes = openbolt::terminal::process::all_processes();
    let groups: Vec<i32> = processes
        .iter()
        .filter(|process| named(process.pid))
        .map(|process| process.group)
        .collect();
    processes
        .iter()
        // A zombie has ended; only its parent's wait is missing.
        .filter(|process| {
            !process.zombie && (groups.contains(&process.group) || named(process.pid))
        })
        .map(|process| process.pid)
        .collect()
}

/// Waits (up to 10 s) until no process of the browser in `profile` is left; false if some are.
async fn browser_gone(profile: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if browser_processes(profile).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A dev server: `python3 -m http.server` on a free port, serving the workspace.
const SERVE: &str = "python3 -m http.server 0 --bind 127.0.0.1";

const INDEX: &str = "<!doctype html>\n<html><body><h1>Ledger</h1><div id=\"root\"></div><script type=\"module\" src=\"main.js\"></script></body></html>\n";
const THROWS: &str = "const user = undefined;\nfunction render() {\n  document.getElementById('root').textContent = user.name;\n}\nrender();\n";
const WORKS: &str = "const user = { name: 'Ada' };\nfunction render() {\n  document.getElementById('root').textContent = user.name;\n}\nrender();\n";

fn app(main: &str) -> String {
    format!(
        "Here is the app.\n<boltArtifact id=\"app\" title=\"App\">\n<boltAction type=\"file\" filePath=\"index.html\">\n{INDEX}</boltAction>\n<boltAction type=\"file\" filePath=\"main.js\">\n{main}</boltAction>\n<boltAction type=\"start\">\n{SERVE}\n</boltAction>\n</boltArtifact>\n"
    )
}

fn fix() -> String {
    format!(
        "The user was undefined.\n<boltArtifact id=\"fix\" title=\"Fix\">\n<boltAction type=\"file\" filePath=\"main.js\">\n{WORKS}</boltAction>\n</boltArtifact>\n"
    )
}

/// A stand-in whose app throws, whose fix round fixes it, and which says `then` after.
async fn throws_then_fixed(format: Format, then: &str) -> StandIn {
    StandIn::start(
        format,
        vec![
            Reply::text(&app(THROWS)),
            Reply::text(&fix()),
            Reply::text(then),
        ],
    )
    .await
}

/// `openbolt chat --yes --no-wait <more> "a ledger page"` in `project`, with a `HOME` beside it (a
/// workspace that is `HOME` itself has its files granted to sandboxed commands one by one, and a file
/// written after the dev server started would be hidden from it).
async fn chat(
    project: &TempProject,
    standin: &StandIn,
    more: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let workspace = project.path.display().to_string();
    let home = project.path.with_file_name("home");
    std::fs::create_dir_all(&home).expect("home");
    let home = home.display().to_string();
    let arguments = [
        &[
            "chat",
            "--workspace",
            workspace.as_str(),
            "--yes",
            "--no-wait",
        ],
        more,
        &["a ledger page"],
    ]
    .concat();
    let env = [&[("HOME", home.as_str())], env].concat();
    project.openbolt_with(standin, &arguments, &env).await
}

#[tokio::test]
async fn a_page_that_throws_is_fixed_in_a_fix_round_and_the_browser_ends_with_the_chat() {
    let standin = throws_then_fixed(Format::OpenAi, "Done.").await;
    let project = TempProject::new();
    let (code, text) = chat(&project, &standin, &[], &[]).await;
    assert!(
        text.contains("◦ previews are checked in "),
        "the header names the browser: {text}"
    );
    let requests = standin.recorded();
    assert_eq!(requests.len(), 2, "one fix round: {text}");
    let report = support::last_user_message(&requests[1].body);
    assert!(
        report.contains("loaded in a browser, threw an uncaught exception"),
        "{report}"
    );
    assert!(
        report.contains("| TypeError: Cannot read properties of undefined (reading 'name')"),
        "{report}"
    );
    assert!(report.contains("at render (main.js:3:54)"), "{report}");
    assert!(text.contains("✗ page check: http://"), "{text}");
    assert!(
        text.contains("✓ page check: http://"),
        "the fix round's check found nothing: {text}"
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(project.read("main.js"), WORKS);
    assert!(
        browser_gone(&project.data().join("browser")).await,
        "no browser process outlives the chat"
    );
}

#[tokio::test]
async fn with_auto_fix_zero_the_page_is_still_checked_and_reported() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&app(THROWS))]).await;
    let project = TempProject::new();
    let (_, text) = chat(&project, &standin, &["--auto-fix", "0"], &[]).await;
    assert_eq!(standin.recorded().len(), 1, "no fix round: {text}");
    assert!(text.contains("✗ page check: http://"), "{text}");
    assert!(
        text.contains("exception: TypeError: Cannot read properties of undefined"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_browser_the_turn_completes_as_before_with_one_note() {
    // A PATH with what the dev server needs and no browser.
    let bin = tempfile::tempdir().expect("dir");
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    std::os::unix::fs::symlink(python, bin.path().join("python3")).expect("link");
    std::os::unix::fs::symlink(support::which("sh"), bin.path().join("sh")).expect("link");
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&app(THROWS))]).await;
    let project = TempProject::new();
    let path = bin.path().display().to_string();
    let (code, text) = chat(&project, &standin, &[], &[("PATH", &path)]).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        standin.recorded().len(),
        1,
        "nothing failed that the turn could see: {text}"
    );
    assert_eq!(
        text.matches("no browser found on PATH").count(),
        1,
        "one note: {text}"
    );
    assert!(!text.contains("page check"), "{text}");
    let which = std::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["check-page", "--which"])
        .env("PATH", bin.path())
        .env("HOME", project.path.as_path())
        .output()
        .expect("runs");
    assert_eq!(which.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&which.stdout).contains("no browser found on PATH"));
}

/// Runs `prompt` as a turn of the session `s` over `lsp`, which completes.
async fn turn(lsp: &mut lsp_client::Lsp, prompt: &str) {
    let turn = lsp
        .request("openbolt/chat", json!({"prompt": prompt, "sessionId": "s"}))
        .await;
    assert_eq!(turn["result"]["status"], "complete", "{turn}");
}

/// `openbolt lsp` with a turn whose preview throws (no fix round): the verdict as a notification.
async fn lsp_with_a_checked_page(project: &TempProject, standin: &StandIn) -> lsp_client::Lsp {
    lsp_with_a_checked_page_and(project, standin, &[]).await
}

/// [`lsp_with_a_checked_page`] with more environment.
async fn lsp_with_a_checked_page_and(
    project: &TempProject,
    standin: &StandIn,
    env: &[(&'static str, String)],
) -> lsp_client::Lsp {
    let mut lsp = lsp_client::Lsp::start(
        &project.path,
        &[project.lsp_env(standin), env.to_vec()].concat(),
        json!({"approval": {"autoApprove": true}, "autoFix": 0}),
        false,
    )
    .await;
    turn(&mut lsp, "a ledger page").await;
    let checking = lsp.notifications("openbolt/checking");
    assert!(
        checking.iter().any(|params| params["check"] == "page"),
        "{checking:?}"
    );
    let verdicts = lsp.notifications("openbolt/pageCheck");
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    let verdict = &verdicts[0];
    assert_eq!(verdict["sessionId"], "s");
    assert_eq!(verdict["problems"][0]["kind"], "exception", "{verdict}");
    assert!(
        verdict["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://127.0.0.1:")),
        "{verdict}"
    );
    assert!(
        !browser_processes(&project.data().join("browser")).is_empty(),
        "the browser stays for the next check"
    );
    lsp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_is_told_and_a_revert_that_stops_the_dev_server_ends_the_browser() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&app(THROWS))]).await;
    let project = TempProject::new();
    let mut lsp = lsp_with_a_checked_page(&project, &standin).await;
    let reverted = lsp
        .request("openbolt/revert", json!({"sessionId": "s"}))
        .await;
    assert!(reverted.get("result").is_some(), "{reverted}");
    assert!(
        browser_gone(&project.data().join("browser")).await,
        "no dev server is left: the browser is closed"
    );
    assert!(lsp.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_outright_takes_its_browser_with_it() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&app(THROWS))]).await;
    let project = TempProject::new();
    let mut lsp = lsp_with_a_checked_page(&project, &standin).await;
    let pid = lsp.child.id().expect("running");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let _ = lsp.child.wait().await;
    assert!(
        browser_gone(&project.data().join("browser")).await,
        "the parent-death signal ended the browser"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_closes_its_browser() {
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&app(THROWS))]).await;
    let project = TempProject::new();
    let lsp = lsp_with_a_checked_page(&project, &standin).await;
    assert!(lsp.stop().await.success());
    assert!(
        browser_gone(&project.data().join("browser")).await,
        "no browser process outlives the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_browser_is_closed_and_the_next_check_starts_it_again() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&app(THROWS)), Reply::text(&fix())],
    )
    .await;
    let project = TempProject::new();
    let mut lsp = lsp_with_a_checked_page_and(
        &project,
        &standin,
        &[("OPENBOLT_BROWSER_IDLE_MS", "3000".to_owned())],
    )
    .await;
    let profile = project.data().join("browser");
    assert!(browser_gone(&profile).await, "the idle browser was closed");
    // The dev server runs on: only the browser went.
    let url = lsp.notifications("openbolt/pageCheck")[0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&address).is_ok(),
        "the dev server at {address} still answers"
    );
    // A change to its files checks the page again, in a browser started anew.
    turn(&mut lsp, "fix the ledger").await;
    let verdicts = lsp.notifications("openbolt/pageCheck");
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert_eq!(verdicts[1]["url"], url.as_str());
    assert_eq!(verdicts[1]["problems"], json!([]), "{}", verdicts[1]);
    assert!(verdicts[1].get("error").is_none(), "{}", verdicts[1]);
    assert!(lsp.stop().await.success());
}

/// `openbolt chat` against `standin` with `model` (its own format's provider), the page throwing
/// first and fixed in the fix round: the requests.
async fn fix_round_with_model(
    format: Format,
    model: &str,
    more: &[&str],
) -> (Vec<support::Recorded>, String, TempProject) {
    let standin = throws_then_fixed(format, "Done.").await;
    let project = TempProject::new();
    let provider = match format {
        Format::Anthropic => "anthropic",
        Format::OpenAi => "openai",
    };
    let arguments = [
        &[
            "--provider",
            provider,
            "--base-url",
            standin.url.as_str(),
            "--model",
            model,
        ],
        more,
    ]
    .concat();
    let (code, text) = chat(
        &project,
        &standin,
        &arguments,
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    )
    .await;
    assert_eq!(code, Some(0), "{text}");
    (standin.recorded(), text, project)
}

/// The screenshots `openbolt chat` printed, in order.
fn printed_screenshots(text: &str) -> Vec<std::path::PathBuf> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("screenshot: "))
        .map(|rest| std::path::PathBuf::from(rest.split(" (").next().unwrap_or(rest)))
        .collect()
}

#[tokio::test]
async fn a_fix_round_the_page_caused_shows_a_model_that_sees_its_screenshot_in_both_formats() {
    for (format, model) in [
        (Format::Anthropic, "claude-sonnet-4-5"),
        (Format::OpenAi, "gpt-4o"),
    ] {
        let (requests, text, project) = fix_round_with_model(format, model, &[]).await;
        assert_eq!(requests.len(), 2, "one fix round: {text}");
        assert!(
            text.contains("their screenshots go to the model with a fix round"),
            "the header says so: {text}"
        );
        assert_eq!(
            support::images_in(&requests[0].body),
            vec![],
            "the first request has no picture"
        );
        // The stand-in refuses pictures in the wrong shape (the turn would have failed): this one
        // passed its checks, in the last message, the fix round's report.
        let last = requests[1].body["messages"].as_array().map_or(0, Vec::len) - 1;
        assert_eq!(
            support::images_in(&requests[1].body),
            vec![(last, "image/jpeg".to_owned())],
            "{model}: {text}"
        );
        assert!(support::last_user_message(&requests[1].body).contains("at render (main.js:3:54)"));
        // The user sees both checks' screenshots; they are kept under the data directory.
        let shots = printed_screenshots(&text);
        assert_eq!(shots.len(), 2, "{text}");
        for shot in &shots {
            assert!(
                shot.starts_with(project.data().join("screenshots")),
                "{}",
                shot.display()
            );
            let bytes = std::fs::read(shot).expect("the screenshot is kept");
            assert!(bytes.starts_with(&[0xff, 0xd8, 0xff]), "a JPEG");
        }
    }
}

#[tokio::test]
async fn an_unknown_local_model_gets_no_picture_in_either_format_and_the_user_still_does() {
    for format in [Format::Anthropic, Format::OpenAi] {
        let (requests, text, _project) =
            fix_round_with_model(format, "qwen2.5-coder:7b", &[]).await;
        assert_eq!(requests.len(), 2, "one fix round: {text}");
        assert_eq!(support::images_in(&requests[1].body), vec![], "{text}");
        assert!(text.contains("it is not known to take images"), "{text}");
        assert!(support::last_user_message(&requests[1].body).contains("at render (main.js:3:54)"));
        assert_eq!(printed_screenshots(&text).len(), 2, "{text}");
    }
    // `--model-images true` says a local model sees; `--preview-screenshots off` takes none at all.
    let (requests, text, _project) =
        fix_round_with_model(Format::OpenAi, "llava:13b", &["--model-images", "true"]).await;
    assert_eq!(support::images_in(&requests[1].body).len(), 1, "{text}");
    let (requests, text, project) =
        fix_round_with_model(Format::OpenAi, "gpt-4o", &["--preview-screenshots", "off"]).await;
    assert_eq!(support::images_in(&requests[1].body), vec![], "{text}");
    assert!(printed_screenshots(&text).is_empty(), "{text}");
    assert!(
        text.contains("no screenshots: previewScreenshots is off"),
        "{text}"
    );
    assert!(!project.data().join("screenshots").exists());
}

const STILL_THROWS: &str = "const user = null;\nfunction render() {\n  document.getElementById('root').textContent = user.name;\n}\nrender();\n";

#[tokio::test]
async fn only_the_latest_screenshot_stays_in_the_history() {
    let still = format!(
        "Trying again.\n<boltArtifact id=\"fix\" title=\"Fix\">\n<boltAction type=\"file\" filePath=\"main.js\">\n{STILL_THROWS}</boltAction>\n</boltArtifact>\n"
    );
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&app(THROWS)),
            Reply::text(&still),
            Reply::text(&fix()),
            Reply::text("Done."),
        ],
    )
    .await;
    let project = TempProject::new();
    let (code, text) = chat(&project, &standin, &["--model", "gpt-4o"], &[]).await;
    assert_eq!(code, Some(0), "{text}");
    let requests = standin.recorded();
    assert_eq!(requests.len(), 3, "two fix rounds: {text}");
    let body = &requests[2].body;
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(
        support::images_in(body),
        vec![(messages.len() - 1, "image/jpeg".to_owned())],
        "the second round's screenshot alone"
    );
    // The first round's report keeps its words, and a line where its picture was.
    let first_report = messages
        .iter()
        .find(|message| {
            message["content"]
                .as_str()
                .is_some_and(|text| text.contains("reading 'name'") && text.contains("undefined"))
        })
        .expect("the first fix round's report, as text");
    assert!(
        first_report["content"]
            .as_str()
            .is_some_and(|text| text.contains("only the latest screenshot is kept")),
        "{first_report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_session_shows_its_screenshots_and_the_model_still_sees_the_latest() {
    let standin = throws_then_fixed(Format::OpenAi, "Noted.").await;
    let project = TempProject::new();
    let env = [
        project.lsp_env(&standin),
        vec![("OPENBOLT_MODEL", "gpt-4o".to_owned())],
    ]
    .concat();
    let settings = json!({"approval": {"autoApprove": true}, "autoFix": 1});
    let mut lsp = lsp_client::Lsp::start(&project.path, &env, settings.clone(), false).await;
    turn(&mut lsp, "a ledger page").await;
    let live: Vec<Value> = lsp.notifications("openbolt/pageCheck");
    assert_eq!(live.len(), 2, "{live:?}");
    for verdict in &live {
        let path = verdict["screenshot"]["path"]
            .as_str()
            .expect("a screenshot");
        assert!(Path::new(path).is_file(), "{verdict}");
        assert_eq!(verdict["screenshot"]["mediaType"], "image/jpeg");
        assert!(
            verdict["screenshot"]["width"].as_u64() > Some(0),
            "{verdict}"
        );
    }
    assert!(lsp.stop().await.success());
    // The export shows each verdict with its picture.
    let exported = std::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["sessions", "--export", "s"])
        .current_dir(&project.path)
        .env("OPENBOLT_DATA_DIR", project.data())
        .env("HOME", project.path.as_path())
        .output()
        .expect("runs");
    let exported = String::from_utf8_lossy(&exported.stdout);
    let first = live[0]["screenshot"]["path"].as_str().expect("path");
    assert!(
        exported.contains("page check of http://127.0.0.1:")
            && exported.contains("exception: TypeError: Cannot read properties of undefined")
            && exported.contains(&format!("](<{first}>)")),
        "{exported}"
    );

    // A new server: the session comes back with its verdicts and their screenshots.
    let mut lsp = lsp_client::Lsp::start(&project.path, &env, settings, false).await;
    let loaded = lsp
        .request("openbolt/loadSession", json!({"sessionId": "s"}))
        .await;
    let messages = loaded["result"]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    let pages: Vec<&Value> = messages
        .iter()
        .flat_map(|message| message["pages"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(pages.len(), 2, "{loaded}");
    assert_eq!(pages[0]["problems"][0]["kind"], "exception");
    assert_eq!(pages[0]["screenshot"], live[0]["screenshot"]);
    assert_eq!(pages[1]["screenshot"], live[1]["screenshot"]);
    // The model continues the session with the fix round's screenshot in its history.
    turn(&mut lsp, "thanks").await;
    let requests = standin.recorded();
    let body = &requests.last().expect("a request").body;
    let images = support::images_in(body);
    assert_eq!(images.len(), 1, "{images:?}");
    let carrier = &body["messages"][images[0].0];
    assert!(
        carrier["content"][0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("at render (main.js:3:54)")),
        "the fix round's report carries it: {carrier}"
    );
    assert!(lsp.stop().await.success());
}
