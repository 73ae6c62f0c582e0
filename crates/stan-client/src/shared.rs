//! [`SharedSession`]: a STAN session whose `stan_core::Connection` the caller
//! drives synchronously (under a lock) while one driver task does the NATS
//! I/O and hands every event over in batches.
//!
//! This is the one driver of the crate: the Node addon and the Rust
//! [`crate::Connection`] handle (through its `Router` sink) both sit on it. A
//! publish returns its guid (or its error) at once, on the caller's thread,
//! and events reach the caller through one sink call per batch instead of
//! one per message.
//! The handle holds no async-nats object, so it can be dropped anywhere.
//!
//! Time: the session clock stands still at zero until the NATS connection is
//! first up, so the STAN connect timeout (and publish ack timers started
//! before that) count from the moment NATS connected, like the reference.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use stan_core::Connection as Core;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::hop_trace::{self, Hop};
use crate::nats_link::{Inbound, Op, Outbound, PLAIN_SID_BASE};
use crate::{Error, Options};
use bytes::Bytes;
use stan_core::Sid;

/// Most NATS messages fed to the session under one lock (and so at most one
/// batch's worth of deliveries before the sink is called).
const MAX_MESSAGES_PER_TURN: usize = 512;

/// What a [`SharedSession`] reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// An event of the STAN session.
    Core(stan_core::Event),
    /// The NATS client is about to try to (re)connect.
    Reconnecting,
    /// A NATS-level error; see [`NatsErrorKind`] for what follows it.
    Nats { kind: NatsErrorKind, text: String },
    /// A core-NATS message on a [`PlainOp::Subscribe`] subscription.
    Plain { id: u64, subject: String, reply: Option<String>, payload: Bytes },
    /// A [`PlainOp::Flush`] finished (`ok`: the server answered in time).
    Flushed { id: u64, ok: bool },
}

/// Core-NATS traffic on the session's connection, beside STAN (what
/// node-nats-streaming users do through `sc.nc`). Subscription ids are the
/// caller's; they only have to be unique per session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlainOp {
    Publish {
        subject: String,
        reply: Option<String>,
        payload: Bytes,
    },
    Subscribe {
        id: u64,
        subject: String,
        queue: Option<String>,
    },
    Unsubscribe {
        id: u64,
    },
    /// Round trip to the server after everything sent before it.
    Flush {
        id: u64,
    },
}

/// The kinds of NATS-level errors (the classes both JS facades report).
pub use stan_core::js::NatsErrorClass as NatsErrorKind;

/// Receives each batch of events on the driver task. The sink may take the
/// events out of the vector (it is cleared after the call either way). It is
/// dropped when the session is over, after the batch holding `Closed`.
pub trait EventSink: Send + 'static {
    fn deliver(&mut self, events: &mut Vec<SessionEvent>);
}

impl<F: FnMut(&mut Vec<SessionEvent>) + Send + 'static> EventSink for F {
    fn deliver(&mut self, events: &mut Vec<SessionEvent>) {
        self(events)
    }
}

/// The session clock: zero until NATS first connected, then time since then.
#[derive(Debug, Default)]
struct Clock {
    epoch: OnceLock<Instant>,
}

impl Clock {
    fn now(&self) -> Duration {
        self.epoch.get().map_or(Duration::ZERO, |e| e.elapsed())
    }
    fn start(&self) {
        let _ = self.epoch.set(Instant::now());
    }
    fn instant(&self, at: Duration) -> Option<Instant> {
        self.epoch.get().map(|e| *e + at)
    }
}

#[derive(Debug)]
struct Shared {
    core: Mutex<Core>,
    /// Core-NATS operations waiting for the driver.
    plain: Mutex<Vec<PlainOp>>,
    wake: Notify,
    clock: Clock,
    /// The fast lane: once NATS I/O runs, the caller's thread hands its
    /// publishes (and acks, and requests) straight to async-nats, without
    /// waking the driver, while `lane_clear` says nothing is queued ahead.
    lane: OnceLock<async_nats::Client>,
    /// Nothing waits in the driver's outbound queue or in `pending` (changed
    /// only under the core lock, so the order of operations is kept).
    lane_clear: AtomicBool,
    /// Operations the caller polled but could not hand over (in order).
    pending: Mutex<Vec<Op>>,
    /// The driver's armed timer, µs of session time (`u64::MAX`: none).
    armed_us: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves a consistent-enough core:
        // keep going rather than poisoning every later call.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running session. Cheap to clone; dropping every handle does not end the
/// session (call `close` through [`SharedSession::with`]).
#[derive(Clone, Debug)]
pub struct SharedSession {
    shared: Arc<Shared>,
}

impl SharedSession {
    /// Validate the settings, then start the NATS connection and the STAN
    /// handshake on the current tokio runtime (panics outside one). Errors
    /// here are synchronous: empty IDs and unusable server URLs.
    pub fn start(
        cluster_id: &str,
        client_id: &str,
        options: &Options,
        sink: impl EventSink,
        seed: u64,
    ) -> Result<SharedSession, Error> {
        let config = options.stan_config(cluster_id, client_id);
        config.validate()?;
        let (servers, nats_opts) = options.nats()?;
        let core = Core::new(config, seed, Duration::ZERO)?;
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            plain: Mutex::new(Vec::new()),
            wake: Notify::new(),
            clock: Clock::default(),
            lane: OnceLock::new(),
            lane_clear: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            armed_us: AtomicU64::new(u64::MAX),
        });
        let (status_tx, status_rx) = mpsc::unbounded_channel();
        let wait = options.reconnect_time_wait;
        let reconnect_tx = status_tx.clone();
        let nats_opts = nats_opts
            .reconnect_delay_callback(move |attempts| {
                let _ = reconnect_tx.send(Status::Reconnecting(attempts));
                if attempts <= 1 {
                    Duration::ZERO
                } else {
                    wait
                }
            })
            .event_callback(move |e| {
                let _ = status_tx.send(Status::from(e));
                async {}
            });
        let retry = options.wait_on_first_connect;
        let driver = Driver {
            shared: shared.clone(),
            sink,
            batch: Vec::new(),
            nats_started: false,
            connected_once: false,
            first_connect_seen: false,
            retry,
            reconnect: options.reconnect,
            nats_down: false,
            flushed_tx: None,
        };
        tokio::spawn(driver.run(servers, nats_opts, retry, status_rx));
        Ok(SharedSession { shared })
    }

    /// Run `f` with the session core and the session clock's `now`. What
    /// `f` queued for NATS is handed to async-nats on this thread when the
    /// fast lane is clear; the driver is woken only when it has something
    /// to do (operations left over, events, an earlier timer).
    pub fn with<R>(&self, f: impl FnOnce(&mut Core, Duration) -> R) -> R {
        let (r, wake) = {
            let mut core = self.shared.lock();
            let r = f(&mut core, self.shared.clock.now());
            (r, self.fast_lane(&mut core))
        };
        if wake {
            self.shared.wake.notify_one();
        }
        r
    }

    /// Send what the core queued, if the lane is clear; true if the driver
    /// must run. Called with the core locked.
    fn fast_lane(&self, core: &mut Core) -> bool {
        let sh = &self.shared;
        let Some(client) = sh.lane.get().filter(|_| sh.lane_clear.load(Ordering::Acquire)) else {
            return true;
        };
        let mut wake = false;
        while let Some(op) = core.poll_transmit() {
            let left = if wake { Err(op.into()) } else { crate::nats_link::try_publish(client, op.into()) };
            if let Err(op) = left {
                wake = true;
                sh.lane_clear.store(false, Ordering::Release);
                sh.pending.lock().unwrap_or_else(|e| e.into_inner()).push(op);
            }
        }
        let armed = sh.armed_us.load(Ordering::Acquire);
        wake || core.has_events() || core.poll_timeout().is_some_and(|d| (d.as_micros() as u64) < armed)
    }

    /// Queue core-NATS traffic (sent in order once NATS is connected).
    ///
    /// Errors: [`stan_core::Error::ConnectionClosed`] once the session is
    /// closing or closed, [`stan_core::Error::BadSubject`] for an empty
    /// subject, [`stan_core::Error::MaxPayloadExceeded`] for a payload over
    /// the server's `max_payload`.
    pub fn plain(&self, op: PlainOp) -> Result<(), stan_core::Error> {
        {
            let core = self.shared.lock();
            if matches!(core.state(), stan_core::State::Closing | stan_core::State::Closed) {
                return Err(stan_core::Error::ConnectionClosed);
            }
            match &op {
                PlainOp::Publish { subject, payload, .. } => {
                    if subject.is_empty() || subject.contains(char::is_whitespace) {
                        return Err(stan_core::Error::BadSubject);
                    }
                    if core.max_payload().is_some_and(|max| payload.len() > max) {
                        return Err(stan_core::Error::MaxPayloadExceeded);
                    }
                }
                PlainOp::Subscribe { subject, .. } if subject.is_empty() || subject.contains(char::is_whitespace) => {
                    return Err(stan_core::Error::BadSubject);
                }
                _ => {}
            }
            self.shared.plain.lock().unwrap_or_else(|e| e.into_inner()).push(op);
        }
        self.shared.wake.notify_one();
        Ok(())
    }
}

/// NATS status reports, from async-nats' callbacks.
#[derive(Debug)]
enum Status {
    Connected,
    Disconnected,
    /// About to make connection attempt number `n` (counted since the last success).
    Reconnecting(usize),
    GaveUp,
    Error(NatsErrorKind, String),
    Ignore,
}

impl From<async_nats::Event> for Status {
    fn from(e: async_nats::Event) -> Self {
        use async_nats::{ClientError, Event, ServerError};
        match e {
            Event::Connected => Status::Connected,
            Event::Disconnected => Status::Disconnected,
            Event::ClientError(ClientError::MaxReconnects) => Status::GaveUp,
            Event::ServerError(ServerError::AuthorizationViolation) => {
                Status::Error(NatsErrorKind::Other, "Authorization Violation".to_string())
            }
            Event::ServerError(ServerError::Other(text))
                if text.to_ascii_lowercase().contains("permissions violation") =>
            {
                Status::Error(NatsErrorKind::Permission, text)
            }
            Event::ServerError(e) => Status::Error(NatsErrorKind::Other, e.to_string()),
            // async-nats reports each failed (re)connect attempt as `Other`;
            // nats.js v1 never reports those as errors once it had connected
            // (only 'reconnecting' per attempt), and the first connection's
            // failure comes back from `connect` itself.
            Event::ClientError(ClientError::Other(_)) => Status::Ignore,
            Event::ClientError(e) => Status::Error(NatsErrorKind::Other, e.to_string()),
            _ => Status::Ignore,
        }
    }
}

struct Driver<S: EventSink> {
    shared: Arc<Shared>,
    sink: S,
    batch: Vec<SessionEvent>,
    /// True once NATS I/O may start (the writer runs).
    nats_started: bool,
    /// True once NATS was connected (or a disconnect was seen).
    connected_once: bool,
    /// True once async-nats reported the first `Connected` (or a disconnect).
    first_connect_seen: bool,
    /// Keep trying the first connection (`waitOnFirstConnect`).
    retry: bool,
    /// Reconnect after a disconnect.
    reconnect: bool,
    /// The NATS connection is down (a disconnect was handled, no reconnect yet).
    nats_down: bool,
    /// Where flush outcomes go (set once NATS I/O runs).
    flushed_tx: Option<mpsc::UnboundedSender<(u64, bool)>>,
}

impl<S: EventSink> Driver<S> {
    async fn run(
        mut self,
        servers: Vec<async_nats::ServerAddr>,
        nats_opts: async_nats::ConnectOptions,
        retry: bool,
        mut status: mpsc::UnboundedReceiver<Status>,
    ) {
        let nats_opts = if retry { nats_opts.retry_on_initial_connect() } else { nats_opts };
        let connect = nats_opts.connect(servers);
        tokio::pin!(connect);
        // Phase 1: wait for the NATS client, still serving the caller's commands.
        let client = loop {
            if self.pump(None) {
                return;
            }
            tokio::select! {
                r = &mut connect => match r {
                    Ok(client) => break client,
                    Err(e) => {
                        let text = connect_error_text(&e);
                        self.batch.push(SessionEvent::Nats { kind: NatsErrorKind::ConnectFailed, text });
                        let mut core = self.shared.lock();
                        core.close(self.shared.clock.now());
                        while core.poll_transmit().is_some() {}
                        drop(core);
                        self.pump(None);
                        return;
                    }
                },
                Some(s) = status.recv() => self.status(s),
                _ = self.shared.wake.notified() => {}
            }
        };
        self.shared.lock().set_max_payload(client.server_info().max_payload);
        if !retry {
            self.shared.clock.start();
            self.connected_once = true;
        }
        let _ = self.shared.lane.set(client.clone());
        let mut out = Outbound::new(client);
        let mut inbound = Inbound::default();
        let (flushed_tx, mut flushed) = mpsc::unbounded_channel::<(u64, bool)>();
        self.flushed_tx = Some(flushed_tx);
        self.nats_started = true;
        // Phase 2: pump until the session is closed. One task: inbound
        // messages, outbound operations, timers and the caller's wake-ups.
        loop {
            if self.pump(Some((&mut out, &mut inbound))) {
                break;
            }
            let deadline = {
                let mut core = self.shared.lock();
                let at = core.poll_timeout();
                let us = at.map_or(u64::MAX, |d| d.as_micros() as u64);
                self.shared.armed_us.store(us, Ordering::Release);
                at.and_then(|d| self.shared.clock.instant(d))
            };
            tokio::select! {
                first = inbound.next() => {
                    let mut core = self.shared.lock();
                    let now = self.shared.clock.now();
                    let mut next = Some(first);
                    for _ in 0..MAX_MESSAGES_PER_TURN {
                        let Some(m) = next.take().or_else(|| inbound.try_next()) else { break };
                        if m.sid.0 >= PLAIN_SID_BASE {
                            let id = m.sid.0 - PLAIN_SID_BASE;
                            self.batch.push(SessionEvent::Plain { id, subject: m.subject, reply: m.reply, payload: m.payload });
                        } else {
                            if cfg!(feature = "hop-trace") {
                                let hop = if m.subject == core.ack_subject() { Hop::PubAckIn } else { Hop::DeliveryIn };
                                hop_trace::mark(hop);
                            }
                            core.handle_message(now, m);
                        }
                    }
                }
                Some((id, ok)) = flushed.recv() => self.batch.push(SessionEvent::Flushed { id, ok }),
                effect = out.unparked() => {
                    if let Some(e) = effect {
                        e.apply(&mut inbound);
                    }
                }
                Some(s) = status.recv() => {
                    if matches!(s, Status::Connected) {
                        // The server may differ after a reconnect.
                        self.shared.lock().set_max_payload(out.client().server_info().max_payload);
                    }
                    self.status(s)
                }
                _ = self.shared.wake.notified() => {}
                _ = sleep_until(deadline) => {
                    let now = self.shared.clock.now();
                    self.shared.lock().handle_timeout(now);
                }
            }
        }
        drop(inbound);
        out.finish(Duration::from_secs(2)).await;
    }

    fn status(&mut self, s: Status) {
        let mut core = self.shared.lock();
        match s {
            // The first connection (reported after `connect` returned, or
            // later with `retry`) is not a reconnect.
            Status::Connected if !self.first_connect_seen => {
                self.first_connect_seen = true;
                self.connected_once = true;
                self.shared.clock.start();
            }
            Status::Connected => {
                self.nats_down = false;
                core.handle_nats_reconnected()
            }
            // Already handled: the first reconnect attempt was reported first.
            Status::Disconnected if self.nats_down => {}
            Status::Disconnected => {
                self.first_connect_seen = true;
                self.connected_once = true;
                self.nats_down = true;
                core.handle_nats_disconnected();
                if !self.reconnect {
                    core.handle_nats_closed();
                }
            }
            Status::GaveUp => core.handle_nats_closed(),
            // Attempts before the first connection are not reconnects, except
            // the retries of `waitOnFirstConnect`.
            Status::Reconnecting(n) if self.connected_once || (self.retry && n > 1) => {
                // async-nats asks for the first delay before its `Disconnected`
                // event reaches us: handle the disconnect now, so 'disconnect'
                // comes before 'reconnecting' (as in nats.js).
                if self.connected_once && !self.nats_down {
                    self.first_connect_seen = true;
                    self.nats_down = true;
                    core.handle_nats_disconnected();
                    if !self.reconnect {
                        core.handle_nats_closed();
                    }
                    while let Some(ev) = core.poll_event() {
                        self.batch.push(SessionEvent::Core(ev));
                    }
                }
                self.batch.push(SessionEvent::Reconnecting)
            }
            Status::Reconnecting(_) => {}
            Status::Error(kind, text) => self.batch.push(SessionEvent::Nats { kind, text }),
            Status::Ignore => {}
        }
    }

    /// Hand queued NATS operations to async-nats (once connected) and queued
    /// events to the sink. Returns true once the session is over.
    fn pump(&mut self, mut link: Option<(&mut Outbound, &mut Inbound)>) -> bool {
        let connected = link.is_some();
        let closed = {
            let mut core = self.shared.lock();
            if let Some((out, _)) = link.as_mut() {
                // What the caller's thread could not send goes first: it was
                // polled before anything still in the core.
                for op in std::mem::take(&mut *self.shared.pending.lock().unwrap_or_else(|e| e.into_inner())) {
                    out.push(op);
                }
                while let Some(op) = core.poll_transmit() {
                    out.push(op);
                }
                if !out.is_idle() {
                    // The caller's thread must not overtake these.
                    self.shared.lane_clear.store(false, Ordering::Release);
                }
                let plain = std::mem::take(&mut *self.shared.plain.lock().unwrap_or_else(|e| e.into_inner()));
                for op in plain {
                    out.push(match op {
                        PlainOp::Publish { subject, reply, payload } => Op::Publish { subject, reply, payload },
                        PlainOp::Subscribe { id, subject, queue } => {
                            Op::Subscribe { sid: Sid(PLAIN_SID_BASE + id), subject, queue }
                        }
                        PlainOp::Unsubscribe { id } => Op::Unsubscribe { sid: Sid(PLAIN_SID_BASE + id) },
                        PlainOp::Flush { id } => match &self.flushed_tx {
                            Some(done) => Op::Flush { id, done: done.clone() },
                            None => continue,
                        },
                    });
                }
            }
            while let Some(ev) = core.poll_event() {
                self.batch.push(SessionEvent::Core(ev));
            }
            core.is_closed()
        };
        if let Some((out, inbound)) = link {
            out.pump(inbound);
            // Reopen the fast lane once nothing is queued ahead of it.
            let _core = self.shared.lock();
            let pending_empty = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
            self.shared.lane_clear.store(out.is_idle() && pending_empty, Ordering::Release);
        }
        if !self.batch.is_empty() {
            if cfg!(feature = "hop-trace")
                && self.batch.iter().any(|e| matches!(e, SessionEvent::Core(stan_core::Event::Message { .. })))
            {
                hop_trace::mark(Hop::DeliveryToSink);
            }
            self.sink.deliver(&mut self.batch);
            self.batch.clear();
        }
        closed && (self.nats_started || !connected)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The text of a failed first NATS connect: the server's own wording for an
/// authorization failure (`Authorization Violation`, as nats.js and Go report
/// it), async-nats' text otherwise.
pub fn connect_error_text(e: &async_nats::ConnectError) -> String {
    match e.kind() {
        async_nats::ConnectErrorKind::AuthorizationViolation => "Authorization Violation".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_stands_still_until_started() {
        let c = Clock::default();
        assert_eq!(c.now(), Duration::ZERO);
        assert!(c.instant(Duration::from_secs(1)).is_none());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), Duration::ZERO);
        c.start();
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.now() >= Duration::from_millis(5));
        assert!(c.instant(Duration::from_secs(1)).is_some());
    }

    #[test]
    fn permission_errors_are_told_apart() {
        let e = async_nats::Event::ServerError(async_nats::ServerError::Other(
            "Permissions Violation for Publish to foo".into(),
        ));
        assert!(matches!(Status::from(e), Status::Error(NatsErrorKind::Permission, _)));
        let e = async_nats::Event::ClientError(async_nats::ClientError::MaxReconnects);
        assert!(matches!(Status::from(e), Status::GaveUp));
        // A failed reconnect attempt is not an error event (nats.js v1 has none).
        let e = async_nats::Event::ClientError(async_nats::ClientError::Other("IO error".into()));
        assert!(matches!(Status::from(e), Status::Ignore));
    }
}
