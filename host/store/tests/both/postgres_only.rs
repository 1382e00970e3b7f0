//! What only the PostgreSQL backend has: a schema that several nodes create at once, a
//! database that may be away, and a password to keep out of sight.

use berth_e2e::postgres::PgServer;
use berth_store::{BackendConfig, PgConfig, Store, StoreError, StoreOptions, StoreReader};

use crate::common::doc;
use crate::fixture::{Fixture, Kind};

/// Nodes starting together on an empty database: one creates the schema, none fails.
#[test]
fn several_nodes_migrate_at_once() {
    let f = Fixture::new(Kind::Postgres);
    let opened: Vec<Store> = std::thread::scope(|s| {
        let nodes: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Store::open_backend(&f.config, StoreOptions::default())))
            .collect();
        nodes
            .into_iter()
            .map(|n| n.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(f.sql("SELECT COUNT(*) FROM schema_version"), "1");
    // They share one store.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        opened[0].receive(doc("on-a", "p")).await.unwrap();
        assert!(opened[3].get("on-a").await.unwrap().is_some());
    });
}

#[test]
fn a_newer_schema_is_refused() {
    let f = Fixture::new(Kind::Postgres);
    drop(f.open());
    f.sql("UPDATE schema_version SET version = 99");
    for result in [
        Store::open_backend(&f.config, StoreOptions::default()).err(),
        StoreReader::open_backend(&f.config).err(),
    ] {
        assert!(
            matches!(
                result,
                // `known` is whatever this code's latest migration is.
                Some(StoreError::SchemaTooNew { found: 99, known }) if known < 99
            ),
            "{result:?}"
        );
    }
}

#[test]
fn the_view_needs_a_store_in_the_database() {
    let f = Fixture::new(Kind::Postgres);
    let err = StoreReader::open_backend(&f.config).err().expect("refused");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// Nothing listening: the error says the database is unreachable, a kind of its own.
#[test]
fn an_unreachable_database_is_told_apart() {
    let port = berth_e2e::free_port();
    let url = format!("postgres://berth@127.0.0.1:{port}/berth");
    let config = BackendConfig::Postgres(PgConfig::new(&url, None).unwrap());
    let err = Store::open_backend(&config, StoreOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// A store whose database goes away while open reports each write as unavailable, not as a
/// refusal, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_gone_while_open_is_unavailable() {
    let server = PgServer::start();
    let db = server.create_database("gone");
    let config = PgConfig::new(&server.url(&db), Some(server.password().into())).unwrap();
    let store =
        Store::open_backend(&BackendConfig::Postgres(config), StoreOptions::default()).unwrap();
    store.receive(doc("before", "p")).await.unwrap();
    server.stop();
    let err = store.receive(doc("after", "p")).await.expect_err("refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[test]
fn wrong_credentials_and_urls_never_show_the_password() {
    let server = PgServer::shared();
    let url = server.url("postgres");
    let config = PgConfig::new(&url, Some("not-the-password".into())).unwrap();
    let err = Store::open_backend(
        &BackendConfig::Postgres(config.clone()),
        StoreOptions::default(),
    )
    .err()
    .expect("refused");
    let text = format!("{err} {err:?} {config:?}");
    assert!(!matches!(err, StoreError::Unavailable(_)), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");

    let with_password = PgConfig::new("postgres://berth:s3cret@db:5432/berth", None).unwrap();
    assert_eq!(
        with_password.shown_url(),
        "postgres://berth:***@db:5432/berth"
    );
    assert!(!format!("{with_password:?}").contains("s3cret"));
    let err =
        PgConfig::new("postgres://berth:s3cret@db:notaport/berth", None).expect_err("refused");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
