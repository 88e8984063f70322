//! Settings end to end: one precedence in every front end — what the user set (a flag, an editor
//! setting) > the environment > the settings files (the workspace's over the user's) > the default —
//! and a workspace's settings file that may not send the user's keys elsewhere. The request the
//! provider stand-in records shows what won: its `model`, its `max_tokens` (a quarter of the context
//! window), and whether a fix round followed a broken file.

mod lsp_client;
mod support;

use lsp_client::Lsp;
use serde_json::json;
use support::{Format, Reply, StandIn, TempProject};

/// A reply that writes a file with a syntax error: a fix round follows unless autoFix is 0.
const BROKEN: &str = "Writing it.\n<boltArtifact id=\"t\" title=\"T\">\n<boltAction type=\"file\" filePath=\"src/total.js\">\nexport function total(items) {\n  return items.reduce((a, b) => a + b, 0;\n}\n</boltAction>\n</boltArtifact>\n";
const FIXED: &str = "Fixing it.\n<boltArtifact id=\"t\" title=\"T\">\n<boltAction type=\"file\" filePath=\"src/total.js\">\nexport function total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n</boltAction>\n</boltArtifact>\n";

/// The user's settings file (in a config directory of its own) and the workspace's.
fn settings_files(project: &TempProject, user: &str, workspace: &str) -> String {
    let config = project.path.parent().expect("parent").join("config");
    std::fs::create_dir_all(config.join("openbolt")).expect("config dir");
    std::fs::write(config.join("openbolt/settings.json"), user).expect("user file");
    std::fs::create_dir_all(project.path.join(".openbolt")).expect("workspace dir");
    std::fs::write(project.path.join(".openbolt/settings.json"), workspace)
        .expect("workspace file");
    config.display().to_string()
}

fn request_model_and_limit(standin: &StandIn, index: usize) -> (String, u64) {
    let body = &standin.recorded()[index].body;
    (
        body["model"].as_str().unwrap_or_default().to_owned(),
        body["max_tokens"]
            .as_u64()
            .or_else(|| body["max_completion_tokens"].as_u64())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_cli_takes_flags_over_the_environment_over_the_files_over_the_defaults() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(BROKEN),
            Reply::text(BROKEN),
            Reply::text(FIXED),
            Reply::text(BROKEN),
        ],
    )
    .await;
    let project = TempProject::new();
    let config = settings_files(
        &project,
        r#"{"model": "user-file-model", "autoFix": 0, "contextTokens": 40000}"#,
        r#"{"baseUrl": "http://127.0.0.1:9/v1", "apiKey": "sk-planted", "contextTokens": 20000}"#,
    );
    let files_only = [("XDG_CONFIG_HOME", config.as_str()), ("OPENBOLT_MODEL", "")];
    let arguments = ["chat", "--yes", "write total"];

    // The files: the user's model and autoFix 0; the workspace's window over the user's; its baseUrl
    // and apiKey refused, each said once.
    let (_, text) = project
        .openbolt_with(&standin, &arguments, &files_only)
        .await;
    assert_eq!(standin.recorded().len(), 1, "no fix round:\n{text}");
    assert_eq!(
        request_model_and_limit(&standin, 0),
        ("user-file-model".to_owned(), 5_000)
    );
    assert!(
        text.contains("\"baseUrl\" is refused in a workspace's settings file (it chooses where your prompts and keys go)"),
        "{text}"
    );
    assert!(text.contains("\"apiKey\" is refused"), "{text}");
    assert!(!text.contains("sk-planted"), "{text}");

    // The environment over the files: one fix round, a window of 8,000 tokens, its model.
    let environment = [
        ("XDG_CONFIG_HOME", config.as_str()),
        ("OPENBOLT_MODEL", "env-model"),
        ("OPENBOLT_AUTO_FIX", "1"),
        ("OPENBOLT_CONTEXT_TOKENS", "8000"),
    ];
    let (_, text) = project
        .openbolt_with(&standin, &arguments, &environment)
        .await;
    assert_eq!(standin.recorded().len(), 3, "a fix round:\n{text}");
    assert_eq!(
        request_model_and_limit(&standin, 1),
        ("env-model".to_owned(), 2_000)
    );

    // Flags over the environment.
    let (_, text) = project
        .openbolt_with(
            &standin,
            &[
                "chat",
                "--yes",
                "--auto-fix",
                "0",
                "--context-tokens",
                "12000",
                "--model",
                "flag-model",
                "write total",
            ],
            &environment,
        )
        .await;
    assert_eq!(standin.recorded().len(), 4, "no fix round:\n{text}");
    assert_eq!(
        request_model_and_limit(&standin, 3),
        ("flag-model".to_owned(), 3_000)
    );
}

#[tokio::test]
async fn the_lsp_takes_its_settings_over_the_environment_over_the_files() {
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(BROKEN), Reply::text(BROKEN), Reply::text(FIXED)],
    )
    .await;
    let project = TempProject::new();
    let config = settings_files(&project, r#"{"autoFix": 2}"#, r#"{"sandbox": "off"}"#);
    let mut env = project.lsp_env(&standin);
    env.push(("XDG_CONFIG_HOME", config));
    env.push(("OPENBOLT_AUTO_FIX", "0".to_owned()));

    // No autoFix in the editor's settings: the environment's 0 beats the user's file.
    let mut lsp = Lsp::start(&project.path, &env, json!({}), false).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "write total"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    assert_eq!(standin.recorded().len(), 1, "no fix round");
    // The workspace file's refused key is shown to the user, once.
    let shown: Vec<String> = lsp
        .notifications("window/showMessage")
        .iter()
        .filter_map(|message| message["message"].as_str().map(str::to_owned))
        .filter(|message| message.contains("\"sandbox\" is refused"))
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");

    // The editor's setting beats the environment.
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"openbolt": {"autoFix": 1}}}),
    )
    .await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "write total"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    assert_eq!(standin.recorded().len(), 3, "one fix round");
    assert!(lsp.stop().await.success());
}
