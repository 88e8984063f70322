//! Known secret values, and their redaction: the one place every path to the model (the request), the
//! store (its writer), the editor and the log (the turn's events, the terminals' output) goes through.
//!
//! What is known: the providers' keys, the values MCP servers are configured with under a secret-looking
//! name (an env variable, a header), and the values of the workspace's `.env*` files whose names look
//! secret ([`secret_named`]). Each source replaces its own values ([`know`]); a value shorter than
//! [`MIN_LENGTH`], a number or a boolean is never a secret (`PORT=3000`, `DEBUG=true`).
//!
//! Redaction applies to what is shown, sent and stored — never to files: what the model or the user
//! writes is written as it is.

use aho_corasick::{AhoCorasick, MatchKind};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

/// What a secret value is replaced by.
pub const REDACTED: &str = "[redacted]";

/// How long a terminal holds back output that could be a secret's start while nothing more comes.
pub const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(1);

/// The shortest value that is taken for a secret, in bytes.
pub const MIN_LENGTH: usize = 6;

/// The words that make a variable's (or a header's) value a secret: a word of its name (any case, words
/// split at `_`, `-`, `.` and case changes), or a word ending in one (`APIKEY`, `AUTHTOKEN`) when what comes
/// before is one of [`SECRET_PREFIXES`]. `NEXTAUTH_URL` and `MONKEY` are not secrets.
const SECRET_WORDS: &[&str] = &[
    "KEY",
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PWD",
    "PRIVATE",
    "CREDENTIAL",
    "AUTH",
    "DSN",
    "AUTHORIZATION",
    "COOKIE",
    "PASSPHRASE",
];

/// What may precede a secret word inside one word of a name.
const SECRET_PREFIXES: &[&str] = &[
    "API", "ACCESS", "SECRET", "PRIVATE", "AUTH", "CLIENT", "APP", "DB",
];

/// Passwords too common to hide wherever they appear (a local database's `postgres:postgres`): the URL
/// holding one is still a secret, the bare word is not.
const COMMON_PASSWORDS: &[&str] = &[
    "postgres", "password", "secret", "changeme", "example", "admin", "root", "mysql",
];

/// Whether a variable's name says its value is secret.
fn name_is_secret(name: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if !character.is_ascii_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            previous_lower = false;
            continue;
        }
        if character.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = character.is_ascii_lowercase();
        word.push(character.to_ascii_uppercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words.iter().any(|word| {
        SECRET_WORDS.iter().any(|secret| {
            word == secret
                || word
                    .strip_suffix(secret)
                    .is_some_and(|before| SECRET_PREFIXES.contains(&before))
        })
    })
}

/// The values to redact, as one automaton.
struct Matcher {
    automaton: AhoCorasick,
    values: Vec<String>,
}

#[derive(Default)]
struct Known {
    by_source: Mutex<BTreeMap<String, Vec<String>>>,
    matcher: RwLock<Option<Arc<Matcher>>>,
}

static KNOWN: LazyLock<Known> = LazyLock::new(Known::default);

/// Whether `value` can be a secret at all: long enough, and neither a number nor a boolean.
fn worth_redacting(value: &str) -> bool {
    let value = value.trim();
    value.len() >= MIN_LENGTH
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none"
        )
}

/// The secrets of one `NAME=value` (a variable, a header): the value when the name looks secret, a URL's
/// password wherever it is; for `Bearer TOKEN` the token too. Empty: nothing to redact.
pub fn secret_named(name: &str, value: &str) -> Vec<String> {
    let value = value.trim();
    let mut secrets = Vec::new();
    let password = url_password(value);
    if name_is_secret(name) || password.is_some() {
        secrets.push(value.to_owned());
    }
    let username = value
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once(':'))
        .map(|(user, _)| user);
    secrets.extend(
        password
            .filter(|password| {
                Some(*password) != username
                    && !COMMON_PASSWORDS.contains(&password.to_ascii_lowercase().as_str())
            })
            .map(str::to_owned),
    );
    if let Some((scheme, token)) = value.split_once(' ')
        && !secrets.is_empty()
        && ["bearer", "basic", "token", "bot", "digest"]
            .contains(&scheme.to_ascii_lowercase().as_str())
    {
        secrets.push(token.trim().to_owned());
    }
    secrets.retain(|secret| worth_redacting(secret));
    secrets
}

/// The password of `scheme://user:password@host…`.
fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// From now on, `source`'s secrets are `values` (replacing what it said before); values not worth
/// redacting are dropped. Returns whether the set changed.
pub fn know(source: &str, values: impl IntoIterator<Item = String>) -> bool {
    let mut values: Vec<String> = values
        .into_iter()
        .map(|value| value.trim().to_owned())
        .filter(|value| worth_redacting(value))
        .collect();
    values.sort();
    values.dedup();
    let mut by_source = crate::lock(&KNOWN.by_source);
    if by_source.get(source) == Some(&values)
        || (values.is_empty() && !by_source.contains_key(source))
    {
        return false;
    }
    if values.is_empty() {
        by_source.remove(source);
    } else {
        by_source.insert(source.to_owned(), values);
    }
    let mut all: Vec<String> = by_source.values().flatten().cloned().collect();
    // Longest first: of two overlapping secrets, the longer is hidden whole.
    all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    all.dedup();
    let matcher = (!all.is_empty())
        .then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&all)
                .inspect_err(|error| {
                    tracing::error!(%error, "secret values cannot be redacted: their matcher failed");
                })
                .ok()
                .map(|automaton| {
                    Arc::new(Matcher {
                        automaton,
                        values: all,
                    })
                })
        })
        .flatten();
    *KNOWN
        .matcher
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = matcher;
    true
}

/// The secret values `source` gave.
pub fn known_from(source: &str) -> Vec<String> {
    crate::lock(&KNOWN.by_source)
        .get(source)
        .cloned()
        .unwrap_or_default()
}

/// The secrets of `workspace`'s `.env*` files, known from now on (read again at each turn: a file
/// written since counts).
pub fn know_workspace(workspace: &Path) -> Vec<String> {
    let secrets = env_file_secrets(workspace);
    know(WORKSPACE_SOURCE, secrets);
    known_from(WORKSPACE_SOURCE)
}

const WORKSPACE_SOURCE: &str = "the workspace's .env files";

/// Every secret value known now.
pub fn known() -> Vec<String> {
    current()
        .map(|matcher| matcher.values.clone())
        .unwrap_or_default()
}

fn current() -> Option<Arc<Matcher>> {
    KNOWN
        .matcher
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// `text` with every known secret replaced by [`REDACTED`] (borrowed when there is none).
pub fn redact(text: &str) -> Cow<'_, str> {
    match current() {
        Some(matcher) if matcher.automaton.is_match(text) => Cow::Owned(
            matcher
                .automaton
                .replace_all(text, &vec![REDACTED; matcher.values.len()]),
        ),
        _ => Cow::Borrowed(text),
    }
}

/// Redacts `text` in place.
pub fn redact_in_place(text: &mut String) {
    if let Cow::Owned(redacted) = redact(text) {
        *text = redacted;
    }
}

/// A turn's event as the editor, the store and the log may see it: an action redacted
/// ([`redact_update`]), a notice too. The model's prose is its own.
pub fn redact_event(event: &mut crate::types::TurnEvent) {
    use crate::types::TurnEvent;
    match event {
        TurnEvent::Action(update) => redact_update(update),
        TurnEvent::Notice(text) => redact_in_place(text),
        TurnEvent::Page(check) => redact_page(check),
        TurnEvent::Text(_) => {}
    }
}

/// A page check's problems, frames and error, redacted.
pub fn redact_page(check: &mut crate::types::PageCheck) {
    for problem in &mut check.problems {
        redact_in_place(&mut problem.message);
        problem.frames.iter_mut().for_each(redact_in_place);
    }
    if let Some(error) = &mut check.error {
        redact_in_place(error);
    }
}

/// An action's error, summary, search hits and output (a command's, a tool's), redacted.
pub fn redact_update(update: &mut crate::types::ActionUpdate) {
    for text in [
        &mut update.error,
        &mut update.summary,
        &mut update.output_tail,
    ]
    .into_iter()
    .flatten()
    {
        redact_in_place(text);
    }
    for hit in &mut update.found {
        if let Some(text) = &mut hit.text {
            redact_in_place(text);
        }
    }
}

/// Redaction of a byte stream (a terminal's output): a secret cut between two chunks is still caught,
/// because what could be the start of one is held back until the next chunk says (or the stream ends;
/// the terminal lets it go after [`HOLD_AT_MOST`] without more output, so that a prompt is not hidden).
#[derive(Debug, Default)]
pub struct Stream {
    held: Vec<u8>,
}

impl Stream {
    /// What of `chunk` (after what was held) can be let through now, redacted. Held back: an end that
    /// could be the start of a secret, and a secret found at the end that could be the start of a longer
    /// one — until the next chunk says.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut text = std::mem::take(&mut self.held);
        text.extend_from_slice(chunk);
        let Some(matcher) = current() else {
            return text;
        };
        let found: Vec<aho_corasick::Match> = matcher.automaton.find_iter(&text).collect();
        let mut hold_from = text.len() - longest_prefix_at_end(&text, &matcher.values);
        if let Some(reaching) = found.iter().find(|found| found.end() > hold_from) {
            hold_from = hold_from.min(reaching.start());
        }
        let mut out = Vec::with_capacity(text.len());
        let mut last = 0;
        for found in found.iter().filter(|found| found.end() <= hold_from) {
            out.extend_from_slice(&text[last..found.start()]);
            out.extend_from_slice(REDACTED.as_bytes());
            last = found.end();
        }
        out.extend_from_slice(&text[last..hold_from]);
        self.held = text[hold_from..].to_vec();
        out
    }

    /// Something is held back.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// What was held back, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

/// The length of the longest end of `text` that is the start (not the whole) of one of `values`.
fn longest_prefix_at_end(text: &[u8], values: &[String]) -> usize {
    let mut longest = 0;
    for value in values {
        let value = value.as_bytes();
        let most = (value.len() - 1).min(text.len());
        for length in (longest + 1..=most).rev() {
            if text[text.len() - length..] == value[..length] {
                longest = length;
                break;
            }
        }
    }
    longest
}

/// The secrets of a workspace's environment files: every `.env*` file in it and in its directories two
/// levels down (not in `node_modules` nor hidden ones), `NAME=value` lines whose name looks secret.
pub fn env_file_secrets(workspace: &Path) -> Vec<String> {
    let mut secrets = Vec::new();
    let mut directories = vec![(workspace.to_path_buf(), 0)];
    while let Some((directory, depth)) = directories.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // `.env` may be a link (to a shared file): followed.
            let Ok(kind) = std::fs::metadata(entry.path()).map(|meta| meta.file_type()) else {
                continue;
            };
            if kind.is_file() && name.starts_with(".env") && !is_template(&name) {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    secrets.extend(dotenv_secrets(&text));
                }
            } else if kind.is_dir() && depth < 2 && !name.starts_with('.') && name != "node_modules"
            {
                directories.push((entry.path(), depth + 1));
            }
        }
    }
    secrets
}

/// An environment file that holds placeholders, not secrets: `.env.example`, `.env.sample`,
/// `.env.template`, `.env.dist`, `.env.defaults`.
fn is_template(name: &str) -> bool {
    [
        ".example",
        ".sample",
        ".template",
        ".dist",
        ".defaults",
        ".schema",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix))
}

/// The secrets of one `.env` file's text.
pub fn dotenv_secrets(text: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'' | '`')) => value[1..].split(quote).next().unwrap_or_default(),
            _ => value.split(" #").next().unwrap_or_default().trim(),
        };
        secrets.extend(secret_named(name.trim(), value));
    }
    secrets
}

#[cfg(test)]
mod tests;
