//! Cut-off transfers on disk: each is a body file (`KEY.part`) and its metadata beside it
//! (`KEY.json`), in `DATA_DIR/restart/`, apart from the spool folder so that the start's spool
//! sweep never takes them. KEY is the SHA-256 of the transfer's identity (ETag and partner
//! pair), so that a sender's identifier never becomes a file name.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Who a transfer belongs to: the sender's transfer identifier (the draft's `ETag`) and the
/// partner pair, as the sender writes them on every request of the transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub etag: String,
    pub as2_from: String,
    pub as2_to: String,
}

impl Identity {
    /// The file name stem of this transfer.
    fn stem(&self) -> String {
        let joined = format!("{}\u{1f}{}\u{1f}{}", self.etag, self.as2_from, self.as2_to);
        openssl::sha::sha256(joined.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What is kept beside a cut-off body, so that it survives a restart of berth.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    #[serde(flatten)]
    pub identity: Identity,
    /// The address of the peer that sent the last part, for the log.
    pub peer: String,
    /// The whole body's length, when the sender declared it.
    pub total: Option<u64>,
    /// Unix seconds after which the transfer is purged.
    pub keep_until: u64,
}

/// The folder of cut-off transfers.
pub struct Partials {
    dir: PathBuf,
    /// The transfers a request is writing now: a second request for one of them (a sender
    /// that resumes on a new connection before the old one is seen to drop) would append to
    /// the same file at another offset.
    busy: Mutex<HashSet<String>>,
    completed: AtomicU64,
}

/// A transfer claimed by one request; released when dropped.
pub struct Claim<'a> {
    partials: &'a Partials,
    stem: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut busy = self.partials.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.stem);
    }
}

/// A transfer's two files.
pub struct Files {
    pub body: PathBuf,
    pub meta: PathBuf,
}

impl Partials {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            busy: Mutex::new(HashSet::new()),
            completed: AtomicU64::new(0),
        }
    }

    /// Claims a transfer for one request, or `None` while another request writes it.
    pub fn claim(&self, identity: &Identity) -> Option<Claim<'_>> {
        let stem = identity.stem();
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.insert(stem.clone()).then(|| Claim {
            partials: self,
            stem,
        })
    }

    /// Moves a complete transfer's body out of the transfer's name (to one of its own, removed
    /// with the request like any spool file, or by the start's sweep after a crash), so that a
    /// sender starting the same ETag over cannot append to a body being processed.
    pub fn complete(&self, identity: &Identity) -> io::Result<PathBuf> {
        let files = self.files(identity);
        let n = self.completed.fetch_add(1, Ordering::Relaxed);
        let done = self.dir.join(format!(
            "{}.{}-{n}.done",
            identity.stem(),
            std::process::id()
        ));
        std::fs::rename(&files.body, &done)?;
        let _ = std::fs::remove_file(&files.meta);
        Ok(done)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn files(&self, identity: &Identity) -> Files {
        let stem = identity.stem();
        Files {
            body: self.dir.join(format!("{stem}.part")),
            meta: self.dir.join(format!("{stem}.json")),
        }
    }

    /// The kept transfer and the bytes it holds, if there is one.
    pub fn find(&self, identity: &Identity) -> Option<(Meta, u64)> {
        let files = self.files(identity);
        let meta = read_meta(&files.meta)?;
        let len = std::fs::metadata(&files.body).ok()?.len();
        (meta.identity == *identity).then_some((meta, len))
    }

    /// Writes the metadata beside the body (replaced whole by a rename, so a crash never
    /// leaves half of it).
    pub fn write_meta(&self, meta: &Meta) -> io::Result<()> {
        let files = self.files(&meta.identity);
        let temporary = files.meta.with_extension("json.new");
        std::fs::write(
            &temporary,
            serde_json::to_vec(meta).map_err(io::Error::other)?,
        )?;
        std::fs::rename(&temporary, &files.meta)
    }

    /// Removes a transfer's files (its metadata first: a body without metadata is an orphan
    /// the next sweep removes).
    pub fn remove(&self, identity: &Identity) {
        let files = self.files(identity);
        for path in [&files.meta, &files.body] {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(file = %path.display(), error = %e, "cannot remove a cut-off transfer's file");
                }
            }
        }
    }

    /// Creates the folder and removes what is past its age (logged, one line each) and what a
    /// crash left without its metadata. `starting`: also the payload files of completed
    /// transfers that a crash left behind (at any other time they may belong to a request
    /// in flight).
    pub fn sweep(&self, starting: bool) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let now = now();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".json") {
                match read_meta(&path) {
                    Some(meta) if meta.keep_until > now => {}
                    Some(meta) => self.purge(&meta, "older than its keeping age"),
                    None => remove_quietly(&path),
                }
            } else if name.ends_with(".part") {
                if !path.with_extension("json").exists() && starting {
                    remove_quietly(&path);
                }
            } else if starting {
                remove_quietly(&path);
            }
        }
        Ok(())
    }

    /// Removes a transfer, saying why in the log.
    pub fn purge(&self, meta: &Meta, why: &str) {
        let bytes = std::fs::metadata(self.files(&meta.identity).body).map_or(0, |m| m.len());
        tracing::info!(etag = %meta.identity.etag, as2_from = %meta.identity.as2_from, as2_to = %meta.identity.as2_to, peer = %meta.peer, bytes, reason = why, "purged a cut-off AS2 transfer");
        self.remove(&meta.identity);
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_meta(path: &Path) -> Option<Meta> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn remove_quietly(path: &Path) {
    if std::fs::remove_file(path).is_ok() {
        tracing::info!(file = %path.display(), "removed a leftover of an interrupted AS2 restart");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(etag: &str) -> Identity {
        Identity {
            etag: etag.into(),
            as2_from: "partner".into(),
            as2_to: "us".into(),
        }
    }

    fn keep(partials: &Partials, etag: &str, keep_until: u64, bytes: &[u8]) {
        let meta = Meta {
            identity: identity(etag),
            peer: "127.0.0.1:1".into(),
            total: Some(100),
            keep_until,
        };
        std::fs::write(partials.files(&meta.identity).body, bytes).unwrap();
        partials.write_meta(&meta).unwrap();
    }

    #[test]
    fn a_kept_transfer_is_found_by_its_identity_only() {
        let dir = tempfile::tempdir().unwrap();
        let partials = Partials::new(dir.path().to_path_buf());
        partials.sweep(true).unwrap();
        keep(&partials, "t-1", now() + 60, b"abc");
        let (meta, len) = partials.find(&identity("t-1")).expect("kept");
        assert_eq!((meta.total, len), (Some(100), 3));
        assert!(partials.find(&identity("t-2")).is_none());
        let other_pair = Identity {
            as2_to: "someone-else".into(),
            ..identity("t-1")
        };
        assert!(partials.find(&other_pair).is_none());
    }

    #[test]
    fn the_sweep_purges_the_expired_and_the_orphans_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let partials = Partials::new(dir.path().to_path_buf());
        partials.sweep(true).unwrap();
        keep(&partials, "young", now() + 60, b"young");
        keep(&partials, "old", now() - 1, b"old");
        let orphan = dir.path().join("deadbeef.part");
        std::fs::write(&orphan, b"x").unwrap();
        let payload = dir.path().join("deadbeef.part.payload");
        std::fs::write(&payload, b"x").unwrap();
        partials.sweep(false).unwrap();
        assert!(partials.find(&identity("old")).is_none());
        assert!(!partials.files(&identity("old")).body.exists());
        assert!(
            orphan.exists() && payload.exists(),
            "only a start removes those"
        );
        partials.sweep(true).unwrap();
        assert!(!orphan.exists() && !payload.exists());
        assert!(partials.find(&identity("young")).is_some());
    }

    #[test]
    fn one_request_at_a_time_writes_a_transfer_and_a_complete_one_leaves_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let partials = Partials::new(dir.path().to_path_buf());
        partials.sweep(true).unwrap();
        let first = partials.claim(&identity("t-1")).expect("free");
        assert!(partials.claim(&identity("t-1")).is_none(), "busy");
        assert!(
            partials.claim(&identity("t-2")).is_some(),
            "another transfer"
        );
        drop(first);
        let _again = partials.claim(&identity("t-1")).expect("released");

        keep(&partials, "t-1", now() + 60, b"whole");
        let done = partials.complete(&identity("t-1")).unwrap();
        assert_eq!(std::fs::read(&done).unwrap(), b"whole");
        assert!(partials.find(&identity("t-1")).is_none());
        // The sender starts the same ETag over: a new file, not the one being processed.
        std::fs::write(partials.files(&identity("t-1")).body, b"new").unwrap();
        assert_eq!(std::fs::read(&done).unwrap(), b"whole");
        partials.sweep(false).unwrap();
        assert!(done.exists(), "a request may be processing it");
        partials.sweep(true).unwrap();
        assert!(!done.exists(), "a crash's leftover goes at the next start");
    }
}
