//! The nodes of a cluster in PostgreSQL: the `nodes` table (registration, heartbeats), the owner
//! of each document (`documents.node`) and the `listener_controls` table with its NOTIFY.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

use super::pool::{Db, PgConfig};
use super::{read, write};
use crate::backend::BoxFuture;
use crate::clock::now_millis;
use crate::cluster::{Cluster, ControlCommand, Node, NodeInfo, Registration, TakenOver};
use crate::error::StoreError;
use crate::types::StoredDocument;

/// The NOTIFY channel of listener controls.
const CHANNEL: &str = "berth_control";
/// The first key of the advisory lock that orders two registrations of one name.
const REGISTER_LOCK: i32 = 0x6265_7274; // "bert"
/// At most this many documents are claimed per transaction, so that a take-over of a large
/// backlog holds its row locks briefly; the caller claims again until nothing is left.
const CLAIM_BATCH: i64 = 200;
/// How long the LISTEN connection waits before connecting again after losing the database.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

/// Who this store's host is, once it has registered.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub name: String,
    pub instance: String,
}

/// The cluster side of the PostgreSQL store.
pub(crate) struct PgCluster {
    db: Arc<Db>,
    config: PgConfig,
    me: Arc<OnceLock<Me>>,
    wake: Arc<Notify>,
}

impl PgCluster {
    pub fn new(db: Arc<Db>, config: PgConfig) -> PgCluster {
        PgCluster {
            db,
            config,
            me: Arc::new(OnceLock::new()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The registered node's name: the owner of what this store receives.
    pub fn node(&self) -> Option<String> {
        self.me.get().map(|me| me.name.clone())
    }

    fn me(&self) -> Result<Me, StoreError> {
        self.me
            .get()
            .cloned()
            .ok_or_else(|| StoreError::Invalid("this node has not registered".into()))
    }
}

/// The age of a heartbeat, `timeout` given in milliseconds as $n, as SQL.
fn fresh(param: usize) -> String {
    format!("(NOT stopped AND last_heartbeat > clock_timestamp() - ${param}::float8 * interval '1 millisecond')")
}

fn millis(timeout: Duration) -> f64 {
    timeout.as_millis() as f64
}

async fn register(
    db: Arc<Db>,
    node: NodeInfo,
    timeout: Duration,
) -> Result<Registration, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    // Two processes registering one name at once come one after the other.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&REGISTER_LOCK, &node.name],
    )
    .await?;
    let existing = tx
        .query_opt(
            &format!(
                "SELECT instance, address, {},
                     (EXTRACT(EPOCH FROM clock_timestamp() - last_heartbeat) * 1000)::bigint
                 FROM nodes WHERE name = $1",
                fresh(2)
            ),
            &[&node.name, &millis(timeout)],
        )
        .await?;
    if let Some(row) = existing {
        let (instance, live): (String, bool) = (row.get(0), row.get(2));
        if live && instance != node.instance {
            return Ok(Registration::Taken {
                address: row.get(1),
                heartbeat_age: row.get(3),
            });
        }
    }
    let (files, hashes) = split(&node.files);
    let (listeners, states) = split(&node.listeners);
    tx.execute(
        "INSERT INTO nodes (name, instance, address, version, files, hashes, listeners,
             listener_states, started, last_heartbeat, stopped)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(), clock_timestamp(), FALSE)
         ON CONFLICT (name) DO UPDATE SET instance = EXCLUDED.instance,
             address = EXCLUDED.address, version = EXCLUDED.version, files = EXCLUDED.files,
             hashes = EXCLUDED.hashes, listeners = EXCLUDED.listeners,
             listener_states = EXCLUDED.listener_states, started = EXCLUDED.started,
             last_heartbeat = EXCLUDED.last_heartbeat, stopped = FALSE",
        &[
            &node.name,
            &node.instance,
            &node.address,
            &node.version,
            &files,
            &hashes,
            &listeners,
            &states,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(Registration::Registered)
}

fn split(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip()
}

fn zip(a: Vec<String>, b: Vec<String>) -> Vec<(String, String)> {
    a.into_iter().zip(b).collect()
}

async fn heartbeat(db: Arc<Db>, node: NodeInfo) -> Result<bool, StoreError> {
    let client = db.pool.get().await?;
    let (files, hashes) = split(&node.files);
    let (listeners, states) = split(&node.listeners);
    let updated = client
        .execute(
            "UPDATE nodes SET address = $3, version = $4, files = $5, hashes = $6,
                 listeners = $7, listener_states = $8, last_heartbeat = clock_timestamp(),
                 stopped = FALSE
             WHERE name = $1 AND instance = $2",
            &[
                &node.name,
                &node.instance,
                &node.address,
                &node.version,
                &files,
                &hashes,
                &listeners,
                &states,
            ],
        )
        .await?;
    Ok(updated == 1)
}

async fn leave(db: Arc<Db>, me: Me) -> Result<(), StoreError> {
    let client = db.pool.get().await?;
    client
        .execute(
            "UPDATE nodes SET stopped = TRUE WHERE name = $1 AND instance = $2",
            &[&me.name, &me.instance],
        )
        .await?;
    Ok(())
}

async fn nodes(db: Arc<Db>, timeout: Duration) -> Result<Vec<Node>, StoreError> {
    let client = db.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT name, instance, address, version, files, hashes, listeners,
                     listener_states, (EXTRACT(EPOCH FROM started) * 1000)::bigint,
                     (EXTRACT(EPOCH FROM last_heartbeat) * 1000)::bigint,
                     (EXTRACT(EPOCH FROM clock_timestamp() - last_heartbeat) * 1000)::bigint,
                     {}, stopped
                 FROM nodes ORDER BY name",
                fresh(1)
            ),
            &[&millis(timeout)],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Node {
            info: NodeInfo {
                name: row.get(0),
                instance: row.get(1),
                address: row.get(2),
                version: row.get(3),
                files: zip(row.get(4), row.get(5)),
                listeners: zip(row.get(6), row.get(7)),
            },
            started: row.get(8),
            last_heartbeat: row.get(9),
            heartbeat_age: row.get(10),
            live: row.get(11),
            stopped: row.get(12),
        })
        .collect())
}

/// A document claimed: its seq, id and previous owner.
struct Claimed {
    seq: i64,
    id: String,
    from: Option<String>,
}

/// Claims, in one transaction, up to [`CLAIM_BATCH`] unfinished documents that `owned` selects
/// (a condition on `documents.node`, with `$1` this node and `$2` the timeout), skipping rows
/// another transaction holds, makes this node their owner and notes it in their history.
async fn claim(
    db: &Arc<Db>,
    me: &str,
    owned: &str,
    timeout: Duration,
) -> Result<Vec<Claimed>, StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    let at = now_millis();
    let rows = tx
        .query(
            &format!(
                "WITH claimed AS (
                     SELECT seq, node FROM documents
                     WHERE state = 'received' AND ({owned}) AND $2::float8 >= 0
                     ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
                 UPDATE documents SET node = $1, updated_at = $4 FROM claimed
                 WHERE documents.seq = claimed.seq
                 RETURNING claimed.seq, documents.id, claimed.node"
            ),
            &[&me, &millis(timeout), &CLAIM_BATCH, &at],
        )
        .await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(|r| Claimed {
            seq: r.get(0),
            id: r.get(1),
            from: r.get(2),
        })
        .collect();
    for doc in &claimed {
        if let Some(from) = doc.from.as_deref().filter(|from| *from != me) {
            let event = format!("taken over by node {me} from node {from}");
            write::append_history(&tx, doc.seq, at, &event).await?;
        }
    }
    tx.commit().await?;
    claimed.sort_by_key(|c| c.seq);
    Ok(claimed)
}

/// This node's unfinished documents (and those stored before nodes existed), claimed: what
/// it runs again when it starts.
pub(crate) async fn unfinished_of(
    db: Arc<Db>,
    me: String,
) -> Result<Vec<StoredDocument>, StoreError> {
    let mut docs = Vec::new();
    // Its own documents stay its own once claimed: each batch starts after the last one.
    let mut after = 0;
    loop {
        let owned = format!("(node = $1 OR node IS NULL) AND seq > {after}");
        let claimed = claim(&db, &me, &owned, Duration::ZERO).await?;
        let Some(last) = claimed.last() else {
            return Ok(docs);
        };
        after = last.seq;
        let seqs = claimed.into_iter().map(|c| c.seq).collect();
        docs.extend(read::by_seq(db.clone(), seqs).await?);
    }
}

async fn take_over(db: Arc<Db>, me: Me, timeout: Duration) -> Result<Vec<TakenOver>, StoreError> {
    let dead = format!(
        "node IN (SELECT name FROM nodes WHERE name <> $1 AND NOT {})",
        fresh(2)
    );
    let mut taken: Vec<TakenOver> = Vec::new();
    loop {
        let claimed = claim(&db, &me.name, &dead, timeout).await?;
        if claimed.is_empty() {
            return Ok(taken);
        }
        let seqs = claimed.iter().map(|c| c.seq).collect();
        for doc in read::by_seq(db.clone(), seqs).await? {
            let from = claimed
                .iter()
                .find(|c| c.id == doc.id)
                .and_then(|c| c.from.clone())
                .unwrap_or_default();
            match taken.iter_mut().find(|t| t.from == from) {
                Some(group) => group.documents.push(doc),
                None => taken.push(TakenOver {
                    from,
                    documents: vec![doc],
                }),
            }
        }
    }
}

async fn publish(db: Arc<Db>, me: Me, listener: String, action: String) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO listener_controls (listener, action, origin) VALUES ($1, $2, $3)
             RETURNING id",
            &[&listener, &action, &me.name],
        )
        .await?
        .get(0);
    // The table would otherwise grow with every click. What a node needs of it: the last pause
    // or resume of each listener (applied at start) and what came after the last row it read.
    // A pause or resume supersedes the listener's earlier ones (a node that missed them gets
    // the newest, which is all they would have led to); a restart is stale once every live
    // node has polled, which they do every heartbeat (seconds), so an hour is ample.
    tx.execute(
        "DELETE FROM listener_controls WHERE id < $1 AND (
             (listener = $2 AND action IN ('pause', 'resume') AND $3 IN ('pause', 'resume'))
             OR (action = 'restart' AND at < clock_timestamp() - interval '1 hour'))",
        &[&id, &listener, &action],
    )
    .await?;
    // Sent at commit, to every node listening (this one too, which skips its own).
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id.to_string()])
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn controls_after(db: Arc<Db>, after: i64) -> Result<Vec<ControlCommand>, StoreError> {
    let client = db.pool.get().await?;
    let rows = client
        .query(
            "SELECT id, listener, action, origin FROM listener_controls WHERE id > $1 ORDER BY id",
            &[&after],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ControlCommand {
            id: r.get(0),
            listener: r.get(1),
            action: r.get(2),
            origin: r.get(3),
        })
        .collect())
}

/// Keeps a connection of its own (outside the pool, since LISTEN belongs to a session) that
/// listens for controls and wakes the host; connects again whenever it is lost, and wakes the
/// host then too, so that it reads what it may have missed.
async fn listen(config: PgConfig, wake: Arc<Notify>) {
    loop {
        if let Ok(config) = config.connect_config() {
            if let Ok((client, mut connection)) = config.connect(NoTls).await {
                let wake_on = wake.clone();
                let driver = tokio::spawn(async move {
                    while let Some(Ok(message)) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        if let AsyncMessage::Notification(_) = message {
                            wake_on.notify_one();
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    wake.notify_one();
                    let _ = driver.await;
                } else {
                    driver.abort();
                }
                drop(client);
            }
        }
        tokio::time::sleep(LISTEN_RETRY).await;
    }
}

impl Cluster for PgCluster {
    fn register<'a>(
        &'a self,
        node: &'a NodeInfo,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Registration, StoreError>> {
        Box::pin(async move {
            let registered = self
                .db
                .run(register(self.db.clone(), node.clone(), timeout))
                .await?;
            if registered == Registration::Registered {
                let me = Me {
                    name: node.name.clone(),
                    instance: node.instance.clone(),
                };
                if self.me.set(me).is_ok() {
                    self.db
                        .handle
                        .spawn(listen(self.config.clone(), self.wake.clone()));
                }
            }
            Ok(registered)
        })
    }

    fn heartbeat<'a>(&'a self, node: &'a NodeInfo) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.db.run(heartbeat(self.db.clone(), node.clone())))
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let me = self.me()?;
            self.db.run(leave(self.db.clone(), me)).await
        })
    }

    fn nodes(&self, timeout: Duration) -> BoxFuture<'_, Result<Vec<Node>, StoreError>> {
        Box::pin(self.db.run(nodes(self.db.clone(), timeout)))
    }

    fn take_over(&self, timeout: Duration) -> BoxFuture<'_, Result<Vec<TakenOver>, StoreError>> {
        Box::pin(async move {
            let me = self.me()?;
            self.db.run(take_over(self.db.clone(), me, timeout)).await
        })
    }

    fn publish<'a>(
        &'a self,
        listener: &'a str,
        action: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let me = self.me()?;
            let work = publish(self.db.clone(), me, listener.into(), action.into());
            self.db.run(work).await
        })
    }

    fn controls_after(&self, after: i64) -> BoxFuture<'_, Result<Vec<ControlCommand>, StoreError>> {
        Box::pin(self.db.run(controls_after(self.db.clone(), after)))
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        Some(self.wake.clone())
    }
}
