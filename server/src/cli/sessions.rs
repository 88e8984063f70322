//! `openbolt sessions` (list, export) and `openbolt revert`: the saved conversations of a workspace.

use crate::actions::DiskWriter;
use crate::conversation::ConversationError;
use crate::conversation::revert::{FileRevert, revert_turns};
use crate::store::{MessageRole, Store, StoreError, StoredStatus, default_data_dir};
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
        return print(&export_markdown(&store, id)?);
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
pub async fn run_revert(arguments: &RevertArguments) -> anyhow::Result<u8> {
    let store = open_store()?;
    let workspace = workspace(arguments.workspace.as_ref())?;
    let session = match &arguments.session {
        Some(id) => id.clone(),
        None => store
            .latest_session(&workspace)?
            .with_context(|| format!("no sessions in {}", workspace.display()))?,
    };
    let reverted = revert_turns(
        &store,
        &workspace,
        &session,
        arguments.to.as_deref(),
        &DiskWriter,
    )
    .await
    .map_err(|error| match error {
        ConversationError::NothingToRevert => {
            anyhow::anyhow!("nothing to revert: every turn of this session is already reverted")
        }
        other => other.into(),
    })?;
    let mut out = String::new();
    for file in &reverted.files {
        let line = match file.status {
            FileRevert::Restored => format!("  ↺ {} restored\n", file.path),
            FileRevert::Deleted => format!("  ✕ {} deleted (the turn created it)\n", file.path),
            FileRevert::Conflict => format!(
                "  ! {}: {}\n",
                file.path,
                file.reason.as_deref().unwrap_or_default()
            ),
        };
        out.push_str(&line);
    }
    let conflicts = reverted.conflicts();
    out.push_str(&format!(
        "reverted {} turn(s) of session {session}{}\n",
        reverted.reverted.len(),
        if conflicts > 0 {
            format!("; {conflicts} file(s) left as they are")
        } else {
            String::new()
        }
    ));
    print(&out)?;
    Ok(u8::from(conflicts > 0))
}

/// A session as Markdown: prompts, prose, and what each action did.
/// A page check as a list item of the export, its screenshot shown below it.
fn page_check_markdown(check: &crate::types::PageCheck) -> String {
    let found = if let Some(error) = &check.error {
        format!("failed: {error}")
    } else if check.problems.is_empty() {
        "no problems".to_owned()
    } else {
        check
            .problems
            .iter()
            .map(|problem| {
                let first = problem.message.lines().next().unwrap_or_default();
                format!("{}: {first}", problem.kind.as_str())
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = format!(
        "- page check of {}: {found}
",
        check.url
    );
    if let Some(shot) = &check.screenshot {
        out.push_str(&format!(
            "
  ![The page at {}](<{}>)

",
            check.url, shot.path
        ));
    }
    out
}

pub fn export_markdown(store: &Store, session_id: &str) -> Result<String, StoreError> {
    let messages = store.messages(session_id)?;
    let title = store.title(session_id)?;
    let mut out = format!("# {title}\n\n");
    for message in messages {
        if message.role == MessageRole::User {
            out.push_str(&format!("## You\n\n{}\n\n", message.text.trim_end()));
            continue;
        }
        out.push_str("## OpenBolt\n\n");
        out.push_str(message.prose.trim_end());
        out.push_str("\n\n");
        for action in &message.actions {
            out.push_str(&format!(
                "- {}: {}",
                action.describe(),
                action.status.as_str()
            ));
            if let Some(error) = &action.error {
                out.push_str(&format!(" — {error}"));
            }
            out.push('\n');
        }
        for check in &message.pages {
            out.push_str(&page_check_markdown(check));
        }
        if let Some(status) = message.status
            && status != StoredStatus::Complete
        {
            out.push_str(&format!("\n*The reply was {}.*\n", status.as_str()));
        }
        if message.reverted {
            out.push_str("\n*This turn was reverted.*\n");
        }
        out.push('\n');
    }
    Ok(out)
}
