//! A copy's reads and writes on the embedded store (`berth store copy`): the documents in the
//! order they were received, their duplicate keys, and a document written as it was in
//! another store, through the writer thread like every write.

use super::backend::SqliteStore;
use super::reader::blocking;
use super::sql;
use rusqlite::Connection;

use super::writer::{ImportRow, Op, Outcome, Step};
use crate::copy::{DuplicateKeys, Imported, UniqueKey};
use crate::error::StoreError;

impl SqliteStore {
    pub(super) async fn export_ids(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let reads = self.reader.reads.clone();
        blocking(move || {
            reads
                .readers
                .read(|conn| sql::export_ids(conn, after, limit))
        })
        .await
    }

    pub(super) async fn duplicate_keys(
        &self,
        id: &str,
    ) -> Result<Option<DuplicateKeys>, StoreError> {
        let (reads, id) = (self.reader.reads.clone(), id.to_string());
        blocking(move || reads.readers.read(|conn| sql::duplicate_keys(conn, &id))).await
    }

    pub(super) async fn orphan_keys(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<UniqueKey>, StoreError> {
        let reads = self.reader.reads.clone();
        blocking(move || {
            reads
                .readers
                .read(|conn| sql::orphan_keys(conn, after.as_ref(), limit))
        })
        .await
    }

    pub(super) async fn import_keys(&self, keys: Vec<UniqueKey>) -> Result<(), StoreError> {
        match self.writer.call(Op::ImportKeys(keys)).await? {
            Outcome::Done => Ok(()),
            _ => Err(StoreError::Invalid(
                "the writer answered a copy oddly".into(),
            )),
        }
    }

    pub(super) async fn import(&self, mut doc: Imported) -> Result<(), StoreError> {
        let entries = doc.properties.len().max(doc.history.len()) as i64;
        if entries > sql::PER_DOCUMENT {
            return Err(StoreError::Invalid(format!(
                "document {} has {entries} properties or history entries; the store keeps at most {}",
                doc.id,
                sql::PER_DOCUMENT
            )));
        }
        let (payload, payload_len) = self.place(std::mem::take(&mut doc.payload)).await?;
        let raw = match doc.raw.take() {
            Some(raw) => match self.place(raw).await {
                Ok((blob, _)) => Some(blob),
                Err(e) => {
                    self.forget(&[&payload]);
                    return Err(e);
                }
            },
            None => None,
        };
        let blobs = [Some(payload.clone()), raw.clone()];
        let row = ImportRow {
            doc,
            payload,
            payload_len: i64::try_from(payload_len).unwrap_or(i64::MAX),
            raw,
        };
        match self.writer.call(Op::Import(Box::new(row))).await {
            Ok(Outcome::Done) => Ok(()),
            Ok(_) => Err(StoreError::Invalid(
                "the writer answered a copy oddly".into(),
            )),
            Err(e) => {
                // Only a refusal is sure not to have committed (see `receive`).
                if matches!(e, StoreError::AlreadyExists(_)) {
                    self.forget(&blobs.iter().flatten().collect::<Vec<_>>());
                }
                Err(e)
            }
        }
    }
}

/// A copied document as it was: its row in its state, its properties, outcome, answer and
/// history, numbered after the documents already here (a copy goes oldest first, so the
/// duplicate window counts as it did in the source).
pub(super) fn write(conn: &Connection, row: &ImportRow, seq: &mut i64) -> Step {
    let doc = &row.doc;
    let inserted = sql::insert_document(
        conn,
        &sql::DocumentRow {
            id: &doc.id,
            seq: *seq + 1,
            process: &doc.process,
            state: doc.state,
            received_at: doc.received_at,
            payload: Some(&row.payload),
            payload_len: row.payload_len,
            raw: row.raw.as_ref(),
            duplicate_key: doc.keys.duplicate_key.as_deref(),
            duplicate_of: doc.keys.duplicate_of.as_deref(),
        },
    )?;
    if !inserted {
        return Ok(Err(StoreError::AlreadyExists(doc.id.clone())));
    }
    *seq += 1;
    sql::insert_properties(conn, *seq, &doc.properties)?;
    let at = doc.updated_at();
    sql::set_finished(conn, *seq, doc.state, doc.error.as_deref(), at)?;
    if let Some(answer) = &doc.answer {
        sql::set_answer(conn, *seq, answer, at)?;
    }
    let (first, _) = sql::key_range(*seq);
    for (n, (at, event)) in doc.history.iter().enumerate() {
        sql::insert_history(conn, first + n as i64, *at, event)?;
    }
    if let Some(key) = &doc.keys.unique_key {
        sql::import_unique_key(conn, &doc.process, key, &doc.id)?;
    }
    sql::outbox::import(conn, &doc.id, &doc.deliveries)?;
    Ok(Ok(Outcome::Done))
}
