//! Atomic, durable writes for the `write_file` step: a document is written to a temp file,
//! synced, then put in place under its final name in one step, so that readers never see a
//! partial file and two documents never overwrite each other by accident.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use berth_store::StoredPayload;

use super::names::numbered;
use super::IfExists;

/// How many `-N` suffixes `unique` tries before giving up, so a full folder cannot spin forever.
const MAX_UNIQUE_TRIES: u32 = 100_000;

/// Writes `payload` as `dir/name` on the blocking pool; returns the path written.
pub(super) async fn write(
    dir: PathBuf,
    name: String,
    payload: StoredPayload,
    if_exists: IfExists,
) -> Result<PathBuf, String> {
    tokio::task::spawn_blocking(move || write_blocking(&dir, &name, &payload, if_exists))
        .await
        .map_err(|e| format!("the file writer stopped unexpectedly: {e}"))?
}

/// A temp file name that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// A new, empty temp file in `dir`, open for writing.
    fn create(dir: &Path) -> io::Result<(TempFile, File)> {
        loop {
            let path = temp_name(dir);
            // create_new: a leftover from a crashed run (same pid, same counter) is skipped.
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((TempFile { path, keep: false }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

}

fn temp_name(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".berth-{}-{n}.tmp", std::process::id()))
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Puts the payload's bytes in a durable temp file in `dir`, by the cheapest way the payload
/// and the file system allow:
/// - in memory (small payloads): written;
/// - a stored file: cloned (a reflink: shares the blocks until either side changes, on file
///   systems that can, such as XFS and Btrfs), else copied by the kernel (`copy_file_range`),
///   never through this process's memory. Never a hard link, although it would cost nothing:
///   the output is the consumer's file, and a consumer that edits or appends to it in place
///   would silently change the stored payload, the evidence of what the partner sent;
/// - another stored object (database chunks): streamed through a small buffer.
fn place(dir: &Path, payload: &StoredPayload) -> io::Result<TempFile> {
    if let Some(bytes) = payload.in_memory() {
        let (temp, mut file) = TempFile::create(dir)?;
        file.write_all(bytes).and_then(|()| file.sync_all())?;
        return Ok(temp);
    }
    if let Some(source) = payload.path() {
        let (temp, file) = TempFile::create(dir)?;
        let opened = File::open(source)?;
        if reflink(&opened, &file).is_ok() {
            file.sync_all()?;
            return Ok(temp);
        }
        let mut file = file;
        io::copy(&mut &opened, &mut file)?;
        file.sync_all()?;
        return Ok(temp);
    }
    let (temp, mut file) = TempFile::create(dir)?;
    let mut reader = payload.open().map_err(io::Error::other)?;
    let copied = io::copy(&mut reader, &mut file)?;
    if copied != payload.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the stored payload has {copied} of its {} bytes",
                payload.len()
            ),
        ));
    }
    file.sync_all()?;
    Ok(temp)
}

/// Makes `to` share `from`'s blocks (Linux `FICLONE`); fails on file systems without reflinks.
fn reflink(from: &File, to: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: both descriptors are open for the duration of the call; FICLONE reads no memory.
    let done = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn write_blocking(
    dir: &Path,
    name: &str,
    payload: &StoredPayload,
    if_exists: IfExists,
) -> Result<PathBuf, String> {
    let shown = dir.display();
    fs::create_dir_all(dir).map_err(|e| format!("cannot create folder {shown}: {e}"))?;
    let mut temp = place(dir, payload).map_err(|e| format!("cannot write in {shown}: {e}"))?;

    let final_path = match if_exists {
        IfExists::Overwrite => {
            let target = dir.join(name);
            fs::rename(&temp.path, &target)
                .map_err(|e| format!("cannot rename into {}: {e}", target.display()))?;
            temp.keep = true;
            target
        }
        // A hard link never replaces an existing name, so two documents racing for one name
        // cannot overwrite each other; the temp name is dropped afterwards.
        IfExists::Fail => {
            let target = dir.join(name);
            match fs::hard_link(&temp.path, &target) {
                Ok(()) => target,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(format!(
                        "{} already exists (if_exists: fail)",
                        target.display()
                    ))
                }
                Err(e) => return Err(format!("cannot create {}: {e}", target.display())),
            }
        }
        IfExists::Unique => link_unique(&temp.path, dir, name)?,
    };
    drop(temp);
    sync_dir(dir).map_err(|e| format!("cannot sync folder {shown}: {e}"))?;
    Ok(final_path)
}

/// Link `temp` under the first free numbered name. Partners often send the same file name again
/// and again, so probing `-1`, `-2`, ... one by one would cost a system call per earlier file:
/// gallop to a free number, then binary-search down to the lowest free one (O(log n) lookups).
/// The final hard link is atomic, so a concurrent writer that takes the name first only makes
/// this try again.
fn link_unique(temp: &Path, dir: &Path, name: &str) -> Result<PathBuf, String> {
    let taken = |n: u32| dir.join(numbered(name, n)).symlink_metadata().is_ok();
    for _attempt in 0..16 {
        let mut free = 0;
        if taken(0) {
            let (mut low, mut high) = (0u32, 1u32);
            while taken(high) {
                low = high;
                high = match high.checked_mul(2) {
                    Some(next) if next <= MAX_UNIQUE_TRIES => next,
                    _ => {
                        return Err(format!(
                            "no free name for {name} in {} below {MAX_UNIQUE_TRIES}",
                            dir.display()
                        ))
                    }
                };
            }
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if taken(middle) {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            free = high;
        }
        let target = dir.join(numbered(name, free));
        match fs::hard_link(temp, &target) {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", target.display())),
        }
    }
    Err(format!(
        "no free name for {name} in {}: other writers kept taking it",
        dir.display()
    ))
}

/// Makes the new directory entry durable: without it a crash can lose a renamed file.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some filesystems cannot fsync a directory; there is nothing more we can do there.
        Err(e)
            if e.kind() == io::ErrorKind::InvalidInput
                || e.kind() == io::ErrorKind::Unsupported =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_take_the_lowest_free_number_without_scanning_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join("incoming.tmp");
        std::fs::write(&temp, b"x").unwrap();
        std::fs::write(dir.path().join("po.edi"), b"").unwrap();
        for n in 1..1000 {
            std::fs::write(dir.path().join(numbered("po.edi", n)), b"").unwrap();
        }
        let placed = link_unique(&temp, dir.path(), "po.edi").unwrap();
        assert_eq!(placed, dir.path().join("po-1000.edi"));
        let next = link_unique(&temp, dir.path(), "po.edi").unwrap();
        assert_eq!(next, dir.path().join("po-1001.edi"));
        let fresh = link_unique(&temp, dir.path(), "new.edi").unwrap();
        assert_eq!(fresh, dir.path().join("new.edi"));
    }

    /// A stored payload kept in a file of its own, as the embedded store keeps large ones.
    #[derive(Debug)]
    struct StoredFile(PathBuf, u64);

    impl berth_store::PayloadSource for StoredFile {
        fn len(&self) -> u64 {
            self.1
        }
        fn open(&self) -> Result<Box<dyn std::io::Read + Send>, berth_store::StoreError> {
            let file = File::open(&self.0).map_err(|e| berth_store::StoreError::io("open", e))?;
            Ok(Box::new(file))
        }
        fn path(&self) -> Option<&Path> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_output_edited_in_place_leaves_the_stored_payload_as_received() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let stored = dir.path().join("stored.bin");
        std::fs::write(&stored, b"as the partner sent it").unwrap();
        let payload = StoredPayload::stored(std::sync::Arc::new(StoredFile(stored.clone(), 22)));
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let temp = place(&out, &payload).unwrap();
        let (placed, original) = (fs::metadata(&temp.path).unwrap(), fs::metadata(&stored).unwrap());
        assert_ne!(placed.ino(), original.ino(), "a second name for the stored file");
        OpenOptions::new().append(true).open(&temp.path).unwrap().write_all(b", edited").unwrap();
        assert_eq!(fs::read(&stored).unwrap(), b"as the partner sent it");
        assert_eq!(fs::read(&temp.path).unwrap(), b"as the partner sent it, edited");
    }
}
