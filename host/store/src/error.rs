//! The store's one error type.
//!
//! It is `Clone` because one failed group commit has to be reported to every caller whose write was
//! in that batch; the underlying database and I/O errors are therefore kept behind an `Arc`.
//!
//! It names no backend's types: a database error is kept as any `Error` (its message and its
//! chain of sources), so that the host and a second backend never depend on rusqlite.

use std::path::PathBuf;
use std::sync::Arc;

use crate::types::State;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend's database refused or failed a statement.
    #[error("message store database: {0}")]
    Db(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The backend's database cannot be reached (refused, down, timed out): the document was
    /// not stored, and the partner should be told to try again later (a 503), not refused.
    #[error("the message store's database is unreachable: {0}")]
    Unavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The database refused berth's login (a wrong user or password, or no right to connect):
    /// the server's reason, which never holds the password.
    #[error("the message store's database refused the login: {0}")]
    Refused(String),
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

impl StoreError {
    /// Wraps an I/O error with what the store was doing, since a bare "permission denied" does
    /// not tell an operator which file of the data dir is at fault. Public for the
    /// [`crate::PayloadSource`]s of other crates (a spooled request's file).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// Wraps a backend's database error, keeping it as the source.
    pub(crate) fn db(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Db(Arc::new(source))
    }
}
