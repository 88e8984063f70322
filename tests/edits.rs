//! Edit actions as data: for each `tests/edits/NAME.before` (a file, byte for byte) and `NAME.edit` (the
//! action's body), `NAME.result` holds the summary (`+1 −1, exact`) or the exact error, and `NAME.after`
//! the file afterwards (the file itself when the edit fails: all or none).
//! `OPENBOLT_BLESS=1 cargo nextest run --test edits` rewrites the expected files; review the diff.

mod support;

use openbolt::actions::edit::{apply, parse_blocks};
use std::path::Path;

#[test]
fn every_edit_case_gives_its_expected_result() {
    let directory = support::repository().join("tests/edits");
    let bless = std::env::var_os("OPENBOLT_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&directory)
        .expect("tests/edits")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "before")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 16, "the cases are gone");
    let mut failures = Vec::new();
    for before_path in cases {
        let read = |extension: &str| {
            std::fs::read_to_string(before_path.with_extension(extension)).unwrap_or_default()
        };
        let before = read("before");
        let edit = read("edit");
        let (result, after) = match parse_blocks(&edit).and_then(|blocks| apply(&before, &blocks)) {
            Ok(applied) => (format!("ok: {}\n", applied.summary()), applied.text),
            Err(error) => (format!("error: {error}\n"), before.clone()),
        };
        let name = before_path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("?");
        if bless {
            write(&before_path.with_extension("result"), &result);
            write(&before_path.with_extension("after"), &after);
            continue;
        }
        if result != read("result") || after != read("after") {
            failures.push(format!(
                "{name}:\n--- expected\n{}{}\n--- actual\n{result}{after}",
                read("result"),
                read("after")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the expected result");
}

// End to end: the real binary, the provider stand-in, a workspace.

mod lsp_client;

use lsp_client::{Lsp, uri};
use serde_json::{Value, json};
use support::{Format, Reply, StandIn, TempProject};

const LEDGER: &str = "// The ledger.\nexport function total(items) {\n  let total = 0;\n  for (const item of items) {\n    total += item.price * item.qty;\n  }\n  return total;\n}\n";

fn edit_action(path: &str, search: &str, replace: &str) -> String {
    format!(
        "<boltAction type=\"edit\" filePath=\"{path}\">\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n</boltAction>\n"
    )
}

fn artifact(actions: &str) -> String {
    format!(
        "Changing it.\n<boltArtifact id=\"change\" title=\"Change\">\n{actions}</boltArtifact>\n"
    )
}

const DISCOUNT_SEARCH: &str = "    total += item.price * item.qty;\n";
const DISCOUNT_REPLACE: &str = "    total += item.price * item.qty * (1 - (item.discount || 0));\n";

/// A project holding `src/ledger.js`.
fn project() -> TempProject {
    let project = TempProject::new();
    std::fs::create_dir_all(project.path.join("src")).expect("mkdir");
    std::fs::write(project.path.join("src/ledger.js"), LEDGER).expect("ledger");
    project
}

#[tokio::test]
async fn an_edit_changes_one_line_and_a_failed_one_changes_nothing_and_tells_the_model() {
    let first = artifact(
        &(edit_action("src/ledger.js", DISCOUNT_SEARCH, DISCOUNT_REPLACE)
            + &edit_action("src/ledger.js", "  return totals;\n", "  return 0;\n")),
    );
    let standin = StandIn::start(
        Format::OpenAi,
        vec![Reply::text(&first), Reply::text("Noted.")],
    )
    .await;
    let project = project();
    let (code, text) = project
        .openbolt(&standin, &["chat", "--auto-fix", "0", "add the discount"])
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("✓ edit src/ledger.js (+1 −1, exact)"),
        "{text}"
    );
    // An edit is quick, like a file: only its end is shown, never a "running" line.
    assert!(!text.contains("▸ edit"), "{text}");
    assert!(
        text.contains("✗ edit src/ledger.js — nothing was changed in src/ledger.js: block 1: the SEARCH text is not in the file"),
        "{text}"
    );
    assert_eq!(
        project.read("src/ledger.js"),
        LEDGER.replace(DISCOUNT_SEARCH, DISCOUNT_REPLACE)
    );

    // The next turn tells the model why, with the closest lines to retry from.
    let session = text
        .lines()
        .next()
        .and_then(|line| line.rsplit("session ").next())
        .expect("session")
        .trim()
        .to_owned();
    let (code, text) = project
        .openbolt(&standin, &["chat", "--session", &session, "why?"])
        .await;
    assert_eq!(code, Some(0), "{text}");
    let request = standin.recorded()[1].body.to_string();
    assert!(
        request.contains("the closest lines of the file"),
        "{request}"
    );
    assert!(request.contains("7│   return total;"), "{request}");

    // Revert puts the file back (the last turn changed nothing; the one before made the edit).
    let _ = project.openbolt(&standin, &["revert"]).await;
    let (_, report) = project.openbolt(&standin, &["revert"]).await;
    assert_eq!(project.read("src/ledger.js"), LEDGER, "{report}");
}

#[tokio::test]
async fn whole_file_rewrites_need_the_file_seen_and_no_placeholders() {
    let project = project();
    let big: String = (0..3000)
        .map(|n| format!("export const value{n} = {n};\n"))
        .collect();
    std::fs::write(project.path.join("src/big.js"), &big).expect("big");
    let rewrite = artifact(
        "<boltAction type=\"file\" filePath=\"src/big.js\">\nexport const only = 1;\n</boltAction>\n",
    );
    let placeholder = artifact(
        "<boltAction type=\"file\" filePath=\"src/new.js\">\nconst a = 1;\n// ... existing code ...\n</boltAction>\n",
    );
    let read = artifact("<boltAction type=\"read\" filePath=\"src/big.js\"/>\n");
    let standin = StandIn::start(
        Format::OpenAi,
        vec![
            Reply::text(&(rewrite.clone() + &placeholder)),
            Reply::text(&read),
            Reply::text(&rewrite),
        ],
    )
    .await;
    // Unseen (too big for the context): refused; a placeholder: refused.
    let (code, text) = project
        .openbolt(
            &standin,
            &[
                "chat",
                "--auto-fix",
                "0",
                "--context-tokens",
                "200000",
                "shrink it",
            ],
        )
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("✗ file src/big.js — refused: src/big.js exists and you have not seen its current content in this conversation — read it first, or use an edit"),
        "{text}"
    );
    assert!(text.contains("✗ file src/new.js — refused: the file stands in for code with a placeholder (// ... existing code ...)"), "{text}");
    assert_eq!(project.read("src/big.js"), big);
    assert!(!project.path.join("src/new.js").exists());

    // Read whole first: then the rewrite is allowed.
    let (code, text) = project
        .openbolt(
            &standin,
            &["chat", "--context-tokens", "200000", "shrink it"],
        )
        .await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("✓ read src/big.js (3000 lines)")
            && text.contains("✓ file src/big.js (+1 −3000)"),
        "{text}"
    );
    assert_eq!(project.read("src/big.js"), "export const only = 1;\n");
}

async fn lsp(project: &TempProject, standin: &StandIn, options: serde_json::Value) -> Lsp {
    Lsp::start(&project.path, &project.lsp_env(standin), options, false).await
}

fn apply_edits(lsp: &Lsp) -> Vec<Value> {
    lsp.seen
        .iter()
        .filter(|message| message["method"] == "workspace/applyEdit")
        .map(|message| message["params"]["edit"]["documentChanges"].clone())
        .collect()
}

/// The user's unsaved change (a comment on line 1) and the AI's edit (line 5) both survive: a plain
/// client gets the edit in its buffer (small line edits) and the disk stays as it was; a client that
/// saves edits saves the buffer, both changes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_goes_to_the_dirty_buffer_and_keeps_the_users_changes() {
    for saves_edits in [false, true] {
        let reply = artifact(&edit_action(
            "src/ledger.js",
            DISCOUNT_SEARCH,
            DISCOUNT_REPLACE,
        ));
        let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&reply)]).await;
        let project = project();
        let mut lsp = lsp(&project, &standin, json!({"savesEdits": saves_edits})).await;
        let path = project.path.join("src/ledger.js");
        let unsaved = LEDGER.replace("// The ledger.", "// The ledger. (my unsaved note)");
        lsp.open_document(&path, &unsaved).await;
        let response = lsp
            .request("openbolt/chat", json!({"prompt": "discount"}))
            .await;
        assert_eq!(response["result"]["status"], "complete", "{response}");
        let both = unsaved.replace(DISCOUNT_SEARCH, DISCOUNT_REPLACE);
        assert_eq!(
            lsp.open[&uri(&path)].1,
            both,
            "both changes are in the buffer"
        );
        let edits = apply_edits(&lsp);
        assert_eq!(edits.len(), 1);
        let text_edits = edits[0][0]["edits"].as_array().expect("edits");
        assert_eq!(text_edits.len(), 1, "{text_edits:?}");
        assert_eq!(
            text_edits[0]["range"],
            json!({"start": {"line": 4, "character": 0}, "end": {"line": 5, "character": 0}})
        );
        let update = lsp
            .notifications("openbolt/actionUpdate")
            .into_iter()
            .find(|update| update["status"] == "complete")
            .expect("complete");
        if saves_edits {
            assert_eq!(project.read("src/ledger.js"), both);
            assert_eq!(update["summary"], "+1 −1, exact");
            // The turn's before and after, for a diff view.
            let message = response["result"]["messageId"].clone();
            let diff = lsp
                .request(
                    "openbolt/fileDiff",
                    json!({"messageId": message, "filePath": "src/ledger.js"}),
                )
                .await;
            // Before: what the user saw (their unsaved note included).
            assert_eq!(diff["result"]["before"], unsaved.as_str(), "{diff}");
            assert_eq!(diff["result"]["after"], both.as_str(), "{diff}");
            assert_eq!(diff["result"]["existed"], true);
            let outside = lsp
                .request(
                    "openbolt/fileDiff",
                    json!({"messageId": message, "filePath": "../x"}),
                )
                .await;
            assert_eq!(outside["error"]["code"], -32602, "{outside}");
            // Reverting the edit gives back what the user had, their unsaved note included.
            let session = response["result"]["sessionId"].clone();
            let reverted = lsp
                .request("openbolt/revert", json!({"sessionId": session}))
                .await;
            assert_eq!(
                reverted["result"]["files"][0]["status"], "restored",
                "{reverted}"
            );
            assert_eq!(project.read("src/ledger.js"), unsaved);
        } else {
            assert_eq!(
                project.read("src/ledger.js"),
                LEDGER,
                "the disk stays as it was"
            );
            assert_eq!(update["summary"], "+1 −1, exact; in the editor, not saved");
        }
        assert!(lsp.stop().await.success());
    }
}

/// A file action on an open 2,000-line document that changes one line sends one small edit, not the
/// whole document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_of_an_open_document_is_sent_as_a_line_diff() {
    let before: String = (0..2000).map(|n| format!("line {n}\n")).collect();
    let after = before.replace("line 1500\n", "line fifteen hundred\n");
    let reply = artifact(&format!(
        "<boltAction type=\"file\" filePath=\"src/long.txt\">\n{after}</boltAction>\n"
    ));
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&reply)]).await;
    let project = project();
    let path = project.path.join("src/long.txt");
    std::fs::write(&path, &before).expect("long");
    let mut lsp = lsp(
        &project,
        &standin,
        json!({"savesEdits": true, "contextTokens": 100000}),
    )
    .await;
    lsp.open_document(&path, &before).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "rename"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let edits = apply_edits(&lsp);
    let text_edits = edits[0][0]["edits"].as_array().expect("edits");
    assert_eq!(text_edits.len(), 1);
    assert_eq!(text_edits[0]["newText"], "line fifteen hundred\n");
    assert_eq!(text_edits[0]["range"]["start"]["line"], 1500);
    assert_eq!(project.read("src/long.txt"), after);
    assert!(lsp.stop().await.success());
}

/// What models trained on other tools write (tests/edits cases, as data): blank lines at the edges of
/// SEARCH that the file does not have, Cline's markers, markers one character longer.
const TOLERATED: [&str; 4] = [
    "blank_line_before_search",
    "blank_line_after_search",
    "cline_markers",
    "longer_markers",
];

/// Each tolerated case's file, its edit action, the summary it must report and the file after.
fn tolerated_cases(project: &TempProject) -> (String, Vec<(String, String, String)>) {
    let cases = support::repository().join("tests/edits");
    let read = |name: &str, extension: &str| {
        std::fs::read_to_string(cases.join(format!("{name}.{extension}"))).expect("a case file")
    };
    let mut actions = String::new();
    let mut expected = Vec::new();
    for name in TOLERATED {
        let path = format!("src/{name}.js");
        std::fs::write(project.path.join(&path), read(name, "before")).expect("before");
        actions.push_str(&format!(
            "<boltAction type=\"edit\" filePath=\"{path}\">\n{}</boltAction>\n",
            read(name, "edit")
        ));
        let summary = read(name, "result")
            .trim()
            .strip_prefix("ok: ")
            .expect("a tolerated case applies")
            .to_owned();
        expected.push((path, summary, read(name, "after")));
    }
    (artifact(&actions), expected)
}

#[tokio::test]
async fn what_models_really_write_applies_through_the_cli() {
    let project = project();
    let (reply, expected) = tolerated_cases(&project);
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&reply)]).await;
    let (code, text) = project
        .openbolt(&standin, &["chat", "--auto-fix", "0", "apply them"])
        .await;
    assert_eq!(code, Some(0), "{text}");
    for (path, summary, after) in expected {
        assert!(
            text.contains(&format!("✓ edit {path} ({summary})")),
            "{text}"
        );
        assert_eq!(project.read(&path), after, "{path}");
    }
    assert!(text.contains("blank edges"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_models_really_write_applies_through_the_lsp() {
    let project = project();
    let (reply, expected) = tolerated_cases(&project);
    let standin = StandIn::start(Format::OpenAi, vec![Reply::text(&reply)]).await;
    let mut lsp = lsp(&project, &standin, json!({"savesEdits": true})).await;
    let response = lsp
        .request("openbolt/chat", json!({"prompt": "apply them"}))
        .await;
    assert_eq!(response["result"]["status"], "complete", "{response}");
    let updates = lsp.notifications("openbolt/actionUpdate");
    for (path, summary, after) in expected {
        let update = updates
            .iter()
            .find(|update| update["status"] == "complete" && update["filePath"] == path.as_str())
            .unwrap_or_else(|| panic!("{path} completes: {updates:?}"));
        assert_eq!(update["summary"], summary.as_str(), "{path}");
        assert_eq!(project.read(&path), after, "{path}");
    }
    assert!(lsp.stop().await.success());
}
