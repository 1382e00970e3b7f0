//! `berth store copy`: move a deployment's message store between the embedded SQLite store and
//! PostgreSQL, documents with everything the store knows of them (payloads, raw requests,
//! answers, properties, history, states and duplicate keys, and the file names already
//! received whose documents were purged), so that a deployment that outgrew
//! one machine keeps its history and its duplicate detection.
//!
//! Documents go oldest first, one at a time: a large payload is streamed (from the source's
//! file, or through a spool file for PostgreSQL's chunks), never held whole in memory. The
//! embedded store is opened as `berth run` opens it, taking its lock, so a copy is refused
//! while berth runs on it: a copy must see every document, and nothing may change under it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use berth_store::{
    BackendConfig, Imported, Payload, PgConfig, Query, Store, StoreError, StoreOptions,
    StoredPayload,
};
use tempfile::NamedTempFile;

use crate::deploy::deployment_dir;
use crate::settings;

/// Which way the documents go.
pub enum Direction {
    /// From the deployment's embedded store into this database.
    ToPostgres(String),
    /// From this database into the deployment's embedded store.
    FromPostgres(String),
}

/// Documents asked of the source at a time.
const PAGE: usize = 200;

pub fn run(
    dir: &Path,
    direction: Direction,
    password_file: Option<&Path>,
    append: bool,
) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let settings = settings::load(&dir).map_err(|d| anyhow::anyhow!("{d}"))?;
    let data_dir = dir.join(&settings.store.data_dir);
    let (url, flag) = match &direction {
        Direction::ToPostgres(url) => (url, "--to"),
        Direction::FromPostgres(url) => (url, "--from"),
    };
    let password_file = match password_file {
        Some(file) => Some(file.to_path_buf()),
        None => settings.store.password_file.as_ref().map(|f| dir.join(f)),
    };
    let password = password_file.as_deref().map(read_password).transpose()?;
    let pg = PgConfig::new(url, password).context(flag)?;
    let pg_place = format!("the database at {}", pg.shown_url());
    let sqlite_place = format!("the embedded store in {}", data_dir.display());
    if matches!(direction, Direction::ToPostgres(_)) && !data_dir.join("store.sqlite").exists() {
        anyhow::bail!("there is no message store to copy: {sqlite_place} does not exist");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sqlite = match Store::open_backend(&BackendConfig::sqlite(&data_dir), options()) {
        Err(StoreError::Locked(_)) => anyhow::bail!(
            "berth is running on {sqlite_place}: stop it before copying (a copy must see every \
             document, and nothing may change under it)"
        ),
        other => other.with_context(|| format!("cannot open {sqlite_place}"))?,
    };
    let postgres = Store::open_backend(&BackendConfig::Postgres(pg), options())
        .with_context(|| format!("cannot open {pg_place} ({flag})"))?;
    // Large payloads from PostgreSQL are spooled beside the embedded store, on the same file
    // system, so that it links the file rather than copying it again.
    std::fs::create_dir_all(&data_dir)?;
    let spool = tempfile::Builder::new()
        .prefix(".copy-")
        .tempdir_in(&data_dir)
        .context("cannot make a spool folder for large payloads")?;
    let (source, target, from, to) = match direction {
        Direction::ToPostgres(_) => (sqlite, postgres, sqlite_place, pg_place),
        Direction::FromPostgres(_) => (postgres, sqlite, pg_place, sqlite_place),
    };
    let copied = runtime.block_on(async {
        let empty = target
            .query(&Query {
                limit: 1,
                ..Query::default()
            })
            .await?
            .is_empty();
        if !empty && !append {
            anyhow::bail!(
                "{to} already holds documents: copy into an empty store, or add --append to \
                 copy into it anyway (documents whose id is there already are skipped)"
            );
        }
        let copied = copy(&source, &target, spool.path()).await?;
        copy_orphan_keys(&source, &target).await?;
        Ok(copied)
    })?;
    println!(
        "copied {} documents from {from} to {to}{}",
        copied.copied,
        match copied.skipped {
            0 => String::new(),
            n => format!(" ({n} already there, skipped)"),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn options() -> StoreOptions {
    StoreOptions::default()
}

#[derive(Default)]
struct Copied {
    copied: u64,
    skipped: u64,
}

async fn copy(source: &Store, target: &Store, spool: &Path) -> anyhow::Result<Copied> {
    let mut done = Copied::default();
    let mut after = 0;
    loop {
        let page = source.export_ids(after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok(done);
        };
        after = *last;
        for (_, id) in page {
            let copied = copy_one(source, target, &id, spool)
                .await
                .with_context(|| format!("copying document {id}"))?;
            match copied {
                true => done.copied += 1,
                false => done.skipped += 1,
            }
            if (done.copied + done.skipped) % 1000 == 0 {
                eprintln!("{} documents copied", done.copied + done.skipped);
            }
        }
    }
}

/// Copies the keys whose document retention purged (a file name refused once stays refused,
/// see `NewDocument::unique_key`); each document's own key went with it.
async fn copy_orphan_keys(source: &Store, target: &Store) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = source.orphan_keys(after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some((last.process.clone(), last.key.clone()));
        target
            .import_keys(page)
            .await
            .context("copying the file names already received")?;
    }
}

/// Copies one document; false when the target has it already.
async fn copy_one(source: &Store, target: &Store, id: &str, spool: &Path) -> anyhow::Result<bool> {
    let document = source
        .get(id)
        .await?
        .context("it went away during the copy")?;
    let keys = source.duplicate_keys(id).await?.unwrap_or_default();
    // The spool files live until the target has taken them in.
    let (payload, _payload_spool) = content(document.payload.clone(), spool).await?;
    let (raw, _raw_spool) = match source.raw(id).await? {
        Some(raw) => {
            let (raw, spooled) = content(raw, spool).await?;
            (Some(raw), spooled)
        }
        None => (None, None),
    };
    let deliveries = source.deliveries(id).await?;
    let imported = Imported::new(document, payload, raw, keys).with_deliveries(deliveries);
    match target.import(imported).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Stored content as a copy hands it on: bytes when the source holds it in memory, the
/// source's own file when it has one, otherwise a spool file streamed from the source.
async fn content(
    stored: StoredPayload,
    spool: &Path,
) -> anyhow::Result<(Payload, Option<NamedTempFile>)> {
    if let Some(bytes) = stored.in_memory() {
        return Ok((Payload::Bytes(bytes.clone()), None));
    }
    if let Some(path) = stored.path() {
        return Ok((Payload::File(path.to_path_buf()), None));
    }
    let spool = spool.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = NamedTempFile::new_in(&spool)?;
        let mut reader = stored.open()?;
        std::io::copy(&mut reader, file.as_file_mut())?;
        let path: PathBuf = file.path().to_path_buf();
        Ok((Payload::File(path), Some(file)))
    })
    .await?
}

fn read_password(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the password file {}", file.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}
