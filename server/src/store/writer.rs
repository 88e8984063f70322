//! The writer thread: commands and buffered reply text go to disk in batched transactions, each command
//! in a savepoint of its own; file versions are stored once, compressed.

use super::{Appends, FLUSH_EVERY, Failures, MAX_SNAPSHOT_BYTES, StoredStatus, now};
use crate::secrets::is_secret;
use crate::types::Usage;
use crate::types::{ActionUpdate, PageCheck, Screenshot};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

pub(super) enum Command {
    /// Commit what is held and end (the store is closing).
    Close,
    BeginTurn {
        session_id: String,
        workspace: String,
        prompt: String,
        user_message_id: String,
        message_id: String,
        /// The screenshots the prompt carries (a fix round's, of the page it reports on).
        images: Vec<Screenshot>,
    },
    /// A page check's verdict on the turn `message_id` left running.
    Page {
        message_id: String,
        check: PageCheck,
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
    /// Replaces `values` by `[redacted]` in what is stored: in every session, or in `workspace`'s.
    Scrub {
        values: Vec<String>,
        workspace: Option<String>,
    },
    Flush(mpsc::Sender<()>),
}

impl Command {
    /// The reply a command belongs to (a revert's first one), for reporting its failure.
    fn message_id(&self) -> String {
        match self {
            Command::BeginTurn { message_id, .. }
            | Command::Action { message_id, .. }
            | Command::Page { message_id, .. }
            | Command::Snapshot { message_id, .. }
            | Command::EndTurn { message_id, .. } => message_id.clone(),
            Command::MarkReverted { message_ids } => {
                message_ids.first().cloned().unwrap_or_default()
            }
            Command::Flush(_) | Command::Close | Command::Scrub { .. } => String::new(),
        }
    }

    /// The command with every known secret value redacted from the text it stores (file snapshots are
    /// file content, kept as written: a revert puts back exactly what was there).
    fn redacted(mut self) -> Command {
        use crate::secrets::values::redact_in_place;
        match &mut self {
            Command::BeginTurn { prompt, .. } => redact_in_place(prompt),
            Command::Action { update, .. } => crate::secrets::values::redact_update(update),
            Command::Page { check, .. } => crate::secrets::values::redact_page(check),
            Command::EndTurn { reply, error, .. } => {
                redact_in_place(reply);
                if let Some(error) = error {
                    redact_in_place(error);
                }
            }
            _ => {}
        }
        self
    }
}

pub(super) fn hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The writer thread: applies commands and buffered reply text in batched transactions, at least every
/// [`FLUSH_EVERY`] while there is anything to write, at once for a flush or a new turn.
pub(super) fn write_loop(
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
            Ok(Command::Close) => stop = true,
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
        let text = std::mem::take(&mut *crate::lock(appends));
        while let Ok(command) = queue.try_recv() {
            match command {
                Command::Close => stop = true,
                command => batch.push(command),
            }
        }
        if (!batch.is_empty() || !text.is_empty())
            && let Err(error) = apply(&mut connection, std::mem::take(&mut batch), text, failures)
        {
            tracing::error!(%error, path = %path.display(), "writing the session store failed");
        }
        batch_since = None;
        if stop {
            // Text appended while the last batch was taken (a close comes right after it).
            let rest = std::mem::take(&mut *crate::lock(appends));
            if !rest.is_empty()
                && let Err(error) = apply(&mut connection, Vec::new(), rest, failures)
            {
                tracing::error!(%error, path = %path.display(), "writing the session store failed");
            }
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
        match apply_one(&savepoint, command.redacted()) {
            Ok(()) => savepoint.commit()?,
            Err(error) => {
                drop(savepoint);
                tracing::error!(%error, message = %message_id, "a session store write failed; it alone is lost");
                crate::lock(failures)
                    .entry(message_id)
                    .or_insert_with(|| error.to_string());
            }
        }
    }
    for (message_id, mut prose) in text {
        crate::secrets::values::redact_in_place(&mut prose);
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

pub(super) fn decompress(stored: &[u8]) -> Option<Vec<u8>> {
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
            images,
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
                "INSERT INTO messages (id, session_id, seq, role, text, prose, created_at, images) VALUES (?1, ?2, ?3, 'user', ?4, ?4, ?5, ?6)",
                params![
                    user_message_id,
                    session_id,
                    seq + 1,
                    prompt,
                    time,
                    (!images.is_empty())
                        .then(|| serde_json::to_string(&images).unwrap_or_default())
                ],
            )?;
            transaction.execute(
                "INSERT INTO messages (id, session_id, seq, role, text, prose, status, created_at) VALUES (?1, ?2, ?3, 'assistant', '', '', 'streaming', ?4)",
                params![message_id, session_id, seq + 2, time],
            )?;
        }
        Command::Page { message_id, check } => {
            transaction.execute(
                "INSERT INTO page_checks (message_id, seq, check_json)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM page_checks WHERE message_id = ?1), ?2)",
                params![message_id, serde_json::to_string(&check).unwrap_or_default()],
            )?;
        }
        Command::Action { message_id, update } => {
            let json = serde_json::to_string(&update).unwrap_or_default();
            transaction.execute(
                // An update without a place in the prose (a dev server's end, recorded while its session
                // was not loaded) keeps the place stored before.
                "INSERT INTO actions (message_id, action_id, update_json, output_tail) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (message_id, action_id) DO UPDATE SET
                     update_json = CASE
                         WHEN json_extract(?3, '$.proseOffset') IS NULL
                              AND json_extract(update_json, '$.proseOffset') IS NOT NULL
                         THEN json_set(?3, '$.proseOffset', json_extract(update_json, '$.proseOffset'))
                         ELSE ?3
                     END,
                     output_tail = COALESCE(?4, output_tail)",
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
            // What the turn wrote: its hash sees later edits, its content shows the turn's diff. Blobs
            // are shared by content, so it costs nothing when the next turn starts from it.
            let after_hash = match &after {
                Some(bytes) if keepable(&after) => Some(store_blob(transaction, bytes)?),
                Some(bytes) => Some(hash(bytes)),
                None => None,
            };
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
        Command::Scrub {
            mut values,
            workspace,
        } => {
            // Longest first: a value that starts a longer one would otherwise leave the longer's end.
            values.sort_by_key(|value| std::cmp::Reverse(value.len()));
            let mut changed = 0;
            for value in &values {
                changed += scrub(transaction, value, workspace.as_deref())?;
            }
            if changed > 0 {
                tracing::info!(changed, "secret values already stored were redacted");
            }
        }
        Command::Flush(_) | Command::Close => {}
    }
    Ok(())
}

/// Replaces `value` by `[redacted]` in the stored prompts, replies, errors, titles and actions (their
/// JSON holds it escaped), of `workspace`'s sessions or all. Returns how many rows changed.
fn scrub(
    transaction: &rusqlite::Savepoint<'_>,
    value: &str,
    workspace: Option<&str>,
) -> rusqlite::Result<usize> {
    let escaped = serde_json::to_string(value).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    let redacted = crate::secrets::REDACTED;
    let sessions = "(SELECT id FROM sessions WHERE ?3 IS NULL OR workspace = ?3)";
    let mut changed = transaction.execute(
        &format!(
            "UPDATE messages SET text = replace(text, ?1, ?2), prose = replace(prose, ?1, ?2),
                 error = replace(error, ?1, ?2)
             WHERE session_id IN {sessions}
               AND (instr(text, ?1) > 0 OR instr(prose, ?1) > 0 OR instr(error, ?1) > 0)"
        ),
        params![value, redacted, workspace],
    )?;
    changed += transaction.execute(
        &format!(
            "UPDATE sessions SET title = replace(title, ?1, ?2)
             WHERE id IN {sessions} AND instr(title, ?1) > 0"
        ),
        params![value, redacted, workspace],
    )?;
    changed += transaction.execute(
        &format!(
            "UPDATE actions SET update_json = replace(update_json, ?4, ?2),
                 output_tail = replace(output_tail, ?1, ?2)
             WHERE message_id IN (SELECT id FROM messages WHERE session_id IN {sessions})
               AND (instr(update_json, ?4) > 0 OR instr(output_tail, ?1) > 0)"
        ),
        params![value, redacted, workspace, escaped],
    )?;
    changed += transaction.execute(
        &format!(
            "UPDATE page_checks SET check_json = replace(check_json, ?4, ?2)
             WHERE message_id IN (SELECT id FROM messages WHERE session_id IN {sessions})
               AND instr(check_json, ?4) > 0"
        ),
        params![value, redacted, workspace, escaped],
    )?;
    Ok(changed)
}
