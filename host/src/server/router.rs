//! Which mount answers a request on a socket. Mounts sit in slots so that a redeployed process
//! takes over a port without closing it: requests in flight finish on the version they
//! started with, the next ones get the new version.

use std::sync::{Arc, RwLock};

use super::mount::Mount;
use super::shared_server::SharedAuth;

/// The current version of a listener's mount.
pub struct MountSlot(RwLock<Arc<Mount>>);

impl MountSlot {
    pub fn new(mount: Arc<Mount>) -> Self {
        Self(RwLock::new(mount))
    }

    pub fn get(&self) -> Arc<Mount> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn replace(&self, mount: Arc<Mount>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = mount;
    }
}

pub enum Router {
    /// A port of a connection's own.
    Single(Arc<MountSlot>),
    /// The shared web server: path prefixes, e.g. `/as2` serves `/as2` and `/as2/...`,
    /// behind the server's own authentication. Routes change as processes are deployed.
    Prefixes {
        routes: RwLock<Vec<(String, Arc<MountSlot>)>>,
        auth: Arc<SharedAuth>,
    },
}

impl Router {
    /// A shared-server router with no route and no authentication, for a server that could
    /// not be set up: it only keeps the types whole, nothing is bound with it.
    pub fn unrouted() -> Router {
        Router::Prefixes {
            routes: RwLock::new(Vec::new()),
            auth: Arc::new(SharedAuth::None),
        }
    }

    pub fn route(&self, path: &str) -> Option<Arc<Mount>> {
        match self {
            Router::Single(slot) => Some(slot.get()),
            Router::Prefixes { routes, .. } => routes
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|(prefix, _)| {
                    path == prefix
                        || path
                            .strip_prefix(prefix.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                })
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, slot)| slot.get()),
        }
    }

    /// Replace the shared server's routes (no-op for a single-mount router).
    pub fn set_routes(&self, new: Vec<(String, Arc<MountSlot>)>) {
        if let Router::Prefixes { routes, .. } = self {
            *routes.write().unwrap_or_else(|p| p.into_inner()) = new;
        }
    }
}
