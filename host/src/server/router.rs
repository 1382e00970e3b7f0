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

    /// Whether a new connection's request heads are unfolded (see `unfold`): on the shared web
    /// server always (it serves the AS2 Shared Server, whose partners may fold), on a port of
    /// its own when its connector asked. Read once per connection; a redeploy that changes it
    /// applies to the next connections.
    pub fn unfolds(&self) -> bool {
        match self {
            Router::Single(slot) => slot.get().unfold_headers,
            Router::Prefixes { .. } => true,
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

/// Routing without sockets: which mount a path reaches, named by the mount's label.
#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use berth_connector_sdk::abi::Request;
    use berth_connector_sdk::abi_stable::sabi_trait::TD_Opaque;
    use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
    use berth_connector_sdk::module::{FfiDecision_NE, FfiListener, FfiListener_TO};

    use super::{MountSlot, Router};
    use crate::server::Mount;

    /// Routing never calls the connector; these mounts only carry a label.
    struct NotCalled;

    impl FfiListener for NotCalled {
        fn handle(&self, _: &Request<'_>) -> RResult<FfiDecision_NE, RString> {
            RResult::RErr("routing does not call the connector".into())
        }
    }

    fn slot(label: &str) -> Arc<MountSlot> {
        Arc::new(MountSlot::new(mount(label)))
    }

    fn mount(label: &str) -> Arc<Mount> {
        Arc::new(Mount {
            label: label.to_string(),
            listener: Arc::new(FfiListener_TO::from_value(NotCalled, TD_Opaque)),
            blocking: false,
            max_body_bytes: 0,
            spool_above_bytes: 0,
            processes: HashMap::new(),
            unfold_headers: false,
            restart_transfers: HashMap::new(),
        })
    }

    fn shared(routes: &[(&str, &Arc<MountSlot>)]) -> Router {
        let router = Router::unrouted();
        router.set_routes(
            routes
                .iter()
                .map(|(prefix, slot)| (prefix.to_string(), Arc::clone(slot)))
                .collect(),
        );
        router
    }

    /// The label of the mount that answers `path`, if any.
    fn answers(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|mount| mount.label.clone())
    }

    #[test]
    fn a_prefix_serves_its_path_and_below_but_not_a_longer_name() {
        let as2 = slot("as2");
        let router = shared(&[("/as2", &as2)]);
        assert_eq!(answers(&router, "/as2").as_deref(), Some("as2"));
        assert_eq!(answers(&router, "/as2/").as_deref(), Some("as2"));
        assert_eq!(answers(&router, "/as2/ACME").as_deref(), Some("as2"));
        for elsewhere in ["/as2x", "/as", "/", "/other/as2", ""] {
            assert_eq!(answers(&router, elsewhere), None, "{elsewhere:?}");
        }
    }

    #[test]
    fn the_longest_matching_prefix_answers() {
        let (all, acme) = (slot("all"), slot("acme"));
        // Listed shortest last and first: the order of the routes does not matter.
        for routes in [
            [("/as2", &all), ("/as2/acme", &acme)],
            [("/as2/acme", &acme), ("/as2", &all)],
        ] {
            let router = shared(&routes);
            assert_eq!(answers(&router, "/as2/acme").as_deref(), Some("acme"));
            assert_eq!(answers(&router, "/as2/acme/x").as_deref(), Some("acme"));
            assert_eq!(answers(&router, "/as2/acmex").as_deref(), Some("all"));
            assert_eq!(answers(&router, "/as2/other").as_deref(), Some("all"));
        }
    }

    #[test]
    fn new_routes_replace_the_old_ones_whole() {
        let (as2, edi) = (slot("as2"), slot("edi"));
        let router = shared(&[("/as2", &as2)]);
        router.set_routes(vec![("/edi".to_string(), Arc::clone(&edi))]);
        assert_eq!(answers(&router, "/as2/ACME"), None, "the old route is gone");
        assert_eq!(answers(&router, "/edi/x").as_deref(), Some("edi"));
        router.set_routes(Vec::new());
        assert_eq!(answers(&router, "/edi/x"), None);
    }

    #[test]
    fn a_new_version_in_a_slot_answers_the_next_request_on_every_route() {
        let as2 = slot("as2 v1");
        let shared = shared(&[("/as2", &as2)]);
        let single = Router::Single(Arc::clone(&as2));
        let in_flight = shared.route("/as2").expect("routed");
        as2.replace(mount("as2 v2"));
        assert_eq!(answers(&shared, "/as2").as_deref(), Some("as2 v2"));
        assert_eq!(answers(&single, "/anything").as_deref(), Some("as2 v2"));
        assert_eq!(
            in_flight.label, "as2 v1",
            "a routed request keeps its version"
        );
    }

    #[test]
    fn a_port_of_its_own_sends_every_path_to_its_listener() {
        let own = slot("own");
        let router = Router::Single(own);
        for path in ["/", "/orders", "/as2x", ""] {
            assert_eq!(answers(&router, path).as_deref(), Some("own"), "{path:?}");
        }
        router.set_routes(vec![("/as2".to_string(), slot("other"))]);
        assert_eq!(
            answers(&router, "/as2").as_deref(),
            Some("own"),
            "no routes to set"
        );
    }
}
