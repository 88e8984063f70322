//! `openbolt sessions` (list, export) and `openbolt revert`: the saved conversations of a workspace.

use crate::actions::files::write_atomically;
use crate::store::{Store, default_data_dir};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SessionsArguments {
    /// The project directory (default: the current directory).
    #[arg(long, short = 'C', value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print this session as Markdown instead of listing.
    #[arg(long, value_name = "ID")]
    pub export: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RevertArguments {
    /// The project directory (default: the current directory).
    #[arg(long, short = 'C', value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The session (default: the workspace's most recent).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Revert this reply and every later one (default: the last reply that was not reverted).
    #[arg(long, value_name = "MESSAGE_ID")]
    pub to: Option<String>,
}

fn workspace(path: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match path {
        Some(path) => path.clone(),
        None => std::env::current_dir().context("finding the current directory")?,
    };
    std::fs::canonicalize(&path)
        .with_context(|| format!("the workspace {} does not exist", path.display()))
}

fn open_store() -> anyhow::Result<Store> {
    Ok(Store::open(&default_data_dir(|name| {
        std::env::var(name).ok()
    }))?)
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

pub fn run_sessions(arguments: &SessionsArguments) -> anyhow::Result<()> {
    let store = open_store()?;
    if let Some(id) = &arguments.export {
        return print(&store.export_markdown(id)?);
    }
    let workspace = workspace(arguments.workspace.as_ref())?;
    let sessions = store.sessions(&workspace)?;
    if sessions.is_empty() {
        return print(&format!("no sessions in {}\n", workspace.display()));
    }
    let mut out = String::new();
    for session in sessions {
        out.push_str(&format!(
            "{}  {:>3} messages  {}\n",
            session.session_id, session.message_count, session.title
        ));
    }
    print(&out)
}

/// Reverts on disk; returns the exit code (1 when a file was left alone).
pub fn run_revert(arguments: &RevertArguments) -> anyhow::Result<u8> {
    let store = open_store()?;
    let workspace = workspace(arguments.workspace.as_ref())?;
    let session = match &arguments.session {
        Some(id) => id.clone(),
        None => store
            .latest_session(&workspace)?
            .with_context(|| format!("no sessions in {}", workspace.display()))?,
    };
    let messages = store.messages(&session)?;
    let target = match &arguments.to {
        Some(id) => id.clone(),
        None => messages
            .iter()
            .rev()
            .find(|message| message.role == "assistant" && !message.reverted)
            .map(|message| message.message_id.clone())
            .context("nothing to revert: every turn of this session is already reverted")?,
    };
    let (turns, steps) = store.revert_plan(&session, &target, |path| std::fs::read(path).ok())?;
    let mut out = String::new();
    let mut conflicts = 0;
    for step in &steps {
        let shown = step
            .path
            .strip_prefix(&workspace)
            .unwrap_or(&step.path)
            .display();
        if let Some(conflict) = &step.conflict {
            conflicts += 1;
            out.push_str(&format!("  ! {shown}: {conflict}\n"));
            continue;
        }
        match &step.restore {
            Some(content) => {
                write_atomically(&step.path, content)
                    .with_context(|| format!("restoring {shown}"))?;
                out.push_str(&format!("  ↺ {shown} restored\n"));
            }
            None => {
                match std::fs::remove_file(&step.path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error).with_context(|| format!("deleting {shown}")),
                }
                // Directories the turn created for it go too, if nothing else is in them.
                let mut parent = step.path.parent();
                while let Some(directory) = parent.filter(|directory| {
                    directory.starts_with(&workspace) && *directory != workspace
                }) {
                    if std::fs::remove_dir(directory).is_err() {
                        break;
                    }
                    parent = directory.parent();
                }
                out.push_str(&format!("  ✕ {shown} deleted (the turn created it)\n"));
            }
        }
    }
    store.mark_reverted(turns.clone());
    out.push_str(&format!(
        "reverted {} turn(s) of session {session}{}\n",
        turns.len(),
        if conflicts > 0 {
            format!("; {conflicts} file(s) left as they are")
        } else {
            String::new()
        }
    ));
    print(&out)?;
    Ok(u8::from(conflicts > 0))
}
