//! The `write_file` step: file names made safe, and atomic, durable writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::spec::IfExists;

/// Longest file name we produce, in bytes; leaves room under the usual 255-byte limit for the
/// `-N` that `unique` may add.
const MAX_NAME_BYTES: usize = 200;

/// How many `-N` suffixes `unique` tries before giving up, so a full folder cannot spin forever.
const MAX_UNIQUE_TRIES: u32 = 100_000;

/// Reduces `raw` (which may come from a partner's property) to one file name component that
/// cannot leave the target folder: separators, NUL and control characters become `_`, leading
/// dots and surrounding blanks are dropped (no `.`, `..` or hidden files, which also keeps final
/// names apart from our `.berth-*.tmp` temp files). A name with nothing but punctuation left is
/// refused rather than invented.
pub(crate) fn sanitize_file_name(raw: &str) -> Result<String, String> {
    let replaced: String = raw
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    if !trimmed
        .chars()
        .any(|c| !matches!(c, '_' | '.' | '-') && !c.is_whitespace())
    {
        return Err(format!(
            "file name {raw:?} has nothing usable once made safe (path separators, dots and control characters are not kept)"
        ));
    }
    Ok(truncate(trimmed))
}

/// Shortens a long name, keeping a short extension so the file still opens with the right tool.
fn truncate(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_string();
    }
    let ext = match name.rfind('.') {
        Some(i) if name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

/// `name` with `-n` before its extension (`a.edi` -> `a-2.edi`); `n == 0` is the name itself.
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}-{n}{}", &name[..i], &name[i..]),
        _ => format!("{name}-{n}"),
    }
}

/// Writes `payload` as `dir/name` on the blocking pool; returns the path written.
pub(crate) async fn write(
    dir: PathBuf,
    name: String,
    payload: Bytes,
    if_exists: IfExists,
) -> Result<PathBuf, String> {
    tokio::task::spawn_blocking(move || write_blocking(&dir, &name, &payload, if_exists))
        .await
        .map_err(|e| format!("the file writer stopped unexpectedly: {e}"))?
}

/// A temp file that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    fn create(dir: &Path) -> io::Result<TempFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".berth-{}-{n}.tmp", std::process::id()));
            // create_new: a leftover from a crashed run (same pid, same counter) is skipped.
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        keep: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn write_blocking(
    dir: &Path,
    name: &str,
    payload: &[u8],
    if_exists: IfExists,
) -> Result<PathBuf, String> {
    let shown = dir.display();
    fs::create_dir_all(dir).map_err(|e| format!("cannot create folder {shown}: {e}"))?;
    let mut temp =
        TempFile::create(dir).map_err(|e| format!("cannot create a file in {shown}: {e}"))?;
    temp.file
        .write_all(payload)
        .and_then(|()| temp.file.sync_all())
        .map_err(|e| format!("cannot write in {shown}: {e}"))?;

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

/// The folder a `write_file` step rendered, checked: properties may add folders below what the
/// process file wrote, never climb out of it (`..`), turn a relative folder absolute, or carry
/// a NUL byte.
pub(crate) fn safe_directory(rendered: &str, absolute: bool) -> Result<PathBuf, String> {
    let path = Path::new(rendered);
    let climbs = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if rendered.trim().is_empty() || rendered.contains('\0') || climbs {
        return Err(format!(
            "folder `{rendered}` is empty, has a NUL byte, or climbs with `..`"
        ));
    }
    if path.is_absolute() != absolute {
        return Err(format!(
            "folder `{rendered}` became {} after its properties were filled in",
            if absolute { "relative" } else { "absolute" }
        ));
    }
    Ok(path.to_path_buf())
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
    fn sanitizes_escapes() {
        assert_eq!(sanitize_file_name("order.edi").unwrap(), "order.edi");
        assert_eq!(
            sanitize_file_name("../../etc/passwd").unwrap(),
            "_.._etc_passwd"
        );
        assert_eq!(sanitize_file_name("/etc/passwd").unwrap(), "_etc_passwd");
        assert_eq!(
            sanitize_file_name("..\\..\\win.ini").unwrap(),
            "_.._win.ini"
        );
        assert_eq!(sanitize_file_name("a\0b").unwrap(), "a_b");
        assert_eq!(sanitize_file_name("a\nb\r").unwrap(), "a_b_");
        assert_eq!(sanitize_file_name(".hidden").unwrap(), "hidden");
        assert_eq!(
            sanitize_file_name("  spaced name.txt ").unwrap(),
            "spaced name.txt"
        );
        for bad in ["", ".", "..", "/", "../..", "///", " ", "\0", "._-"] {
            assert!(
                sanitize_file_name(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn sanitized_names_are_single_components() {
        for raw in [
            "../x",
            "a/../../b",
            "/",
            "\\\\server\\share",
            "x/.",
            "C:\\a",
        ] {
            if let Ok(name) = sanitize_file_name(raw) {
                let p = Path::new(&name);
                assert_eq!(p.components().count(), 1, "{raw:?} -> {name:?}");
                assert!(matches!(
                    p.components().next(),
                    Some(std::path::Component::Normal(_))
                ));
            }
        }
    }

    #[test]
    fn long_names_are_truncated_keeping_extension() {
        let long = format!("{}.edi", "é".repeat(300));
        let name = sanitize_file_name(&long).unwrap();
        assert!(name.len() <= MAX_NAME_BYTES);
        assert!(name.ends_with(".edi"));
    }

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

    #[test]
    fn directories_from_properties_cannot_escape() {
        assert_eq!(
            safe_directory("data/in/acme", false).unwrap(),
            PathBuf::from("data/in/acme")
        );
        assert!(safe_directory("data/in/../../etc", false).is_err());
        assert!(safe_directory("/etc/in", false).is_err());
        assert!(safe_directory("data/in", true).is_err());
        assert!(safe_directory("/srv/in/acme", true).is_ok());
        assert!(safe_directory("", false).is_err());
    }

    #[test]
    fn numbering() {
        assert_eq!(numbered("a.edi", 0), "a.edi");
        assert_eq!(numbered("a.edi", 2), "a-2.edi");
        assert_eq!(numbered("a.tar.gz", 1), "a.tar-1.gz");
        assert_eq!(numbered("noext", 3), "noext-3");
    }
}
