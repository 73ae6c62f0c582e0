//! Fault-tolerant (FT) groups (`--ft_group NAME`), as the original server
//! runs them: every member shares one store; the member that holds the
//! store's exclusive lock ([`lock::FtLock`]) is active and serves, the
//! others stay in standby — connected to NATS, answering monitoring
//! (`serverz` state `FT_STANDBY`, `isFTActive` 204) but no STAN request.
//!
//! The active member publishes a heartbeat every second on
//! `_STAN.ft.<cluster>.<group>`. A standby tries the lock whenever it has
//! missed heartbeats for 1.25 s (both ±10% at random, as the original), so
//! it takes over within about a second or two of the active's death: the
//! kernel frees the lock when a process dies, even by `kill -9`. It then
//! recovers the store like a restarted server (clients, subscriptions and
//! every acknowledged message are in it) and serves. On the SQL store the
//! lock is the `StoreLock` row, which a dead active cannot free: the
//! standby then polls every 1.5 s and steals it after 3 polls without a
//! tick change ([`crate::store::sql::ft_lock`]), about 6 s after the death.
//!
//! An active member that sees another member's heartbeat claiming an
//! earlier activation aborts (two actives mean the lock does not work on
//! this file system), as the original does.

mod heartbeat;
pub mod lock;

use crate::log;
use crate::monitor::{self, http::Request, json::ServerFacts};
use crate::state::State;
use async_nats::{Client, Subscriber};
use futures::StreamExt;
use lock::FtLock;
use rand::Rng;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// Interval of the active member's heartbeats.
const HB_INTERVAL: Duration = Duration::from_millis(1000);
/// Silence after which a standby tries the lock.
const HB_MISSED: Duration = Duration::from_millis(1250);

/// The heartbeat subject of a group.
pub fn subject(cluster_id: &str, group: &str) -> String {
    format!("_STAN.ft.{cluster_id}.{group}")
}

/// `d` ± up to 10%, at random.
fn jitter(d: Duration) -> Duration {
    let tenth = d.as_millis() as i64 / 10;
    let delta = rand::rng().random_range(-tenth..=tenth);
    Duration::from_millis((d.as_millis() as i64 + delta).max(1) as u64)
}

/// Standby: waits until this server holds `lock`, answering monitoring
/// requests from `standby` (an empty state) meanwhile. Returns the
/// heartbeat subscription for the active phase, or `None` if `shutdown`
/// resolved first.
pub async fn wait_until_active(
    client: &Client,
    subject: &str,
    lock: &mut FtLock,
    mut monitor_rx: Option<&mut mpsc::Receiver<Request>>,
    standby: &State,
    facts: &ServerFacts,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> Result<Option<Subscriber>, String> {
    let mut hbs = client.subscribe(subject.to_string()).await.map_err(|e| format!("ft: cannot subscribe: {e}"))?;
    client.flush().await.map_err(|e| format!("ft: {e}"))?;
    log::info(format_args!("Starting in standby mode (FT group heartbeats on {subject}, {})", lock.describe()));
    let missed = jitter(HB_MISSED);
    let mut deadline = Instant::now() + missed;
    let (mut next_note, mut note_every) = (Instant::now(), Duration::from_secs(1));
    loop {
        tokio::select! {
            m = hbs.next() => {
                if m.is_none() {
                    return Err("ft: heartbeat subscription ended".into());
                }
                deadline = Instant::now() + missed;
            }
            Some((q, reply)) = async { match monitor_rx.as_mut() { Some(r) => r.recv().await, None => None } } => {
                let _ = reply.send(monitor::json::respond(standby, facts, &q));
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                match lock.try_acquire().await {
                    Ok(true) => {
                        log::info(format_args!("Server is active"));
                        return Ok(Some(hbs));
                    }
                    Ok(false) => {
                        if Instant::now() >= next_note {
                            log::info(format_args!("ft: unable to get store lock at this time, going back to standby"));
                            next_note = Instant::now() + note_every;
                            note_every = (note_every * 2).min(Duration::from_secs(60));
                        }
                    }
                    Err(e) => log::error(format_args!("ft: error attempting to get the store lock: {e}")),
                }
                deadline = Instant::now() + lock.poll_interval().unwrap_or(missed);
            }
            _ = &mut *shutdown => return Ok(None),
        }
    }
}

/// Active: publishes heartbeats (refreshing `lock` at each) until the
/// process ends, and reports on `abort` a lost lock or a peer that claims
/// to have been active since before us. The task owns the lock, so it is
/// held as long as the runtime runs.
fn spawn_heartbeats(
    client: Client,
    subject: String,
    hbs: Subscriber,
    mut lock: FtLock,
    server_id: String,
    abort: mpsc::UnboundedSender<String>,
    mut release: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let activated = SystemTime::now();
    let ours = heartbeat::parse_go_time(&heartbeat::go_time(activated));
    let payload: bytes::Bytes = heartbeat::encode(&server_id, activated).into();
    let every = jitter(HB_INTERVAL);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut hbs = Some(hbs);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match lock.refresh().await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = abort.send(format!("ft: lost the store lock ({}), aborting", lock.describe()));
                            break;
                        }
                        Err(e) => log::error(format_args!("ft: cannot refresh the store lock: {e}")),
                    }
                    if let Err(e) = client.publish(subject.clone(), payload.clone()).await {
                        log::debug(format_args!("Unable to send FT heartbeat: {e}"));
                    }
                }
                done = &mut release => {
                    // Dropped unasked: the process is failing, keep the lock to the end.
                    let Ok(done) = done else { break };
                    // Clean stop, the store is closed: let a standby in now.
                    if let Err(e) = lock.release().await {
                        log::error(format_args!("ft: cannot release the store lock: {e}"));
                    }
                    let _ = done.send(());
                    return;
                }
                m = async { match hbs.as_mut() { Some(h) => h.next().await, None => std::future::pending().await } } => {
                    let Some(m) = m else {
                        hbs = None;
                        continue;
                    };
                    let Some((peer, since)) = heartbeat::decode_peer(&m.payload, &server_id) else { continue };
                    let msg = format!("ft: serverID {peer:?} claims to be active");
                    if since.is_some_and(|s| Some(s) < ours) {
                        let _ = abort.send(format!("{msg}, aborting"));
                        break;
                    }
                    log::error(format_args!("{msg}"));
                }
            }
        }
        // Keep the lock until the process exits (the shutdown is under way).
        std::future::pending::<()>().await;
        drop(lock);
    });
}

/// A member that won the lock: heartbeats start with [`Active::start`].
pub struct Active {
    client: Client,
    subject: String,
    hbs: Subscriber,
    lock: FtLock,
}

impl Active {
    /// Starts the heartbeats, which hold the lock from now on (until
    /// [`Release::release`] or the end of the process).
    pub fn start(self, server_id: &str, abort: mpsc::UnboundedSender<String>) -> Release {
        let (tx, rx) = oneshot::channel();
        spawn_heartbeats(self.client, self.subject, self.hbs, self.lock, server_id.to_string(), abort, rx);
        Release(tx)
    }
}

/// Gives the active's store lock up on a clean stop.
pub struct Release(oneshot::Sender<oneshot::Sender<()>>);

impl Release {
    /// Stops the heartbeats and releases the lock; waits at most `limit`
    /// (a lost database then leaves the row to be stolen, as after a crash).
    pub async fn release(self, limit: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.0.send(tx).is_ok() {
            let _ = tokio::time::timeout(limit, rx).await;
        }
    }
}

/// The FT start of a server with `--ft_group`: connects to NATS, stays in
/// standby until it holds the store lock, and returns the active member
/// (`None` if shut down while in standby).
pub async fn standby(
    opts: &crate::config::Options,
    url: &str,
    security: &crate::nats_conn::Security,
    standby: &State,
    facts: &ServerFacts,
    monitor_rx: Option<&mut mpsc::Receiver<Request>>,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> Result<Option<Active>, String> {
    let group = opts.ft_group.as_deref().unwrap_or_default();
    let mut lock = if opts.store == crate::config::StoreType::Sql {
        let driver = crate::store::sql::Driver::parse(opts.sql.driver.as_deref().unwrap_or(""))?;
        FtLock::sql(driver, opts.sql.source.as_deref().unwrap_or("")).await?
    } else {
        let dir = std::path::Path::new(opts.dir.as_deref().unwrap_or("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("ft: cannot create the store directory {}: {e}", dir.display()))?;
        FtLock::file(dir)
    };
    let client = crate::driver::connect_nats(url, &format!("_NSS-{}-ft", opts.cluster_id), security).await?;
    let subject = subject(&opts.cluster_id, group);
    let hbs = wait_until_active(&client, &subject, &mut lock, monitor_rx, standby, facts, shutdown).await?;
    Ok(hbs.map(|hbs| Active { client, subject, hbs, lock }))
}
