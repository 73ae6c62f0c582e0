//! `JsStan`: one STAN connection whose NATS socket the JS thread owns
//! (`lib/transport.js`). The protocol work is `stan_session::NatsSession`;
//! this class is its napi face: commands as on `NativeStan`, the same packed
//! event batches, and the transport calls (`feed`, `takeOutput`,
//! `transportOpened`, `tlsUpgraded`, `transportClosed`, `nextDeadline`,
//! `tick`). No threads, no locks: everything runs on the JS thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::Deref;
use std::rc::Rc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Buffer, BufferSlice, Float64Array, Uint8ArraySlice};
use napi::Env;
use napi_derive::napi;
use stan_client::shared::SessionEvent;
use stan_core::js::NatsErrorClass;
use stan_core::{Connection, SubId};
use stan_session::{Auth, ConnectInfo, Creds, NatsEvent, NatsSession, PlainError, SessionConfig};

use crate::ack_slots::{AckSlots, Fnv};
use crate::batch::Outbox;
use crate::{errors, EventBatch, NativeOptions, NativeSubOptions, SessionInfo, SubInfo};

/// `poll` flags: events wait in `takeEvents()`.
const EVENTS: u32 = 1;
/// The transport must upgrade to TLS now, then call `tlsUpgraded()`.
const UPGRADE_TLS: u32 = 2;
/// The transport must drop the socket (reason: `dropReason()`).
const DROP: u32 = 4;
/// The cluster announced servers (`takeServers()`).
const SERVERS: u32 = 8;
/// The session is over.
const CLOSED: u32 = 16;
/// The next deadline moved since it was last reported (`nextDeadline()`).
const DEADLINE: u32 = 32;

/// Bytes of output buffer a session keeps between JS runs.
const KEEP_OUTPUT: usize = 256 << 10;

/// nats.js v1's default NATS ping interval.
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// nats.js v1's `maxPingOut`.
const MAX_PINGS_OUT: u32 = 2;

/// The session clock: zero until NATS first connected (the STAN connect
/// timeout counts from there, as on the threaded path).
#[derive(Default)]
struct Clock {
    epoch: Cell<Option<Instant>>,
}

impl Clock {
    fn now(&self) -> Duration {
        self.epoch.get().map_or(Duration::ZERO, |e| e.elapsed())
    }
}

struct State {
    session: NatsSession,
    outbox: Outbox,
    servers: Vec<String>,
    drop_reason: Option<String>,
    /// The deadline the last `DEADLINE` flag reported (none before the clock runs).
    reported: Option<Duration>,
    /// The JS slots of publishes made with one, by guid.
    slots: AckSlots,
}

/// A session's state, shared by its `JsStan` object and this thread's
/// registry of live sessions (`LIVE`).
pub struct Inner {
    state: RefCell<State>,
    clock: Clock,
    subjects: RefCell<Vec<String>>,
}

thread_local! {
    /// This thread's live sessions by `handle()`, for `jsPublishOn`: a free
    /// napi function skips what napi-rs does on every class method call
    /// (`napi_unwrap`, the class identity check, and registering the
    /// receiver's borrow in a process-wide `Mutex<HashMap>`), about a third
    /// of a publish's cost on the JS thread.
    static LIVE: RefCell<HashMap<u32, Rc<Inner>, BuildHasherDefault<Fnv>>> = RefCell::default();
    static NEXT_HANDLE: Cell<u32> = const { Cell::new(0) };
}

/// `JsStan.pendingSlots()`: `slots[i]` waits for the ack of `guids[i]`.
#[napi(object)]
pub struct PendingSlots {
    pub slots: Vec<u32>,
    pub guids: Vec<String>,
}

/// One STAN connection over a socket the JS thread drives.
#[napi]
pub struct JsStan {
    inner: Rc<Inner>,
    handle: u32,
}

impl Deref for JsStan {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Drop for JsStan {
    fn drop(&mut self) {
        // The registry may already be gone when the thread itself ends.
        let _ = LIVE.try_with(|l| l.borrow_mut().remove(&self.handle));
    }
}

/// `JsStan.publishOn` of the session `session` (its `handle()`), without the
/// per-call receiver checks of a class method. Throws as `publishOn`, or
/// `STAN_ERROR` for a session that is gone.
#[napi]
pub fn js_publish_on(
    session: u32,
    subject: u32,
    data: Uint8ArraySlice,
    slot: Option<u32>,
) -> Result<String, napi::Error<String>> {
    LIVE.with(|l| match l.borrow().get(&session) {
        Some(inner) => inner.publish_on(subject, &data, slot),
        None => Err(napi::Error::new("STAN_ERROR".to_string(), "unknown session handle".to_string())),
    })
}

fn throw_plain(e: &PlainError) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

fn config(options: &NativeOptions) -> Result<SessionConfig, napi::Error<String>> {
    let mut connect = ConnectInfo::new("rust", env!("CARGO_PKG_VERSION"));
    connect.name = options.name.clone();
    let mut auth = Auth {
        user: options.user.clone().map(|u| (u, options.pass.clone().unwrap_or_default())),
        token: options.token.clone(),
        creds: None,
    };
    if let Some(path) = &options.user_creds {
        let text = std::fs::read_to_string(path)
            .map_err(|e| napi::Error::new("NATS_ERROR".to_string(), format!("{path}: {e}")))?;
        auth.creds = Some(Creds::parse(&text).map_err(|e| napi::Error::new("NATS_ERROR".to_string(), e))?);
    }
    let ping = options.ping_interval.filter(|p| *p > 0.0).map_or(DEFAULT_PING_INTERVAL, stan_core::js::ms);
    Ok(SessionConfig {
        connect,
        auth,
        tls_required: options.tls.unwrap_or(false),
        ping_interval: Some(ping),
        max_pings_out: MAX_PINGS_OUT,
        max_buffered: stan_session::DEFAULT_MAX_BUFFERED,
    })
}

impl Inner {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Start the clock once NATS is connected.
    fn note_connected(&self, st: &State) {
        if self.clock.epoch.get().is_none() && st.session.is_connected() {
            self.clock.epoch.set(Some(Instant::now()));
        }
    }

    fn publish_on(&self, subject: u32, data: &[u8], slot: Option<u32>) -> Result<String, napi::Error<String>> {
        let subjects = self.subjects.borrow();
        let Some(subject) = subjects.get(subject as usize) else {
            return Err(napi::Error::new("STAN_ERROR".to_string(), "unknown subject handle".to_string()));
        };
        self.publish_with(subject, data, slot)
    }

    fn publish_with(&self, subject: &str, data: &[u8], slot: Option<u32>) -> Result<String, napi::Error<String>> {
        let mut st = self.state.borrow_mut();
        let now = self.clock.now();
        let guid = st.session.publish(now, subject, data).map_err(|e| errors::throw(&e))?;
        if let Some(slot) = slot {
            st.slots.insert(guid, slot);
        }
        Ok(guid.as_str().to_string())
    }

    fn run<T>(&self, f: impl FnOnce(&mut Connection, Duration) -> T) -> T {
        let mut st = self.state.borrow_mut();
        f(st.session.core_mut(), self.clock.now())
    }

    /// Move the session's own events into the outbox; a failed first
    /// connection ends the session like the threaded path does.
    fn collect(&self, st: &mut State) {
        while let Some(ev) = st.session.poll_event() {
            match ev {
                NatsEvent::Error { class, text } => {
                    let failed = class == NatsErrorClass::ConnectFailed;
                    st.outbox.push(SessionEvent::Nats { kind: class, text });
                    if failed {
                        self.fail(st);
                    }
                }
                NatsEvent::Plain { id, subject, reply, payload } => {
                    st.outbox.push(SessionEvent::Plain { id, subject, reply, payload })
                }
                NatsEvent::Flushed { id, ok } => st.outbox.push(SessionEvent::Flushed { id, ok }),
                NatsEvent::ServersDiscovered(urls) => {
                    for u in urls {
                        if !st.servers.contains(&u) {
                            st.servers.push(u);
                        }
                    }
                }
            }
        }
        while let Some(ev) = st.session.core_mut().poll_event() {
            match ev {
                stan_core::Event::PubAck { guid, result } => match st.slots.take(&guid) {
                    Some(slot) => st.outbox.push_slot_ack(slot, &guid, result),
                    None => st.outbox.push(SessionEvent::Core(stan_core::Event::PubAck { guid, result })),
                },
                ev => st.outbox.push(SessionEvent::Core(ev)),
            }
        }
    }

    fn fail(&self, st: &mut State) {
        let now = self.now();
        let core = st.session.core_mut();
        core.close(now);
        while core.poll_transmit().is_some() {}
        st.drop_reason.get_or_insert_with(|| "connect failed".to_string());
    }

    fn flags(&self, st: &mut State) -> u32 {
        self.collect(st);
        if let Some(r) = st.session.take_drop_request() {
            st.drop_reason.get_or_insert(r);
        }
        let mut f = 0;
        if !st.outbox.is_empty() {
            f |= EVENTS;
        }
        if st.session.wants_tls() {
            f |= UPGRADE_TLS;
        }
        if st.drop_reason.is_some() {
            f |= DROP;
        }
        if !st.servers.is_empty() {
            f |= SERVERS;
        }
        if st.session.core().is_closed() {
            f |= CLOSED;
        }
        let deadline = if self.clock.epoch.get().is_some() { st.session.deadline() } else { None };
        if deadline != st.reported {
            st.reported = deadline;
            f |= DEADLINE;
        }
        f
    }
}

#[napi]
impl JsStan {
    /// A session waiting for its first transport. Throws on empty IDs or an
    /// unreadable credentials file.
    #[napi(constructor)]
    pub fn new(cluster_id: String, client_id: String, options: NativeOptions) -> Result<Self, napi::Error<String>> {
        let mut cc = stan_core::ConnectConfig::new(cluster_id, client_id);
        options.session().apply(&mut cc);
        cc.validate().map_err(|e| errors::throw(&e))?;
        let core = Connection::new(cc, rand::random(), Duration::ZERO).map_err(|e| errors::throw(&e))?;
        let session = NatsSession::with_config(core, config(&options)?);
        let inner = Rc::new(Inner {
            state: RefCell::new(State {
                session,
                outbox: Outbox::default(),
                servers: Vec::new(),
                drop_reason: None,
                reported: None,
                slots: AckSlots::default(),
            }),
            clock: Clock::default(),
            subjects: RefCell::new(Vec::new()),
        });
        let handle = NEXT_HANDLE.with(|n| {
            let h = n.get();
            n.set(h.wrapping_add(1));
            h
        });
        LIVE.with(|l| l.borrow_mut().insert(handle, Rc::clone(&inner)));
        Ok(JsStan { inner, handle })
    }

    /// This session's handle for `jsPublishOn`.
    #[napi]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    // ---- transport ----

    /// A socket is open (before its `INFO`); `user`/`pass` come from its
    /// URL (a lone `user` is a token); `tls`: the URL said `tls://`.
    #[napi]
    pub fn transport_opened(&self, user: Option<String>, pass: Option<String>, tls: bool) {
        let mut st = self.state.borrow_mut();
        st.drop_reason = None;
        let auth = user.filter(|u| !u.is_empty()).map(|u| (u, pass));
        st.session.transport_opened(auth, tls);
    }

    /// True while the current socket is connected and confirmed.
    #[napi]
    pub fn link_up(&self) -> bool {
        self.state.borrow().session.is_confirmed()
    }

    /// True once a NATS connection was confirmed (a reconnect is possible).
    #[napi]
    pub fn ever_up(&self) -> bool {
        self.state.borrow().session.ever_up()
    }

    /// Bytes from the socket; returns the `poll` flags.
    #[napi]
    pub fn feed(&self, chunk: Uint8ArraySlice) -> u32 {
        let mut st = self.state.borrow_mut();
        let now = self.now();
        if let Err(e) = st.session.on_bytes(now, &chunk) {
            // Before the first connection (not a NATS server?) it is the connect failure.
            let first = !st.session.ever_up();
            let kind = if first { NatsErrorClass::ConnectFailed } else { NatsErrorClass::Other };
            st.outbox.push(SessionEvent::Nats { kind, text: format!("NATS protocol error: {e}") });
            st.drop_reason.get_or_insert_with(|| e.to_string());
            if first {
                self.fail(&mut st);
            }
        }
        self.note_connected(&st);
        self.flags(&mut st)
    }

    /// The TLS handshake finished; returns the `poll` flags.
    #[napi]
    pub fn tls_upgraded(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        let now = self.now();
        st.session.tls_upgraded(now);
        self.note_connected(&st);
        self.flags(&mut st)
    }

    /// The socket closed; `give_up`: no other comes (reconnect off or
    /// exhausted). Returns the `poll` flags.
    #[napi]
    pub fn transport_closed(&self, give_up: bool) -> u32 {
        let mut st = self.state.borrow_mut();
        st.session.transport_closed();
        if give_up {
            st.session.give_up();
        }
        self.flags(&mut st)
    }

    /// The first connection could not be made: report `text` (CONN_ERR) and end.
    #[napi]
    pub fn connect_failed(&self, text: String) -> u32 {
        let mut st = self.state.borrow_mut();
        st.outbox.push(SessionEvent::Nats { kind: NatsErrorClass::ConnectFailed, text });
        st.session.transport_closed();
        self.fail(&mut st);
        self.flags(&mut st)
    }

    /// A reconnect attempt starts ('reconnecting').
    #[napi]
    pub fn reconnecting(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        self.collect(&mut st);
        st.outbox.push(SessionEvent::Reconnecting);
        self.flags(&mut st)
    }

    /// Bytes to write now (null when none): a copy, so the session keeps
    /// its output buffer for the next JS run (up to `KEEP_OUTPUT` bytes of
    /// it; a burst's larger buffer is freed at once, not at the next GC).
    #[napi]
    pub fn take_output<'env>(&self, env: &'env Env) -> napi::Result<Option<BufferSlice<'env>>> {
        let mut st = self.state.borrow_mut();
        let out = st.session.output();
        if out.is_empty() {
            return Ok(None);
        }
        let buf = BufferSlice::copy_from(env, out)?;
        st.session.clear_output(KEEP_OUTPUT);
        Ok(Some(buf))
    }

    /// The `poll` flags: 1 events, 2 upgrade to TLS, 4 drop the socket,
    /// 8 servers announced, 16 the session is over, 32 the next deadline
    /// moved (every call returning flags reports each change once).
    #[napi]
    pub fn poll(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        self.flags(&mut st)
    }

    /// Why the socket must be dropped (after flag 4), once.
    #[napi]
    pub fn drop_reason(&self) -> Option<String> {
        self.state.borrow_mut().drop_reason.take()
    }

    /// Servers the cluster told us of since the last call.
    #[napi]
    pub fn take_servers(&self) -> Vec<String> {
        std::mem::take(&mut self.state.borrow_mut().servers)
    }

    /// ms until the next timer (-1: none).
    #[napi]
    pub fn next_deadline(&self) -> f64 {
        let mut st = self.state.borrow_mut();
        match st.session.deadline() {
            Some(d) if self.clock.epoch.get().is_some() => d.saturating_sub(self.now()).as_secs_f64() * 1000.0,
            _ => -1.0,
        }
    }

    /// Run the timers that are due; returns the `poll` flags.
    #[napi]
    pub fn tick(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        let now = self.now();
        st.session.tick(now);
        self.flags(&mut st)
    }

    /// Everything that happened since the last call.
    #[napi]
    pub fn take_events(&self) -> EventBatch {
        let mut st = self.state.borrow_mut();
        self.collect(&mut st);
        let o = &mut st.outbox;
        EventBatch {
            nums: Float64Array::new(std::mem::take(&mut o.nums)),
            data: Buffer::from(std::mem::take(&mut o.data)),
            strs: std::mem::take(&mut o.strs),
            ids: std::mem::take(&mut o.ids),
        }
    }

    // ---- commands (as on NativeStan) ----

    /// Publish; `slot` (optional): the JS slot its ack is reported to
    /// (event 19) instead of its guid (event 3).
    #[napi]
    pub fn publish(
        &self,
        subject: String,
        data: Uint8ArraySlice,
        slot: Option<u32>,
    ) -> Result<String, napi::Error<String>> {
        self.publish_with(&subject, &data, slot)
    }

    /// The publishes waiting in JS slots: slots and their guids, in publish order.
    #[napi]
    pub fn pending_slots(&self) -> PendingSlots {
        let st = self.state.borrow();
        let (slots, guids) = st.slots.pending().map(|(g, s)| (s, g.as_str().to_string())).unzip();
        PendingSlots { slots, guids }
    }

    #[napi]
    pub fn register_subject(&self, subject: String) -> u32 {
        let mut subjects = self.subjects.borrow_mut();
        subjects.push(subject);
        u32::try_from(subjects.len() - 1).unwrap_or(u32::MAX)
    }

    #[napi]
    pub fn publish_on(
        &self,
        subject: u32,
        data: Uint8ArraySlice,
        slot: Option<u32>,
    ) -> Result<String, napi::Error<String>> {
        self.inner.publish_on(subject, &data, slot)
    }

    #[napi]
    pub fn publish_string(
        &self,
        subject: String,
        data: String,
        slot: Option<u32>,
    ) -> Result<String, napi::Error<String>> {
        self.publish_with(&subject, data.as_bytes(), slot)
    }

    #[napi]
    pub fn subscribe(&self, subject: String, options: NativeSubOptions) -> Result<u32, napi::Error<String>> {
        let opts = options.to_core().map_err(|e| errors::throw(&e))?;
        let id = self.run(|c, now| c.subscribe(now, &subject, opts)).map_err(|e| errors::throw(&e))?;
        u32::try_from(id.0)
            .map_err(|_| napi::Error::new("STAN_ERROR".to_string(), "too many subscriptions".to_string()))
    }

    #[napi]
    pub fn ack_many(&self, pairs: Float64Array) {
        let pairs: &[f64] = &pairs;
        let mut st = self.state.borrow_mut();
        for p in pairs.chunks_exact(2) {
            let _ = st.session.ack(SubId(p[0] as u64), p[1] as u64);
        }
    }

    #[napi]
    pub fn unsubscribe(&self, sub: u32) -> Result<(), napi::Error<String>> {
        self.run(|c, now| c.unsubscribe(now, SubId(sub.into()))).map_err(|e| errors::throw(&e))
    }

    #[napi]
    pub fn close_subscription(&self, sub: u32) -> Result<(), napi::Error<String>> {
        self.run(|c, now| c.close_subscription(now, SubId(sub.into()))).map_err(|e| errors::throw(&e))
    }

    #[napi]
    pub fn close(&self) {
        self.run(|c, now| c.close(now));
    }

    #[napi]
    pub fn nc_publish(
        &self,
        subject: String,
        reply: Option<String>,
        data: Uint8ArraySlice,
    ) -> Result<(), napi::Error<String>> {
        let mut st = self.state.borrow_mut();
        st.session.plain_publish(&subject, reply.as_deref(), &data).map_err(|e| throw_plain(&e))
    }

    #[napi]
    pub fn nc_subscribe(&self, id: u32, subject: String, queue: Option<String>) -> Result<(), napi::Error<String>> {
        let mut st = self.state.borrow_mut();
        st.session.plain_subscribe(id.into(), &subject, queue.as_deref()).map_err(|e| errors::throw(&e))
    }

    #[napi]
    pub fn nc_unsubscribe(&self, id: u32) -> Result<(), napi::Error<String>> {
        self.state.borrow_mut().session.plain_unsubscribe(id.into()).map_err(|e| errors::throw(&e))
    }

    #[napi]
    pub fn nc_flush(&self, id: u32) -> Result<(), napi::Error<String>> {
        self.state.borrow_mut().session.plain_flush(id.into()).map_err(|e| errors::throw(&e))
    }

    #[napi]
    pub fn is_closed(&self) -> bool {
        self.state.borrow().session.core().is_closed()
    }

    #[napi]
    pub fn pending_pub_acks(&self) -> u32 {
        u32::try_from(self.state.borrow().session.core().pending_pub_acks()).unwrap_or(u32::MAX)
    }

    #[napi]
    pub fn info(&self) -> SessionInfo {
        crate::session_info(self.state.borrow().session.core())
    }

    #[napi]
    pub fn sub_info(&self, sub: u32) -> Option<SubInfo> {
        let st = self.state.borrow();
        st.session.core().subscription(SubId(sub.into())).map(|s| SubInfo { inbox: s.inbox, ack_inbox: s.ack_inbox })
    }
}
