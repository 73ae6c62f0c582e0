//! The server's data connection to NATS, on the sans-IO codec `nats-wire`.
//!
//! Every request the server serves arrives here and every message it sends
//! (PubAcks, deliveries, replies) leaves here; async-nats remains only for
//! what is off the hot path (heartbeat probes, FT, the JetStream store).
//!
//! Design:
//! - [`handshake`]: TCP (TLS when asked, with the same rules as
//!   `Security::apply`), INFO, CONNECT (user/password, token or NKey
//!   signature of the nonce), every `SUB`, `PING`; the `PONG` means the
//!   subscriptions are registered. `Authorization Violation` is a failure
//!   of its own so that start-up can stop with a clear error.
//! - [`pump`]: a task reads the socket into 64 KiB blocks and hands each
//!   chunk, as read, to the driver over an unbounded channel: the socket is
//!   read on while the driver commits, so nats-server never sees a slow
//!   consumer. The same task writes the driver's output buffers in order and
//!   sends its own `PING`s.
//! - [`reconnect`]: when a connection ends, the task tries every known
//!   server (the `-ns` list plus the cluster's `connect_urls`) with a short
//!   capped backoff, without limit, resubscribes and carries on; the core's
//!   state is untouched.
//! - [`WireConn`] (the driver's side): feeds chunks to a [`Decoder`] and
//!   hands each `MSG` to the driver as slices of the decoder's buffer (no
//!   allocation per message); answers the server's `PING`s; queues one
//!   output buffer per batch.
//!
//! Order: one socket delivers a client's requests in the order nats-server
//! received them (acks and publishes before the close that follows them).
//!
//! Memory: the inbound backlog (read but not decoded) is unbounded like the
//! subscription channels it replaces (docs/compat.md explains why that is
//! bounded by the publishers' ack windows) and logged loudly past
//! [`inbound::HIGH_WATER_BYTES`]. Output queued while no server is reachable
//! is kept up to [`MAX_QUEUED_WHILE_DISCONNECTED`]; beyond that it is dropped
//! with an error in the log (clients retry; deliveries are redelivered).
//! While connected, the driver waits when more than
//! [`MAX_QUEUED_WHILE_CONNECTED`] is queued for the writer.

mod addr;
mod handshake;
mod pump;
mod reconnect;
#[cfg(test)]
mod tests;
mod tls;

use crate::inbound::{self, Kind};
use crate::log;
use crate::nats_conn::Security;
pub use addr::ServerAddr;
use handshake::{Failure, Params, Sub};
use nats_wire::{DecodeError, Decoder, OpRef, ServerOp};
use pump::{Event, Shared};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Output kept while disconnected before further output is dropped.
pub const MAX_QUEUED_WHILE_DISCONNECTED: u64 = 64 * 1024 * 1024;

/// Output queued for the writer above which the driver waits for it.
pub const MAX_QUEUED_WHILE_CONNECTED: u64 = 64 * 1024 * 1024;

/// How long start-up keeps trying (as `driver::connect_nats`).
const CONNECT_FOR: Duration = Duration::from_secs(15);

/// The driver's end of the data connection.
pub struct WireConn {
    events: mpsc::UnboundedReceiver<Event>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    decoder: Decoder,
    /// `kinds[sid - 1]`.
    kinds: Vec<Kind>,
    /// The decoder may hold complete ops.
    more: bool,
    /// Undecodable bytes seen: ignore the rest of this connection.
    broken: bool,
    generation: u64,
    taken: u64,
    reported: Option<Instant>,
    dropped_reported: Option<Instant>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireConn {
    /// Connect to one of `urls` (comma-separated), subscribe `subs` and
    /// start the connection task. Retries for a while, but not after an
    /// authorization or TLS failure.
    pub async fn connect(
        urls: &str,
        name: &str,
        security: &Security,
        subs: Vec<(String, Kind)>,
    ) -> Result<WireConn, String> {
        let addrs = ServerAddr::parse_list(urls)?;
        let kinds = subs.iter().map(|s| s.1).collect();
        let subs = subs.into_iter().zip(1..).map(|((subject, _), sid)| Sub { subject, sid }).collect();
        let params = Params::new(name, security, subs)?;
        let deadline = Instant::now() + CONNECT_FOR;
        let (first, current) = 'found: loop {
            let mut last = String::new();
            for (i, a) in addrs.iter().enumerate() {
                match handshake::connect(a, &params).await {
                    Ok(c) => break 'found (c, i),
                    Err(Failure::Auth) => {
                        return Err(format!("cannot connect to NATS at {urls}: Authorization Violation"))
                    }
                    Err(Failure::Tls(e)) => return Err(format!("cannot connect to NATS at {urls}: {e}")),
                    Err(Failure::Other(e)) => last = e,
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("cannot connect to NATS at {urls}: {last}"));
            }
            log::debug(format_args!("Connecting to NATS at {urls} failed: {last}; retrying"));
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let (etx, events) = mpsc::unbounded_channel();
        let (out, orx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let task = reconnect::Task { addrs, current, params, events: etx, out: orx, shared: shared.clone() };
        let task = tokio::spawn(task.run(first));
        Ok(WireConn {
            events,
            out,
            shared,
            decoder: Decoder::new(),
            kinds,
            more: false,
            broken: false,
            generation: 0,
            taken: 0,
            reported: None,
            dropped_reported: None,
            task,
        })
    }

    /// Wait until there is something to decode. Cancel safe.
    pub async fn ready(&mut self) -> Result<(), String> {
        while !self.more {
            match self.events.recv().await {
                Some(ev) => self.absorb(ev),
                None => return Err("the NATS connection task ended".into()),
            }
        }
        Ok(())
    }

    fn absorb(&mut self, ev: Event) {
        match ev {
            Event::Connected { generation, server, max_payload, leftover } => {
                if self.generation > 0 {
                    log::info(format_args!("Resubscribed on {server}"));
                }
                self.generation = generation;
                self.decoder.clear();
                if max_payload > 0 {
                    self.decoder.set_max_payload(max_payload);
                }
                self.broken = false;
                self.decoder.feed(&leftover);
            }
            Event::Chunk(b) => {
                self.taken += b.len() as u64;
                self.shared.taken.store(self.taken, Ordering::Relaxed);
                if self.broken {
                    return;
                }
                self.decoder.feed(&b);
            }
        }
        self.more = true;
    }

    /// Hand up to `max` messages already received to `f(kind, subject,
    /// reply, payload)` (reply `""` if none); other ops are handled here.
    /// Returns how many messages were handed over.
    pub fn take_batch(&mut self, max: usize, mut f: impl FnMut(Kind, &str, &str, &[u8])) -> usize {
        let mut n = 0;
        while n < max {
            let step = match self.decoder.next_ref() {
                Ok(Some(OpRef::Msg(m))) => {
                    n += 1;
                    match sid_kind(&self.kinds, m.sid) {
                        Some(k) => f(k, m.subject, m.reply.unwrap_or(""), m.payload),
                        None => log::debug(format_args!("NATS message for unknown sid {} on {}", m.sid, m.subject)),
                    }
                    continue;
                }
                Ok(Some(OpRef::Other(op))) => Ok(Some(op)),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            match step {
                Ok(Some(ServerOp::Msg(m))) => {
                    // HMSG (a client publishing with headers): the payload is what counts.
                    n += 1;
                    if let Some(k) = sid_kind(&self.kinds, m.sid) {
                        f(k, &m.subject, m.reply.as_deref().unwrap_or(""), &m.payload);
                    }
                }
                Ok(Some(ServerOp::Ping)) => {
                    let _ = self.queue(b"PONG\r\n".to_vec());
                }
                Ok(Some(ServerOp::Pong)) => {
                    self.shared.pongs.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(ServerOp::Info(i))) => {
                    self.shared.advertise(&i.connect_urls);
                    if i.ldm {
                        log::info(format_args!("NATS connection event: lame duck mode"));
                    }
                }
                Ok(Some(ServerOp::Err(e))) => log::error(format_args!("NATS error: {e}")),
                Ok(Some(ServerOp::Ok)) => {}
                Ok(None) => match self.events.try_recv() {
                    Ok(ev) => self.absorb(ev),
                    Err(_) => {
                        self.more = false;
                        return n;
                    }
                },
                Err(DecodeError::NotUtf8) => {
                    log::error(format_args!("NATS message with a subject or reply that is not UTF-8 ignored"));
                }
                Err(e) => {
                    log::error(format_args!("NATS protocol error on the data connection: {e}; reconnecting"));
                    self.decoder.clear();
                    self.broken = true;
                    self.shared.kick(self.generation);
                }
            }
        }
        n
    }

    /// Queue one buffer of encoded ops for the writer (kept in order).
    pub fn queue(&mut self, buf: Vec<u8>) -> Result<(), String> {
        if buf.is_empty() {
            return Ok(());
        }
        let queued = self.shared.out_queued.load(Ordering::Relaxed);
        if !self.shared.connected.load(Ordering::Relaxed) && queued >= MAX_QUEUED_WHILE_DISCONNECTED {
            if self.dropped_reported.is_none_or(|t| t.elapsed() >= inbound::REPORT_EVERY) {
                self.dropped_reported = Some(Instant::now());
                log::error(format_args!(
                    "NATS is unreachable and {} MiB of output are queued: dropping output until it is back \
                     (clients retry their requests; unacknowledged messages are redelivered)",
                    queued >> 20
                ));
            }
            return Ok(());
        }
        self.shared.out_queued.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.out.send(buf).map_err(|_| "the NATS connection task ended".to_string())
    }

    /// While connected, wait until the writer is below [`MAX_QUEUED_WHILE_CONNECTED`]
    /// (backpressure on the driver, as async-nats' bounded client channel gave;
    /// the reader reads on meanwhile).
    pub async fn writable(&self) {
        while self.shared.connected.load(Ordering::Relaxed)
            && self.shared.out_queued.load(Ordering::Relaxed) >= MAX_QUEUED_WHILE_CONNECTED
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Wait (at most `limit`) until every queued output buffer was written.
    pub async fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.shared.out_queued.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Bytes received but not yet decoded.
    pub fn backlog(&self) -> u64 {
        let channel = self.shared.received.load(Ordering::Relaxed).saturating_sub(self.taken);
        channel + self.decoder.buffered() as u64
    }

    /// Log an error while the backlog is above the high-water mark.
    pub fn check_backlog(&mut self) {
        inbound::report_backlog(self.backlog(), &mut self.reported);
    }
}

fn sid_kind(kinds: &[Kind], sid: u64) -> Option<Kind> {
    usize::try_from(sid).ok().and_then(|s| s.checked_sub(1)).and_then(|i| kinds.get(i)).copied()
}
