//! The page check's browser: a headless Chromium or Chrome, one per process, started on the first check
//! and driven through the DevTools protocol over a pipe (`browser/cdp.rs`, a small client of our own:
//! the few commands a check needs do not justify a generated binding of the whole protocol and a
//! WebSocket stack, and a pipe opens no port that other local processes could drive).
//!
//! The browser is found on `PATH` ([`NAMES`]) or named by the `browserPath` setting ([`find`]); none
//! found means no page check, said once, never an error. Its profile lives in OpenBolt's data directory
//! (a snap-packaged Chromium cannot see a private `/tmp`). It runs as a session of its own, whose members
//! are killed as a terminal's are (`terminal::process`) with the server: at exit ([`Browser::kill_now`]), and — through a parent-death signal the helper asks
//! for (`browser/launch.rs`) — when the server is killed outright. It is closed once no dev server is
//! left to check ([`Browser::close`]).
//!
//! A check ([`Browser::check`], `browser/page.rs`) opens the preview in a fresh browser context, waits
//! for it to settle (loaded, then the network quiet) within [`CHECK_BOUND`], and reports uncaught
//! exceptions, unhandled rejections, `console.error`, failed same-origin requests and a blank page.

pub mod cdp;
pub mod launch;
pub mod page;
pub mod sourcemap;

use crate::terminal::process;
use crate::types::{Capture, ImageFormat, PageCheck, Screenshot};
use cdp::Cdp;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The browsers looked for on `PATH`, in order.
pub const NAMES: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "chrome"];

/// A check takes at most this long from its start to its verdict, browser start included.
pub const CHECK_BOUND: Duration = Duration::from_secs(10);

/// A browser that has checked nothing for this long is closed: its memory (≈ 400 MiB) goes back, and the
/// next check starts it again (≈ 0.3 s more). `OPENBOLT_BROWSER_IDLE_MS` sets it (the tests).
pub const IDLE_CLOSE: Duration = Duration::from_secs(300);

fn idle_close() -> Duration {
    std::env::var("OPENBOLT_BROWSER_IDLE_MS")
        .ok()
        .and_then(|millis| millis.trim().parse().ok())
        .map_or(IDLE_CLOSE, Duration::from_millis)
}

/// Whether turns check their previews, and with which browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageChecks {
    /// `previewCheck: off`.
    Off,
    /// Checked with this browser; its profile lives beneath `profile`; the settled pages' screenshots
    /// are kept beneath `screenshots` (`None`: `previewScreenshots: off`).
    With {
        program: PathBuf,
        profile: PathBuf,
        screenshots: Option<PathBuf>,
    },
    /// No browser was found (why, for the user): previews are not checked.
    Missing(String),
}

impl PageChecks {
    /// What the user is told once (the server log, `openbolt chat`'s header), and whether it is a
    /// warning (no browser found).
    pub fn describe(&self) -> (bool, String) {
        match self {
            PageChecks::With {
                program,
                screenshots,
                ..
            } => (
                false,
                format!(
                    "previews are checked in {}{}",
                    program.display(),
                    if screenshots.is_some() {
                        ""
                    } else {
                        " (no screenshots: previewScreenshots is off)"
                    }
                ),
            ),
            PageChecks::Off => (
                false,
                "previews are not checked in a browser (previewCheck: off)".to_owned(),
            ),
            PageChecks::Missing(why) => (true, why.clone()),
        }
    }
}

/// How the settled page is pictured: JPEG at 80 keeps a 1280×713 app screen at ≈ 63 KB, taken in ≈ 34 ms,
/// where PNG takes ≈ 91 KB and 58 ms; its text stays legible to the user and to models
/// (`bench/screenshots.py`).
pub const SCREENSHOT: ImageFormat = ImageFormat::Jpeg(80);

/// Keeps `capture` at `path` (its directory made as needed, readable by the user alone: a page may show
/// what only they should see), written whole or not at all.
pub fn keep(capture: &Capture, path: &Path) -> std::io::Result<Screenshot> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(directory) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)?;
    }
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(&capture.data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)?;
    Ok(Screenshot {
        path: path.display().to_string(),
        media_type: capture.format.media_type().to_owned(),
        width: capture.width,
        height: capture.height,
        bytes: capture.data.len() as u64,
        millis: capture.millis,
    })
}

/// How many screenshots the data directory keeps (≈ 30 MB of app screens): the oldest go first, and a
/// verdict whose file is gone shows without its picture.
pub const KEPT_SCREENSHOTS: usize = 500;

/// Keeps the newest `keep` screenshots beneath `root` (`<session>/<file>`), removing older files and the
/// folders they leave empty; returns how many went.
pub fn prune(root: &Path, keep: usize) -> usize {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|session| session.file_type().is_ok_and(|kind| kind.is_dir()))
        .flat_map(|session| {
            std::fs::read_dir(session.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter_map(|file| {
            let metadata = file.metadata().ok()?;
            metadata.is_file().then(|| {
                (
                    metadata.modified().unwrap_or(std::time::UNIX_EPOCH),
                    file.path(),
                )
            })
        })
        .collect();
    if files.len() <= keep {
        return 0;
    }
    files.sort();
    let excess = files.len() - keep;
    let mut removed = 0;
    for (_, path) in files.into_iter().take(excess) {
        if std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
        if let Some(folder) = path.parent() {
            // Only an empty folder goes.
            let _ = std::fs::remove_dir(folder);
        }
    }
    removed
}

/// The browser the `browserPath` setting names (it must be there), else the first of [`NAMES`] on
/// `path` (the `PATH` variable).
pub fn find(setting: Option<&Path>, path: Option<&OsStr>) -> Result<PathBuf, String> {
    if let Some(program) = setting {
        let found = if program.components().count() > 1 {
            Some(program.to_path_buf()).filter(|program| is_executable(program))
        } else {
            search(program.as_os_str(), path)
        };
        return found.ok_or_else(|| {
            format!(
                "the browserPath setting names {}, which is not an executable file: previews are not checked",
                program.display()
            )
        });
    }
    NAMES
        .iter()
        .find_map(|name| search(OsStr::new(name), path))
        .ok_or_else(|| {
            format!(
                "no browser found on PATH ({}): previews are not checked in a browser; install Chromium or set browserPath",
                NAMES.join(", ")
            )
        })
}

fn search(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|directory| directory.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// The process's browser.
#[derive(Default)]
pub struct Browser {
    running: tokio::sync::Mutex<Option<Running>>,
    /// The running browser's pid, which leads its session (the helper calls `setsid`): what
    /// [`Browser::kill_now`] kills with its members (it cannot wait for a lock).
    group: std::sync::Mutex<Option<i32>>,
    /// Checks begun, and checks under way: an idle close happens only if neither changed.
    begun: std::sync::atomic::AtomicU64,
    under_way: std::sync::atomic::AtomicUsize,
}

/// Counts a check as under way while it lives.
struct UnderWay<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for UnderWay<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Browser")
            .field("group", &*crate::lock(&self.group))
            .finish_non_exhaustive()
    }
}

struct Running {
    program: PathBuf,
    cdp: Arc<Cdp>,
    pid: i32,
}

/// The process's one browser.
pub fn shared() -> &'static Browser {
    static BROWSER: std::sync::OnceLock<Browser> = std::sync::OnceLock::new();
    BROWSER.get_or_init(Browser::default)
}

impl Browser {
    /// Loads `url` in `program` (started now if it is not running; a different program replaces the
    /// running one) and says what the page did wrong, within [`CHECK_BOUND`]. Frames are shown as files
    /// of the workspace (`roots`).
    pub async fn check(
        &self,
        program: &Path,
        profile: &Path,
        url: &str,
        roots: page::Roots<'_>,
        screenshot: Option<crate::types::ImageFormat>,
    ) -> PageCheck {
        use std::sync::atomic::Ordering;
        self.begun.fetch_add(1, Ordering::AcqRel);
        self.under_way.fetch_add(1, Ordering::AcqRel);
        let _under_way = UnderWay(&self.under_way);
        let started = Instant::now();
        let deadline = started + CHECK_BOUND;
        let mut verdict = PageCheck {
            url: url.to_owned(),
            ..PageCheck::default()
        };
        let cdp = match tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline),
            self.connection(program, profile),
        )
        .await
        {
            Ok(Ok(cdp)) => cdp,
            Ok(Err(error)) => {
                verdict.error = Some(error);
                verdict.millis = elapsed(started);
                return verdict;
            }
            Err(_) => {
                verdict.error = Some("the browser did not start in time".to_owned());
                verdict.millis = elapsed(started);
                return verdict;
            }
        };
        // The check's own steps end by the deadline; the margin covers answers in flight at that time.
        let checked = tokio::time::timeout(
            CHECK_BOUND,
            page::check(&cdp, url, roots, deadline, screenshot),
        )
        .await;
        match checked {
            Ok(Ok(found)) => {
                verdict.problems = found.problems;
                verdict.settled = found.settled;
                verdict.capture = found.capture;
            }
            Ok(Err(error)) => verdict.error = Some(error),
            Err(_) => verdict.error = Some("the browser stopped answering".to_owned()),
        }
        verdict.millis = elapsed(started);
        verdict
    }

    /// The running browser's connection, or a new browser's.
    async fn connection(&self, program: &Path, profile: &Path) -> Result<Arc<Cdp>, String> {
        let mut running = self.running.lock().await;
        if let Some(current) = running.as_ref()
            && (current.cdp.is_closed() || current.program != program)
        {
            let gone = running.take();
            if let Some(gone) = gone {
                self.stop(gone.pid);
            }
        }
        if let Some(current) = running.as_ref() {
            return Ok(current.cdp.clone());
        }
        let (pid, cdp) = start(program, profile)?;
        *crate::lock(&self.group) = Some(pid);
        let version = cdp
            .call(None, "Browser.getVersion", serde_json::json!({}))
            .await;
        match version {
            Ok(version) => tracing::info!(
                browser = %program.display(),
                product = version["product"].as_str().unwrap_or(""),
                "the page check's browser started"
            ),
            Err(error) => {
                self.stop(pid);
                return Err(format!(
                    "{} did not answer the DevTools protocol: {error} (its log: {})",
                    program.display(),
                    log_path(profile).display()
                ));
            }
        }
        let cdp = Arc::new(cdp);
        *running = Some(Running {
            program: program.to_path_buf(),
            cdp: cdp.clone(),
            pid,
        });
        Ok(cdp)
    }

    /// Closes the browser once it has checked nothing for [`IDLE_CLOSE`] from now (called after a
    /// turn's checks).
    pub fn close_when_idle(&'static self) {
        use std::sync::atomic::Ordering;
        let begun = self.begun.load(Ordering::Acquire);
        let idle = idle_close();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(idle).await;
            if self.begun.load(Ordering::Acquire) == begun
                && self.under_way.load(Ordering::Acquire) == 0
                && self.is_running()
            {
                tracing::info!("the page check's browser is idle: closed");
                self.close().await;
            }
        });
    }

    /// Closes the browser if it runs (no dev server is left to check).
    pub async fn close(&self) {
        let running = self.running.lock().await.take();
        if let Some(running) = running {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                running
                    .cdp
                    .call(None, "Browser.close", serde_json::json!({})),
            )
            .await;
            self.stop(running.pid);
        }
    }

    /// Kills the browser's processes at once (the process is ending).
    pub fn kill_now(&self) {
        if let Some(leader) = crate::lock(&self.group).take() {
            process::kill_now(&[leader]);
        }
    }

    /// Whether a browser runs.
    pub fn is_running(&self) -> bool {
        crate::lock(&self.group).is_some()
    }

    /// The proportional memory of the browser's processes (its session, groups and descendants), in KiB.
    pub fn memory_kb(&self) -> u64 {
        let Some(leader) = *crate::lock(&self.group) else {
            return 0;
        };
        process::members(&process::all_processes(), &[leader])
            .into_iter()
            .filter_map(|pid| u32::try_from(pid).ok())
            .map(pss_kb)
            .sum()
    }

    fn stop(&self, pid: i32) {
        let mut group = crate::lock(&self.group);
        if *group == Some(pid) {
            *group = None;
        }
        process::kill_now(&[pid]);
    }
}

/// A process's proportional set size (its share of shared pages), in KiB; 0 when unknown.
pub fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| {
            rollup
                .lines()
                .find_map(|line| line.strip_prefix("Pss:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn elapsed(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The browser's stderr, beside its profile.
pub fn log_path(profile: &Path) -> PathBuf {
    profile.with_extension("log")
}

/// The arguments of a headless browser driven over its pipe, with its profile in `profile`.
fn arguments(profile: &Path) -> Vec<std::ffi::OsString> {
    let mut arguments: Vec<std::ffi::OsString> = [
        "--headless",
        "--remote-debugging-pipe",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--mute-audio",
        "--hide-scrollbars",
        "--window-size=1280,800",
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    // Chromium refuses its own sandbox to root; everyone else keeps it.
    if rustix::process::geteuid().is_root() {
        arguments.push("--no-sandbox".into());
    }
    let mut profile_argument = std::ffi::OsString::from("--user-data-dir=");
    profile_argument.push(profile);
    arguments.push(profile_argument);
    arguments.push("about:blank".into());
    arguments
}

/// Starts the browser through the helper, from a thread that lives as long as it (its death signal
/// follows that thread), and connects to it.
fn start(program: &Path, profile: &Path) -> Result<(i32, Cdp), String> {
    let openbolt =
        std::env::current_exe().map_err(|error| format!("cannot find openbolt: {error}"))?;
    let helper = crate::sandbox::helper(&openbolt);
    std::fs::create_dir_all(profile).map_err(|error| {
        format!(
            "cannot make the browser's profile {}: {error}",
            profile.display()
        )
    })?;
    let log = std::fs::File::create(log_path(profile))
        .map_err(|error| format!("cannot write the browser's log: {error}"))?;
    let (commands_read, commands_write) =
        std::io::pipe().map_err(|error| format!("cannot make a pipe: {error}"))?;
    let (answers_read, answers_write) =
        std::io::pipe().map_err(|error| format!("cannot make a pipe: {error}"))?;
    let mut command = std::process::Command::new(&helper.program);
    command.arg(if helper.subcommand {
        "browser-exec"
    } else {
        "--browser"
    });
    command
        .arg("--")
        .arg(program)
        .args(arguments(profile))
        .stdin(commands_read)
        .stdout(answers_write)
        .stderr(log);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("openbolt-browser".to_owned())
        .spawn(move || {
            let spawned = command.spawn();
            // Our copies of the browser's ends close here, so its exit ends our reads.
            drop(command);
            match spawned {
                Ok(mut child) => {
                    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
                    let _ = sender.send(Ok(pid));
                    let _ = child.wait();
                }
                Err(error) => {
                    let _ = sender.send(Err(error));
                }
            }
        })
        .map_err(|error| format!("cannot start a thread: {error}"))?;
    let pid = receiver
        .recv()
        .map_err(|_| "the browser's thread ended".to_owned())?
        .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
    Ok((pid, Cdp::new(commands_write, answers_read)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(directory: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = directory.join(name);
        std::fs::write(&path, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn a_screenshot_is_kept_for_the_user_alone_and_the_oldest_go_beyond_the_limit() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("dir");
        let capture = Capture {
            data: vec![0xff, 0xd8, 0xff, 0xe0],
            format: SCREENSHOT,
            width: 1280,
            height: 713,
            millis: 40,
        };
        let mut kept = Vec::new();
        for (session, turn) in [("s1", "m1"), ("s1", "m2"), ("s2", "m3"), ("s2", "m4")] {
            let path = root.path().join(session).join(format!("{turn}-1.jpg"));
            let shot = keep(&capture, &path).expect("kept");
            assert_eq!((shot.bytes, shot.media_type.as_str()), (4, "image/jpeg"));
            // Older by a second each (the file system's clock may be coarse).
            let age = std::time::SystemTime::now() - Duration::from_secs(10 - kept.len() as u64);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(age))
                .expect("mtime");
            kept.push(path);
        }
        let mode =
            |path: &Path| std::fs::metadata(path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&kept[0]), 0o600);
        assert_eq!(mode(&root.path().join("s1")), 0o700);
        assert!(!root.path().join("s1/m1-1.partial").exists());
        assert_eq!(prune(root.path(), 4), 0);
        assert_eq!(prune(root.path(), 1), 3);
        assert!(kept[3].exists());
        assert!(!kept[0].exists() && !kept[2].exists());
        // A session left with no screenshot loses its folder.
        assert!(!root.path().join("s1").exists());
    }

    #[test]
    fn the_setting_wins_then_path_in_order() {
        let first = tempfile::tempdir().expect("dir");
        let second = tempfile::tempdir().expect("dir");
        let chrome = executable(second.path(), "google-chrome");
        let chromium = executable(first.path(), "chromium-browser");
        // Not executable: passed over.
        std::fs::write(first.path().join("chromium"), "").expect("write");
        let path = std::env::join_paths([first.path(), second.path()]).expect("path");
        assert_eq!(find(None, Some(&path)), Ok(chromium));
        assert_eq!(find(Some(&chrome), Some(&path)), Ok(chrome.clone()));
        assert_eq!(
            find(Some(Path::new("google-chrome")), Some(&path)),
            Ok(chrome)
        );
        let missing = find(Some(Path::new("/nowhere/chrome")), Some(&path)).expect_err("missing");
        assert!(missing.contains("/nowhere/chrome"), "{missing}");
        let none = find(None, Some(OsStr::new("/nowhere"))).expect_err("none");
        assert!(none.contains("no browser found on PATH"), "{none}");
    }
}
