//! The conversation so far, fitted to a token budget: the oldest turns are shortened first (a prompt
//! loses the workspace context it carried, a reply its file bodies and edit blocks, answers their
//! files), then dropped; the last exchange is never touched unless nothing else is left.
//!
//! Each message is kept with what it becomes when shortened ([`Kept`]), decided when it was made — the
//! text is never searched for the markers that built it.

use crate::provider::{Message, Role};
use crate::tokens;

/// A message of the conversation as history keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub message: Message,
    /// Its short form; `None` for a reply (shortened by [`crate::voice::short_reply`]) and for a
    /// prompt that carried nothing but itself.
    pub short: Option<String>,
    /// It answers the reply before it (a look-up round), rather than beginning an exchange.
    pub answers: bool,
}

impl Kept {
    /// A message kept whole, and shortened as its role's default.
    pub fn plain(role: Role, content: String) -> Kept {
        Kept {
            message: Message::text(role, content),
            short: None,
            answers: false,
        }
    }

    fn shortened(&self) -> String {
        match (&self.short, self.message.role) {
            (Some(short), _) => short.clone(),
            (None, Role::Assistant) => crate::voice::short_reply(&self.message.content),
            (None, Role::User) => self.message.content.clone(),
        }
    }
}

/// The estimated tokens of `messages` (each message's text and a few for its framing).
pub fn cost(messages: &[Message]) -> usize {
    messages.iter().map(message_cost).sum()
}

fn message_cost(message: &Message) -> usize {
    tokens::estimate(&message.content)
        + 4
        + message
            .images
            .iter()
            .map(crate::provider::Image::tokens)
            .sum::<usize>()
}

/// Keeps the pictures of the last message that has any; the older ones become their one-line notes (a
/// screenshot costs a thousand tokens or more each time it is sent, and only the latest one tells the
/// model how the page looks now).
pub fn keep_last_images(history: &mut [Kept]) {
    let Some(last) = history
        .iter()
        .rposition(|kept| !kept.message.images.is_empty())
    else {
        return;
    };
    for kept in &mut history[..last] {
        if !kept.message.images.is_empty() {
            kept.message = kept.message.without_images();
        }
    }
}

/// The conversation so far (without the new prompt) cut to about `budget` tokens. The last exchange —
/// the last prompt and everything after it — is kept whole unless nothing else is left to cut (a window
/// too small for it): then it is shortened too.
pub fn fit(history: &[Kept], budget: usize) -> Vec<Message> {
    let mut fitted: Vec<Message> = history.iter().map(|kept| kept.message.clone()).collect();
    let keep_from = last_exchange_start(history);
    let mut spent = cost(&fitted);
    if spent <= budget {
        return fitted;
    }
    // Shorten, oldest first.
    for index in 0..keep_from {
        let short = history[index].shortened();
        spent -= message_cost(&fitted[index]);
        fitted[index].content = short;
        fitted[index] = fitted[index].without_images();
        spent += message_cost(&fitted[index]);
        if spent <= budget {
            return fitted;
        }
    }
    // Drop whole exchanges, oldest first, keeping user/assistant alternation.
    let mut dropped = 0;
    let mut start = 0;
    while cost(&fitted[start..]) > budget && start < keep_from {
        start += 1;
        while start < keep_from && (fitted[start].role != Role::User || history[start].answers) {
            start += 1;
        }
        dropped = start;
    }
    let mut kept = fitted.split_off(dropped);
    // Still too long (a small window, a huge last exchange): its context and bodies go too.
    if cost(&kept) > budget {
        for (message, original) in kept.iter_mut().zip(&history[dropped..]) {
            message.content = original.shortened();
            *message = message.without_images();
        }
    }
    if dropped > 0
        && let Some(first) = kept.first_mut()
    {
        first.content = format!(
            "(The {dropped} earliest messages of this conversation were left out to fit the model's context.)\n{}",
            first.content
        );
    }
    kept
}

/// The last `count` requests of the conversation (without the context they carried), oldest first.
pub fn recent_requests(history: &[Kept], count: usize) -> String {
    let mut requests: Vec<&str> = history
        .iter()
        .rev()
        .filter(|kept| kept.message.role == Role::User && !kept.answers)
        .take(count)
        .map(|kept| kept.short.as_deref().unwrap_or(&kept.message.content))
        .collect();
    requests.reverse();
    requests.join("\n")
}

/// Index of the user message that begins the last exchange (a prompt, its reply and any look-up rounds).
fn last_exchange_start(history: &[Kept]) -> usize {
    history
        .iter()
        .rposition(|kept| kept.message.role == Role::User && !kept.answers)
        .unwrap_or(history.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assistant(content: &str) -> Kept {
        Kept::plain(Role::Assistant, content.to_owned())
    }

    fn turn(n: usize) -> [Kept; 2] {
        let context = "<workspace>\n".to_owned() + &"src/file.js\n".repeat(300) + "</workspace>";
        let body = "const x = 1;\n".repeat(200);
        let request = crate::voice::request(&format!("step {n}"));
        [
            Kept {
                message: Message::text(Role::User, format!("{context}{request}")),
                short: Some(request.trim_start().to_owned()),
                answers: false,
            },
            assistant(&format!(
                "Doing step {n}.\n<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"file\" filePath=\"src/s{n}.js\">\n{body}</boltAction></boltArtifact>\nDone {n}."
            )),
        ]
    }

    #[test]
    fn old_turns_shrink_first_and_the_last_exchange_stays_whole() {
        let history: Vec<Kept> = (1..=6).flat_map(turn).collect();
        let messages: Vec<Message> = history.iter().map(|kept| kept.message.clone()).collect();
        let whole: usize = messages.iter().map(|m| tokens::estimate(&m.content)).sum();
        let fitted = fit(&history, whole / 2);
        assert_eq!(fitted.len(), messages.len());
        assert_eq!(fitted[0].content, "<request>\nstep 1\n</request>\n");
        assert!(
            fitted[1]
                .content
                .contains("[wrote src/s1.js: 200 lines, not repeated here]")
        );
        assert!(
            fitted[1].content.starts_with("Doing step 1.") && fitted[1].content.contains("Done 1.")
        );
        // The last exchange (turn 6) is untouched.
        assert_eq!(fitted[10..], messages[10..]);

        // A budget too small for even the short forms drops the oldest exchanges, in pairs.
        let last: usize = messages[10..]
            .iter()
            .map(|message| tokens::estimate(&message.content) + 4)
            .sum();
        let tight = fit(&history, last + 40);
        assert!(
            tight.len() < messages.len() && tight.len().is_multiple_of(2),
            "{}",
            tight.len()
        );
        assert_eq!(tight[0].role, Role::User);
        assert!(tight[0].content.starts_with("(The "));
        assert_eq!(tight.last(), messages.last());

        // A window too small even for the last exchange: it is shortened too (a retry can shrink).
        let tiny = fit(&history, 60);
        let last = tiny.last().expect("the last reply");
        assert!(
            last.content
                .contains("[wrote src/s6.js: 200 lines, not repeated here]"),
            "{}",
            last.content
        );
        assert!(
            tiny.iter()
                .map(|message| tokens::estimate(&message.content))
                .sum::<usize>()
                < 200
        );
    }

    #[test]
    fn answers_shrink_to_their_short_form_and_do_not_begin_an_exchange() {
        let history = vec![
            Kept::plain(Role::User, "read a.js".to_owned()),
            assistant(
                "<boltArtifact id=\"r\" title=\"R\"><boltAction type=\"read\" filePath=\"a.js\"/></boltArtifact>",
            ),
            Kept {
                message: Message::text(
                    Role::User,
                    format!("<file path=\"a.js\">\n{}</file>\n", "x\n".repeat(2_000)),
                ),
                short: Some(
                    "(files shown then: a.js; read them again if you need them)".to_owned(),
                ),
                answers: true,
            },
            assistant("Done."),
            Kept::plain(Role::User, "next".to_owned()),
            assistant("Sure."),
        ];
        let fitted = fit(&history, 200);
        assert_eq!(fitted.len(), 6);
        assert_eq!(
            fitted[2].content,
            "(files shown then: a.js; read them again if you need them)"
        );
        assert_eq!(fitted[1].content, "[read a.js]\n");
        // The answers belong to the first exchange: the last one begins at "next".
        assert_eq!(last_exchange_start(&history), 4);
    }

    #[test]
    fn an_old_edit_becomes_one_line_with_its_path_and_changed_lines() {
        let body = (0..40)
            .map(|n| format!("<<<<<<< SEARCH\nold line {n}\n=======\nnew line {n}\nanother {n}\n>>>>>>> REPLACE\n"))
            .collect::<String>();
        let reply = format!(
            "Changing it.\n<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"edit\" filePath=\"src/app.js\">\n{body}</boltAction></boltArtifact>\nDone."
        );
        let history = vec![
            Kept::plain(Role::User, "change it".to_owned()),
            assistant(&reply),
            Kept::plain(Role::User, "next".to_owned()),
            assistant("Sure."),
        ];
        let fitted = fit(&history, 60);
        let short = &fitted[1].content;
        assert!(
            short.contains("[edited src/app.js: +80 −40 lines, not repeated here]"),
            "{short}"
        );
        assert!(
            !short.contains("SEARCH") && !short.contains("old line"),
            "{short}"
        );
        assert!(short.starts_with("Changing it.") && short.contains("Done."));
    }

    fn picture() -> crate::provider::Image {
        crate::provider::Image {
            media_type: "image/jpeg".into(),
            data: "/9j/".into(),
            width: 1280,
            height: 713,
            note: "[a screenshot was here]".into(),
        }
    }

    #[test]
    fn only_the_last_pictures_stay_and_a_shortened_message_loses_its_own() {
        let with = |text: &str| {
            let mut kept = Kept::plain(Role::User, text.to_owned());
            kept.message.images.push(picture());
            kept
        };
        let mut history = vec![
            with("first report"),
            assistant("fixing"),
            with("second report"),
            assistant("fixing again"),
        ];
        keep_last_images(&mut history);
        assert!(history[0].message.images.is_empty());
        assert_eq!(
            history[0].message.content,
            "first report\n[a screenshot was here]\n"
        );
        assert_eq!(history[2].message.images.len(), 1);
        // A picture counts in the budget; when its message is shortened it goes too.
        assert!(cost(&[history[2].message.clone()]) >= 1280 * 713 / 750);
        history.push(Kept::plain(Role::User, "next".to_owned()));
        history.push(assistant("ok"));
        let fitted = fit(&history, 100);
        assert!(fitted.iter().all(|message| message.images.is_empty()));
        assert!(fitted[2].content.contains("[a screenshot was here]"));
    }
}
