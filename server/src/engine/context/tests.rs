use super::*;

#[test]
fn the_tree_folds_directories_but_the_branches_of_ranked_files() {
    let mut names: Vec<String> = (0..200)
        .map(|n| format!("app/components/c{n}.tsx"))
        .chain((0..50).map(|n| format!("app/lib/runtime/r{n}.ts")))
        .chain([
            "app/lib/runtime/action-runner.ts".to_owned(),
            "package.json".to_owned(),
        ])
        .chain((0..30).map(|n| format!(".github/w{n}.yml")))
        .collect();
    names.sort();
    let tree = folded_tree(&names, &["app/lib/runtime/action-runner.ts"], 600, 400);
    assert!(tree.contains("app/components/ (200 files)\n"), "{tree}");
    assert!(tree.contains(".github/ (30 files)\n"), "{tree}");
    assert!(
        tree.contains("app/lib/runtime/action-runner.ts\n"),
        "{tree}"
    );
    assert!(tree.contains("package.json\n"), "{tree}");
    assert!(
        tokens::estimate(&tree) <= 700,
        "{}",
        tokens::estimate(&tree)
    );
    // A tight budget folds the hot branch too, from the deepest up.
    let tight = folded_tree(&names, &["app/lib/runtime/action-runner.ts"], 40, 400);
    assert!(
        tight.contains("app/lib/runtime/ (51 files)") || tight.contains("app/ (281 files)"),
        "{tight}"
    );
    // Everything that fits is listed.
    let small: Vec<String> = vec!["a/b.js".into(), "c.js".into()];
    assert_eq!(folded_tree(&small, &[], 100, 400), "a/b.js\nc.js\n");
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn inputs<'a>(
    root: &'a Path,
    editor: &'a EditorContext,
    prompt: &'a str,
    tokens: usize,
) -> Inputs<'a> {
    Inputs {
        root,
        editor,
        prompt,
        recent: "",
        touched: &[],
        map: None,
        limits: Budget::default(),
        tokens,
    }
}

#[test]
fn lists_files_respecting_gitignore_and_never_sends_secrets() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    write(root, ".gitignore", "ignored/\n*.log\n");
    write(root, "src/main.js", "console.log('hi')\n");
    write(root, "ignored/x.js", "nope");
    write(root, "debug.log", "nope");
    write(root, "node_modules/pkg/index.js", "nope");
    write(root, ".env", "API_KEY=sk-very-secret");
    write(root, ".env.local", "TOKEN=also-secret");
    write(root, "certs/server.key", "PRIVATE");
    write(root, "big.txt", &"x".repeat(20_000));

    let editor = EditorContext {
        buffers: vec![EditorBuffer {
            path: "src/main.js".into(),
            text: "console.log('unsaved edit')\n".into(),
            dirty: true,
        }],
        selection: Some(Selection {
            path: "src/main.js".into(),
            start_line: 1,
            end_line: 1,
            text: "console.log".into(),
        }),
    };
    let context = assemble(&inputs(root, &editor, "go", 100_000)).text;
    assert!(context.contains("src/main.js\n"));
    assert!(
        context.contains(".env\n"),
        "secret files are listed by name"
    );
    assert!(
        !context.contains("ignored/x.js")
            && !context.contains("debug.log")
            && !context.contains("node_modules")
    );
    assert!(
        !context.contains("sk-very-secret")
            && !context.contains("also-secret")
            && !context.contains("PRIVATE")
    );
    assert!(
        context.contains(
            "<file path=\"src/main.js\" editor=\"unsaved\">\nconsole.log('unsaved edit')"
        )
    );
    assert!(
        !context.contains("console.log('hi')"),
        "the unsaved buffer replaces the disk"
    );
    assert!(
        !context.contains("xxxxxxxx"),
        "files over the budget are listed, not sent"
    );
    assert!(context.contains("<selection path=\"src/main.js\" lines=\"1-1\">"));
}

#[test]
fn mentions_attach_files_and_refuse_secrets_and_escapes() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    let big: String = (1..=3000)
        .map(|n| format!("line {n} of the big file\n"))
        .collect();
    write(root, "src/big.js", &big);
    write(root, ".env", "KEY=secret-value");
    assert_eq!(
        mentions("look at @src/big.js, @.env and @../outside.txt. Mail me@example"),
        ["src/big.js", ".env", "../outside.txt"]
    );
    let editor = EditorContext::default();
    let assembled = assemble(&inputs(
        root,
        &editor,
        "fix @src/big.js and @.env and @../outside.txt",
        4_000,
    ));
    assert!(
        assembled
            .text
            .contains("<file path=\"src/big.js\">\nline 1 of the big file")
    );
    assert!(
        assembled
            .text
            .contains("read the rest with <boltAction type=\"read\" filePath=\"src/big.js\"")
    );
    assert!(!assembled.text.contains("secret-value"));
    assert_eq!(assembled.refused.len(), 2, "{:?}", assembled.refused);
    assert!(tokens::estimate(&assembled.text) <= 4_000);
}

#[test]
fn the_context_stays_within_its_budget() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    for n in 0..300 {
        write(
            root,
            &format!("src/file{n}.js"),
            &format!("export const value{n} = {n};\n").repeat(40),
        );
    }
    let editor = EditorContext::default();
    for budget in [500, 2_000, 10_000] {
        let assembled = assemble(&inputs(root, &editor, "hello", budget));
        let cost = tokens::estimate(&assembled.text);
        assert!(
            cost <= budget + 64,
            "{cost} tokens for a budget of {budget}"
        );
    }
}
