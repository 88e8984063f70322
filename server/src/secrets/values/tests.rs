use super::*;

#[test]
fn secret_looking_names_and_url_passwords_are_secrets_numbers_and_booleans_never() {
    assert_eq!(secret_named("DB_PASSWORD", "hunter2"), ["hunter2"]);
    assert_eq!(
        secret_named("STRIPE_SECRET_KEY", " sk_live_abc "),
        ["sk_live_abc"]
    );
    assert!(secret_named("PORT", "3000").is_empty());
    assert!(secret_named("AUTH_ENABLED", "true").is_empty());
    assert!(secret_named("API_KEY", "12345678").is_empty(), "a number");
    assert!(secret_named("API_KEY", "abc").is_empty(), "too short");
    assert!(secret_named("HOME_PAGE", "https://example.com").is_empty());
    // Words, not letters: NEXTAUTH_URL holds a URL, not a secret; MONKEY is no KEY.
    assert!(secret_named("NEXTAUTH_URL", "http://localhost:3000").is_empty());
    assert!(secret_named("MONKEY_NAME", "bonobo-123").is_empty());
    assert!(secret_named("AUTHOR", "someone-else").is_empty());
    assert_eq!(secret_named("openaiApiKey", "sk-abcdef"), ["sk-abcdef"]);
    assert_eq!(secret_named("GITHUB_APIKEY", "gh-abcdef"), ["gh-abcdef"]);
    assert_eq!(
        secret_named("NEXTAUTH_SECRET", "abcdef-123"),
        ["abcdef-123"]
    );
    // A local database's default password is not hidden wherever the word appears; its URL is.
    assert_eq!(
        secret_named(
            "DATABASE_URL",
            "postgresql://postgres:postgres@localhost:5432/app"
        ),
        ["postgresql://postgres:postgres@localhost:5432/app"]
    );
    assert_eq!(
        secret_named("DATABASE_URL", "postgres://app:s3cretpw@db:5432/app"),
        ["postgres://app:s3cretpw@db:5432/app", "s3cretpw"]
    );
    assert_eq!(
        secret_named("Authorization", "Bearer tok_0123456789"),
        ["Bearer tok_0123456789", "tok_0123456789"]
    );
}

#[test]
fn dotenv_lines_are_read_as_dotenv_tools_read_them() {
    let text = "# comment\nexport GITHUB_TOKEN=\"ghp_quoted # not a comment\"\nSESSION_SECRET=plain-value # a comment\nPORT=3000\nDEBUG=true\nEMPTY_KEY=\nSINGLE_PWD='single quoted'\n";
    assert_eq!(
        dotenv_secrets(text),
        ["ghp_quoted # not a comment", "plain-value", "single quoted"]
    );
}

#[test]
fn known_values_are_redacted_and_a_source_replaces_its_own() {
    assert!(know("test-a", ["value-of-a-1".to_owned(), "42".to_owned()]));
    assert!(!know("test-a", ["value-of-a-1".to_owned()]), "the same set");
    assert_eq!(
        redact("x value-of-a-1 y 42"),
        "x [redacted] y 42",
        "a number is never a secret"
    );
    know("test-a", ["value-of-a-2".to_owned()]);
    assert_eq!(
        redact("value-of-a-1 value-of-a-2"),
        "value-of-a-1 [redacted]"
    );
    know("test-a", []);
    assert!(matches!(redact("value-of-a-2"), Cow::Borrowed(_)));
}

#[test]
fn a_value_cut_between_chunks_is_still_caught() {
    know("test-stream", ["streamed-secret-123".to_owned()]);
    let output = b"token: streamed-secret-123\nagain streamed-secret-123 and PORT=3000\n";
    // Every way of cutting the output in two, and byte by byte.
    for cut in 0..=output.len() {
        let mut stream = Stream::default();
        let mut seen = stream.feed(&output[..cut]);
        seen.extend(stream.feed(&output[cut..]));
        seen.extend(stream.finish());
        assert_eq!(
            String::from_utf8(seen).expect("utf-8"),
            "token: [redacted]\nagain [redacted] and PORT=3000\n",
            "cut at {cut}"
        );
    }
    let mut stream = Stream::default();
    let mut seen = Vec::new();
    for byte in output {
        seen.extend(stream.feed(std::slice::from_ref(byte)));
    }
    seen.extend(stream.finish());
    assert!(!String::from_utf8_lossy(&seen).contains("streamed-secret"));
    // A secret that starts a longer one waits for the rest.
    know(
        "test-stream-2",
        [
            "nested-abc123".to_owned(),
            "nested-abc123-longer".to_owned(),
        ],
    );
    let mut stream = Stream::default();
    let mut seen = stream.feed(b"x nested-abc123");
    seen.extend(stream.feed(b"-longer y\n"));
    seen.extend(stream.finish());
    assert_eq!(String::from_utf8(seen).expect("utf-8"), "x [redacted] y\n");
    know("test-stream-2", []);
    // What only looks like a start is let through at the end.
    let mut stream = Stream::default();
    assert_eq!(stream.feed(b"a streamed-"), b"a ");
    assert_eq!(stream.finish(), b"streamed-");
}

#[test]
fn a_workspace_env_files_are_found_two_levels_down() {
    let workspace = tempfile::tempdir().expect("dir");
    std::fs::write(workspace.path().join(".env"), "API_KEY=root-level-key\n").expect("write");
    std::fs::create_dir_all(workspace.path().join("apps/web")).expect("dir");
    std::fs::write(
        workspace.path().join("apps/web/.env.local"),
        "NEXTAUTH_SECRET=nested-secret\n",
    )
    .expect("write");
    std::fs::write(
        workspace.path().join(".env.example"),
        "API_KEY=your-key-here\n",
    )
    .expect("write");
    std::fs::create_dir_all(workspace.path().join("node_modules/x")).expect("dir");
    std::fs::write(
        workspace.path().join("node_modules/x/.env"),
        "API_KEY=not-ours\n",
    )
    .expect("write");
    let mut found = env_file_secrets(workspace.path());
    found.sort();
    assert_eq!(found, ["nested-secret", "root-level-key"]);
}

#[test]
fn a_page_checks_verdict_is_redacted_like_every_event() {
    use crate::types::{PageCheck, PageProblem, PageProblemKind, TurnEvent};
    know("test-page", ["sk-page-secret-123".to_owned()]);
    let mut event = TurnEvent::Page(PageCheck {
        url: "http://127.0.0.1:5173/".to_owned(),
        problems: vec![PageProblem {
            kind: PageProblemKind::Console,
            message: "login failed with key sk-page-secret-123".to_owned(),
            frames: vec!["send (src/api.js:3:1) sk-page-secret-123".to_owned()],
            count: 1,
        }],
        error: Some("sk-page-secret-123".to_owned()),
        ..PageCheck::default()
    });
    redact_event(&mut event);
    let TurnEvent::Page(check) = event else {
        panic!("a page check")
    };
    assert_eq!(
        check.problems[0].message,
        "login failed with key [redacted]"
    );
    assert_eq!(
        check.problems[0].frames[0],
        "send (src/api.js:3:1) [redacted]"
    );
    assert_eq!(check.error.as_deref(), Some("[redacted]"));
    know("test-page", []);
}
