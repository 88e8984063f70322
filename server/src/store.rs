//! Sessions that survive: SQLite (WAL) under `OPENBOLT_DATA_DIR`, written by one writer thread off the
//! streaming path.
//!
//! What is stored: sessions (keyed by workspace root), messages (the user's prompt; the model's reply
//! with its markup, and its prose), each action's final status with a failed command's output tail, token
//! usage, and for each turn the content of every file it touched — before and after — as
//! content-addressed, deduplicated blobs (files over [`MAX_SNAPSHOT_BYTES`] and secrets are not kept, so
//! those cannot be reverted). API keys and `.env*` contents never reach the database.
//!
//! Writes are batched: reply text is appended in memory and written at most every [`FLUSH_EVERY`], in one
//! transaction with whatever else is pending. A turn's end is written at once and waited for, so a
//! completed turn is durable before the caller goes on. A crash loses at most the last
//! [`FLUSH_EVERY`] of the reply in flight; on the next open, a reply still marked `streaming` becomes
//! `interrupted`.

use crate::engine::{Session, TurnStatus};
use crate::provider::{Message, Role, Usage};
use crate::secrets::is_secret;
use crate::types::ActionUpdate;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Reply text waits at most this long in memory.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Larger files are not snapshotted (their turn cannot revert them).
pub const MAX_SNAPSHOT_BYTES: usize = 2 << 20;
const SCHEMA_VERSION: i64 = 1;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("the session store was written by a newer openbolt (schema {0}); upgrade openbolt")]
    TooNew(i64),
    #[error("no session {0}")]
    NoSession(String),
    #[error("no message {0}")]
    NoMessage(String),
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("part of this turn was not saved: {0}")]
    NotSaved(String),
}

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

/// Where sessions live: `OPENBOLT_DATA_DIR`, else the platform's data directory.
pub fn default_data_dir(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = env("OPENBOLT_DATA_DIR").filter(|dir| !dir.trim().is_empty()) {
        return PathBuf::from(dir);
    }
    let home = env("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support/openbolt");
    }
    env("XDG_DATA_HOME")
        .filter(|dir| !dir.trim().is_empty())
        .map_or_else(|| home.join(".local/share"), PathBuf::from)
        .join("openbolt")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

/// A session as a list shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub session_id: String,
    pub title: String,
    pub message_count: i64,
    pub updated_at: i64,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRow {
    pub message_id: String,
    pub role: MessageRole,
    /// The prompt, or the reply as the model wrote it (markup included).
    pub text: String,
    /// The reply's prose (markup removed); the prompt for a user message.
    pub prose: String,
    /// A reply's status; `None` for a prompt.
    pub status: Option<StoredStatus>,
    pub error: Option<String>,
    pub reverted: bool,
    pub actions: Vec<ActionUpdate>,
    pub usage: Usage,
}

/// One file a revert would touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevertStep {
    pub path: PathBuf,
    /// `None`: the turn created the file; reverting deletes it.
    pub restore: Option<Vec<u8>>,
    /// Why this file is left alone (the user changed it since, or its old content was not kept).
    pub conflict: Option<String>,
}

enum Command {
    BeginTurn {
        session_id: String,
        workspace: String,
        prompt: String,
        user_message_id: String,
        message_id: String,
    },
    Action {
        message_id: String,
        update: ActionUpdate,
    },
    Snapshot {
        message_id: String,
        path: String,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
    },
    EndTurn {
        message_id: String,
        status: StoredStatus,
        reply: String,
        error: Option<String>,
        usage: Usage,
    },
    MarkReverted {
        message_ids: Vec<String>,
    },
    Flush(mpsc::Sender<()>),
}

impl Command {
    /// The reply a command belongs to (a revert's first one), for reporting its failure.
    fn message_id(&self) -> String {
        match self {
            Command::BeginTurn { message_id, .. }
            | Command::Action { message_id, .. }
            | Command::Snapshot { message_id, .. }
            | Command::EndTurn { message_id, .. } => message_id.clone(),
            Command::MarkReverted { message_ids } => {
                message_ids.first().cloned().unwrap_or_default()
            }
            Command::Flush(_) => String::new(),
        }
    }
}

/// Reply text waiting for the writer, by message: appending is a lock and a copy, no allocation per
/// delta once the buffer has grown, and no wake-up of the writer (it takes the buffer on its ticks).
type Appends = Arc<Mutex<HashMap<String, String>>>;

/// The store: a writer thread for changes, a connection for reads.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
    commands: mpsc::Sender<Command>,
    appends: Appends,
    /// Why a turn's commands failed, by reply: reported when the turn ends.
    failures: Failures,
    reader: Arc<Mutex<Connection>>,
}

/// Failed writes, by the reply they belong to.
type Failures = Arc<Mutex<HashMap<String, String>>>;

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(sqlite(path))?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
        )
        .map_err(sqlite(path))?;
    Ok(connection)
}

/// Brings the schema to [`SCHEMA_VERSION`], one migration at a time.
fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite(path))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew(version));
    }
    let transaction = connection.transaction().map_err(sqlite(path))?;
    if version < 1 {
        transaction
            .execute_batch(
                "CREATE TABLE sessions (
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
                );",
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

fn hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Store {
    /// Opens (creating and migrating) the store at `dir/sessions.sqlite3`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("sessions.sqlite3");
        let mut writer = connect(&path)?;
        migrate(&mut writer, &path)?;
        let reader = connect(&path)?;
        let (commands, queue) = mpsc::channel();
        let appends = Appends::default();
        let writer_path = path.clone();
        let writer_appends = appends.clone();
        let failures = Failures::default();
        let writer_failures = failures.clone();
        std::thread::Builder::new()
            .name("openbolt-store".to_owned())
            .spawn(move || {
                write_loop(
                    writer,
                    &writer_path,
                    &queue,
                    &writer_appends,
                    &writer_failures,
                );
            })
            .map_err(|source| StoreError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(Store {
            path,
            commands,
            appends,
            failures,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::error!("the session store's writer has stopped; history is not being saved");
        }
    }

    /// Starts a turn: the session (created with the prompt as its title), the prompt, an empty reply.
    pub fn begin_turn(
        &self,
        session_id: &str,
        workspace: &Path,
        prompt: &str,
        user_message_id: &str,
        message_id: &str,
    ) {
        self.send(Command::BeginTurn {
            session_id: session_id.to_owned(),
            workspace: workspace.display().to_string(),
            prompt: prompt.to_owned(),
            user_message_id: user_message_id.to_owned(),
            message_id: message_id.to_owned(),
        });
    }

    /// Appends prose to the reply in flight; it is written within [`FLUSH_EVERY`].
    pub fn append_prose(&self, message_id: &str, prose: &str) {
        let mut appends = self
            .appends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match appends.get_mut(message_id) {
            Some(pending) => pending.push_str(prose),
            None => {
                appends.insert(message_id.to_owned(), prose.to_owned());
            }
        }
    }

    /// Records an action's latest status.
    pub fn record_action(&self, message_id: &str, update: &ActionUpdate) {
        self.send(Command::Action {
            message_id: message_id.to_owned(),
            update: update.clone(),
        });
    }

    /// Records what a file held before the turn touched it and after (`None`: absent). Secret files and
    /// files over the size cap keep no content: they are marked, not stored.
    pub fn record_snapshot(
        &self,
        message_id: &str,
        path: &Path,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
    ) {
        self.send(Command::Snapshot {
            message_id: message_id.to_owned(),
            path: path.display().to_string(),
            before,
            after,
        });
    }

    /// Ends a turn and waits until it is on disk. An error says what of the turn could not be saved
    /// (each write stands alone: one that fails loses nothing else).
    pub fn end_turn(
        &self,
        message_id: &str,
        status: TurnStatus,
        reply: &str,
        error: Option<&str>,
        usage: Usage,
    ) -> Result<(), StoreError> {
        self.send(Command::EndTurn {
            message_id: message_id.to_owned(),
            status: status.into(),
            reply: reply.to_owned(),
            error: error.map(str::to_owned),
            usage,
        });
        self.flush();
        match self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(message_id)
        {
            Some(failure) => Err(StoreError::NotSaved(failure)),
            None => Ok(()),
        }
    }

    /// Waits until everything sent so far is written.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        self.send(Command::Flush(done));
        let _ = wait.recv_timeout(Duration::from_secs(30));
    }

    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let connection = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&connection).map_err(sqlite(&self.path))
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
                "SELECT id, role, text, prose, status, error, reverted, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
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
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut actions = connection.prepare(
                "SELECT update_json, output_tail FROM actions WHERE message_id = ?1 ORDER BY action_id",
            )?;
            for message in &mut messages {
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

    /// Marks replies as reverted (their files were restored).
    pub fn mark_reverted(&self, message_ids: Vec<String>) {
        self.send(Command::MarkReverted { message_ids });
        self.flush();
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

/// A new id: time-ordered, unique within the process.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}{nanos:x}{:x}{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The conversation of a stored session, as the engine continues it: prompts and replies (an unfinished
/// reply as its prose), without reverted turns; and what the last reply's actions did.
pub fn load_conversation(store: &Store, session_id: &str) -> Result<Session, StoreError> {
    let messages = store.messages(session_id)?;
    let mut session = Session::default();
    let mut index = 0;
    while index < messages.len() {
        let message = &messages[index];
        let reply = messages
            .get(index + 1)
            .filter(|reply| reply.role == MessageRole::Assistant);
        if message.role == MessageRole::User {
            if reply.is_some_and(|reply| reply.reverted) {
                index += 2;
                continue;
            }
            session.messages.push(Message {
                role: Role::User,
                content: message.text.clone(),
            });
        } else {
            let content =
                if message.status == Some(StoredStatus::Complete) || message.prose.is_empty() {
                    message.text.clone()
                } else {
                    message.prose.clone()
                };
            if !content.is_empty() {
                session.messages.push(Message {
                    role: Role::Assistant,
                    content,
                });
            }
            session.last_results = message.actions.clone();
        }
        index += 1;
    }
    // A conversation ends with a reply: a prompt left without one is dropped.
    if session
        .messages
        .last()
        .is_some_and(|last| last.role == Role::User)
    {
        session.messages.pop();
    }
    Ok(session)
}

/// Records one session's turns as they happen. Without a store (it could not be opened) it records
/// nothing.
#[derive(Debug)]
pub struct SessionRecorder {
    pub store: Option<Store>,
    pub session_id: String,
    workspace: PathBuf,
}

impl SessionRecorder {
    pub fn new(store: Option<Store>, session_id: String, workspace: &Path) -> SessionRecorder {
        SessionRecorder {
            store,
            session_id,
            workspace: workspace.to_path_buf(),
        }
    }

    /// Starts a turn whose reply has the id `message_id`; returns the prompt's message id.
    pub fn begin(&mut self, prompt: &str, message_id: &str) -> String {
        let user_message_id = format!("{message_id}u");
        if let Some(store) = &self.store {
            store.begin_turn(
                &self.session_id,
                &self.workspace,
                prompt,
                &user_message_id,
                message_id,
            );
        }
        user_message_id
    }

    pub fn event(&mut self, message_id: &str, event: &crate::types::TurnEvent) {
        let Some(store) = &self.store else { return };
        match event {
            crate::types::TurnEvent::Text(text) => store.append_prose(message_id, text),
            crate::types::TurnEvent::Action(update) => store.record_action(message_id, update),
            crate::types::TurnEvent::Notice(_) => {}
        }
    }

    /// Ends the turn: the files it touched (before and after), the final statuses, the reply; durable
    /// when this returns. An error says what could not be saved.
    pub async fn end(
        &mut self,
        message_id: &str,
        outcome: &crate::engine::TurnOutcome,
    ) -> Result<(), StoreError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let message_id = message_id.to_owned();
        let previous = outcome.previous_contents.clone();
        let actions = outcome.actions.clone();
        let reply = outcome.reply.clone();
        let error = outcome.error.clone();
        let (status, usage) = (outcome.status, outcome.usage);
        // Reading the files and waiting for the disk stay off the async threads.
        tokio::task::spawn_blocking(move || {
            for previous in previous {
                let after = std::fs::read(&previous.path).ok();
                store.record_snapshot(&message_id, &previous.path, previous.content, after);
            }
            for update in &actions {
                store.record_action(&message_id, update);
            }
            store.end_turn(&message_id, status, &reply, error.as_deref(), usage)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

/// The writer thread: applies commands and buffered reply text in batched transactions, at least every
/// [`FLUSH_EVERY`] while there is anything to write, at once for a flush or a new turn.
fn write_loop(
    mut connection: Connection,
    path: &Path,
    queue: &mpsc::Receiver<Command>,
    appends: &Appends,
    failures: &Failures,
) {
    let mut batch: Vec<Command> = Vec::new();
    let mut batch_since: Option<Instant> = None;
    loop {
        let wait = batch_since.map_or(FLUSH_EVERY, |since| {
            FLUSH_EVERY.saturating_sub(since.elapsed())
        });
        let mut stop = false;
        match queue.recv_timeout(wait) {
            Ok(command) => {
                let urgent = matches!(command, Command::Flush(_) | Command::BeginTurn { .. });
                batch.push(command);
                let since = *batch_since.get_or_insert_with(Instant::now);
                if !urgent && since.elapsed() < FLUSH_EVERY {
                    continue;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => stop = true,
        }
        // The text first, then every command sent before it: a reply's row exists before its text.
        let text = std::mem::take(
            &mut *appends
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        while let Ok(command) = queue.try_recv() {
            batch.push(command);
        }
        if (!batch.is_empty() || !text.is_empty())
            && let Err(error) = apply(&mut connection, std::mem::take(&mut batch), text, failures)
        {
            tracing::error!(%error, path = %path.display(), "writing the session store failed");
        }
        batch_since = None;
        if stop {
            return;
        }
    }
}

/// Applies a batch in one transaction, each command in a savepoint of its own: one that fails is
/// rolled back alone, logged and kept for its turn's end (`Store::end_turn` reports it).
fn apply(
    connection: &mut Connection,
    batch: Vec<Command>,
    text: HashMap<String, String>,
    failures: &Failures,
) -> rusqlite::Result<()> {
    let mut acknowledgements = Vec::new();
    let mut transaction = connection.transaction()?;
    for command in batch {
        let message_id = match &command {
            Command::Flush(done) => {
                acknowledgements.push(done.clone());
                continue;
            }
            other => other.message_id(),
        };
        let savepoint = transaction.savepoint()?;
        match apply_one(&savepoint, command) {
            Ok(()) => savepoint.commit()?,
            Err(error) => {
                drop(savepoint);
                tracing::error!(%error, message = %message_id, "a session store write failed; it alone is lost");
                failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(message_id)
                    .or_insert_with(|| error.to_string());
            }
        }
    }
    for (message_id, prose) in text {
        transaction.execute(
            "UPDATE messages SET prose = prose || ?2 WHERE id = ?1",
            params![message_id, prose],
        )?;
    }
    transaction.commit()?;
    for done in acknowledgements {
        let _ = done.send(());
    }
    Ok(())
}

/// Stores a file version once (keyed by its hash), deflate-compressed.
fn store_blob(transaction: &rusqlite::Savepoint<'_>, content: &[u8]) -> rusqlite::Result<String> {
    let key = hash(content);
    let exists: Option<i64> = transaction
        .query_row("SELECT 1 FROM blobs WHERE hash = ?1", [&key], |row| {
            row.get(0)
        })
        .optional()?;
    if exists.is_none() {
        transaction.execute(
            "INSERT INTO blobs (hash, content) VALUES (?1, ?2)",
            params![key, compress(content)],
        )?;
    }
    Ok(key)
}

fn compress(content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(content);
    encoder.finish().unwrap_or_default()
}

fn decompress(stored: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut content = Vec::new();
    flate2::read::DeflateDecoder::new(stored)
        .read_to_end(&mut content)
        .ok()?;
    Some(content)
}

fn apply_one(transaction: &rusqlite::Savepoint<'_>, command: Command) -> rusqlite::Result<()> {
    match command {
        Command::BeginTurn {
            session_id,
            workspace,
            prompt,
            user_message_id,
            message_id,
        } => {
            let time = now();
            let title: String = prompt
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect();
            transaction.execute(
                "INSERT INTO sessions (id, workspace, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (id) DO UPDATE SET updated_at = ?4",
                params![session_id, workspace, title, time],
            )?;
            let seq: i64 = transaction.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?1",
                [&session_id],
                |row| row.get(0),
            )?;
            transaction.execute(
                "INSERT INTO messages (id, session_id, seq, role, text, prose, created_at) VALUES (?1, ?2, ?3, 'user', ?4, ?4, ?5)",
                params![user_message_id, session_id, seq + 1, prompt, time],
            )?;
            transaction.execute(
                "INSERT INTO messages (id, session_id, seq, role, text, prose, status, created_at) VALUES (?1, ?2, ?3, 'assistant', '', '', 'streaming', ?4)",
                params![message_id, session_id, seq + 2, time],
            )?;
        }
        Command::Action { message_id, update } => {
            let json = serde_json::to_string(&update).unwrap_or_default();
            transaction.execute(
                "INSERT INTO actions (message_id, action_id, update_json, output_tail) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (message_id, action_id) DO UPDATE SET update_json = ?3, output_tail = COALESCE(?4, output_tail)",
                params![message_id, update.action_id as i64, json, update.output_tail],
            )?;
        }
        Command::Snapshot {
            message_id,
            path,
            before,
            after,
        } => {
            let secret = is_secret(Path::new(&path));
            let keepable = |content: &Option<Vec<u8>>| {
                !secret
                    && content
                        .as_ref()
                        .is_none_or(|bytes| bytes.len() <= MAX_SNAPSHOT_BYTES)
            };
            if !keepable(&before) {
                tracing::warn!(%path, "the file's earlier content is not kept: this turn cannot revert it");
            }
            let before_kept = keepable(&before);
            let before_hash = match &before {
                Some(bytes) if before_kept => Some(store_blob(transaction, bytes)?),
                _ => None,
            };
            // What the turn wrote is kept as a hash only: enough to see later edits.
            let after_hash = after.as_deref().map(hash);
            transaction.execute(
                "INSERT INTO snapshots (message_id, path, before_hash, before_kept, after_hash) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (message_id, path) DO UPDATE SET after_hash = ?5",
                params![message_id, path, before_hash, before_kept as i64, after_hash],
            )?;
        }
        Command::EndTurn {
            message_id,
            status,
            reply,
            error,
            usage,
        } => {
            transaction.execute(
                "UPDATE messages SET status = ?2, text = ?3, error = ?4, input_tokens = ?5, output_tokens = ?6,
                 cache_read_tokens = ?7, cache_write_tokens = ?8 WHERE id = ?1",
                params![
                    message_id,
                    status,
                    reply,
                    error,
                    usage.input_tokens as i64,
                    usage.output_tokens as i64,
                    usage.cache_read_tokens as i64,
                    usage.cache_write_tokens as i64
                ],
            )?;
            transaction.execute(
                "UPDATE sessions SET updated_at = ?2 WHERE id = (SELECT session_id FROM messages WHERE id = ?1)",
                params![message_id, now()],
            )?;
        }
        Command::MarkReverted { message_ids } => {
            for message_id in message_ids {
                transaction.execute(
                    "UPDATE messages SET reverted = 1 WHERE id = ?1",
                    [message_id],
                )?;
            }
        }
        Command::Flush(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ActionStatus;

    #[test]
    fn the_data_dir_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(
            default_data_dir(env(&[("OPENBOLT_DATA_DIR", "/d"), ("HOME", "/h")])),
            PathBuf::from("/d")
        );
        if !cfg!(target_os = "macos") {
            assert_eq!(
                default_data_dir(env(&[("HOME", "/h")])),
                PathBuf::from("/h/.local/share/openbolt")
            );
            assert_eq!(
                default_data_dir(env(&[("HOME", "/h"), ("XDG_DATA_HOME", "/x")])),
                PathBuf::from("/x/openbolt")
            );
        }
    }

    #[test]
    fn a_turn_round_trips_and_reverts_with_conflicts() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("open");
        let workspace = Path::new("/w");
        store.begin_turn("s1", workspace, "build it\nplease", "u1", "m1");
        store.append_prose("m1", "Here ");
        store.append_prose("m1", "it is.");
        let mut update = ActionUpdate {
            artifact_id: "a".into(),
            action_id: 0,
            kind: "file".into(),
            file_path: Some("a.txt".into()),
            command: None,
            status: ActionStatus::Complete,
            exit_code: None,
            error: None,
            terminal_id: None,
            output_tail: None,
        };
        store.record_action("m1", &update);
        update.status = ActionStatus::Failed;
        update.output_tail = Some("boom".into());
        store.record_action("m1", &update);
        store.record_snapshot(
            "m1",
            Path::new("/w/a.txt"),
            Some(b"old a".to_vec()),
            Some(b"new a".to_vec()),
        );
        store.record_snapshot("m1", Path::new("/w/b.txt"), None, Some(b"new b".to_vec()));
        store.record_snapshot(
            "m1",
            Path::new("/w/c.txt"),
            Some(b"old c".to_vec()),
            Some(b"new c".to_vec()),
        );
        store.record_snapshot(
            "m1",
            Path::new("/w/.env"),
            Some(b"SECRET=1".to_vec()),
            Some(b"SECRET=2".to_vec()),
        );
        // Files the model never sees are never stored either (one list decides both).
        for name in ["secrets.json", ".pypirc", "id_ecdsa", "cert.p12", "app.jks"] {
            store.record_snapshot(
                "m1",
                &Path::new("/w").join(name),
                Some(format!("SECRET=1 of {name}").into_bytes()),
                None,
            );
        }
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 2,
            cache_write_tokens: 0,
        };
        store
            .end_turn(
                "m1",
                TurnStatus::Complete,
                "Here <boltArtifact/> it is.",
                None,
                usage,
            )
            .expect("saved");

        let sessions = store.sessions(workspace).expect("sessions");
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].title, "build it");
        assert_eq!(sessions[0].message_count, 2);
        let messages = store.messages("s1").expect("messages");
        assert_eq!(messages[0].text, "build it\nplease");
        assert_eq!(messages[1].prose, "Here it is.");
        assert_eq!(messages[1].text, "Here <boltArtifact/> it is.");
        assert_eq!(messages[1].status, Some(StoredStatus::Complete));
        assert_eq!(messages[1].usage, usage);
        assert_eq!(messages[1].actions.len(), 1);
        assert_eq!(messages[1].actions[0].status, ActionStatus::Failed);
        assert_eq!(messages[1].actions[0].output_tail.as_deref(), Some("boom"));

        // c.txt was edited by the user since: a conflict.
        let current = |path: &Path| -> Option<Vec<u8>> {
            match path.to_str() {
                Some("/w/a.txt") => Some(b"new a".to_vec()),
                Some("/w/b.txt") => Some(b"new b".to_vec()),
                Some("/w/c.txt") => Some(b"user edit".to_vec()),
                Some("/w/.env") => Some(b"SECRET=2".to_vec()),
                _ => None,
            }
        };
        let (turns, steps) = store.revert_plan("s1", "m1", current).expect("plan");
        assert_eq!(turns, ["m1"]);
        let step = |name: &str| {
            steps
                .iter()
                .find(|step| step.path == Path::new(name))
                .expect("step")
                .clone()
        };
        assert_eq!(step("/w/a.txt").restore.as_deref(), Some(&b"old a"[..]));
        assert!(step("/w/a.txt").conflict.is_none());
        assert_eq!(step("/w/b.txt").restore, None);
        assert!(step("/w/b.txt").conflict.is_none());
        assert!(step("/w/c.txt").conflict.is_some());
        assert!(step("/w/.env").conflict.is_some());
        store.mark_reverted(turns);
        assert!(store.messages("s1").expect("messages")[1].reverted);
        assert_eq!(store.title("s1").expect("title"), "build it");
        drop(store);
        let database = std::fs::read(dir.path().join("sessions.sqlite3")).expect("db");
        let wal = std::fs::read(dir.path().join("sessions.sqlite3-wal")).unwrap_or_default();
        for bytes in [database, wal] {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("SECRET=1"),
                "a secret file's content was stored"
            );
        }
    }

    #[test]
    fn a_reply_still_streaming_is_interrupted_on_the_next_open() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.begin_turn("s", Path::new("/w"), "go", "u", "m");
            store.append_prose("m", "partial");
            store.flush();
        }
        let store = Store::open(dir.path()).expect("reopen");
        let messages = store.messages("s").expect("messages");
        assert_eq!(messages[1].status, Some(StoredStatus::Interrupted));
        assert_eq!(messages[1].role, MessageRole::Assistant);
        assert_eq!(messages[1].prose, "partial");
        assert!(matches!(
            store.messages("nope"),
            Err(StoreError::NoSession(_))
        ));
    }

    #[test]
    fn a_failing_write_loses_nothing_else_and_is_reported_on_its_turn() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("open");
        store.begin_turn("s1", Path::new("/w"), "first", "u1", "m1");
        store.begin_turn("s2", Path::new("/w"), "second", "u2", "m2");
        let update = ActionUpdate {
            artifact_id: "a".into(),
            action_id: 0,
            kind: "file".into(),
            file_path: Some("a.txt".into()),
            command: None,
            status: ActionStatus::Complete,
            exit_code: None,
            error: None,
            terminal_id: None,
            output_tail: None,
        };
        // One batch: m2's action, an action of a reply that does not exist (a foreign key fails), and
        // both turns' ends.
        store.record_action("m2", &update);
        store.record_action("ghost", &update);
        store.append_prose("m1", "kept");
        let usage = Usage::default();
        let second = store.end_turn("m2", TurnStatus::Complete, "two", None, usage);
        let first = store.end_turn("m1", TurnStatus::Complete, "one", None, usage);
        assert!(second.is_ok(), "{second:?}");
        assert!(first.is_ok(), "{first:?}");
        let messages = store.messages("s2").expect("s2");
        assert_eq!(messages[1].status, Some(StoredStatus::Complete));
        assert_eq!(messages[1].actions.len(), 1);
        let messages = store.messages("s1").expect("s1");
        assert_eq!(messages[1].status, Some(StoredStatus::Complete));
        assert_eq!(messages[1].prose, "kept");
        // The failed write is reported on its own turn.
        let ghost = store.end_turn("ghost", TurnStatus::Complete, "", None, usage);
        assert!(
            matches!(&ghost, Err(StoreError::NotSaved(reason)) if reason.contains("FOREIGN KEY")),
            "{ghost:?}"
        );
    }
}
