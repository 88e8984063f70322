//! `search` actions: the model looks for a pattern in the workspace's files, or lists the files a
//! `path` glob matches — answered within the turn as a typed [`Found`], its lines cut to the round's
//! budget (the voice module frames it). ripgrep's own crates search (`grep-regex`, `grep-searcher`);
//! the workspace walk ([`files::walker`]) decides which files: `.gitignore` respected, secrets and
//! binary files never searched, an editor's unsaved text searched as the user sees it. A path that
//! leaves the workspace is refused; a search stops after [`LIMITS`], saying so.

use super::{ActionStatus, ActionUpdate, Answer, Job, Runner, RunnerReport, files};
use crate::types::Hit;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{
    BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkContextKind, SinkMatch,
};
use openbolt_parser::ActionInfo;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What a `search` action asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// What to look for; `None`: list the files `path` matches.
    pub pattern: Option<String>,
    /// A file, a directory or a glob (`app/lib/**`, `src/*.ts`, `*.md`), relative to the workspace.
    pub path: Option<String>,
    /// The pattern is a regular expression (else a literal string).
    pub regex: bool,
    /// Upper and lower case differ (else they match each other).
    pub case_sensitive: bool,
}

impl Query {
    /// The query of a `search` action, from its attributes.
    pub fn of(action: &ActionInfo) -> Query {
        let flag = |value: &Option<String>, yes: &[&str]| {
            value.as_deref().is_some_and(|value| {
                yes.iter()
                    .any(|word| value.trim().eq_ignore_ascii_case(word))
            })
        };
        Query {
            pattern: action.pattern.clone().filter(|pattern| !pattern.is_empty()),
            path: action
                .file_path
                .as_deref()
                .map(str::trim)
                .filter(|path| !matches!(*path, "" | "." | "./"))
                .map(str::to_owned),
            regex: flag(&action.regex, &["true", "yes", "1"]),
            case_sensitive: flag(&action.case, &["sensitive", "true", "yes"]),
        }
    }

    /// For people and the model: `"npm install" in app/lib/**`, `/fn\s+main/`, `files src/*.ts`.
    pub fn label(&self) -> String {
        let mut label = match &self.pattern {
            Some(pattern) if self.regex => format!("/{pattern}/"),
            Some(pattern) => format!("\"{pattern}\""),
            None => "files".to_owned(),
        };
        if let Some(path) = &self.path {
            let _ = write!(
                label,
                "{}{path}",
                if self.pattern.is_some() { " in " } else { " " }
            );
        }
        label
    }
}

/// When a search stops early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    pub files: usize,
}

/// A search stops after 2 s or 100,000 files, whichever comes first.
pub const LIMITS: Limits = Limits {
    time: Duration::from_secs(2),
    files: 100_000,
};

/// Why a search stopped before it looked at everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It ran this long.
    Time(Duration),
    /// It looked at this many files.
    Files(usize),
}

/// What a search found, as the model is shown it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub query: Query,
    /// The lines shown: `path:line: text` for a match, `path-line- text` for a line around it, `--`
    /// between separate groups, a blank line between files; or one path per line for a listing.
    pub body: String,
    /// What the body shows, for the cards (matching lines, or listed files).
    pub hits: Vec<Hit>,
    /// Matching lines in all (a listing: files in all), and in how many files.
    pub matches: usize,
    pub files: usize,
    /// What the budget left out: matching lines (a listing: paths), and the files they are in.
    pub more_matches: usize,
    pub more_files: usize,
    pub stopped: Option<Stopped>,
}

impl Found {
    /// For people: `7 matches in 3 files`, `no matches`, `12 files`.
    pub fn summary(&self) -> String {
        let plural = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        let mut summary = match (&self.query.pattern, self.matches) {
            (Some(_), 0) => "no matches".to_owned(),
            (Some(_), matches) => format!(
                "{} in {}",
                plural(matches, "match", "matches"),
                plural(self.files, "file", "files")
            ),
            (None, 0) => "no files".to_owned(),
            (None, files) => plural(files, "file", "files"),
        };
        if self.stopped.is_some() {
            summary.push_str(" (stopped early)");
        }
        summary
    }
}

/// What a search is given besides its query.
#[derive(Debug)]
pub struct Setting<'a> {
    /// The workspace root, canonical.
    pub root: &'a Path,
    /// Files in the order the request ranked them: these come first.
    pub ranked: &'a [String],
    /// The editor's open documents: searched as the user sees them.
    pub open: &'a [(PathBuf, String)],
    /// The tokens the shown lines may take.
    pub budget: usize,
    pub limits: Limits,
}

/// A matching line shows at most this many characters.
const MAX_LINE_CHARS: usize = 200;

/// A file shows at most this many matching lines (the rest are counted).
const MAX_FILE_MATCHES: usize = 10;

/// Lines shown before and after a match.
const CONTEXT_LINES: usize = 1;

/// Searches, or lists, as `query` asks. `Err`: why nothing was searched (a bad pattern, a path
/// refused), for the model to read.
pub fn search(query: &Query, setting: &Setting<'_>) -> Result<Found, String> {
    let scope = Scope::of(setting.root, query.path.as_deref())?;
    match &query.pattern {
        Some(pattern) => {
            let matcher = RegexMatcherBuilder::new()
                .case_insensitive(!query.case_sensitive)
                .fixed_strings(!query.regex)
                .line_terminator(Some(b'\n'))
                .build(pattern)
                .map_err(|error| {
                    format!("the pattern is not a valid regular expression: {error}")
                })?;
            Ok(find(query, &scope, &matcher, setting))
        }
        None if query.path.is_some() => Ok(list(query, &scope, setting)),
        None => Err("give a pattern to look for, or a path glob to list files".to_owned()),
    }
}

/// Where a search looks: a directory (with the glob paths must match) or one file.
struct Scope {
    start: PathBuf,
    glob: Option<globset::GlobMatcher>,
}

impl Scope {
    fn of(root: &Path, path: Option<&str>) -> Result<Scope, String> {
        let Some(path) = path else {
            return Ok(Scope {
                start: root.to_path_buf(),
                glob: None,
            });
        };
        let path = path.trim();
        if Path::new(path).is_absolute() || path.starts_with(['~', '\\']) {
            return Err(format!(
                "refused: {}",
                files::PathError::Absolute(path.to_owned())
            ));
        }
        let path = path.trim_start_matches("./");
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let is_glob = |part: &&str| part.contains(['*', '?', '[', '{']);
        let literal: Vec<&str> = parts
            .iter()
            .copied()
            .take_while(|part| !is_glob(part))
            .collect();
        if parts.iter().skip(literal.len()).any(|part| *part == "..") {
            return Err(format!("refused: {path} leaves the workspace"));
        }
        let start = if literal.is_empty() {
            root.to_path_buf()
        } else {
            files::resolve_in_workspace(root, &literal.join("/"))
                .map_err(|error| format!("refused: {error}"))?
        };
        if literal.len() == parts.len() {
            if crate::secrets::is_secret(&start) {
                return Err(format!(
                    "refused: {path} holds secrets, which are never sent to the model"
                ));
            }
            return if start.exists() {
                Ok(Scope { start, glob: None })
            } else {
                Err(format!("{path} does not exist"))
            };
        }
        if !start.is_dir() {
            return Err(format!("{} is not a directory", literal.join("/")));
        }
        // A glob without a `/` names files at any depth (as ripgrep's and .gitignore's do); `*`
        // stays within one directory, `**` crosses them.
        let pattern = if parts.len() == 1 {
            format!("**/{path}")
        } else {
            parts.join("/")
        };
        let glob = globset::GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|error| format!("the path is not a valid glob: {error}"))?;
        Ok(Scope {
            start,
            glob: Some(glob.compile_matcher()),
        })
    }
}

/// One line a file shows: a match or a line around one; `None` where a gap separates groups.
type Line = Option<(u64, String, bool)>;

/// A file's matching lines (the first few, with the lines around them) and how many there are.
#[derive(Default)]
struct FileLines {
    path: String,
    matches: usize,
    lines: Vec<Line>,
}

/// Gathers one file's lines as the searcher reports them.
#[derive(Default)]
struct Gather {
    matches: usize,
    lines: Vec<Line>,
    binary: bool,
}

fn line_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    match text.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{} …", &text[..at]),
        None => text.to_owned(),
    }
}

impl Sink for Gather {
    type Error = std::io::Error;

    fn matched(&mut self, _: &Searcher, found: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        self.matches += 1;
        if self.matches <= MAX_FILE_MATCHES {
            let number = found.line_number().unwrap_or(0);
            self.lines
                .push(Some((number, line_text(found.bytes()), true)));
        }
        Ok(true)
    }

    /// After the last match shown, only the lines after it: none before a match not shown.
    fn context(&mut self, _: &Searcher, context: &SinkContext<'_>) -> Result<bool, Self::Error> {
        let keep = self.matches < MAX_FILE_MATCHES
            || (self.matches == MAX_FILE_MATCHES && *context.kind() == SinkContextKind::After);
        if keep {
            let number = context.line_number().unwrap_or(0);
            self.lines
                .push(Some((number, line_text(context.bytes()), false)));
        }
        Ok(true)
    }

    fn context_break(&mut self, _: &Searcher) -> Result<bool, Self::Error> {
        if self.matches < MAX_FILE_MATCHES && !self.lines.is_empty() {
            self.lines.push(None);
        }
        Ok(true)
    }

    fn binary_data(&mut self, _: &Searcher, _: u64) -> Result<bool, Self::Error> {
        self.binary = true;
        Ok(false)
    }
}

/// What the walk shares between its threads.
struct Walk<'a> {
    setting: &'a Setting<'a>,
    scope: &'a Scope,
    started: Instant,
    looked_at: AtomicUsize,
    stopped: Mutex<Option<Stopped>>,
    quit: AtomicBool,
}

impl Walk<'_> {
    fn new<'a>(setting: &'a Setting<'a>, scope: &'a Scope) -> Walk<'a> {
        Walk {
            setting,
            scope,
            started: Instant::now(),
            looked_at: AtomicUsize::new(0),
            stopped: Mutex::new(None),
            quit: AtomicBool::new(false),
        }
    }

    /// Runs a visitor on every entry the scope takes (a file, or for a listing a directory too), with
    /// its relative name, in parallel, until the limits: `visitor` makes one per walking thread, so what
    /// a visitor reuses from file to file (a searcher's buffers) is made once a thread.
    fn run<V: FnMut(&Path, String) + Send>(
        &self,
        directories: bool,
        visitor: &(dyn Fn() -> V + Sync),
    ) {
        let root = self.setting.root;
        files::walker(&self.scope.start).build_parallel().run(|| {
            let mut visit = visitor();
            Box::new(move |entry| {
                use ignore::WalkState;
                if self.quit.load(Ordering::Relaxed) {
                    return WalkState::Quit;
                }
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                let is_directory = entry.file_type().is_some_and(|kind| kind.is_dir());
                if !(entry.file_type().is_some_and(|kind| kind.is_file())
                    || directories && is_directory && entry.depth() > 0)
                {
                    return WalkState::Continue;
                }
                if !is_directory {
                    let looked_at = self.looked_at.fetch_add(1, Ordering::Relaxed) + 1;
                    if looked_at > self.setting.limits.files {
                        self.stop(Stopped::Files(self.setting.limits.files));
                        return WalkState::Quit;
                    }
                }
                if self.started.elapsed() > self.setting.limits.time {
                    self.stop(Stopped::Time(self.setting.limits.time));
                    return WalkState::Quit;
                }
                let Some(mut name) = files::relative_name(root, entry.path()) else {
                    return WalkState::Continue;
                };
                if let Some(glob) = &self.scope.glob
                    && !glob.is_match(&name)
                {
                    return WalkState::Continue;
                }
                if is_directory {
                    name.push('/');
                }
                visit(entry.path(), name);
                WalkState::Continue
            })
        });
    }

    fn stop(&self, why: Stopped) {
        self.quit.store(true, Ordering::Relaxed);
        crate::lock(&self.stopped).get_or_insert(why);
    }

    fn stopped(&self) -> Option<Stopped> {
        *crate::lock(&self.stopped)
    }
}

/// A searcher for one thread: line numbers, a line around each match, and a NUL byte ends a file
/// (binary).
fn searcher() -> Searcher {
    SearcherBuilder::new()
        .line_number(true)
        .before_context(CONTEXT_LINES)
        .after_context(CONTEXT_LINES)
        .binary_detection(BinaryDetection::quit(0))
        .build()
}

fn find(query: &Query, scope: &Scope, matcher: &RegexMatcher, setting: &Setting<'_>) -> Found {
    let open: HashMap<&Path, &str> = setting
        .open
        .iter()
        .map(|(path, text)| (path.as_path(), text.as_str()))
        .collect();
    let found = Mutex::new(Vec::<FileLines>::new());
    let search_one = |searcher: &mut Searcher, path: &Path, name: String| {
        if crate::secrets::is_secret(path) {
            return;
        }
        let mut gather = Gather::default();
        let searched = match open.get(path) {
            Some(text) => searcher.search_slice(matcher, text.as_bytes(), &mut gather),
            None => searcher.search_path(matcher, path, &mut gather),
        };
        if searched.is_ok() && !gather.binary && gather.matches > 0 {
            crate::lock(&found).push(FileLines {
                path: name,
                matches: gather.matches,
                lines: gather.lines,
            });
        }
    };
    let walk = Walk::new(setting, scope);
    if scope.start.is_file() {
        if let Some(name) = files::relative_name(setting.root, &scope.start) {
            search_one(&mut searcher(), &scope.start, name);
        }
    } else {
        walk.run(false, &|| {
            let mut searcher = searcher();
            move |path: &Path, name| search_one(&mut searcher, path, name)
        });
    }
    let mut found = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rank: HashMap<&str, usize> = setting
        .ranked
        .iter()
        .enumerate()
        .map(|(at, name)| (name.as_str(), at))
        .collect();
    found.sort_by(|a, b| {
        let place = |file: &FileLines| rank.get(file.path.as_str()).copied().unwrap_or(usize::MAX);
        place(a).cmp(&place(b)).then_with(|| a.path.cmp(&b.path))
    });
    shown_matches(query, found, setting.budget, walk.stopped())
}

/// The matches that fit in `budget`, best files first, and a count of the rest.
fn shown_matches(
    query: &Query,
    found: Vec<FileLines>,
    budget: usize,
    stopped: Option<Stopped>,
) -> Found {
    let mut result = Found {
        query: query.clone(),
        body: String::new(),
        hits: Vec::new(),
        matches: found.iter().map(|file| file.matches).sum(),
        files: found.len(),
        more_matches: 0,
        more_files: 0,
        stopped,
    };
    let mut spent = 0;
    let mut full = false;
    for file in &found {
        let mut shown = 0;
        if !full {
            let mut piece = String::new();
            if !result.body.is_empty() {
                piece.push('\n');
            }
            for line in &file.lines {
                match line {
                    Some((number, text, matched)) => {
                        let mark = if *matched { ':' } else { '-' };
                        let _ = writeln!(piece, "{}{mark}{number}{mark} {text}", file.path);
                    }
                    None => piece.push_str("--\n"),
                }
                let cost = crate::tokens::estimate(&piece);
                if spent + cost > budget {
                    full = true;
                    break;
                }
                spent += cost;
                result.body.push_str(&piece);
                piece.clear();
                if let Some((number, text, true)) = line {
                    shown += 1;
                    result.hits.push(Hit {
                        path: file.path.clone(),
                        line: u32::try_from(*number).ok(),
                        text: Some(text.clone()),
                    });
                }
            }
            if !full && file.matches > shown && shown > 0 {
                let note = format!(
                    "{}: … {} more matching lines in this file\n",
                    file.path,
                    file.matches - shown
                );
                spent += crate::tokens::estimate(&note);
                result.body.push_str(&note);
            }
        }
        if file.matches > shown {
            result.more_matches += file.matches - shown;
            result.more_files += 1;
        }
    }
    result
}

fn list(query: &Query, scope: &Scope, setting: &Setting<'_>) -> Found {
    let names = Mutex::new(Vec::<String>::new());
    let walk = Walk::new(setting, scope);
    if scope.start.is_file() {
        crate::lock(&names).extend(files::relative_name(setting.root, &scope.start));
    } else {
        walk.run(true, &|| |_: &Path, name| crate::lock(&names).push(name));
    }
    let mut names = names
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names.sort();
    let mut result = Found {
        query: query.clone(),
        body: String::new(),
        hits: Vec::new(),
        matches: names.len(),
        files: names.len(),
        more_matches: 0,
        more_files: 0,
        stopped: walk.stopped(),
    };
    let mut spent = 0;
    for (at, name) in names.iter().enumerate() {
        let line = format!("{name}\n");
        let cost = crate::tokens::estimate(&line);
        if spent + cost > setting.budget {
            result.more_matches = names.len() - at;
            result.more_files = result.more_matches;
            break;
        }
        spent += cost;
        result.body.push_str(&line);
        result.hits.push(Hit {
            path: name.clone(),
            line: None,
            text: None,
        });
    }
    result
}

impl Runner {
    /// A `search` action, run off the async threads: its [`Found`] kept for the follow-up request.
    pub(super) fn run_search(
        &mut self,
        job: &Job,
        update: ActionUpdate,
        report: &mut RunnerReport,
    ) -> ActionUpdate {
        let query = Query::of(&job.action);
        let open: Vec<(PathBuf, String)> = self.writer.open_documents();
        let setting = Setting {
            root: &self.root,
            ranked: &self.ranked,
            open: &open,
            budget: self.answer_allowance(),
            limits: LIMITS,
        };
        match crate::blocking(|| search(&query, &setting)) {
            Ok(found) => {
                let mut update = update.status(ActionStatus::Complete);
                update.summary = Some(found.summary());
                update.found.clone_from(&found.hits);
                self.answered(job, Answer::Search(found), report);
                update
            }
            Err(reason) => update.with_error(reason).status(ActionStatus::Failed),
        }
    }
}

#[cfg(test)]
mod tests;
