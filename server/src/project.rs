//! The project map: every file's definitions and references (tree-sitter tags), kept current off the
//! request path, ranked for each turn and rendered within a token budget.
//!
//! One [`ProjectMap`] per workspace and process. Its worker thread loads the cached index (under the
//! data directory, keyed by content hash, so a restart is warm), walks the workspace, parses what
//! changed on every core, and then applies changes as they come: editor buffers (`didChange`), saved
//! and written files, files changed on disk (a rescan compares sizes and modification times). Readers
//! take the latest [`Snapshot`] at once — a turn that starts before the map is ready uses what is ready.

pub mod index;
pub mod rank;
pub mod render;
pub mod words;

use crate::lock;
use index::{FileEntry, Files};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The index as it stands.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub files: Files,
    /// The first walk has finished (before that, the files are the cache's).
    pub complete: bool,
    /// The workspace has more files than the index takes.
    pub capped: bool,
    /// Grows with every change.
    pub generation: u64,
    /// How many files the last update parsed.
    pub parsed: usize,
    /// The graph of references → definitions, built once when first needed.
    graph: OnceLock<Arc<rank::Graph>>,
}

impl Snapshot {
    /// The graph of these files (built on first use, then kept with the snapshot).
    pub fn graph(&self) -> &rank::Graph {
        self.graph
            .get_or_init(|| Arc::new(rank::Graph::build(&self.files)))
    }

    /// The files ranked for `focus`.
    pub fn rank(&self, focus: &rank::Focus) -> rank::Ranking {
        self.graph().rank(&self.files, focus)
    }

    /// The map for `focus` in `budget` tokens.
    pub fn render(&self, focus: &rank::Focus, budget: usize) -> (rank::Ranking, String) {
        let ranking = self.rank(focus);
        let map = render::render(&self.files, &ranking, budget);
        (ranking, map)
    }
}

/// Gets an editor buffer's current text when the worker comes to it (`None`: no longer open).
type BufferText = Box<dyn FnOnce() -> Option<String> + Send>;

enum Command {
    /// An editor buffer changed (its text wins over the disk while open). The text is fetched when the
    /// worker gets to it, so a burst of keystrokes costs one copy and one parse.
    Buffer(String, BufferText),
    /// A buffer was closed: the disk counts again.
    Closed(String),
    /// These files changed on disk (written, saved, created or deleted).
    Changed(Vec<String>),
    /// Compare the whole workspace with the index.
    Rescan,
    /// Answer once everything sent before is in a published snapshot.
    Settle(std::sync::mpsc::Sender<()>),
}

/// What the map's worker thread and its handles share: the published snapshot and the stop flag.
struct MapState {
    snapshot: Mutex<Arc<Snapshot>>,
    updated: Condvar,
    stop: AtomicBool,
    /// A thread is building a snapshot's graph.
    building: AtomicBool,
}

/// A workspace's map: a handle on its worker. Clones share it; the worker stops (saving the cache) when
/// the last handle goes.
#[derive(Clone)]
pub struct ProjectMap {
    root: PathBuf,
    shared: Arc<MapState>,
    commands: Sender<Command>,
    _worker: Arc<Worker>,
}

impl std::fmt::Debug for ProjectMap {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProjectMap")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Stops the worker when the last handle is dropped.
struct Worker {
    shared: Arc<MapState>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Dropping the sender ends the worker's wait.
    commands: Mutex<Option<Sender<Command>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        drop(lock(&self.commands).take());
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

/// How often the cache is written at most while changes come in (and once more at the end).
const SAVE_INTERVAL: Duration = Duration::from_secs(5);

impl ProjectMap {
    /// Starts mapping `root` (canonical). `cache`: where the index is kept between runs.
    pub fn start(root: &Path, cache: Option<PathBuf>) -> ProjectMap {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let shared = Arc::new(MapState {
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            updated: Condvar::new(),
            stop: AtomicBool::new(false),
            building: AtomicBool::new(false),
        });
        let (commands, receiver) = std::sync::mpsc::channel();
        let thread = {
            let shared = shared.clone();
            let root = root.clone();
            std::thread::Builder::new()
                .name("openbolt-map".to_owned())
                .spawn(move || run(&root, cache, &shared, &receiver))
                .ok()
        };
        let worker = Arc::new(Worker {
            shared: shared.clone(),
            thread: Mutex::new(thread),
            commands: Mutex::new(Some(commands.clone())),
        });
        ProjectMap {
            root,
            shared,
            commands,
            _worker: worker,
        }
    }

    /// The map's cache file for `root` under `data_dir`.
    pub fn cache_file(data_dir: &Path, root: &Path) -> PathBuf {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        index::cache_path(data_dir, &root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index as it stands now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        lock(&self.shared.snapshot).clone()
    }

    /// Waits until the snapshot's generation is past `generation` and the first walk is done, or
    /// `timeout` passes; returns the snapshot then.
    pub fn wait_past(&self, generation: u64, timeout: Duration) -> Arc<Snapshot> {
        let deadline = Instant::now() + timeout;
        let mut snapshot = lock(&self.shared.snapshot);
        while !(snapshot.complete && snapshot.generation > generation) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            snapshot = self
                .shared
                .updated
                .wait_timeout(snapshot, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        snapshot.clone()
    }

    fn relative(&self, path: &Path) -> Option<String> {
        if path.is_absolute() {
            index::relative_name(&self.root, path)
        } else {
            index::relative_name(Path::new(""), path)
        }
    }

    /// An editor buffer's current text.
    pub fn buffer_changed(&self, path: &Path, text: String) {
        self.buffer_changed_with(path, move || Some(text));
    }

    /// An editor buffer changed; `text` gives its text when the worker gets to it (off the caller's
    /// thread).
    pub fn buffer_changed_with(
        &self,
        path: &Path,
        text: impl FnOnce() -> Option<String> + Send + 'static,
    ) {
        if let Some(name) = self.relative(path) {
            let _ = self.commands.send(Command::Buffer(name, Box::new(text)));
        }
    }

    /// An editor buffer was closed.
    pub fn buffer_closed(&self, path: &Path) {
        if let Some(name) = self.relative(path) {
            let _ = self.commands.send(Command::Closed(name));
        }
    }

    /// Files changed on disk (absolute or relative to the workspace).
    pub fn files_changed(&self, paths: &[PathBuf]) {
        let names: Vec<String> = paths
            .iter()
            .filter_map(|path| self.relative(path))
            .collect();
        if !names.is_empty() {
            let _ = self.commands.send(Command::Changed(names));
        }
    }

    /// Look at the whole workspace again (cheap when little changed: sizes and times are compared).
    pub fn rescan(&self) {
        let _ = self.commands.send(Command::Rescan);
    }

    /// Waits (up to `patience`) until every change sent so far is in the snapshot: a turn sees the
    /// buffer the user just typed in. Returns whether it settled in time.
    pub fn settle(&self, patience: Duration) -> bool {
        let (done, settled) = std::sync::mpsc::channel();
        if self.commands.send(Command::Settle(done)).is_err() {
            return false;
        }
        settled.recv_timeout(patience).is_ok()
    }
}

/// The worker: cache, first walk, then changes as they come. The cache is written by a thread of its
/// own, so that a change never waits for a save.
fn run(root: &Path, cache: Option<PathBuf>, shared: &Arc<MapState>, commands: &Receiver<Command>) {
    let mut interner = index::Interner::default();
    let mut state = WorkerState {
        files: cache
            .as_deref()
            .and_then(|path| index::load_cache(path, &mut interner))
            .unwrap_or_default(),
        interner,
        buffers: HashMap::new(),
        capped: false,
        generation: 0,
    };
    if !state.files.is_empty() {
        state.publish(shared, false, 0, false);
    }
    let (saves, to_save) = std::sync::mpsc::channel::<Files>();
    std::thread::scope(|scope| {
        if let Some(path) = &cache {
            scope.spawn(move || {
                while let Ok(mut files) = to_save.recv() {
                    // Only the latest version is worth writing.
                    while let Ok(newer) = to_save.try_recv() {
                        files = newer;
                    }
                    if let Err(error) = index::save_cache(path, &files) {
                        tracing::warn!(
                            "cannot save the project map's cache {}: {error}",
                            path.display()
                        );
                    }
                }
            });
        }
        let parsed = state.rescan(root, &shared.stop);
        state.publish(shared, true, parsed, true);
        let _ = saves.send(state.files.clone());
        let mut last_save = Instant::now();
        let mut unsaved = false;
        loop {
            let first = match commands.recv_timeout(SAVE_INTERVAL) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    if unsaved {
                        let _ = saves.send(state.files.clone());
                        unsaved = false;
                        last_save = Instant::now();
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Take everything pending at once: a burst of keystrokes parses the buffer once.
            let mut batch = vec![first];
            batch.extend(commands.try_iter());
            let rescanned = batch
                .iter()
                .any(|command| matches!(command, Command::Rescan | Command::Changed(_)));
            let mut settled = Vec::new();
            batch.retain(|command| match command {
                Command::Settle(done) => {
                    settled.push(done.clone());
                    false
                }
                _ => true,
            });
            let parsed = state.apply(root, batch, &shared.stop);
            unsaved = true;
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            state.publish(shared, true, parsed, rescanned);
            for done in settled {
                let _ = done.send(());
            }
            if last_save.elapsed() >= SAVE_INTERVAL {
                let _ = saves.send(state.files.clone());
                unsaved = false;
                last_save = Instant::now();
            }
        }
        if unsaved {
            let _ = saves.send(state.files.clone());
        }
        // The saver ends when this sender goes, after its last write.
        drop(saves);
    });
}

struct WorkerState {
    /// What the disk holds.
    files: Files,
    /// The one copy of each name.
    interner: index::Interner,
    /// Open editor buffers, over the disk.
    buffers: HashMap<String, Arc<FileEntry>>,
    capped: bool,
    generation: u64,
}

impl WorkerState {
    fn rescan(&mut self, root: &Path, stop: &AtomicBool) -> usize {
        let walked = index::walk(root, stop);
        if stop.load(Ordering::Relaxed) {
            return 0;
        }
        let (files, parsed) =
            index::refresh(root, &walked.files, &self.files, &mut self.interner, stop);
        self.files = files;
        self.capped = walked.capped;
        self.interner.prune();
        parsed
    }

    fn apply(&mut self, root: &Path, batch: Vec<Command>, stop: &AtomicBool) -> usize {
        let mut parsed = 0;
        let mut rescan = false;
        let mut buffers: HashMap<String, BufferText> = HashMap::new();
        let mut changed: Vec<String> = Vec::new();
        for command in batch {
            match command {
                Command::Buffer(name, text) => {
                    buffers.insert(name, text);
                }
                Command::Closed(name) => {
                    buffers.remove(&name);
                    self.buffers.remove(&name);
                    changed.push(name);
                }
                Command::Changed(names) => changed.extend(names),
                Command::Rescan => rescan = true,
                Command::Settle(_) => {}
            }
        }
        for (name, fetch) in buffers {
            let Some(text) = fetch() else {
                self.buffers.remove(&name);
                changed.push(name);
                continue;
            };
            let unchanged = self
                .buffers
                .get(&name)
                .or_else(|| self.files.get(&name))
                .is_some_and(|entry| entry.hash == index::hash(text.as_bytes()));
            if !unchanged {
                parsed += 1;
                let mut entry = index::entry_for(&name, text.as_bytes(), 0);
                self.interner.intern_entry(&mut entry);
                self.buffers.insert(name, Arc::new(entry));
            }
        }
        if rescan {
            parsed += self.rescan(root, stop);
        } else if !changed.is_empty() {
            changed.sort();
            changed.dedup();
            let mut present = Vec::new();
            for name in changed {
                match std::fs::metadata(root.join(&name)) {
                    Ok(metadata) if metadata.is_file() => {
                        present.push((name, metadata.len(), index::modified_nanos(&metadata)));
                    }
                    _ => {
                        self.files.remove(&name);
                    }
                }
            }
            let (fresh, count) =
                index::refresh(root, &present, &self.files, &mut self.interner, stop);
            parsed += count;
            self.files.extend(fresh);
        }
        parsed
    }

    fn publish(
        &mut self,
        shared: &Arc<MapState>,
        complete: bool,
        parsed: usize,
        rebuild_graph: bool,
    ) {
        self.generation += 1;
        let mut files = self.files.clone();
        for (name, entry) in &self.buffers {
            files.insert(name.clone(), entry.clone());
        }
        let snapshot = Arc::new(Snapshot {
            files,
            complete,
            capped: self.capped,
            generation: self.generation,
            parsed,
            graph: OnceLock::new(),
        });
        *lock(&shared.snapshot) = snapshot.clone();
        shared.updated.notify_all();
        if rebuild_graph && !shared.building.swap(true, Ordering::AcqRel) {
            // Built beside the worker (which goes on taking changes), off the request path, after
            // walks and saved files — not after every keystroke: a turn builds it then, if it comes.
            let building = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("openbolt-map-graph".to_owned())
                .spawn(move || {
                    snapshot.graph();
                    building.building.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                shared.building.store(false, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn definitions(snapshot: &Snapshot, name: &str) -> Vec<String> {
        snapshot.files[name]
            .definitions
            .iter()
            .map(|definition| definition.name.to_string())
            .collect()
    }

    const PATIENCE: Duration = Duration::from_secs(20);

    #[test]
    fn an_edit_changes_that_files_tags_and_parses_nothing_else() {
        let workspace = tempfile::tempdir().expect("workspace");
        let data = tempfile::tempdir().expect("data");
        let root = workspace.path();
        for n in 0..20 {
            write(
                root,
                &format!("src/m{n}.js"),
                &format!("export function f{n}() {{}}\n"),
            );
        }
        let cache = ProjectMap::cache_file(data.path(), root);
        let map = ProjectMap::start(root, Some(cache.clone()));
        let first = map.wait_past(0, PATIENCE);
        assert!(first.complete);
        assert_eq!(first.parsed, 20);
        assert_eq!(definitions(&first, "src/m3.js"), ["f3"]);

        write(root, "src/m3.js", "export function renamed() {}\n");
        map.files_changed(&[root.join("src/m3.js")]);
        let second = map.wait_past(first.generation, PATIENCE);
        assert_eq!(second.parsed, 1, "only the changed file is parsed");
        assert_eq!(definitions(&second, "src/m3.js"), ["renamed"]);

        // A rescan finds nothing new: nothing is parsed.
        map.rescan();
        let third = map.wait_past(second.generation, PATIENCE);
        assert_eq!(third.parsed, 0);

        // The editor's buffer wins while it is open; closing it brings the disk back.
        map.buffer_changed(Path::new("src/m5.js"), "function typing() {}\n".into());
        let fourth = map.wait_past(third.generation, PATIENCE);
        assert_eq!(definitions(&fourth, "src/m5.js"), ["typing"]);
        map.buffer_closed(Path::new("src/m5.js"));
        let fifth = map.wait_past(fourth.generation, PATIENCE);
        assert_eq!(definitions(&fifth, "src/m5.js"), ["f5"]);

        // A restart is warm: the cache has every file, so nothing is parsed.
        drop(map);
        assert!(cache.exists());
        let again = ProjectMap::start(root, Some(cache));
        let warm = again.wait_past(0, PATIENCE);
        assert_eq!(warm.parsed, 0);
        assert_eq!(definitions(&warm, "src/m3.js"), ["renamed"]);
    }

    #[test]
    fn symlink_loops_and_unreadable_files_do_not_stop_the_map() {
        use std::os::unix::fs::PermissionsExt;
        let workspace = tempfile::tempdir().expect("workspace");
        let root = workspace.path();
        write(root, "a/ok.py", "def fine():\n    pass\n");
        std::os::unix::fs::symlink(root.join("a"), root.join("a/loop")).expect("symlink");
        write(root, "locked.py", "def hidden():\n    pass\n");
        std::fs::set_permissions(
            root.join("locked.py"),
            std::fs::Permissions::from_mode(0o000),
        )
        .expect("chmod");
        let map = ProjectMap::start(root, None);
        let snapshot = map.wait_past(0, PATIENCE);
        assert_eq!(definitions(&snapshot, "a/ok.py"), ["fine"]);
        let locked = &snapshot.files["locked.py"];
        // Root reads anything; anyone else gets a named, unmapped entry.
        assert!(
            locked.unmapped == Some(index::Unmapped::Unreadable) || locked.definitions.len() == 1
        );
    }
}
