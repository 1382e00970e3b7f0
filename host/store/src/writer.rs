//! The writer thread: the one owner of the write connection, and where group commit happens.
//!
//! Callers queue their writes on a channel. The thread takes the first one, then everything
//! else already queued (up to `max_batch`), applies them all in one transaction and commits
//! once, so that one fsync covers the whole batch; then it answers each caller. While one batch
//! is being fsynced the next one queues up, so the batch size grows with the load by itself and
//! a lone request never waits for company.
//!
//! A write that is refused for a reason of its own (unknown id, wrong state) is answered with
//! that error and does not disturb the batch: each operation checks before it writes. Should a
//! statement fail anyway, the batch is rolled back and its writes are retried one transaction
//! each, so that only the faulty one fails.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::payload::Blob;
use crate::sql;
use crate::types::{Answer, Finish, Received, State};

/// A document to insert; its payload and raw request are already inline or in durable files.
pub(crate) struct Insert {
    pub id: String,
    pub process: String,
    pub received_at: i64,
    pub payload: Blob,
    pub payload_len: i64,
    pub raw: Option<Blob>,
    pub properties: Vec<(String, String)>,
    pub duplicate_key: Option<String>,
    pub duplicate_window: u32,
}

pub(crate) enum Op {
    Insert(Insert),
    Finish { id: String, finish: Finish, at: i64 },
    Answer { id: String, answer: Answer, at: i64 },
    Retry { id: String, at: i64 },
    Purge { before: i64, include_failed: bool },
}

pub(crate) enum Outcome {
    Received(Received),
    Done,
    /// How many documents went, and the payload files to remove now that their rows are gone.
    Purged(u64, Vec<String>),
}

type Reply = Box<dyn FnOnce(Result<Outcome, StoreError>) + Send>;

struct Job {
    op: Op,
    reply: Reply,
}

pub(crate) struct Writer {
    // Options so that Drop can close the channel first and then wait for the thread.
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(
        conn: Connection,
        next_seq: i64,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel();
        let mut state = Thread {
            conn,
            next_seq,
            max_batch: max_batch.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("berth-store-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::io("starting the store's writer thread", e))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn submit(&self, op: Op, reply: Reply) -> Result<(), StoreError> {
        let tx = self.tx.as_ref().ok_or(StoreError::Closed)?;
        tx.send(Job { op, reply }).map_err(|_| StoreError::Closed)
    }

    /// Queues `op` and waits, without blocking the runtime, until its batch has committed.
    pub(crate) async fn call(&self, op: Op) -> Result<Outcome, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `op` and blocks the calling thread until its batch has committed.
    pub(crate) fn call_blocking(&self, op: Op) -> Result<Outcome, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    /// Lets the thread finish the writes already queued and close its connection, so that the
    /// store can be opened again as soon as the last handle is gone.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Thread {
    conn: Connection,
    next_seq: i64,
    max_batch: usize,
}

/// The outer error aborts the batch (the database failed); the inner one refuses only this
/// operation.
type Step = Result<Result<Outcome, StoreError>, StoreError>;

impl Thread {
    fn run(&mut self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Job>) {
        match self.apply(&batch) {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    (job.reply)(result);
                }
            }
            Err(e) if batch.len() == 1 => {
                for job in batch {
                    (job.reply)(Err(e.clone()));
                }
            }
            Err(_) => {
                for job in batch {
                    self.commit(vec![job]);
                }
            }
        }
    }

    fn apply(&mut self, batch: &[Job]) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
        let mut seq = self.next_seq;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for job in batch {
            results.push(apply_one(&tx, &job.op, &mut seq)?);
        }
        tx.commit()?;
        self.next_seq = seq;
        Ok(results)
    }
}

fn apply_one(conn: &Connection, op: &Op, seq: &mut i64) -> Step {
    match op {
        Op::Insert(doc) => insert(conn, doc, seq),
        Op::Finish { id, finish, at } => {
            let (state, error, event) = match finish {
                Finish::Processed => (State::Processed, None, "processed".to_string()),
                Finish::Failed { error } => (
                    State::Failed,
                    Some(error.as_str()),
                    format!("failed: {error}"),
                ),
            };
            let Some(seq) = sql::set_finished(conn, id, state, error, *at)? else {
                return Ok(Err(refusal(conn, id, State::Received)?));
            };
            sql::append_history(conn, seq, *at, &event)?;
            Ok(Ok(Outcome::Done))
        }
        Op::Answer { id, answer, at } => {
            let Some(seq) = sql::set_answer(conn, id, answer, *at)? else {
                return Ok(Err(StoreError::NotFound(id.clone())));
            };
            sql::append_history(conn, seq, *at, &format!("answered {}", answer.summary))?;
            Ok(Ok(Outcome::Done))
        }
        Op::Retry { id, at } => {
            let Some(seq) = sql::set_retry(conn, id, *at)? else {
                return Ok(Err(refusal(conn, id, State::Failed)?));
            };
            sql::append_history(conn, seq, *at, "marked for retry")?;
            Ok(Ok(Outcome::Done))
        }
        Op::Purge {
            before,
            include_failed,
        } => {
            let (count, files) = sql::purge(conn, *before, *include_failed)?;
            Ok(Ok(Outcome::Purged(count, files)))
        }
    }
}

/// Why a state change found no row to change.
fn refusal(conn: &Connection, id: &str, expected: State) -> Result<StoreError, StoreError> {
    Ok(match sql::state_of(conn, id)? {
        None => StoreError::NotFound(id.to_string()),
        Some(state) => StoreError::WrongState {
            id: id.to_string(),
            state,
            expected,
        },
    })
}

/// The duplicate check and the insert run in the same transaction on the only writing
/// connection, so two concurrent resends cannot both see "no original": the second one's check
/// already sees the first one's row, whether in the same batch or an earlier one.
fn insert(conn: &Connection, doc: &Insert, seq: &mut i64) -> Step {
    let original = match &doc.duplicate_key {
        Some(key) if doc.duplicate_window > 0 => {
            sql::find_duplicate(conn, &doc.process, key, doc.duplicate_window)?
        }
        _ => None,
    };
    let mut row = sql::DocumentRow {
        id: &doc.id,
        seq: *seq + 1,
        process: &doc.process,
        state: State::Received,
        received_at: doc.received_at,
        payload: Some(&doc.payload),
        payload_len: doc.payload_len,
        raw: doc.raw.as_ref(),
        duplicate_key: doc.duplicate_key.as_deref(),
        duplicate_of: None,
    };
    if let Some(original) = &original {
        // A resend keeps no payload and no key: the original answers for the message, and a
        // later lookup of the key must find the original, not the resend.
        row.state = State::Duplicate;
        row.payload = None;
        row.raw = None;
        row.duplicate_key = None;
        row.duplicate_of = Some(&original.id);
    }
    if !sql::insert_document(conn, &row)? {
        return Ok(Err(StoreError::AlreadyExists(doc.id.clone())));
    }
    *seq += 1;
    sql::insert_properties(conn, *seq, &doc.properties)?;
    // A document's receipt is its row's `received_at`; the history table holds what follows.
    let received = match original {
        Some(original) => {
            let event = format!("duplicate of {}", original.id);
            sql::append_history(conn, *seq, doc.received_at, &event)?;
            Received::Duplicate {
                original_id: original.id,
                answer: original.answer,
            }
        }
        None => Received::New,
    };
    Ok(Ok(Outcome::Received(received)))
}
