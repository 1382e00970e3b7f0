//! berth's message store.
//!
//! A 2xx answer or an AS2 `processed` MDN is a promise to a trading partner, so the host records
//! each received document here, durably, before it answers; it then records how the document's
//! process ended and the answer it sent, both in one write ([`Store::conclude`]). At start-up,
//! [`Store::unfinished`] hands back the documents whose process had not finished, to be run
//! again (at-least-once). Duplicate detection reads the store, so it holds across restarts.
//!
//! The host holds a [`Store`] (or, beside a running berth, a [`StoreReader`]) and never names
//! the database behind it: a [`Backend`] chosen by [`BackendConfig`]. The embedded one,
//! `sqlite/`, keeps SQLite (WAL, `synchronous=FULL`) under `DATA_DIR/store.sqlite` and payloads
//! larger than [`StoreOptions::inline_limit`] in `DATA_DIR/payloads/`; all its writes go
//! through one writer thread that commits whatever is queued in one transaction (group
//! commit), so that concurrent requests share fsyncs.
//!
//! The server backend, `postgres/`, keeps everything (large payloads too, in chunks) in a
//! PostgreSQL database that several nodes share; see [`PgConfig`].
//!
//! Payloads and raw requests go in as [`Payload`] (bytes, or a file to adopt) and come back as
//! [`StoredPayload`] (bytes when small, otherwise a handle that opens a reader), so that a large
//! one never has to sit whole in memory.

mod backend;
mod certificates;
mod clock;
mod cluster;
mod copy;
mod delivery;
mod error;
mod health;
mod payload;
mod postgres;
mod sqlite;
mod store;
mod traffic;
mod types;

pub use backend::{Backend, BackendRead, BoxFuture};
pub use certificates::PartnerCertificate;
pub use cluster::{Cluster, ControlCommand, Node, NodeInfo, Registration, TakenOver};
pub use copy::{DuplicateKeys, Imported, UniqueKey};
pub use delivery::{Attempt, AttemptOutcome, Delivery, DeliveryState, NewDelivery};
pub use error::StoreError;
pub use payload::{HeadThen, Payload, PayloadSource, StoredPayload};
pub use postgres::PgConfig;
pub use store::{BackendConfig, Store, StoreReader};
pub use traffic::{TrafficCount, TrafficQuery};
pub use types::{
    Answer, Finish, NewDocument, Query, Received, State, StoreOptions, StoredDocument, Summary,
};
