//! Files: where an action may write (inside the workspace only) and how (atomically), and which files
//! make the workspace.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Directories never worth mapping or searching, even without a .gitignore.
pub const SKIPPED_DIRECTORIES: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "dist",
    "build",
    ".next",
    ".venv",
    "venv",
    "__pycache__",
    ".openbolt",
];

/// A walk of the workspace's files from `start` — the one definition of them that the project map and
/// searches share: `.gitignore` (and `.ignore`) respected, in a Git repository or not; hidden files
/// included; [`SKIPPED_DIRECTORIES`] below `start` skipped; symbolic links not followed, so loops
/// cannot trap it.
pub fn walker(start: &Path) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(start);
    builder
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            !(entry.file_type().is_some_and(|kind| kind.is_dir())
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name)))
        });
    builder
}

/// `path` relative to `root`, with `/` separators; `None` when outside or not UTF-8.
pub fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|component| component.as_os_str().to_str())
        .collect();
    let name = parts?.join("/");
    (!name.is_empty()).then_some(name)
}

/// How many bytes from a file's start are looked at to tell binary from text.
pub const BINARY_SNIFF_BYTES: usize = 8_192;

/// Whether `content` is binary: a NUL byte among its first [`BINARY_SNIFF_BYTES`] (what Git and
/// ripgrep look for). One rule for reads, edits and the project map.
pub fn is_binary(content: &[u8]) -> bool {
    memchr::memchr(0, &content[..content.len().min(BINARY_SNIFF_BYTES)]).is_some()
}

/// Why a path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("the file path is empty")]
    Empty,
    #[error("the file path contains a NUL byte")]
    Nul,
    #[error("absolute paths are refused: {0} must be relative to the workspace")]
    Absolute(String),
    #[error("{0} leaves the workspace")]
    Escapes(String),
    #[error("{0} leads through a symbolic link out of the workspace")]
    SymlinkEscapes(String),
    #[error("writing into .git/ is refused: {0}")]
    GitDirectory(String),
}

/// Resolves `relative` (as the model wrote it) to a path inside `root`, which must be canonical.
///
/// Refuses absolute paths, `..` that climbs out, NUL bytes, anything under `.git/`, and paths whose
/// existing part resolves (through symbolic links) outside the workspace.
pub fn resolve_in_workspace(root: &Path, relative: &str) -> Result<PathBuf, PathError> {
    let trimmed = relative.trim();
    if trimmed.is_empty() {
        return Err(PathError::Empty);
    }
    if trimmed.contains('\0') {
        return Err(PathError::Nul);
    }
    let path = Path::new(trimmed);
    if path.is_absolute() || trimmed.starts_with('\\') || trimmed.starts_with('~') {
        return Err(PathError::Absolute(trimmed.to_owned()));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(PathError::Escapes(trimmed.to_owned()));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(PathError::Absolute(trimmed.to_owned()));
            }
        }
    }
    if parts.is_empty() {
        return Err(PathError::Empty);
    }
    if parts.iter().any(|part| part.eq_ignore_ascii_case(".git")) {
        return Err(PathError::GitDirectory(trimmed.to_owned()));
    }
    // Follow the part that exists: every ancestor (and the file, if it is a link) must stay inside.
    let mut resolved = root.to_path_buf();
    for (index, part) in parts.iter().enumerate() {
        let next = resolved.join(part);
        match std::fs::symlink_metadata(&next) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::canonicalize(&next)
                    .map_err(|_| PathError::SymlinkEscapes(trimmed.to_owned()))?;
                if !target.starts_with(root) {
                    return Err(PathError::SymlinkEscapes(trimmed.to_owned()));
                }
                resolved = target;
            }
            Ok(_) => resolved = next,
            Err(_) => {
                for rest in &parts[index..] {
                    resolved.push(rest);
                }
                return Ok(resolved);
            }
        }
    }
    Ok(resolved)
}

/// Writes `content` to `path` atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over the target. Parents are created; an existing file keeps its permissions. A crash
/// at any moment leaves either the old file or the new one, never a mix.
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the path has no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent.join(format!(
        ".{name}.openbolt-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(content)?;
        if let Ok(existing) = std::fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // Make the rename itself durable; not every filesystem supports syncing a directory.
        if let Ok(directory) = std::fs::File::open(parent) {
            let _ = directory.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, PathBuf) {
        let directory = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(directory.path()).expect("canonical");
        (directory, root)
    }

    #[test]
    fn relative_paths_inside_resolve() {
        let (_guard, root) = workspace();
        assert_eq!(
            resolve_in_workspace(&root, "src/a.js"),
            Ok(root.join("src/a.js"))
        );
        assert_eq!(
            resolve_in_workspace(&root, "./src/../b.txt"),
            Ok(root.join("b.txt"))
        );
        assert_eq!(
            resolve_in_workspace(&root, "日本/naïve.txt"),
            Ok(root.join("日本/naïve.txt"))
        );
    }

    #[test]
    fn escapes_are_refused_with_a_reason() {
        let (_guard, root) = workspace();
        let refused = |path: &str| {
            resolve_in_workspace(&root, path)
                .expect_err(path)
                .to_string()
        };
        assert!(refused("/etc/passwd").contains("absolute"));
        assert!(refused("../outside.txt").contains("leaves the workspace"));
        assert!(refused("a/../../outside.txt").contains("leaves the workspace"));
        assert!(refused("~/.bashrc").contains("absolute"));
        assert!(refused(".git/config").contains(".git"));
        assert!(refused("sub/.GIT/hooks/pre-commit").contains(".git"));
        assert!(refused("a\0b").contains("NUL"));
        assert!(refused("  ").contains("empty"));
        assert!(refused(".").contains("empty"));
    }

    #[test]
    fn symlinks_that_leave_are_refused_and_those_inside_followed() {
        let (_guard, root) = workspace();
        let (_outside_guard, outside) = workspace();
        std::os::unix::fs::symlink(&outside, root.join("out")).expect("symlink");
        std::os::unix::fs::symlink(outside.join("f.txt"), root.join("file-link")).expect("symlink");
        std::fs::create_dir(root.join("real")).expect("dir");
        std::os::unix::fs::symlink(root.join("real"), root.join("in")).expect("symlink");
        assert!(matches!(
            resolve_in_workspace(&root, "out/x.txt"),
            Err(PathError::SymlinkEscapes(_))
        ));
        assert!(matches!(
            resolve_in_workspace(&root, "file-link"),
            Err(PathError::SymlinkEscapes(_))
        ));
        assert_eq!(
            resolve_in_workspace(&root, "in/x.txt"),
            Ok(root.join("real/x.txt"))
        );
    }

    #[test]
    fn writes_are_atomic_create_parents_and_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let (_guard, root) = workspace();
        let script = root.join("deep/er/run.sh");
        write_atomically(&script, b"#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        write_atomically(&script, b"#!/bin/sh\necho hi\n").expect("rewrite");
        assert_eq!(
            std::fs::read(&script).expect("read"),
            b"#!/bin/sh\necho hi\n"
        );
        let mode = std::fs::metadata(&script)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let leftovers: Vec<_> = std::fs::read_dir(root.join("deep/er"))
            .expect("dir")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers, ["run.sh"]);
    }
}
