//! Retention: documents older than the configured number of days are purged at start and then
//! every hour. Failed documents stay unless the settings say otherwise: they wait for a retry.

use std::time::Duration;

use berth_store::Store;

use crate::settings::StoreSettings;

const EVERY: Duration = Duration::from_secs(3600);

pub fn start(store: Store, settings: &StoreSettings) {
    let Some(days) = settings.retention_days else {
        return;
    };
    let older_than = Duration::from_secs(u64::from(days) * 86_400);
    let include_failed = settings.purge_failed;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            match store.purge(older_than, include_failed).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, days, "purged old documents"),
                Err(error) => tracing::error!(%error, "purging old documents failed"),
            }
        }
    });
}
