//! Terminals: every `shell` and `start` action runs in a real PTY, through the user's shell, in the
//! workspace.
//!
//! Per terminal, a reader thread reads the PTY (reads block) into a small bounded channel; a forwarder
//! task keeps the last [`TerminalOptions::tail_bytes`] for late viewers and "fix this error" prompts,
//! and coalesces output into [`TerminalEvent::Output`] events of up to
//! [`TerminalOptions::coalesce_bytes`] or [`TerminalOptions::coalesce_window`]. Events go out on one
//! bounded channel: a consumer that reads slowly makes `send` wait, the forwarder stops taking chunks,
//! the reader thread blocks, the PTY fills and the command blocks on its writes. Memory stays bounded.
//!
//! A waiter thread waits for the command's exit (a grandchild holding the PTY open delays EOF, so EOF
//! is not the signal). The exit is reported after the output read so far, and after the PTY's EOF when
//! it comes soon.
//!
//! Stopping a terminal stops its whole process tree (see [`process`]): SIGTERM, then SIGKILL after a
//! grace period. Every terminal is stopped on [`Terminals::shutdown`], when [`Terminals`] is dropped,
//! and — without waiting — by the panic hook [`install_panic_hook`] installs.

mod output;
pub mod preview;
pub mod priority;
pub mod process;
mod pty;

use crate::lock;
use crate::sandbox::Sandbox;
use output::{Coalescer, Input};
use portable_pty::PtySize;
use preview::UrlScanner;
use pty::Pty;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub use crate::types::TerminalId;

/// What terminals report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TerminalEvent {
    /// Output, as text (UTF-8; a character split across reads is held back until it is whole).
    Output {
        terminal_id: TerminalId,
        data: String,
    },
    Exit {
        terminal_id: TerminalId,
        exit: ExitInfo,
    },
    /// A started server answers at this URL.
    Preview(Preview),
}

/// A dev server's address, once it answers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub url: String,
    pub port: u16,
    pub terminal_id: TerminalId,
}

/// How a terminal's command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code; 1 when a signal ended it.
    pub code: i32,
    /// The signal's name, when a signal ended it.
    pub signal: Option<String>,
    /// We stopped it (abort, kill, timeout, a replacing server, shutdown).
    pub stopped: bool,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == 0 && self.signal.is_none()
    }
}

/// Settings of the terminals.
#[derive(Clone, Debug)]
pub struct TerminalOptions {
    /// The shell that runs commands (`shell -c command`): `$SHELL`, else `/bin/sh`.
    pub shell: String,
    pub cols: u16,
    pub rows: u16,
    /// How much output each terminal keeps.
    pub tail_bytes: usize,
    /// Output waits at most this long to be sent, so that it goes out in fewer, larger events…
    pub coalesce_window: Duration,
    /// …and is sent at once when this much has gathered.
    pub coalesce_bytes: usize,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Look for a started server's URL and report it once it answers.
    pub detect_previews: bool,
}

impl Default for TerminalOptions {
    fn default() -> TerminalOptions {
        TerminalOptions {
            shell: std::env::var("SHELL")
                .ok()
                .filter(|shell| !shell.trim().is_empty())
                .unwrap_or_else(|| "/bin/sh".to_owned()),
            cols: 120,
            rows: 30,
            tail_bytes: 64 << 10,
            coalesce_window: Duration::from_millis(8),
            coalesce_bytes: 32 << 10,
            kill_grace: Duration::from_secs(2),
            detect_previews: true,
        }
    }
}

/// Why a terminal is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A command that runs to its exit.
    Shell,
    /// A dev server: it keeps running, and its preview is detected.
    Start,
}

/// A terminal as a list shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalInfo {
    pub terminal_id: TerminalId,
    pub command: String,
    pub owner: String,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// A failure to reach or start a terminal.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("no terminal {0}")]
    Unknown(TerminalId),
    #[error("terminal {0} has exited")]
    Exited(TerminalId),
    #[error("cannot start `{command}` in a terminal: {reason}")]
    Spawn { command: String, reason: String },
    #[error("terminal {id}: {reason}")]
    Io { id: TerminalId, reason: String },
}

/// A started terminal.
#[derive(Debug)]
pub struct Spawned {
    pub id: TerminalId,
    /// `Some` once the command has exited and its output has been sent.
    pub exit: watch::Receiver<Option<ExitInfo>>,
}

impl Spawned {
    /// Waits for the exit.
    pub async fn exited(&mut self) -> ExitInfo {
        loop {
            if let Some(exit) = self.exit.borrow_and_update().clone() {
                return exit;
            }
            if self.exit.changed().await.is_err() {
                return self.exit.borrow().clone().unwrap_or(ExitInfo {
                    code: 1,
                    signal: None,
                    stopped: true,
                });
            }
        }
    }
}

/// The leaders of every terminal not yet known to be over, for the panic hook.
static LIVE_LEADERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live_leaders() -> MutexGuard<'static, BTreeSet<i32>> {
    crate::lock(&LIVE_LEADERS)
}

/// Makes a panic anywhere stop every process the terminals started (SIGKILL, no grace) before the
/// usual panic report.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let leaders: Vec<i32> = live_leaders().iter().copied().collect();
        process::kill_now(&leaders);
        previous(info);
    }));
}

/// Every terminal of the server.
#[derive(Clone, Debug)]
pub struct Terminals {
    shared: Arc<TerminalsInner>,
}

/// What every copy of a `Terminals` handle shares.
#[derive(Debug)]
struct TerminalsInner {
    options: TerminalOptions,
    /// Commands start in this sandbox (`None`: unrestricted); settings may change it.
    sandbox: Mutex<Option<Sandbox>>,
    events: mpsc::Sender<TerminalEvent>,
    next_id: AtomicU64,
    terminals: Mutex<BTreeMap<TerminalId, Arc<Terminal>>>,
}

/// The last `Terminals` went without [`Terminals::shutdown`]: what still runs is stopped with grace
/// before the drop returns — on a runtime's worker, with the worker's other tasks handed on meanwhile.
impl Drop for TerminalsInner {
    fn drop(&mut self) {
        let leaders: Vec<i32> = lock(&self.terminals)
            .values()
            .filter(|terminal| !terminal.over.load(Ordering::Acquire))
            .map(|terminal| terminal.leader)
            .collect();
        if !leaders.is_empty() {
            crate::blocking(|| process::stop_all(&leaders, self.options.kill_grace));
        }
    }
}

struct Terminal {
    id: TerminalId,
    command: String,
    owner: String,
    leader: i32,
    is_start: bool,
    /// The PTY's master side and our writer to it: given back (closed) once nothing holds the PTY's
    /// other side any more, so finished terminals keep no file descriptors.
    pty: Mutex<Option<Pty>>,
    /// Writes wait here in the order they were asked for (tokio's mutex is first come, first served):
    /// keystrokes must not overtake each other on the blocking pool.
    input_order: tokio::sync::Mutex<()>,
    tail: Mutex<VecDeque<u8>>,
    tail_bytes: usize,
    exit: watch::Sender<Option<ExitInfo>>,
    /// A dev server's preview URL, once it answers there.
    preview: watch::Sender<Option<String>>,
    /// We asked it to stop.
    stopping: AtomicBool,
    /// Its leader has exited and no process of its session is left: never signal its pid again (the
    /// number may be reused).
    over: AtomicBool,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Terminal")
            .field("id", &self.id)
            .field("command", &self.command)
            .field("leader", &self.leader)
            .finish_non_exhaustive()
    }
}

impl Terminals {
    /// Terminals whose events go to `events`.
    pub fn new(options: TerminalOptions, events: mpsc::Sender<TerminalEvent>) -> Terminals {
        Terminals {
            shared: Arc::new(TerminalsInner {
                options,
                sandbox: Mutex::new(None),
                events,
                next_id: AtomicU64::new(1),
                terminals: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn options(&self) -> &TerminalOptions {
        &self.shared.options
    }

    /// Starts later commands in `sandbox` (`None`: unrestricted).
    pub fn set_sandbox(&self, sandbox: Option<Sandbox>) {
        *lock(&self.shared.sandbox) = sandbox;
    }

    /// The sandbox commands start in.
    pub fn sandbox(&self) -> Option<Sandbox> {
        lock(&self.shared.sandbox).clone()
    }

    /// Starts `command` in a new terminal in `cwd`, on behalf of `owner` (a session).
    pub fn spawn(
        &self,
        owner: &str,
        command: &str,
        cwd: &Path,
        purpose: Purpose,
    ) -> Result<Spawned, TerminalError> {
        let options = &self.shared.options;
        let spawn_error = |reason: String| TerminalError::Spawn {
            command: command.to_owned(),
            reason,
        };
        // Started from a thread of normal priority: the user's command does not inherit a worker's.
        let (start_options, sandbox, line, directory) = (
            options.clone(),
            self.sandbox(),
            command.to_owned(),
            cwd.to_path_buf(),
        );
        let pty::Started {
            child,
            pty,
            reader,
            leader,
        } = priority::at_normal_priority(move || {
            pty::start(&start_options, sandbox.as_ref(), &line, &directory)
        })
        .map_err(spawn_error)?;
        live_leaders().insert(leader);
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (exit_sender, exit_receiver) = watch::channel(None);
        let terminal = Arc::new(Terminal {
            id,
            command: command.to_owned(),
            owner: owner.to_owned(),
            leader,
            is_start: purpose == Purpose::Start,
            pty: Mutex::new(Some(pty)),
            input_order: tokio::sync::Mutex::new(()),
            tail: Mutex::new(VecDeque::new()),
            tail_bytes: options.tail_bytes,
            exit: exit_sender,
            preview: watch::Sender::new(None),
            stopping: AtomicBool::new(false),
            over: AtomicBool::new(false),
        });
        {
            let mut terminals = lock(&self.shared.terminals);
            forget_finished(&mut terminals);
            terminals.insert(id, terminal.clone());
        }

        // Reader thread → bounded channel: when the forwarder is behind, the thread blocks.
        let (chunks_sender, chunks) = mpsc::channel::<Vec<u8>>(4);
        pty::spawn_thread(format!("pty-read-{id}"), move || {
            pty::read(reader, &chunks_sender);
        });
        let (exited_sender, exited) = oneshot::channel();
        pty::spawn_thread(format!("pty-wait-{id}"), move || {
            let _ = exited_sender.send(pty::wait(child));
        });

        let (urls_sender, urls) = watch::channel(None);
        if purpose == Purpose::Start && options.detect_previews {
            tokio::spawn(preview::watch(
                id,
                leader,
                terminal.exit.subscribe(),
                terminal.preview.clone(),
                urls,
                self.shared.events.clone(),
            ));
        }
        tokio::spawn(forward(
            terminal,
            chunks,
            exited,
            self.shared.events.clone(),
            options.clone(),
            urls_sender,
        ));
        Ok(Spawned {
            id,
            exit: exit_receiver,
        })
    }

    fn get(&self, id: TerminalId) -> Result<Arc<Terminal>, TerminalError> {
        lock(&self.shared.terminals)
            .get(&id)
            .cloned()
            .ok_or(TerminalError::Unknown(id))
    }

    /// Types into a terminal.
    pub async fn write(&self, id: TerminalId, data: &[u8]) -> Result<(), TerminalError> {
        let terminal = self.get(id)?;
        if terminal.exit.borrow().is_some() {
            return Err(TerminalError::Exited(id));
        }
        let data = data.to_vec();
        let _turn = terminal.input_order.lock().await;
        // A full PTY input buffer blocks the write: keep it off the async threads.
        let writing = Arc::clone(&terminal);
        tokio::task::spawn_blocking(move || {
            let mut pty = lock(&writing.pty);
            let Some(pty) = pty.as_mut() else {
                return Err(std::io::Error::other("the terminal has exited"));
            };
            pty.writer
                .write_all(&data)
                .and_then(|()| pty.writer.flush())
        })
        .await
        .map_err(|error| TerminalError::Io {
            id,
            reason: error.to_string(),
        })?
        .map_err(|error| TerminalError::Io {
            id,
            reason: error.to_string(),
        })
    }

    /// Sets a terminal's size; its command gets SIGWINCH.
    pub fn resize(&self, id: TerminalId, cols: u16, rows: u16) -> Result<(), TerminalError> {
        if cols == 0 || rows == 0 {
            return Err(TerminalError::Io {
                id,
                reason: format!("a terminal cannot be {cols}×{rows}"),
            });
        }
        let terminal = self.get(id)?;
        let pty = lock(&terminal.pty);
        let Some(pty) = pty.as_ref() else {
            return Err(TerminalError::Exited(id));
        };
        pty.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|error| TerminalError::Io {
                id,
                reason: error.to_string(),
            })
    }

    /// The last output of a terminal, as it was sent (escape sequences included).
    pub fn tail(&self, id: TerminalId) -> Result<String, TerminalError> {
        let terminal = self.get(id)?;
        let tail = lock(&terminal.tail);
        let (front, back) = tail.as_slices();
        Ok(String::from_utf8_lossy(&[front, back].concat()).into_owned())
    }

    /// A dev server's preview URL, if it has answered there.
    pub fn answered_preview(&self, id: TerminalId) -> Option<String> {
        self.get(id).ok()?.preview.borrow().clone()
    }

    /// A dev server's preview URL once it answers there, waiting up to `wait` for it; `None` when it
    /// does not answer by then, or has ended.
    pub async fn preview(&self, id: TerminalId, wait: Duration) -> Option<String> {
        let terminal = self.get(id).ok()?;
        let mut preview = terminal.preview.subscribe();
        let mut exit = terminal.exit.subscribe();
        let found = tokio::time::timeout(wait, async {
            loop {
                if let Some(url) = preview.borrow_and_update().clone() {
                    return Some(url);
                }
                if exit.borrow_and_update().is_some() {
                    return None;
                }
                tokio::select! {
                    changed = preview.changed() => changed.ok()?,
                    changed = exit.changed() => changed.ok()?,
                }
            }
        })
        .await;
        found.ok().flatten()
    }

    /// The directory a terminal's command runs in now (its leader's: `cd app && exec …` is in `app`).
    pub fn directory(&self, id: TerminalId) -> Option<std::path::PathBuf> {
        let terminal = self.get(id).ok()?;
        std::fs::read_link(format!("/proc/{}/cwd", terminal.leader)).ok()
    }

    /// Every terminal, oldest first.
    pub fn list(&self) -> Vec<TerminalInfo> {
        lock(&self.shared.terminals)
            .values()
            .map(|terminal| {
                let exit = terminal.exit.borrow().clone();
                TerminalInfo {
                    terminal_id: terminal.id,
                    command: terminal.command.clone(),
                    owner: terminal.owner.clone(),
                    running: exit.is_none(),
                    exit_code: exit.map(|exit| exit.code),
                }
            })
            .collect()
    }

    /// Stops one terminal's processes (SIGTERM, SIGKILL after the grace period).
    pub async fn kill(&self, id: TerminalId) -> Result<(), TerminalError> {
        let terminal = self.get(id)?;
        let mut exit = terminal.exit.subscribe();
        self.stop(vec![terminal]).await;
        // Its end (output drained) is reported before this returns, so whoever stopped it reports
        // after its terminal does.
        let _ = tokio::time::timeout(EXIT_REPORT_AFTER_KILL, exit.wait_for(Option::is_some)).await;
        Ok(())
    }

    /// Stops every terminal of `owner`; with `only_start`, only its dev servers.
    pub async fn stop_owner(&self, owner: &str, only_start: bool) {
        let terminals: Vec<Arc<Terminal>> = lock(&self.shared.terminals)
            .values()
            .filter(|terminal| terminal.owner == owner && (!only_start || terminal.is_start))
            .cloned()
            .collect();
        self.stop(terminals).await;
    }

    /// Stops every terminal and waits until their processes are gone.
    pub async fn shutdown(&self) {
        let terminals: Vec<Arc<Terminal>> =
            lock(&self.shared.terminals).values().cloned().collect();
        self.stop(terminals).await;
    }

    async fn stop(&self, terminals: Vec<Arc<Terminal>>) {
        let terminals: Vec<Arc<Terminal>> = terminals
            .into_iter()
            .filter(|terminal| !terminal.over.load(Ordering::Acquire))
            .collect();
        if terminals.is_empty() {
            return;
        }
        for terminal in &terminals {
            terminal.stopping.store(true, Ordering::Release);
        }
        let leaders: Vec<i32> = terminals.iter().map(|terminal| terminal.leader).collect();
        let grace = self.shared.options.kill_grace;
        let _ = tokio::task::spawn_blocking(move || process::stop_all(&leaders, grace)).await;
        for terminal in &terminals {
            mark_over_if_empty(terminal);
        }
    }
}

/// How long a killed terminal may take to report its end before [`Terminals::kill`] returns anyway.
const EXIT_REPORT_AFTER_KILL: Duration = Duration::from_secs(2);

/// How long after the command's exit the PTY's EOF is awaited before the exit is reported anyway
/// (a background process may hold the PTY open for as long as it lives).
const EOF_AFTER_EXIT: Duration = Duration::from_millis(100);

/// Moves a terminal's output to the events (coalesced by the [`Coalescer`]), keeps its tail, scans it
/// for a preview URL, and reports its exit after the output.
async fn forward(
    terminal: Arc<Terminal>,
    mut chunks: mpsc::Receiver<Vec<u8>>,
    mut exited: oneshot::Receiver<ExitInfo>,
    events: mpsc::Sender<TerminalEvent>,
    options: TerminalOptions,
    urls: watch::Sender<Option<(String, u16)>>,
) {
    let mut coalescer = Coalescer::new(
        options.coalesce_window,
        options.coalesce_bytes,
        EOF_AFTER_EXIT,
    );
    let mut scanner = UrlScanner::default();
    // Known secrets never leave the terminal: not to the editor, the tail the model is shown, the log.
    let mut redaction = crate::secrets::values::Stream::default();
    let mut release_held: Option<Instant> = None;
    let far = || Instant::now() + Duration::from_secs(86_400);
    while !coalescer.done() {
        let deadline = coalescer.deadline();
        let input = tokio::select! {
            // Nothing more came to say whether the end held back is a secret: it is not one.
            () = tokio::time::sleep_until(release_held.unwrap_or_else(far)), if release_held.is_some() => {
                release_held = None;
                let rest = redaction.finish();
                push_tail(&terminal, &rest);
                Input::Chunk(rest)
            },
            chunk = chunks.recv(), if coalescer.wants_chunks() => match chunk {
                Some(bytes) => {
                    let bytes = redaction.feed(&bytes);
                    release_held = redaction
                        .holding()
                        .then(|| Instant::now() + crate::secrets::values::HOLD_AT_MOST);
                    push_tail(&terminal, &bytes);
                    Input::Chunk(bytes)
                }
                // What was held back as a possible secret's start goes out before the end (the closed
                // channel says `None` again next time).
                None => match redaction.finish() {
                    rest if rest.is_empty() => Input::Eof,
                    rest => {
                        push_tail(&terminal, &rest);
                        Input::Chunk(rest)
                    }
                },
            },
            status = &mut exited, if coalescer.wants_exit() => {
                Input::Exited(status.unwrap_or(ExitInfo { code: 1, signal: None, stopped: false }))
            },
            () = tokio::time::sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => Input::Timer,
        };
        let output = coalescer.step(input, Instant::now());
        if let Some(text) = output.text {
            if let Some(found) = scanner.feed(&text)
                && urls.borrow().is_none()
            {
                let _ = urls.send(Some(found));
            }
            // Nobody may listen any more; output is still drained so that the command is not blocked.
            let _ = events
                .send(TerminalEvent::Output {
                    terminal_id: terminal.id,
                    data: text,
                })
                .await;
        }
        if let Some(mut exit) = output.report {
            exit.stopped = terminal.stopping.load(Ordering::Acquire);
            if !coalescer.wants_chunks() {
                // No process holds the PTY any more: give its descriptors back.
                lock(&terminal.pty).take();
            }
            // The state first, so that whoever sees the event finds the terminal exited.
            terminal.exit.send_replace(Some(exit.clone()));
            let _ = events
                .send(TerminalEvent::Exit {
                    terminal_id: terminal.id,
                    exit,
                })
                .await;
            let checked = terminal.clone();
            let _ = tokio::task::spawn_blocking(move || mark_over_if_empty(&checked)).await;
        }
    }
}

fn push_tail(terminal: &Terminal, bytes: &[u8]) {
    let mut tail = lock(&terminal.tail);
    let keep = terminal.tail_bytes;
    if bytes.len() >= keep {
        tail.clear();
        tail.extend(&bytes[bytes.len() - keep..]);
    } else {
        let excess = (tail.len() + bytes.len()).saturating_sub(keep);
        tail.drain(..excess);
        tail.extend(bytes);
    }
}

fn mark_over_if_empty(terminal: &Terminal) {
    if terminal.exit.borrow().is_none() {
        return;
    }
    if process::members(&process::all_processes(), &[terminal.leader]).is_empty() {
        terminal.over.store(true, Ordering::Release);
        live_leaders().remove(&terminal.leader);
        lock(&terminal.pty).take();
    }
}

/// How many finished terminals are kept (with their output's tail) for late viewers.
const FINISHED_KEPT: usize = 32;

/// Forgets the oldest finished terminals beyond [`FINISHED_KEPT`], so that a long session's memory stays
/// level. A terminal whose processes may still run is never forgotten.
fn forget_finished(terminals: &mut BTreeMap<TerminalId, Arc<Terminal>>) {
    let finished: Vec<TerminalId> = terminals
        .values()
        .filter(|terminal| terminal.over.load(Ordering::Acquire))
        .map(|terminal| terminal.id)
        .collect();
    for id in finished
        .iter()
        .take(finished.len().saturating_sub(FINISHED_KEPT))
    {
        terminals.remove(id);
    }
}
