//! The database: its schema and migrations, the connection settings, and how roles and statuses are
//! stored.

use super::StoreError;
use crate::types::TurnStatus;
use rusqlite::Connection;
use std::path::Path;

pub(super) const SCHEMA_VERSION: i64 = 2;

/// The first schema: sessions, messages, actions, file versions.
pub(super) const V1: &str = "CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    workspace TEXT NOT NULL,
                    title TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX sessions_by_workspace ON sessions (workspace, updated_at);
                CREATE TABLE messages (
                    id TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    role TEXT NOT NULL,
                    text TEXT NOT NULL,
                    prose TEXT NOT NULL,
                    status TEXT,
                    error TEXT,
                    reverted INTEGER NOT NULL DEFAULT 0,
                    input_tokens INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
                    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX messages_by_session ON messages (session_id, seq);
                CREATE TABLE actions (
                    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
                    action_id INTEGER NOT NULL,
                    update_json TEXT NOT NULL,
                    output_tail TEXT,
                    PRIMARY KEY (message_id, action_id)
                );
                CREATE TABLE blobs (
                    hash TEXT PRIMARY KEY,
                    content BLOB NOT NULL
                );
                CREATE TABLE snapshots (
                    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    before_hash TEXT,
                    before_kept INTEGER NOT NULL,
                    after_hash TEXT,
                    PRIMARY KEY (message_id, path)
                );";

/// Who wrote a stored message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

/// Where a stored reply is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredStatus {
    Streaming,
    Complete,
    Aborted,
    Failed,
    /// It was streaming when the process died.
    Interrupted,
}

impl StoredStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredStatus::Streaming => "streaming",
            StoredStatus::Complete => "complete",
            StoredStatus::Aborted => "aborted",
            StoredStatus::Failed => "failed",
            StoredStatus::Interrupted => "interrupted",
        }
    }
}

impl From<TurnStatus> for StoredStatus {
    fn from(status: TurnStatus) -> StoredStatus {
        match status {
            TurnStatus::Complete => StoredStatus::Complete,
            TurnStatus::Aborted => StoredStatus::Aborted,
            TurnStatus::Failed => StoredStatus::Failed,
        }
    }
}

impl rusqlite::types::FromSql for MessageRole {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value.as_str()? {
            "user" => Ok(MessageRole::User),
            "assistant" => Ok(MessageRole::Assistant),
            other => Err(rusqlite::types::FromSqlError::Other(
                format!("unknown role {other:?}").into(),
            )),
        }
    }
}

impl rusqlite::types::FromSql for StoredStatus {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let status = value.as_str()?;
        [
            StoredStatus::Streaming,
            StoredStatus::Complete,
            StoredStatus::Aborted,
            StoredStatus::Failed,
            StoredStatus::Interrupted,
        ]
        .into_iter()
        .find(|known| known.as_str() == status)
        .ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown status {status:?}").into())
        })
    }
}

impl rusqlite::types::ToSql for StoredStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

pub(super) fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(sqlite(path))?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;",
        )
        .map_err(sqlite(path))?;
    Ok(connection)
}

/// Brings the schema to [`SCHEMA_VERSION`], one migration at a time.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite(path))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew(version));
    }
    let transaction = connection.transaction().map_err(sqlite(path))?;
    if version < 1 {
        transaction.execute_batch(V1).map_err(sqlite(path))?;
    }
    if version < 2 {
        // Page checks' verdicts (with their screenshots' files), and the screenshots a prompt carried.
        transaction
            .execute_batch(
                "CREATE TABLE page_checks (
                    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    check_json TEXT NOT NULL,
                    PRIMARY KEY (message_id, seq)
                );
                ALTER TABLE messages ADD COLUMN images TEXT;",
            )
            .map_err(sqlite(path))?;
    }
    transaction
        .execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
        .map_err(sqlite(path))?;
    transaction.commit().map_err(sqlite(path))?;
    // Whatever was streaming when the last process died was interrupted.
    connection
        .execute(
            "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'",
            [],
        )
        .map_err(sqlite(path))?;
    Ok(())
}
