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
//! The common case is one round trip and one commit for the whole batch (see `bulk`). Within a
//! batch, one document's refusal never fails the others: the multi-row insert skips a
//! conflicting row instead of failing (`ON CONFLICT DO NOTHING`) and the update skips a
//! document not `received`; what they skipped, and what needs more than a row (a unique key to
//! claim, deliveries promised with an outcome), is then written in a second transaction, each
//! under a savepoint of its own and by the same code as a lone write (`each`), before its
//! caller is answered. Should a statement fail anyway (a value the database
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
use crate::types::Received;

/// Writers taking batches from the queue: while one waits for its commit, others write the
/// next batches (PostgreSQL then flushes their commits together when they meet). Measured
/// with scripts/bench-postgres (HTTP, 64 connections): 1 and 3 writers ~2,100 documents/s,
/// 6 ~2,300-2,800, 12 no better (smaller batches cost PostgreSQL more CPU per document). Six
/// of the host's 16 connections.
const WRITERS: usize = 6;

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
/// waits for the next round (a batch changes a document once, see `batch::CONCLUDE`).
pub(crate) async fn run(db: &Arc<Db>, mut batch: Vec<Job>) {
    while !batch.is_empty() {
        let (now, later) = split_repeats(batch);
        let rest = match bulk(db, &now).await {
            Ok(outcomes) => {
                let mut rest = Vec::new();
                for (job, outcome) in now.into_iter().zip(outcomes) {
                    match outcome {
                        Some(outcome) => answer((job, outcome)),
                        None => rest.push(job),
                    }
                }
                rest
            }
            Err(e) => {
                fail(db, now, e).await;
                Vec::new()
            }
        };
        if !rest.is_empty() {
            match each(db, &rest).await {
                Ok(outcomes) => rest.into_iter().zip(outcomes).for_each(answer),
                Err(e) => fail(db, rest, e).await,
            }
        }
        batch = later;
    }
}

/// After a batch failed: the error for every job when the database is away (or the batch was
/// one job), else each job again in a transaction of its own, so that only a faulty one fails.
async fn fail(db: &Arc<Db>, jobs: Vec<Job>, e: StoreError) {
    if jobs.len() == 1 || matches!(e, StoreError::Unavailable(_) | StoreError::Closed) {
        for job in jobs {
            let outcome = match job {
                Job::Receive { .. } => Outcome::Received(Err(e.clone())),
                Job::Conclude { .. } => Outcome::Changed(Err(e.clone())),
            };
            answer((job, outcome));
        }
        return;
    }
    tracing::debug!(error = %e, jobs = jobs.len(), "a group commit failed; writing its documents one by one");
    for job in jobs {
        let outcome = alone(db, &job).await;
        answer((job, outcome));
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

/// The common case in one round trip: `BEGIN`, the multi-row insert of the receipts, the
/// multi-row update of the outcomes and `COMMIT`, sent together. Returns each job's outcome, or
/// None for one left to [`each`]: a receipt the insert skipped (a resend, a taken id) or that
/// has a unique key to claim, an outcome that was not recorded (to find out why) or that
/// promises deliveries. The outer error means nothing of it was committed (or, when the
/// connection broke during the commit, that it is not known whether it was).
async fn bulk(db: &Db, jobs: &[Job]) -> Result<Vec<Option<Outcome>>, StoreError> {
    let receipts: Vec<&Insert> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Receive { doc, .. } if doc.unique_key.is_none() => Some(doc),
            _ => None,
        })
        .collect();
    let concluding: Vec<Concluding> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Conclude {
                id,
                change: change @ Change::Conclude { deliveries, .. },
                at,
                ..
            } if deliveries.is_empty() => Some(Concluding {
                id,
                change,
                at: *at,
            }),
            _ => None,
        })
        .collect();
    if receipts.is_empty() && concluding.is_empty() {
        return Ok(jobs.iter().map(|_| None).collect());
    }
    let client = db.pool.get().await?;
    // Prepared once per connection; from then on these cost no round trip, which is what lets
    // the four statements below go out in one.
    let (insert, conclude) = tokio::try_join!(
        client.prepare_cached(batch::INSERT),
        client.prepare_cached(batch::CONCLUDE)
    )?;
    // `join!` polls them in this order and each sends its statement on its first poll. A
    // statement that fails aborts the transaction, and the `COMMIT` then rolls it back.
    let (begun, inserted, concluded, committed) = tokio::join!(
        client.batch_execute("BEGIN"),
        batch::insert(&client, &insert, &receipts),
        batch::conclude(&client, &conclude, &concluding),
        client.batch_execute("COMMIT"),
    );
    let outcome = (|| {
        begun?;
        let (inserted, concluded) = (inserted?, concluded?);
        committed?;
        Ok((inserted, concluded))
    })();
    let (inserted, concluded) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // Ends the transaction should the COMMIT itself have failed (a no-op otherwise).
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    Ok(jobs
        .iter()
        .map(|job| match job {
            Job::Receive { doc, .. } => inserted
                .contains(&doc.id)
                .then_some(Outcome::Received(Ok(Received::New))),
            Job::Conclude { id, .. } => concluded.contains(id).then_some(Outcome::Changed(Ok(()))),
        })
        .collect())
}

/// What [`bulk`] left, in one transaction, each job under a savepoint of its own and written by
/// the same code as a lone write, so that a refused one leaves nothing and fails alone.
async fn each(db: &Db, jobs: &[Job]) -> Result<Vec<Outcome>, StoreError> {
    let mut client = db.pool.get().await?;
    let mut tx = client.transaction().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let item = tx.savepoint("item").await?;
        outcomes.push(match job {
            Job::Receive { doc, .. } => {
                let received = write::receive_in(&item, doc).await;
                let keep = matches!(received, Ok(Received::New | Received::Duplicate { .. }));
                Outcome::Received(settle(item, received, keep).await?)
            }
            Job::Conclude { id, change, at, .. } => {
                let changed = write::change_in(&item, id, change, *at).await;
                let keep = changed.is_ok();
                Outcome::Changed(settle(item, changed, keep).await?)
            }
        });
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Keeps a job's writes (releases its savepoint) or undoes them (a refusal, a taken unique key).
/// A database that is away fails the whole transaction.
async fn settle<T>(
    item: deadpool_postgres::Transaction<'_>,
    result: Result<T, StoreError>,
    keep: bool,
) -> Result<Result<T, StoreError>, StoreError> {
    if let Err(e @ (StoreError::Unavailable(_) | StoreError::Closed)) = result {
        return Err(e);
    }
    if keep {
        item.commit().await?;
    } else {
        item.rollback().await?;
    }
    Ok(result)
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
