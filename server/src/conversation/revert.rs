//! Reverting turns: one implementation for every front end. The store plans (what each file held before
//! the first reverted turn, and whether it changed since the last one wrote it); the front end's
//! [`FileWriter`] applies the plan — the disk for the CLI, the editor for the LSP. Binary content goes
//! back on disk, never through a text edit.

use super::stored::load_conversation;
use super::{Conversations, TurnState, lock};
use crate::actions::FileWriter;
use crate::actions::files::write_atomically;
use crate::store::{MessageRole, RevertStep, Store};
use std::path::Path;

use super::ConversationError;
use crate::blocking;

/// What happened to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRevert {
    Restored,
    /// The turn created it.
    Deleted,
    /// Left as it is (`reason` says why).
    Conflict,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertedFile {
    /// Relative to the workspace.
    pub path: String,
    pub status: FileRevert,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A revert's account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reverted {
    /// The replies whose files were reverted.
    pub reverted: Vec<String>,
    pub files: Vec<RevertedFile>,
}

impl Reverted {
    pub fn conflicts(&self) -> usize {
        self.files
            .iter()
            .filter(|file| file.status == FileRevert::Conflict)
            .count()
    }
}

/// Undoes the files of the reply `message_id` (default: the last one not reverted) and of every later
/// reply of `session_id` in `workspace`, through `writer`, and marks them reverted. What
/// [`Conversations::revert`] does for a loaded session, without one (`openbolt revert`).
pub async fn revert_turns(
    store: &Store,
    workspace: &Path,
    session_id: &str,
    message_id: Option<&str>,
    writer: &dyn FileWriter,
) -> Result<Reverted, ConversationError> {
    let target = match message_id {
        Some(id) => id.to_owned(),
        None => blocking(|| last_unreverted(store, session_id))?,
    };
    let (turns, steps) =
        blocking(|| store.revert_plan(session_id, &target, |path| writer.current(path)))?;
    let mut files = Vec::new();
    for step in steps {
        files.push(apply_step(workspace, step, writer).await);
    }
    blocking(|| store.mark_reverted(turns.clone()));
    Ok(Reverted {
        reverted: turns,
        files,
    })
}

/// The last reply of a session not reverted yet. Reads the store.
pub fn last_unreverted(store: &Store, session_id: &str) -> Result<String, ConversationError> {
    store
        .messages(session_id)?
        .iter()
        .rev()
        .find(|message| message.role == MessageRole::Assistant && !message.reverted)
        .map(|message| message.message_id.clone())
        .ok_or(ConversationError::NothingToRevert)
}

impl Conversations {
    /// Undoes the files of the reply `message_id` (default: the last one not reverted) and of every
    /// later reply of `session_id`, through `writer`, and stops the dev servers those replies started.
    /// A file changed since its turn wrote it is reported, not touched. Fails while a turn of the session is still replying; waits for one being checked.
    pub async fn revert(
        &self,
        session_id: &str,
        message_id: Option<&str>,
        writer: &dyn FileWriter,
    ) -> Result<Reverted, ConversationError> {
        let store = self
            .store
            .clone()
            .ok_or(ConversationError::NoStore("there is nothing to revert"))?;
        // A loaded session must be idle (a turn being checked is waited for), and stays so while its
        // files go back.
        let conversation = self.find(session_id);
        let mut guard = match &conversation {
            Some(conversation) => Some(conversation.lock_turn().await?),
            None => None,
        };
        let reverted =
            revert_turns(&store, &self.workspace, session_id, message_id, writer).await?;
        let turns = &reverted.reverted;
        if let Some(conversation) = &conversation {
            for entry in lock(&conversation.transcript).iter_mut() {
                if turns.contains(&entry.message_id) {
                    entry.reverted = true;
                }
            }
        }
        // The model's history loses the reverted turns too.
        if let Some(TurnState { history, .. }) = guard.as_deref_mut()
            && let Ok(reloaded) = blocking(|| load_conversation(&store, session_id))
        {
            *history = reloaded;
        }
        // A dev server a reverted turn started would serve what is no longer there: it stops (its
        // action ends `aborted`, through the terminals' events like any stopped server).
        for terminal in self.dev_servers.started_by(turns) {
            let _ = self.terminals.kill(terminal).await;
        }
        Ok(reverted)
    }
}

async fn apply_step(workspace: &Path, step: RevertStep, writer: &dyn FileWriter) -> RevertedFile {
    let path = step
        .path
        .strip_prefix(workspace)
        .unwrap_or(&step.path)
        .display()
        .to_string();
    let result = if let Some(conflict) = step.conflict {
        Err(conflict)
    } else if let Some(content) = step.restore {
        match String::from_utf8(content) {
            Ok(text) => writer.write(&step.path, &text).await,
            Err(binary) => {
                let content = binary.into_bytes();
                blocking(|| write_atomically(&step.path, &content))
                    .map_err(|error| error.to_string())
            }
        }
        .map(|()| FileRevert::Restored)
    } else {
        writer.delete(&step.path).await.map(|()| {
            remove_empty_directories(workspace, &step.path);
            FileRevert::Deleted
        })
    };
    match result {
        Ok(status) => RevertedFile {
            path,
            status,
            reason: None,
        },
        Err(reason) => RevertedFile {
            path,
            status: FileRevert::Conflict,
            reason: Some(reason),
        },
    }
}

/// The directories a deleted file leaves empty go too, up to the workspace.
fn remove_empty_directories(workspace: &Path, file: &Path) {
    let mut parent = file.parent();
    while let Some(directory) =
        parent.filter(|directory| directory.starts_with(workspace) && *directory != workspace)
    {
        if std::fs::remove_dir(directory).is_err() {
            break;
        }
        parent = directory.parent();
    }
}
