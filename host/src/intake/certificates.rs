//! Certificates partners exchanged (see `crate::exchange`), taken from a connector's answer.

use berth_connector_sdk::abi::Response;

use super::Intake;

impl Intake {
    /// Stores the certificates a partner exchanged (see `crate::exchange`) before the answer
    /// that accepts them goes out; when the store cannot take them, the partner gets a 503
    /// instead, with no response to its request sent, so that it sends the request again.
    pub(super) async fn keep_certificates(
        &self,
        listener: &str,
        response: &mut Response,
    ) -> Result<(), Response> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let certificates: Vec<_> = std::mem::take(&mut response.certificates)
            .into_iter()
            .map(|c| crate::exchange::from_sdk(c, now))
            .collect();
        for c in &certificates {
            tracing::info!(%listener, operation = %c.operation, partner = %c.partner, fingerprint = %c.fingerprint, active_from = c.active_from, request = %c.request_id, "partner certificate received by certificate exchange");
        }
        let Some(store) = &self.inner.store else {
            tracing::warn!(%listener, "no message store: exchanged certificates are kept in memory only, until berth stops");
            self.inner.exchanged.add_in_memory(certificates);
            return Ok(());
        };
        if let Err(error) = store.record_partner_certificates(certificates).await {
            tracing::error!(%listener, %error, "cannot store exchanged certificates; answered 503");
            return Err(Response::text(
                503,
                "the certificate could not be stored; send again later",
            )
            .with_header("retry-after", "30"));
        }
        if let Err(error) = self.inner.exchanged.reload(store).await {
            // Stored: the next poll hands it to the listeners.
            tracing::warn!(%error, "cannot read the exchanged certificates back; the next poll will");
        }
        Ok(())
    }
}
