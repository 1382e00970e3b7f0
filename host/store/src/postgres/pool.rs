//! The backend's own runtime and connection pool, and how PostgreSQL's errors become the
//! store's.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use crate::error::StoreError;

/// Where the PostgreSQL store is: a `postgres://` URL and, apart from it, the password (so that
/// the URL can be shown and logged). Neither `Debug` nor `Display` shows a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    url: String,
    password: Option<String>,
}

impl PgConfig {
    /// Checks the URL (its syntax only; nothing is connected). A password in the URL itself is
    /// accepted but never shown; `password` (from `password_file`) takes precedence.
    pub fn new(url: &str, password: Option<String>) -> Result<PgConfig, StoreError> {
        let parsed = tokio_postgres::Config::from_str(url)
            // The parser's message may quote the URL, and with it a password: say what is wrong
            // without it.
            .map_err(|_| StoreError::Invalid("store.url is not a valid postgres:// URL".into()))?;
        if parsed.get_hosts().is_empty() {
            return Err(StoreError::Invalid("store.url names no host".into()));
        }
        Ok(PgConfig {
            url: url.to_string(),
            password,
        })
    }

    /// The URL with any password in it masked, for messages.
    pub fn shown_url(&self) -> String {
        let Some(rest) = self.url.split_once("://").map(|(_, rest)| rest) else {
            return self.url.clone();
        };
        match rest.split_once('@') {
            Some((user, _)) if user.contains(':') => {
                let name = user.split(':').next().unwrap_or_default();
                self.url.replacen(user, &format!("{name}:***"), 1)
            }
            _ => self.url.clone(),
        }
    }

    pub(crate) fn connect_config(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&self.url)
            .map_err(|_| StoreError::Invalid("store.url is not a valid postgres:// URL".into()))?;
        if let Some(password) = &self.password {
            config.password(password.as_bytes());
        }
        if config.get_application_name().is_none() {
            config.application_name("berth");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A commit must be flushed before the partner's answer, whatever the server's default.
        //
        // Plans are made for each execution, never cached generically: the group commit's
        // update (`batch::CONCLUDE`) finds its rows by id, but a generic plan, made once per
        // connection while the table was small, read them through the partial index of
        // unfinished documents instead, which fills with dead entries between vacuums; its
        // cost grew with the run (scripts/bench-postgres, HTTP: 8-11 ms per batch and falling
        // to 3,000 documents/s within a minute, against 0.5 ms and a steady 8,500 planned per
        // execution, which knows how many rows the arrays hold).
        config.options("-c synchronous_commit=on -c plan_cache_mode=force_custom_plan");
        Ok(config)
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.shown_url())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The runtime the backend's I/O runs on and its pool of connections.
pub(crate) struct Db {
    pub pool: Pool,
    pub handle: Handle,
    /// The runtime's owner, for the payload handles that must keep it running after the store
    /// that read them is dropped (weak here: the tasks that hold a `Db` must not be the ones
    /// that stop it).
    owner: OnceLock<Weak<Owner>>,
}

/// Owns the runtime; dropped last, it stops the runtime without waiting (it may be dropped
/// inside another runtime, where a blocking shutdown is not allowed). Every write a caller was
/// told about has committed by then, since the caller waited for it.
pub(crate) struct Owner {
    runtime: Option<Runtime>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts the runtime and the pool of at most `max` connections (opened when first needed).
pub(crate) fn connect(config: &PgConfig, max: usize) -> Result<(Arc<Db>, Arc<Owner>), StoreError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("berth-store-pg")
        .enable_all()
        .build()
        .map_err(|e| StoreError::io("starting the store's runtime", e))?;
    let manager = Manager::from_config(
        config.connect_config()?,
        NoTls,
        ManagerConfig {
            // A connection that broke is found by its next statement, which then reports the
            // store unavailable; checking each one before use would cost a round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(max)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        // While the database is down a request fails within seconds instead of queueing.
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| StoreError::Invalid(format!("the store's connection pool: {e}")))?;
    let db = Arc::new(Db {
        pool,
        handle: runtime.handle().clone(),
        owner: OnceLock::new(),
    });
    let owner = Arc::new(Owner {
        runtime: Some(runtime),
    });
    let _ = db.owner.set(Arc::downgrade(&owner));
    Ok((db, owner))
}

impl Db {
    /// A strong hold on the runtime, for a payload handle.
    pub fn keep(&self) -> Option<Arc<Owner>> {
        self.owner.get().and_then(Weak::upgrade)
    }

    /// Runs `work` on the backend's runtime and waits for it from any runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.handle
            .spawn(work)
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Runs `work` on the backend's runtime and blocks this thread until it ends: for start-up
    /// (before any runtime) and for blocking readers. Must not be called on the backend's own
    /// runtime threads.
    pub fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(|_| StoreError::Closed)?
    }
}

/// tokio-postgres's errors become the store's at the first `?`; a database that cannot be
/// reached is [`StoreError::Unavailable`], which the host answers with a 503, apart from a
/// statement the database refused.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // Class 28: invalid authorization (a wrong password, an unknown user, no pg_hba entry).
        if let Some(db) = e
            .as_db_error()
            .filter(|d| d.code().code().starts_with("28"))
        {
            return StoreError::Refused(db.message().to_string());
        }
        if unreachable(&e) {
            StoreError::Unavailable(Arc::new(e))
        } else {
            StoreError::db(e)
        }
    }
}

fn unreachable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // Class 08 (connection exception), and a server shutting down or starting up.
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        // No SQLSTATE: the connection failed or closed under the statement (refused, reset,
        // timed out).
        None => {
            e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || e.to_string().contains("timeout")
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            PoolError::Closed => StoreError::Closed,
            // Timed out waiting for or opening a connection: the database is slow or away.
            other => StoreError::Unavailable(Arc::new(std::io::Error::other(other.to_string()))),
        }
    }
}
