//! The server database backend: PostgreSQL, shared by the nodes of a cluster, so that nodes share
//! no file system. Documents, properties, history, answers, payloads and raw requests are all
//! rows; payloads larger than [`crate::StoreOptions::inline_limit`] are 1 MiB rows of
//! `payload_chunks`, streamed in and out (see `chunks.rs`).
//!
//! Why tokio-postgres rather than sqlx: the store's statements are fixed text, so sqlx's
//! compile-time checking would need a database at build time (or checked-in query metadata) for
//! little gain; tokio-postgres is the smaller dependency tree, speaks the protocol directly, and
//! pipelines the statements of concurrent tasks over one connection. deadpool-postgres gives the
//! small pool (it adds a statement cache per connection) without a framework.
//!
//! TLS: connections are `NoTls` for now; the URL's `sslmode` is parsed but only `disable` and
//! `prefer` (which falls back to plain) connect. A TLS connector (tokio-postgres-openssl) slots
//! into `pool::connect` when a deployment needs it over a network.
//!
//! All database I/O runs on a small runtime of the backend's own, so that the store can be
//! opened before the host's runtime exists (as `berth run` does) and used from any runtime or
//! none (the command line); the handles' futures only wait for its tasks.
//!
//! Layout: `pool.rs` the runtime, connections and error mapping; `schema.rs` the schema and its
//! migrations; `write.rs` receipt and the changes of a document; `group.rs` and `batch.rs`
//! group commit, many documents' receipts and outcomes in one transaction; `read.rs` the reads;
//! `chunks.rs` large contents; `outbox.rs` the deliveries sent after answering; `cluster.rs`
//! the nodes, who owns which document, and listener controls for every node.

mod backend;
mod batch;
mod certificates;
mod chunks;
mod cluster;
mod group;
mod import;
mod outbox;
mod pool;
mod read;
mod schema;
mod write;

pub(crate) use backend::{open, open_reader};
pub use pool::PgConfig;
