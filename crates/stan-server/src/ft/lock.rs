//! The exclusive store lock that makes one member of an FT group active.
//!
//! [`FtLock`] has one variant per store kind that supports FT: the lock
//! file of a shared FILE store directory, and the SQL store's `StoreLock`
//! table row (kept alive by the active's tick updates).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::sql::ft_lock::{self, SqlStoreLock};
use crate::store::sql::Driver;

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
    /// The `StoreLock` row of a shared SQL database, on a connection of its
    /// own: the active updates its tick at every heartbeat; a standby steals
    /// it after the tick did not move for [`ft_lock::LOST_COUNT`] polls.
    Sql(SqlLock),
}

impl FtLock {
    /// The lock of a FILE store in `dir`.
    pub fn file(dir: &Path) -> FtLock {
        FtLock::File(FileLock { path: dir.join(LOCK_FILE), held: None })
    }

    /// The lock of a SQL store (`--sql_driver`, `--sql_source`): connects
    /// to the database.
    pub async fn sql(driver: Driver, source: &str) -> Result<FtLock, String> {
        let source = source.to_string();
        let lock = tokio::task::spawn_blocking(move || SqlStoreLock::connect(driver, &source))
            .await
            .map_err(|e| format!("ft: the SQL lock task failed: {e}"))?
            .map_err(|e| format!("ft: {e}"))?;
        Ok(FtLock::Sql(SqlLock { lock: Some(lock), driver, errors: 0 }))
    }

    /// How long a standby waits between two failed tries, if the lock kind
    /// has its own pace (the SQL lock's polls, which count unchanged ticks).
    pub fn poll_interval(&self) -> Option<Duration> {
        match self {
            FtLock::File(_) => None,
            FtLock::Sql(_) => Some(ft_lock::POLL_INTERVAL),
        }
    }

    /// Try once to take the lock: `Ok(true)` when it is (now) held,
    /// `Ok(false)` when another server holds it, `Err` when the lock cannot
    /// be tried at all (permissions, missing directory...).
    pub async fn try_acquire(&mut self) -> Result<bool, String> {
        match self {
            FtLock::File(l) => l.try_acquire(),
            FtLock::Sql(l) => l.call(SqlStoreLock::try_acquire).await,
        }
    }

    /// Called by the active member at every heartbeat: `Ok(false)` if the
    /// lock was lost (the member then aborts). A file lock cannot be lost
    /// while its descriptor is open; a lock kept alive by writes (such as
    /// the SQL store's lock row) refreshes itself here.
    pub async fn refresh(&mut self) -> Result<bool, String> {
        match self {
            FtLock::File(l) => Ok(l.held.is_some()),
            FtLock::Sql(l) => match l.call(SqlStoreLock::refresh).await {
                Ok(owner) => {
                    l.errors = 0;
                    Ok(owner)
                }
                // As the original: that many failed updates in a row and a
                // standby may have stolen the lock already.
                Err(e) => {
                    l.errors += 1;
                    if l.errors >= ft_lock::LOST_COUNT {
                        log_refresh_error(&e);
                        Ok(false)
                    } else {
                        Err(e)
                    }
                }
            },
        }
    }

    /// Gives the lock up on a clean stop, after the store was closed, so a
    /// standby takes over at once: the file lock is closed, the SQL row is
    /// emptied (as the original's store `Close`). A process that dies
    /// releases the file lock anyway and leaves the row to be stolen.
    pub async fn release(&mut self) -> Result<(), String> {
        match self {
            FtLock::File(l) => {
                l.held = None;
                Ok(())
            }
            FtLock::Sql(l) => l.call(|s| s.release().map(|()| true)).await.map(|_| ()),
        }
    }

    /// For logs: what is locked.
    pub fn describe(&self) -> String {
        match self {
            FtLock::File(l) => format!("lock file {}", l.path.display()),
            FtLock::Sql(l) => format!("{:?} database table StoreLock", l.driver),
        }
    }
}

fn log_refresh_error(e: &str) {
    crate::log::error(format_args!("ft: cannot update the SQL store lock: {e}"));
}

/// See [`FtLock::Sql`].
pub struct SqlLock {
    /// Out only while a call runs on the blocking pool.
    lock: Option<SqlStoreLock>,
    driver: Driver,
    /// Failed refreshes in a row.
    errors: u32,
}

impl SqlLock {
    /// Runs a (blocking) lock transaction off the async runtime.
    async fn call(&mut self, f: fn(&mut SqlStoreLock) -> Result<bool, String>) -> Result<bool, String> {
        let mut lock = self.lock.take().ok_or("ft: the SQL lock was lost in a failed call")?;
        let (lock, r) = tokio::task::spawn_blocking(move || {
            let r = f(&mut lock);
            (lock, r)
        })
        .await
        .map_err(|e| format!("ft: the SQL lock task failed: {e}"))?;
        self.lock = Some(lock);
        r
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
