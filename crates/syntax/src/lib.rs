//! Languages, parsing and tags for OpenBolt, with tree-sitter grammars linked in (none is ever
//! downloaded at run time).
//!
//! Pure: no I/O. [`Language::detect`] picks a grammar from a file name (and a script's shebang);
//! [`tags`] lists a source's definitions (functions, methods, classes, types, constants, exported names)
//! and references (calls, imports, types used), with their lines. Tags come from tags queries: the
//! grammar's own `tags.scm` where it ships one, extended by ours in `queries/`, and ours alone for HTML,
//! CSS and JSON. A source with syntax errors is still tagged as far as tree-sitter recovers.
//!
//! ```
//! use openbolt_syntax::{Language, TagKind, tags};
//! use std::path::Path;
//!
//! let language = Language::detect(Path::new("src/ledger.js"), b"").expect("a JavaScript file");
//! let found = tags(language, b"function total(items) {\n  return sum(items);\n}\n");
//! let definition = &found.tags[0];
//! assert_eq!((definition.name.as_str(), definition.kind, definition.line), ("total", TagKind::Definition, 1));
//! assert_eq!(definition.signature.as_deref(), Some("function total(items) {"));
//! assert!(found.tags.iter().any(|tag| tag.name == "sum" && tag.kind == TagKind::Reference));
//! ```

use std::cell::RefCell;
use std::path::Path;
use std::sync::OnceLock;
use tree_sitter_tags::{TagsConfiguration, TagsContext};

/// A language OpenBolt maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    JavaScript,
    TypeScript,
    Tsx,
    Python,
    Rust,
    Go,
    Html,
    Css,
    Json,
}

impl Language {
    /// Every language, in a fixed order.
    pub const ALL: [Language; 9] = [
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Python,
        Language::Rust,
        Language::Go,
        Language::Html,
        Language::Css,
        Language::Json,
    ];

    /// The language of a file: by extension, else (for scripts without one) by the shebang in `start`,
    /// the first bytes of the file.
    pub fn detect(path: &Path, start: &[u8]) -> Option<Language> {
        if let Some(extension) = path.extension().and_then(|extension| extension.to_str()) {
            return Language::from_extension(extension);
        }
        Language::from_shebang(start)
    }

    /// The language of a file extension (without the dot), ignoring ASCII case.
    pub fn from_extension(extension: &str) -> Option<Language> {
        let extension = extension.to_ascii_lowercase();
        Some(match extension.as_str() {
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "py" | "pyi" | "pyw" => Language::Python,
            "rs" => Language::Rust,
            "go" => Language::Go,
            "html" | "htm" => Language::Html,
            "css" => Language::Css,
            "json" | "jsonc" | "webmanifest" => Language::Json,
            _ => return None,
        })
    }

    /// The language a `#!` line names: node, deno/ts-node/tsx/bun, python.
    pub fn from_shebang(start: &[u8]) -> Option<Language> {
        let line = start.strip_prefix(b"#!")?;
        let line = &line[..line
            .iter()
            .position(|byte| *byte == b'\n')
            .unwrap_or(line.len())];
        let line = std::str::from_utf8(line).ok()?;
        // `#!/usr/bin/env -S node --flag`: the interpreter is the first word that is not env or a flag.
        let interpreter = line
            .split_whitespace()
            .map(|word| word.rsplit('/').next().unwrap_or(word))
            .find(|word| *word != "env" && !word.starts_with('-'))?;
        if interpreter.starts_with("python") {
            Some(Language::Python)
        } else if interpreter == "node" || interpreter == "nodejs" {
            Some(Language::JavaScript)
        } else if ["deno", "ts-node", "tsx", "bun"].contains(&interpreter) {
            Some(Language::TypeScript)
        } else {
            None
        }
    }

    /// Its name, as the map and the logs show it.
    pub fn name(self) -> &'static str {
        match self {
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Html => "html",
            Language::Css => "css",
            Language::Json => "json",
        }
    }

    /// The tree-sitter grammar.
    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::Go => tree_sitter_go::LANGUAGE.into(),
            Language::Html => tree_sitter_html::LANGUAGE.into(),
            Language::Css => tree_sitter_css::LANGUAGE.into(),
            Language::Json => tree_sitter_json::LANGUAGE.into(),
        }
    }

    /// The tags query: the grammar's own where it ships one, then ours.
    pub fn tags_query(self) -> String {
        match self {
            Language::JavaScript => [
                tree_sitter_javascript::TAGS_QUERY,
                include_str!("../queries/javascript.scm"),
            ]
            .concat(),
            Language::TypeScript => [
                tree_sitter_typescript::TAGS_QUERY,
                include_str!("../queries/typescript.scm"),
            ]
            .concat(),
            Language::Tsx => [
                tree_sitter_typescript::TAGS_QUERY,
                include_str!("../queries/typescript.scm"),
                include_str!("../queries/tsx.scm"),
            ]
            .concat(),
            Language::Python => [
                tree_sitter_python::TAGS_QUERY,
                include_str!("../queries/python.scm"),
            ]
            .concat(),
            Language::Rust => [
                tree_sitter_rust::TAGS_QUERY,
                include_str!("../queries/rust.scm"),
            ]
            .concat(),
            Language::Go => [
                tree_sitter_go::TAGS_QUERY,
                include_str!("../queries/go.scm"),
            ]
            .concat(),
            Language::Html => include_str!("../queries/html.scm").to_owned(),
            Language::Css => include_str!("../queries/css.scm").to_owned(),
            Language::Json => include_str!("../queries/json.scm").to_owned(),
        }
    }

    fn index(self) -> usize {
        Language::ALL
            .iter()
            .position(|language| *language == self)
            .unwrap_or(0)
    }

    /// The compiled tags configuration, built once per process.
    fn configuration(self) -> Option<&'static TagsConfiguration> {
        static CONFIGURATIONS: [OnceLock<Option<TagsConfiguration>>; 9] =
            [const { OnceLock::new() }; 9];
        CONFIGURATIONS[self.index()]
            .get_or_init(|| TagsConfiguration::new(self.grammar(), &self.tags_query(), "").ok())
            .as_ref()
    }
}

/// Whether a tag defines its name or uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagKind {
    Definition,
    Reference,
}

/// One name in a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub kind: TagKind,
    /// What the query calls it: `function`, `method`, `class`, `constant`, `call`, `import`, …
    pub syntax: String,
    /// 1-based line of the name.
    pub line: u32,
    /// For a definition: its first line, trimmed and cut to [`SIGNATURE_CHARS`] characters.
    pub signature: Option<String>,
}

/// How long a definition's signature line may be.
pub const SIGNATURE_CHARS: usize = 160;

/// A source's tags, in the order of the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    pub tags: Vec<Tag>,
    /// tree-sitter recovered from syntax errors; the tags are what it could make out.
    pub has_errors: bool,
}

thread_local! {
    static CONTEXT: RefCell<TagsContext> = RefCell::new(TagsContext::new());
}

/// The definitions and references of `source`. Never fails: what cannot be parsed has no tags.
pub fn tags(language: Language, source: &[u8]) -> Tags {
    let Some(configuration) = language.configuration() else {
        return Tags::default();
    };
    CONTEXT.with(|context| {
        let Ok(mut context) = context.try_borrow_mut() else {
            return Tags::default();
        };
        let Ok((found, has_errors)) = context.generate_tags(configuration, source, None) else {
            return Tags::default();
        };
        let mut tags: Vec<Tag> = found
            .flatten()
            .filter_map(|tag| {
                let name = std::str::from_utf8(source.get(tag.name_range.clone())?).ok()?;
                let name = name.trim();
                if name.is_empty() {
                    return None;
                }
                let kind = if tag.is_definition {
                    TagKind::Definition
                } else {
                    TagKind::Reference
                };
                let signature = tag.is_definition.then(|| {
                    let line = String::from_utf8_lossy(&source[tag.line_range.clone()]);
                    let line = line.trim();
                    match line.char_indices().nth(SIGNATURE_CHARS) {
                        Some((cut, _)) => format!("{}…", &line[..cut]),
                        None => line.to_owned(),
                    }
                });
                Some(Tag {
                    name: name.to_owned(),
                    kind,
                    syntax: configuration
                        .syntax_type_name(tag.syntax_type_id)
                        .to_owned(),
                    line: u32::try_from(tag.span.start.row + 1).unwrap_or(u32::MAX),
                    signature,
                })
            })
            .collect();
        // Queries overlap (the grammar's and ours): one tag per name, kind and line.
        tags.sort_by(|a, b| {
            (a.line, a.kind == TagKind::Reference, &a.name).cmp(&(
                b.line,
                b.kind == TagKind::Reference,
                &b.name,
            ))
        });
        tags.dedup_by(|b, a| a.line == b.line && a.kind == b.kind && a.name == b.name);
        Tags { tags, has_errors }
    })
}

/// A syntax error: where tree-sitter could not parse the source, or what it found missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 0-based line and byte column of the start and end.
    pub start: (u32, u32),
    pub end: (u32, u32),
    pub message: String,
}

/// At most this many errors are reported for one source (the first ones).
pub const MAX_ERRORS: usize = 20;

/// The syntax errors of `source`: nodes tree-sitter could not parse and tokens it found missing, in the
/// order of the source. Empty for a source that parses (style is not judged).
pub fn syntax_errors(language: Language, source: &[u8]) -> Vec<SyntaxError> {
    check(language, source, None).0
}

/// A parsed source, kept to check its next version incrementally.
#[derive(Debug)]
pub struct Parsed {
    language: Language,
    tree: tree_sitter::Tree,
    source: Vec<u8>,
}

/// The syntax errors of `source`, and its tree for the next check. With the `previous` version of the
/// same file, only what changed between them is parsed again (tree-sitter's incremental parsing): a
/// small edit of a large file is checked in a few milliseconds.
pub fn check(
    language: Language,
    source: &[u8],
    previous: Option<Parsed>,
) -> (Vec<SyntaxError>, Option<Parsed>) {
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&language.grammar()).is_err() {
        return (Vec::new(), None);
    }
    let old_tree = previous
        .filter(|previous| previous.language == language)
        .map(|mut previous| {
            previous.tree.edit(&edit_between(&previous.source, source));
            previous.tree
        });
    let Some(tree) = parser.parse(source, old_tree.as_ref()) else {
        return (Vec::new(), None);
    };
    let errors = errors_of(&tree, source);
    (
        errors,
        Some(Parsed {
            language,
            tree,
            source: source.to_vec(),
        }),
    )
}

/// The one edit that turns `old` into `new`: the bytes between their common start and common end.
fn edit_between(old: &[u8], new: &[u8]) -> tree_sitter::InputEdit {
    let start = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let tail = old[start..]
        .iter()
        .rev()
        .zip(new[start..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let point = |text: &[u8], at: usize| {
        let before = &text[..at];
        let row = before.iter().filter(|byte| **byte == b'\n').count();
        let column = at
            - before
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |newline| newline + 1);
        tree_sitter::Point { row, column }
    };
    tree_sitter::InputEdit {
        start_byte: start,
        old_end_byte: old.len() - tail,
        new_end_byte: new.len() - tail,
        start_position: point(old, start),
        old_end_position: point(old, old.len() - tail),
        new_end_position: point(new, new.len() - tail),
    }
}

fn errors_of(tree: &tree_sitter::Tree, source: &[u8]) -> Vec<SyntaxError> {
    let mut errors = Vec::new();
    if !tree.root_node().has_error() {
        return errors;
    }
    let mut cursor = tree.walk();
    'walk: loop {
        let node = cursor.node();
        let point = |point: tree_sitter::Point| {
            (
                u32::try_from(point.row).unwrap_or(u32::MAX),
                u32::try_from(point.column).unwrap_or(u32::MAX),
            )
        };
        let reported = if node.is_missing() {
            Some(format!("missing `{}`", node.kind()))
        } else if node.is_error() {
            let text = source
                .get(node.start_byte()..node.end_byte())
                .map(|bytes| {
                    String::from_utf8_lossy(bytes)
                        .trim()
                        .chars()
                        .take(30)
                        .collect::<String>()
                })
                .unwrap_or_default();
            Some(if text.is_empty() {
                "syntax error".to_owned()
            } else {
                format!("syntax error near `{text}`")
            })
        } else {
            None
        };
        let is_error = reported.is_some();
        if let Some(message) = reported {
            errors.push(SyntaxError {
                start: point(node.start_position()),
                end: point(node.end_position()),
                message,
            });
            if errors.len() == MAX_ERRORS {
                break;
            }
        }
        // Into children only where an error is (an error node's own children add nothing).
        if !is_error && node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tags_query_compiles_against_its_grammar() {
        for language in Language::ALL {
            let result =
                TagsConfiguration::new(language.grammar(), &language.tags_query(), "").map(|_| ());
            assert_eq!(result, Ok(()), "{}", language.name());
        }
    }

    #[test]
    fn languages_come_from_extensions_and_shebangs() {
        let detect = |path: &str, start: &str| Language::detect(Path::new(path), start.as_bytes());
        assert_eq!(detect("a/b.TSX", ""), Some(Language::Tsx));
        assert_eq!(detect("x.mjs", ""), Some(Language::JavaScript));
        assert_eq!(
            detect("tool", "#!/usr/bin/env python3\n"),
            Some(Language::Python)
        );
        assert_eq!(
            detect("run", "#!/usr/bin/env -S node --no-warnings\n"),
            Some(Language::JavaScript)
        );
        assert_eq!(
            detect("run", "#!/usr/local/bin/deno run\n"),
            Some(Language::TypeScript)
        );
        assert_eq!(detect("run", "#!/bin/sh\n"), None);
        assert_eq!(detect("notes.txt", "#!/usr/bin/env node\n"), None);
        assert_eq!(detect("Makefile", ""), None);
    }

    #[test]
    fn syntax_errors_are_found_where_they_are_and_good_sources_have_none() {
        let broken = syntax_errors(
            Language::JavaScript,
            b"function ok() {}\nfunction bad( {\n  return 1;\n}\n",
        );
        assert!(!broken.is_empty());
        assert_eq!(broken[0].start.0, 1, "{broken:?}");
        let missing = syntax_errors(Language::Json, b"{\"a\": 1,\n \"b\": [1, 2}\n");
        assert!(!missing.is_empty(), "{missing:?}");
        for language in Language::ALL {
            assert!(
                syntax_errors(language, b"").is_empty(),
                "{}",
                language.name()
            );
        }
        assert!(syntax_errors(Language::Python, b"def f():\n    return 1\n").is_empty());
        assert!(syntax_errors(Language::Rust, b"fn main() { let x = 1; }\n").is_empty());
    }

    #[test]
    fn an_incremental_check_finds_what_a_whole_check_finds() {
        let first = b"function a() {\n  return 1;\n}\nfunction b() {\n  return 2;\n}\n".to_vec();
        let (errors, parsed) = check(Language::JavaScript, &first, None);
        assert!(errors.is_empty());
        let broken = String::from_utf8(first.clone())
            .expect("utf8")
            .replace("return 2;", "return (2;");
        let (incremental, parsed) = check(Language::JavaScript, broken.as_bytes(), parsed);
        assert_eq!(
            incremental,
            syntax_errors(Language::JavaScript, broken.as_bytes())
        );
        assert!(!incremental.is_empty());
        let (fixed, _) = check(Language::JavaScript, &first, parsed);
        assert!(fixed.is_empty());
    }

    #[test]
    fn a_broken_source_is_tagged_as_far_as_it_recovers() {
        let found = tags(
            Language::Python,
            b"def good():\n    return 1\n\ndef broken(:\n    pass\n\nclass Later:\n    pass\n",
        );
        assert!(found.has_errors);
        let names: Vec<_> = found.tags.iter().map(|tag| tag.name.as_str()).collect();
        assert!(
            names.contains(&"good") && names.contains(&"Later"),
            "{names:?}"
        );
    }
}
