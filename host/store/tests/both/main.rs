//! The store's promises checked against both backends, the embedded SQLite one and PostgreSQL
//! (a real server, one for this whole test binary, a fresh database per test).

#[path = "../common/mod.rs"]
mod common;
mod fixture;

mod certificates;
mod cluster;
mod copy;
mod duplicates;
mod lifecycle;
mod outbox;
mod paging;
mod payloads;
mod postgres_only;
mod traffic;
mod unique_keys;
