//! `openbolt chat`: the whole loop in a terminal — stream the reply, apply its actions, show what happens.

use crate::conversation::fixes::Check;
use crate::conversation::{Conversation, Conversations, FixRound, Sink, TurnState};
use crate::engine::context::EditorContext;
use crate::engine::{Engine, TurnOutcome, TurnStatus};
use crate::options::{ApprovalOptions, Effective, Options};
use crate::project::ProjectMap;
use crate::store::{Store, default_data_dir};
use crate::terminal::{TerminalEvent, TerminalOptions, Terminals};
use crate::types::{ActionStatus, TurnEvent};
use anyhow::Context;
use futures::future::BoxFuture;
use std::io::IsTerminal;
use std::path::PathBuf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod printer;
mod terminal;

use printer::SharedPrinter;
use terminal::{Terminal, read_line};

#[derive(Debug, clap::Args)]
pub struct ChatArguments {
    /// What to build or change. Without it: an interactive loop on a terminal, else the prompt is read
    /// from stdin.
    pub prompt: Option<String>,
    /// The project directory (default: the current directory).
    #[arg(long, short = 'C', value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// anthropic, openai, ollama, lmstudio, llamacpp, vllm, openrouter or replay [env: OPENBOLT_PROVIDER]
    #[arg(long)]
    pub provider: Option<String>,
    /// The model name [env: OPENBOLT_MODEL]
    #[arg(long)]
    pub model: Option<String>,
    /// The provider's base URL [env: ANTHROPIC_BASE_URL or OPENAI_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Run commands without asking (dangerous commands are still refused).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replay a recorded reply instead of asking a model (implies --provider replay).
    #[arg(long, value_name = "FILE")]
    pub reply: Option<PathBuf>,
    /// Replay pace in bytes per second; 0 streams as fast as possible.
    #[arg(long, value_name = "BYTES")]
    pub replay_speed: Option<u64>,
    /// The output limit per request; longer replies continue in follow-up requests.
    #[arg(long, value_name = "TOKENS")]
    pub max_tokens: Option<u32>,
    /// After a turn whose files have syntax errors, whose commands failed or whose dev server broke, let
    /// the model fix them in up to N automatic rounds (0: never) [default: 3] [env: OPENBOLT_AUTO_FIX]
    #[arg(long, value_name = "N")]
    pub auto_fix: Option<u32>,
    /// The model's context window, for models and servers that do not say (asked of llama.cpp, vLLM,
    /// Ollama and LM Studio; known for hosted models) [env: OPENBOLT_CONTEXT_TOKENS]
    #[arg(long, value_name = "TOKENS")]
    pub context_tokens: Option<u32>,
    /// Fail the turn when the provider sends nothing for this long (a stall), in seconds [default: 90]
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Stop a shell command still running after this long, in seconds (dev servers are `start`
    /// actions and are not limited) [default: 600]
    #[arg(long, value_name = "SECONDS")]
    pub command_timeout: Option<u64>,
    /// After a one-shot prompt, stop the dev servers it started instead of keeping them running until
    /// Ctrl-C.
    #[arg(long)]
    pub no_wait: bool,
    /// Continue a saved session (`openbolt sessions` lists them): its history goes to the model.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Run commands in a sandbox that lets them write only in the workspace, the temp directory and
    /// package caches: auto (where the kernel supports it), required (refuse commands without it), off
    /// [default: auto]
    #[arg(long, value_name = "MODE")]
    pub sandbox: Option<crate::sandbox::SandboxMode>,
    /// Another path sandboxed commands may write beneath (repeatable).
    #[arg(long, value_name = "PATH")]
    pub sandbox_writable: Vec<PathBuf>,
    /// `false`: sandboxed commands make no outgoing TCP connection (they may still listen) [default: true]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub sandbox_network: Option<bool>,
    /// Another path sandboxed commands may not read, besides the credentials denied by default
    /// (`~/.ssh`, `~/.aws`, tokens, keyrings, browser profiles, histories) (repeatable).
    #[arg(long, value_name = "PATH")]
    pub sandbox_deny_read: Vec<PathBuf>,
    /// A path sandboxed commands may read although denied, such as `~/.npmrc` for a private registry
    /// (repeatable).
    #[arg(long, value_name = "PATH")]
    pub sandbox_allow_read: Vec<PathBuf>,
    /// Keep the git hooks (and git config entries that run programs) sandboxed commands install — a
    /// project whose install sets up husky — instead of undoing them.
    #[arg(long)]
    pub sandbox_allow_git_hooks: bool,
    /// Call this MCP server's tools (`NAME`) or this tool (`NAME/TOOL`) without asking (repeatable).
    /// Servers come from `.openbolt/mcp.json` and `~/.config/openbolt/mcp.json`.
    #[arg(long, value_name = "NAME[/TOOL]")]
    pub mcp_allow: Vec<String>,
    /// Load the previews a turn leaves running in a headless browser and fix what breaks there:
    /// `auto` (default: when a browser is found) or `off`.
    #[arg(long, value_name = "MODE")]
    pub preview_check: Option<crate::options::AutoOff>,
    /// The browser for the page check (default: chromium, chromium-browser, google-chrome or chrome on
    /// PATH).
    #[arg(long, value_name = "PATH")]
    pub browser: Option<PathBuf>,
    /// Keep a screenshot of each checked page (printed with its verdict; sent to a model that takes
    /// images with the fix round the page caused): `auto` (default) or `off`.
    #[arg(long, value_name = "MODE")]
    pub preview_screenshots: Option<crate::options::AutoOff>,
    /// Whether the model takes images: `auto` (hosted models known to), `true` or `false`.
    #[arg(long, value_name = "MODE")]
    pub model_images: Option<crate::provider::images::ModelImages>,
}

impl ChatArguments {
    /// What the flags set (a flag not given sets nothing: the environment, the settings files or the
    /// default decide).
    pub fn options(&self) -> Options {
        fn some_list<T: Clone>(list: &[T]) -> Option<Vec<T>> {
            (!list.is_empty()).then(|| list.to_vec())
        }
        Options {
            provider: self.provider.clone(),
            model: self.model.clone(),
            base_url: self.base_url.clone(),
            replay_file: self.reply.clone(),
            replay_speed: self.replay_speed,
            max_tokens: self.max_tokens,
            context_tokens: self.context_tokens,
            auto_fix: self.auto_fix,
            idle_timeout: self.idle_timeout,
            command_timeout: self.command_timeout,
            approval: ApprovalOptions {
                auto_approve: self.yes.then_some(true),
                ..ApprovalOptions::default()
            },
            sandbox: self.sandbox,
            sandbox_writable: some_list(&self.sandbox_writable),
            sandbox_network: self.sandbox_network,
            sandbox_deny_read: some_list(&self.sandbox_deny_read),
            sandbox_allow_read: some_list(&self.sandbox_allow_read),
            sandbox_allow_git_hooks: self.sandbox_allow_git_hooks.then_some(true),
            mcp_allow: some_list(&self.mcp_allow),
            preview_check: self.preview_check,
            browser_path: self.browser.clone(),
            preview_screenshots: self.preview_screenshots,
            model_images: self.model_images,
            ..Options::default()
        }
    }
}

/// The header's line on the page check: the browser, or why previews are not checked.
fn page_checks_line(said: (bool, String)) -> String {
    match said {
        (true, warning) => format!("  ! {warning}"),
        (false, said) => format!("  ◦ {said}"),
    }
}

/// How `openbolt chat` ended, as an exit code.
pub fn exit_code(outcome: Option<&TurnOutcome>) -> u8 {
    match outcome {
        None => 0,
        Some(outcome) => match outcome.status {
            TurnStatus::Aborted => 130,
            TurnStatus::Failed => 1,
            TurnStatus::Complete
                if outcome
                    .actions
                    .iter()
                    .any(|action| action.status == ActionStatus::Failed) =>
            {
                1
            }
            TurnStatus::Complete => 0,
        },
    }
}

pub async fn run(arguments: ChatArguments) -> anyhow::Result<u8> {
    let workspace = arguments
        .workspace
        .clone()
        .map_or_else(std::env::current_dir, Ok)
        .context("finding the current directory")?;
    let workspace = std::fs::canonicalize(&workspace)
        .with_context(|| format!("the workspace {} does not exist", workspace.display()))?;
    let effective = crate::options::effective(&arguments.options(), Some(&workspace));
    let data_dir = default_data_dir(|name| std::env::var(name).ok());
    let map = ProjectMap::start(
        &workspace,
        Some(ProjectMap::cache_file(&data_dir, &workspace)),
    );
    let engine = effective
        .engine(workspace.clone(), Some(map))
        .map_err(anyhow::Error::msg)?;

    let interactive = arguments.prompt.is_none() && std::io::stdin().is_terminal();
    let printer = SharedPrinter::default();
    let store = match Store::open(&data_dir) {
        Ok(store) => Some(store),
        Err(error) => {
            printer
                .lock()
                .status(&format!("  ! the conversation is not saved: {error}"));
            None
        }
    };
    let (terminal_events, mut terminal_receiver) = mpsc::channel(64);
    let terminals = Terminals::new(TerminalOptions::default(), terminal_events);
    for message in &effective.messages {
        printer.lock().status(&format!("  ! {message}"));
    }
    let (sandbox, configured) = effective.sandbox();
    terminals.set_sandbox(sandbox);
    let mut sandbox_line = if configured.is_warning() {
        format!("  ! {}", configured.message())
    } else {
        format!("  ◦ {}", configured.message())
    };
    sandbox_line.push('\n');
    sandbox_line.push_str(&page_checks_line(effective.page_checks_said()));
    let front_end = Terminal {
        printer: printer.clone(),
        ask: std::io::stdin().is_terminal(),
    };
    // MCP servers from the user's and the workspace's files; they start with the first turn.
    let mcp_config = effective.mcp_config(&workspace);
    for error in &mcp_config.errors {
        printer.lock().status(&format!("  ! {error}"));
    }
    let mcp = crate::mcp::Mcp::new(&mcp_config, crate::mcp::Timeouts::default());
    let conversations = Conversations::new(
        workspace.clone(),
        store,
        terminals.clone(),
        Box::new(front_end),
    )
    .with_mcp(mcp.clone());
    let chat = Chat {
        conversations: &conversations,
        engine: &engine,
        printer,
        effective,
        sandbox_line,
    };
    let result = chat
        .converse(&mut terminal_receiver, arguments, interactive)
        .await;
    terminals.shutdown().await;
    mcp.shutdown();
    crate::browser::shared().close().await;
    result
}

/// One `openbolt chat`: its conversation layer and how it shows things.
struct Chat<'a> {
    conversations: &'a Conversations,
    engine: &'a Engine,
    printer: SharedPrinter,
    /// Every setting decided (flags, environment, settings files, defaults).
    effective: Effective,
    /// Whether commands are sandboxed, said once under the header.
    sandbox_line: String,
}

impl Chat<'_> {
    async fn converse(
        &self,
        terminal_events: &mut mpsc::Receiver<TerminalEvent>,
        arguments: ChatArguments,
        interactive: bool,
    ) -> anyhow::Result<u8> {
        let conversation = match &arguments.session {
            Some(id) => crate::blocking(|| self.conversations.resume(id)).with_context(|| {
                format!("cannot continue session {id} (`openbolt sessions` lists this workspace's)")
            })?,
            None => crate::blocking(|| self.conversations.open(None)),
        };
        let mut state = conversation.lock_turn().await?;
        self.printer.lock().status(&format!(
            "openbolt · {} {} · {} · session {}",
            self.engine.provider().settings().name,
            self.engine.provider().settings().model,
            self.conversations.workspace().display(),
            conversation.id
        ));
        self.printer.lock().status(&self.sandbox_line);

        if !interactive {
            let prompt = match arguments.prompt {
                Some(prompt) => prompt,
                None => {
                    let mut prompt = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut prompt)
                        .context("reading the prompt from stdin")?;
                    prompt
                }
            };
            if prompt.trim().is_empty() {
                anyhow::bail!("the prompt is empty: pass it as an argument or on stdin");
            }
            let outcome = self
                .show_turn(&conversation, &mut state, prompt, terminal_events)
                .await;
            if outcome.status == TurnStatus::Complete && !arguments.no_wait {
                self.serve_until_stopped(&conversation.id, terminal_events)
                    .await;
            }
            return Ok(exit_code(Some(&outcome)));
        }

        let mut last = None;
        loop {
            self.printer.lock().prompt();
            let Some(line) = read_line().await else {
                break;
            };
            let line = line.trim().to_owned();
            if line.is_empty() {
                continue;
            }
            if matches!(line.as_str(), "exit" | "quit" | "/exit" | "/quit") {
                break;
            }
            // Between turns, dev servers keep running; only their previews and ends are shown.
            while let Ok(event) = terminal_events.try_recv() {
                self.show_terminal_event(event, false);
            }
            last = Some(
                self.show_turn(&conversation, &mut state, line, terminal_events)
                    .await,
            );
        }
        Ok(exit_code(last.as_ref()))
    }

    /// Shows a terminal's event (its output only when `output`); a dev server's end as its action's
    /// status, after the conversation layer recorded it.
    fn show_terminal_event(&self, event: TerminalEvent, output: bool) {
        let ended = self.conversations.route(&event);
        let mut printer = self.printer.lock();
        if output || !matches!(event, TerminalEvent::Output { .. }) {
            printer.terminal_event(&event);
        }
        if let Some(server) = ended {
            printer.event(&TurnEvent::Action(server.update));
        }
    }

    /// After a one-shot prompt that started a dev server: show its output and preview until Ctrl-C or
    /// its end.
    async fn serve_until_stopped(
        &self,
        session_id: &str,
        terminal_events: &mut mpsc::Receiver<TerminalEvent>,
    ) {
        let serving = || {
            self.conversations
                .terminals()
                .list()
                .iter()
                .any(|terminal| terminal.owner == session_id && terminal.running)
        };
        if !serving() {
            return;
        }
        self.printer
            .lock()
            .status("  ◦ the dev server keeps running — Ctrl-C stops it");
        let stop = interrupted();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                event = terminal_events.recv() => match event {
                    Some(event) => {
                        let exited = matches!(event, TerminalEvent::Exit { .. });
                        self.show_terminal_event(event, true);
                        if exited && !serving() {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
    }

    async fn show_turn(
        &self,
        conversation: &Conversation,
        state: &mut TurnState,
        prompt: String,
        terminal_events: &mut mpsc::Receiver<TerminalEvent>,
    ) -> TurnOutcome {
        let cancel = CancellationToken::new();
        let interrupt = cancel.clone();
        let watcher = tokio::spawn(async move {
            interrupted().await;
            interrupt.cancel();
        });
        let request = self.effective.turn(prompt, EditorContext::default());
        // The turn's events come through a channel, shown after the terminals' events that were
        // already there: a command's output is sent before its end is known, and shows first.
        let (events, mut shown) = mpsc::channel(256);
        let mut sink = Forward(events);
        let turn = self.conversations.run_turn(
            conversation,
            state,
            self.engine,
            request,
            cancel,
            &mut sink,
        );
        tokio::pin!(turn);
        let turn = loop {
            tokio::select! {
                biased;
                Some(event) = terminal_events.recv() => self.show_terminal_event(event, true),
                Some(event) = shown.recv() => self.printer.lock().event(&event),
                turn = &mut turn => break turn,
            }
        };
        while let Ok(event) = terminal_events.try_recv() {
            self.show_terminal_event(event, true);
        }
        while let Ok(event) = shown.try_recv() {
            self.printer.lock().event(&event);
        }
        watcher.abort();
        self.printer.lock().outcome(&turn.outcome);
        turn.outcome
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Hands a turn's events to the loop that shows them.
struct Forward(mpsc::Sender<TurnEvent>);

impl Sink for Forward {
    fn started<'a>(
        &'a mut self,
        _message_id: &'a str,
        fix: Option<&'a FixRound>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(fix) = fix {
                // The round's reply starts on a line of its own, after the notice.
                let _ = self.0.send(TurnEvent::Text("\n\n".to_owned())).await;
                let notice = TurnEvent::Notice(format!(
                    "fix round {} of {}: {} problem{} sent back to the model",
                    fix.round,
                    fix.rounds,
                    fix.problems,
                    if fix.problems == 1 { "" } else { "s" }
                ));
                let _ = self.0.send(notice).await;
            }
        })
    }

    fn event<'a>(&'a mut self, event: &'a TurnEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = self.0.send(event.clone()).await;
        })
    }

    /// Shown as a notice (not recorded: the sink is past the recorder).
    fn checking<'a>(&'a mut self, check: &'a Check) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = self.0.send(TurnEvent::Notice(check.describe())).await;
        })
    }
}

#[cfg(test)]
mod tests;
