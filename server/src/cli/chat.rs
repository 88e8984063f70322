//! `openbolt chat`: the whole loop in a terminal — stream the reply, apply its actions, show what happens.

use crate::actions::approval::{
    Approval, ApprovalPolicy, ApprovalRequest, Approver, FixedApprover,
};
use crate::actions::{ActionStatus, ActionUpdate, DiskWriter, Runner};
use crate::config::{ProviderChoice, Secret};
use crate::engine::context::EditorContext;
use crate::engine::{Engine, Session, TurnEvent, TurnOutcome, TurnStatus};
use crate::provider::Provider;
use crate::store::{SessionRecorder, Store, default_data_dir, load_conversation, new_id};
use crate::terminal::{TerminalEvent, TerminalOptions, Terminals};
use anyhow::Context;
use futures::future::BoxFuture;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    /// Fail the turn when the provider sends nothing for this long (a stall), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 90)]
    pub idle_timeout: u64,
    /// Stop a shell command still running after this long, in seconds (dev servers are `start`
    /// actions and are not limited).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub command_timeout: u64,
    /// After a one-shot prompt, stop the dev servers it started instead of keeping them running until
    /// Ctrl-C.
    #[arg(long)]
    pub no_wait: bool,
    /// Continue a saved session (`openbolt sessions` lists them): its history goes to the model.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
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
    let choice = ProviderChoice {
        provider: arguments.provider.clone(),
        model: arguments.model.clone(),
        base_url: arguments.base_url.clone(),
        api_key: None::<Secret>,
        replay_file: arguments.reply.clone(),
        replay_bytes_per_second: arguments.replay_speed,
    };
    let settings = choice.resolve(|name| std::env::var(name).ok())?;
    let mut provider = Provider::new(settings)?;
    provider.idle_timeout = std::time::Duration::from_secs(arguments.idle_timeout.max(1));
    let provider = Arc::new(provider);
    let mut engine = Engine::new(provider, workspace.clone());
    if let Some(max_tokens) = arguments.max_tokens {
        engine.max_tokens = max_tokens;
    }

    let interactive = arguments.prompt.is_none() && std::io::stdin().is_terminal();
    let approver: Box<dyn Approver> = if std::io::stdin().is_terminal() {
        Box::new(TerminalApprover)
    } else {
        Box::new(FixedApprover(Approval::Skip(
            "not approved: commands need approval, and there is no terminal to ask on (pass --yes)"
                .to_owned(),
        )))
    };
    let policy = ApprovalPolicy {
        auto_approve: arguments.yes,
        ..ApprovalPolicy::default()
    };
    let (terminal_events, mut terminal_receiver) = mpsc::channel(64);
    let terminals = Terminals::new(TerminalOptions::default(), terminal_events);
    let mut runner = Runner::new(
        &workspace,
        Box::new(DiskWriter),
        approver,
        policy,
        terminals.clone(),
        "cli",
    )
    .with_context(|| format!("opening the workspace {}", workspace.display()))?;
    runner.shell_timeout = std::time::Duration::from_secs(arguments.command_timeout.max(1));
    let result = converse(
        &engine,
        &mut runner,
        &mut terminal_receiver,
        arguments,
        interactive,
        &workspace,
    )
    .await;
    terminals.shutdown().await;
    result
}

async fn converse(
    engine: &Engine,
    runner: &mut Runner,
    terminal_events: &mut mpsc::Receiver<TerminalEvent>,
    arguments: ChatArguments,
    interactive: bool,
    workspace: &std::path::Path,
) -> anyhow::Result<u8> {
    let mut printer = Printer::default();
    let store = match Store::open(&default_data_dir(|name| std::env::var(name).ok())) {
        Ok(store) => Some(store),
        Err(error) => {
            printer.status(&format!("  ! the conversation is not saved: {error}"));
            None
        }
    };
    let (mut session, session_id) = match &arguments.session {
        Some(id) => {
            let store = store
                .as_ref()
                .context("cannot continue a session: the session store could not be opened")?;
            let session = load_conversation(store, id).with_context(|| {
                format!("cannot continue session {id} (`openbolt sessions` lists this workspace's)")
            })?;
            (session, id.clone())
        }
        None => (Session::default(), new_id("s")),
    };
    let mut recorder = SessionRecorder::new(store, session_id, workspace);
    printer.status(&format!(
        "openbolt · {} {} · {} · session {}",
        engine.provider().settings().name,
        engine.provider().settings().model,
        workspace.display(),
        recorder.session_id
    ));

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
        let outcome = run_turn(
            engine,
            &mut session,
            &prompt,
            runner,
            terminal_events,
            &mut printer,
            &mut recorder,
        )
        .await;
        if outcome.status == TurnStatus::Complete && !arguments.no_wait {
            serve_until_stopped(runner, terminal_events, &mut printer, &mut recorder).await;
        }
        return Ok(exit_code(Some(&outcome)));
    }

    let mut last = None;
    loop {
        printer.prompt();
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
            if let TerminalEvent::Action { update, .. } = &event {
                recorder.late_action(update);
            }
            if !matches!(event, TerminalEvent::Output { .. }) {
                printer.terminal_event(&event);
            }
        }
        last = Some(
            run_turn(
                engine,
                &mut session,
                &line,
                runner,
                terminal_events,
                &mut printer,
                &mut recorder,
            )
            .await,
        );
    }
    Ok(exit_code(last.as_ref()))
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

/// After a one-shot prompt that started a dev server: show its output and preview until Ctrl-C or its end.
async fn serve_until_stopped(
    runner: &Runner,
    terminal_events: &mut mpsc::Receiver<TerminalEvent>,
    printer: &mut Printer,
    recorder: &mut SessionRecorder,
) {
    let owner = runner.owner().to_owned();
    let serving = |runner: &Runner| {
        runner
            .terminals()
            .list()
            .iter()
            .any(|terminal| terminal.owner == owner && terminal.running)
    };
    if !serving(runner) {
        return;
    }
    printer.status("  ◦ the dev server keeps running — Ctrl-C stops it");
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = terminal_events.recv() => match event {
                Some(event) => {
                    if let TerminalEvent::Action { update, .. } = &event {
                        recorder.late_action(update);
                    }
                    printer.terminal_event(&event);
                    if matches!(event, TerminalEvent::Exit { .. }) && !serving(runner) {
                        break;
                    }
                }
                None => break,
            },
        }
    }
}

async fn run_turn(
    engine: &Engine,
    session: &mut Session,
    prompt: &str,
    runner: &mut Runner,
    terminal_events: &mut mpsc::Receiver<TerminalEvent>,
    printer: &mut Printer,
    recorder: &mut SessionRecorder,
) -> TurnOutcome {
    let message_id = recorder.begin(prompt);
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    let watcher = tokio::spawn(async move {
        interrupted().await;
        interrupt.cancel();
    });
    let (events, mut receiver) = mpsc::channel(256);
    let editor = EditorContext::default();
    let turn = engine.run_turn(session, prompt, &editor, runner, events, cancel.clone());
    tokio::pin!(turn);
    let outcome = loop {
        tokio::select! {
            // A command's output is sent before its end is known: show it first.
            biased;
            Some(event) = terminal_events.recv() => {
                if let TerminalEvent::Action { update, .. } = &event {
                    recorder.late_action(update);
                }
                printer.terminal_event(&event);
            }
            Some(event) = receiver.recv() => {
                recorder.event(&message_id, &event);
                printer.event(&event);
            }
            outcome = &mut turn => break outcome,
        }
    };
    while let Ok(event) = terminal_events.try_recv() {
        printer.terminal_event(&event);
    }
    while let Ok(event) = receiver.try_recv() {
        recorder.event(&message_id, &event);
        printer.event(&event);
    }
    watcher.abort();
    recorder.end(&message_id, &outcome);
    printer.outcome(&outcome);
    outcome
}

async fn read_line() -> Option<String> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    })
    .await
    .ok()
    .flatten()
}

/// Asks on the terminal: run, always, or skip.
struct TerminalApprover;

impl Approver for TerminalApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Approval> {
        Box::pin(async move {
            let question = format!(
                "\n  ? run {} `{}`? [y]es, [a]lways this session, [n]o: ",
                request.kind, request.command
            );
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(question.as_bytes());
            let _ = stdout.flush();
            match read_line()
                .await
                .map(|line| line.trim().to_ascii_lowercase())
            {
                Some(answer) if answer == "y" || answer == "yes" => Approval::Run,
                Some(answer) if answer == "a" || answer == "always" => Approval::AlwaysThisSession,
                _ => Approval::Skip("the user declined to run it".to_owned()),
            }
        })
    }
}

/// Writes the conversation to stdout: prose as it streams, status lines on lines of their own.
///
/// Actions run while the model is still writing: what they print (status lines, command output) waits
/// while the model's current line is unfinished, and goes out after that line's break, so it never
/// splits the model's words.
struct Printer {
    /// Standard output, or a buffer in tests.
    sink: Box<dyn Write + Send>,
    /// The last byte written was not a line break.
    mid_line: bool,
    /// The model's prose is in the middle of a line.
    prose_open: bool,
    /// What arrived while `prose_open`, in order.
    held: Vec<Held>,
}

#[derive(Debug)]
enum Held {
    Status(String),
    Raw(String),
}

impl Default for Printer {
    fn default() -> Printer {
        Printer::to(Box::new(std::io::stdout()))
    }
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Printer")
            .field("mid_line", &self.mid_line)
            .field("prose_open", &self.prose_open)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl Printer {
    fn to(sink: Box<dyn Write + Send>) -> Printer {
        Printer {
            sink,
            mid_line: false,
            prose_open: false,
            held: Vec::new(),
        }
    }

    fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let _ = self.sink.write_all(text.as_bytes());
        let _ = self.sink.flush();
        self.mid_line = !text.ends_with('\n');
    }

    /// The model's words.
    fn prose(&mut self, text: &str) {
        match text.rfind('\n') {
            Some(end) if !self.held.is_empty() => {
                let (line_end, rest) = text.split_at(end + 1);
                self.write(line_end);
                self.release();
                self.write(rest);
                self.prose_open = !rest.is_empty();
            }
            _ => {
                self.write(text);
                if !text.is_empty() {
                    self.prose_open = !text.ends_with('\n');
                }
            }
        }
    }

    /// Writes what was held back, once the model's line is done (or the turn is).
    fn release(&mut self) {
        self.prose_open = false;
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Status(line) => self.status(&line),
                Held::Raw(text) => self.write(&text),
            }
        }
    }

    fn status(&mut self, line: &str) {
        if self.prose_open {
            self.held.push(Held::Status(line.to_owned()));
            return;
        }
        if self.mid_line {
            self.write("\n");
        }
        self.write(&format!("{line}\n"));
    }

    /// A command's output.
    fn raw(&mut self, text: &str) {
        if self.prose_open {
            self.held.push(Held::Raw(text.to_owned()));
        } else {
            self.write(text);
        }
    }

    fn prompt(&mut self) {
        self.release();
        if self.mid_line {
            self.write("\n");
        }
        self.write("\n› ");
        self.mid_line = false;
    }

    fn event(&mut self, event: &TurnEvent) {
        match event {
            TurnEvent::Text(text) => self.prose(text),
            TurnEvent::Notice(notice) => self.status(&format!("  ! {notice}")),
            TurnEvent::Action(update) => {
                if let Some(line) = describe_update(update) {
                    self.status(&line);
                }
            }
        }
    }

    fn terminal_event(&mut self, event: &TerminalEvent) {
        match event {
            TerminalEvent::Output { data, .. } => self.raw(data),
            // A command's end shows as its action's status.
            TerminalEvent::Exit { .. } => {}
            TerminalEvent::Preview(preview) => {
                self.status(&format!("  ◉ preview: {}", preview.url));
            }
            TerminalEvent::Action { update, .. } => {
                if let Some(line) = describe_update(update) {
                    self.status(&line);
                }
            }
        }
    }

    fn outcome(&mut self, outcome: &TurnOutcome) {
        self.release();
        let usage = outcome.usage;
        let tokens = if usage.input_tokens + usage.output_tokens > 0 {
            format!(
                " · tokens in {} (cached {}), out {}",
                usage.input_tokens, usage.cache_read_tokens, usage.output_tokens
            )
        } else {
            String::new()
        };
        let line = match (outcome.status, &outcome.error) {
            (TurnStatus::Complete, _) => format!("── done{tokens}"),
            (TurnStatus::Aborted, _) => format!("── stopped{tokens}"),
            (TurnStatus::Failed, error) => format!(
                "── failed: {}{tokens}",
                error.as_deref().unwrap_or("unknown error")
            ),
        };
        self.status(&line);
    }
}

/// One status line per meaningful change: running commands, and every final status.
fn describe_update(update: &ActionUpdate) -> Option<String> {
    let what = match (&update.file_path, &update.command) {
        (Some(path), _) => format!("{} {path}", update.kind),
        (None, Some(command)) => format!("{} `{command}`", update.kind),
        (None, None) => update.kind.clone(),
    };
    let reason = update
        .error
        .as_deref()
        .map(|error| format!(" — {error}"))
        .unwrap_or_default();
    let exit = update
        .exit_code
        .map(|code| format!(" (exit {code})"))
        .unwrap_or_default();
    match update.status {
        // The question itself is the approver's.
        ActionStatus::Pending | ActionStatus::Approval => None,
        ActionStatus::Running if update.kind == "file" => None,
        ActionStatus::Running => Some(format!("  ▸ {what}")),
        ActionStatus::Complete => Some(format!("  ✓ {what}{exit}")),
        ActionStatus::Failed => Some(format!("  ✗ {what}{exit}{reason}")),
        ActionStatus::Aborted => Some(format!("  ■ {what} aborted{reason}")),
        ActionStatus::Skipped => Some(format!("  – {what} skipped{reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn printed(shared: &Shared) -> String {
        String::from_utf8(shared.0.lock().expect("buffer").clone()).expect("utf-8")
    }

    #[test]
    fn what_actions_print_waits_for_the_end_of_the_models_line() {
        let shared = Shared::default();
        let mut printer = Printer::to(Box::new(shared.clone()));
        printer.prose("Here is the app.\n\nA");
        printer.status("  ✓ file src/second.js");
        printer.raw("npm output\r\n");
        assert_eq!(printed(&shared), "Here is the app.\n\nA");
        printer.prose("ll done.\nAnd");
        printer.prose(" more");
        printer.status("  ✓ file src/third.js");
        assert_eq!(
            printed(&shared),
            "Here is the app.\n\nAll done.\n  ✓ file src/second.js\nnpm output\r\nAnd more"
        );
        // The turn's end lets out what the unfinished last line held back.
        printer.release();
        assert_eq!(
            printed(&shared),
            "Here is the app.\n\nAll done.\n  ✓ file src/second.js\nnpm output\r\nAnd more\n  ✓ file src/third.js\n"
        );
    }

    #[test]
    fn status_lines_go_out_at_once_between_the_models_lines() {
        let shared = Shared::default();
        let mut printer = Printer::to(Box::new(shared.clone()));
        printer.prose("Writing files.\n");
        printer.status("  ✓ file a.js");
        printer.raw("partial output");
        printer.status("  ✓ shell make");
        assert_eq!(
            printed(&shared),
            "Writing files.\n  ✓ file a.js\npartial output\n  ✓ shell make\n"
        );
    }
}
