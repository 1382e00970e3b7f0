//! The URLs partners send to, per process: what operators give a new partner.
//!
//! A URL joins where the endpoint is reached (a port's address, with this machine's host name
//! for a wildcard address; the shared web server's `base_url`, or its ports) with the paths the
//! connector says each operation serves (`/orders`, `/as2`, `/as2/{account-id}`).

use std::collections::BTreeMap;

use berth_connector_sdk::abi::Listen;

use crate::deploy::PlannedListener;
use crate::server::{bracket, partner_host, Endpoint};
use crate::settings::SharedServer;

/// Process name → the URLs its partners send to, in the connector's order.
pub type PartnerUrls = BTreeMap<String, Vec<String>>;

pub fn partner_urls(planned: &PlannedListener, shared: &SharedServer) -> PartnerUrls {
    let mut urls = PartnerUrls::new();
    for process in &planned.processes {
        let list = urls.entry(process.name.clone()).or_default();
        for endpoint in &planned.endpoints {
            let (bases, fallback) = match endpoint.listen() {
                Some(Listen::Port { .. }) => match Endpoint::of_plugin(endpoint) {
                    Some(port) => (vec![port.partner_url()], String::new()),
                    None => continue,
                },
                Some(Listen::Shared { path_prefix }) => {
                    (shared_bases(shared), path_prefix.to_string())
                }
                // Deployment refuses endpoints this berth does not know before they get here.
                None => continue,
            };
            let mut paths: Vec<String> = endpoint
                .partner_paths_of(&process.name)
                .map(str::to_string)
                .collect();
            if paths.is_empty() {
                paths.push(fallback);
            }
            for base in &bases {
                for path in &paths {
                    let url = format!("{base}{path}");
                    if !list.contains(&url) {
                        list.push(url);
                    }
                }
            }
        }
    }
    urls
}

/// Where partners reach the shared web server: its `base_url` when set (a load balancer or a
/// DNS name in front of berth), else its HTTP and HTTPS ports.
pub fn shared_bases(shared: &SharedServer) -> Vec<String> {
    if let Some(base) = &shared.base_url {
        return vec![base.trim_end_matches('/').to_string()];
    }
    let host = bracket(&partner_host(&shared.address));
    let mut bases = vec![format!("http://{host}:{}", shared.port)];
    if let Some(tls) = &shared.tls {
        bases.push(format!("https://{host}:{}", tls.port));
    }
    bases
}
