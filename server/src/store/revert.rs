//! Planning a revert: what each file held before the first reverted turn, and whether it changed since
//! the last one wrote it. Applying the plan is the conversation layer's.

use super::writer::{decompress, hash};
use super::{MessageRole, Store, StoreError};
use std::path::{Path, PathBuf};

/// One file a revert would touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevertStep {
    pub path: PathBuf,
    /// `None`: the turn created the file; reverting deletes it.
    pub restore: Option<Vec<u8>>,
    /// Why this file is left alone (the user changed it since, or its old content was not kept).
    pub conflict: Option<String>,
}

impl Store {
    /// What reverting the turns of `session_id` from `message_id` on (that reply and every later one)
    /// would do, newest turn first, each file once (its oldest kept content wins). A file whose current
    /// content is not what the last reverted turn wrote is a conflict.
    pub fn revert_plan(
        &self,
        session_id: &str,
        message_id: &str,
        read_current: impl Fn(&Path) -> Option<Vec<u8>>,
    ) -> Result<(Vec<String>, Vec<RevertStep>), StoreError> {
        let messages = self.messages(session_id)?;
        let start = messages
            .iter()
            .position(|message| message.message_id == message_id)
            .ok_or_else(|| StoreError::NoMessage(message_id.to_owned()))?;
        let turns: Vec<String> = messages[start..]
            .iter()
            .filter(|message| message.role == MessageRole::Assistant && !message.reverted)
            .map(|message| message.message_id.clone())
            .collect();
        // path → (the oldest turn's before, the newest turn's after)
        let mut files: Vec<(String, Option<String>, bool, Option<String>)> = Vec::new();
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT path, before_hash, before_kept, after_hash FROM snapshots WHERE message_id = ?1",
            )?;
            for turn in &turns {
                let rows: Vec<(String, Option<String>, bool, Option<String>)> = statement
                    .query_map([turn], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? != 0, row.get(3)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for (path, before, kept, after) in rows {
                    match files.iter_mut().find(|file| file.0 == path) {
                        // An older turn: its "before" is the one to restore.
                        Some(file) => {
                            file.1 = before;
                            file.2 = kept;
                        }
                        None => files.push((path, before, kept, after)),
                    }
                }
            }
            Ok(())
        })?;
        let mut steps = Vec::new();
        for (path, before, kept, after) in files {
            let path = PathBuf::from(path);
            let current = read_current(&path);
            let current_hash = current.as_deref().map(hash);
            let conflict = if !kept {
                Some("its earlier content was not kept (a secret or a large file)".to_owned())
            } else if current_hash != after {
                Some("it changed after the turn wrote it; left as it is".to_owned())
            } else {
                None
            };
            let restore = match &before {
                Some(hash) => self
                    .read(|connection| {
                        connection.query_row(
                            "SELECT content FROM blobs WHERE hash = ?1",
                            [hash],
                            |row| row.get::<_, Vec<u8>>(0),
                        )
                    })
                    .ok()
                    .and_then(|stored| decompress(&stored)),
                None => None,
            };
            steps.push(RevertStep {
                path,
                restore,
                conflict,
            });
        }
        Ok((turns, steps))
    }
}

impl Store {
    /// What `path` held before the turn `message_id` changed it and what the turn left, when kept
    /// (secrets and large files are not). `None`: the turn did not touch the file.
    pub fn file_versions(
        &self,
        message_id: &str,
        path: &Path,
    ) -> Result<Option<FileVersions>, StoreError> {
        let path = path.to_string_lossy().into_owned();
        let row: Option<(Option<String>, bool, Option<String>)> = self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT before_hash, before_kept, after_hash FROM snapshots WHERE message_id = ?1 AND path = ?2",
            )?;
            let mut rows = statement.query_map(rusqlite::params![message_id, path], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? != 0, row.get(2)?))
            })?;
            rows.next().transpose()
        })?;
        let Some((before, kept, after)) = row else {
            return Ok(None);
        };
        let blob = |hash: &Option<String>| {
            hash.as_ref().and_then(|hash| {
                self.read(|connection| {
                    connection.query_row(
                        "SELECT content FROM blobs WHERE hash = ?1",
                        [hash],
                        |row| row.get::<_, Vec<u8>>(0),
                    )
                })
                .ok()
                .and_then(|stored| decompress(&stored))
            })
        };
        Ok(Some(FileVersions {
            existed: before.is_some() || !kept,
            before: blob(&before),
            after: blob(&after),
        }))
    }
}

/// A file as a turn found it and left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVersions {
    /// The file existed before the turn.
    pub existed: bool,
    /// Its content before, when kept.
    pub before: Option<Vec<u8>>,
    /// Its content after, when kept.
    pub after: Option<Vec<u8>>,
}
