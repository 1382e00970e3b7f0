//! berth's host as a library: the `berth` binary is a thin `main` over [`cli::main`], and the
//! in-process tests (intake, topology, routing, conflicts) use the modules directly.
//!
//! The layers, each using only those below it:
//! - `cli`, `run`: the commands; `run` composes everything else for `berth run`.
//! - `admin`: the admin API and console, over `topology` and `intake`.
//! - `topology`: which listeners run and on which ports; binds through `server`.
//! - `server`: HTTP in and out; hands submitted documents to `intake`.
//! - `intake`: a received document's lifecycle (store, run, record, answer); no HTTP.
//! - `health`: readiness for load balancers, served by `admin`, drained by `run`.
//! - `deploy`, `plugins`, `store`, `status`, `metrics`, `outbound`, `body`, `disk`,
//!   `settings`: leaves the layers above share.

pub mod admin;
pub mod body;
pub mod cert;
pub mod cli;
pub mod cluster;
pub mod deploy;
pub mod disk;
pub mod documents;
pub mod exchange;
pub mod health;
pub mod ids;
pub mod intake;
pub mod metrics;
pub mod outbound;
pub mod plugin_log;
pub mod plugins;
pub mod retention;
pub mod run;
pub mod server;
pub mod settings;
pub mod status;
pub mod store;
pub mod topology;
