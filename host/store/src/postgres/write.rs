//! Receipt and the changes of a document, each one transaction that commits before it returns
//! (with `synchronous_commit=on`, see `pool.rs`), or, through `receive_in` and `change_in`, one
//! write inside a group commit's transaction (see `group.rs`): what a batch's multi-row
//! statements do not take (resends, unique keys, deliveries) is written here, under a savepoint.

use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::chunks::{Placed, PAYLOAD, RAW};
use super::outbox;
use super::pool::Db;
use crate::delivery::NewDelivery;
use crate::error::StoreError;
use crate::types::{Answer, Finish, Received, State};

/// A document to insert, its contents already placed.
pub(crate) struct Insert {
    pub id: String,
    pub process: String,
    pub received_at: i64,
    pub payload: Placed,
    pub raw: Option<Placed>,
    pub properties: Vec<(String, String)>,
    pub duplicate_key: Option<String>,
    pub duplicate_window: u32,
    /// The node that received it and owns it until it finishes (None outside a cluster).
    pub node: Option<String>,
    pub unique_key: Option<String>,
}

/// How often a receipt looks again when the key's holder changed under it (another node moved
/// or inserted it between two statements); each round sees the other's commit, so two suffice.
const KEY_ROUNDS: usize = 4;

/// Stores a received document, or a resend of the newest document of the process with its
/// duplicate key.
///
/// The window, as in the embedded store: a key is a duplicate when its holder is among the
/// process's last `window` documents (resends not counted). A unique key cannot say "among the
/// last N", so the key moves: a document whose key is held by one outside the window (or whose
/// window is 0) takes the key from it in the same transaction, and stays the one later resends
/// find, as the embedded store finds the newest. Two nodes inserting the same key at once are
/// ordered by the unique index: the second waits for the first's commit and then sees it.
pub(crate) async fn receive(db: Arc<Db>, doc: &Insert) -> Result<Received, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    let received = receive_in(&tx, doc).await?;
    // A refused unique key rolls back the row (dropping the transaction), leaving nothing.
    if !matches!(received, Received::KeyTaken { .. }) {
        tx.commit().await?;
    }
    Ok(received)
}

/// [`receive`] inside the caller's transaction, which the caller commits, or rolls back when
/// the answer is [`Received::KeyTaken`] (the row inserted before the key was found taken must
/// go with it).
pub(crate) async fn receive_in(tx: &Transaction<'_>, doc: &Insert) -> Result<Received, StoreError> {
    for _ in 0..KEY_ROUNDS {
        if let Some(seq) = insert_row(tx, doc, &doc.duplicate_key).await? {
            // Only a new message claims its unique key (a resend never gets here).
            if let Some(key) = &doc.unique_key {
                if let Some(holder_id) = claim_unique_key(tx, doc, key).await? {
                    return Ok(Received::KeyTaken { holder_id });
                }
            }
            insert_properties(tx, seq, &doc.properties).await?;
            let payload_len = doc.payload.write(tx, seq, PAYLOAD).await?;
            let raw_len = match &doc.raw {
                Some(raw) => Some(raw.write(tx, seq, RAW).await? as i64),
                None => None,
            };
            if payload_len != doc.payload.len()
                || raw_len != doc.raw.as_ref().map(|r| r.len() as i64)
            {
                tx.execute(
                    "UPDATE documents SET payload_len = $2, raw_len = $3 WHERE seq = $1",
                    &[&seq, &(payload_len as i64), &raw_len],
                )
                .await?;
            }
            return Ok(Received::New);
        }
        // The key is held (by a committed document: the insert waited for any other).
        let key = doc.duplicate_key.as_deref().unwrap_or_default();
        let holder = tx
            .query_opt(
                "SELECT seq, id, answer_bytes FROM documents WHERE process = $1 AND duplicate_key = $2",
                &[&doc.process, &key],
            )
            .await?;
        let Some(holder) = holder else {
            continue; // purged or moved meanwhile: insert again
        };
        let (holder_seq, holder_id, answer): (i64, String, Option<Vec<u8>>) =
            (holder.get(0), holder.get(1), holder.get(2));
        if doc.duplicate_window > 0
            && within(tx, &doc.process, holder_seq, doc.duplicate_window).await?
        {
            return resend(tx, doc, holder_id, answer).await;
        }
        tx.execute(
            "UPDATE documents SET duplicate_key = NULL WHERE seq = $1 AND duplicate_key = $2",
            &[&holder_seq, &key],
        )
        .await?;
    }
    Err(StoreError::Invalid(format!(
        "document {}: its duplicate key kept changing hands; try again",
        doc.id
    )))
}

/// Whether fewer than `window` documents of the process (resends not counted) came after
/// document `seq`. Counts at most `window` rows.
async fn within(
    tx: &Transaction<'_>,
    process: &str,
    seq: i64,
    window: u32,
) -> Result<bool, StoreError> {
    let newer: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM (SELECT 1 FROM documents
                 WHERE process = $1 AND seq > $2 AND state <> 'duplicate' LIMIT $3) AS newer",
            &[&process, &seq, &i64::from(window)],
        )
        .await?
        .get(0);
    Ok(newer < i64::from(window))
}

/// Inserts the document's row in state `received` with `key`; None when the key is held. A
/// document id already taken is refused.
async fn insert_row(
    tx: &Transaction<'_>,
    doc: &Insert,
    key: &Option<String>,
) -> Result<Option<i64>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO documents (id, process, state, received_at, updated_at, payload,
                 payload_len, payload_chunked, raw, raw_len, raw_chunked, duplicate_key, node)
             VALUES ($1, $2, 'received', $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (process, duplicate_key) DO NOTHING RETURNING seq",
        )
        .await?;
    let raw = doc.raw.as_ref();
    let row = tx
        .query_opt(
            &stmt,
            &[
                &doc.id,
                &doc.process,
                &doc.received_at,
                &doc.payload.inline(),
                &(doc.payload.len() as i64),
                &doc.payload.chunked(),
                &raw.and_then(Placed::inline),
                &raw.map(|r| r.len() as i64),
                &raw.is_some_and(Placed::chunked),
                key,
                &doc.node,
            ],
        )
        .await
        .map_err(|e| refused_id(e, &doc.id))?;
    Ok(row.map(|r| r.get(0)))
}

/// Claims `key` for the document; the document that holds it when another does. A concurrent
/// claim of the same key waits on the primary key for the other transaction, then sees it.
async fn claim_unique_key(
    tx: &Transaction<'_>,
    doc: &Insert,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let claimed = tx
        .execute(
            "INSERT INTO unique_keys (process, key, document_id) VALUES ($1, $2, $3)
             ON CONFLICT (process, key) DO NOTHING",
            &[&doc.process, &key, &doc.id],
        )
        .await?;
    if claimed == 1 {
        return Ok(None);
    }
    let holder = tx
        .query_opt(
            "SELECT document_id FROM unique_keys WHERE process = $1 AND key = $2",
            &[&doc.process, &key],
        )
        .await?;
    Ok(Some(holder.map(|r| r.get(0)).unwrap_or_default()))
}

/// A unique violation of the id is the caller's mistake, not the database's.
pub(crate) fn refused_id(e: tokio_postgres::Error, id: &str) -> StoreError {
    let on_id = e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("documents_id_key")
    });
    if on_id {
        StoreError::AlreadyExists(id.to_string())
    } else {
        e.into()
    }
}

/// Records a resend of `original`: properties and a history entry, no contents, no key.
async fn resend(
    tx: &Transaction<'_>,
    doc: &Insert,
    original: String,
    answer: Option<Vec<u8>>,
) -> Result<Received, StoreError> {
    let seq: i64 = tx
        .query_one(
            "INSERT INTO documents (id, process, state, received_at, updated_at, payload_len,
                 duplicate_of)
             VALUES ($1, $2, 'duplicate', $3, $3, 0, $4) RETURNING seq",
            &[&doc.id, &doc.process, &doc.received_at, &original],
        )
        .await
        .map_err(|e| refused_id(e, &doc.id))?
        .get(0);
    insert_properties(tx, seq, &doc.properties).await?;
    append_history(
        tx,
        seq,
        doc.received_at,
        &format!("duplicate of {original}"),
    )
    .await?;
    Ok(Received::Duplicate {
        original_id: original,
        answer,
    })
}

/// All properties in one statement, numbered in the order given.
pub(crate) async fn insert_properties(
    tx: &Transaction<'_>,
    seq: i64,
    properties: &[(String, String)],
) -> Result<(), StoreError> {
    if properties.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = properties.iter().map(|(n, _)| n.as_str()).collect();
    let values: Vec<&str> = properties.iter().map(|(_, v)| v.as_str()).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO properties (seq, n, name, value)
             SELECT $1, p.n::int, p.name, p.value
             FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS p(name, value, n)",
        )
        .await?;
    tx.execute(&stmt, &[&seq, &names, &values]).await?;
    Ok(())
}

/// Appends a history entry after the document's last one (the caller holds the row's lock,
/// or has just inserted it).
pub(crate) async fn append_history(
    tx: &Transaction<'_>,
    seq: i64,
    at: i64,
    event: &str,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO history (seq, n, at, event)
             SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3 FROM history WHERE seq = $1",
        )
        .await?;
    tx.execute(&stmt, &[&seq, &at, &event]).await?;
    Ok(())
}

/// A change of one document, as the writes below take it.
pub(crate) enum Change {
    Conclude {
        finish: Finish,
        answer: Option<Answer>,
        deliveries: Vec<NewDelivery>,
    },
    Answer(Answer),
    /// Back to `received`, owned by the node that retries it (when there is one).
    Retry(Option<String>),
}

/// Applies `change` to document `id` at `at` in one transaction, holding the row's lock so that
/// two nodes' changes of one document come one after the other.
pub(crate) async fn change(
    db: Arc<Db>,
    id: &str,
    change: &Change,
    at: i64,
) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    change_in(&tx, id, change, at).await?;
    tx.commit().await?;
    Ok(())
}

/// [`change`] inside the caller's transaction; nothing is written when it is refused.
pub(crate) async fn change_in(
    tx: &Transaction<'_>,
    id: &str,
    change: &Change,
    at: i64,
) -> Result<(), StoreError> {
    let row = tx
        .query_opt(
            "SELECT seq, state FROM documents WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
    let seq: i64 = row.get(0);
    let state = State::parse(row.get(1))?;
    if let Some(expected) = change.expects().filter(|e| *e != state) {
        return Err(StoreError::WrongState {
            id: id.to_string(),
            state,
            expected,
        });
    }
    match change {
        Change::Conclude {
            finish,
            answer,
            deliveries,
        } => {
            let (state, error, event) = concluded(finish);
            tx.execute(
                "UPDATE documents SET state = $2, error = $3, updated_at = $4 WHERE seq = $1",
                &[&seq, &state.as_str(), &error, &at],
            )
            .await?;
            append_history(tx, seq, at, &event).await?;
            if let Some(answer) = answer {
                set_answer(tx, seq, answer, at).await?;
            }
            outbox::insert(tx, Some(id), deliveries, at).await?;
        }
        Change::Answer(answer) => set_answer(tx, seq, answer, at).await?,
        Change::Retry(node) => {
            // The error stays in the history, not on the row, so listings no longer show it.
            tx.execute(
                "UPDATE documents SET state = 'received', error = NULL, updated_at = $2,
                     node = COALESCE($3, node) WHERE seq = $1",
                &[&seq, &at, &node],
            )
            .await?;
            append_history(tx, seq, at, "marked for retry").await?;
        }
    }
    Ok(())
}

impl Change {
    /// The state the document must be in for the change to apply (any, for an answer).
    pub(crate) fn expects(&self) -> Option<State> {
        match self {
            Change::Conclude { .. } => Some(State::Received),
            Change::Retry(_) => Some(State::Failed),
            Change::Answer(_) => None,
        }
    }
}

/// A finish as the row and the history record it: the state, the error, the event.
pub(crate) fn concluded(finish: &Finish) -> (State, Option<&str>, String) {
    match finish {
        Finish::Processed => (State::Processed, None, "processed".to_string()),
        Finish::Failed { error } => (
            State::Failed,
            Some(error.as_str()),
            format!("failed: {error}"),
        ),
    }
}

async fn set_answer(
    tx: &Transaction<'_>,
    seq: i64,
    answer: &Answer,
    at: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE documents SET answer_summary = $2, answer_bytes = $3, updated_at = $4 WHERE seq = $1",
        &[&seq, &answer.summary, &answer.bytes, &at],
    )
    .await?;
    append_history(tx, seq, at, &format!("answered {}", answer.summary)).await
}

/// Deletes finished documents received before `before` (failed ones only when asked; never
/// those still `received`), with everything of theirs.
pub(crate) async fn purge(
    db: Arc<Db>,
    before: i64,
    include_failed: bool,
) -> Result<u64, StoreError> {
    let states: Vec<&str> = if include_failed {
        vec!["processed", "duplicate", "failed"]
    } else {
        vec!["processed", "duplicate"]
    };
    let client = db.pool.get().await?;
    // A document's deliveries and payload chunks go with it (ON DELETE CASCADE); its properties
    // and history have no foreign key (see schema.rs, migration 6), so they go in the same
    // statement.
    let count: i64 = client
        .query_one(
            "WITH gone AS (
                 DELETE FROM documents WHERE received_at < $1 AND state = ANY($2) RETURNING seq
             ), properties_gone AS (
                 DELETE FROM properties WHERE seq IN (SELECT seq FROM gone)
             ), history_gone AS (
                 DELETE FROM history WHERE seq IN (SELECT seq FROM gone)
             )
             SELECT count(*) FROM gone",
            &[&before, &states],
        )
        .await?
        .get(0);
    client
        .execute(
            "DELETE FROM deliveries
             WHERE document_id IS NULL AND state <> 'pending' AND created_at < $1",
            &[&before],
        )
        .await?;
    Ok(count as u64)
}
