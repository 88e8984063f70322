//! The turn engine: prompt → provider stream → parser → prose and actions → results, with history.
//!
//! One turn streams the reply (continuing it in follow-up requests when it hits the output limit),
//! feeds only the new text to the parser, passes prose on as it arrives, and queues each action the moment
//! it closes; the runner works through the queue while the reply still streams.

pub mod context;
pub mod history;
mod stream;

use stream::Streamed;

use crate::actions::{Runner, RunnerReport};
use crate::project::ProjectMap;
use crate::provider::window::{ContextWindow, WindowSource};
use crate::provider::{Message, Provider, Role, Usage};
pub use crate::types::TurnEvent;
use crate::types::{ActionStatus, ActionUpdate, KindTraits};
use crate::voice::{self, system::Containment, system::Machine};
use context::{Budget, EditorContext};
use history::Kept;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::types::{TurnOutcome, TurnStatus};

/// The output limit per request unless the settings say otherwise (`maxTokens`); never more than a
/// quarter of the context window.
pub const MAX_OUTPUT_TOKENS: u32 = 16_384;

/// A session's history as the model knows it: its messages, and what the last turn's actions did (told
/// to the model next time). Not the stored session (`store`), nor the conversation that drives turns
/// (`conversation`).
#[derive(Clone, Debug, Default)]
pub struct History {
    pub messages: Vec<Kept>,
    pub last_results: Vec<ActionUpdate>,
    /// Files the session wrote or read (relative): the project map ranks them higher.
    pub touched: Vec<String>,
}

impl History {
    /// Notes the files `actions` wrote or read.
    pub fn touch(&mut self, actions: &[ActionUpdate]) {
        for update in actions {
            if update.status == ActionStatus::Complete
                && KindTraits::of(&update.kind).touches_file
                && let Some(path) = &update.file_path
            {
                let path = path.trim().trim_start_matches("./").to_owned();
                self.touched.retain(|known| *known != path);
                self.touched.push(path);
            }
        }
        // The most recent ones matter; a long session does not grow this without end.
        let excess = self.touched.len().saturating_sub(50);
        self.touched.drain(..excess);
    }
}

/// Closed actions waiting for the runner. A reply that gets this far ahead of its commands waits for
/// them (the stream is read on once the runner catches up): memory stays bounded.
const QUEUED_ACTIONS: usize = 256;

/// How many follow-up requests a reply cut off by the output limit may take.
const MAX_CONTINUATIONS: u32 = 5;

pub use crate::types::MAX_LOOKUP_ROUNDS;

/// How long a turn waits for a project map that is still on its first walk.
const MAP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a turn waits for the map to take in the latest changes.
const SETTLE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// How many earlier requests lend their words to the ranking.
const RECENT_REQUESTS: usize = 2;

/// Part of the context budget left for the files the model reads within the turn.
const READ_RESERVE_PERCENT: usize = 30;

/// Part of the window kept free: the estimate errs, and providers wrap messages in tokens of their own.
const WINDOW_MARGIN_PERCENT: usize = 10;

/// How the window is spent on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The output limit asked for.
    pub output: u32,
    /// Tokens for everything sent: system prompt, history, context, request.
    pub input: usize,
}

/// What a turn is asked: the prompt, what the editor shows, and whether it is a fix round (its prompt
/// is then the report of the previous round's problems).
#[derive(Clone, Copy, Debug)]
pub struct Prompt<'a> {
    pub text: &'a str,
    pub editor: &'a EditorContext,
    pub fix_round: bool,
    /// Pictures that go with it (a fix round's screenshots of the page it reports on); sent only to
    /// a model that takes images ([`Engine::images`]).
    pub images: &'a [crate::provider::Image],
}

/// Runs turns against one provider in one workspace.
#[derive(Debug)]
pub struct Engine {
    provider: Arc<Provider>,
    workspace: PathBuf,
    machine: Machine,
    pub max_tokens: u32,
    pub budget: Budget,
    /// The user's `contextTokens`: the model's window, over what servers and the table say.
    pub context_tokens: Option<u32>,
    /// The project map (the front end starts it; it outlives engines).
    pub map: Option<ProjectMap>,
    /// The model takes images (`modelImages`, [`crate::provider::images`]): pictures are sent, else
    /// each is its one-line note.
    pub images: bool,
    window: tokio::sync::OnceCell<ContextWindow>,
}

impl Engine {
    pub fn new(provider: Arc<Provider>, workspace: PathBuf) -> Engine {
        Engine {
            provider,
            workspace,
            machine: Machine::detect(),
            max_tokens: MAX_OUTPUT_TOKENS,
            budget: Budget::default(),
            context_tokens: None,
            map: None,
            images: false,
            window: tokio::sync::OnceCell::new(),
        }
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The system prompt of a turn: the machine, the workspace, what contains the commands, and the
    /// MCP tools the model may call (`tools`). It changes only with them, so providers can cache it.
    fn system(&self, tools: &str, containment: &Containment) -> String {
        let prompt = voice::system::system_prompt(&self.machine, &self.workspace, containment);
        if tools.is_empty() {
            prompt
        } else {
            format!("{prompt}\n\n{tools}")
        }
    }

    /// The model's context window: asked once (the setting, the server, the table, a default).
    pub async fn context_window(&self) -> ContextWindow {
        *self
            .window
            .get_or_init(|| async {
                let window = self.provider.context_window(self.context_tokens).await;
                tracing::info!(tokens = window.tokens, source = ?window.source, "context window");
                window
            })
            .await
    }

    /// How a window of `window` tokens is spent; `shrink` > 1 after the provider refused a prompt as
    /// too long.
    pub fn plan(&self, window: u32, shrink: usize) -> Plan {
        let window = window as usize / shrink.max(1);
        let output = (self.max_tokens as usize).min(window / 4).max(256);
        let input = window
            .saturating_sub(output)
            .saturating_sub(window * WINDOW_MARGIN_PERCENT / 100);
        Plan {
            output: u32::try_from(output).unwrap_or(u32::MAX),
            input,
        }
    }

    /// The messages of a turn's first request: the history fitted to what is left after the system
    /// prompt and the new message, and the new message (context, what the last actions did, the
    /// request) within the rest.
    pub fn first_request(
        &self,
        system: &str,
        past: &History,
        prompt: Prompt<'_>,
        plan: Plan,
    ) -> (Vec<Message>, Kept, context::Assembled) {
        // A fix round's report states every failure: the list of the last actions gives statuses only.
        let detail = if prompt.fix_round {
            voice::Detail::StatusOnly
        } else {
            voice::Detail::Full
        };
        let mut tail = voice::previous_results(&past.last_results, detail);
        tail.push_str(&voice::request(prompt.text));
        // A model that takes no images is sent none (not even counted).
        let images: &[crate::provider::Image] = if self.images { prompt.images } else { &[] };
        let (editor, prompt) = (prompt.editor, prompt.text);
        let pictures: usize = images.iter().map(crate::provider::Image::tokens).sum();
        let fixed = crate::tokens::estimate(system) + crate::tokens::estimate(&tail) + pictures;
        let available = plan.input.saturating_sub(fixed);
        // The history may take half of what is left; the context gets the rest.
        let history = history::fit(&past.messages, available / 2);
        let spent = history::cost(&history);
        let snapshot = self.map.as_ref().map(ProjectMap::snapshot);
        // A part of the budget stays free for the files the model reads in this turn.
        let context_tokens = available.saturating_sub(spent) * (100 - READ_RESERVE_PERCENT) / 100;
        let recent = history::recent_requests(&past.messages, RECENT_REQUESTS);
        let assembled = context::assemble(&context::Inputs {
            root: &self.workspace,
            editor,
            prompt,
            recent: &recent,
            touched: &past.touched,
            map: snapshot.as_deref(),
            limits: self.budget,
            tokens: context_tokens,
        });
        let mut message = assembled.text.clone();
        message.push_str(&voice::not_attached(&assembled.refused));
        message.push_str(&tail);
        let kept = Kept {
            message: Message {
                role: Role::User,
                content: message,
                images: images.to_vec(),
            },
            // Old, it keeps what its actions did and the request; the context goes.
            short: Some(tail.trim_start().to_owned()),
            answers: false,
        };
        let mut messages = history;
        messages.push(kept.message.clone());
        (messages, kept, assembled)
    }

    /// The user message a new conversation's first request would carry for `prompt` in a window of
    /// `window` tokens (no MCP tools, no sandbox): what `openbolt context` prints.
    pub fn first_message(&self, prompt: &str, window: u32) -> String {
        let system = self.system("", &Containment::default());
        let editor = EditorContext::default();
        let prompt = Prompt {
            text: prompt,
            editor: &editor,
            fix_round: false,
            images: &[],
        };
        let (_, kept, _) =
            self.first_request(&system, &History::default(), prompt, self.plan(window, 1));
        kept.message.content
    }

    /// Runs one turn to its end. Events go to `events` as they happen; `past` gains the user's
    /// message and the reply (also a partial one: the text streamed so far is kept).
    ///
    /// When a reply looks things up (reads, searches, tool calls), the turn answers it: a follow-up
    /// request carries the answers, up to [`MAX_LOOKUP_ROUNDS`] times — the last answers tell the model
    /// to go on with what it has. When the provider refuses the first request as too long (or
    /// answers with nothing at all), it is sent once more with half the budget.
    pub async fn answer(
        &self,
        past: &mut History,
        prompt: Prompt<'_>,
        runner: &mut Runner,
        events: mpsc::Sender<TurnEvent>,
        cancel: CancellationToken,
    ) -> TurnOutcome {
        if let Some(map) = &self.map {
            // A map still on its first walk gets a moment (a one-shot `openbolt chat` starts it just
            // now); then the turn uses what is ready.
            if !map.snapshot().complete {
                crate::blocking(|| map.wait_past(0, MAP_PATIENCE));
            }
            // What changed on disk since the last turn, and the buffers just typed in: picked up now
            // if that is quick, else for the next turn.
            map.rescan();
            crate::blocking(|| map.settle(SETTLE_PATIENCE));
        }
        let window = self.context_window().await;
        // The MCP servers start with the first turn that needs their tools (Stop is heard meanwhile;
        // a server still starting then comes up in the background).
        let tools = match runner.mcp.clone() {
            Some(mcp) => {
                let (tools, failures) = tokio::select! {
                    listed = runner.mcp_tools(&mcp, &cancel) => listed,
                    () = cancel.cancelled() => (Vec::new(), Vec::new()),
                };
                for failure in failures {
                    let _ = events.send(TurnEvent::Notice(failure)).await;
                }
                let budget = (window.tokens as usize / 10).min(MAX_TOOLS_TOKENS);
                voice::tools(&tools, budget)
            }
            None => String::new(),
        };
        let system = self.system(&tools, &Containment::of(runner.sandbox().as_ref()));
        let mut shrink = 1;
        let mut plan = self.plan(window.tokens, shrink);
        // The context walks the workspace and reads files.
        let (mut messages, first, assembled) =
            crate::blocking(|| self.first_request(&system, past, prompt, plan));
        runner.saw_context(&assembled.shown);
        runner.ranked = assembled.ranked;
        // This turn's messages, as history keeps them.
        let mut said = vec![first];
        let mut outcome = TurnOutcome {
            status: TurnStatus::Complete,
            error: None,
            reply: String::new(),
            usage: Usage::default(),
            actions: Vec::new(),
            previous_contents: Vec::new(),
        };
        let mut first_action = 0;
        let mut lookups = 0;
        loop {
            // Reads may fill what the request leaves of the input budget.
            runner.answer_tokens = plan
                .input
                .saturating_sub(estimate_messages(&system, &messages));
            let (streamed, report) = self
                .exchange(
                    &system,
                    messages.clone(),
                    plan,
                    runner,
                    first_action,
                    &events,
                    &cancel,
                )
                .await;
            if streamed.refused_as_too_long && shrink == 1 && first_action == 0 {
                shrink = 2;
                plan = self.plan(window.tokens, shrink);
                let sent = estimate_messages(&system, &messages);
                let _ = events
                    .send(TurnEvent::Notice(format!(
                        "the model refused the prompt as too long (about {sent} tokens for a window of {} tokens); trying once more with half the context",
                        window.tokens
                    )))
                    .await;
                outcome.usage += streamed.usage;
                let (smaller, first, assembled) =
                    crate::blocking(|| self.first_request(&system, past, prompt, plan));
                runner.saw_context(&assembled.shown);
                runner.ranked = assembled.ranked;
                messages = smaller;
                said = vec![first];
                continue;
            }
            let mut error = streamed.error.clone();
            if streamed.refused_as_too_long {
                let sent = estimate_messages(&system, &messages);
                error = Some(too_long_message(
                    sent,
                    window,
                    error.as_deref().unwrap_or(""),
                ));
            }
            first_action += streamed.actions_seen;
            outcome.usage += streamed.usage;
            if !outcome.reply.is_empty() && !streamed.reply.is_empty() {
                outcome.reply.push_str("\n\n");
            }
            outcome.reply.push_str(&streamed.reply);
            let mut actions = streamed.unfinished;
            actions.extend(report.updates.iter().cloned());
            actions.sort_by_key(|update| update.action_id);
            let answers = voice::answers(
                &actions,
                &report,
                MAX_LOOKUP_ROUNDS.saturating_sub(lookups + 1),
            );
            outcome.actions.extend(actions);
            outcome.previous_contents.extend(report.previous_contents);
            if !streamed.reply.is_empty() {
                let reply = Kept::plain(Role::Assistant, streamed.reply);
                messages.push(reply.message.clone());
                said.push(reply);
            }
            outcome.status = streamed.status;
            outcome.error = error;
            let Some(answers) = answers.filter(|_| streamed.status == TurnStatus::Complete) else {
                break;
            };
            if lookups == MAX_LOOKUP_ROUNDS {
                // Its last answers told the model to go on with what it had: what it asked for
                // after them stays unanswered, and the turn ends with what the reply did.
                let _ = events
                    .send(TurnEvent::Notice(format!(
                        "the model looked things up in {MAX_LOOKUP_ROUNDS} rounds, the most a turn allows, and then asked for more; the turn ends here with what it did (ask again to go on)"
                    )))
                    .await;
                break;
            }
            lookups += 1;
            let answers = Kept {
                message: Message::text(Role::User, answers.text),
                short: Some(answers.short),
                answers: true,
            };
            messages.push(answers.message.clone());
            said.push(answers);
            // The next exchange's prose is a new paragraph, live as in the stored reply.
            let _ = events.send(TurnEvent::Text("\n\n".to_owned())).await;
        }

        past.messages.extend(said);
        history::keep_last_images(&mut past.messages);
        past.last_results = outcome.actions.clone();
        past.touch(&outcome.actions);
        if let Some(map) = &self.map {
            let written: Vec<PathBuf> = outcome
                .previous_contents
                .iter()
                .map(|previous| previous.path.clone())
                .collect();
            map.files_changed(&written);
        }
        outcome
    }

    /// One request (with its continuations) and the actions of its reply, run as they close.
    #[expect(
        clippy::too_many_arguments,
        reason = "one exchange's whole setting; a struct for it would be built at one call site"
    )]
    async fn exchange(
        &self,
        system: &str,
        messages: Vec<Message>,
        plan: Plan,
        runner: &mut Runner,
        first_action: usize,
        events: &mpsc::Sender<TurnEvent>,
        cancel: &CancellationToken,
    ) -> (Streamed, RunnerReport) {
        let (jobs, queue) = mpsc::channel(QUEUED_ACTIONS);
        let runner_cancel = cancel.child_token();
        let streaming = self.stream_reply(
            system,
            messages,
            plan.output,
            first_action,
            jobs,
            events,
            cancel,
        );
        let running = runner.run_queue(queue, events.clone(), runner_cancel.clone());
        tokio::join!(
            async {
                let streamed = streaming.await;
                // Aborting stops the runner too; a failed stream lets the complete actions finish.
                if streamed.status == TurnStatus::Aborted {
                    runner_cancel.cancel();
                }
                streamed
            },
            running
        )
    }
}

/// The most the list of MCP tools takes of the system prompt (and never more than a tenth of the window).
const MAX_TOOLS_TOKENS: usize = 4_000;

/// Roughly how many tokens a request holds.
fn estimate_messages(system: &str, messages: &[Message]) -> usize {
    crate::tokens::estimate(system) + history::cost(messages)
}

/// What the user reads when the model refused a prompt as too long, or sent nothing back.
fn too_long_message(sent: usize, window: ContextWindow, error: &str) -> String {
    let source = match window.source {
        WindowSource::Setting => "your contextTokens setting",
        WindowSource::Server => "what the server reported",
        WindowSource::Known => "the model's published window",
        WindowSource::Default => "a default for models nobody describes",
    };
    format!(
        "the model sent no reply ({error}): the prompt, about {sent} tokens, is most likely longer than the context window the server runs with ({} tokens, from {source}); set contextTokens to the server's real window (for llama.cpp, its --ctx-size)",
        window.tokens
    )
}
