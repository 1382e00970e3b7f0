//! Handing the certificates partners exchanged to the running listeners.

use std::sync::Arc;

use berth_connector_sdk::abi_stable::std_types::RSlice;
use berth_store::PartnerCertificate;

use super::Running;

/// Gives each group's listener the whole set; a listener picks its own operations' ones.
pub(super) async fn hand_over(running: &Running, certificates: &Arc<Vec<PartnerCertificate>>) {
    let listeners: Vec<(String, _)> = running
        .groups
        .values()
        .map(|g| {
            let mount = g.slot.get();
            (mount.label.clone(), Arc::clone(&mount.listener))
        })
        .collect();
    if listeners.is_empty() {
        return;
    }
    let list: Vec<_> = certificates.iter().map(crate::exchange::to_sdk).collect();
    // Listeners parse the certificates: off the reactor, as their other calls are.
    let handed = tokio::task::spawn_blocking(move || {
        for (label, listener) in listeners {
            if let Err(error) = listener
                .exchanged_certificates(RSlice::from(list.as_slice()))
                .into_result()
            {
                tracing::error!(listener = %label, %error, "connector failed to take the exchanged certificates");
            }
        }
    })
    .await;
    if let Err(error) = handed {
        tracing::error!(%error, "handing the exchanged certificates to the listeners did not finish");
    }
}
