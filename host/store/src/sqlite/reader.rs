//! The read side both the store and the read-only view use: documents, listings, deliveries,
//! traffic and exchanged certificates, each read on the blocking pool.

use std::sync::Arc;

use rusqlite::Connection;

use super::backend::SqliteReader;
use super::files::{Blob, PayloadDir};
use super::readers::Readers;
use super::sql;
use crate::backend::{BackendRead, BoxFuture};
use crate::certificates::PartnerCertificate;
use crate::delivery::Delivery;
use crate::error::StoreError;
use crate::payload::{HeadThen, StoredPayload};
use crate::traffic::{TrafficCount, TrafficQuery};
use crate::types::{Query, StoredDocument, Summary};

impl BackendRead for SqliteReader {
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StoredDocument>, StoreError>> {
        self.reads.get(id)
    }

    fn raw<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StoredPayload>, StoreError>> {
        self.reads.raw(id)
    }

    fn query<'a>(&'a self, filter: &'a Query) -> BoxFuture<'a, Result<Vec<Summary>, StoreError>> {
        self.reads.query(filter)
    }

    fn deliveries<'a>(
        &'a self,
        document_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        let (reads, id) = (self.reads.clone(), document_id.to_string());
        Box::pin(blocking(move || {
            reads
                .readers
                .read(|conn| sql::outbox::of_document(conn, &id))
        }))
    }

    fn traffic<'a>(
        &'a self,
        range: &'a TrafficQuery,
    ) -> BoxFuture<'a, Result<Vec<TrafficCount>, StoreError>> {
        let (reads, range) = (self.reads.clone(), *range);
        Box::pin(blocking(move || {
            reads.readers.read(|conn| sql::traffic(conn, &range))
        }))
    }

    fn partner_certificates(&self) -> BoxFuture<'_, Result<Vec<PartnerCertificate>, StoreError>> {
        let reads = self.reads.clone();
        Box::pin(blocking(move || reads.readers.read(sql::certificates::all)))
    }
}

/// The reads both the store and the read-only view make. Each runs on the blocking pool: a
/// read transaction (and, for a listing, many rows) must not hold up an async worker.
pub(super) struct Reads {
    pub(super) readers: Readers,
    pub(super) payloads: PayloadDir,
}

impl Reads {
    fn get(
        self: &Arc<Self>,
        id: &str,
    ) -> BoxFuture<'static, Result<Option<StoredDocument>, StoreError>> {
        let (reads, id) = (self.clone(), id.to_string());
        Box::pin(blocking(move || {
            let row = reads.readers.read(|conn| load(conn, &id))?;
            row.map(|row| reads.materialise(row)).transpose()
        }))
    }

    fn raw(
        self: &Arc<Self>,
        id: &str,
    ) -> BoxFuture<'static, Result<Option<StoredPayload>, StoreError>> {
        let (reads, id) = (self.clone(), id.to_string());
        Box::pin(blocking(move || {
            match reads.readers.read(|conn| sql::raw(conn, &id))? {
                None => Err(StoreError::NotFound(id)),
                Some(None) => Ok(None),
                Some(Some(Blob::Inline(bytes))) => Ok(Some(StoredPayload::memory(bytes))),
                Some(Some(Blob::File(name))) => {
                    let file = reads.payloads.source_of_file(&name)?;
                    Ok(Some(StoredPayload::stored(Arc::new(file))))
                }
                Some(Some(Blob::HeadAndFile(head, name))) => {
                    let rest = Box::new(reads.payloads.source_of_file(&name)?);
                    Ok(Some(StoredPayload::stored(Arc::new(HeadThen {
                        head,
                        rest,
                    }))))
                }
            }
        }))
    }

    fn query(
        self: &Arc<Self>,
        filter: &Query,
    ) -> BoxFuture<'static, Result<Vec<Summary>, StoreError>> {
        let (reads, filter) = (self.clone(), filter.clone());
        Box::pin(blocking(move || {
            reads.readers.read(|conn| sql::query(conn, &filter))
        }))
    }

    pub(super) fn unfinished(&self) -> Result<Vec<StoredDocument>, StoreError> {
        let rows = self.readers.read(|conn| {
            sql::unfinished(conn)?
                .into_iter()
                .map(|doc| complete(conn, doc))
                .collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter().map(|row| self.materialise(row)).collect()
    }

    /// A document as the host sees it: small payloads in memory, large ones as a handle on
    /// their file (not read here).
    fn materialise(&self, row: Loaded) -> Result<StoredDocument, StoreError> {
        let (doc, properties, history) = row;
        let payload = match doc.payload {
            Some(Blob::Inline(bytes)) => StoredPayload::memory(bytes),
            Some(Blob::File(name)) => {
                StoredPayload::stored(Arc::new(self.payloads.source(&name, doc.payload_len)?))
            }
            // Only a raw request is stored this way; read whole should a payload ever be.
            Some(Blob::HeadAndFile(head, name)) => StoredPayload::stored(Arc::new(HeadThen {
                head,
                rest: Box::new(self.payloads.source_of_file(&name)?),
            })),
            None => StoredPayload::default(),
        };
        Ok(StoredDocument {
            id: doc.id,
            process: doc.process,
            state: doc.state,
            received_at: doc.received_at,
            payload,
            properties,
            error: doc.error,
            answer: doc.answer,
            history,
        })
    }
}

/// Runs a blocking read on the runtime's blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::io("reading the message store", std::io::Error::other(e)))?
}

type Loaded = (sql::DocumentRead, Vec<(String, String)>, Vec<(i64, String)>);

/// Reads one document's rows.
fn load(conn: &Connection, id: &str) -> Result<Option<Loaded>, StoreError> {
    sql::document(conn, id)?
        .map(|doc| complete(conn, doc))
        .transpose()
}

/// Adds a document's properties and history; its receipt heads the history.
fn complete(conn: &Connection, doc: sql::DocumentRead) -> Result<Loaded, StoreError> {
    let properties = sql::properties(conn, doc.seq)?;
    let mut history = vec![(doc.received_at, "received".to_string())];
    history.extend(sql::history(conn, doc.seq)?);
    Ok((doc, properties, history))
}
