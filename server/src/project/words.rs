//! The words of a request and of a file, as the lexical ranking compares them: identifiers and paths
//! split (`ActionRunner`, `action_runner`, `action-runner.ts` and `app/lib/runtime` all give `action`,
//! `runner`, …), case folded, stemmed lightly (plurals, `-ing`, `-ed`, `-er`), stop words dropped.
//!
//! Stemming is crude on purpose: it only has to map a request's `installs`, `installing` and
//! `installed` and a file's `install` to one word; both sides go through the same function, so a stem
//! need not be an English word.

/// Words of English prose and of code that say nothing about which file a request is about.
/// Sorted, for a binary search (every word of every file is looked up at indexing).
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "add",
    "after",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "but",
    "by",
    "can",
    "change",
    "class",
    "const",
    "could",
    "def",
    "did",
    "do",
    "does",
    "doesn",
    "don",
    "each",
    "else",
    "every",
    "export",
    "false",
    "fix",
    "fn",
    "for",
    "from",
    "function",
    "get",
    "had",
    "has",
    "have",
    "how",
    "if",
    "import",
    "in",
    "instead",
    "into",
    "is",
    "isn",
    "it",
    "it's",
    "its",
    "just",
    "let",
    "like",
    "make",
    "may",
    "more",
    "most",
    "must",
    "need",
    "new",
    "no",
    "none",
    "not",
    "now",
    "null",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "please",
    "pub",
    "return",
    "same",
    "self",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "too",
    "true",
    "undefined",
    "up",
    "us",
    "use",
    "used",
    "using",
    "var",
    "very",
    "want",
    "was",
    "way",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "without",
    "work",
    "works",
    "would",
    "you",
    "your",
];

/// Calls `each` with every word of `text`, lowercased and stemmed (stop words and one-letter pieces
/// left out). Digits separate words and are not words themselves.
pub fn each_word(text: &str, mut each: impl FnMut(&str)) {
    let mut word = String::new();
    let bytes = text.as_bytes();
    let mut start = None;
    for index in 0..=bytes.len() {
        let letter = index < bytes.len() && bytes[index].is_ascii_alphabetic();
        match (start, letter) {
            (None, true) => start = Some(index),
            (Some(from), false) => {
                split_identifier(&text[from..index], |piece| {
                    word.clear();
                    word.push_str(piece);
                    word.make_ascii_lowercase();
                    if let Some(stemmed) = stem(&word) {
                        each(stemmed);
                    }
                });
                start = None;
            }
            _ => {}
        }
    }
}

/// The words of `text`, in order, repeated as they occur.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_word(text, |word| out.push(word.to_owned()));
    out
}

/// Splits a run of ASCII letters at case changes: `computeInvoiceTotals` → `compute`, `Invoice`,
/// `Totals`; `HTTPServer` → `HTTP`, `Server`.
fn split_identifier(run: &str, mut each: impl FnMut(&str)) {
    let bytes = run.as_bytes();
    let mut from = 0;
    for index in 1..bytes.len() {
        let (previous, current) = (bytes[index - 1], bytes[index]);
        let next_lower = bytes.get(index + 1).is_some_and(u8::is_ascii_lowercase);
        let boundary = (previous.is_ascii_lowercase() && current.is_ascii_uppercase())
            || (previous.is_ascii_uppercase() && current.is_ascii_uppercase() && next_lower);
        if boundary {
            each(&run[from..index]);
            from = index;
        }
    }
    each(&run[from..]);
}

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The stem of a lowercase word, or `None` for a stop word or a word too short to say anything.
fn stem(word: &str) -> Option<&str> {
    if word.len() < 2 || is_stop_word(word) {
        return None;
    }
    let mut stem = word;
    // Plurals first: `dependencies` → `dependenc`, `classes` → `class`, `servers` → `server`.
    if stem.len() > 4 && stem.ends_with("ies") {
        stem = &stem[..stem.len() - 3];
    } else if stem.len() > 4
        && ["sses", "xes", "ches", "shes"]
            .iter()
            .any(|suffix| stem.ends_with(suffix))
    {
        stem = &stem[..stem.len() - 2];
    } else if stem.len() > 3
        && stem.ends_with('s')
        && !stem.ends_with("ss")
        && !stem.ends_with("us")
        && !stem.ends_with("is")
    {
        stem = &stem[..stem.len() - 1];
    }
    // Then one ending: `installing`, `installed` → `install`; `server` → `serv`; `dependency` →
    // `dependenc`.
    for (suffix, longer_than) in [("ing", 5), ("ed", 5), ("er", 5), ("y", 4)] {
        if stem.len() > longer_than && stem.ends_with(suffix) {
            stem = &stem[..stem.len() - suffix.len()];
            break;
        }
    }
    // `running` → `runn` → `run`: a doubled final consonant left by a suffix goes.
    let bytes = stem.as_bytes();
    if stem.len() > 2
        && stem.len() < word.len()
        && bytes[bytes.len() - 1] == bytes[bytes.len() - 2]
        && !b"aeiouls".contains(&bytes[bytes.len() - 1])
    {
        stem = &stem[..stem.len() - 1];
    }
    (!is_stop_word(stem)).then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_words_are_sorted_for_their_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn identifiers_paths_and_prose_give_the_same_words() {
        assert_eq!(words("ActionRunner"), ["action", "run"]);
        assert_eq!(words("action_runner"), words("ActionRunner"));
        assert_eq!(
            words("app/lib/runtime/action-runner.ts"),
            ["app", "lib", "runtime", "action", "run", "ts"]
        );
        assert_eq!(
            words("The action runner does not wait for npm install"),
            ["action", "run", "wait", "npm", "install"]
        );
        assert_eq!(
            words("HTTPServer parseJSONBody"),
            ["http", "serv", "parse", "json", "body"]
        );
        // Plurals and verb forms meet their stem.
        assert_eq!(words("installs installing installed"), ["install"; 3]);
        assert_eq!(words("servers server"), ["serv", "serv"]);
        assert_eq!(words("dependencies dependency"), ["dependenc"; 2]);
        assert_eq!(words("running runner run"), ["run"; 3]);
        assert_eq!(
            words("processes process queries query"),
            ["process", "process", "quer", "quer"]
        );
        assert_eq!(words("v4 Redis4 x"), ["redis"]);
    }
}
