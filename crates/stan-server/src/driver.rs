//! The tokio driver: feeds every message of the data connection
//! ([`WireConn`]) and every timer to the protocol core ([`State`]), commits
//! the journal once per batch, and only then performs the core's output
//! (the wire bytes of every PUB, which the core wrote into one buffer per
//! batch). Heartbeat probes are requests on the async-nats `client`.

use crate::inbound::{self, Kind};
use crate::log;
use crate::monitor::{self, http::Request, json::ServerFacts};
use crate::nats_conn::Security;
use crate::state::{ProbeKind, State};
use crate::store::{Journal, NoJournal};
use crate::wire_conn::WireConn;
use async_nats::Client;
use async_nats::ConnectErrorKind;
use bytes::Bytes;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Events that do not come from NATS.
enum Internal {
    Probe(ProbeKind, bool),
}

/// Messages handled before the journal is committed and output flushed.
/// Measured: 512 needs about as many fsyncs as the original server, and
/// larger batches cost more CPU per message when delivering (bigger queues
/// and output buffers).
const MAX_BATCH: usize = 512;

/// A batch of at most this many journal records, with nothing else received
/// meanwhile, is committed on the driver's thread even when the commit blocks
/// (fsync): see [`lone`].
const LONE_RECORDS: usize = 4;

/// Whether a blocking commit of `records` journal records is made in place
/// rather than on a blocking thread. Off the thread, the socket is read on
/// while the disk works, which matters when requests keep coming; for a lone
/// request (a publish, its delivery, the previous message's ack) with nothing
/// else received there is nothing to read, and the hand-off to the blocking
/// pool and back would cost two thread wake-ups on top of the write.
fn lone(records: usize, backlog: u64) -> bool {
    records <= LONE_RECORDS && backlog == 0
}

/// Everything the driver needs besides the state.
pub struct Driver {
    /// The data path: every request in, every reply and delivery out.
    pub conn: WireConn,
    /// async-nats, for heartbeat probes (requests) only.
    pub client: Client,
    pub journal: Box<dyn Journal>,
    pub facts: ServerFacts,
    pub monitor_rx: Option<mpsc::Receiver<Request>>,
    /// Size of the last batch's output (the next buffer's capacity).
    pub out_hint: usize,
}

/// Connect to NATS with our credentials and TLS settings, retrying for a
/// bounded time (but not after an authorization or TLS failure).
pub async fn connect_nats(url: &str, name: &str, security: &Security) -> Result<Client, String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut o = async_nats::ConnectOptions::new()
            .name(name)
            .subscription_capacity(inbound::UNBOUNDED)
            .client_capacity(1 << 14)
            .max_reconnects(None)
            .reconnect_delay_callback(crate::nats_conn::reconnect_delay)
            .connection_timeout(Duration::from_secs(3))
            .event_callback(|ev| async move {
                log::info(format_args!("NATS connection event: {ev}"));
            });
        o = security.apply(o)?;
        // `-ns` may list several servers of a cluster, comma-separated.
        let addrs = url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid NATS URL {url}: {e}"))?;
        match o.connect(addrs).await {
            Ok(c) => return Ok(c),
            Err(e) if e.kind() == ConnectErrorKind::AuthorizationViolation => {
                return Err(format!("cannot connect to NATS at {url}: Authorization Violation"));
            }
            Err(e) if e.kind() == ConnectErrorKind::Tls || e.to_string().contains("invalid peer certificate") => {
                return Err(format!("cannot connect to NATS at {url}: {e}"));
            }
            Err(e) if Instant::now() < deadline => {
                log::debug(format_args!("Connecting to NATS at {url} failed: {e}; retrying"));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(format!("cannot connect to NATS at {url}: {e}")),
        }
    }
}

impl Driver {
    /// Run until `shutdown` resolves (or NATS subscriptions end).
    pub async fn run(mut self, mut st: State, shutdown: impl std::future::Future<Output = ()>) -> Result<(), String> {
        // The data connection subscribed every subject before it returned.
        log::info(format_args!("Streaming Server is ready"));

        let epoch = Instant::now();
        let now_ms = move || epoch.elapsed().as_millis() as u64;
        let (itx, mut irx) = mpsc::unbounded_channel::<Internal>();
        let mut monitor_rx = self.monitor_rx.take();
        tokio::pin!(shutdown);
        let mut since_compact_check = 0usize;
        loop {
            let sleep_for = st
                .next_deadline()
                .map(|d| Duration::from_millis(d.saturating_sub(now_ms())))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                r = self.conn.ready() => {
                    r?;
                    // One reading of each clock per batch: ack-wait and heartbeat
                    // deadlines are in ms, and a channel gives the messages of one
                    // batch strictly increasing timestamps from the batch's wall
                    // time (`MsgLog::append`), as a clock read per message would.
                    // One socket: requests are handled in the order nats-server
                    // received them (a client's acks and publishes before its close).
                    let (now, wall) = (now_ms(), wall_ns());
                    self.conn.take_batch(MAX_BATCH, |kind, subject, reply, payload| {
                        dispatch(&mut st, kind, subject, reply, payload, now, wall)
                    });
                }
                Some(ev) = irx.recv() => match ev {
                    Internal::Probe(kind, ok) => st.handle_probe_result(kind, ok, now_ms()),
                },
                Some((q, reply)) = async { match monitor_rx.as_mut() { Some(r) => r.recv().await, None => None } } => {
                    let _ = reply.send(monitor::json::respond(&st, &self.facts, &q));
                }
                _ = tokio::time::sleep(sleep_for) => st.handle_timeout(now_ms()),
                _ = &mut shutdown => break,
            }
            if st.has_output() {
                self.flush(&mut st, &itx).await?;
            }
            since_compact_check += 1;
            if since_compact_check >= 1024 {
                since_compact_check = 0;
                self.maybe_compact(&st).await?;
                self.conn.check_backlog();
            }
        }
        self.flush(&mut st, &itx).await?;
        // Bounded: NATS may be gone already.
        self.conn.drain(Duration::from_secs(2)).await;
        log::info(format_args!("Streaming Server is shutting down"));
        Ok(())
    }

    /// Commit the journal, then perform the NATS output (PubAcks only after the commit).
    async fn flush(&mut self, st: &mut State, itx: &mpsc::UnboundedSender<Internal>) -> Result<(), String> {
        let records = st.take_records();
        let guids = st.guids.as_mut().map(|g| g.take_new()).unwrap_or_default();
        if !records.is_empty() {
            let records_len = records.len();
            let commit = move |j: &mut dyn Journal| -> Result<(), String> {
                for (channel, seq, guid) in &guids {
                    j.msg_guid(channel, *seq, guid);
                }
                for r in &records {
                    j.append(r).map_err(|e| format!("store write failed: {e}"))?;
                }
                j.commit().map_err(|e| format!("store commit failed: {e}"))
            };
            let in_place = self.journal.commit_in_place_ok() && lone(records_len, self.conn.backlog());
            if self.journal.commit_blocks() && !in_place {
                self.off_thread(commit).await??;
            } else {
                commit(self.journal.as_mut())?;
            }
        }
        for p in st.take_probes() {
            let (c, tx) = (self.client.clone(), itx.clone());
            tokio::spawn(async move {
                let req = c.request(p.subject, Bytes::new());
                let ok = matches!(tokio::time::timeout(Duration::from_millis(p.timeout_ms), req).await, Ok(Ok(_)));
                let _ = tx.send(Internal::Probe(p.kind, ok));
            });
        }
        // Every PUB of the batch, as the core wrote it into one buffer: queued
        // once, in order. The next batch's buffer is sized like this one.
        let wire = st.take_wire(Vec::with_capacity(self.out_hint));
        self.out_hint = wire.len().min(1 << 20);
        self.conn.queue(wire)?;
        self.conn.writable().await;
        Ok(())
    }

    async fn maybe_compact(&mut self, st: &State) -> Result<(), String> {
        let (_, bytes) = st.totals();
        if self.journal.bytes_since_rewrite() > 64 * 1024 * 1024 + 2 * bytes {
            let t = Instant::now();
            let snapshot = st.snapshot();
            self.off_thread(move |j| j.rewrite(&snapshot))
                .await?
                .map_err(|e| format!("store compaction failed: {e}"))?;
            log::debug(format_args!("Store compacted in {:?}", t.elapsed()));
        }
        Ok(())
    }

    /// Run `f` on the journal on a blocking thread, so the runtime's one
    /// thread keeps reading NATS while the disk works.
    async fn off_thread<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut dyn Journal) -> T + Send + 'static,
    ) -> Result<T, String> {
        let mut j = std::mem::replace(&mut self.journal, Box::new(NoJournal));
        let (j, out) = tokio::task::spawn_blocking(move || {
            let out = f(j.as_mut());
            (j, out)
        })
        .await
        .map_err(|e| format!("store task failed: {e}"))?;
        self.journal = j;
        Ok(out)
    }
}

fn dispatch(st: &mut State, kind: Kind, subject: &str, reply: &str, p: &[u8], now: u64, wall: i64) {
    match kind {
        Kind::Connect => st.handle_connect(reply, p, now),
        Kind::Ping => st.handle_ping(reply, p, now),
        Kind::Publish => st.handle_publish(reply, p, now, wall),
        Kind::Subscribe => st.handle_subscribe(reply, p, now, wall),
        Kind::Unsubscribe => st.handle_unsubscribe(reply, p, false, now),
        Kind::SubClose => st.handle_unsubscribe(reply, p, true, now),
        Kind::Close => st.handle_close(reply, p, now),
        Kind::Ack => st.handle_ack(subject, p, now),
    }
}

/// Wall-clock time in Unix nanoseconds.
pub fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_batches_with_nothing_waiting_commit_in_place() {
        assert!(lone(1, 0));
        assert!(lone(LONE_RECORDS, 0));
        assert!(!lone(LONE_RECORDS + 1, 0), "a batch of many records goes to the blocking pool");
        assert!(!lone(1, 1), "input waiting: keep reading while the disk works");
    }
}
