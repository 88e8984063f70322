use super::*;

/// A workspace with a few files (canonical root).
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    (dir, root)
}

fn query(pattern: Option<&str>, path: Option<&str>) -> Query {
    Query {
        pattern: pattern.map(str::to_owned),
        path: path.map(str::to_owned),
        regex: false,
        case_sensitive: false,
    }
}

fn run(root: &Path, query: &Query) -> Result<Found, String> {
    run_with(root, query, &[], &[], 10_000)
}

fn run_with(
    root: &Path,
    query: &Query,
    ranked: &[String],
    open: &[(PathBuf, String)],
    budget: usize,
) -> Result<Found, String> {
    search(
        query,
        &Setting {
            root,
            ranked,
            open,
            budget,
            limits: LIMITS,
        },
    )
}

const APP: &[(&str, &str)] = &[
    (
        "app/lib/install.ts",
        "import { run } from './run';\n\nexport function install() {\n  return run('npm install');\n}\n",
    ),
    (
        "app/lib/ci.ts",
        "// CI runs npm install --frozen\nexport const ci = true;\n",
    ),
    ("README.md", "Run `NPM INSTALL` first.\n"),
    ("docs/guide/setup.md", "npm install, then npm start\n"),
];

#[test]
fn matching_lines_come_as_path_line_text_with_a_line_around_them() {
    let (_dir, root) = workspace(APP);
    let found = run(&root, &query(Some("npm install"), None)).expect("found");
    assert_eq!((found.matches, found.files), (4, 4), "{}", found.body);
    assert_eq!(found.summary(), "4 matches in 4 files");
    assert!(
        found.body.contains(
            "app/lib/install.ts-3- export function install() {\napp/lib/install.ts:4:   return run('npm install');\napp/lib/install.ts-5- }\n"
        ),
        "{}",
        found.body
    );
    // Case is ignored unless asked for.
    assert!(found.body.contains("README.md:1: Run `NPM INSTALL` first."));
    assert_eq!(found.more_matches, 0);
    assert_eq!(found.hits.len(), 4);
    let hit = found
        .hits
        .iter()
        .find(|hit| hit.path == "app/lib/install.ts")
        .expect("a hit");
    assert_eq!(hit.line, Some(4));

    let mut sensitive = query(Some("NPM INSTALL"), None);
    sensitive.case_sensitive = true;
    let found = run(&root, &sensitive).expect("found");
    assert_eq!((found.matches, found.files), (1, 1), "{}", found.body);
}

#[test]
fn the_ranked_files_come_first() {
    let (_dir, root) = workspace(APP);
    let ranked = vec!["docs/guide/setup.md".to_owned(), "app/lib/ci.ts".to_owned()];
    let found = run_with(
        &root,
        &query(Some("npm install"), None),
        &ranked,
        &[],
        10_000,
    )
    .expect("found");
    let order: Vec<&str> = found.hits.iter().map(|hit| hit.path.as_str()).collect();
    assert_eq!(
        order,
        [
            "docs/guide/setup.md",
            "app/lib/ci.ts",
            "README.md",
            "app/lib/install.ts"
        ]
    );
}

#[test]
fn what_does_not_fit_the_budget_is_counted_not_shown() {
    let many: String = (1..=200)
        .map(|n| format!("const value{n} = lookup('needle {n}');\nconst other{n} = {n};\n"))
        .collect();
    let files: Vec<(String, String)> = (0..30)
        .map(|n| (format!("src/module{n:02}.js"), many.clone()))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let (_dir, root) = workspace(&borrowed);
    let found = run_with(&root, &query(Some("needle"), None), &[], &[], 600).expect("found");
    assert_eq!((found.matches, found.files), (6_000, 30));
    assert!(
        crate::tokens::estimate(&found.body) <= 600,
        "{}",
        found.body
    );
    // No file shows all of its 200 matches.
    assert_eq!(found.more_files, 30, "{found:?}");
    assert_eq!(
        found.more_matches,
        6_000 - found.hits.len(),
        "everything not shown is counted"
    );
    // A file shows its first ten matches, and says how many more it has.
    let roomy = run_with(
        &root,
        &query(Some("needle"), Some("src/module00.js")),
        &[],
        &[],
        10_000,
    )
    .expect("found");
    assert_eq!(roomy.hits.len(), 10);
    assert!(
        roomy
            .body
            .contains("src/module00.js: … 190 more matching lines in this file"),
        "{}",
        roomy.body
    );
    assert!(
        roomy.body.contains("src/module00.js:19: const value10 = lookup('needle 10');\nsrc/module00.js-20- const other10 = 10;\nsrc/module00.js: … 190"),
        "the line after the last shown match, and no more: {}",
        roomy.body
    );
}

#[test]
fn a_path_narrows_to_a_file_a_directory_or_a_glob() {
    let (_dir, root) = workspace(APP);
    let names = |found: &Found| {
        let mut names: Vec<String> = found.hits.iter().map(|hit| hit.path.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    let in_lib = run(&root, &query(Some("npm install"), Some("app/lib/**"))).expect("found");
    assert_eq!(names(&in_lib), ["app/lib/ci.ts", "app/lib/install.ts"]);
    let in_dir = run(&root, &query(Some("npm"), Some("docs"))).expect("found");
    assert_eq!(names(&in_dir), ["docs/guide/setup.md"]);
    let one = run(&root, &query(Some("npm"), Some("./README.md"))).expect("found");
    assert_eq!(names(&one), ["README.md"]);
    // Without a `/` a glob names files at any depth; `*` stays in one directory.
    let markdown = run(&root, &query(Some("npm"), Some("*.md"))).expect("found");
    assert_eq!(names(&markdown), ["README.md", "docs/guide/setup.md"]);
    let shallow = run(&root, &query(Some("npm"), Some("docs/*.md"))).expect("found");
    assert_eq!(shallow.matches, 0);
    assert_eq!(shallow.summary(), "no matches");
    assert_eq!(
        run(&root, &query(Some("npm"), Some("nowhere/file.ts"))).expect_err("missing"),
        "nowhere/file.ts does not exist"
    );
}

#[test]
fn a_glob_without_a_pattern_lists_files() {
    let (_dir, root) = workspace(APP);
    let listed = run(&root, &query(None, Some("app/**"))).expect("listed");
    assert_eq!(
        listed.body, "app/lib/\napp/lib/ci.ts\napp/lib/install.ts\n",
        "{listed:?}"
    );
    assert_eq!(listed.summary(), "3 files");
    let top = run(&root, &query(None, Some("*"))).expect("listed");
    assert!(top.body.contains("README.md\n") && top.body.contains("docs/guide/setup.md\n"));
    let cut = run_with(&root, &query(None, Some("**")), &[], &[], 8).expect("listed");
    assert_eq!(cut.more_matches, cut.files - cut.hits.len(), "{cut:?}");
    assert!(cut.more_matches > 0, "{cut:?}");
    assert_eq!(
        run(&root, &query(None, None)).expect_err("nothing asked"),
        "give a pattern to look for, or a path glob to list files"
    );
}

#[test]
fn a_regex_is_searched_and_a_bad_one_is_answered_with_its_error() {
    let (_dir, root) = workspace(APP);
    let mut regex = query(Some(r"export\s+(function|const)\s+\w+"), None);
    regex.regex = true;
    let found = run(&root, &regex).expect("found");
    assert_eq!((found.matches, found.files), (2, 2), "{}", found.body);
    // The same text as a literal matches nothing.
    regex.regex = false;
    assert_eq!(run(&root, &regex).expect("found").matches, 0);

    let mut bad = query(Some("run(("), None);
    bad.regex = true;
    let error = run(&root, &bad).expect_err("a bad regex");
    assert!(
        error.starts_with("the pattern is not a valid regular expression:"),
        "{error}"
    );
    // As a literal it is fine.
    bad.regex = false;
    assert!(run(&root, &bad).is_ok());
}

#[test]
fn secrets_binaries_and_ignored_files_are_never_searched() {
    let (_dir, root) = workspace(&[
        (".env", "API_KEY=sk-needle-secret\n"),
        ("config/server.key", "needle private key\n"),
        ("src/app.js", "const needle = 1;\n"),
        ("build.log", "needle in a log\n"),
        (".gitignore", "*.log\n"),
        ("node_modules/pkg/index.js", "needle\n"),
    ]);
    std::fs::write(root.join("assets.bin"), b"needle\0\x01\x02binary").expect("binary");
    let found = run(&root, &query(Some("needle"), None)).expect("found");
    let paths: Vec<&str> = found.hits.iter().map(|hit| hit.path.as_str()).collect();
    assert_eq!(paths, ["src/app.js"], "{}", found.body);
    assert!(!found.body.contains("sk-needle-secret"));

    for secret in [".env", "config/server.key"] {
        let error = run(&root, &query(Some("needle"), Some(secret))).expect_err("refused");
        assert!(error.contains("holds secrets"), "{error}");
    }
    // A glob passes over them.
    let globbed = run(&root, &query(Some("needle"), Some("config/*"))).expect("found");
    assert_eq!(globbed.matches, 0);
}

#[test]
fn paths_that_leave_the_workspace_are_refused() {
    let (_dir, root) = workspace(APP);
    for outside in [
        "../",
        "../elsewhere/**",
        "/etc/passwd",
        "app/**/../../..",
        ".git/**",
    ] {
        let error = run(&root, &query(Some("root"), Some(outside))).expect_err(outside);
        assert!(error.starts_with("refused:"), "{outside}: {error}");
    }
}

#[test]
fn the_editors_unsaved_text_is_what_is_searched() {
    let (_dir, root) = workspace(APP);
    let open = vec![(
        root.join("app/lib/ci.ts"),
        "// typed, not saved: yarn install\n".to_owned(),
    )];
    let found = run_with(
        &root,
        &query(Some("install"), Some("app/**")),
        &[],
        &open,
        10_000,
    )
    .expect("found");
    assert!(
        found
            .body
            .contains("app/lib/ci.ts:1: // typed, not saved: yarn install"),
        "{}",
        found.body
    );
    assert!(!found.body.contains("--frozen"), "{}", found.body);
}

#[test]
fn a_huge_tree_stops_at_the_bound_and_says_so() {
    // 150,000 files: in memory where the machine has it (a disk takes a minute to create them).
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    for directory in 0..300 {
        let path = root.join(format!("d{directory:03}"));
        std::fs::create_dir(&path).expect("mkdir");
        for file in 0..500 {
            std::fs::File::create(path.join(format!("f{file}.txt"))).expect("create");
        }
    }
    let found = run(&root, &query(Some("needle"), None)).expect("found");
    // A slow machine reaches the time bound first.
    assert!(
        found.stopped == Some(Stopped::Files(100_000))
            || found.stopped == Some(Stopped::Time(LIMITS.time)),
        "{:?}",
        found.stopped
    );
    assert_eq!(found.summary(), "no matches (stopped early)");
}
