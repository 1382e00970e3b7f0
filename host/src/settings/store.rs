//! Where and how the message store keeps documents.

use serde::Deserialize;

/// The message store: every received document is kept, fsynced, before the partner's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `false` runs without a store: faster, but an answer no longer promises that the document
    /// survives a crash, and duplicates are not detected. For benchmarks and throw-away tests.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Folder of the store, relative to the deployment folder.
    #[serde(default = "data_dir")]
    pub data_dir: String,
    /// Remove documents older than this many days (checked at start and every hour).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Let retention remove failed documents too; by default they stay until retried.
    #[serde(default)]
    pub purge_failed: bool,
    /// Which database holds the store: the embedded SQLite in `data_dir` (one machine), or a
    /// PostgreSQL that several nodes share.
    #[serde(default)]
    pub backend: StoreBackend,
    /// The PostgreSQL database, `postgres://USER@HOST:PORT/DATABASE`; the environment variable
    /// `BERTH_STORE_URL` overrides it. Only with `backend: postgres`.
    #[serde(default)]
    pub url: Option<String>,
    /// A file holding the database password (relative to the deployment folder), so that it
    /// stays out of berth.yaml; never logged. Only with `backend: postgres`.
    #[serde(default)]
    pub password_file: Option<String>,
    /// Bytes of the data folder's disk that large messages must leave free, for the store to
    /// commit and the rest of the machine to work. A message whose `Content-Length` would eat
    /// into it is refused at once with 413; a body without a length that grows into it is cut
    /// off with 507 and nothing of it is kept. Messages under 1 MiB are not measured: the
    /// reserve is there for them.
    #[serde(default = "disk_reserve_bytes")]
    pub disk_reserve_bytes: u64,
}

/// `store.backend`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Sqlite,
    Postgres,
}

/// The environment variable that overrides `store.url`, so that one deployment folder can be
/// pointed at another database without editing it.
pub const STORE_URL_ENV: &str = "BERTH_STORE_URL";

impl StoreSettings {
    /// The database URL: `BERTH_STORE_URL` when set, otherwise `store.url`.
    pub fn url(&self) -> Option<String> {
        std::env::var(STORE_URL_ENV)
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| self.url.clone())
    }

    /// Which setting the URL comes from, for messages: the environment variable when set.
    pub fn url_setting(&self) -> &'static str {
        match std::env::var(STORE_URL_ENV) {
            Ok(url) if !url.is_empty() => STORE_URL_ENV,
            _ => "store.url",
        }
    }

    /// The first problem of the store's settings, as (JSON pointer, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        match self.backend {
            StoreBackend::Sqlite => {
                if self.url.is_some() {
                    return Some(("/store/url", "only with `backend: postgres`".into()));
                }
                if self.password_file.is_some() {
                    return Some((
                        "/store/password_file",
                        "only with `backend: postgres`".into(),
                    ));
                }
                None
            }
            StoreBackend::Postgres => match self.url() {
                None => Some((
                    "/store/url",
                    format!("required with `backend: postgres` (or set {STORE_URL_ENV})"),
                )),
                // The store's message names store.url; a URL from the environment is named so.
                Some(url) => berth_store::PgConfig::new(&url, None).err().map(|e| {
                    let message = e.to_string().replace("store.url", self.url_setting());
                    ("/store/url", message)
                }),
            },
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            enabled: enabled(),
            data_dir: data_dir(),
            retention_days: None,
            purge_failed: false,
            backend: StoreBackend::default(),
            url: None,
            password_file: None,
            disk_reserve_bytes: disk_reserve_bytes(),
        }
    }
}

fn enabled() -> bool {
    true
}
fn data_dir() -> String {
    "data".to_string()
}
fn disk_reserve_bytes() -> u64 {
    256 << 20
}

#[cfg(test)]
mod tests {
    use super::StoreBackend;
    use crate::settings::load;

    fn settings(yaml: &str) -> Result<super::StoreSettings, berth_process::Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("berth.yaml"), yaml).unwrap();
        load(dir.path()).map(|s| s.store)
    }

    #[test]
    fn postgres_with_a_url_and_a_password_file() {
        let store = settings(
            "store:\n  backend: postgres\n  url: postgres://berth@db:5432/berth\n  password_file: secrets/db\n",
        )
        .unwrap();
        assert_eq!(store.backend, StoreBackend::Postgres);
        assert_eq!(store.url.as_deref(), Some("postgres://berth@db:5432/berth"));
        assert_eq!(store.password_file.as_deref(), Some("secrets/db"));
        assert_eq!(settings("").unwrap().backend, StoreBackend::Sqlite);
    }

    #[test]
    fn a_bad_backend_name_is_reported_at_its_line() {
        let d = settings("store:\n  data_dir: data\n  backend: mysql\n").unwrap_err();
        assert_eq!(d.field, "store.backend", "{d}");
        assert_eq!(d.line, Some(3), "{d}");
        assert!(d.message.contains("mysql"), "{d}");
    }

    #[test]
    fn postgres_needs_a_valid_url_and_sqlite_takes_none() {
        // BERTH_STORE_URL would fill the gap: this test relies on it being unset, as in CI.
        if std::env::var_os(super::STORE_URL_ENV).is_some() {
            return;
        }
        let d = settings("store:\n  backend: postgres\n").unwrap_err();
        assert_eq!(d.field, "store.url", "{d}");
        assert!(d.message.contains("BERTH_STORE_URL"), "{d}");
        let d = settings("store:\n  backend: postgres\n  url: \"postgres://u:pw@h:x/db\"\n")
            .unwrap_err();
        assert_eq!((d.field.as_str(), d.line), ("store.url", Some(3)), "{d}");
        assert!(!d.message.contains("pw"), "{d}");
        let d = settings("store:\n  url: postgres://berth@db/berth\n").unwrap_err();
        assert_eq!(d.field, "store.url", "{d}");
    }
}
