//! The deployment's message store, as berth.yaml configures it: the embedded SQLite store in the
//! deployment's data folder, or a PostgreSQL database (`store.backend: postgres`).

use std::path::Path;

use anyhow::Context;
use berth_connector_sdk::secret::Secret;
use berth_store::{BackendConfig, PgConfig, Store, StoreError, StoreOptions, StoreReader};

use crate::settings::{StoreBackend, StoreSettings};

/// The deployment's message store, or `None` when berth.yaml turns it off.
pub fn open(dir: &Path, settings: &StoreSettings) -> anyhow::Result<Option<Store>> {
    if !settings.enabled {
        tracing::warn!(
            "the message store is off: answers do not promise that documents survive a crash"
        );
        return Ok(None);
    }
    let (config, place) = backend(dir, settings)?;
    let store = Store::open_backend(&config, StoreOptions::default()).map_err(|error| {
        let refused = matches!(error, StoreError::Refused(_));
        let login = match (&settings.password_file, refused) {
            (Some(_), true) => " with the password of store.password_file",
            (None, true) => " with the user and password of the URL",
            _ => "",
        };
        anyhow::Error::new(error).context(format!("cannot open the message store {place}{login}"))
    })?;
    tracing::info!(store = %place, "message store open");
    Ok(Some(store))
}

/// The read-only view of the deployment's store, beside a running berth.
pub fn open_reader(dir: &Path, settings: &StoreSettings) -> anyhow::Result<StoreReader> {
    let (config, place) = backend(dir, settings)?;
    StoreReader::open_backend(&config)
        .with_context(|| format!("cannot read the message store {place}"))
}

/// The backend's configuration, and where it is in words for messages (never a password).
pub fn backend(dir: &Path, settings: &StoreSettings) -> anyhow::Result<(BackendConfig, String)> {
    match settings.backend {
        StoreBackend::Sqlite => {
            let data_dir = dir.join(&settings.data_dir);
            let place = format!("in {}", data_dir.display());
            Ok((BackendConfig::sqlite(data_dir), place))
        }
        StoreBackend::Postgres => {
            let url = settings
                .url()
                .context("store.url: required with `backend: postgres`")?;
            let setting = settings.url_setting();
            let password = settings
                .password_file
                .as_deref()
                .map(|file| read_password(&dir.join(file)))
                .transpose()?;
            let config = PgConfig::new(&url, password.map(|p| p.expose().to_string()))
                .with_context(|| setting.to_string())?;
            let place = format!("at {} ({setting})", config.shown_url());
            Ok((BackendConfig::Postgres(config), place))
        }
    }
}

/// The password in `file`, without the line end an editor adds.
fn read_password(file: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("store.password_file: cannot read {}", file.display()))?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}
