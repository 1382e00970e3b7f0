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

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::certificates::PartnerCertificate;
use crate::copy::{Imported, UniqueKey};
use crate::delivery::{Attempt, AttemptOutcome, Delivery, NewDelivery};
use crate::error::StoreError;
use crate::sqlite::files::Blob;
use crate::sqlite::sql;
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
    pub unique_key: Option<String>,
}

/// A document copied from another store (see `import.rs`), its contents already placed.
pub(crate) struct ImportRow {
    pub doc: Imported,
    pub payload: Blob,
    pub payload_len: i64,
    pub raw: Option<Blob>,
}

pub(crate) enum Op {
    Insert(Insert),
    Import(Box<ImportRow>),
    /// Keys copied on their own (see `UniqueKey`).
    ImportKeys(Vec<UniqueKey>),
    Answer {
        id: String,
        answer: Answer,
        at: i64,
    },
    /// A process's end, with the answer sent when there is one (without, it is a finish alone)
    /// and the deliveries it promises.
    Conclude {
        id: String,
        finish: Finish,
        answer: Option<Answer>,
        deliveries: Vec<NewDelivery>,
        at: i64,
    },
    /// Deliveries without a document outcome.
    Enqueue {
        document_id: Option<String>,
        deliveries: Vec<NewDelivery>,
        at: i64,
    },
    Claim {
        claimer: String,
        now: i64,
        until: i64,
        limit: usize,
    },
    Attempted {
        id: i64,
        claimer: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    },
    /// Ends the claimer's claims, or everyone's.
    Release {
        claimer: Option<String>,
    },
    Retry {
        id: String,
        at: i64,
    },
    Purge {
        before: i64,
        include_failed: bool,
    },
    /// Certificates partners sent (see `crate::certificates`).
    Certificates {
        certificates: Vec<PartnerCertificate>,
        at: i64,
    },
}

pub(crate) enum Outcome {
    Received(Received),
    Done,
    Claimed(Vec<Delivery>),
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
            fresh: Fresh::default(),
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
    fresh: Fresh,
}

/// The documents this writer received as new and has not changed since, by id: each is
/// `received`, has no history yet, and has this seq. The finish or the answer that comes for
/// almost every one of them then changes its row without looking it up first. Only a hint: an
/// id missing here is looked up in the database. A batch that fails empties it, since the
/// changes it noted were undone.
#[derive(Default)]
struct Fresh {
    seqs: HashMap<String, i64>,
}

impl Fresh {
    /// More than the documents in flight at once; a host that leaves documents unfinished
    /// (a process that never ends) cannot make it grow without bound.
    const MAX: usize = 16 * 1024;

    fn insert(&mut self, id: &str, seq: i64) {
        if self.seqs.len() >= Fresh::MAX {
            self.seqs.clear();
        }
        self.seqs.insert(id.to_string(), seq);
    }

    fn take(&mut self, id: &str) -> Option<i64> {
        self.seqs.remove(id)
    }

    fn clear(&mut self) {
        self.seqs.clear();
    }
}

/// The outer error aborts the batch (the database failed); the inner one refuses only this
/// operation.
pub(super) type Step = Result<Result<Outcome, StoreError>, StoreError>;

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
        let applied = self.apply_all(batch);
        if applied.is_err() {
            self.fresh.clear();
        }
        applied
    }

    fn apply_all(&mut self, batch: &[Job]) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
        let mut seq = self.next_seq;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for job in batch {
            results.push(apply_one(&tx, &mut self.fresh, &job.op, &mut seq)?);
        }
        tx.commit()?;
        self.next_seq = seq;
        Ok(results)
    }
}

fn apply_one(conn: &Connection, fresh: &mut Fresh, op: &Op, seq: &mut i64) -> Step {
    match op {
        Op::Insert(doc) => {
            let step = insert(conn, doc, seq)?;
            if let Ok(Outcome::Received(Received::New)) = step {
                fresh.insert(&doc.id, *seq);
            }
            Ok(step)
        }
        Op::Import(row) => super::import::write(conn, row, seq),
        Op::ImportKeys(keys) => {
            for k in keys {
                sql::import_unique_key(conn, &k.process, &k.key, &k.document_id)?;
            }
            Ok(Ok(Outcome::Done))
        }
        Op::Answer { id, answer, at } => {
            let (seq, history) = match find(conn, fresh, id, None, 1)? {
                Ok(found) => found,
                Err(refused) => return Ok(Err(refused)),
            };
            sql::set_answer(conn, seq, answer, *at)?;
            let event = format!("answered {}", answer.summary);
            sql::insert_history(conn, history, *at, &event)?;
            Ok(Ok(Outcome::Done))
        }
        Op::Conclude {
            id,
            finish,
            answer,
            deliveries,
            at,
        } => {
            let events = if answer.is_some() { 2 } else { 1 };
            let (seq, history) = match find(conn, fresh, id, Some(State::Received), events)? {
                Ok(found) => found,
                Err(refused) => return Ok(Err(refused)),
            };
            let (state, error, event) = finish_event(finish);
            match answer {
                Some(answer) => {
                    sql::set_concluded(conn, seq, state, error, answer, *at)?;
                    let answered = format!("answered {}", answer.summary);
                    sql::insert_history(conn, history, *at, &event)?;
                    sql::insert_history(conn, history + 1, *at, &answered)?;
                }
                None => {
                    sql::set_finished(conn, seq, state, error, *at)?;
                    sql::insert_history(conn, history, *at, &event)?;
                }
            }
            sql::outbox::insert(conn, Some(id), deliveries, *at)?;
            Ok(Ok(Outcome::Done))
        }
        Op::Enqueue {
            document_id,
            deliveries,
            at,
        } => {
            if let Some(id) = document_id {
                if sql::locate(conn, id)?.is_none() {
                    return Ok(Err(StoreError::NotFound(id.clone())));
                }
            }
            sql::outbox::insert(conn, document_id.as_deref(), deliveries, *at)?;
            Ok(Ok(Outcome::Done))
        }
        Op::Claim {
            claimer,
            now,
            until,
            limit,
        } => {
            let claimed = sql::outbox::claim(conn, claimer, *now, *until, *limit)?;
            Ok(Ok(Outcome::Claimed(claimed)))
        }
        Op::Attempted {
            id,
            claimer,
            attempt,
            outcome,
        } => {
            sql::outbox::attempted(conn, *id, claimer, attempt, *outcome)?;
            Ok(Ok(Outcome::Done))
        }
        Op::Release { claimer } => {
            sql::outbox::release(conn, claimer.as_deref())?;
            Ok(Ok(Outcome::Done))
        }
        Op::Retry { id, at } => {
            let (seq, history) = match find(conn, fresh, id, Some(State::Failed), 1)? {
                Ok(found) => found,
                Err(refused) => return Ok(Err(refused)),
            };
            sql::set_retry(conn, seq, *at)?;
            sql::insert_history(conn, history, *at, "marked for retry")?;
            Ok(Ok(Outcome::Done))
        }
        Op::Purge {
            before,
            include_failed,
        } => {
            let (count, files) = sql::purge(conn, *before, *include_failed)?;
            Ok(Ok(Outcome::Purged(count, files)))
        }
        Op::Certificates { certificates, at } => {
            sql::certificates::insert(conn, certificates, *at)?;
            Ok(Ok(Outcome::Done))
        }
    }
}

/// The state, error and history event that a process's end writes.
fn finish_event(finish: &Finish) -> (State, Option<&str>, String) {
    match finish {
        Finish::Processed => (State::Processed, None, "processed".to_string()),
        Finish::Failed { error } => (
            State::Failed,
            Some(error.as_str()),
            format!("failed: {error}"),
        ),
    }
}

/// Where a change of document `id` that adds `events` history entries goes: its seq and the
/// id of its next history entry, if it exists and is in the `expected` state (any state if
/// None); otherwise the refusal that says why not. A fresh document (see `Fresh`) needs no
/// lookup, and stops being fresh.
fn find(
    conn: &Connection,
    fresh: &mut Fresh,
    id: &str,
    expected: Option<State>,
    events: i64,
) -> Result<Result<(i64, i64), StoreError>, StoreError> {
    if matches!(expected, None | Some(State::Received)) {
        if let Some(seq) = fresh.take(id) {
            return Ok(Ok((seq, sql::key_range(seq).0)));
        }
    }
    let Some((seq, state)) = sql::locate(conn, id)? else {
        return Ok(Err(StoreError::NotFound(id.to_string())));
    };
    match expected {
        Some(expected) if expected != state => Ok(Err(StoreError::WrongState {
            id: id.to_string(),
            state,
            expected,
        })),
        _ => Ok(Ok((seq, sql::next_history(conn, seq, events)?))),
    }
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
    // A resend is answered as one; only a new message claims its unique key, before its row
    // exists, so that a refused one leaves nothing behind.
    if let (None, Some(key)) = (&original, &doc.unique_key) {
        if let Some(holder_id) = sql::claim_unique_key(conn, &doc.process, key, &doc.id)? {
            return Ok(Ok(Outcome::Received(Received::KeyTaken { holder_id })));
        }
    }
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
        if original.is_none() {
            if let Some(key) = &doc.unique_key {
                sql::release_unique_key(conn, &doc.process, key, &doc.id)?;
            }
        }
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
