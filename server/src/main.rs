//! The `openbolt` command: arguments and logging only; the work is in the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "openbolt",
    version,
    about = "Prompt to running app, in the editor you already use"
)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Chat in the terminal: stream the reply, write its files, run its commands.
    Chat(Box<openbolt::cli::chat::ChatArguments>),
    /// Parse an assistant reply from stdin and print the parser's events as JSON Lines.
    Parse(openbolt::cli::parse::ParseArguments),
    /// List this workspace's saved sessions, or export one as Markdown.
    Sessions(openbolt::cli::sessions::SessionsArguments),
    /// Undo the files of the last turn (or of every turn from a message on).
    Revert(openbolt::cli::sessions::RevertArguments),
    /// Print the version and the protocol version (`--json` for the editor extensions).
    Version(openbolt::cli::version::VersionArguments),
    /// Print the first request a prompt would send, built offline (for benchmarks).
    #[command(hide = true)]
    Context(openbolt::cli::context::ContextArguments),
    /// Run a command in the sandbox (the terminals use it; not for people).
    #[command(hide = true, name = "sandbox-exec")]
    SandboxExec(openbolt::sandbox::ExecArguments),
    /// Load a page in a headless browser and report what breaks there, as turns check their previews.
    #[command(name = "check-page")]
    CheckPage(openbolt::cli::check_page::CheckPageArguments),
    /// Become the page check's browser (the server starts it; not for people).
    #[command(hide = true, name = "browser-exec")]
    BrowserExec {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Serve the Agent Client Protocol on stdin/stdout (for Zed, JetBrains, Emacs, Neovim agent plugins).
    Acp,
    /// Serve the Language Server Protocol on stdin/stdout (for editors).
    Lsp {
        /// Accepted for clients that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `openbolt lsp`'s runtime: its threads (turns, terminals' output, blocking work) run below the
/// protocol thread (started from this one, it keeps the normal priority), and the user's commands
/// start from a thread that keeps it too (`terminal::priority`).
fn lsp_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    openbolt::terminal::priority::keep_normal_priority_thread();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .on_thread_start(openbolt::terminal::priority::lower_this_thread)
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    // A sandboxed command starts through here: restrict, then exec — nothing else on the way.
    if let Command::SandboxExec(sandbox) = &arguments.command {
        return ExitCode::from(u8::try_from(openbolt::sandbox::exec(sandbox)).unwrap_or(1));
    }
    if let Command::BrowserExec { command } = &arguments.command {
        let command = command
            .strip_prefix(&[std::ffi::OsString::from("--")][..])
            .unwrap_or(command);
        return ExitCode::from(u8::try_from(openbolt::browser::launch::exec(command)).unwrap_or(1));
    }
    // Logs go to stderr, never stdout: stdout carries the conversation or the protocol. Colours only
    // on a terminal (an editor's output channel shows escape codes as text).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENBOLT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    openbolt::terminal::install_panic_hook();
    let result = match arguments.command {
        Command::Parse(parse) => openbolt::cli::parse::run(&parse).map(|()| 0),
        Command::Version(version) => openbolt::cli::version::run(&version).map(|()| 0),
        Command::Context(context) => openbolt::cli::context::run(&context).map(|()| 0),
        Command::Sessions(sessions) => openbolt::cli::sessions::run_sessions(&sessions).map(|()| 0),
        Command::Revert(revert) => runtime()
            .and_then(|runtime| runtime.block_on(openbolt::cli::sessions::run_revert(&revert))),
        Command::Chat(chat) => {
            runtime().and_then(|runtime| runtime.block_on(openbolt::cli::chat::run(*chat)))
        }
        Command::SandboxExec(_) | Command::BrowserExec { .. } => Ok(0),
        Command::CheckPage(check) => {
            runtime().and_then(|runtime| runtime.block_on(openbolt::cli::check_page::run(&check)))
        }
        Command::Acp => runtime().and_then(|runtime| {
            let result = runtime.block_on(openbolt::acp::run());
            // A read of stdin may still block in its thread; do not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            result
        }),
        Command::Lsp { stdio: _ } => {
            let result = lsp_runtime().and_then(|runtime| {
                let result = runtime.block_on(openbolt::lsp::serve_stdio());
                // A read of stdin may still block in its thread; do not wait for it.
                runtime.shutdown_timeout(std::time::Duration::from_millis(100));
                result
            });
            result.map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("openbolt: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}
