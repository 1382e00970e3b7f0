//! Routing a request to its operation and turning it into a document; answering from the
//! process's outcome.

use std::collections::HashMap;

use berth_connector_sdk::prelude::*;

use crate::request_properties::properties_of;
use crate::settings::{HttpOperation, Method};

pub struct Route {
    pub process: String,
    pub methods: Vec<Method>,
    pub max_body_bytes: u64,
}

pub struct HttpListener {
    pub routes: HashMap<String, Route>,
    pub basic_auth: Option<BasicAuth>,
    pub log: Logger,
}

impl HttpListener {
    pub fn new(
        operations: Vec<(String, HttpOperation)>,
        basic_auth: Option<BasicAuth>,
        log: Logger,
    ) -> Self {
        let routes = operations
            .into_iter()
            .map(|(process, op)| {
                let route = Route {
                    process,
                    methods: op.methods,
                    max_body_bytes: op.max_body_bytes,
                };
                (op.path, route)
            })
            .collect();
        Self {
            routes,
            basic_auth,
            log,
        }
    }
}

// `complete` is the SDK's default: the `return` step's answer or an empty 200 when the
// document was accepted, 500 when its process failed, 503 when the host refused it.
impl Listener for HttpListener {
    type Pending = ();

    fn handle(&self, request: &Request<'_>) -> Decision<()> {
        if let Some(auth) = &self.basic_auth {
            if !auth.matches(request) {
                self.log.warn(
                    "",
                    &format!(
                        "401 for {} {} from {}: missing or wrong credentials",
                        request.method, request.path, request.remote_addr
                    ),
                );
                return Decision::Respond(
                    Response::text(401, "authentication required")
                        .with_header("www-authenticate", "Basic realm=\"berth\""),
                );
            }
        }
        let Some(route) = self.routes.get(request.path.as_str()) else {
            return Decision::Respond(Response::text(
                404,
                format!("no process listens on {}", request.path),
            ));
        };
        if !route
            .methods
            .iter()
            .any(|m| m.as_str() == request.method.as_str())
        {
            let allow: Vec<_> = route.methods.iter().map(|m| m.as_str()).collect();
            let allow = allow.join(", ");
            return Decision::Respond(
                Response::text(405, format!("{} not allowed; use {allow}", request.method))
                    .with_header("allow", &allow),
            );
        }
        // `body_len`, not `body`: a spooled body is in a file and `body` is then empty.
        if request.body_len > route.max_body_bytes {
            return Decision::Respond(Response::text(
                413,
                format!(
                    "body of {} bytes is over this path's limit of {} bytes",
                    request.body_len, route.max_body_bytes
                ),
            ));
        }
        let document = Document::from_request_body(properties_of(request));
        Decision::submit(Submission::new(&route.process, document))
    }
}
