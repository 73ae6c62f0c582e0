//! The exclusive store lock that makes one member of an FT group active.
//!
//! [`FtLock`] is an enum so that other store kinds can add theirs (the SQL
//! store's `StoreLock` table row, for example) next to the first kind, the
//! lock file of a shared store directory.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Name of the lock file in a FILE store directory: the original's, so a
/// nats-streaming-server FT member and ours exclude each other too.
pub const LOCK_FILE: &str = ".rootdir.lck";

/// An FT store lock; held from a successful [`FtLock::try_acquire`] until
/// the process exits.
pub enum FtLock {
    /// A write lock (`fcntl(2)` record lock over the whole file, as the
    /// original takes) on `<dir>/.rootdir.lck`. The kernel releases it when
    /// the process dies, whatever the cause.
    File(FileLock),
}

impl FtLock {
    /// The lock of a FILE store in `dir`.
    pub fn file(dir: &Path) -> FtLock {
        FtLock::File(FileLock { path: dir.join(LOCK_FILE), held: None })
    }

    /// Try once to take the lock: `Ok(true)` when it is (now) held,
    /// `Ok(false)` when another server holds it, `Err` when the lock cannot
    /// be tried at all (permissions, missing directory...).
    pub async fn try_acquire(&mut self) -> Result<bool, String> {
        match self {
            FtLock::File(l) => l.try_acquire(),
        }
    }

    /// Called by the active member at every heartbeat: `Ok(false)` if the
    /// lock was lost (the member then aborts). A file lock cannot be lost
    /// while its descriptor is open; a lock kept alive by writes (such as
    /// the SQL store's lock row) refreshes itself here.
    pub async fn refresh(&mut self) -> Result<bool, String> {
        match self {
            FtLock::File(l) => Ok(l.held.is_some()),
        }
    }

    /// For logs: what is locked.
    pub fn describe(&self) -> String {
        match self {
            FtLock::File(l) => format!("lock file {}", l.path.display()),
        }
    }
}

/// See [`FtLock::File`].
pub struct FileLock {
    path: PathBuf,
    /// Open while the lock is held (closing it would release the lock).
    held: Option<File>,
}

impl FileLock {
    fn try_acquire(&mut self) -> Result<bool, String> {
        if self.held.is_some() {
            return Ok(true);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
        match write_lock(&file) {
            Ok(()) => {
                self.held = Some(file);
                Ok(true)
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES) | Some(libc::EINTR)) => {
                Ok(false)
            }
            Err(e) => Err(format!("cannot lock {}: {e}", self.path.display())),
        }
    }
}

/// A non-blocking write lock on the whole file. On Linux an open file
/// description lock (it conflicts with the classic `fcntl` locks the
/// original takes, and is not dropped when another descriptor of the same
/// file is closed in this process); a classic `F_SETLK` elsewhere.
fn write_lock(file: &File) -> io::Result<()> {
    // SAFETY: an all-zero `flock` is a valid value of this plain C struct.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 0;
    #[cfg(target_os = "linux")]
    let cmd = libc::F_OFD_SETLK;
    #[cfg(not(target_os = "linux"))]
    let cmd = libc::F_SETLK;
    // SAFETY: `fl` lives for the call and the descriptor is open.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &fl) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = FtLock::file(dir.path());
        let mut b = FtLock::file(dir.path());
        assert!(a.try_acquire().await.unwrap());
        assert!(a.try_acquire().await.unwrap(), "re-trying a held lock keeps it");
        assert!(a.refresh().await.unwrap());
        assert!(!b.try_acquire().await.unwrap(), "a second holder must be refused");
        drop(a);
        assert!(b.try_acquire().await.unwrap(), "the lock is free once its holder is gone");
        let mut c = FtLock::file(&dir.path().join("missing"));
        assert!(c.try_acquire().await.unwrap_err().contains("cannot open"));
    }
}
