//! The store's one error type.
//!
//! It is `Clone` because one failed group commit has to be reported to every caller whose write was
//! in that batch; the underlying SQLite and I/O errors are therefore kept behind an `Arc`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::types::State;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("message store database: {0}")]
    Db(#[source] Arc<rusqlite::Error>),
    #[error("message store: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("the message store in {0} is in use by another process")]
    Locked(PathBuf),
    #[error(
        "the message store has schema version {found}; this berth knows versions up to {known}"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("message store: {0}")]
    Invalid(String),
    #[error("document {0} is not in the message store")]
    NotFound(String),
    #[error("document {0} is already in the message store")]
    AlreadyExists(String),
    #[error("document {id} is {state}; this needs it {expected}")]
    WrongState {
        id: String,
        state: State,
        expected: State,
    },
    #[error("the message store holds a value it cannot read: {0}")]
    Corrupt(String),
    #[error("the message store's writer has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(Arc::new(e))
    }
}

impl StoreError {
    /// Wraps an I/O error with what the store was doing, since a bare "permission denied" does
    /// not tell an operator which file of the data dir is at fault.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }
}
