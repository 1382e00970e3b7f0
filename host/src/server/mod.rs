//! The HTTP(S) server: binding endpoints, accepting connections, serving requests through the
//! connectors, and stopping gracefully. Which endpoints exist, and when, is the topology's
//! business (`crate::topology`); this module only binds what it is given.

mod accept;
mod endpoint;
mod evidence;
mod idle;
mod mount;
mod response_body;
mod restart;
mod router;
mod service;
mod shared_server;
mod spool;
mod tls;
mod unfold;
mod write_through;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

pub use endpoint::{bracket, host_name, partner_host, Endpoint};
pub use mount::{Incoming, Mount};
pub use router::{MountSlot, Router};
pub use shared_server::targets as shared_server_targets;

use crate::intake::Intake;
use crate::settings::HostSettings;
use accept::accept_loop;

/// What every request handler shares.
pub struct Shared {
    pub intake: Intake,
    pub body_timeout: Duration,
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub connections: Arc<Semaphore>,
    /// Where large request bodies are written as they arrive (see `spool`).
    pub spool_dir: std::path::PathBuf,
    /// Bytes the spool folder's disk must keep free (`store.disk_reserve_bytes`).
    pub disk_reserve: u64,
    /// Cut-off transfers kept for AS2 Restart (see `restart`), beside the spool folder.
    pub partials: restart::Partials,
}

/// The connections being served, so that a stop can let them finish.
pub struct Connections {
    graceful: Mutex<Option<GracefulShutdown>>,
}

impl Connections {
    /// A watcher for a new connection; `None` once berth is stopping.
    fn watcher(&self) -> Option<Watcher> {
        self.graceful
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(GracefulShutdown::watcher)
    }

    /// Ask every connection to finish its request in flight and close; wait up to `grace`.
    async fn drain(&self, grace: Duration) {
        let graceful = self
            .graceful
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(graceful) = graceful else { return };
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                seconds = grace.as_secs(),
                "requests still in flight after the grace period were cut"
            );
        }
    }
}

pub struct Server {
    pub shared: Arc<Shared>,
    connections: Arc<Connections>,
}

/// A bound endpoint with its accept loop.
pub struct Binding {
    pub url: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Binding {
    /// Stop accepting and release the port. Connections already open finish on their own.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Server {
    pub fn new(settings: &HostSettings, intake: Intake, spool_dir: std::path::PathBuf) -> Self {
        let limits = &settings.limits;
        if let Err(e) = spool::prepare(&spool_dir) {
            // Not fatal: only bodies above a connector's spool threshold need the folder,
            // and those requests then get a 503 that names the problem in the log.
            tracing::error!(dir = %spool_dir.display(), error = %e, "cannot prepare the spool folder");
        }
        let partials = restart::Partials::new(spool_dir.with_file_name("restart"));
        if let Err(e) = partials.sweep(true) {
            tracing::error!(dir = %partials.dir().display(), error = %e, "cannot prepare the folder of cut-off transfers");
        }
        let shared = Arc::new(Shared {
            intake,
            body_timeout: Duration::from_secs(limits.body_read_timeout_seconds),
            header_timeout: Duration::from_secs(limits.header_read_timeout_seconds),
            max_header_bytes: limits.max_header_bytes,
            max_headers: limits.max_headers,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            spool_dir,
            disk_reserve: settings.store.disk_reserve_bytes,
            partials,
        });
        // Kept transfers are purged at their age while berth runs, not only at its start.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&shared);
            runtime.spawn(async move {
                let mut every = tokio::time::interval(restart::SWEEP_EVERY);
                every.tick().await;
                loop {
                    every.tick().await;
                    let Some(shared) = weak.upgrade() else { return };
                    if let Err(e) = shared.partials.sweep(false) {
                        tracing::warn!(error = %e, "cannot sweep the cut-off transfers");
                    }
                }
            });
        }
        Self {
            shared,
            connections: Arc::new(Connections {
                graceful: Mutex::new(Some(GracefulShutdown::new())),
            }),
        }
    }

    /// Bind `target` and start accepting connections for `router`.
    pub async fn bind(&self, target: &Endpoint, router: Arc<Router>) -> Result<Binding, String> {
        let acceptor = match &target.tls {
            Some(source) => Some(Arc::new(tls::acceptor(
                source,
                target.client_ca.as_deref(),
            )?)),
            None => None,
        };
        let address: SocketAddr = format!("{}:{}", bracket(&target.address), target.port)
            .parse()
            .map_err(|_| format!("`{}` is not an IP address", target.address))?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            router,
            Arc::clone(&self.shared),
            Arc::clone(&self.connections),
            stopped,
        ));
        Ok(Binding {
            url: target.url(),
            stop,
            task,
        })
    }

    /// After every binding is closed: let the connections finish.
    pub async fn drain(&self, grace: Duration) {
        self.connections.drain(grace).await;
    }
}
