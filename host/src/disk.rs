//! Free disk space, as the server checks it before taking a large message: a message that would
//! leave the store's disk with less than its reserve free is refused, so that the store (and
//! what else shares the disk) keeps room to commit.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes an unprivileged writer may still use on `dir`'s file system.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is written in full on success.
    let done = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Bytes that may still be written on `dir`'s file system before `reserve` is reached.
pub fn free_beyond_reserve(dir: &Path, reserve: u64) -> io::Result<u64> {
    Ok(free_bytes(dir)?.saturating_sub(reserve))
}

/// The error a write gets from a full disk (or a full quota).
pub fn is_out_of_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_measured_and_the_reserve_taken_off() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        assert_eq!(free_beyond_reserve(dir.path(), u64::MAX).unwrap(), 0);
        assert!(free_beyond_reserve(dir.path(), 0).unwrap() > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
        assert!(is_out_of_space(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!is_out_of_space(&io::Error::from_raw_os_error(
            libc::EACCES
        )));
    }
}
