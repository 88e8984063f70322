//! `openbolt context` (hidden): the first request a prompt would send, built offline — the workspace
//! mapped to the end, ranked and assembled for a window of `--context-tokens` — printed as the model
//! would read it. No model is asked. For `bench/locate` and for looking at what the model is shown.
//! With several prompts or windows (`--json`), one mapping serves them all: a JSON array of
//! `{prompt, window, text}`.

use crate::config::ProviderChoice;
use crate::engine::Engine;
use crate::project::ProjectMap;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ContextArguments {
    /// The requests (an empty one: what the ranking gives with no request).
    #[arg(default_value = "")]
    pub prompts: Vec<String>,
    /// The workspace (default: the current directory).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// The model's context window, in tokens (several: comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16384")]
    pub context_tokens: Vec<u32>,
    /// Print every request as JSON (`[{prompt, window, text}]`) instead of the first one's text.
    #[arg(long)]
    pub json: bool,
}

/// The window a request is built for when none is given (tokens; also `--context-tokens`' default).
const DEFAULT_WINDOW: u32 = 16_384;

/// How long the map may take to walk and parse the workspace.
const MAP_PATIENCE: Duration = Duration::from_secs(600);

pub fn run(arguments: &ContextArguments) -> anyhow::Result<()> {
    let workspace = match &arguments.workspace {
        Some(workspace) => workspace.clone(),
        None => std::env::current_dir().context("finding the current directory")?,
    };
    let workspace = std::fs::canonicalize(&workspace)
        .with_context(|| format!("opening the workspace {}", workspace.display()))?;
    // A provider is needed to build an engine; nothing is sent to it.
    let choice = ProviderChoice {
        replay_file: Some(PathBuf::from("/dev/null")),
        ..ProviderChoice::default()
    };
    let provider = crate::provider::Provider::new(choice.resolve(|_| None)?)?;
    let mut engine = Engine::new(Arc::new(provider), workspace.clone());
    let map = ProjectMap::start(&workspace, None);
    map.wait_past(0, MAP_PATIENCE);
    engine.map = Some(map);
    let mut stdout = std::io::stdout().lock();
    if !arguments.json {
        let prompt = arguments.prompts.first().map_or("", String::as_str);
        let window = arguments
            .context_tokens
            .first()
            .copied()
            .unwrap_or(DEFAULT_WINDOW);
        stdout.write_all(engine.first_message(prompt, window).as_bytes())?;
        stdout.flush()?;
        return Ok(());
    }
    let mut requests = Vec::new();
    for prompt in &arguments.prompts {
        for window in &arguments.context_tokens {
            requests.push(serde_json::json!({
                "prompt": prompt,
                "window": window,
                "text": engine.first_message(prompt, *window),
            }));
        }
    }
    serde_json::to_writer(&mut stdout, &requests)?;
    stdout.flush()?;
    Ok(())
}
