//! The `openbolt/*` requests (`docs/protocol.md`). Each is short: it checks its params, asks the
//! conversation layer or the terminals, and answers; reads of the store run off the async threads.

use super::backend::Backend;
use super::errors::ServerError;
use super::protocol::*;
use super::turn::run_chat;
use crate::conversation::{Conversations, transcript};
use serde_json::Value;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::Result;

/// Runs blocking work (SQLite reads) on the blocking pool.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, ServerError> + Send + 'static,
) -> std::result::Result<T, ServerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|failure| ServerError::Internal(failure.to_string()))?
}

impl Backend {
    fn conversations(&self) -> std::result::Result<Arc<Conversations>, ServerError> {
        self.state.conversations()
    }

    /// `openbolt/chat`: runs a turn; answers when it has ended.
    pub async fn chat(&self, params: ChatParams) -> Result<ChatResult> {
        Ok(run_chat(self.state.clone(), params).await?)
    }

    /// `openbolt/abort`: stops the session's running turn, if any.
    pub async fn abort(&self, params: SessionParams) -> Result<Value> {
        let conversation = self
            .conversations()?
            .find(&params.session_id)
            .ok_or_else(|| {
                ServerError::InvalidParams(format!("no session {}", params.session_id))
            })?;
        Ok(Value::Bool(conversation.abort()))
    }

    /// `openbolt/sessions`: the conversations of this workspace, newest first.
    pub async fn sessions(&self, _: NoParams) -> Result<Vec<SessionSummary>> {
        let Ok(conversations) = self.conversations() else {
            return Ok(Vec::new());
        };
        let busy = |id: &str| {
            conversations
                .find(id)
                .is_some_and(|conversation| conversation.is_busy())
        };
        if let Some(store) = conversations.store().cloned() {
            let workspace = conversations.workspace().to_path_buf();
            let rows = off_thread(move || {
                store
                    .sessions(&workspace)
                    .map_err(|failure| ServerError::Store(failure.to_string()))
            })
            .await?;
            return Ok(rows
                .into_iter()
                .map(|row| SessionSummary {
                    busy: busy(&row.session_id),
                    session_id: row.session_id,
                    title: row.title,
                    message_count: usize::try_from(row.message_count).unwrap_or_default(),
                })
                .collect());
        }
        Ok(conversations
            .loaded()
            .iter()
            .rev()
            .map(|conversation| {
                let transcript = conversation.transcript();
                SessionSummary {
                    session_id: conversation.id.clone(),
                    title: transcript
                        .first()
                        .map(|message| message.text.chars().take(80).collect())
                        .unwrap_or_default(),
                    message_count: transcript.len(),
                    busy: conversation.is_busy(),
                }
            })
            .collect())
    }

    /// `openbolt/mcpServers`: the configured MCP servers and what each is doing.
    pub async fn mcp_servers(&self, _: NoParams) -> Result<Vec<crate::mcp::ServerStatus>> {
        Ok(self.state.mcp.status())
    }

    /// `openbolt/loadSession`: one conversation as the chat panel shows it.
    pub async fn load_session(&self, params: SessionParams) -> Result<SessionTranscript> {
        let conversations = self.conversations()?;
        if let Some(conversation) = conversations.find(&params.session_id) {
            return Ok(SessionTranscript {
                session_id: conversation.id.clone(),
                messages: conversation.transcript(),
            });
        }
        let store = conversations.store().cloned().ok_or_else(|| {
            ServerError::InvalidParams(format!("no session {}", params.session_id))
        })?;
        let session_id = params.session_id.clone();
        let messages = off_thread(move || {
            transcript::stored(&store, &session_id)
                .map_err(|failure| ServerError::InvalidParams(failure.to_string()))
        })
        .await?;
        Ok(SessionTranscript {
            session_id: params.session_id,
            messages,
        })
    }

    /// `openbolt/revert`: undoes the files of a turn (`messageId`, default the last one not reverted)
    /// and of every later turn, through the editor; files changed since are reported, not touched.
    pub async fn revert(&self, params: RevertParams) -> Result<RevertResult> {
        let conversations = self.conversations()?;
        let writer = self.state.writer(self.state.client_options().saves_edits);
        // It reads the store and the files: on the main runtime, not the protocol thread.
        let reverting = self.state.work.spawn(async move {
            conversations
                .revert(&params.session_id, params.message_id.as_deref(), &writer)
                .await
        });
        let result = reverting
            .await
            .map_err(|failure| ServerError::Internal(failure.to_string()))?
            .map_err(ServerError::from)?;
        // What the reverted turns wrote is gone: so are its syntax errors.
        for file in &result.files {
            self.state.publish_syntax(&file.path, &[]).await;
        }
        Ok(result)
    }

    /// `openbolt/diagnostics` (a notification): the editor's errors in the files of a turn, for the turn
    /// waiting for them.
    pub async fn editor_diagnostics(&self, params: EditorDiagnosticsParams) {
        let waiting = crate::lock(&self.state.editor_errors).remove(&params.message_id);
        match waiting {
            Some(answer) => {
                let _ = answer.send(params.files);
            }
            None => {
                tracing::info!(message_id = %params.message_id, "diagnostics for no waiting turn")
            }
        }
    }

    /// `openbolt/fileDiff`: a file as a turn found it and left it (for a diff view).
    pub async fn file_diff(&self, params: FileDiffParams) -> Result<FileDiff> {
        let conversations = self.conversations()?;
        let store = conversations.store().cloned().ok_or_else(|| {
            ServerError::InvalidParams("the session store is not available".to_owned())
        })?;
        let root = std::fs::canonicalize(conversations.workspace())
            .map_err(|failure| ServerError::Internal(failure.to_string()))?;
        let path = crate::actions::files::resolve_in_workspace(&root, &params.file_path)
            .map_err(|failure| ServerError::InvalidParams(failure.to_string()))?;
        let message_id = params.message_id.clone();
        let versions = off_thread(move || {
            store
                .file_versions(&message_id, &path)
                .map_err(|failure| ServerError::Internal(failure.to_string()))
        })
        .await?
        .ok_or_else(|| {
            ServerError::InvalidParams(format!(
                "the turn {} did not change {}",
                params.message_id, params.file_path
            ))
        })?;
        let text = |bytes: Option<Vec<u8>>| {
            bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(FileDiff {
            file_path: params.file_path,
            existed: versions.existed,
            before: text(versions.before),
            after: text(versions.after),
        })
    }

    pub async fn terminal_input(&self, params: TerminalInputParams) -> Result<Value> {
        self.state
            .terminals
            .write(params.terminal_id, params.data.as_bytes())
            .await
            .map_err(|failure| ServerError::InvalidParams(failure.to_string()))?;
        Ok(Value::Null)
    }

    pub async fn terminal_resize(&self, params: TerminalResizeParams) -> Result<Value> {
        match self
            .state
            .terminals
            .resize(params.terminal_id, params.cols, params.rows)
        {
            // A finished terminal keeps its size: editors resize panels of ended terminals too.
            Ok(()) | Err(crate::terminal::TerminalError::Exited(_)) => Ok(Value::Null),
            Err(failure) => Err(ServerError::InvalidParams(failure.to_string()).into()),
        }
    }

    pub async fn terminal_kill(&self, params: TerminalParams) -> Result<Value> {
        // Stopping waits out the grace period: do it off the handler.
        let terminals = self.state.terminals.clone();
        if !terminals
            .list()
            .iter()
            .any(|terminal| terminal.terminal_id == params.terminal_id)
        {
            return Err(
                ServerError::InvalidParams(format!("no terminal {}", params.terminal_id)).into(),
            );
        }
        self.state.work.spawn(async move {
            let _ = terminals.kill(params.terminal_id).await;
        });
        Ok(Value::Null)
    }

    /// `openbolt/terminals`: every terminal with its kept output, for a late viewer.
    pub async fn terminals(&self, _: NoParams) -> Result<Vec<TerminalSnapshot>> {
        let terminals = &self.state.terminals;
        Ok(terminals
            .list()
            .into_iter()
            .map(|info| TerminalSnapshot {
                tail: terminals.tail(info.terminal_id).unwrap_or_default(),
                info,
            })
            .collect())
    }

    /// `openbolt/document`: the server's copy of an open document (for diagnosing sync problems).
    pub async fn document(&self, params: DocumentParams) -> Result<DocumentState> {
        let document = self.state.documents.get(&params.uri).ok_or_else(|| {
            ServerError::InvalidParams(format!("{} is not open", params.uri.as_str()))
        })?;
        Ok(DocumentState {
            version: document.version,
            text: document.rope.to_string(),
        })
    }
}
