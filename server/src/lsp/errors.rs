//! Every error a request can answer with, and its JSON-RPC code (`docs/protocol.md`, "Errors"). Our codes
//! are in JSON-RPC's server range but clear of the ones LSP reserves there (`-32002`
//! ServerNotInitialized, `-32001` UnknownErrorCode). Every error is logged where it is converted.

use crate::conversation::ConversationError;
use tower_lsp_server::jsonrpc::{Error, ErrorCode};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    InvalidParams(String),
    #[error(
        "no workspace folder is open: OpenBolt writes into the workspace, so open a folder first"
    )]
    NoWorkspace,
    #[error("{0}")]
    Provider(String),
    #[error("session {0} is already running a turn: wait for it or stop it (openbolt/abort)")]
    Busy(String),
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Internal(String),
}

impl ServerError {
    /// The JSON-RPC code.
    pub fn code(&self) -> i64 {
        match self {
            ServerError::InvalidParams(_) => -32602,
            ServerError::NoWorkspace => -32010,
            ServerError::Provider(_) => -32011,
            ServerError::Busy(_) => -32012,
            ServerError::Store(_) => -32013,
            ServerError::Internal(_) => -32014,
        }
    }
}

impl From<ConversationError> for ServerError {
    fn from(error: ConversationError) -> ServerError {
        match error {
            ConversationError::Busy(session) => ServerError::Busy(session),
            ConversationError::NoStore(_) | ConversationError::Store(_) => {
                ServerError::Store(error.to_string())
            }
            ConversationError::NoSession(_) | ConversationError::NothingToRevert => {
                ServerError::InvalidParams(error.to_string())
            }
        }
    }
}

impl From<ServerError> for Error {
    fn from(error: ServerError) -> Error {
        let code = error.code();
        tracing::warn!(code, %error, "request failed");
        Error {
            code: if code == -32602 {
                ErrorCode::InvalidParams
            } else {
                ErrorCode::ServerError(code)
            },
            message: error.to_string().into(),
            data: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_stay_clear_of_the_ones_lsp_reserves() {
        let all = [
            ServerError::InvalidParams(String::new()),
            ServerError::NoWorkspace,
            ServerError::Provider(String::new()),
            ServerError::Busy(String::new()),
            ServerError::Store(String::new()),
            ServerError::Internal(String::new()),
        ];
        let mut codes: Vec<i64> = all.iter().map(ServerError::code).collect();
        for code in &codes {
            // -32002 ServerNotInitialized, -32001 UnknownErrorCode; -32899..=-32800 is LSP's own range.
            assert!(![-32002, -32001].contains(code) && !(-32899..=-32800).contains(code));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "two errors share a code");
    }
}
