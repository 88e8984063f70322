//! The system prompt: how OpenBolt asks a model to work on the user's real machine, and what contains
//! its commands there.

use std::path::{Path, PathBuf};

/// What contains the commands the model asks for: the sandbox as the front end configured it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Containment {
    /// `None`: commands run unrestricted (the sandbox is off, or the kernel cannot).
    pub sandbox: Option<SandboxFacts>,
}

/// The sandbox's rules, as the model should know them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxFacts {
    /// Where writes are allowed besides the workspace.
    pub writable: Vec<PathBuf>,
    /// Outgoing connections are allowed.
    pub network: bool,
    /// Credential paths cannot be read.
    pub denies_reads: bool,
    /// Git hooks a command leaves are undone.
    pub undoes_git_hooks: bool,
}

impl Containment {
    /// The facts of a configured sandbox (`None`: none).
    pub fn of(sandbox: Option<&crate::sandbox::Sandbox>) -> Containment {
        Containment {
            sandbox: sandbox.map(|sandbox| SandboxFacts {
                writable: sandbox.writable.clone(),
                network: sandbox.network,
                denies_reads: !sandbox.deny_read.is_empty(),
                undoes_git_hooks: !sandbox.allow_git_hooks,
            }),
        }
    }

    fn describe(&self) -> String {
        let Some(facts) = &self.sandbox else {
            return "Commands are not sandboxed: they run with the user's own rights on their real machine, so keep them inside the workspace.".to_owned();
        };
        // Devices and package caches are named as such, not listed: the model needs the rule, not the
        // paths (the user's own additions are listed).
        let mut temp = Vec::new();
        let mut caches = false;
        let mut others = Vec::new();
        for path in &facts.writable {
            let text = path.display().to_string();
            if text.starts_with("/dev/") {
                continue;
            } else if text == "/tmp" || text == "/var/tmp" {
                temp.push(text);
            } else if is_cache(path) {
                caches = true;
            } else {
                others.push(text);
            }
        }
        let mut places = Vec::new();
        if !temp.is_empty() {
            places.push(format!("the temp directory ({})", temp.join(", ")));
        }
        if caches {
            places.push("the package managers' caches".to_owned());
        }
        places.extend(others);
        let writable = places;
        let network = if facts.network {
            "Outgoing network connections are allowed (package installs work)."
        } else {
            "Outgoing network connections are blocked (installing packages from the network fails); a dev server may still listen on a port."
        };
        let reads = if facts.denies_reads {
            " They cannot read the user's credentials (~/.ssh, ~/.aws, ~/.npmrc, tokens, keyrings, shell histories): such a read fails with \"Permission denied\"; do not try to get around it."
        } else {
            ""
        };
        let git = if facts.undoes_git_hooks {
            " Git works, but a git hook or a git config entry that runs a program (core.hooksPath, an alias starting with !, a filter driver) that a command leaves in .git is undone after it."
        } else {
            " Git works."
        };
        format!(
            "Commands run in a sandbox: they may write only inside the workspace{}; a write anywhere else fails with \"Permission denied\", so do not retry it elsewhere.{reads} {network}{git}",
            match writable.split_last() {
                None => String::new(),
                Some((last, [])) => format!(" and {last}"),
                Some((last, rest)) => format!(", {} and {last}", rest.join(", ")),
            }
        )
    }
}

/// A package manager's cache or store (`~/.npm`, `~/.cargo/registry`, `~/go/pkg/mod`, …).
fn is_cache(path: &Path) -> bool {
    let text = path.display().to_string();
    text.contains("/.") || text.contains("/go/pkg/mod")
}

/// Facts about the machine the commands will run on.
#[derive(Clone, Debug)]
pub struct Machine {
    pub os: String,
    pub shell: String,
    /// Which of the usual tools are on PATH.
    pub tools: Vec<(&'static str, bool)>,
}

const TOOLS: &[&str] = &[
    "node", "npm", "npx", "pnpm", "yarn", "bun", "deno", "python3", "pip", "uv", "cargo", "go",
    "git",
];

impl Machine {
    /// Looks at this machine: OS, the user's shell, and which tools PATH has.
    pub fn detect() -> Machine {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let directories: Vec<_> = std::env::split_paths(&path).collect();
        let on_path = |tool: &str| {
            directories
                .iter()
                .any(|directory| is_executable(&directory.join(tool)))
        };
        Machine {
            os: std::env::consts::OS.to_owned(),
            shell: std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".to_owned()),
            tools: TOOLS.iter().map(|tool| (*tool, on_path(tool))).collect(),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// The system prompt for a workspace. It changes only with the machine and the workspace, so providers
/// can cache it.
pub fn system_prompt(machine: &Machine, workspace: &Path, containment: &Containment) -> String {
    let available: Vec<&str> = machine
        .tools
        .iter()
        .filter(|(_, present)| *present)
        .map(|(tool, _)| *tool)
        .collect();
    let missing: Vec<&str> = machine
        .tools
        .iter()
        .filter(|(_, present)| !*present)
        .map(|(tool, _)| *tool)
        .collect();
    let available = if available.is_empty() {
        "none of the usual ones".to_owned()
    } else {
        available.join(", ")
    };
    let missing = if missing.is_empty() {
        "none".to_owned()
    } else {
        missing.join(", ")
    };
    format!(
        r#"You are OpenBolt, a senior software engineer who builds and changes apps for the user, inside their editor.

Everything you produce is applied to the user's real machine:
- Operating system: {os}. Commands run through {shell}, one at a time, in the workspace directory.
- {containment}
- Workspace root: {workspace}. Every file path you write is relative to it; paths outside it are refused.
- Tools on PATH: {available}. Not installed: {missing}. Do not use a tool that is not installed unless you install it first, within the project.

How to reply. Explain briefly in Markdown what you are about to do, then put every change in one artifact:

<boltArtifact id="kebab-case-id" title="Short title">
  <boltAction type="file" filePath="relative/path.ext">
complete file content
  </boltAction>
  <boltAction type="shell">npm install</boltAction>
  <boltAction type="start">npm run dev</boltAction>
</boltArtifact>

To change part of an existing file, use an edit action with one or more SEARCH/REPLACE blocks. SEARCH is a few lines copied exactly from the file as you last saw it (unique in the file: add lines around the change if needed), REPLACE is what they become:

<boltAction type="edit" filePath="src/ledger.js">
<<<<<<< SEARCH
    total += item.price * item.qty;
=======
    total += item.price * item.qty * (1 - (item.discount || 0));
>>>>>>> REPLACE
</boltAction>

Rules for actions:
1. Use edit for changes to existing files; use file for new files and for small files you rewrite whole. A file action holds the whole file, exactly as it must be on disk: never an excerpt, never "rest of the code unchanged", never a placeholder comment standing for code (such a file is refused). You may replace an existing file whole only if you have seen all of it in this conversation. Do not wrap content in Markdown code fences.
2. Actions run in the order you write them. Write a file before the command that needs it: package.json with every dependency before installing, sources before building.
3. shell actions run to completion and must not wait for input: pass flags such as --yes, -y or --no-interactive (for example `npx --yes create-vite@latest`). If a command fails, the actions after it in the same artifact are skipped.
4. Use a start action, not shell, for anything that keeps running (a dev server, a watcher). Put it last. If a dev server is already running, do not start it again: it reloads changed files itself.
5. Keep the project self-contained in the workspace. Do not use sudo, do not change global configuration, do not pipe downloads into a shell.
6. When you change an existing project, touch only what changes. The user's files, including their unsaved editor changes, are given below: build on them, do not revert them. If an edit fails, its result shows the closest lines of the file: retry with SEARCH text copied from them.
7. Reuse the artifact id of the project you are updating. Use one artifact per reply.
8. Never put secrets in files or commands; use environment variables the user sets. "[redacted]" in what you are shown stands for a secret value (an API key, a password from .env): never write it into a file or a command.

Working on an existing project:
- Orient yourself with the <map> below the workspace listing: the files that matter most for the request, with the lines that define their main symbols (signatures, not bodies).
- Read what you need before you change it. Never guess a file's content, and never rewrite a file you have not seen whole. To look, reply with read and search actions and stop; the answers come back to you in this same turn:

<boltArtifact id="look" title="Find the invoice code">
  <boltAction type="search" pattern="computeInvoiceTotals"/>
  <boltAction type="search" pattern="discount" path="src/**/*.js"/>
  <boltAction type="read" filePath="src/invoice.js"/>
  <boltAction type="read" filePath="src/big.js" lines="120-240"/>
</boltArtifact>

  A search finds the lines that contain its pattern, a literal string matched ignoring case (add regex="true" for a regular expression, case="sensitive" to match case); path narrows it to a file, a directory or a glob (src/**/*.ts). With a path and no pattern it lists the files the glob matches. When the request names something the map does not show, search for the names and phrases it uses, then read the lines that matter. Read only what you need (a long file in line ranges, as its numbered lines, the map and the search results suggest). You may look things up {rounds} times in one turn; put the reads and searches you need in one reply. Files holding secrets (.env, keys) cannot be read or searched.

If the request needs no change to files, answer in prose without an artifact. Be concise: the work speaks for itself."#,
        os = machine.os,
        shell = machine.shell,
        workspace = workspace.display(),
        containment = containment.describe(),
        rounds = crate::types::MAX_LOOKUP_ROUNDS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_states_the_machine_and_the_rules() {
        let machine = Machine {
            os: "linux".into(),
            shell: "/bin/bash".into(),
            tools: vec![("node", true), ("cargo", false)],
        };
        let prompt = system_prompt(&machine, Path::new("/home/me/app"), &Containment::default());
        assert!(prompt.contains("Operating system: linux"));
        assert!(prompt.contains("Commands are not sandboxed"), "{prompt}");
        assert!(!prompt.contains("You are not in a sandbox"));
        assert!(prompt.contains("through /bin/bash"));
        assert!(prompt.contains("Workspace root: /home/me/app"));
        assert!(prompt.contains("Tools on PATH: node. Not installed: cargo."));
        assert!(prompt.contains("never an excerpt"));
        assert!(prompt.contains("type=\"start\""));
        assert!(prompt.contains("<boltAction type=\"read\" filePath=\"src/invoice.js\"/>"));
        assert!(prompt.contains("Never guess a file's content"));
        assert!(
            prompt.contains("<<<<<<< SEARCH")
                && prompt.contains("Use edit for changes to existing files")
        );
    }

    #[test]
    fn the_prompt_says_what_the_sandbox_contains() {
        let machine = Machine {
            os: "linux".into(),
            shell: "/bin/bash".into(),
            tools: Vec::new(),
        };
        let containment = Containment {
            sandbox: Some(SandboxFacts {
                writable: vec![
                    PathBuf::from("/tmp"),
                    PathBuf::from("/dev/null"),
                    PathBuf::from("/home/me/.npm"),
                    PathBuf::from("/home/me/.cargo/registry"),
                    PathBuf::from("/srv/shared"),
                ],
                network: false,
                denies_reads: true,
                undoes_git_hooks: true,
            }),
        };
        let prompt = system_prompt(&machine, Path::new("/home/me/app"), &containment);
        assert!(
            prompt.contains("Commands run in a sandbox: they may write only inside the workspace, the temp directory (/tmp), the package managers' caches and /srv/shared; a write anywhere else fails"),
            "{prompt}"
        );
        assert!(prompt.contains("Outgoing network connections are blocked"));
        assert!(prompt.contains("They cannot read the user's credentials"));
        assert!(prompt.contains("\"[redacted]\" in what you are shown stands for a secret value"));
        assert!(prompt.contains("a git hook or a git config entry that runs a program"));
        let open = Containment {
            sandbox: Some(SandboxFacts {
                writable: Vec::new(),
                network: true,
                denies_reads: false,
                undoes_git_hooks: false,
            }),
        };
        assert!(
            system_prompt(&machine, Path::new("/w"), &open)
                .contains("Outgoing network connections are allowed")
        );
    }
}
