use super::*;
use serde_json::json;

#[test]
fn configuration_in_the_usual_shape_and_its_mistakes_by_name() {
    let mut config = McpConfig::default();
    config.add(
        &json!({
            "docs": {"command": "npx", "args": ["-y", "docs-server"], "env": {"TOKEN": "x"}},
            "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer t"}},
            "off": {"command": "x", "disabled": true},
            "typo": {"comand": "x"},
            "neither": {"args": []},
            "both": {"command": "x", "url": "http://a"},
            "bad-args": {"command": "x", "args": "one"}
        }),
        "test",
    );
    let names: Vec<&str> = config
        .servers
        .iter()
        .map(|server| server.name.as_str())
        .collect();
    assert_eq!(names, ["docs", "remote"]);
    assert_eq!(
        config.servers[0].transport,
        Transport::Stdio {
            command: "npx".into(),
            args: vec!["-y".into(), "docs-server".into()],
            env: [("TOKEN".to_owned(), "x".to_owned())].into(),
            cwd: None
        }
    );
    assert_eq!(config.errors.len(), 4, "{:?}", config.errors);
    assert!(
        config
            .errors
            .iter()
            .any(|error| error.contains("\"typo\"") && error.contains("unknown key \"comand\""))
    );
    assert!(
        config
            .errors
            .iter()
            .any(|error| error.contains("\"neither\"") && error.contains("needs \"command\""))
    );
    assert!(config.errors.iter().any(|error| error.contains("\"both\"")));
    assert!(
        config
            .errors
            .iter()
            .any(|error| error.contains("\"bad-args\"") && error.contains("list of strings"))
    );
}

#[test]
fn later_sources_replace_a_server_by_name_and_bad_files_are_named() {
    let dir = tempfile::tempdir().expect("dir");
    let workspace = dir.path().join("project");
    std::fs::create_dir_all(workspace.join(".openbolt")).expect("dirs");
    std::fs::create_dir_all(dir.path().join("config/openbolt")).expect("dirs");
    std::fs::write(
        dir.path().join("config/openbolt/mcp.json"),
        r#"{"mcpServers": {"a": {"command": "user-a"}, "b": {"command": "user-b"}}}"#,
    )
    .expect("user file");
    std::fs::write(
        workspace.join(".openbolt/mcp.json"),
        r#"{"mcpServers": {"a": {"command": "workspace-a"}}}"#,
    )
    .expect("workspace file");
    let settings = json!({"b": {"url": "http://localhost:1/mcp"}});
    let config = McpConfig::load(
        &workspace,
        Some(&dir.path().join("config")),
        Some(&settings),
    );
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let a = config
        .servers
        .iter()
        .find(|server| server.name == "a")
        .expect("a");
    assert!(matches!(&a.transport, Transport::Stdio { command, .. } if command == "workspace-a"));
    let b = config
        .servers
        .iter()
        .find(|server| server.name == "b")
        .expect("b");
    assert!(matches!(&b.transport, Transport::Http { .. }));
    std::fs::write(workspace.join(".openbolt/mcp.json"), "{ not json").expect("bad");
    let config = McpConfig::load(&workspace, None, None);
    assert_eq!(config.errors.len(), 1);
    assert!(
        config.errors[0].contains(".openbolt/mcp.json is not JSON"),
        "{:?}",
        config.errors
    );
}

#[test]
fn results_are_text_with_the_rest_summarized_and_long_ones_cut() {
    let result = json!({"content": [
        {"type": "text", "text": "Echo: hi"},
        {"type": "image", "mimeType": "image/png", "data": "AAAA"},
        {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "A"}}
    ]});
    assert_eq!(
        result_text(&result),
        "Echo: hi\n[image: image/png, 4 bytes of base64]\n[resource file:///a.txt]\nA"
    );
    let long = json!({"content": [{"type": "text", "text": "x".repeat(MAX_RESULT_CHARS + 10)}]});
    let text = result_text(&long);
    assert!(text.ends_with(&format!(
        "[… cut: the result has {} characters; the first {MAX_RESULT_CHARS} are shown]",
        MAX_RESULT_CHARS + 10
    )));
    assert_eq!(
        result_text(&json!({"content": [], "structuredContent": {"n": 1}})),
        "{\"n\":1}"
    );
}
