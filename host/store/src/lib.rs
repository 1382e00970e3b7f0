//! berth's embedded message store.
//!
//! A 2xx answer or an AS2 `processed` MDN is a promise to a trading partner, so the host records
//! each received document here, fsynced, before it answers; it then records how the document's
//! process ended and the answer it sent, both in one write ([`Store::conclude`]). At start-up, [`Store::unfinished`] hands back the
//! documents whose process had not finished, to be run again (at-least-once). Duplicate
//! detection reads the store, so it holds across restarts.
//!
//! SQLite (WAL, `synchronous=FULL`) under `DATA_DIR/store.sqlite`; payloads larger than
//! [`StoreOptions::inline_limit`] live in `DATA_DIR/payloads/`. All writes go through one
//! writer thread that commits whatever is queued in one transaction (group commit), so that
//! concurrent requests share fsyncs.

mod clock;
mod error;
mod lock;
mod payload;
mod readers;
mod sql;
mod store;
mod types;
mod writer;

pub use error::StoreError;
pub use store::{Store, StoreReader};
pub use types::{
    Answer, Finish, NewDocument, Query, Received, State, StoreOptions, StoredDocument, Summary,
};
