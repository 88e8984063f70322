//! The runner's two doors into the editor: file actions as workspace edits, and approvals as
//! `window/showMessageRequest`.
//!
//! How a file action reaches disk (the brief's invariants 1–3):
//! - The document is open with unsaved changes (its text differs from the file): a conflict. Nothing is
//!   applied, the action fails saying so; the user's text and the file stay as they are.
//! - The client declared `savesEdits` (our extensions): one `workspace/applyEdit` — a versioned full
//!   replacement for an open document, create-and-fill for a new file — then we wait for the client's
//!   `didSave`, so the file is on disk before the next action runs and the editor never sees a file
//!   changed under it. If no save comes in time, we write the file ourselves.
//! - A plain client: the file is written atomically to disk; an open document also gets the edit, so it
//!   shows the change and the user can undo it.

use super::documents::Documents;
use super::position;
use crate::actions::FileWriter;
use crate::actions::approval::{Approval, ApprovalRequest, Approver};
use crate::actions::files::write_atomically;
use futures::future::BoxFuture;
use ropey::Rope;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    CreateFile, CreateFileOptions, DeleteFile, DeleteFileOptions, DocumentChangeOperation,
    DocumentChanges, MessageActionItem, MessageType, OneOf,
    OptionalVersionedTextDocumentIdentifier, Range, ResourceOp, ShowMessageRequestParams,
    TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

/// How long a client that saves edits itself gets to do so.
const SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes files through the editor.
pub struct EditorWriter {
    pub client: Client,
    pub documents: Arc<Documents>,
    pub saves_edits: bool,
    /// URIs the client saved (`didSave`).
    pub saved: broadcast::Sender<String>,
}

impl std::fmt::Debug for EditorWriter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EditorWriter")
            .field("saves_edits", &self.saves_edits)
            .finish_non_exhaustive()
    }
}

impl FileWriter for EditorWriter {
    fn write<'a>(&'a self, path: &'a Path, content: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let uri = Uri::from_file_path(path)
                .ok_or_else(|| format!("{} has no file URI", path.display()))?;
            let disk = tokio::fs::read(path).await.ok();
            let open = self.documents.by_path(path);
            if let Some((_, document)) = &open {
                let text = document.rope.to_string();
                if disk.as_deref() != Some(text.as_bytes()) {
                    return Err(
                        "it has unsaved changes in the editor; the AI's version was not applied \
                         (save or undo your changes and ask again — your text is untouched)"
                            .to_owned(),
                    );
                }
            }
            let encoding = self.documents.encoding();
            let edit = match &open {
                Some((_, document)) => Some(text_edit(
                    &uri,
                    Some(document.version),
                    &document.rope,
                    content,
                    encoding,
                )),
                None if self.saves_edits => {
                    let existing = disk
                        .as_deref()
                        .map(|bytes| Rope::from_str(&String::from_utf8_lossy(bytes)))
                        .unwrap_or_default();
                    Some(text_edit(&uri, None, &existing, content, encoding))
                }
                None => None,
            };
            if let Some(edit) = edit {
                let mut operations = Vec::new();
                if disk.is_none() {
                    operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                        CreateFile {
                            uri: uri.clone(),
                            options: Some(CreateFileOptions {
                                overwrite: Some(false),
                                ignore_if_exists: Some(true),
                            }),
                            annotation_id: None,
                        },
                    )));
                }
                operations.push(DocumentChangeOperation::Edit(edit));
                if self.apply_and_save(&uri, path, operations, content).await? {
                    return Ok(());
                }
            }
            write_to_disk(path, content).await
        })
    }

    /// Deletes a file the AI created: through the editor when a document shows it (so the editor
    /// closes it), then from disk.
    fn delete<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let Some((_, document)) = self.documents.by_path(path) {
                let text = document.rope.to_string();
                if tokio::fs::read(path).await.ok().as_deref() != Some(text.as_bytes()) {
                    return Err("it has unsaved changes in the editor; left as it is".to_owned());
                }
                let uri = Uri::from_file_path(path)
                    .ok_or_else(|| format!("{} has no file URI", path.display()))?;
                let response = self
                    .client
                    .apply_edit(WorkspaceEdit {
                        document_changes: Some(DocumentChanges::Operations(vec![
                            DocumentChangeOperation::Op(ResourceOp::Delete(DeleteFile {
                                uri,
                                options: Some(DeleteFileOptions {
                                    recursive: Some(false),
                                    ignore_if_not_exists: Some(true),
                                }),
                                annotation_id: None,
                            })),
                        ])),
                        ..WorkspaceEdit::default()
                    })
                    .await
                    .map_err(|error| format!("the editor did not take the edit: {error}"))?;
                if !response.applied {
                    return Err("the editor refused to delete it".to_owned());
                }
            }
            match tokio::fs::remove_file(path).await {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })
    }

    fn open_documents(&self) -> Vec<(std::path::PathBuf, String)> {
        self.documents
            .all()
            .into_iter()
            .filter_map(|document| Some((document.path?, document.rope.to_string())))
            .collect()
    }

    fn current(&self, path: &Path) -> Option<Vec<u8>> {
        // The editor's text is what counts for an open document.
        match self.documents.by_path(path) {
            Some((_, document)) => Some(document.rope.to_string().into_bytes()),
            None => std::fs::read(path).ok(),
        }
    }

    /// An edit goes to the open document (its unsaved changes elsewhere stay: the edit is small line
    /// changes against the buffer); a client that saves edits then saves it, a plain client keeps it
    /// unsaved. A file not open is written like a file action.
    fn edit<'a>(
        &'a self,
        path: &'a Path,
        before: &'a str,
        after: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let Some((uri, document)) = self.documents.by_path(path) else {
                if tokio::fs::read(path).await.ok().as_deref() != Some(before.as_bytes()) {
                    return Err(
                        "the file changed while the edit was made; nothing was changed".to_owned(),
                    );
                }
                return self.write(path, after).await.map(|()| None);
            };
            if document.rope != before {
                return Err(
                    "the document changed while the edit was made; nothing was changed".to_owned(),
                );
            }
            // The client's own spelling of the document's URI: the one its didSave will carry.
            let uri: Uri = uri
                .parse()
                .map_err(|_| format!("{} has no valid URI", path.display()))?;
            let edit = text_edit(
                &uri,
                Some(document.version),
                &document.rope,
                after,
                self.documents.encoding(),
            );
            let operations = vec![DocumentChangeOperation::Edit(edit)];
            if self.apply_and_save(&uri, path, operations, after).await? {
                return Ok(None);
            }
            if self.saves_edits {
                // The client did not save in time: the buffer has the edit, the disk does not yet.
                return Ok(Some("in the editor; not saved yet".to_owned()));
            }
            Ok(Some("in the editor, not saved".to_owned()))
        })
    }
}

impl EditorWriter {
    /// Sends `operations` as one `workspace/applyEdit`; a client that saves edits is then waited for
    /// until the disk holds `content`. True when the file is on disk as `content`.
    async fn apply_and_save(
        &self,
        uri: &Uri,
        path: &Path,
        operations: Vec<DocumentChangeOperation>,
        content: &str,
    ) -> Result<bool, String> {
        let mut saved = self.saved.subscribe();
        let response = self
            .client
            .apply_edit(WorkspaceEdit {
                document_changes: Some(DocumentChanges::Operations(operations)),
                ..WorkspaceEdit::default()
            })
            .await
            .map_err(|error| format!("the editor did not take the edit: {error}"))?;
        if !response.applied {
            return Err(format!(
                "the editor refused the edit{}",
                response
                    .failure_reason
                    .map(|reason| format!(": {reason}"))
                    .unwrap_or_default()
            ));
        }
        if !self.saves_edits {
            return Ok(false);
        }
        let wanted = uri.as_str().to_owned();
        let waited = tokio::time::timeout(SAVE_TIMEOUT, async {
            loop {
                match saved.recv().await {
                    Ok(saved_uri) if saved_uri == wanted => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
        .await;
        let disk = tokio::fs::read(path).await.ok();
        if waited.is_ok() && disk.as_deref() == Some(content.as_bytes()) {
            return Ok(true);
        }
        // Sizes, not contents: a file may hold secrets.
        tracing::warn!(
            path = %path.display(),
            saved = waited.is_ok(),
            disk_bytes = ?disk.map(|disk| disk.len()),
            sent_bytes = content.len(),
            "the client did not save our edit in time"
        );
        Ok(false)
    }
}

/// The edit that turns the document `current` into `content`: a few line replacements (a line diff), not
/// one replacement of the whole document, so that the editor keeps cursors, folds and marks elsewhere
/// and undoes it in one step.
fn text_edit(
    uri: &Uri,
    version: Option<i32>,
    current: &Rope,
    content: &str,
    encoding: position::Encoding,
) -> TextDocumentEdit {
    let before = current.to_string();
    let edits = crate::actions::diff::line_changes(&before, content)
        .into_iter()
        .map(|change| {
            let start = current.byte_to_char(change.start_byte);
            let end = current.byte_to_char(change.end_byte);
            OneOf::Left(TextEdit {
                range: Range {
                    start: position::to_position(current, start, encoding),
                    end: position::to_position(current, end, encoding),
                },
                new_text: change.text,
            })
        })
        .collect();
    TextDocumentEdit {
        text_document: OptionalVersionedTextDocumentIdentifier {
            uri: uri.clone(),
            version,
        },
        edits,
    }
}

async fn write_to_disk(path: &Path, content: &str) -> Result<(), String> {
    let path = path.to_path_buf();
    let content = content.as_bytes().to_vec();
    tokio::task::spawn_blocking(move || write_atomically(&path, &content))
        .await
        .map_err(|error| format!("the write task failed: {error}"))?
        .map_err(|error| error.to_string())
}

/// Asks the user with `window/showMessageRequest`: Run, Always for this session, Skip.
pub struct EditorApprover {
    pub client: Client,
}

impl std::fmt::Debug for EditorApprover {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("EditorApprover")
    }
}

pub const RUN: &str = "Run";
pub const SKIP: &str = "Skip";

/// Which action asks, for a client that answers on the action's card (LSP lets an item carry more
/// properties; other clients ignore them). Nothing for a question that is not about an action.
fn asking(
    request: &ApprovalRequest,
) -> std::collections::HashMap<String, tower_lsp_server::ls_types::MessageActionItemProperty> {
    use tower_lsp_server::ls_types::MessageActionItemProperty as Property;
    let (Some(action_id), Some(action_type)) = (request.action_id, request.subject.action_type())
    else {
        return std::collections::HashMap::new();
    };
    [
        ("sessionId", Property::String(request.session_id.clone())),
        ("messageId", Property::String(request.message_id.clone())),
        (
            "actionId",
            Property::Integer(i32::try_from(action_id).unwrap_or(i32::MAX)),
        ),
        ("command", Property::String(request.command.clone())),
        ("type", Property::String(action_type.to_owned())),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

impl Approver for EditorApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Approval> {
        Box::pin(async move {
            let (what, always) = (request.subject.what(), request.subject.always());
            let properties = asking(request);
            let params = ShowMessageRequestParams {
                typ: MessageType::WARNING,
                message: format!("OpenBolt wants to {what}: {}", request.command),
                actions: Some(
                    [RUN, always, SKIP]
                        .map(|title| MessageActionItem {
                            title: title.to_owned(),
                            properties: properties.clone(),
                        })
                        .to_vec(),
                ),
            };
            match self
                .client
                .send_request::<tower_lsp_server::ls_types::request::ShowMessageRequest>(params)
                .await
            {
                Ok(Some(item)) if item.title == RUN => Approval::Run,
                Ok(Some(item)) if item.title == always => Approval::AlwaysThisSession,
                Ok(Some(_)) => Approval::Skip("the user chose not to run it".to_owned()),
                Ok(None) => Approval::Skip("the question was dismissed".to_owned()),
                Err(error) => Approval::Skip(format!("the editor could not ask: {error}")),
            }
        })
    }
}
