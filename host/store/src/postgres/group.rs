//! Group commit on PostgreSQL: receipts and outcomes of many documents in one transaction, so
//! that one commit (one WAL flush, with `synchronous_commit=on`: the durability every 2xx and
//! `processed` MDN promises stays) and a handful of round trips serve a whole batch instead of
//! each document paying its own.
//!
//! Callers queue their write and wait for its answer, which comes only after the batch's
//! commit. A few writer tasks share the queue: each takes what is queued (up to `max_batch`),
//! writes it (`batch.rs`) and commits, while the next one gathers the following batch, so the
//! batch size grows with the load and a lone request never waits for company.
//!
//! Within a batch, one document's refusal never fails the others: the multi-row insert skips a
//! conflicting row instead of failing (`ON CONFLICT DO NOTHING`), and what it skipped, or what
//! needs more than one row (a unique key to claim), is written one by one under a savepoint of
//! its own, by the same code as a lone receipt; an outcome refused (unknown document, wrong
//! state) is answered and not written. Should a statement fail anyway (a value the database
//! refuses, a deadlock with another node), the batch is rolled back and each of its writes is
//! retried in a transaction of its own, so that only the faulty one fails. A database that is
//! away fails the whole batch at once, each caller with [`StoreError::Unavailable`].

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::batch::{self, Concluding};
use super::pool::Db;
use super::write::{self, Change, Insert};
use crate::error::StoreError;
use crate::types::{Received, State};

/// Writers taking batches from the queue: while one waits for its commit, another writes the
/// next batch (PostgreSQL then flushes their commits together when they meet).
const WRITERS: usize = 3;

/// A batch stops growing past this many bytes of contents, so that its statement stays small.
const BATCH_BYTES: usize = 4 << 20;

/// Documents whose contents are larger than this are received alone (see `takes`).
pub(crate) const BATCH_CONTENT: u64 = 64 * 1024;

/// A write waiting in the queue, with where its answer goes.
pub(crate) enum Job {
    Receive {
        doc: Insert,
        reply: oneshot::Sender<Result<Received, StoreError>>,
    },
    Conclude {
        id: String,
        change: Change,
        at: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl Job {
    /// The bytes of contents it adds to a batch.
    fn weight(&self) -> usize {
        match self {
            Job::Receive { doc, .. } => {
                (doc.payload.len() + doc.raw.as_ref().map_or(0, |r| r.len())) as usize
            }
            Job::Conclude { change, .. } => match change {
                Change::Conclude { answer, .. } => answer.as_ref().map_or(0, |a| a.bytes.len()),
                _ => 0,
            },
        }
    }
}

/// What a job's caller gets.
enum Outcome {
    Received(Result<Received, StoreError>),
    Changed(Result<(), StoreError>),
}

/// The queue in front of the writers; dropping it lets them finish what is queued and stop.
pub(crate) struct Group {
    queue: mpsc::UnboundedSender<Job>,
}

impl Group {
    /// Starts the writers on the backend's runtime.
    pub fn start(db: Arc<Db>, max_batch: usize) -> Group {
        let (queue, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            let (db, rx) = (db.clone(), rx.clone());
            db.handle.clone().spawn(writer(db, rx, max_batch.max(1)));
        }
        Group { queue }
    }

    /// Whether a document is received in a batch: contents stored inline and small (larger
    /// ones, chunked or not, are written alone, so that a batch's statement stays small).
    pub fn takes(doc: &Insert) -> bool {
        let small = |c: &super::chunks::Placed| c.inline().is_some() && c.len() <= BATCH_CONTENT;
        small(&doc.payload) && doc.raw.as_ref().is_none_or(small)
    }

    /// Queues a receipt and waits until its batch has committed.
    pub async fn receive(&self, doc: Insert) -> Result<Received, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job::Receive { doc, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues an outcome ([`Change::Conclude`]) and waits until its batch has committed.
    pub async fn conclude(&self, id: String, change: Change, at: i64) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job::Conclude {
                id,
                change,
                at,
                reply,
            })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// One writer: takes the first job queued and whatever else is queued behind it, commits them
/// together, answers, and again.
async fn writer(db: Arc<Db>, rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>, max_batch: usize) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut bytes = first.weight();
            let mut batch = vec![first];
            while batch.len() < max_batch && bytes < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(job) => {
                        bytes += job.weight();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        run(&db, batch).await;
    }
}

/// Commits `batch` and answers its callers; a second outcome of a document already in the batch
/// waits for the next round (a batch changes a document once, see `batch::conclude`).
pub(crate) async fn run(db: &Arc<Db>, mut batch: Vec<Job>) {
    while !batch.is_empty() {
        let (now, later) = split_repeats(batch);
        match apply(db, &now).await {
            Ok(outcomes) => now.into_iter().zip(outcomes).for_each(answer),
            Err(e) if now.len() == 1 || matches!(e, StoreError::Unavailable(_)) => {
                for job in now {
                    let outcome = match job {
                        Job::Receive { .. } => Outcome::Received(Err(e.clone())),
                        Job::Conclude { .. } => Outcome::Changed(Err(e.clone())),
                    };
                    answer((job, outcome));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, jobs = now.len(), "a group commit failed; writing its documents one by one");
                for job in now {
                    let outcome = alone(db, &job).await;
                    answer((job, outcome));
                }
            }
        }
        batch = later;
    }
}

fn answer((job, outcome): (Job, Outcome)) {
    // A caller that gave up waiting has gone; what it asked for is written all the same.
    match (job, outcome) {
        (Job::Receive { reply, .. }, Outcome::Received(r)) => drop(reply.send(r)),
        (Job::Conclude { reply, .. }, Outcome::Changed(r)) => drop(reply.send(r)),
        (Job::Receive { reply, .. }, Outcome::Changed(_)) => drop(reply.send(Err(mismatch()))),
        (Job::Conclude { reply, .. }, Outcome::Received(_)) => drop(reply.send(Err(mismatch()))),
    }
}

fn mismatch() -> StoreError {
    StoreError::Invalid("a group commit answered a write with another's result".into())
}

/// Splits off the outcomes of documents that an earlier job of the batch already changes, and
/// receipts whose id an earlier receipt of the batch already uses, in their order.
fn split_repeats(batch: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
    let (mut received, mut changed) = (HashSet::new(), HashSet::new());
    let (mut now, mut later) = (Vec::with_capacity(batch.len()), Vec::new());
    for job in batch {
        let fresh = match &job {
            Job::Receive { doc, .. } => received.insert(doc.id.clone()),
            Job::Conclude { id, .. } => changed.insert(id.clone()),
        };
        if fresh {
            now.push(job);
        } else {
            later.push(job);
        }
    }
    (now, later)
}

/// A job in a transaction of its own, as without group commit.
async fn alone(db: &Arc<Db>, job: &Job) -> Outcome {
    let db = db.clone();
    match job {
        Job::Receive { doc, .. } => Outcome::Received(write::receive(db, doc).await),
        Job::Conclude { id, change, at, .. } => {
            Outcome::Changed(write::change(db, id, change, *at).await)
        }
    }
}

/// Writes the batch in one transaction and commits it; the outer error means nothing of it was
/// committed.
async fn apply(db: &Db, jobs: &[Job]) -> Result<Vec<Outcome>, StoreError> {
    let mut client = db.pool.get().await?;
    let mut tx = client.transaction().await?;
    let mut bulk = Vec::new();
    let mut ids = Vec::new();
    for job in jobs {
        match job {
            Job::Receive { doc, .. } if doc.unique_key.is_none() => bulk.push(doc),
            Job::Receive { .. } => {}
            Job::Conclude { id, .. } => ids.push(id.as_str()),
        }
    }
    // The two are independent: sent together, they cost one round trip.
    let (inserted, locked) = tokio::try_join!(batch::insert(&tx, &bulk), batch::lock(&tx, &ids))?;

    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(jobs.len());
    let mut concluding = Vec::new();
    for job in jobs {
        outcomes.push(match job {
            Job::Receive { doc, .. } => inserted
                .contains_key(&doc.id)
                .then_some(Outcome::Received(Ok(Received::New))),
            Job::Conclude { id, change, at, .. } => {
                Some(Outcome::Changed(match locked.get(id.as_str()) {
                    None => Err(StoreError::NotFound(id.clone())),
                    Some(&(_, state)) if state != State::Received => Err(StoreError::WrongState {
                        id: id.clone(),
                        state,
                        expected: State::Received,
                    }),
                    Some(&(seq, _)) => {
                        concluding.push((seq, id.as_str(), change, *at));
                        Ok(())
                    }
                }))
            }
        });
    }
    let items: Vec<Concluding> = concluding
        .iter()
        .map(|&(seq, _, change, at)| Concluding { seq, change, at })
        .collect();
    batch::conclude(&tx, &items).await?;
    for &(_, id, change, at) in &concluding {
        if let Change::Conclude { deliveries, .. } = change {
            super::outbox::insert(&tx, Some(id), deliveries, at).await?;
        }
    }
    // The receipts the insert skipped or did not take, one by one, each under a savepoint.
    for (job, outcome) in jobs.iter().zip(outcomes.iter_mut()) {
        if let (Job::Receive { doc, .. }, None) = (job, &outcome) {
            *outcome = Some(Outcome::Received(receive_one(&mut tx, doc).await?));
        }
    }
    tx.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Received(Err(mismatch()))))
        .collect())
}

/// Receives one document inside the batch under a savepoint, undone when the document is
/// refused (its id taken, a value the database refuses) or its unique key is taken. The outer
/// error (the database away, the savepoint itself failing) fails the batch.
async fn receive_one(
    tx: &mut deadpool_postgres::Transaction<'_>,
    doc: &Insert,
) -> Result<Result<Received, StoreError>, StoreError> {
    let item = tx.savepoint("item").await?;
    match write::receive_in(&item, doc).await {
        Ok(received @ Received::KeyTaken { .. }) => {
            item.rollback().await?;
            Ok(Ok(received))
        }
        Ok(received) => {
            item.commit().await?;
            Ok(Ok(received))
        }
        Err(e @ (StoreError::Unavailable(_) | StoreError::Closed)) => Err(e),
        Err(e) => {
            item.rollback().await?;
            Ok(Err(e))
        }
    }
}
