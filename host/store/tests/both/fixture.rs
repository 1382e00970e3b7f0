//! A store of either backend, fresh for each test: the embedded one in a temporary directory,
//! or a new database on the test binary's one real PostgreSQL (see `berth_e2e::postgres`).

use berth_e2e::postgres::PgServer;
use berth_store::{BackendConfig, PgConfig, Store, StoreOptions, StoreReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub struct Fixture {
    pub kind: Kind,
    pub config: BackendConfig,
    /// The database's name, for a PostgreSQL fixture.
    pub db: Option<String>,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    pub fn new(kind: Kind) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let (config, db) = match kind {
            Kind::Sqlite => (BackendConfig::sqlite(tmp.path().join("data")), None),
            Kind::Postgres => {
                let server = PgServer::shared();
                let db = server.create_database("store");
                let config = PgConfig::new(&server.url(&db), Some(server.password().into()))
                    .expect("a valid URL");
                (BackendConfig::Postgres(config), Some(db))
            }
        };
        Fixture {
            kind,
            config,
            db,
            _tmp: tmp,
        }
    }

    /// A directory of the test's own, e.g. to spool files in.
    pub fn scratch(&self) -> &std::path::Path {
        self._tmp.path()
    }

    pub fn open(&self) -> Store {
        self.open_with(StoreOptions::default())
    }

    pub fn open_with(&self, options: StoreOptions) -> Store {
        Store::open_backend(&self.config, options).expect("open the store")
    }

    pub fn reader(&self) -> StoreReader {
        StoreReader::open_backend(&self.config).expect("open the read-only view")
    }

    /// SQL on the fixture's database (PostgreSQL only).
    pub fn sql(&self, sql: &str) -> String {
        let db = self.db.as_deref().expect("a PostgreSQL fixture");
        PgServer::shared().sql(db, sql)
    }
}

/// Runs `async fn NAME(fixture: &Fixture)` against each backend, as tests `NAME::sqlite` and
/// `NAME::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::fixture::{Fixture, Kind};

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(&Fixture::new(Kind::Sqlite)).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                super::$name(&Fixture::new(Kind::Postgres)).await
            }
        }
    )*};
}
