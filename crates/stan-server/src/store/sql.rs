//! The SQL store: a [`Journal`] kept in a PostgreSQL or MySQL/MariaDB
//! database, on nats-streaming-server 0.25's schema (its
//! `scripts/postgres.db.sql` / `mysql.db.sql`), so that a database written
//! by the original is served by stan-server and the other way round.
//!
//! # Durability
//!
//! [`Journal::append`] only turns records into statements; [`Journal::commit`]
//! runs all of them in one transaction, which the driver awaits (off its
//! NATS thread) before sending any PubAck or reply. A failed commit stops
//! the server: nothing it did not store is acknowledged.
//!
//! # Compaction
//!
//! The tables are the compact state already (rows are deleted as messages
//! are dropped, subscriptions removed and acks received), so
//! [`Journal::bytes_since_rewrite`] is 0. [`Journal::rewrite`] is used once
//! at start, after recovery: it replaces the clients, subscriptions and
//! pending rows by what the server kept (dropping, for example, the
//! non-durable subscriptions of clients that are gone), and applies the
//! snapshot's message truncations; messages themselves are not rewritten.
//!
//! All database work runs on a dedicated thread with its own runtime
//! ([`SqlThread`]), so the journal can be used from any thread, async or not.

mod db;
mod dsn;
pub mod ft_lock;
mod recover;
mod write;

use super::spb::ServerInfo;
use super::{Journal, Record};
use db::{Arg, Conn, Stmt};
use prost::Message;
use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;
use write::{Batch, Ids, RowLimits};

/// `--sql_driver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Postgres,
    MySql,
}

impl Driver {
    pub fn parse(v: &str) -> Result<Driver, String> {
        match v {
            "postgres" => Ok(Driver::Postgres),
            "mysql" => Ok(Driver::MySql),
            _ => Err(format!("unsupported SQL driver {v:?} (use postgres or mysql)")),
        }
    }
}

/// How to open the SQL store.
#[derive(Clone, Debug)]
pub struct SqlOptions {
    pub driver: Driver,
    pub source: String,
    /// Limits written in new `Channels` rows.
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age_ns: i64,
    /// The server's identity and subjects, written in `ServerInfo` for a new store.
    pub info: ServerInfo,
}

type Job = Box<dyn FnOnce(&mut Conn, &tokio::runtime::Runtime) + Send>;

/// A database connection owned by a dedicated thread with its own runtime:
/// work is sent to it as closures and waited for, from any thread (async
/// or not).
pub(crate) struct SqlThread {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl SqlThread {
    /// Connects to `source` with `driver` and starts the thread.
    pub(crate) fn connect(driver: Driver, source: &str) -> Result<SqlThread, String> {
        let (pg, my) = match driver {
            Driver::Postgres => (Some(dsn::postgres(source)?), None),
            Driver::MySql => (None, Some(dsn::mysql(source)?)),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the SQL runtime: {e}"))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
        let worker = std::thread::Builder::new()
            .name("sql-store".into())
            .spawn(move || {
                let conn = rt.block_on(async {
                    match (pg, my) {
                        (Some(p), _) => Conn::connect_pg(&p).await,
                        (_, Some(m)) => Conn::connect_my(&m).await,
                        _ => unreachable!("one driver"),
                    }
                });
                let mut conn = match conn {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot connect to the {driver:?} database: {e}")));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut conn, &rt);
                }
                rt.block_on(conn.close());
            })
            .map_err(|e| format!("cannot start the SQL thread: {e}"))?;
        let mut t = SqlThread { jobs: Some(tx), worker: Some(worker) };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(t),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                t.jobs.take();
                Err("the SQL thread ended while connecting".into())
            }
        }
    }

    /// Runs `f` on the SQL thread and waits for its result.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn, &tokio::runtime::Runtime) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or("the SQL store is closed")?;
        jobs.send(Box::new(move |c, rt| {
            let _ = tx.send(f(c, rt));
        }))
        .map_err(|_| "the SQL store thread is gone".to_string())?;
        rx.recv().map_err(|_| "the SQL store thread is gone".to_string())
    }
}

impl Drop for SqlThread {
    /// Closes the connection and waits for the thread.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// A [`Journal`] in SQL tables.
pub struct SqlJournal {
    db: SqlThread,
    ids: Ids,
    limits: RowLimits,
    pending: Batch,
    failed: Option<String>,
    description: String,
    /// Highest subscription ID the tables hold, deleted rows included.
    max_sub_id: u64,
    /// Size limit of `Messages.data` (MySQL `BLOB`: 65535), if any.
    max_blob: Option<u64>,
}

impl SqlJournal {
    /// Connects, reads the store and returns the journal with every
    /// record recovered from it. A new (empty) store gets its `ServerInfo` row.
    pub fn open(o: &SqlOptions) -> Result<(SqlJournal, Vec<Record>), String> {
        let db = SqlThread::connect(o.driver, &o.source)?;
        let mut j = SqlJournal {
            db,
            ids: Ids::default(),
            limits: RowLimits { max_msgs: o.max_msgs, max_bytes: o.max_bytes, max_age_ns: o.max_age_ns },
            pending: Batch::default(),
            failed: None,
            description: format!("{:?}", o.driver),
            max_sub_id: 0,
            max_blob: None,
        };
        let found = j.run(|c, rt| rt.block_on(recover::recover(c)))??;
        j.ids.channels = found.channel_ids;
        j.ids.max_channel_id = found.max_channel_id;
        j.ids.max_row = found.max_row;
        j.max_sub_id = found.max_sub_id;
        if o.driver == Driver::MySql {
            let q = "SELECT CHARACTER_OCTET_LENGTH FROM information_schema.COLUMNS \
                     WHERE TABLE_SCHEMA=DATABASE() AND TABLE_NAME='Messages' AND COLUMN_NAME='data'";
            let rows = j.run(move |c, rt| rt.block_on(c.fetch(q, &[])))??;
            j.max_blob = rows.first().map(|r| r.int(0)).transpose()?.filter(|&n| n > 0).map(|n| n as u64);
        }
        if !found.has_server_info {
            let stmts = vec![
                Stmt::new("DELETE FROM ServerInfo", vec![]),
                Stmt::new(
                    "INSERT INTO ServerInfo (uniquerow, id, proto, version) VALUES (1, ?, ?, ?)",
                    vec![
                        Arg::Str(o.info.cluster_id.clone()),
                        Arg::Bytes(o.info.encode_to_vec()),
                        Arg::I64(recover::SQL_VERSION),
                    ],
                ),
            ];
            j.run(move |c, rt| rt.block_on(c.transaction(&stmts)))??;
        }
        Ok((j, found.records))
    }

    /// The highest subscription ID found in the store: the server must not
    /// hand out one at or below it (rows keyed by it may remain).
    pub fn max_sub_id(&self) -> u64 {
        self.max_sub_id
    }

    /// The largest stored message (encoded) the `Messages.data` column holds,
    /// if it is limited (MySQL's `BLOB`: 65535 bytes).
    pub fn max_stored_msg(&self) -> Option<u64> {
        self.max_blob
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn, &tokio::runtime::Runtime) -> T + Send + 'static,
    ) -> Result<T, String> {
        self.db.run(f)
    }

    fn check_usable(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!("SQL store unusable after an earlier error ({why})"))),
        }
    }

    fn execute(&mut self, stmts: Vec<Stmt>) -> io::Result<()> {
        let r = self.run(move |c, rt| rt.block_on(c.transaction(&stmts))).and_then(|r| r);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r.map_err(io::Error::other)
    }
}

impl Journal for SqlJournal {
    fn append(&mut self, rec: &Record) -> io::Result<()> {
        self.check_usable()?;
        self.pending.add(rec, &mut self.ids, self.limits).map_err(io::Error::other)
    }

    fn commit(&mut self) -> io::Result<()> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let stmts = std::mem::take(&mut self.pending).compile();
        self.execute(stmts)
    }

    fn rewrite(&mut self, snapshot: &[Record]) -> io::Result<()> {
        let mut batch = Batch::default();
        batch.push_first(Stmt::new("DELETE FROM Clients", vec![]));
        batch.push_first(Stmt::new("DELETE FROM SubsPending", vec![]));
        batch.push_first(Stmt::new("DELETE FROM Subscriptions", vec![]));
        for rec in snapshot {
            if matches!(rec, Record::Msg { .. }) {
                continue;
            }
            batch.add(rec, &mut self.ids, self.limits).map_err(io::Error::other)?;
        }
        // The snapshot replaces whatever was appended and not committed.
        self.pending = Batch::default();
        self.execute(batch.compile())?;
        self.failed = None;
        Ok(())
    }

    fn bytes_since_rewrite(&self) -> u64 {
        0
    }

    fn commit_blocks(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for SqlJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlJournal")
            .field("driver", &self.description)
            .field("pending", &self.pending.is_empty())
            .field("failed", &self.failed)
            .finish()
    }
}
