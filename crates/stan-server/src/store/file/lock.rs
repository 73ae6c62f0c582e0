//! Exclusive ownership of a store directory through `flock(2)` on a lock file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Name of the lock file inside the store directory.
pub(super) const LOCK_FILE: &str = "LOCK";

/// Holds the exclusive lock on a store directory until dropped (closing the
/// file releases the lock, also when the process dies).
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir`, failing at once if another open journal (in this or
    /// another process) holds it.
    pub(super) fn acquire(dir: &Path) -> io::Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        // SAFETY: flock only reads the descriptor number, which `file` keeps
        // open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "store directory {} is in use by another stan-server (lock held on {})",
                        dir.display(),
                        path.display()
                    ),
                ));
            }
            return Err(io::Error::new(err.kind(), format!("cannot lock {}: {err}", path.display())));
        }
        Ok(DirLock { _file: file })
    }
}
