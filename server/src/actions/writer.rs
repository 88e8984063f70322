//! How file actions reach the files: the `FileWriter` trait (write, delete, what a file holds as the
//! user sees it, edit, the open documents) and `DiskWriter`, straight to disk (the CLI); the LSP's
//! `EditorWriter` goes through the editor.

use super::files;
use std::path::{Path, PathBuf};

/// How file actions reach the files: straight to disk (the CLI) or through the editor (the LSP).
pub trait FileWriter: Send + Sync {
    /// Writes `content` to `path` (absolute, already checked to be inside the workspace).
    fn write<'a>(
        &'a self,
        path: &'a Path,
        content: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>>;

    /// Deletes `path` (a file a turn created, when that turn is reverted). A missing file is no error.
    fn delete<'a>(&'a self, path: &'a Path) -> futures::future::BoxFuture<'a, Result<(), String>>;

    /// What `path` holds as the user sees it (an editor's unsaved text included); `None`: absent.
    fn current(&self, path: &Path) -> Option<Vec<u8>>;

    /// Changes `path` from `before` (what [`FileWriter::current`] gave) to `after`, where the text is:
    /// the editor's buffer when open, else the disk. Fails when the text is no longer `before`. The
    /// answer may note where the change went (`in the editor, not saved`).
    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, String>>;

    /// The documents open in an editor (absolute path, text as the user sees it): a search looks at
    /// their text rather than the disk's.
    fn open_documents(&self) -> Vec<(PathBuf, String)> {
        Vec::new()
    }
}

/// Writes to disk, atomically.
#[derive(Debug, Default)]
pub struct DiskWriter;

impl FileWriter for DiskWriter {
    fn write<'a>(
        &'a self,
        path: &'a Path,
        content: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = path.to_path_buf();
            let content = content.as_bytes().to_vec();
            tokio::task::spawn_blocking(move || files::write_atomically(&path, &content))
                .await
                .map_err(|error| format!("the write task failed: {error}"))?
                .map_err(|error| error.to_string())
        })
    }

    fn delete<'a>(&'a self, path: &'a Path) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match tokio::fs::remove_file(path).await {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })
    }

    fn current(&self, path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            if std::fs::read(path).ok().as_deref() != Some(before.as_bytes()) {
                return Err(
                    "the file changed while the edit was made; nothing was changed".to_owned(),
                );
            }
            self.write(path, after).await.map(|()| None)
        })
    }
}
