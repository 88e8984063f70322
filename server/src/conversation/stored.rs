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
            // What was stored is the prompt alone (never the context sent with it), with the
            // screenshots it carried.
            let mut kept = Kept::plain(Role::User, message.text.clone());
            kept.message.images = message.images.iter().filter_map(picture).collect();
            session.messages.push(kept);
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
    crate::engine::history::keep_last_images(&mut session.messages);
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

/// What stands in for a screenshot the model is not sent (an older one, or a model without sight).
pub const SCREENSHOT_NOTE: &str =
    "[A screenshot of the page went with this message; only the latest screenshot is kept.]";

/// A kept screenshot as a picture for the model; `None` when its file is gone or unreadable.
pub fn picture(screenshot: &crate::types::Screenshot) -> Option<crate::provider::Image> {
    use base64::Engine as _;
    let bytes = std::fs::read(&screenshot.path)
        .inspect_err(|error| {
            tracing::warn!(%error, path = screenshot.path, "a screenshot could not be read");
        })
        .ok()?;
    Some(crate::provider::Image {
        media_type: screenshot.media_type.clone(),
        data: base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into(),
        width: screenshot.width,
        height: screenshot.height,
        note: SCREENSHOT_NOTE.to_owned(),
    })
}
