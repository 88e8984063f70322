//! The conversation so far, fitted to a token budget: the oldest turns are shortened first (a prompt
//! loses the workspace context it carried, a reply its file bodies, read results their files), then
//! dropped; the last exchange is never touched.

use crate::provider::{Message, Role};
use crate::tokens;
use openbolt_parser::{ActionKind, Event, Parser};
use std::fmt::Write as _;

/// Marks a message that carries files the model asked to read (shortened to their names later).
pub const READ_RESULTS_TAG: &str = "<read-results>";

/// Where the request starts in a user message the engine built (context before it is dropped when
/// the turn is shortened).
const REQUEST_MARKERS: [&str; 2] = [
    "\nWhat the actions of your previous reply did:",
    "\n<request>",
];

/// The estimated tokens of `messages` (each message's text and a few for its framing).
pub fn cost(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|message| tokens::estimate(&message.content) + 4)
        .sum()
}

/// The conversation so far (`messages`, without the new prompt) cut to about `budget` tokens. The last
/// exchange — the last prompt and everything after it — is kept whole unless nothing else is left to
/// cut (a window too small for it): then it is shortened too.
pub fn fit(messages: &[Message], budget: usize) -> Vec<Message> {
    let mut fitted: Vec<Message> = messages.to_vec();
    let keep_from = last_exchange_start(&fitted);
    if cost(&fitted) <= budget {
        return fitted;
    }
    // Shorten, oldest first.
    for index in 0..keep_from {
        let short = shorten(&fitted[index]);
        fitted[index].content = short;
        if cost(&fitted) <= budget {
            return fitted;
        }
    }
    // Drop whole exchanges, oldest first, keeping user/assistant alternation.
    let mut dropped = 0;
    let mut start = 0;
    while cost(&fitted[start..]) > budget && start < keep_from {
        start += 1;
        while start < keep_from && fitted[start].role != Role::User {
            start += 1;
        }
        dropped = start;
    }
    let mut kept = fitted.split_off(dropped);
    // Still too long (a small window, a huge last exchange): its context and file bodies go too.
    if cost(&kept) > budget {
        for message in &mut kept {
            let short = shorten(message);
            message.content = short;
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

/// Index of the user message that begins the last exchange (a prompt, its reply and any read rounds).
fn last_exchange_start(messages: &[Message]) -> usize {
    messages
        .iter()
        .rposition(|message| {
            message.role == Role::User && !message.content.starts_with(READ_RESULTS_TAG)
        })
        .unwrap_or(messages.len())
}

/// A shorter form of an old message.
pub fn shorten(message: &Message) -> String {
    let content = &message.content;
    match message.role {
        Role::User if content.starts_with(READ_RESULTS_TAG) => {
            let names: Vec<&str> = content
                .match_indices("<file path=\"")
                .filter_map(|(at, tag)| {
                    let rest = &content[at + tag.len()..];
                    rest.split('"').next()
                })
                .collect();
            format!(
                "{READ_RESULTS_TAG}(files shown then: {}; read them again if you need them)",
                names.join(", ")
            )
        }
        Role::User => REQUEST_MARKERS
            .iter()
            .filter_map(|marker| content.find(marker))
            .min()
            .map_or_else(|| content.clone(), |at| content[at + 1..].to_owned()),
        Role::Assistant => compact_reply(content),
    }
}

/// A reply with its prose and one line per action instead of file bodies.
fn compact_reply(reply: &str) -> String {
    let mut parser = Parser::new();
    let mut out = String::new();
    let mut handle = |event: Event<'_>| match event {
        Event::Text(text) => out.push_str(&text),
        Event::ActionClose { action, content } => {
            let _ = match (&action.kind, &action.file_path) {
                (ActionKind::File, Some(path)) => writeln!(
                    out,
                    "[wrote {path}: {} lines, not repeated here]",
                    content.lines().count()
                ),
                (ActionKind::Read, Some(path)) => writeln!(out, "[read {path}]"),
                (kind, _) => writeln!(out, "[{} `{}`]", kind.as_str(), content.trim()),
            };
        }
        _ => {}
    };
    parser.feed_with(reply, &mut handle);
    parser.finish_with(&mut handle);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(content: &str) -> Message {
        Message {
            role: Role::User,
            content: content.to_owned(),
        }
    }

    fn assistant(content: &str) -> Message {
        Message {
            role: Role::Assistant,
            content: content.to_owned(),
        }
    }

    fn turn(n: usize) -> [Message; 2] {
        let context = "<workspace>\n".to_owned() + &"src/file.js\n".repeat(300) + "</workspace>";
        let body = "const x = 1;\n".repeat(200);
        [
            user(&format!("{context}\n<request>\nstep {n}\n</request>\n")),
            assistant(&format!(
                "Doing step {n}.\n<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"file\" filePath=\"src/s{n}.js\">\n{body}</boltAction></boltArtifact>\nDone {n}."
            )),
        ]
    }

    #[test]
    fn old_turns_shrink_first_and_the_last_exchange_stays_whole() {
        let messages: Vec<Message> = (1..=6).flat_map(turn).collect();
        let whole: usize = messages.iter().map(|m| tokens::estimate(&m.content)).sum();
        let fitted = fit(&messages, whole / 2);
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
        let tight = fit(&messages, last + 40);
        assert!(
            tight.len() < messages.len() && tight.len().is_multiple_of(2),
            "{}",
            tight.len()
        );
        assert_eq!(tight[0].role, Role::User);
        assert!(tight[0].content.starts_with("(The "));
        assert_eq!(tight.last(), messages.last());

        // A window too small even for the last exchange: it is shortened too (a retry can shrink).
        let tiny = fit(&messages, 60);
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
    fn read_results_shrink_to_their_names() {
        let message = user(&format!(
            "{READ_RESULTS_TAG}\n<file path=\"src/a.js\" lines=\"3\">\n1\n2\n3\n</file>\n<file path=\"b.py\" lines=\"1\">\nx\n</file>\n"
        ));
        assert_eq!(
            shorten(&message),
            format!(
                "{READ_RESULTS_TAG}(files shown then: src/a.js, b.py; read them again if you need them)"
            )
        );
    }
}
