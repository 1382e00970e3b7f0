//! The PostgreSQL backend behind the store's traits.

use std::sync::Arc;
use std::time::Duration;

use super::chunks::Placed;
use super::cluster::{self, PgCluster};
use super::group::Group;
use super::pool::{connect, Db, Owner, PgConfig};
use super::write::{Change, Insert};
use super::{certificates, import, outbox, read, schema, write};
use crate::backend::{Backend, BackendRead, BoxFuture};
use crate::certificates::PartnerCertificate;
use crate::clock::now_millis;
use crate::cluster::Cluster;
use crate::copy::{DuplicateKeys, Imported, UniqueKey};
use crate::delivery::{Attempt, AttemptOutcome, Delivery, NewDelivery};
use crate::error::StoreError;
use crate::payload::StoredPayload;
use crate::traffic::{TrafficCount, TrafficQuery};
use crate::types::{
    Answer, Finish, NewDocument, Query, Received, StoreOptions, StoredDocument, Summary,
};

/// Connections of a host: enough for the documents in flight to commit side by side (each
/// receipt holds one for its transaction), few enough for several nodes on one server's
/// default `max_connections` (100).
const HOST_CONNECTIONS: usize = 16;
/// The read-only view of the command line lists and shows one thing at a time.
const READER_CONNECTIONS: usize = 2;

/// The store of a host on PostgreSQL.
pub(crate) struct PgStore {
    db: Arc<Db>,
    reader: PgReader,
    cluster: PgCluster,
    /// Receipts and outcomes committed in batches.
    group: Group,
    inline_limit: usize,
    // Dropped last: stops the runtime the pool's connections run on.
    _owner: Arc<Owner>,
}

/// The read-only view: never writes, never migrates.
pub(crate) struct PgReader {
    db: Arc<Db>,
    _owner: Arc<Owner>,
}

/// Connects, and creates or migrates the schema (waiting for another node doing the same).
/// The database must be reachable: a host does not start on a store it cannot write.
pub(crate) fn open(config: &PgConfig, options: StoreOptions) -> Result<PgStore, StoreError> {
    let (db, owner) = connect(config, HOST_CONNECTIONS)?;
    let pool = db.pool.clone();
    off_runtime(|| {
        db.block_on(async move {
            let mut client = pool.get().await?;
            schema::migrate(&mut client).await
        })
    })?;
    Ok(PgStore {
        reader: PgReader {
            db: db.clone(),
            _owner: owner.clone(),
        },
        cluster: PgCluster::new(db.clone(), config.clone()),
        group: Group::start(db.clone(), options.max_batch),
        db,
        inline_limit: options.inline_limit,
        _owner: owner,
    })
}

/// Connects for reading; the schema must exist and be one this code reads.
pub(crate) fn open_reader(config: &PgConfig) -> Result<PgReader, StoreError> {
    let (db, owner) = connect(config, READER_CONNECTIONS)?;
    let pool = db.pool.clone();
    off_runtime(|| {
        db.block_on(async move {
            let client = pool.get().await?;
            schema::check(&client).await
        })
    })?;
    Ok(PgReader { db, _owner: owner })
}

/// Runs a blocking start-up step on a thread of its own, since opening may be called from
/// inside a runtime (a test, the command line) where blocking a worker is not allowed.
fn off_runtime<T: Send>(f: impl FnOnce() -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|_| Err(StoreError::Closed))
    })
}

impl PgStore {
    async fn receive(&self, doc: NewDocument) -> Result<Received, StoreError> {
        let payload = Placed::of(doc.payload, self.inline_limit).await?;
        let raw = match doc.raw {
            Some(raw) => Some(Placed::of(raw, self.inline_limit).await?),
            None => None,
        };
        let insert = Insert {
            id: doc.id,
            process: doc.process,
            received_at: now_millis(),
            payload,
            raw,
            properties: doc.properties,
            duplicate_key: doc.duplicate_key,
            duplicate_window: doc.duplicate_window,
            node: self.cluster.node(),
            unique_key: doc.unique_key,
        };
        if Group::takes(&insert) {
            return self.group.receive(insert).await;
        }
        let db = self.db.clone();
        self.db
            .run(async move { write::receive(db, &insert).await })
            .await
    }

    /// Outcomes go in batches; an answer alone and a retry, rare, in a transaction each.
    async fn change(&self, id: &str, change: Change) -> Result<(), StoreError> {
        let at = now_millis();
        if let Change::Conclude { .. } = change {
            return self.group.conclude(id.to_string(), change, at).await;
        }
        let (db, id) = (self.db.clone(), id.to_string());
        self.db
            .run(async move { write::change(db, &id, &change, at).await })
            .await
    }
}

impl BackendRead for PgReader {
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StoredDocument>, StoreError>> {
        Box::pin(self.db.run(read::get(self.db.clone(), id.to_string())))
    }

    fn raw<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StoredPayload>, StoreError>> {
        Box::pin(self.db.run(read::raw(self.db.clone(), id.to_string())))
    }

    fn query<'a>(&'a self, filter: &'a Query) -> BoxFuture<'a, Result<Vec<Summary>, StoreError>> {
        Box::pin(self.db.run(read::query(self.db.clone(), filter.clone())))
    }

    fn deliveries<'a>(
        &'a self,
        document_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        let work = outbox::of_document(self.db.clone(), document_id.to_string());
        Box::pin(self.db.run(work))
    }

    fn traffic<'a>(
        &'a self,
        range: &'a TrafficQuery,
    ) -> BoxFuture<'a, Result<Vec<TrafficCount>, StoreError>> {
        Box::pin(self.db.run(read::traffic(self.db.clone(), *range)))
    }

    fn partner_certificates(&self) -> BoxFuture<'_, Result<Vec<PartnerCertificate>, StoreError>> {
        Box::pin(self.db.run(certificates::all(self.db.clone())))
    }
}

impl Backend for PgStore {
    fn reads(&self) -> &dyn BackendRead {
        &self.reader
    }

    fn receive(&self, doc: NewDocument) -> BoxFuture<'_, Result<Received, StoreError>> {
        Box::pin(PgStore::receive(self, doc))
    }

    fn conclude<'a>(
        &'a self,
        id: &'a str,
        finish: Finish,
        answer: Option<Answer>,
        deliveries: Vec<NewDelivery>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let change = Change::Conclude {
            finish,
            answer,
            deliveries,
        };
        Box::pin(self.change(id, change))
    }

    fn enqueue<'a>(
        &'a self,
        document_id: Option<&'a str>,
        deliveries: Vec<NewDelivery>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let document_id = document_id.map(str::to_string);
        let work = outbox::enqueue(self.db.clone(), document_id, deliveries, now_millis());
        Box::pin(self.db.run(work))
    }

    fn record_partner_certificates(
        &self,
        list: Vec<PartnerCertificate>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let work = certificates::insert(self.db.clone(), list, now_millis() / 1000);
        Box::pin(self.db.run(work))
    }

    fn claim_deliveries<'a>(
        &'a self,
        claimer: &'a str,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        let work = outbox::claim(
            self.db.clone(),
            claimer.to_string(),
            now_millis(),
            until,
            limit,
        );
        Box::pin(self.db.run(work))
    }

    fn record_attempt<'a>(
        &'a self,
        id: i64,
        claimer: &'a str,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let work = outbox::attempted(self.db.clone(), id, claimer.to_string(), attempt, outcome);
        Box::pin(self.db.run(work))
    }

    fn release_deliveries<'a>(&'a self, claimer: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(
            self.db
                .run(outbox::release(self.db.clone(), claimer.to_string())),
        )
    }

    fn next_delivery_due(&self) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(self.db.run(outbox::next_due(self.db.clone())))
    }

    fn record_answer<'a>(
        &'a self,
        id: &'a str,
        answer: Answer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.change(id, Change::Answer(answer)))
    }

    fn mark_for_retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.change(id, Change::Retry(self.cluster.node())))
    }

    /// A registered node's own unfinished documents (claimed, see `cluster.rs`): the others'
    /// are theirs to run, or a live node's to take over when they die. Outside a cluster, all.
    fn unfinished(&self) -> BoxFuture<'_, Result<Vec<StoredDocument>, StoreError>> {
        match self.cluster.node() {
            Some(me) => Box::pin(self.db.run(cluster::unfinished_of(self.db.clone(), me))),
            None => Box::pin(self.db.run(read::unfinished(self.db.clone()))),
        }
    }

    fn cluster(&self) -> &dyn Cluster {
        &self.cluster
    }

    fn purge(
        &self,
        older_than: Duration,
        include_failed: bool,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let before = now_millis().saturating_sub(age);
        Box::pin(
            self.db
                .run(write::purge(self.db.clone(), before, include_failed)),
        )
    }

    fn size_bytes(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.db.run(read::size_bytes(self.db.clone())))
    }

    fn export_ids(
        &self,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, String)>, StoreError>> {
        Box::pin(
            self.db
                .run(import::export_ids(self.db.clone(), after, limit)),
        )
    }

    fn duplicate_keys<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DuplicateKeys>, StoreError>> {
        Box::pin(
            self.db
                .run(import::duplicate_keys(self.db.clone(), id.to_string())),
        )
    }

    fn orphan_keys(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<UniqueKey>, StoreError>> {
        Box::pin(
            self.db
                .run(import::orphan_keys(self.db.clone(), after, limit)),
        )
    }

    fn import_keys(&self, keys: Vec<UniqueKey>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.db.run(import::import_keys(self.db.clone(), keys)))
    }

    fn import(&self, mut doc: Imported) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let payload = std::mem::take(&mut doc.payload);
            let payload = Placed::of(payload, self.inline_limit).await?;
            let raw = match doc.raw.take() {
                Some(raw) => Some(Placed::of(raw, self.inline_limit).await?),
                None => None,
            };
            let work = import::import(self.db.clone(), doc, payload, raw);
            self.db.run(work).await
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.db.run(read::ping(self.db.clone())))
    }
}
