//! What a sandboxed command may not leave in the workspace's repository: code that git would run later,
//! with the user's full rights and outside any sandbox — a hook in `.git/hooks`, or a config entry that
//! runs a program (`core.hooksPath`, `core.fsmonitor`, a filter driver, a `!` alias…). The sandbox must let
//! commands write `.git` (git itself works in it: `init`, `add`, `commit`), and Landlock cannot take a
//! directory out of a writable one; so what matters is snapshotted before a command and put back after it
//! ([`GitGuard`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Config keys whose value git runs as a program or a script (lowercase; `*` is a subsection).
const RUNS_PROGRAMS: [(&str, &str); 22] = [
    ("core", "hookspath"),
    ("core", "fsmonitor"),
    ("core", "sshcommand"),
    ("core", "pager"),
    ("core", "editor"),
    ("core", "askpass"),
    ("core", "gitproxy"),
    ("credential", "helper"),
    ("diff", "textconv"),
    ("diff", "command"),
    ("diff", "external"),
    ("filter", "clean"),
    ("filter", "smudge"),
    ("filter", "process"),
    ("merge", "driver"),
    ("sequence", "editor"),
    ("gpg", "program"),
    ("include", "path"),
    ("includeif", "path"),
    ("uploadpack", "packobjectshook"),
    ("receive", "procreceivehook"),
    ("pager", "*"),
];

/// One config entry as git reads it: section (lowercase), subsection, key (lowercase), value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    section: String,
    subsection: Option<String>,
    key: String,
    value: String,
}

impl Entry {
    /// Whether git would run its value.
    fn runs_a_program(&self) -> bool {
        if self.section == "alias" {
            return self.value.trim_start().starts_with('!');
        }
        RUNS_PROGRAMS
            .iter()
            .any(|(section, key)| *section == self.section && (*key == "*" || *key == self.key))
    }

    fn name(&self) -> String {
        match &self.subsection {
            Some(sub) => format!("{}.{sub}.{}", self.section, self.key),
            None => format!("{}.{}", self.section, self.key),
        }
    }
}

/// The section a `[…]` line opens: `[core]`, `[remote "origin"]`, `[branch.main]`.
fn section_of(line: &str) -> Option<(String, Option<String>)> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = &inner[..inner.find(']')?];
    if let Some((name, rest)) = inner.split_once(char::is_whitespace) {
        let sub = rest.trim().trim_matches('"').to_owned();
        return Some((name.trim().to_ascii_lowercase(), Some(sub)));
    }
    match inner.split_once('.') {
        Some((name, sub)) => Some((name.to_ascii_lowercase(), Some(sub.to_owned()))),
        None => Some((inner.trim().to_ascii_lowercase(), None)),
    }
}

/// Each line of a config with the entry it sets, if any.
fn entries(text: &str) -> Vec<(&str, Option<Entry>)> {
    let mut section: Option<(String, Option<String>)> = None;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = section_of(trimmed);
            // `[section] key = value` on one line.
            let after = trimmed
                .find(']')
                .map_or("", |end| trimmed[end + 1..].trim());
            if after.is_empty() || after.starts_with(['#', ';']) {
                out.push((line, None));
                continue;
            }
            out.push((line, entry(section.as_ref(), after)));
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            out.push((line, None));
            continue;
        }
        out.push((line, entry(section.as_ref(), trimmed)));
    }
    out
}

fn entry(section: Option<&(String, Option<String>)>, line: &str) -> Option<Entry> {
    let (section, subsection) = section?;
    let (key, value) = match line.split_once('=') {
        Some((key, value)) => (key.trim(), value.trim()),
        None => (line, "true"),
    };
    Some(Entry {
        section: section.clone(),
        subsection: subsection.clone(),
        key: key.to_ascii_lowercase(),
        value: value.trim_matches('"').to_owned(),
    })
}

/// A repository's hooks and config as they were before a command.
#[derive(Debug)]
pub struct GitGuard {
    git: PathBuf,
    /// `hooks/<name>` → content, for every hook but git's `*.sample` files.
    hooks: BTreeMap<String, Vec<u8>>,
    config: Option<Vec<u8>>,
}

impl GitGuard {
    /// What `workspace/.git` holds now (nothing to guard when it is not a directory yet: a `git init`
    /// by the command is then checked against an empty repository).
    pub fn snapshot(workspace: &Path) -> GitGuard {
        let git = workspace.join(".git");
        GitGuard {
            hooks: hooks(&git),
            config: std::fs::read(git.join("config")).ok(),
            git,
        }
    }

    /// Puts back what a command changed that runs code: hooks it added or changed are removed or
    /// restored; config entries that run a program and were not there before are taken out (the whole
    /// config goes back when it existed, else those lines are removed). Returns what was undone, for
    /// the action and the user.
    pub fn restore(&self) -> Vec<String> {
        self.undo(false)
    }

    /// [`GitGuard::restore`], but in `.git/config` only the planted lines are taken out, whatever else
    /// changed is kept: for a dev server, which runs while the user works in the same repository (a remote
    /// they add meanwhile stays).
    pub fn restore_planted(&self) -> Vec<String> {
        self.undo(true)
    }

    fn undo(&self, lines_only: bool) -> Vec<String> {
        let mut undone = Vec::new();
        if std::fs::symlink_metadata(&self.git).is_ok_and(|meta| meta.is_dir()) {
            for (name, content) in hooks(&self.git) {
                let path = self.git.join("hooks").join(&name);
                match self.hooks.get(&name) {
                    Some(before) if *before == content => {}
                    Some(before) => {
                        if std::fs::write(&path, before).is_ok() {
                            undone.push(format!("the changed hook .git/hooks/{name} (restored)"));
                        }
                    }
                    None => {
                        let removed =
                            std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path));
                        if removed.is_ok() {
                            undone.push(format!("the new hook .git/hooks/{name} (removed)"));
                        }
                    }
                }
            }
            undone.extend(self.restore_config(lines_only));
        }
        undone
    }

    fn restore_config(&self, lines_only: bool) -> Vec<String> {
        let path = self.git.join("config");
        let Ok(now) = std::fs::read(&path) else {
            return Vec::new();
        };
        if self.config.as_deref() == Some(now.as_slice()) {
            return Vec::new();
        }
        let now_text = String::from_utf8_lossy(&now);
        let before_text = self
            .config
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let before: Vec<Entry> = entries(&before_text)
            .into_iter()
            .filter_map(|(_, entry)| entry)
            .collect();
        let now_lines = entries(&now_text);
        let planted: Vec<&Entry> = now_lines
            .iter()
            .filter_map(|(_, entry)| entry.as_ref())
            .filter(|entry| entry.runs_a_program() && !before.contains(entry))
            .collect();
        if planted.is_empty() {
            return Vec::new();
        }
        let written = match &self.config {
            Some(before) if !lines_only => std::fs::write(&path, before),
            _ => {
                let kept: String = now_lines
                    .iter()
                    .filter(|(_, entry)| {
                        !entry.as_ref().is_some_and(|entry| planted.contains(&entry))
                    })
                    .map(|(line, _)| *line)
                    .collect();
                std::fs::write(&path, kept)
            }
        };
        if written.is_err() {
            return Vec::new();
        }
        planted
            .iter()
            .map(|entry| format!("{} in .git/config (taken out)", entry.name()))
            .collect()
    }
}

/// The hooks in `git/hooks` (git's own `*.sample` files aside), by name.
fn hooks(git: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(listing) = std::fs::read_dir(git.join("hooks")) else {
        return BTreeMap::new();
    };
    listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sample") {
                return None;
            }
            // A directory or a link is a hook too (it may run): its content is its listing or target.
            let content = std::fs::read(entry.path()).unwrap_or_else(|_| name.clone().into_bytes());
            Some((name, content))
        })
        .collect()
}

/// What the user and the model are told when [`GitGuard::restore`] undid something.
pub fn undone_notice(undone: &[String]) -> String {
    format!(
        "undid what the command left in .git that git would run outside the sandbox: {} (a project that installs its own hooks, with husky say, needs the sandboxAllowGitHooks setting)",
        undone.join("; ")
    )
}

#[cfg(test)]
mod tests;
