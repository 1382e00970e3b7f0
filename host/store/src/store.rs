//! The store's public face: durable receipt, outcomes, recovery, listings and retention.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;

use crate::clock::now_millis;
use crate::error::StoreError;
use crate::lock::DirLock;
use crate::payload::{Blob, PayloadDir};
use crate::readers::Readers;
use crate::sql;
use crate::types::{
    Answer, Finish, NewDocument, Query, Received, StoreOptions, StoredDocument, Summary,
};
use crate::writer::{Insert, Op, Outcome, Writer};

/// The embedded message store of a host. Cheap to clone; the last clone dropped waits for the
/// queued writes to commit and releases the data dir.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order is drop order: the writer finishes its queue before the lock is released.
    writer: Writer,
    readers: Readers,
    payloads: PayloadDir,
    inline_limit: usize,
    _lock: DirLock,
}

impl Store {
    /// Opens (creating if need be) the store in `data_dir` with the default options.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, StoreOptions::default())
    }

    /// Opens the store: takes the data dir's lock, creates or migrates the schema, and removes
    /// payload files left by a crash before their rows committed.
    pub fn open_with(data_dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::io(format!("creating {}", data_dir.display()), e))?;
        let lock = DirLock::acquire(data_dir)?;
        let payloads = PayloadDir::open(data_dir)?;
        let mut conn = sql::open_writer(data_dir, options.busy_timeout)?;
        sql::migrate(&mut conn)?;
        payloads.sweep(&sql::referenced_files(&conn)?)?;
        sync_dir(data_dir)?;
        let next_seq = sql::max_seq(&conn)?;
        let writer = Writer::start(conn, next_seq, options.max_batch)?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer,
                readers: Readers::new(data_dir.to_path_buf(), options.busy_timeout),
                payloads,
                inline_limit: options.inline_limit,
                _lock: lock,
            }),
        })
    }

    /// Stores a received document durably, or recognises it as a resend. When this returns
    /// `New`, the document, its properties and its raw request are fsynced: the partner may be
    /// told it was accepted. Must run inside a tokio runtime (large payloads are written on its
    /// blocking pool). If the future is dropped after the write was queued, the document may
    /// still be stored, and is then run at the next start.
    pub async fn receive(&self, doc: NewDocument) -> Result<Received, StoreError> {
        if doc.properties.len() as i64 > sql::PER_DOCUMENT {
            return Err(StoreError::Invalid(format!(
                "document {} has {} properties; the store keeps at most {}",
                doc.id,
                doc.properties.len(),
                sql::PER_DOCUMENT
            )));
        }
        let received_at = now_millis();
        let payload_len = i64::try_from(doc.payload.len()).unwrap_or(i64::MAX);
        let payload = self.place(doc.payload).await?;
        let raw = match (doc.raw_file, doc.raw) {
            (Some(file), _) => match self.adopt(file).await {
                Ok(blob) => Some(blob),
                Err(e) => {
                    self.forget(&[&payload]);
                    return Err(e);
                }
            },
            (None, Some(raw)) => match self.place(raw).await {
                Ok(blob) => Some(blob),
                Err(e) => {
                    self.forget(&[&payload]);
                    return Err(e);
                }
            },
            (None, None) => None,
        };
        let files = [Some(payload.clone()), raw.clone()];
        let op = Op::Insert(Insert {
            id: doc.id,
            process: doc.process,
            received_at,
            payload,
            payload_len,
            raw,
            properties: doc.properties,
            duplicate_key: doc.duplicate_key,
            duplicate_window: doc.duplicate_window,
        });
        let outcome = self.inner.writer.call(op).await;
        let blobs: Vec<&Blob> = files.iter().flatten().collect();
        match outcome {
            Ok(Outcome::Received(received)) => {
                // A resend's row names no file (see `Received::Duplicate`).
                if matches!(received, Received::Duplicate { .. }) {
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

    /// Records how the document's process ended. Only a `received` document can finish.
    pub async fn finish(&self, id: &str, result: Finish) -> Result<(), StoreError> {
        let op = Op::Finish {
            id: id.to_string(),
            finish: result,
            at: now_millis(),
        };
        done(self.inner.writer.call(op).await?)
    }

    /// Keeps the answer sent to the partner (status and bytes, e.g. the MDN) as evidence and
    /// for replay to resends.
    pub async fn record_answer(&self, id: &str, answer: Answer) -> Result<(), StoreError> {
        let op = Op::Answer {
            id: id.to_string(),
            answer,
            at: now_millis(),
        };
        done(self.inner.writer.call(op).await?)
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
        let op = Op::Conclude {
            id: id.to_string(),
            finish,
            answer,
            at: now_millis(),
        };
        done(self.inner.writer.call(op).await?)
    }

    /// The documents whose process has not finished, oldest first, with payload and
    /// properties: what the host runs again at start-up. Blocks (reads files).
    pub fn unfinished(&self) -> Result<Vec<StoredDocument>, StoreError> {
        let rows = self.inner.readers.read(|conn| {
            sql::unfinished(conn)?
                .into_iter()
                .map(|doc| complete(conn, doc))
                .collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter().map(|row| self.materialise(row)).collect()
    }

    /// One document with its payload, properties, history and answer. Blocks (reads files).
    pub fn get(&self, id: &str) -> Result<Option<StoredDocument>, StoreError> {
        let row = self.inner.readers.read(|conn| load(conn, id))?;
        row.map(|row| self.materialise(row)).transpose()
    }

    /// The raw request kept as evidence, if the connector gave one.
    pub fn raw(&self, id: &str) -> Result<Option<Bytes>, StoreError> {
        match self.inner.readers.read(|conn| sql::raw(conn, id))? {
            None => Err(StoreError::NotFound(id.to_string())),
            Some(blob) => blob.map(|b| self.bytes(b)).transpose(),
        }
    }

    /// A listing, newest first.
    pub fn query(&self, filter: &Query) -> Result<Vec<Summary>, StoreError> {
        self.inner.readers.read(|conn| sql::query(conn, filter))
    }

    /// Puts a failed document back to `received`, so that it runs again (now, by the caller,
    /// or at the next start). Blocks until committed.
    pub fn mark_for_retry(&self, id: &str) -> Result<(), StoreError> {
        let op = Op::Retry {
            id: id.to_string(),
            at: now_millis(),
        };
        done(self.inner.writer.call_blocking(op)?)
    }

    /// Removes documents received longer ago than `older_than`, with their payload files.
    /// Failed documents go only when `include_failed`; documents not yet run never do.
    /// Returns how many were removed. Blocks until committed.
    pub fn purge(&self, older_than: Duration, include_failed: bool) -> Result<u64, StoreError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let op = Op::Purge {
            before: now_millis().saturating_sub(age),
            include_failed,
        };
        match self.inner.writer.call_blocking(op)? {
            Outcome::Purged(count, files) => {
                for name in files {
                    // The rows are gone; a file that cannot be removed now is an orphan that
                    // the next start's sweep removes, not a reason to report failure.
                    let _ = self.inner.payloads.remove(&name);
                }
                Ok(count)
            }
            _ => Err(mismatch()),
        }
    }

    /// Keeps small content in the row; writes large content to a durable file first, on the
    /// blocking pool, so that neither the runtime nor the writer thread waits for it.
    async fn place(&self, bytes: Bytes) -> Result<Blob, StoreError> {
        if bytes.len() <= self.inner.inline_limit {
            return Ok(Blob::Inline(bytes));
        }
        let payloads = self.inner.payloads.clone();
        let name = tokio::task::spawn_blocking(move || payloads.write(&bytes))
            .await
            .map_err(|e| StoreError::io("writing a payload file", std::io::Error::other(e)))??;
        Ok(Blob::File(name))
    }

    /// A file of the caller's made durable and named in the payload folder, without a copy.
    async fn adopt(&self, file: std::path::PathBuf) -> Result<Blob, StoreError> {
        let payloads = self.inner.payloads.clone();
        let name = tokio::task::spawn_blocking(move || payloads.adopt(&file))
            .await
            .map_err(|e| {
                StoreError::io("adopting a raw request file", std::io::Error::other(e))
            })??;
        Ok(Blob::File(name))
    }

    /// Removes files that no committed row names.
    fn forget(&self, blobs: &[&Blob]) {
        for blob in blobs {
            if let Blob::File(name) = blob {
                // Best effort: the start-up sweep removes what is left.
                let _ = self.inner.payloads.remove(name);
            }
        }
    }

    fn bytes(&self, blob: Blob) -> Result<Bytes, StoreError> {
        bytes(&self.inner.payloads, blob)
    }

    fn materialise(&self, row: Loaded) -> Result<StoredDocument, StoreError> {
        materialise(&self.inner.payloads, row)
    }
}

/// A read-only view of a store that another process may hold open (a running berth): what the
/// command line needs to list and show documents without stopping the host. It takes no lock
/// and never writes.
pub struct StoreReader {
    readers: Readers,
    payloads: PayloadDir,
}

impl StoreReader {
    /// Opens the store in `data_dir`, which must exist (a host has run there).
    pub fn open(data_dir: &Path) -> Result<StoreReader, StoreError> {
        if !data_dir.join(sql::DB_FILE).exists() {
            return Err(StoreError::NotFound(format!(
                "no message store in {} (berth has not run with this deployment yet)",
                data_dir.display()
            )));
        }
        let options = StoreOptions::default();
        Ok(StoreReader {
            readers: Readers::new(data_dir.to_path_buf(), options.busy_timeout),
            payloads: PayloadDir::existing(data_dir),
        })
    }

    /// As [`Store::get`].
    pub fn get(&self, id: &str) -> Result<Option<StoredDocument>, StoreError> {
        let row = self.readers.read(|conn| load(conn, id))?;
        row.map(|row| materialise(&self.payloads, row)).transpose()
    }

    /// As [`Store::query`].
    pub fn query(&self, filter: &Query) -> Result<Vec<Summary>, StoreError> {
        self.readers.read(|conn| sql::query(conn, filter))
    }
}

fn bytes(payloads: &PayloadDir, blob: Blob) -> Result<Bytes, StoreError> {
    match blob {
        Blob::Inline(bytes) => Ok(bytes),
        Blob::File(name) => payloads.read(&name),
    }
}

fn materialise(payloads: &PayloadDir, row: Loaded) -> Result<StoredDocument, StoreError> {
    let (doc, properties, history) = row;
    let payload = match doc.payload {
        Some(blob) => bytes(payloads, blob)?,
        None => Bytes::new(),
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

type Loaded = (sql::DocumentRead, Vec<(String, String)>, Vec<(i64, String)>);

/// Reads one document's rows; payload files are read after the read transaction ends.
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

fn done(outcome: Outcome) -> Result<(), StoreError> {
    match outcome {
        Outcome::Done => Ok(()),
        _ => Err(mismatch()),
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
