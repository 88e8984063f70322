//! The store's queries, on the reading connection; and a session's history as the engine continues it.

use super::schema::sqlite;
use super::{MessageRow, SessionRow, Store, StoreError};
use crate::types::ActionUpdate;
use crate::types::Usage;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

impl Store {
    pub(super) fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let connection = crate::lock(&self.reader);
        let Some(connection) = connection.as_ref() else {
            return Err(StoreError::Closed);
        };
        work(connection).map_err(sqlite(&self.path))
    }

    /// The sessions of `workspace`, most recent first.
    pub fn sessions(&self, workspace: &Path) -> Result<Vec<SessionRow>, StoreError> {
        let workspace = workspace.display().to_string();
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT s.id, s.title, s.updated_at, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id)
                 FROM sessions s WHERE s.workspace = ?1 ORDER BY s.updated_at DESC, s.rowid DESC",
            )?;
            statement
                .query_map([workspace], |row| {
                    Ok(SessionRow {
                        session_id: row.get(0)?,
                        title: row.get(1)?,
                        updated_at: row.get(2)?,
                        message_count: row.get(3)?,
                    })
                })?
                .collect()
        })
    }

    /// A session's messages in order, with their actions.
    pub fn messages(&self, session_id: &str) -> Result<Vec<MessageRow>, StoreError> {
        let exists = self.read(|connection| {
            connection
                .query_row("SELECT 1 FROM sessions WHERE id = ?1", [session_id], |_| {
                    Ok(())
                })
                .optional()
        })?;
        if exists.is_none() {
            return Err(StoreError::NoSession(session_id.to_owned()));
        }
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT id, role, text, prose, status, error, reverted, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, images
                 FROM messages WHERE session_id = ?1 ORDER BY seq",
            )?;
            let mut messages: Vec<MessageRow> = statement
                .query_map([session_id], |row| {
                    Ok(MessageRow {
                        message_id: row.get(0)?,
                        role: row.get(1)?,
                        text: row.get(2)?,
                        prose: row.get(3)?,
                        status: row.get(4)?,
                        error: row.get(5)?,
                        reverted: row.get::<_, i64>(6)? != 0,
                        actions: Vec::new(),
                        usage: Usage {
                            input_tokens: row.get::<_, i64>(7)? as u64,
                            output_tokens: row.get::<_, i64>(8)? as u64,
                            cache_read_tokens: row.get::<_, i64>(9)? as u64,
                            cache_write_tokens: row.get::<_, i64>(10)? as u64,
                        },
                        pages: Vec::new(),
                        images: row
                            .get::<_, Option<String>>(11)?
                            .and_then(|json| serde_json::from_str(&json).ok())
                            .unwrap_or_default(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut actions = connection.prepare(
                "SELECT update_json, output_tail FROM actions WHERE message_id = ?1 ORDER BY action_id",
            )?;
            let mut pages = connection
                .prepare("SELECT check_json FROM page_checks WHERE message_id = ?1 ORDER BY seq")?;
            for message in &mut messages {
                message.pages = pages
                    .query_map([&message.message_id], |row| row.get::<_, String>(0))?
                    .filter_map(Result::ok)
                    .filter_map(|json| serde_json::from_str(&json).ok())
                    .collect();
                message.actions = actions
                    .query_map([&message.message_id], |row| {
                        let json: String = row.get(0)?;
                        let tail: Option<String> = row.get(1)?;
                        Ok((json, tail))
                    })?
                    .filter_map(Result::ok)
                    .filter_map(|(json, tail)| {
                        let mut update: ActionUpdate = serde_json::from_str(&json).ok()?;
                        update.output_tail = tail;
                        Some(update)
                    })
                    .collect();
            }
            Ok(messages)
        })
    }

    /// The most recent session of `workspace`.
    pub fn latest_session(&self, workspace: &Path) -> Result<Option<String>, StoreError> {
        Ok(self
            .sessions(workspace)?
            .into_iter()
            .next()
            .map(|session| session.session_id))
    }

    /// A session's title (its first prompt's first line).
    pub fn title(&self, session_id: &str) -> Result<String, StoreError> {
        self.read(|connection| {
            connection.query_row(
                "SELECT title FROM sessions WHERE id = ?1",
                [session_id],
                |row| row.get::<_, String>(0),
            )
        })
    }
}
