//! The deployment's message store, as berth.yaml configures it.

use std::path::Path;

use anyhow::Context;
use berth_store::Store;

use crate::settings::StoreSettings;

/// The deployment's message store, or `None` when berth.yaml turns it off.
pub fn open(dir: &Path, settings: &StoreSettings) -> anyhow::Result<Option<Store>> {
    if !settings.enabled {
        tracing::warn!(
            "the message store is off: answers do not promise that documents survive a crash"
        );
        return Ok(None);
    }
    let data_dir = dir.join(&settings.data_dir);
    let store = Store::open(&data_dir)
        .with_context(|| format!("cannot open the message store in {}", data_dir.display()))?;
    Ok(Some(store))
}
