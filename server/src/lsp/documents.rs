//! The open documents, as the editor has them (unsaved changes included), in ropes.
//!
//! Changes are applied synchronously in the notification handler, before its first `.await`, so that
//! they keep the order the client sent them in (see ARCHITECTURE.md). A change whose version is not newer
//! than the document's is refused and logged: applying it could only corrupt the text.

use super::position::{self, Encoding};
use ropey::Rope;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use tower_lsp_server::ls_types::{TextDocumentContentChangeEvent, Uri};

/// One open document.
#[derive(Clone, Debug)]
pub struct Document {
    pub rope: Rope,
    pub version: i32,
    pub language_id: String,
    /// The file it shows, when its URI is a `file:` URI.
    pub path: Option<PathBuf>,
}

/// A change that could not be applied.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{0} is not open")]
    NotOpen(String),
    #[error("change to {uri} has version {got}, not newer than {have}; ignored")]
    Stale { uri: String, have: i32, got: i32 },
}

/// Every open document, by URI.
#[derive(Debug, Default)]
pub struct Documents {
    documents: Mutex<HashMap<String, Document>>,
    encoding: Mutex<Encoding>,
}

impl Documents {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Document>> {
        crate::lock(&self.documents)
    }

    pub fn set_encoding(&self, encoding: Encoding) {
        *crate::lock(&self.encoding) = encoding;
    }

    pub fn encoding(&self) -> Encoding {
        *crate::lock(&self.encoding)
    }

    pub fn open(&self, uri: &Uri, text: &str, version: i32, language_id: &str) {
        let document = Document {
            rope: Rope::from_str(text),
            version,
            language_id: language_id.to_owned(),
            path: uri.to_file_path().map(std::borrow::Cow::into_owned),
        };
        self.lock().insert(uri.as_str().to_owned(), document);
    }

    /// Applies `changes` in order (ranged or whole-text) and takes `version`.
    pub fn change(
        &self,
        uri: &Uri,
        version: i32,
        changes: &[TextDocumentContentChangeEvent],
    ) -> Result<(), ChangeError> {
        let encoding = self.encoding();
        let mut documents = self.lock();
        let document = documents
            .get_mut(uri.as_str())
            .ok_or_else(|| ChangeError::NotOpen(uri.as_str().to_owned()))?;
        if version <= document.version {
            return Err(ChangeError::Stale {
                uri: uri.as_str().to_owned(),
                have: document.version,
                got: version,
            });
        }
        for change in changes {
            match change.range {
                Some(range) => {
                    position::apply_change(&mut document.rope, range, &change.text, encoding);
                }
                None => document.rope = Rope::from_str(&change.text),
            }
        }
        document.version = version;
        Ok(())
    }

    pub fn close(&self, uri: &Uri) {
        self.lock().remove(uri.as_str());
    }

    pub fn get(&self, uri: &Uri) -> Option<Document> {
        self.lock().get(uri.as_str()).cloned()
    }

    /// The open document showing `path`, if any.
    pub fn by_path(&self, path: &std::path::Path) -> Option<(String, Document)> {
        self.lock()
            .iter()
            .find(|(_, document)| document.path.as_deref() == Some(path))
            .map(|(uri, document)| (uri.clone(), document.clone()))
    }

    /// Every open document with a file path.
    pub fn all(&self) -> Vec<Document> {
        self.lock()
            .values()
            .filter(|document| document.path.is_some())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use tower_lsp_server::ls_types::{Position, Range};

    fn change(start: (u32, u32), end: (u32, u32), text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range {
                start: Position {
                    line: start.0,
                    character: start.1,
                },
                end: Position {
                    line: end.0,
                    character: end.1,
                },
            }),
            range_length: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn changes_apply_in_order_and_stale_versions_are_refused() {
        let documents = Documents::default();
        let uri = Uri::from_str("file:///w/a.txt").expect("uri");
        documents.open(&uri, "hello\nworld\n", 1, "plaintext");
        documents
            .change(
                &uri,
                2,
                &[
                    change((0, 5), (0, 5), ", dear"),
                    change((1, 0), (1, 5), "🌍"),
                ],
            )
            .expect("applies");
        let document = documents.get(&uri).expect("open");
        assert_eq!(document.rope.to_string(), "hello, dear\n🌍\n");
        assert_eq!(document.version, 2);
        assert_eq!(document.path, Some(PathBuf::from("/w/a.txt")));
        assert!(matches!(
            documents.change(&uri, 2, &[change((0, 0), (0, 0), "x")]),
            Err(ChangeError::Stale {
                have: 2,
                got: 2,
                ..
            })
        ));
        documents
            .change(
                &uri,
                3,
                &[TextDocumentContentChangeEvent {
                    range: None,
                    range_length: None,
                    text: "all new".to_owned(),
                }],
            )
            .expect("whole text");
        assert_eq!(
            documents.get(&uri).expect("open").rope.to_string(),
            "all new"
        );
        documents.close(&uri);
        assert!(documents.get(&uri).is_none());
        assert!(matches!(
            documents.change(&uri, 4, &[]),
            Err(ChangeError::NotOpen(_))
        ));
    }
}
