//! The embedded backend behind the store's traits: durable receipt, outcomes, recovery,
//! listings and retention on SQLite and the payload folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::cluster::LoneNode;
use super::files::{Blob, PayloadDir};
use super::lock::DirLock;
use super::reader::{blocking, Reads};
use super::readers::Readers;
use super::sql;
use super::writer::{Insert, Op, Outcome, Writer};
use crate::backend::{Backend, BackendRead, BoxFuture};
use crate::certificates::PartnerCertificate;
use crate::clock::now_millis;
use crate::cluster::Cluster;
use crate::copy::{DuplicateKeys, Imported, UniqueKey};
use crate::delivery::{Attempt, AttemptOutcome, Delivery, NewDelivery};
use crate::error::StoreError;
use crate::payload::Payload;
use crate::types::{Answer, Finish, NewDocument, Received, StoreOptions, StoredDocument};

/// The store of a host: the data dir's lock, the writer thread, the readers.
pub(crate) struct SqliteStore {
    // Field order is drop order: the writer finishes its queue before the lock is released.
    pub(super) writer: Writer,
    pub(super) reader: SqliteReader,
    pub(super) payloads: PayloadDir,
    pub(super) inline_limit: usize,
    data_dir: PathBuf,
    node: LoneNode,
    _lock: DirLock,
}

/// Opens the store in `data_dir`: takes the data dir's lock, creates or migrates the schema,
/// and removes payload files left by a crash before their rows committed.
pub(crate) fn open(data_dir: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::io(format!("creating {}", data_dir.display()), e))?;
    let lock = DirLock::acquire(data_dir)?;
    let payloads = PayloadDir::open(data_dir)?;
    let mut conn = sql::open_writer(data_dir, options.busy_timeout)?;
    sql::migrate(&mut conn)?;
    // The data dir's lock says no other process uses this store: claims on deliveries were
    // made by a process that has stopped (killed, or it would have released them).
    sql::outbox::release(&conn, None)?;
    let swept = payloads.sweep(&sql::referenced_files(&conn)?)?;
    if swept > 0 {
        // Written before a crash, or by a receipt cut off before its commit: no document
        // names them, so no answer ever promised them.
        tracing::info!(dir = %data_dir.display(), files = swept, "removed payload files no stored document names");
    }
    sync_dir(data_dir)?;
    let next_seq = sql::max_seq(&conn)?;
    let writer = Writer::start(conn, next_seq, options.max_batch)?;
    Ok(SqliteStore {
        writer,
        reader: SqliteReader {
            reads: Arc::new(Reads {
                readers: Readers::new(data_dir.to_path_buf(), options.busy_timeout),
                payloads: payloads.clone(),
            }),
        },
        payloads,
        inline_limit: options.inline_limit,
        data_dir: data_dir.to_path_buf(),
        node: LoneNode::default(),
        _lock: lock,
    })
}

/// Opens the store in `data_dir` for reading beside the host that holds it; it must exist.
pub(crate) fn open_reader(data_dir: &Path) -> Result<SqliteReader, StoreError> {
    if !data_dir.join(sql::DB_FILE).exists() {
        return Err(StoreError::NotFound(format!(
            "no message store in {} (berth has not run with this deployment yet)",
            data_dir.display()
        )));
    }
    let options = StoreOptions::default();
    Ok(SqliteReader {
        reads: Arc::new(Reads {
            readers: Readers::new(data_dir.to_path_buf(), options.busy_timeout),
            payloads: PayloadDir::existing(data_dir),
        }),
    })
}

/// The read-only view: takes no lock and never writes.
pub(crate) struct SqliteReader {
    pub(super) reads: Arc<Reads>,
}

impl SqliteStore {
    async fn receive(&self, doc: NewDocument) -> Result<Received, StoreError> {
        if doc.properties.len() as i64 > sql::PER_DOCUMENT {
            return Err(StoreError::Invalid(format!(
                "document {} has {} properties; the store keeps at most {}",
                doc.id,
                doc.properties.len(),
                sql::PER_DOCUMENT
            )));
        }
        let received_at = now_millis();
        let (payload, payload_len) = self.place(doc.payload).await?;
        let raw = match doc.raw {
            Some(raw) => match self.place(raw).await {
                Ok((blob, _)) => Some(blob),
                Err(e) => {
                    self.forget(&[&payload]);
                    return Err(e);
                }
            },
            None => None,
        };
        let files = [Some(payload.clone()), raw.clone()];
        let op = Op::Insert(Insert {
            id: doc.id,
            process: doc.process,
            received_at,
            payload,
            payload_len: i64::try_from(payload_len).unwrap_or(i64::MAX),
            raw,
            properties: doc.properties,
            duplicate_key: doc.duplicate_key,
            duplicate_window: doc.duplicate_window,
            unique_key: doc.unique_key,
        });
        let outcome = self.writer.call(op).await;
        let blobs: Vec<&Blob> = files.iter().flatten().collect();
        match outcome {
            Ok(Outcome::Received(received)) => {
                // A resend's row names no file (see `Received::Duplicate`), and a refused
                // key stored no row.
                if matches!(
                    received,
                    Received::Duplicate { .. } | Received::KeyTaken { .. }
                ) {
                    self.forget(&blobs);
                }
                Ok(received)
            }
            Ok(_) => Err(mismatch()),
            Err(e) => {
                // Only a refusal is sure not to have committed; after any other error the
                // files stay, and the next start's sweep removes them if no row names them.
                if matches!(e, StoreError::AlreadyExists(_)) {
                    self.forget(&blobs);
                }
                Err(e)
            }
        }
    }

    /// Keeps small content in the row; writes large content to a durable file first, and
    /// links a caller's file in, on the blocking pool, so that neither the runtime nor the
    /// writer thread waits for the disk. Returns where the content went and its length.
    pub(super) async fn place(&self, payload: Payload) -> Result<(Blob, u64), StoreError> {
        let payloads = self.payloads.clone();
        match payload {
            Payload::Bytes(bytes) => {
                let len = bytes.len() as u64;
                if bytes.len() <= self.inline_limit {
                    return Ok((Blob::Inline(bytes), len));
                }
                let name = tokio::task::spawn_blocking(move || payloads.write(&bytes))
                    .await
                    .map_err(|e| {
                        StoreError::io("writing a payload file", std::io::Error::other(e))
                    })??;
                Ok((Blob::File(name), len))
            }
            // A file is adopted whatever its size: its owner spooled it because it was large.
            Payload::File(file) => {
                let (name, len) = adopt(payloads, file).await?;
                Ok((Blob::File(name), len))
            }
            Payload::HeadAndFile { head, file } => {
                let (name, len) = adopt(payloads, file).await?;
                let len = len + head.len() as u64;
                Ok((Blob::HeadAndFile(head, name), len))
            }
        }
    }

    /// Removes files that no committed row names.
    pub(super) fn forget(&self, blobs: &[&Blob]) {
        for blob in blobs {
            if let Some(name) = blob.file() {
                // Best effort: the start-up sweep removes what is left.
                let _ = self.payloads.remove(name);
            }
        }
    }

    async fn write(&self, op: Op) -> Result<(), StoreError> {
        match self.writer.call(op).await? {
            Outcome::Done => Ok(()),
            _ => Err(mismatch()),
        }
    }

    async fn purge(&self, older_than: Duration, include_failed: bool) -> Result<u64, StoreError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let op = Op::Purge {
            before: now_millis().saturating_sub(age),
            include_failed,
        };
        let Outcome::Purged(count, files) = self.writer.call(op).await? else {
            return Err(mismatch());
        };
        let payloads = self.payloads.clone();
        let removed = tokio::task::spawn_blocking(move || {
            for name in files {
                // The rows are gone; a file that cannot be removed now is an orphan that
                // the next start's sweep removes, not a reason to report failure.
                let _ = payloads.remove(&name);
            }
        });
        // Likewise a removal task that did not run: the sweep catches up.
        let _ = removed.await;
        Ok(count)
    }
}

/// Links (or copies) a caller's file into the payload folder on the blocking pool; returns its
/// name there and its length.
async fn adopt(payloads: PayloadDir, file: PathBuf) -> Result<(String, u64), StoreError> {
    tokio::task::spawn_blocking(move || payloads.adopt(&file))
        .await
        .map_err(|e| StoreError::io("adopting a file", std::io::Error::other(e)))?
}

impl Backend for SqliteStore {
    fn reads(&self) -> &dyn BackendRead {
        &self.reader
    }

    fn receive(&self, doc: NewDocument) -> BoxFuture<'_, Result<Received, StoreError>> {
        Box::pin(SqliteStore::receive(self, doc))
    }

    fn conclude<'a>(
        &'a self,
        id: &'a str,
        finish: Finish,
        answer: Option<Answer>,
        deliveries: Vec<NewDelivery>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Conclude {
            id: id.to_string(),
            finish,
            answer,
            deliveries,
            at: now_millis(),
        }))
    }

    fn enqueue<'a>(
        &'a self,
        document_id: Option<&'a str>,
        deliveries: Vec<NewDelivery>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Enqueue {
            document_id: document_id.map(str::to_string),
            deliveries,
            at: now_millis(),
        }))
    }

    fn claim_deliveries<'a>(
        &'a self,
        claimer: &'a str,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        let op = Op::Claim {
            claimer: claimer.to_string(),
            now: now_millis(),
            until,
            limit,
        };
        Box::pin(async move {
            match self.writer.call(op).await? {
                Outcome::Claimed(claimed) => Ok(claimed),
                _ => Err(mismatch()),
            }
        })
    }

    fn record_attempt<'a>(
        &'a self,
        id: i64,
        claimer: &'a str,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Attempted {
            id,
            claimer: claimer.to_string(),
            attempt,
            outcome,
        }))
    }

    fn release_deliveries<'a>(&'a self, claimer: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Release {
            claimer: Some(claimer.to_string()),
        }))
    }

    fn next_delivery_due(&self) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        let reads = self.reader.reads.clone();
        Box::pin(blocking(move || reads.readers.read(sql::outbox::next_due)))
    }

    fn record_partner_certificates(
        &self,
        certificates: Vec<PartnerCertificate>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let at = now_millis() / 1000;
        Box::pin(self.write(Op::Certificates { certificates, at }))
    }

    fn record_answer<'a>(
        &'a self,
        id: &'a str,
        answer: Answer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Answer {
            id: id.to_string(),
            answer,
            at: now_millis(),
        }))
    }

    fn mark_for_retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write(Op::Retry {
            id: id.to_string(),
            at: now_millis(),
        }))
    }

    fn unfinished(&self) -> BoxFuture<'_, Result<Vec<StoredDocument>, StoreError>> {
        let reads = self.reader.reads.clone();
        Box::pin(blocking(move || reads.unfinished()))
    }

    fn purge(
        &self,
        older_than: Duration,
        include_failed: bool,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(SqliteStore::purge(self, older_than, include_failed))
    }

    fn cluster(&self) -> &dyn Cluster {
        &self.node
    }

    fn export_ids(
        &self,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, String)>, StoreError>> {
        Box::pin(SqliteStore::export_ids(self, after, limit))
    }

    fn duplicate_keys<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DuplicateKeys>, StoreError>> {
        Box::pin(SqliteStore::duplicate_keys(self, id))
    }

    fn import(&self, doc: Imported) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(SqliteStore::import(self, doc))
    }

    fn orphan_keys(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<UniqueKey>, StoreError>> {
        Box::pin(SqliteStore::orphan_keys(self, after, limit))
    }

    fn import_keys(&self, keys: Vec<UniqueKey>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(SqliteStore::import_keys(self, keys))
    }

    fn size_bytes(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        // The database and its write-ahead log; payload files are counted by the file system.
        let files = [
            self.data_dir.join(sql::DB_FILE),
            self.data_dir.join(format!("{}-wal", sql::DB_FILE)),
        ];
        Box::pin(async move {
            Ok(files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum())
        })
    }
}

/// The writer answers each operation with the outcome of its kind; anything else is a bug in
/// this crate, reported rather than panicking inside the host.
fn mismatch() -> StoreError {
    StoreError::Corrupt("the store's writer answered with the wrong kind of outcome".into())
}

/// Makes a newly created database file's directory entry durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}
