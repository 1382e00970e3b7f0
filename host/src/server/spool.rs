//! Request bodies, read within their limit and time: in memory when small, else written to a
//! spool file as they arrive, so that a 200 MB message costs the host a buffer, not 200 MB.
//!
//! A spool file holds the body alone (its request head stays in memory), so that when the body
//! is the document's payload the store takes the file over by a link instead of copying it.
//! Files live in `DATA_DIR/spool/`, named by process id; they are removed when the request is
//! done, and a start removes those of processes that no longer run (a crash's leftovers).
//!
//! A body is written only while the disk keeps the configured reserve free: one that would eat
//! into it (or that meets a full disk) stops with [`BodyError::NoSpace`] and its file goes.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming as IncomingBody;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::body::{Body, SpoolFile};

/// Writes are batched this much: a syscall per hyper frame (a few KB) would dominate.
const WRITE_BUFFER: usize = 1 << 20;

pub enum BodyError {
    TooLarge,
    Timeout,
    Broken(String),
    /// The spool file could not be written: the host's problem, not the peer's.
    Spool(String),
    /// The disk would keep less than its reserve free (or is full): the body was dropped.
    NoSpace(String),
}

/// Where and above what size bodies are spooled.
pub struct SpoolPolicy<'a> {
    pub dir: &'a Path,
    pub above: u64,
    /// The request head, kept beside the body as evidence (see the module documentation).
    pub head: &'a (dyn Fn() -> Bytes + Sync),
    /// Bytes the disk must keep free (see `disk::free_beyond_reserve`).
    pub reserve: u64,
}

/// Reads a body of at most `limit` bytes within `timeout`; with a policy, a body that grows
/// past its threshold continues into a spool file.
pub async fn read_body(
    body: IncomingBody,
    limit: u64,
    timeout: Duration,
    spool: Option<SpoolPolicy<'_>>,
) -> Result<Body, BodyError> {
    let mut reading = std::pin::pin!(read(body, limit, spool));
    // A small body is usually in hyper's buffer already: finish it without arming a timer,
    // which would cost more than the read itself.
    let at_once = std::future::poll_fn(|cx| match reading.as_mut().poll(cx) {
        std::task::Poll::Ready(result) => std::task::Poll::Ready(Some(result)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await;
    if let Some(result) = at_once {
        return result;
    }
    match tokio::time::timeout(timeout, reading).await {
        Ok(result) => result,
        Err(_) => Err(BodyError::Timeout),
    }
}

async fn read(
    mut body: IncomingBody,
    limit: u64,
    spool: Option<SpoolPolicy<'_>>,
) -> Result<Body, BodyError> {
    let mut memory = BytesMut::new();
    let mut spooled: Option<Spooling> = None;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing a connector reads
        };
        total += data.len() as u64;
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        if let Some(spooling) = spooled.as_mut() {
            spooling.write(&data, total).await?;
            continue;
        }
        memory.extend_from_slice(&data);
        if let Some(policy) = spool.as_ref().filter(|p| p.above > 0 && total > p.above) {
            let mut spooling = Spooling::create(policy).await?;
            spooling.write(&memory, total).await?;
            memory = BytesMut::new();
            spooled = Some(spooling);
        }
    }
    match spooled {
        None => Ok(Body::Memory(memory.freeze())),
        Some(Spooling {
            mut file,
            mut writer,
            ..
        }) => {
            writer.flush().await.map_err(spool_error)?;
            file.len = total;
            Ok(Body::Spooled(Arc::new(file)))
        }
    }
}

/// A body being written to its spool file.
struct Spooling {
    file: SpoolFile,
    writer: BufWriter<tokio::fs::File>,
    /// The most the file may grow to and still leave the disk's reserve free, measured when it
    /// was created (other writers meanwhile are caught by the file system's own `ENOSPC`).
    room: u64,
}

impl Spooling {
    async fn create(policy: &SpoolPolicy<'_>) -> Result<Spooling, BodyError> {
        let room = crate::disk::free_beyond_reserve(policy.dir, policy.reserve)
            .map_err(|e| BodyError::Spool(format!("measuring free space: {e}")))?;
        let (file, writer) = create(policy).await?;
        Ok(Spooling { file, writer, room })
    }

    /// Appends `data`; `total` is the body's length with it.
    async fn write(&mut self, data: &[u8], total: u64) -> Result<(), BodyError> {
        if total > self.room {
            return Err(BodyError::NoSpace(format!(
                "the body passed {} bytes, what the disk has free beyond its reserve",
                self.room
            )));
        }
        self.writer.write_all(data).await.map_err(spool_error)
    }
}

/// Distinguishes the spool files of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

async fn create(
    policy: &SpoolPolicy<'_>,
) -> Result<(SpoolFile, BufWriter<tokio::fs::File>), BodyError> {
    let name = format!(
        "{}-{}.request",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = policy.dir.join(name);
    // Connectors get the name as text: a folder that is not UTF-8 cannot be handed over.
    if path.to_str().is_none() {
        return Err(BodyError::Spool(format!(
            "the spool folder {} is not a UTF-8 path",
            policy.dir.display()
        )));
    }
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(|e| BodyError::Spool(format!("creating {}: {e}", path.display())))?;
    // From here on the file is ours to remove, whatever happens next.
    let spool = SpoolFile {
        path,
        len: 0,
        head: (policy.head)(),
    };
    Ok((spool, BufWriter::with_capacity(WRITE_BUFFER, file)))
}

fn spool_error(e: io::Error) -> BodyError {
    if crate::disk::is_out_of_space(&e) {
        return BodyError::NoSpace(format!("writing a spool file: {e}"));
    }
    BodyError::Spool(format!("writing a spool file: {e}"))
}

/// Creates the spool folder and removes files left by processes that no longer run (a crash
/// in the middle of a receipt); says how many went, and how many bytes they held.
pub fn prepare(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (mut removed, mut bytes) = (0u64, 0u64);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = pid == std::process::id();
        if ours || !Path::new(&format!("/proc/{pid}")).exists() {
            let len = entry.metadata().map_or(0, |m| m.len());
            if std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
                bytes += len;
            }
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), files = removed, bytes, "removed request bodies left by an earlier run");
    }
    Ok(())
}
