//! The voice's renderings, checked as the model reads them.

use super::*;
use crate::actions::read::show;
use crate::types::{ActionKind, ActionStatus};
use serde_json::json;

fn update(kind: ActionKind, path: Option<&str>, command: Option<&str>) -> ActionUpdate {
    ActionUpdate::for_test(kind, path, command, ActionStatus::Failed)
}

#[test]
fn tools_are_listed_compactly_within_their_budget() {
    let tool = |name: &str| ToolInfo {
        server: "everything".into(),
        name: name.into(),
        description: "Echoes back the input.\nMore detail.".into(),
        input_schema: json!({"type": "object", "properties": {"message": {"type": "string"}, "n": {"type": "integer"}}, "required": ["message"]}),
    };
    let listed = tools(&[tool("echo")], 1_000);
    assert!(listed.contains("- server=\"everything\" tool=\"echo\": Echoes back the input. Arguments: {message: string, n?: integer}"), "{listed}");
    let many: Vec<ToolInfo> = (0..200).map(|index| tool(&format!("t{index}"))).collect();
    let listed = tools(&many, 500);
    assert!(
        crate::tokens::estimate(&listed) <= 510,
        "{}",
        crate::tokens::estimate(&listed)
    );
    assert!(
        listed.contains("More tools (no room to describe them): everything/t"),
        "{listed}"
    );
    assert!(listed.trim_end().ends_with(" more"), "{listed}");
}

#[test]
fn a_read_is_shown_as_a_file_with_how_to_read_on() {
    let content: String = (1..=412).map(|n| format!("let v{n} = {n};\n")).collect();
    let text = shown_file(&show(
        "src/big.js",
        &content,
        Some(crate::actions::read::LineRange {
            first: 120,
            last: Some(240),
        }),
        100_000,
    ));
    assert!(
        text.starts_with("<file path=\"src/big.js\" shown=\"120-240\" of=\"412\">\n120│ let v120"),
        "{text}"
    );
    let cut = shown_file(&show("src/big.js", &content, None, 200));
    assert!(
        cut.contains("read on with <boltAction type=\"read\" filePath=\"src/big.js\" lines=\""),
        "{cut}"
    );
    assert!(crate::tokens::estimate(&cut) < 300);
    assert_eq!(
        shown_file(&show("a.txt", "short\n", None, 100)),
        "<file path=\"a.txt\" lines=\"1\">\nshort\n</file>\n"
    );
}

#[test]
fn answers_name_their_files_for_history_and_say_why_one_is_missing() {
    let mut read = update(ActionKind::Read, Some("src/a.js"), None);
    read.status = ActionStatus::Complete;
    read.action_id = 0;
    let mut refused = update(ActionKind::Read, Some(".env"), None);
    refused.action_id = 1;
    refused.error = Some("refused: \".env\" holds secrets".into());
    let mut tool = update(ActionKind::Tool, None, Some("everything · echo {}"));
    tool.action_id = 2;
    let report = RunnerReport {
        answers: vec![(0, Answer::Read(show("src/a.js", "x\n", None, 100)))],
        ..RunnerReport::default()
    };
    let said = answers(&[read, refused, tool], &report, 3).expect("answers");
    assert!(
        said.text
            .contains("<file path=\"src/a.js\" lines=\"1\">\nx\n</file>\n<file path=\".env\" refused=\"refused: '.env' holds secrets\"/>"),
        "{}",
        said.text
    );
    assert!(
        said.text
            .contains("<tool-result call=\"everything · echo {}\" refused=\"not called\"/>"),
        "{}",
        said.text
    );
    assert_eq!(
        said.short,
        "<read-results>(files shown then: src/a.js; tool results shown then; look them up again if you need them)"
    );
    assert!(
        said.text
            .starts_with("<read-results>\nThe files you asked to read")
    );
    // Actions that do not answer within the turn ask for nothing.
    assert_eq!(
        answers(&[update(ActionKind::Shell, None, Some("ls"))], &report, 3),
        None
    );
    assert!(said.text.contains("Look up more only if you must"));
}

#[test]
fn searches_answer_with_their_lines_and_the_last_round_says_so() {
    use crate::actions::search::{Found, Query, Stopped};
    let query = Query {
        pattern: Some("npm install".into()),
        path: Some("app/**".into()),
        regex: false,
        case_sensitive: false,
    };
    let found = Found {
        query: query.clone(),
        body: "app/a.ts:3: run('npm install')\n".into(),
        hits: Vec::new(),
        matches: 40,
        files: 7,
        more_matches: 39,
        more_files: 6,
        stopped: Some(Stopped::Time(std::time::Duration::from_secs(2))),
    };
    let mut search = update(ActionKind::Search, Some("app/**"), Some(&query.label()));
    search.status = ActionStatus::Complete;
    let mut bad = update(ActionKind::Search, None, Some("/run((/"));
    bad.action_id = 1;
    bad.error = Some("the pattern is not a valid regular expression: unclosed group".into());
    let report = RunnerReport {
        answers: vec![(0, Answer::Search(found))],
        ..RunnerReport::default()
    };
    let said = answers(&[search, bad], &report, 0).expect("answers");
    assert!(
        said.text.contains(
            "<search pattern=\"npm install\" path=\"app/**\" found=\"40 matches in 7 files (stopped early)\">\napp/a.ts:3: run('npm install')\n[39 more matching lines in 6 files, not shown — narrow the pattern or the path]\n[the search stopped after 2 s: only part of the workspace was searched — narrow the path]\n</search>\n"
        ),
        "{}",
        said.text
    );
    assert!(
        said.text.contains(
            "<search query=\"/run((/\" error=\"the pattern is not a valid regular expression: unclosed group\"/>"
        ),
        "{}",
        said.text
    );
    assert!(
        said.text
            .contains("That was the last look-up this turn allows")
    );
    assert_eq!(
        said.short,
        "<read-results>(searches answered then: \"npm install\" in app/**, /run((/; look them up again if you need them)"
    );
    let mut many_files = report.answers[0].1.clone();
    if let Answer::Search(found) = &mut many_files {
        found.stopped = Some(Stopped::Files(100_000));
        found.query.pattern = None;
        let text = search_result(found);
        assert!(
            text.contains("[39 more files, not shown — narrow the path]\n[the search stopped after 100000 files"),
            "{text}"
        );
    }
    assert_eq!(
        short_reply(
            "<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"search\" pattern=\"x\" path=\"src\"/></boltArtifact>"
        ),
        "[search \"x\" in src]\n"
    );
}

#[test]
fn a_fix_round_states_each_problem_once_and_the_results_list_only_statuses() {
    let mut command = update(ActionKind::Shell, None, Some("npm test"));
    command.exit_code = Some(1);
    command.error = Some("exited with code 1".into());
    command.output_tail = Some("FAIL app.test.js\nexpected 2, got 3\n".into());
    let report = fix_report(&[Problem::failed(&command)], 1, 3);
    let listed = previous_results(std::slice::from_ref(&command), Detail::StatusOnly);
    let whole = format!("{listed}{report}");
    assert_eq!(whole.matches("expected 2, got 3").count(), 1, "{whole}");
    assert_eq!(whole.matches("exited with code 1").count(), 1, "{whole}");
    assert!(listed.contains("- shell `npm test`: failed\n"), "{listed}");
    // Outside a fix round the list gives the detail.
    let full = previous_results(std::slice::from_ref(&command), Detail::Full);
    assert!(
        full.contains("(exit code 1) — exited with code 1") && full.contains("expected 2, got 3")
    );
}
