//! One voice to the model: everything the model reads that OpenBolt writes — the system prompt and its
//! facts (`voice/system.rs`), the MCP tools it may call, what its previous actions did, the answers to its
//! reads and tool calls, a fix round's problems, the continuation prompt, and the short forms old
//! messages take when history must fit the window — is rendered here, from typed parts. Nothing else
//! writes model text, and nothing searches model text for strings written here: what must be known
//! later (a message's short form, whether it answers actions) is kept beside the text when it is made.

mod problems;
pub mod system;

pub use problems::{Lines, Problem, fix_report, lines_around};

use crate::actions::read::Shown;
use crate::actions::search::{Found, Stopped};
use crate::actions::tool::ToolAnswer;
use crate::actions::{Answer, RunnerReport, diff, edit, search};
use crate::mcp::ToolInfo;
use crate::types::{ActionUpdate, InHistory, KindTraits, Label};
use openbolt_parser::{Event, Parser};
use serde_json::Value;
use std::fmt::Write as _;

/// The follow-up request when a reply hit the output limit.
pub const CONTINUE_PROMPT: &str = "Your reply was cut off by the output limit. Continue exactly where it stopped, even in the middle of a word or a line. Do not repeat anything you already wrote, do not reopen an artifact or action that is already open, and do not add any preamble.";

/// Opens the message that answers a reply's look-ups, so the model tells it from a new request.
const ANSWERS_TAG: &str = "<read-results>";

/// Part of the tools budget the descriptions may take; the names of the rest get what is left.
const TOOL_DESCRIPTIONS_PERCENT: usize = 85;

/// The user's request, as the new message ends with it.
pub fn request(prompt: &str) -> String {
    format!("\n<request>\n{prompt}\n</request>\n")
}

/// How much a list of the previous reply's actions says about each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Statuses, errors and a failed command's last output.
    Full,
    /// Statuses only: a fix round's report, in the same message, gives every failure's detail.
    StatusOnly,
}

/// What the previous reply's actions did, for the model (empty when there were none).
pub fn previous_results(updates: &[ActionUpdate], detail: Detail) -> String {
    if updates.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nWhat the actions of your previous reply did:\n");
    for update in updates {
        let _ = write!(out, "- {}: {}", update.describe(), update.status.as_str());
        if detail == Detail::StatusOnly {
            out.push('\n');
            continue;
        }
        if let Some(code) = update.exit_code {
            let _ = write!(out, " (exit code {code})");
        }
        if let Some(error) = &update.error {
            let _ = write!(out, " — {error}");
        }
        out.push('\n');
        if let Some(tail) = update.output_tail.as_deref().map(str::trim_end)
            && !tail.is_empty()
        {
            out.push_str("  Its last output:\n  ```\n");
            for line in tail.lines() {
                let _ = writeln!(out, "  {line}");
            }
            out.push_str("  ```\n");
        }
    }
    out
}

/// Files the user named that could not be attached, and why.
pub fn not_attached(refused: &[String]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nNot attached:\n");
    for refused in refused {
        let _ = writeln!(out, "- {refused}");
    }
    out
}

/// A message the model reads, with the shorter form it takes when old history must fit the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    pub text: String,
    pub short: String,
}

/// The message answering a round's actions that answer within the turn: each file read, each search's
/// findings and each tool's result, or why there is none — and, when `rounds_left` is 0, that these were
/// the turn's last look-ups. `None` when no action of the round asked.
pub fn answers(
    actions: &[ActionUpdate],
    report: &RunnerReport,
    rounds_left: usize,
) -> Option<Said> {
    let mut files = String::new();
    let mut searches = String::new();
    let mut tools = String::new();
    let mut names = Vec::new();
    let mut queries = Vec::new();
    for update in actions
        .iter()
        .filter(|update| KindTraits::of(&update.kind).answers_in_turn)
    {
        match report.answer(update.action_id) {
            Some(Answer::Read(shown)) => {
                files.push_str(&shown_file(shown));
                names.push(shown.path.clone());
            }
            Some(Answer::Search(found)) => {
                searches.push_str(&search_result(found));
                queries.push(found.query.label());
            }
            Some(Answer::Tool(answer)) => tools.push_str(&tool_result(answer)),
            None => {
                let label = KindTraits::of(&update.kind).label;
                let why = attribute(update.error.as_deref().unwrap_or(match label {
                    Label::Path => "not read",
                    Label::Query => "not searched",
                    Label::Call | Label::Command => "not called",
                }));
                match label {
                    Label::Path => {
                        let path = update.file_path.as_deref().unwrap_or("(no filePath)");
                        let _ = writeln!(files, "<file path=\"{path}\" refused=\"{why}\"/>");
                    }
                    Label::Query => {
                        let query = update.label.as_deref().unwrap_or("search");
                        let _ = writeln!(
                            searches,
                            "<search query=\"{}\" error=\"{why}\"/>",
                            attribute(query)
                        );
                        queries.push(query.to_owned());
                    }
                    Label::Call | Label::Command => {
                        let _ = writeln!(
                            tools,
                            "<tool-result call=\"{}\" refused=\"{why}\"/>",
                            attribute(update.label.as_deref().unwrap_or("tool")),
                        );
                    }
                }
            }
        }
    }
    if files.is_empty() && searches.is_empty() && tools.is_empty() {
        return None;
    }
    let mut text = String::from(ANSWERS_TAG);
    if !searches.is_empty() {
        text.push_str("\nWhat your searches found (path:line: a matching line, path-line- a line around it):\n");
        text.push_str(&searches);
    }
    if !files.is_empty() {
        text.push_str("\nThe files you asked to read, as they are now:\n");
        text.push_str(&files);
    }
    if !tools.is_empty() {
        text.push_str("\nThe results of the tools you called:\n");
        text.push_str(&tools);
    }
    if rounds_left == 0 {
        text.push_str("\nThat was the last look-up this turn allows: further reads, searches and tool calls will not be answered. Make the change now with what you have (or say what you still need to know), and do not repeat what you already wrote.\n");
    } else {
        text.push_str("\nContinue with the request. Look up more only if you must; do not repeat what you already wrote.\n");
    }
    let mut shown = Vec::new();
    if !names.is_empty() {
        shown.push(format!("files shown then: {}", names.join(", ")));
    }
    if !queries.is_empty() {
        shown.push(format!("searches answered then: {}", queries.join(", ")));
    }
    if !tools.is_empty() {
        shown.push("tool results shown then".to_owned());
    }
    let short = format!(
        "{ANSWERS_TAG}({}; look them up again if you need them)",
        shown.join("; ")
    );
    Some(Said { text, short })
}

/// A search's findings as the model reads them: the lines, then what the budget or the limits left out.
pub fn search_result(found: &Found) -> String {
    let query = &found.query;
    let mut text = String::from("<search");
    if let Some(pattern) = &query.pattern {
        let _ = write!(text, " pattern=\"{}\"", attribute(pattern));
        if query.regex {
            text.push_str(" regex=\"true\"");
        }
        if query.case_sensitive {
            text.push_str(" case=\"sensitive\"");
        }
    }
    if let Some(path) = &query.path {
        let _ = write!(text, " path=\"{}\"", attribute(path));
    }
    let _ = writeln!(text, " found=\"{}\">", found.summary());
    text.push_str(&found.body);
    if found.more_matches > 0 {
        let _ = if query.pattern.is_some() {
            writeln!(
                text,
                "[{} more matching lines in {} files, not shown — narrow the pattern or the path]",
                found.more_matches, found.more_files
            )
        } else {
            writeln!(
                text,
                "[{} more files, not shown — narrow the path]",
                found.more_matches
            )
        };
    }
    match found.stopped {
        Some(Stopped::Time(time)) => {
            let _ = writeln!(
                text,
                "[the search stopped after {} s: only part of the workspace was searched — narrow the path]",
                time.as_secs()
            );
        }
        Some(Stopped::Files(files)) => {
            let _ = writeln!(
                text,
                "[the search stopped after {files} files: only part of the workspace was searched — narrow the path]"
            );
        }
        None => {}
    }
    text.push_str("</search>\n");
    text
}

/// A read's file as the model reads it.
pub fn shown_file(shown: &Shown) -> String {
    let mut text = if shown.whole {
        format!("<file path=\"{}\" lines=\"{}\">\n", shown.path, shown.total)
    } else {
        format!(
            "<file path=\"{}\" shown=\"{}-{}\" of=\"{}\">\n",
            shown.path, shown.first, shown.last, shown.total
        )
    };
    text.push_str(&shown.body);
    if let Some(from) = shown.read_on {
        let _ = writeln!(
            text,
            "(cut to fit: read on with <boltAction type=\"read\" filePath=\"{}\" lines=\"{from}-{}\"/>)",
            shown.path, shown.total
        );
    }
    text.push_str("</file>\n");
    text
}

/// A tool's result as the model reads it.
fn tool_result(answer: &ToolAnswer) -> String {
    let mut text = format!(
        "<tool-result server=\"{}\" tool=\"{}\"{}>\n{}",
        answer.server,
        answer.tool,
        if answer.is_error {
            " error=\"true\""
        } else {
            ""
        },
        answer.text
    );
    if let Some((shown, total)) = answer.cut {
        let _ = write!(
            text,
            "\n[… cut to fit the context: {shown} of {total} characters shown]"
        );
    }
    text.push_str("\n</tool-result>\n");
    text
}

/// A value inside a double-quoted attribute.
fn attribute(value: &str) -> String {
    value.replace('"', "'")
}

/// A reply of an old turn with its prose and one line per action instead of bodies: a file its path and
/// lines, an edit its path and the lines it changed, a read its path, a search its query, a command
/// itself.
pub fn short_reply(reply: &str) -> String {
    let mut parser = Parser::new();
    let mut out = String::new();
    let mut handle = |event: Event<'_>| match event {
        Event::Text(text) => out.push_str(&text),
        Event::ActionClose { action, content } => {
            let kind = action.kind.as_str();
            let _ = match (KindTraits::of(&action.kind).in_history, &action.file_path) {
                (InHistory::Lines, Some(path)) => writeln!(
                    out,
                    "[wrote {path}: {} lines, not repeated here]",
                    content.lines().count()
                ),
                (InHistory::Changed, Some(path)) => {
                    let (added, removed) = changed_lines(&content);
                    writeln!(
                        out,
                        "[edited {path}: +{added} −{removed} lines, not repeated here]"
                    )
                }
                (InHistory::Named, Some(path)) => writeln!(out, "[{kind} {path}]"),
                (InHistory::Query, _) => {
                    writeln!(out, "[{kind} {}]", search::Query::of(&action).label())
                }
                (_, _) => writeln!(out, "[{kind} `{}`]", content.trim()),
            };
        }
        _ => {}
    };
    parser.feed_with(reply, &mut handle);
    parser.finish_with(&mut handle);
    out
}

/// How many lines an edit's SEARCH/REPLACE blocks add and remove (0, 0 when they do not parse).
fn changed_lines(body: &str) -> (usize, usize) {
    let Ok(blocks) = edit::parse_blocks(body) else {
        return (0, 0);
    };
    blocks.iter().fold((0, 0), |(added, removed), block| {
        let (plus, minus) = diff::counts(&block.search.join("\n"), &block.replace.join("\n"));
        (added + plus, removed + minus)
    })
}

/// The MCP tools as the system prompt lists them: one line each, `server` · `tool`, its description's
/// first line, its arguments compactly — within `budget` tokens (the rest are named only).
pub fn tools(tools: &[ToolInfo], budget: usize) -> String {
    if tools.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "MCP tools you may call (the user approves each call). Call one with\n<boltAction type=\"tool\" server=\"SERVER\" tool=\"TOOL\">{\"argument\": \"value\"}</boltAction>\n(inside an artifact; the content is the JSON arguments). The results come back in this turn; then go on.\n",
    );
    // What the text costs so far, counted as it grows (each piece ends at a line or a word).
    let mut spent = crate::tokens::estimate(&out);
    let mut left_out = Vec::new();
    for tool in tools {
        let description = tool
            .description
            .split_terminator(['\n'])
            .next()
            .unwrap_or_default();
        let line = format!(
            "- server=\"{}\" tool=\"{}\": {} Arguments: {}\n",
            tool.server,
            tool.name,
            description.trim(),
            compact_schema(&tool.input_schema)
        );
        let cost = crate::tokens::estimate(&line);
        if !left_out.is_empty() || spent + cost > budget * TOOL_DESCRIPTIONS_PERCENT / 100 {
            left_out.push(format!("{}/{}", tool.server, tool.name));
        } else {
            out.push_str(&line);
            spent += cost;
        }
    }
    if !left_out.is_empty() {
        // Their names, as far as the budget goes (a few tokens kept for "and N more").
        let mut named = String::from("More tools (no room to describe them):");
        spent += crate::tokens::estimate(&named) + 8;
        let mut more = 0;
        for name in &left_out {
            let entry = format!(" {name},");
            let cost = crate::tokens::estimate(&entry);
            if more == 0 && spent + cost <= budget {
                named.push_str(&entry);
                spent += cost;
            } else {
                more += 1;
            }
        }
        let mut named = named.trim_end_matches(',').to_owned();
        if more > 0 {
            let _ = write!(named, " and {more} more");
        }
        out.push_str(&named);
        out.push('\n');
    }
    out
}

/// `{message: string (required), times?: integer}` for an object schema.
fn compact_schema(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return "none".to_owned();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<String> = properties
        .iter()
        .map(|(name, property)| {
            let kind = match property.get("type") {
                Some(Value::String(kind)) => kind.clone(),
                Some(Value::Array(kinds)) => kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                _ if property.get("enum").is_some() => property["enum"].to_string(),
                _ => "any".to_owned(),
            };
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            format!("{name}{optional}: {kind}")
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

#[cfg(test)]
mod tests;
