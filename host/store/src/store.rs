//! The store's handles as the host holds them: durable receipt, outcomes, recovery, listings and
//! retention, over whichever backend the configuration names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, BackendRead};
use crate::certificates::PartnerCertificate;
use crate::cluster::Cluster;
use crate::copy::{DuplicateKeys, Imported, UniqueKey};
use crate::delivery::{Attempt, AttemptOutcome, Delivery, NewDelivery};
use crate::error::StoreError;
use crate::health::Health;
use crate::payload::StoredPayload;
use crate::postgres::{self, PgConfig};
use crate::sqlite;
use crate::traffic::{TrafficCount, TrafficQuery};
use crate::types::{
    Answer, Finish, NewDocument, Query, Received, StoreOptions, StoredDocument, Summary,
};

/// Which backend holds the store, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The embedded store: SQLite (WAL, `synchronous=FULL`) in `DATA_DIR/store.sqlite` and
    /// payloads larger than [`StoreOptions::inline_limit`] in `DATA_DIR/payloads/`.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database, shared by the nodes of a cluster: everything in it, large
    /// payloads in chunks. The database must exist; berth creates and migrates its tables.
    Postgres(PgConfig),
}

impl BackendConfig {
    /// The embedded store in `data_dir`.
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> BackendConfig {
        BackendConfig::Sqlite {
            data_dir: data_dir.into(),
        }
    }
}

/// The message store of a host. Cheap to clone; the last clone dropped waits for the queued
/// writes to commit and releases the store (the data dir's lock, for the embedded one).
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    health: Arc<Health>,
}

impl Store {
    /// Opens (creating if need be) the embedded store in `data_dir` with the default options.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, StoreOptions::default())
    }

    /// Opens the embedded store in `data_dir`.
    pub fn open_with(data_dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        Store::open_backend(&BackendConfig::sqlite(data_dir), options)
    }

    /// Opens the store the configuration names: takes what makes it this host's (the data
    /// dir's lock), creates or migrates the schema, and clears what a crash left half-written.
    pub fn open_backend(
        config: &BackendConfig,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let backend: Arc<dyn Backend> = match config {
            BackendConfig::Sqlite { data_dir } => Arc::new(sqlite::open(data_dir, options)?),
            BackendConfig::Postgres(config) => Arc::new(postgres::open(config, options)?),
        };
        Ok(Store {
            backend,
            health: Arc::default(),
        })
    }

    /// Why the database cannot be reached, while the store's calls find it so (a
    /// [`StoreError::Unavailable`] since the last success); `None` otherwise.
    pub fn unavailable(&self) -> Option<String> {
        self.health.unavailable()
    }

    /// Asks the database whether it answers (the cheapest round trip), noting the answer as
    /// every call does: for readiness checks, and to notice its return while no request comes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.health.watch(self.backend.ping()).await
    }

    /// Stores a received document durably, or recognises it as a resend. When this returns
    /// `New`, the document, its properties, its payload and its raw request are durable: the
    /// partner may be told it was accepted. Must run inside a tokio runtime (files are written
    /// on its blocking pool). If the future is dropped after the write was queued, the document
    /// may still be stored, and is then run at the next start.
    pub async fn receive(&self, doc: NewDocument) -> Result<Received, StoreError> {
        self.health.watch(self.backend.receive(doc)).await
    }

    /// Records how the document's process ended. Only a `received` document can finish.
    pub async fn finish(&self, id: &str, result: Finish) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.conclude(id, result, None, Vec::new()))
            .await
    }

    /// Keeps the answer sent to the partner (status and bytes, e.g. the MDN) as evidence and
    /// for replay to resends.
    pub async fn record_answer(&self, id: &str, answer: Answer) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.record_answer(id, answer))
            .await
    }

    /// Records how the document's process ended and the answer the partner got, together:
    /// one write, one transaction, so a reader sees both or neither. The host calls it once
    /// the connector has answered, in place of [`Store::finish`] followed by
    /// [`Store::record_answer`]: the same result in one queued write instead of two.
    /// `answer` is `None` when no answer was sent (the connector failed), and then this is
    /// `finish` alone.
    ///
    /// Like `finish`, only a `received` document can conclude: otherwise nothing is written
    /// (not even the answer) and the error is [`StoreError::NotFound`] or
    /// [`StoreError::WrongState`]. Once it has returned, the outcome is durable, and a resend
    /// of the document replays `answer` (see [`Received::Duplicate`]). The history gains the
    /// outcome (`processed`, `failed: ...`) and then `answered {summary}`, both at the same
    /// time. A crash before the commit leaves the document `received`, to run again at the
    /// next start, as with `finish`.
    pub async fn conclude(
        &self,
        id: &str,
        finish: Finish,
        answer: Option<Answer>,
    ) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.conclude(id, finish, answer, Vec::new()))
            .await
    }

    /// [`Store::conclude`], and the deliveries the answer promises (asynchronous MDNs) in the
    /// same commit: once this returns, they are pending in the outbox, due now, and survive a
    /// restart; if it fails, none of it was written.
    pub async fn conclude_with(
        &self,
        id: &str,
        finish: Finish,
        answer: Option<Answer>,
        deliveries: Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.conclude(id, finish, answer, deliveries))
            .await
    }

    /// Puts deliveries that no document outcome goes with into the outbox, pending and due
    /// now, in one commit: a resend's replayed MDN (`document_id` names the resend's record),
    /// or an answer to a message that was never stored (`None`).
    pub async fn enqueue(
        &self,
        document_id: Option<&str>,
        deliveries: Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.health
            .watch(self.backend.enqueue(document_id, deliveries))
            .await
    }

    /// The deliveries a document's answers promised, with their attempts.
    pub async fn deliveries(&self, document_id: &str) -> Result<Vec<Delivery>, StoreError> {
        self.health
            .watch(self.backend.reads().deliveries(document_id))
            .await
    }

    /// Claims up to `limit` due deliveries for `claimer` for `lease` (see
    /// [`Backend::claim_deliveries`]).
    pub async fn claim_deliveries(
        &self,
        claimer: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let until = crate::clock::now_millis().saturating_add(lease);
        self.health
            .watch(self.backend.claim_deliveries(claimer, until, limit))
            .await
    }

    /// Records an attempt at a claimed delivery and what follows it (see
    /// [`Backend::record_attempt`]).
    pub async fn record_attempt(
        &self,
        id: i64,
        claimer: &str,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.record_attempt(id, claimer, attempt, outcome))
            .await
    }

    /// Ends every claim `claimer` holds (a stopping worker).
    pub async fn release_deliveries(&self, claimer: &str) -> Result<(), StoreError> {
        self.health
            .watch(self.backend.release_deliveries(claimer))
            .await
    }

    /// When the next pending delivery may be claimed (unix millis), if any is pending.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        self.health.watch(self.backend.next_delivery_due()).await
    }

    /// The documents whose process has not finished, oldest first, with payload handles and
    /// properties: what the host runs again at start-up.
    pub async fn unfinished(&self) -> Result<Vec<StoredDocument>, StoreError> {
        self.health.watch(self.backend.unfinished()).await
    }

    /// One document with its payload handle, properties, history and answer.
    pub async fn get(&self, id: &str) -> Result<Option<StoredDocument>, StoreError> {
        self.health.watch(self.backend.reads().get(id)).await
    }

    /// The raw request kept as evidence, if the connector gave one.
    pub async fn raw(&self, id: &str) -> Result<Option<StoredPayload>, StoreError> {
        self.health.watch(self.backend.reads().raw(id)).await
    }

    /// A listing, newest first.
    pub async fn query(&self, filter: &Query) -> Result<Vec<Summary>, StoreError> {
        self.health.watch(self.backend.reads().query(filter)).await
    }

    /// Documents received in the range, counted per process, bucket, state and answer.
    pub async fn traffic(&self, range: &TrafficQuery) -> Result<Vec<TrafficCount>, StoreError> {
        range.check()?;
        self.health.watch(self.backend.reads().traffic(range)).await
    }

    /// Puts a failed document back to `received`, so that it runs again (now, by the caller,
    /// or at the next start). Returns once committed.
    pub async fn mark_for_retry(&self, id: &str) -> Result<(), StoreError> {
        self.health.watch(self.backend.mark_for_retry(id)).await
    }

    /// Removes documents received longer ago than `older_than`, with their payloads.
    /// Failed documents go only when `include_failed`; documents not yet run never do.
    /// Returns how many were removed, once committed.
    pub async fn purge(
        &self,
        older_than: Duration,
        include_failed: bool,
    ) -> Result<u64, StoreError> {
        self.health
            .watch(self.backend.purge(older_than, include_failed))
            .await
    }

    /// For a copy: the next `limit` documents after number `after` (0 for the first), oldest
    /// first, as (number, id).
    pub async fn export_ids(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.health
            .watch(self.backend.export_ids(after, limit))
            .await
    }

    /// For a copy: a document's duplicate keys.
    pub async fn duplicate_keys(&self, id: &str) -> Result<Option<DuplicateKeys>, StoreError> {
        self.health.watch(self.backend.duplicate_keys(id)).await
    }

    /// For a copy: writes a document from another store as it is, once committed.
    pub async fn import(&self, doc: Imported) -> Result<(), StoreError> {
        self.health.watch(self.backend.import(doc)).await
    }

    /// For a copy: keys whose document is gone (see [`UniqueKey`]), after `after`.
    pub async fn orphan_keys(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<UniqueKey>, StoreError> {
        self.health
            .watch(self.backend.orphan_keys(after, limit))
            .await
    }

    /// For a copy: writes keys from another store.
    pub async fn import_keys(&self, keys: Vec<UniqueKey>) -> Result<(), StoreError> {
        self.health.watch(self.backend.import_keys(keys)).await
    }

    /// Stores certificates partners sent at run time, durably, before the partner is answered.
    pub async fn record_partner_certificates(
        &self,
        certificates: Vec<PartnerCertificate>,
    ) -> Result<(), StoreError> {
        if certificates.is_empty() {
            return Ok(());
        }
        self.health
            .watch(self.backend.record_partner_certificates(certificates))
            .await
    }

    /// Every certificate partners exchanged at run time.
    pub async fn partner_certificates(&self) -> Result<Vec<PartnerCertificate>, StoreError> {
        self.health
            .watch(self.backend.reads().partner_certificates())
            .await
    }

    /// The nodes that share this store (just this one for the embedded store).
    pub fn cluster(&self) -> &dyn Cluster {
        self.backend.cluster()
    }

    /// The room the store's database takes, in bytes.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.health.watch(self.backend.size_bytes()).await
    }
}

/// A read-only view of a store that another process may hold open (a running berth): what the
/// command line needs to list and show documents without stopping the host. It takes no lock
/// and never writes.
pub struct StoreReader {
    backend: Arc<dyn BackendRead>,
}

impl StoreReader {
    /// Opens the embedded store in `data_dir`, which must exist (a host has run there).
    pub fn open(data_dir: &Path) -> Result<StoreReader, StoreError> {
        StoreReader::open_backend(&BackendConfig::sqlite(data_dir))
    }

    /// Opens the store the configuration names, for reading.
    pub fn open_backend(config: &BackendConfig) -> Result<StoreReader, StoreError> {
        let backend: Arc<dyn BackendRead> = match config {
            BackendConfig::Sqlite { data_dir } => Arc::new(sqlite::open_reader(data_dir)?),
            BackendConfig::Postgres(config) => Arc::new(postgres::open_reader(config)?),
        };
        Ok(StoreReader { backend })
    }

    /// As [`Store::get`].
    pub async fn get(&self, id: &str) -> Result<Option<StoredDocument>, StoreError> {
        self.backend.get(id).await
    }

    /// As [`Store::raw`].
    pub async fn raw(&self, id: &str) -> Result<Option<StoredPayload>, StoreError> {
        self.backend.raw(id).await
    }

    /// As [`Store::query`].
    pub async fn query(&self, filter: &Query) -> Result<Vec<Summary>, StoreError> {
        self.backend.query(filter).await
    }

    /// As [`Store::deliveries`].
    pub async fn deliveries(&self, document_id: &str) -> Result<Vec<Delivery>, StoreError> {
        self.backend.deliveries(document_id).await
    }

    /// As [`Store::traffic`].
    pub async fn traffic(&self, range: &TrafficQuery) -> Result<Vec<TrafficCount>, StoreError> {
        range.check()?;
        self.backend.traffic(range).await
    }

    /// As [`Store::partner_certificates`].
    pub async fn partner_certificates(&self) -> Result<Vec<PartnerCertificate>, StoreError> {
        self.backend.partner_certificates().await
    }
}
