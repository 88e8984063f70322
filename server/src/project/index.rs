//! The index: every file of the workspace with its tags, built by walking the workspace (respecting
//! `.gitignore`), parsing on all cores, and cached on disk by content hash so that a restart is warm.

use crate::secrets::is_secret;
use openbolt_syntax::{Language, TagKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

/// Files larger than this are mapped by name only.
pub const MAX_MAPPED_BYTES: u64 = 1024 * 1024;

/// At most this many files are indexed; a larger workspace is capped (the rest is not mapped).
pub const MAX_FILES: usize = 50_000;

/// Why a file has a name in the map but no tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Not a language OpenBolt parses (or a secret: never read).
    Other,
    Binary,
    TooLarge,
    Minified,
    Unreadable,
}

/// A name, shared by every entry that defines or uses it (see [`Interner`]).
pub type Name = Arc<str>;

/// A definition, as the map shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub name: Name,
    pub syntax: String,
    pub line: u32,
    pub signature: String,
}

/// One file of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 for an editor buffer).
    pub modified: u128,
    /// Hex SHA-256 of the content (empty when not read).
    pub hash: String,
    pub lines: u32,
    pub unmapped: Option<Unmapped>,
    pub definitions: Vec<Definition>,
    /// Names used, with how often.
    pub references: Vec<(Name, u32)>,
    /// The words of the text (identifiers split, comments and strings included; see
    /// `project::words`), with how often: the lexical ranking's postings.
    #[serde(default)]
    pub words: Vec<(Name, u32)>,
}

/// Files by path relative to the workspace (with `/`).
pub type Files = BTreeMap<String, Arc<FileEntry>>;

/// What a walk found: each file with its size and modification time.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<(String, u64, u128)>,
    /// More files than [`MAX_FILES`] were there.
    pub capped: bool,
}

/// Lists the workspace's files (not following symbolic links, so loops cannot trap it).
pub fn walk(root: &Path, stop: &AtomicBool) -> Walked {
    let walker = crate::actions::files::walker(root).build();
    let mut walked = Walked::default();
    for entry in walker.flatten() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        if walked.files.len() == MAX_FILES {
            walked.capped = true;
            break;
        }
        let Some(relative) = relative_name(root, entry.path()) else {
            continue;
        };
        let (size, modified) = entry
            .metadata()
            .map(|metadata| (metadata.len(), modified_nanos(&metadata)))
            .unwrap_or((0, 0));
        walked.files.push((relative, size, modified));
    }
    walked.files.sort();
    walked
}

pub use crate::actions::files::relative_name;

pub fn modified_nanos(metadata: &std::fs::Metadata) -> u128 {
    metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |duration| duration.as_nanos())
}

/// Tags `content` of the file `name`.
pub fn entry_for(name: &str, content: &[u8], modified: u128) -> FileEntry {
    let mut entry = FileEntry {
        size: content.len() as u64,
        modified,
        hash: hash(content),
        lines: count_lines(content),
        unmapped: None,
        definitions: Vec::new(),
        references: Vec::new(),
        words: Vec::new(),
    };
    let path = Path::new(name);
    let language = Language::detect(path, &content[..content.len().min(256)]);
    entry.unmapped = if is_secret(path) {
        Some(Unmapped::Other)
    } else if content.len() as u64 > MAX_MAPPED_BYTES {
        Some(Unmapped::TooLarge)
    } else if crate::actions::files::is_binary(content) {
        Some(Unmapped::Binary)
    } else if language.is_none() {
        Some(Unmapped::Other)
    } else if is_minified(name, content) {
        Some(Unmapped::Minified)
    } else {
        None
    };
    if entry.unmapped.is_some() {
        return entry;
    }
    let Some(language) = language else {
        return entry;
    };
    let tags = openbolt_syntax::tags(language, content);
    let mut references: BTreeMap<String, u32> = BTreeMap::new();
    for tag in tags.tags {
        match tag.kind {
            TagKind::Definition => entry.definitions.push(Definition {
                name: Name::from(tag.name),
                syntax: tag.syntax,
                line: tag.line,
                signature: tag.signature.unwrap_or_default(),
            }),
            TagKind::Reference => *references.entry(tag.name).or_default() += 1,
        }
    }
    entry.references = references
        .into_iter()
        .map(|(name, uses)| (Name::from(name), uses))
        .collect();
    entry.words = word_counts(&String::from_utf8_lossy(content));
    entry
}

/// The words of `text` with their counts, sorted.
fn word_counts(text: &str) -> Vec<(Name, u32)> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    super::words::each_word(text, |word| match counts.get_mut(word) {
        Some(count) => *count += 1,
        None => {
            counts.insert(word.to_owned(), 1);
        }
    });
    counts
        .into_iter()
        .map(|(word, count)| (Name::from(word), count))
        .collect()
}

/// One copy of each name for the whole index: the same identifier is used in many files (and defined
/// in one), so sharing it keeps the map's memory near the size of its distinct names.
#[derive(Debug, Default)]
pub struct Interner(std::collections::HashSet<Name>);

impl Interner {
    fn intern(&mut self, name: &mut Name) {
        match self.0.get(name) {
            Some(shared) => *name = shared.clone(),
            None => {
                self.0.insert(name.clone());
            }
        }
    }

    /// Makes `entry`'s names the shared copies.
    pub fn intern_entry(&mut self, entry: &mut FileEntry) {
        for definition in &mut entry.definitions {
            self.intern(&mut definition.name);
        }
        for (name, _) in &mut entry.references {
            self.intern(name);
        }
        for (word, _) in &mut entry.words {
            self.intern(word);
        }
    }

    /// Forgets names no entry uses any more.
    pub fn prune(&mut self) {
        self.0.retain(|name| Arc::strong_count(name) > 1);
    }
}

/// An entry for a file that could not be read.
pub fn unreadable(size: u64, modified: u128) -> FileEntry {
    FileEntry {
        size,
        modified,
        hash: String::new(),
        lines: 0,
        unmapped: Some(Unmapped::Unreadable),
        definitions: Vec::new(),
        references: Vec::new(),
        words: Vec::new(),
    }
}

pub fn hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn count_lines(content: &[u8]) -> u32 {
    let breaks = memchr::memchr_iter(b'\n', content).count();
    let unterminated = usize::from(!content.is_empty() && !content.ends_with(b"\n"));
    u32::try_from(breaks + unterminated).unwrap_or(u32::MAX)
}

/// Bundled or minified code: `.min.` in the name, or long lines on average.
fn is_minified(name: &str, content: &[u8]) -> bool {
    if name.contains(".min.") {
        return true;
    }
    if content.len() < 4096 {
        return false;
    }
    let lines = memchr::memchr_iter(b'\n', content).count() + 1;
    content.len() / lines > 400
}

/// Reads and tags the files of `names` that are not already in `known` with the same size and
/// modification time (or, read again, the same content), on every core. Files whose content is
/// unchanged keep their entry.
pub fn refresh(
    root: &Path,
    walked: &[(String, u64, u128)],
    known: &Files,
    interner: &mut Interner,
    stop: &AtomicBool,
) -> (Files, usize) {
    let mut files = Files::new();
    let mut to_read = Vec::new();
    for (name, size, modified) in walked {
        match known.get(name) {
            Some(entry) if entry.size == *size && entry.modified == *modified => {
                files.insert(name.clone(), entry.clone());
            }
            _ => to_read.push((name.clone(), *size, *modified)),
        }
    }
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8);
    let parsed: Vec<Vec<(String, FileEntry, bool)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, size, modified)) = to_read.get(index) else {
                            break;
                        };
                        out.push(read_one(root, name, *size, *modified, known.get(name)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let mut reparsed = 0;
    for (name, mut entry, was_parsed) in parsed.into_iter().flatten() {
        reparsed += usize::from(was_parsed);
        if was_parsed {
            interner.intern_entry(&mut entry);
        }
        files.insert(name, Arc::new(entry));
    }
    (files, reparsed)
}

/// One file: its cached entry if the content is the same, else parsed. The flag says it was parsed.
fn read_one(
    root: &Path,
    name: &str,
    size: u64,
    modified: u128,
    known: Option<&Arc<FileEntry>>,
) -> (String, FileEntry, bool) {
    let path: PathBuf = root.join(name);
    if is_secret(Path::new(name)) {
        let mut entry = unreadable(size, modified);
        entry.unmapped = Some(Unmapped::Other);
        return (name.to_owned(), entry, false);
    }
    if size > MAX_MAPPED_BYTES {
        let mut entry = unreadable(size, modified);
        entry.unmapped = Some(Unmapped::TooLarge);
        return (name.to_owned(), entry, false);
    }
    let Ok(content) = std::fs::read(&path) else {
        return (name.to_owned(), unreadable(size, modified), false);
    };
    if let Some(known) = known
        && known.hash == hash(&content)
    {
        let mut entry = FileEntry::clone(known);
        entry.size = size;
        entry.modified = modified;
        return (name.to_owned(), entry, false);
    }
    (name.to_owned(), entry_for(name, &content, modified), true)
}

/// The cache file of a workspace's index, under the data directory.
pub fn cache_path(data_dir: &Path, root: &Path) -> PathBuf {
    let key = hash(root.as_os_str().as_encoded_bytes());
    data_dir.join("maps").join(format!("{key}.json"))
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    /// Bumped when tags change meaning (new queries): an old cache is then ignored.
    version: u32,
    files: BTreeMap<String, FileEntry>,
}

/// 2: entries hold their words (the lexical ranking's postings).
const CACHE_VERSION: u32 = 2;

/// The cached index, if there is a readable one of this version.
pub fn load_cache(path: &Path, interner: &mut Interner) -> Option<Files> {
    let bytes = std::fs::read(path).ok()?;
    let cache: CacheFile = serde_json::from_slice(&bytes).ok()?;
    drop(bytes);
    (cache.version == CACHE_VERSION).then(|| {
        cache
            .files
            .into_iter()
            .map(|(name, mut entry)| {
                interner.intern_entry(&mut entry);
                (name, Arc::new(entry))
            })
            .collect()
    })
}

/// Writes the cache atomically (a crash leaves the old one or the new one), streaming it to disk
/// rather than building it in memory first.
pub fn save_cache(path: &Path, files: &Files) -> std::io::Result<()> {
    use std::io::Write as _;
    #[derive(Serialize)]
    struct CacheRef<'a> {
        version: u32,
        files: BTreeMap<&'a str, &'a FileEntry>,
    }
    let cache = CacheRef {
        version: CACHE_VERSION,
        files: files
            .iter()
            .filter(|(_, entry)| entry.modified != 0)
            .map(|(name, entry)| (name.as_str(), entry.as_ref()))
            .collect(),
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let temporary = tempfile::NamedTempFile::new_in(parent)?;
    let mut writer = std::io::BufWriter::new(temporary.as_file());
    serde_json::to_writer(&mut writer, &cache).map_err(std::io::Error::other)?;
    writer.flush()?;
    drop(writer);
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named_not_mapped() {
        let big = "x".repeat(MAX_MAPPED_BYTES as usize + 1);
        assert_eq!(
            entry_for("big.js", big.as_bytes(), 1).unmapped,
            Some(Unmapped::TooLarge)
        );
        assert_eq!(
            entry_for("a.js", b"\0\x01binary", 1).unmapped,
            Some(Unmapped::Binary)
        );
        let minified = format!("{}\n", "var a=1;".repeat(2000));
        assert_eq!(
            entry_for("bundle.js", minified.as_bytes(), 1).unmapped,
            Some(Unmapped::Minified)
        );
        assert_eq!(
            entry_for("vendor.min.js", b"function a(){}", 1).unmapped,
            Some(Unmapped::Minified)
        );
        assert_eq!(
            entry_for(".env", b"KEY=1", 1).unmapped,
            Some(Unmapped::Other)
        );
        let entry = entry_for("a.js", b"function f() {\n  g();\n  g();\n}\n", 1);
        assert_eq!(entry.unmapped, None);
        assert_eq!(&*entry.definitions[0].name, "f");
        assert_eq!(entry.references, vec![(Name::from("g"), 2)]);
        assert_eq!(entry.lines, 4);
    }
}
