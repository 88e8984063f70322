//! Recording one session's turns as they happen.

use super::{Store, StoreError};
use std::path::{Path, PathBuf};

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

    /// Starts a turn whose reply has the id `message_id` (its prompt carries `images`); returns the
    /// prompt's message id.
    pub fn begin(
        &mut self,
        prompt: &str,
        message_id: &str,
        images: &[crate::types::Screenshot],
    ) -> String {
        let user_message_id = format!("{message_id}u");
        if let Some(store) = &self.store {
            store.begin_turn(
                &self.session_id,
                &self.workspace,
                prompt,
                &user_message_id,
                message_id,
                images,
            );
        }
        user_message_id
    }

    pub fn event(&mut self, message_id: &str, event: &crate::types::TurnEvent) {
        let Some(store) = &self.store else { return };
        match event {
            crate::types::TurnEvent::Text(text) => store.append_prose(message_id, text),
            crate::types::TurnEvent::Action(update) => store.record_action(message_id, update),
            crate::types::TurnEvent::Notice(_) | crate::types::TurnEvent::Page(_) => {}
        }
    }

    /// Ends the turn: the files it touched (before and after), the final statuses (`actions`), the reply; durable
    /// when this returns. An error says what could not be saved.
    pub async fn end(
        &mut self,
        message_id: &str,
        outcome: &crate::types::TurnOutcome,
        actions: Vec<crate::types::ActionUpdate>,
    ) -> Result<(), StoreError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let message_id = message_id.to_owned();
        let previous = outcome.previous_contents.clone();
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
