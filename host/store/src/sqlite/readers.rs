//! Connections for reads, kept in a small pool.
//!
//! Each read takes its own connection, so that listings and recovery run beside the writer
//! thread (WAL lets a reader see the last commit while the writer appends) and beside each
//! other. Idle connections are kept for reuse up to a bound; extra ones are opened on demand
//! and closed after use.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::sqlite::sql;

/// Enough for the admin API, the CLI and recovery at once; more only costs memory.
const MAX_IDLE: usize = 4;

pub(crate) struct Readers {
    data_dir: PathBuf,
    busy: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(data_dir: PathBuf, busy: Duration) -> Readers {
        Readers {
            data_dir,
            busy,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` inside one read transaction, so that everything it reads comes from the same
    /// snapshot.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => sql::open_reader(&self.data_dir, self.busy)?,
        };
        let result = {
            let tx = conn.unchecked_transaction()?;
            let result = f(&tx);
            // Reads only: ending the snapshot is all a commit or a rollback does here.
            drop(tx);
            result
        };
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while the lock was held cannot leave the Vec half-changed (push and pop
        // only), so a poisoned pool is still a good pool.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
