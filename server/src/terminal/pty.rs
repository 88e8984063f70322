//! Starting a command in a PTY (portable-pty), reading it, and waiting for its exit: the parts of a
//! terminal that block, each on a thread of its own.

use super::{ExitInfo, TerminalOptions};
use crate::sandbox::Sandbox;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::path::Path;
use tokio::sync::mpsc;

/// A PTY's master side and our writer to it.
pub(super) struct Pty {
    pub master: Box<dyn MasterPty + Send>,
    pub writer: Box<dyn Write + Send>,
}

/// A command started in a PTY.
pub(super) struct Started {
    pub child: Box<dyn Child + Send + Sync>,
    pub pty: Pty,
    /// Reads the PTY's output (a descriptor of its own).
    pub reader: Box<dyn Read + Send>,
    /// The process id of the shell running the command.
    pub leader: i32,
}

/// Starts `shell -c command` in `cwd` in a new PTY — in `sandbox` when there is one — without our
/// providers' keys in its environment.
pub(super) fn start(
    options: &TerminalOptions,
    sandbox: Option<&Sandbox>,
    command: &str,
    cwd: &Path,
) -> Result<Started, String> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: options.rows,
            cols: options.cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|error| format!("no PTY: {error}"))?;
    let mut builder = match sandbox {
        Some(sandbox) => {
            let line = sandbox.command_line(cwd, &options.shell, command);
            let mut builder = CommandBuilder::new(&line[0]);
            builder.args(&line[1..]);
            builder
        }
        None => {
            let mut builder = CommandBuilder::new(&options.shell);
            builder.arg("-c");
            builder.arg(command);
            builder
        }
    };
    builder.cwd(cwd);
    builder.env("TERM", "xterm-256color");
    builder.env("COLORTERM", "truecolor");
    // Dev servers that open a browser themselves (CRA, some Vite setups) leave that to us.
    builder.env("BROWSER", "none");
    for name in crate::secrets::KEY_VARIABLES {
        builder.env_remove(name);
    }
    let child = pair
        .slave
        .spawn_command(builder)
        .map_err(|error| error.to_string())?;
    // Our copy of the slave side must go, or the reader never sees EOF.
    drop(pair.slave);
    let leader = child
        .process_id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| "the process has no id".to_owned())?;
    let reader = pair
        .master
        .try_clone_reader()
        .map_err(|error| error.to_string())?;
    let writer = pair
        .master
        .take_writer()
        .map_err(|error| error.to_string())?;
    Ok(Started {
        child,
        pty: Pty {
            master: pair.master,
            writer,
        },
        reader,
        leader,
    })
}

/// Waits for the command's exit (blocks).
pub(super) fn wait(mut child: Box<dyn Child + Send + Sync>) -> ExitInfo {
    match child.wait() {
        Ok(status) => ExitInfo {
            code: i32::try_from(status.exit_code()).unwrap_or(i32::MAX),
            signal: status.signal().map(str::to_owned),
            stopped: false,
        },
        Err(error) => {
            tracing::warn!(%error, "waiting for a terminal's command failed");
            ExitInfo {
                code: 1,
                signal: None,
                stopped: false,
            }
        }
    }
}

pub(super) fn spawn_thread(name: String, work: impl FnOnce() + Send + 'static) {
    if let Err(error) = std::thread::Builder::new().name(name).spawn(work) {
        tracing::error!(%error, "cannot start a terminal thread");
    }
}

pub(super) fn read(mut reader: Box<dyn Read + Send>, chunks: &mpsc::Sender<Vec<u8>>) {
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        match reader.read(&mut buffer) {
            // Linux reports the end of a PTY whose last writer closed as EIO.
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if chunks.blocking_send(buffer[..read].to_vec()).is_err() {
                    return;
                }
            }
        }
    }
}
