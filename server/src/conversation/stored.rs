//! A stored session as the engine continues it: the store keeps rows, this makes them the engine's
//! message history (the conversation layer is the one that knows both).

use crate::engine::History;
use crate::engine::history::Kept;
use crate::provider::Role;
use crate::store::{MessageRole, Store, StoreError, StoredStatus};

/// The conversation of a stored session, as the engine continues it: prompts and replies (an unfinished
/// reply as its prose), without reverted turns; and what the last reply's actions did.
pub fn load_conversation(store: &Store, session_id: &str) -> Result<History, StoreError> {
    let messages = store.messages(session_id)?;
    let mut session = History::default();
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
            // What was stored is the prompt alone (never the context sent with it).
            session
                .messages
                .push(Kept::plain(Role::User, message.text.clone()));
        } else {
            let content =
                if message.status == Some(StoredStatus::Complete) || message.prose.is_empty() {
                    message.text.clone()
                } else {
                    message.prose.clone()
                };
            if !content.is_empty() {
                session.messages.push(Kept::plain(Role::Assistant, content));
            }
            session.last_results = message.actions.clone();
            session.touch(&message.actions);
        }
        index += 1;
    }
    // A conversation ends with a reply: a prompt left without one is dropped.
    if session
        .messages
        .last()
        .is_some_and(|last| last.message.role == Role::User)
    {
        session.messages.pop();
    }
    Ok(session)
}
