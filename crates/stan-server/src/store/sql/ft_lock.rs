//! The fault-tolerance lock of the SQL store: nats-streaming-server's
//! `StoreLock` table (one row: the owner's ID and a tick counter), used by
//! FT pairs sharing one database, behind `--ft_group` with `-st SQL`
//! ([`crate::ft::lock::FtLock::Sql`]). The FT driver calls it like this:
//!
//! - a standby calls [`SqlStoreLock::try_acquire`] every [`POLL_INTERVAL`]
//!   until it returns `true`; it takes the lock when the row is free (no
//!   row, or an empty owner ID, written by a clean shutdown), or steals it
//!   after the owner's tick did not move for [`LOST_COUNT`] polls in a row;
//! - the active calls [`SqlStoreLock::refresh`] every [`UPDATE_INTERVAL`];
//!   `Ok(false)` (stolen) or [`LOST_COUNT`] errors in a row mean the lock is
//!   lost and the server must stop at once (the original panics);
//! - on a clean shutdown, once the store is closed, the active calls
//!   [`SqlStoreLock::release`] (empties the row: a standby takes it at its
//!   next poll).
//!
//! Each step is one transaction: `SELECT id, tick FROM StoreLock FOR UPDATE`,
//! then `INSERT`/`UPDATE` with our ID and `tick + 1`, as the original does,
//! so a stan-server and a nats-streaming-server can form a pair.

use super::db::{Arg, Conn};
use super::{Driver, SqlThread};

/// How often the active updates its tick (the original's default).
#[allow(dead_code)] // documents the pace: the FT heartbeat (1 s) drives the refreshes
pub const UPDATE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a standby polls: one and a half update intervals, as the original.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1500);
/// Polls without a tick change after which the lock is stolen (and failed
/// updates after which the active gives up).
pub const LOST_COUNT: u32 = 3;

/// One server's handle on the `StoreLock` row, on a connection of its own.
pub struct SqlStoreLock {
    id: String,
    db: SqlThread,
    owner: bool,
    /// The owner and tick seen at the last failed poll, and for how many polls.
    seen: Option<(String, i64)>,
    unchanged: u32,
}

/// What one locking transaction found.
struct Attempt {
    got: bool,
    id: String,
    tick: i64,
}

impl SqlStoreLock {
    /// Connects to the database of `source` with a new random owner ID.
    pub fn connect(driver: Driver, source: &str) -> Result<SqlStoreLock, String> {
        Ok(SqlStoreLock {
            id: stan_proto::nuid::next(),
            db: SqlThread::connect(driver, source)?,
            owner: false,
            seen: None,
            unchanged: 0,
        })
    }

    /// Our owner ID (what the `StoreLock.id` column holds while we own it).
    #[cfg_attr(not(test), allow(dead_code))] // tests; a clean shutdown keeps the row (see docs/compat.md)
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether we hold the lock (as of the last call).
    #[cfg_attr(not(test), allow(dead_code))] // tests; a clean shutdown keeps the row (see docs/compat.md)
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    fn attempt(&mut self, steal: bool) -> Result<Attempt, String> {
        let id = self.id.clone();
        self.db.run(move |c, rt| rt.block_on(lock_tx(c, id, steal)))?
    }

    /// A standby's poll: `true` once we own the lock.
    pub fn try_acquire(&mut self) -> Result<bool, String> {
        if self.owner {
            return self.refresh();
        }
        let a = self.attempt(false)?;
        if a.got {
            self.owner = true;
            return Ok(true);
        }
        if self.seen.as_ref() == Some(&(a.id.clone(), a.tick)) {
            self.unchanged += 1;
        } else {
            self.seen = Some((a.id, a.tick));
            self.unchanged = 0;
        }
        if self.unchanged >= LOST_COUNT {
            // The owner stopped updating its tick: take over.
            self.owner = self.attempt(true)?.got;
        }
        Ok(self.owner)
    }

    /// The active's periodic update: `Ok(false)` if another server took the lock.
    pub fn refresh(&mut self) -> Result<bool, String> {
        let a = self.attempt(false)?;
        self.owner = a.got;
        Ok(a.got)
    }

    /// Frees the row (empty owner ID) if we own it, so a standby takes over at once.
    pub fn release(&mut self) -> Result<(), String> {
        if !self.owner {
            return Ok(());
        }
        self.owner = false;
        let id = self.id.clone();
        self.db.run(move |conn, rt| rt.block_on(release_tx(conn, id)))?
    }
}

/// Empties the row if `id` owns it.
async fn release_tx(conn: &mut Conn, id: String) -> Result<(), String> {
    conn.raw("BEGIN").await?;
    let r = async {
        let rows = conn.fetch("SELECT id, tick FROM StoreLock FOR UPDATE", &[]).await?;
        if rows.first().map(|r| r.text(0)).transpose()?.as_deref() == Some(id.as_str()) {
            conn.fetch("UPDATE StoreLock SET id=?, tick=?", &[Arg::Str(String::new()), Arg::I64(0)]).await?;
        }
        Ok::<(), String>(())
    }
    .await;
    finish(conn, r).await
}

/// The original's `acquireDBLock`: in one transaction, read the row for
/// update and take it if it is free, ours, or `steal` is set.
async fn lock_tx(conn: &mut Conn, id: String, steal: bool) -> Result<Attempt, String> {
    conn.raw("BEGIN").await?;
    let r = async {
        let rows = conn.fetch("SELECT id, tick FROM StoreLock FOR UPDATE", &[]).await?;
        let (cur, tick) = match rows.first() {
            Some(r) => (Some(r.text(0)?), r.int(1)?),
            None => (None, 0),
        };
        let free = cur.as_deref().is_none_or(|c| c.is_empty() || c == id);
        if !(free || steal) {
            return Ok(Attempt { got: false, id: cur.unwrap_or_default(), tick });
        }
        let next = if steal { 1 } else { tick + 1 };
        let sql = if cur.is_none() {
            "INSERT INTO StoreLock (id, tick) VALUES (?, ?)"
        } else {
            "UPDATE StoreLock SET id=?, tick=?"
        };
        conn.fetch(sql, &[Arg::Str(id.clone()), Arg::I64(next)]).await?;
        Ok(Attempt { got: true, id: cur.unwrap_or_default(), tick })
    }
    .await;
    finish(conn, r).await
}

/// Commits after success, rolls back after an error.
async fn finish<T>(conn: &mut Conn, r: Result<T, String>) -> Result<T, String> {
    match r {
        Ok(v) => {
            conn.raw("COMMIT").await?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.raw("ROLLBACK").await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stan_testkit::{SqlDb, SqlKind};

    fn scenario(kind: SqlKind) {
        let db = SqlDb::start(kind);
        let driver = Driver::parse(db.driver()).unwrap();
        let mut a = SqlStoreLock::connect(driver, &db.source()).unwrap();
        let mut b = SqlStoreLock::connect(driver, &db.source()).unwrap();
        assert!(a.try_acquire().unwrap(), "a free lock is taken at once");
        assert_eq!(db.query("SELECT id, tick FROM StoreLock"), format!("{}\t1", a.id()));
        // While the owner keeps updating its tick, the standby never takes over.
        for _ in 0..2 * LOST_COUNT {
            assert!(!b.try_acquire().unwrap());
            assert!(a.refresh().unwrap());
        }
        // The owner stops: after LOST_COUNT unchanged polls the standby steals it.
        let mut polls = 0;
        while !b.try_acquire().unwrap() {
            polls += 1;
            assert!(polls <= LOST_COUNT + 1, "not stolen after {polls} polls");
        }
        assert_eq!(polls, LOST_COUNT);
        assert_eq!(db.query("SELECT id, tick FROM StoreLock"), format!("{}\t1", b.id()));
        assert!(!a.refresh().unwrap(), "the old owner sees it lost the lock");
        assert!(!a.is_owner());
        a.release().unwrap();
        assert_eq!(db.query("SELECT id FROM StoreLock"), b.id());
        // A clean release lets the next standby in at its first poll.
        b.release().unwrap();
        assert_eq!(db.query("SELECT id, tick FROM StoreLock"), "\t0");
        let mut c = SqlStoreLock::connect(driver, &db.source()).unwrap();
        assert!(c.try_acquire().unwrap());
    }

    #[test]
    fn postgres_store_lock() {
        scenario(SqlKind::Postgres);
    }

    #[test]
    fn mariadb_store_lock() {
        scenario(SqlKind::MariaDb);
    }
}
