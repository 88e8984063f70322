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
//!
//! `schema.rs` creates and migrates the database and maps roles and statuses; `writer.rs` is the writer
//! thread; `reads.rs` the queries (and the engine's history of a session); `revert.rs` plans reverts;
//! `recorder.rs` records a session's turns as they happen.

mod reads;
mod recorder;
mod revert;
mod schema;
mod writer;

use crate::types::ActionUpdate;
use crate::types::TurnStatus;
use crate::types::Usage;
pub use recorder::SessionRecorder;
pub use revert::{FileVersions, RevertStep};
use rusqlite::Connection;
pub use schema::{MessageRole, StoredStatus};
use schema::{connect, migrate};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use writer::{Command, write_loop};

/// Reply text waits at most this long in memory.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Larger files are not snapshotted (their turn cannot revert them).
pub const MAX_SNAPSHOT_BYTES: usize = 2 << 20;

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
    #[error("the session store is closed")]
    Closed,
    #[error("part of this turn was not saved: {0}")]
    NotSaved(String),
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
    /// The page checks of the previews a reply left running, in order.
    pub pages: Vec<crate::types::PageCheck>,
    /// The screenshots a prompt carried to the model.
    pub images: Vec<crate::types::Screenshot>,
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
    /// `None` once the store is closed.
    reader: Arc<Mutex<Option<Connection>>>,
    /// Last, so it drops after the sender and the reader: when the last copy of the store goes, the
    /// writer thread is waited for, so both connections are closed and SQLite folds its WAL back into
    /// the database and removes it. [`Store::close`] does the same while copies remain.
    closer: Arc<Closer>,
}

/// Waits for the writer thread when the last copy of the store is dropped.
#[derive(Debug)]
struct Closer(Mutex<Option<std::thread::JoinHandle<()>>>);

impl Drop for Closer {
    fn drop(&mut self) {
        let writer = crate::lock(&self.0).take();
        if let Some(writer) = writer
            && writer.thread().id() != std::thread::current().id()
        {
            // Every sender is gone: the writer commits what it holds and ends, closing its connection.
            let _ = writer.join();
        }
    }
}

/// Failed writes, by the reply they belong to.
type Failures = Arc<Mutex<HashMap<String, String>>>;

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
        let writer = std::thread::Builder::new()
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
            reader: Arc::new(Mutex::new(Some(reader))),
            closer: Arc::new(Closer(Mutex::new(Some(writer)))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the store for every copy of it: the writer commits what it holds and ends, both
    /// connections close (SQLite folds its WAL back and removes it), and later reads and writes fail
    /// with [`StoreError::Closed`] or are dropped. For a process about to exit while copies remain
    /// (an LSP's state lives as long as the tasks that hold it).
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
        let writer = crate::lock(&self.closer.0).take();
        if let Some(writer) = writer
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
        crate::lock(&self.reader).take();
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
        images: &[crate::types::Screenshot],
    ) {
        self.send(Command::BeginTurn {
            session_id: session_id.to_owned(),
            workspace: workspace.display().to_string(),
            prompt: prompt.to_owned(),
            user_message_id: user_message_id.to_owned(),
            message_id: message_id.to_owned(),
            images: images.to_vec(),
        });
    }

    /// Records a page check of a preview the turn `message_id` left running.
    pub fn record_page(&self, message_id: &str, check: &crate::types::PageCheck) {
        self.send(Command::Page {
            message_id: message_id.to_owned(),
            check: check.clone(),
        });
    }

    /// Appends prose to the reply in flight; it is written within [`FLUSH_EVERY`].
    pub fn append_prose(&self, message_id: &str, prose: &str) {
        let mut appends = crate::lock(&self.appends);
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
        match crate::lock(&self.failures).remove(message_id) {
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

    /// Redacts `values` wherever they are stored already: in `workspace`'s sessions, or (`None`) in all.
    /// Runs on the writer thread, in its turn.
    pub fn scrub(&self, values: Vec<String>, workspace: Option<&Path>) {
        if values.is_empty() {
            return;
        }
        self.send(Command::Scrub {
            values,
            workspace: workspace.map(|workspace| workspace.display().to_string()),
        });
    }

    /// Marks replies as reverted (their files were restored).
    pub fn mark_reverted(&self, message_ids: Vec<String>) {
        self.send(Command::MarkReverted { message_ids });
        self.flush();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_the_store_leaves_no_wal_file() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        store.begin_turn("s1", Path::new("/w"), "hello", "u1", "m1", &[]);
        store.append_prose("m1", "world");
        store.flush();
        let copy = store.clone();
        drop(store);
        // A copy still open keeps the store (and its WAL) alive.
        assert!(dir.path().join("sessions.sqlite3-wal").exists());
        drop(copy);
        assert!(
            !dir.path().join("sessions.sqlite3-wal").exists(),
            "the WAL file stays after the store is closed"
        );
        let reopened = Store::open(dir.path()).expect("reopened");
        assert_eq!(reopened.messages("s1").expect("messages").len(), 2);
    }

    #[test]
    fn close_commits_and_closes_while_copies_remain() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        store.begin_turn("s1", Path::new("/w"), "hello", "u1", "m1", &[]);
        store.append_prose("m1", "world");
        let copy = store.clone();
        store.close();
        assert!(
            !dir.path().join("sessions.sqlite3-wal").exists(),
            "the WAL file stays after close"
        );
        assert!(matches!(copy.messages("s1"), Err(StoreError::Closed)));
        // What was sent before the close was committed.
        let reopened = Store::open(dir.path()).expect("reopened");
        let messages = reopened.messages("s1").expect("messages");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].prose, "world");
        drop(copy);
    }
    use crate::types::{ActionKind, ActionStatus};

    /// A complete file action of `a.txt`.
    fn file_update() -> ActionUpdate {
        ActionUpdate::for_test(
            ActionKind::File,
            Some("a.txt"),
            None,
            ActionStatus::Complete,
        )
    }

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
        store.begin_turn("s1", workspace, "build it\nplease", "u1", "m1", &[]);
        store.append_prose("m1", "Here ");
        store.append_prose("m1", "it is.");
        let mut update = file_update();
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
    fn an_update_that_does_not_place_its_action_keeps_the_stored_place() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("open");
        store.begin_turn("s1", Path::new("/w"), "serve it", "u1", "m1", &[]);
        let mut update = file_update();
        update.prose_offset = Some(crate::types::ProseOffset { utf8: 7, utf16: 5 });
        store.record_action("m1", &update);
        // A dev server's end, recorded while its session was no longer loaded: no place of its own.
        update.prose_offset = None;
        update.status = ActionStatus::Aborted;
        store.record_action("m1", &update);
        store
            .end_turn("m1", TurnStatus::Complete, "", None, Usage::default())
            .expect("saved");
        let messages = store.messages("s1").expect("messages");
        let action = &messages[1].actions[0];
        assert_eq!(action.status, ActionStatus::Aborted);
        assert_eq!(
            action.prose_offset,
            Some(crate::types::ProseOffset { utf8: 7, utf16: 5 })
        );
    }

    #[test]
    fn a_reply_still_streaming_is_interrupted_on_the_next_open() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.begin_turn("s", Path::new("/w"), "go", "u", "m", &[]);
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
        store.begin_turn("s1", Path::new("/w"), "first", "u1", "m1", &[]);
        store.begin_turn("s2", Path::new("/w"), "second", "u2", "m2", &[]);
        let update = file_update();
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

    #[test]
    fn a_first_version_store_gains_page_checks_and_screenshots_and_keeps_its_sessions() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let connection =
                rusqlite::Connection::open(dir.path().join("sessions.sqlite3")).expect("open");
            connection
                .execute_batch(schema::V1)
                .expect("the first schema");
            connection
                .execute_batch(
                    "INSERT INTO sessions VALUES ('old', '/w', 'old', 1, 1);
                     INSERT INTO messages (id, session_id, seq, role, text, prose, created_at)
                         VALUES ('ou', 'old', 1, 'user', 'hello', 'hello', 1);
                     PRAGMA user_version = 1;",
                )
                .expect("an old session");
        }
        let store = Store::open(dir.path()).expect("migrated");
        let old = store.messages("old").expect("the old session");
        assert_eq!(old[0].text, "hello");
        assert!(old[0].images.is_empty() && old[0].pages.is_empty());
        let shot = crate::types::Screenshot {
            path: "/data/screenshots/s/m1-1.jpg".into(),
            media_type: "image/jpeg".into(),
            width: 1280,
            height: 713,
            bytes: 64_540,
            millis: 45,
        };
        store.begin_turn(
            "s",
            Path::new("/w"),
            "fix it",
            "u1",
            "m1",
            std::slice::from_ref(&shot),
        );
        let check = crate::types::PageCheck {
            url: "http://127.0.0.1:5173/".into(),
            screenshot: Some(shot.clone()),
            ..crate::types::PageCheck::default()
        };
        store.record_page("m1", &check);
        store.record_page("m1", &crate::types::PageCheck::default());
        store
            .end_turn("m1", TurnStatus::Complete, "", None, Usage::default())
            .expect("saved");
        let messages = store.messages("s").expect("messages");
        assert_eq!(messages[0].images, vec![shot]);
        assert_eq!(messages[1].pages.len(), 2);
        assert_eq!(messages[1].pages[0], check);
    }
}
