//! What the model sees of the workspace: the file tree (respecting .gitignore), the contents of small
//! text files within a budget, and the editor's unsaved buffers and selection. Secrets are never sent.

use crate::secrets::is_secret;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the editor knows that the disk does not.
#[derive(Clone, Debug, Default)]
pub struct EditorContext {
    /// Open documents with their current (possibly unsaved) text, by path relative to the workspace.
    pub buffers: Vec<EditorBuffer>,
    pub selection: Option<Selection>,
}

#[derive(Clone, Debug)]
pub struct EditorBuffer {
    pub path: PathBuf,
    pub text: String,
    /// Whether the text differs from the file on disk.
    pub dirty: bool,
}

#[derive(Clone, Debug)]
pub struct Selection {
    pub path: PathBuf,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    pub text: String,
}

/// How much of the workspace to send.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_tree_entries: usize,
    pub max_file_bytes: usize,
    pub max_total_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_tree_entries: 400,
            max_file_bytes: 16 * 1024,
            max_total_bytes: 64 * 1024,
        }
    }
}

/// Directories never worth listing, even without a .gitignore.
const SKIPPED_DIRECTORIES: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "dist",
    "build",
    ".next",
    ".venv",
    "__pycache__",
];

/// Renders the workspace context for the model.
pub fn render(root: &Path, editor: &EditorContext, budget: Budget) -> String {
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .filter_entry(|entry| {
            !(entry.file_type().is_some_and(|kind| kind.is_dir())
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name)))
        })
        .build();
    let mut total_entries = 0usize;
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        total_entries += 1;
        if let Ok(relative) = entry.path().strip_prefix(root) {
            files.push(relative.to_path_buf());
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "<workspace root=\"{}\">", root.display());
    if files.is_empty() {
        out.push_str("The workspace is empty.\n");
    } else {
        let shown = files.len().min(budget.max_tree_entries);
        let _ = writeln!(out, "Files ({shown} of {total_entries}):");
        for file in files.iter().take(shown) {
            let _ = writeln!(out, "{}", file.display());
        }
    }
    out.push_str("</workspace>\n");

    let buffer_for = |path: &Path| editor.buffers.iter().find(|buffer| buffer.path == path);
    let mut spent = 0usize;
    for file in &files {
        if is_secret(file) || buffer_for(file).is_some() {
            continue;
        }
        let Ok(metadata) = std::fs::metadata(root.join(file)) else {
            continue;
        };
        let size = metadata.len() as usize;
        if size > budget.max_file_bytes || spent + size > budget.max_total_bytes {
            continue;
        }
        let Ok(bytes) = std::fs::read(root.join(file)) else {
            continue;
        };
        if bytes.contains(&0) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        spent += text.len();
        let _ = writeln!(
            out,
            "<file path=\"{}\">\n{}\n</file>",
            file.display(),
            text.trim_end()
        );
    }
    for buffer in &editor.buffers {
        if is_secret(&buffer.path) {
            continue;
        }
        let tag = if buffer.dirty { "unsaved" } else { "open" };
        let _ = writeln!(
            out,
            "<file path=\"{}\" editor=\"{tag}\">\n{}\n</file>",
            buffer.path.display(),
            buffer.text.trim_end()
        );
    }
    if let Some(selection) = &editor.selection
        && !is_secret(&selection.path)
    {
        let _ = writeln!(
            out,
            "<selection path=\"{}\" lines=\"{}-{}\">\n{}\n</selection>",
            selection.path.display(),
            selection.start_line,
            selection.end_line,
            selection.text
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_files_respecting_gitignore_and_never_sends_secrets() {
        let directory = tempfile::tempdir().expect("temp dir");
        let root = directory.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(".gitignore", "ignored/\n*.log\n");
        write("src/main.js", "console.log('hi')\n");
        write("ignored/x.js", "nope");
        write("debug.log", "nope");
        write("node_modules/pkg/index.js", "nope");
        write(".env", "API_KEY=sk-very-secret");
        write(".env.local", "TOKEN=also-secret");
        write("certs/server.key", "PRIVATE");
        write("big.txt", &"x".repeat(20_000));

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
        let context = render(root, &editor, Budget::default());
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
        assert!(context.contains(
            "<file path=\"src/main.js\" editor=\"unsaved\">\nconsole.log('unsaved edit')"
        ));
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
}
