//! The reads: each in one read-only snapshot, so that a document, its properties and its
//! history agree.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::chunks::{ChunkSource, PAYLOAD, RAW};
use super::pool::Db;
use crate::error::StoreError;
use crate::payload::StoredPayload;
use crate::traffic::{TrafficCount, TrafficQuery};
use crate::types::{Answer, Query, State, StoredDocument, Summary};

const DOCUMENT_SELECT: &str = "SELECT seq, id, process, state, received_at, payload, payload_len,
     payload_chunked, error, answer_summary, answer_bytes FROM documents";

/// One document, or None.
pub(crate) async fn get(db: Arc<Db>, id: String) -> Result<Option<StoredDocument>, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let row = tx
        .query_opt(&format!("{DOCUMENT_SELECT} WHERE id = $1"), &[&id])
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut docs = complete(&db, &tx, vec![row]).await?;
    tx.commit().await?;
    Ok(docs.pop())
}

/// The documents whose process has not finished, in arrival order.
pub(crate) async fn unfinished(db: Arc<Db>) -> Result<Vec<StoredDocument>, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let rows = tx
        .query(
            &format!("{DOCUMENT_SELECT} WHERE state = 'received' ORDER BY seq"),
            &[],
        )
        .await?;
    let docs = complete(&db, &tx, rows).await?;
    tx.commit().await?;
    Ok(docs)
}

/// The documents numbered `seqs`, in arrival order (those claimed by a node, see `cluster.rs`).
pub(crate) async fn by_seq(db: Arc<Db>, seqs: Vec<i64>) -> Result<Vec<StoredDocument>, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let rows = tx
        .query(
            &format!("{DOCUMENT_SELECT} WHERE seq = ANY($1) ORDER BY seq"),
            &[&seqs],
        )
        .await?;
    let docs = complete(&db, &tx, rows).await?;
    tx.commit().await?;
    Ok(docs)
}

/// The raw request: None when there is no such document, Some(None) when it has none.
pub(crate) async fn raw(db: Arc<Db>, id: String) -> Result<Option<StoredPayload>, StoreError> {
    let client = db.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT seq, raw, raw_len, raw_chunked FROM documents WHERE id = $1",
            &[&id],
        )
        .await?
        .ok_or(StoreError::NotFound(id))?;
    let len: Option<i64> = row.get(2);
    let Some(len) = len else {
        return Ok(None);
    };
    Ok(Some(content(
        &db,
        row.get(0),
        RAW,
        row.get(1),
        len,
        row.get(3),
    )))
}

/// A listing, newest first. Caller-given strings are bound parameters only.
pub(crate) async fn query(db: Arc<Db>, filter: Query) -> Result<Vec<Summary>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, id, process, state, received_at, error, answer_summary FROM documents d WHERE TRUE",
    );
    let state = filter.state.map(|s| s.as_str());
    let limit = match filter.limit {
        0 => i64::MAX,
        n => i64::try_from(n).unwrap_or(i64::MAX),
    };
    let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    fn bind<'a>(
        (sql, args): (&mut String, &mut Vec<&'a (dyn ToSql + Sync)>),
        clause: &str,
        value: &'a (dyn ToSql + Sync),
    ) {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    }
    let (process, from, to, older_than) = (
        &filter.process,
        &filter.from,
        &filter.to,
        &filter.older_than,
    );
    if let Some(state) = &state {
        bind((&mut sql, &mut args), " AND d.state = ?", state);
    }
    if let Some(process) = process {
        bind((&mut sql, &mut args), " AND d.process = ?", process);
    }
    if let Some(from) = from {
        bind((&mut sql, &mut args), " AND d.received_at >= ?", from);
    }
    if let Some(to) = to {
        bind((&mut sql, &mut args), " AND d.received_at < ?", to);
    }
    // The keyset bound walks down the same index as the order (the primary key, or the
    // process's or a state's index, all ending in seq), starting where the last page ended.
    if let Some(seq) = older_than {
        bind((&mut sql, &mut args), " AND d.seq < ?", seq);
    }
    for (name, value) in &filter.properties {
        bind(
            (&mut sql, &mut args),
            " AND EXISTS (SELECT 1 FROM properties p WHERE p.seq = d.seq AND p.name = ?",
            name,
        );
        bind((&mut sql, &mut args), " AND p.value = ?)", value);
    }
    bind(
        (&mut sql, &mut args),
        " ORDER BY d.seq DESC LIMIT ?",
        &limit,
    );
    bind((&mut sql, &mut args), " OFFSET ?", &offset);

    let mut client = db.pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let rows = tx.query(&sql, &args).await?;
    let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut properties = properties_of(&tx, &seqs).await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            Ok(Summary {
                seq: r.get(0),
                id: r.get(1),
                process: r.get(2),
                state: State::parse(r.get(3))?,
                received_at: r.get(4),
                properties: properties.remove(&r.get::<_, i64>(0)).unwrap_or_default(),
                error: r.get(5),
                answer: r.get(6),
            })
        })
        .collect()
}

/// Documents received in the range, counted per process, bucket, state and answer, by the
/// server (the range through the `received_at` index).
pub(crate) async fn traffic(
    db: Arc<Db>,
    range: TrafficQuery,
) -> Result<Vec<TrafficCount>, StoreError> {
    let client = db.pool.get().await?;
    let rows = client
        .query(
            "SELECT process, (received_at - $1) / $3 AS bucket, state, answer_summary, COUNT(*)
             FROM documents
             WHERE received_at >= $1 AND received_at < $2
             GROUP BY process, bucket, state, answer_summary",
            &[&range.from, &range.to, &range.bucket_ms],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TrafficCount {
                process: r.get(0),
                bucket: r.get(1),
                state: State::parse(r.get(2))?,
                answer: r.get(3),
                count: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
            })
        })
        .collect()
}

/// A read-only transaction that sees one snapshot.
async fn snapshot(client: &mut deadpool_postgres::Object) -> Result<Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// Documents with their properties and history (the receipt heads it), two queries for all.
async fn complete(
    db: &Arc<Db>,
    tx: &Transaction<'_>,
    rows: Vec<Row>,
) -> Result<Vec<StoredDocument>, StoreError> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut properties = properties_of(tx, &seqs).await?;
    let mut history: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for r in tx
        .query(
            "SELECT seq, at, event FROM history WHERE seq = ANY($1) ORDER BY seq, n",
            &[&seqs],
        )
        .await?
    {
        history
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    rows.into_iter()
        .map(|r| {
            let seq: i64 = r.get(0);
            let received_at: i64 = r.get(4);
            let mut events = vec![(received_at, "received".to_string())];
            events.extend(history.remove(&seq).unwrap_or_default());
            let answer = r.get::<_, Option<String>>(9).map(|summary| Answer {
                summary,
                bytes: r.get::<_, Option<Vec<u8>>>(10).unwrap_or_default(),
            });
            Ok(StoredDocument {
                id: r.get(1),
                process: r.get(2),
                state: State::parse(r.get(3))?,
                received_at,
                payload: content(db, seq, PAYLOAD, r.get(5), r.get(6), r.get(7)),
                properties: properties.remove(&seq).unwrap_or_default(),
                error: r.get(8),
                answer,
                history: events,
            })
        })
        .collect()
}

async fn properties_of(
    tx: &Transaction<'_>,
    seqs: &[i64],
) -> Result<HashMap<i64, Vec<(String, String)>>, StoreError> {
    let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    if seqs.is_empty() {
        return Ok(out);
    }
    for r in tx
        .query(
            "SELECT seq, name, value FROM properties WHERE seq = ANY($1) ORDER BY seq, n",
            &[&seqs],
        )
        .await?
    {
        out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    Ok(out)
}

/// Inline content in memory; chunked content as a handle that reads it chunk by chunk.
fn content(
    db: &Arc<Db>,
    seq: i64,
    kind: i16,
    inline: Option<Vec<u8>>,
    len: i64,
    chunked: bool,
) -> StoredPayload {
    if chunked {
        StoredPayload::stored(Arc::new(ChunkSource {
            db: db.clone(),
            keep: db.keep(),
            seq,
            kind,
            // Never negative as written; a tampered row reads as empty rather than huge.
            len: u64::try_from(len).unwrap_or(0),
        }))
    } else {
        StoredPayload::memory(inline.unwrap_or_default().into())
    }
}

/// The database's size on disk, as PostgreSQL counts it.
pub(crate) async fn size_bytes(db: Arc<Db>) -> Result<u64, StoreError> {
    let client = db.pool.get().await?;
    let row = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

pub(crate) async fn ping(db: Arc<Db>) -> Result<(), StoreError> {
    let client = db.pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}
