//! The transcript: a conversation as a chat panel shows it — prompts, the replies' prose, their actions
//! with their latest status — kept live while a turn runs, and rebuilt from the store for a saved session.

use crate::engine::TurnStatus;
use crate::store::{MessageRole, Store, StoreError, StoredStatus};
use crate::types::{ActionUpdate, ProseOffset, TurnEvent};

/// Who wrote an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryRole {
    User,
    Assistant,
}

/// One message of the transcript.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub message_id: String,
    pub role: EntryRole,
    /// The prompt, or the reply's prose (markup removed).
    pub text: String,
    pub actions: Vec<ActionUpdate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TurnStatus>,
    /// Its files were reverted.
    pub reverted: bool,
    /// The page checks of the previews the reply left running, with their screenshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<crate::types::PageCheck>,
}

impl Entry {
    pub fn user(message_id: String, prompt: &str) -> Entry {
        Entry {
            message_id,
            role: EntryRole::User,
            text: prompt.to_owned(),
            actions: Vec::new(),
            status: None,
            reverted: false,
            pages: Vec::new(),
        }
    }

    pub fn assistant(message_id: String) -> Entry {
        Entry {
            message_id,
            role: EntryRole::Assistant,
            text: String::new(),
            actions: Vec::new(),
            status: None,
            reverted: false,
            pages: Vec::new(),
        }
    }

    /// Places an action in the prose: where it first appeared (kept by its later updates), else here —
    /// the end of the prose so far.
    pub fn place(&self, update: &mut ActionUpdate) {
        if update.prose_offset.is_some() {
            return;
        }
        let known = self
            .actions
            .iter()
            .find(|action| action.action_id == update.action_id)
            .and_then(|action| action.prose_offset);
        update.prose_offset = Some(known.unwrap_or_else(|| ProseOffset::end_of(&self.text)));
    }

    /// Takes in what the turn reported: prose is appended, an action's update replaces its last one.
    pub fn apply(&mut self, event: &TurnEvent) {
        match event {
            TurnEvent::Text(text) => self.text.push_str(text),
            TurnEvent::Notice(_) => {}
            TurnEvent::Page(check) => self.pages.push(check.clone()),
            TurnEvent::Action(update) => match self
                .actions
                .iter_mut()
                .find(|action| action.action_id == update.action_id)
            {
                Some(action) => *action = update.clone(),
                None => self.actions.push(update.clone()),
            },
        }
    }
}

/// A saved session's transcript. Reads the store.
pub fn stored(store: &Store, session_id: &str) -> Result<Vec<Entry>, StoreError> {
    Ok(store
        .messages(session_id)?
        .into_iter()
        .map(|message| Entry {
            status: message.status.and_then(|status| match status {
                StoredStatus::Streaming => None,
                StoredStatus::Complete => Some(TurnStatus::Complete),
                StoredStatus::Aborted => Some(TurnStatus::Aborted),
                StoredStatus::Failed | StoredStatus::Interrupted => Some(TurnStatus::Failed),
            }),
            role: match message.role {
                MessageRole::User => EntryRole::User,
                MessageRole::Assistant => EntryRole::Assistant,
            },
            text: message.prose,
            actions: message.actions,
            reverted: message.reverted,
            pages: message.pages,
            message_id: message.message_id,
        })
        .collect())
}
