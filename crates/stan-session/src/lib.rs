//! `NatsSession`: one NATS client connection's protocol work around a
//! `stan-core` session, independent of any transport (sans-IO). Bytes from
//! the server go in; bytes for the server, NATS-level events and the core's
//! events come out. Shared by the browser build (stan-wasm, over a
//! WebSocket) and the Node addon (stan-node, over a socket the JS thread owns).
//!
//! Per connection: `INFO` → (TLS upgrade, if asked for) → `CONNECT`, `PING`,
//! a `SUB` for every live subscription, then whatever was queued while there
//! was no connection; the first `PONG` confirms the connection (a reconnect
//! is reported to the core then). It answers the server's `PING`s, sends
//! keep-alive `PING`s and reports a stale connection, routes `MSG`/`HMSG`
//! to the core or to the plain (`sc.nc`) subscriptions, and classifies
//! `-ERR` texts. Timers: [`NatsSession::deadline`] and [`NatsSession::tick`].
//!
//! Modules: [`connect`] (CONNECT and its auth), [`pings`] (keep-alive and
//! PONG matching), [`subs`] (resubscription), [`plain`] (core-NATS ops).

pub mod connect;
pub mod pings;
pub mod plain;
pub mod subs;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use nats_wire::{ClientOp, DecodeError, Decoder, ServerOp};
use stan_core::js::NatsErrorClass;
use stan_core::{Connection, Guid, IncomingMessage, NatsOp, Sid, SubId};

pub use connect::{Auth, ConnectBuilder, Creds};
pub use nats_wire::ConnectInfo;
use pings::{PingOwner, Pings, Tick};
pub use plain::PlainError;
use subs::SubTable;

/// Sids from here up are plain core-NATS subscriptions (`sc.nc`), by the
/// caller's id; the core's sids stay far below.
pub const PLAIN_SID_BASE: u64 = 1 << 52;

/// Default bound of what is queued while disconnected: 8 MiB.
pub const DEFAULT_MAX_BUFFERED: usize = 8 << 20;

/// How the session talks to servers.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub connect: ConnectInfo,
    pub auth: Auth,
    /// Refuse servers that do not offer TLS; upgrade on every server.
    pub tls_required: bool,
    /// NATS keep-alive `PING` interval (none: no keep-alive).
    pub ping_interval: Option<Duration>,
    /// Unanswered keep-alive `PING`s before the connection is stale.
    pub max_pings_out: u32,
    /// Bytes of plain publishes queued while disconnected before they are refused.
    pub max_buffered: usize,
}

impl SessionConfig {
    /// No auth, no TLS, no keep-alive, the default buffer bound.
    pub fn new(connect: ConnectInfo) -> Self {
        SessionConfig {
            connect,
            auth: Auth::default(),
            tls_required: false,
            ping_interval: None,
            max_pings_out: 2,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }
}

/// What the session reports beside the core's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatsEvent {
    /// A NATS-level error (a `-ERR`, or a connection that cannot be used).
    Error { class: NatsErrorClass, text: String },
    /// A message on a plain (`sc.nc`) subscription.
    Plain { id: u64, subject: String, reply: Option<String>, payload: Bytes },
    /// A plain flush finished (`ok`: the server answered).
    Flushed { id: u64, ok: bool },
    /// The server told us of cluster members (`connect_urls`).
    ServersDiscovered(Vec<String>),
}

/// Where the current connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// No transport.
    Down,
    /// Transport open, waiting for `INFO`.
    AwaitInfo,
    /// `INFO` asked for TLS: the transport must upgrade, then call `tls_upgraded`.
    AwaitTls,
    /// `CONNECT` sent: operations flow.
    Up,
}

/// A NATS connection carrying one STAN session.
#[derive(Debug)]
pub struct NatsSession {
    core: Connection,
    decoder: Decoder,
    connect: ConnectBuilder,
    config: SessionConfig,
    link: Link,
    /// The first handshake `PONG` came (NATS connected once).
    ever_up: bool,
    /// `Disconnected` was reported to the core for the current outage.
    down_reported: bool,
    nonce: Option<String>,
    url_auth: Option<(String, Option<String>)>,
    out: Vec<u8>,
    /// Reused for a direct publish's `<prefix>.<channel>` subject.
    subject: String,
    /// Plain publishes made while not connected, sent after `CONNECT`.
    buffered: Vec<u8>,
    /// Flushes to send once connected.
    flushes_waiting: Vec<u64>,
    subs: SubTable,
    pings: Pings,
    events: VecDeque<NatsEvent>,
    /// Why the transport must be dropped, once.
    drop_reason: Option<String>,
    /// The current transport must upgrade to TLS (its URL said `tls://`).
    tls_this: bool,
}

impl NatsSession {
    /// Wrap a core session with the plain settings of `connect` (the
    /// browser build); see [`NatsSession::with_config`].
    pub fn new(core: Connection, connect: ConnectInfo) -> Self {
        Self::with_config(core, SessionConfig::new(connect))
    }

    /// Wrap a core session; nothing is sent before the server's INFO. The
    /// first transport counts as open (call `transport_opened` for later ones).
    pub fn with_config(core: Connection, config: SessionConfig) -> Self {
        NatsSession {
            core,
            decoder: Decoder::new(),
            connect: ConnectBuilder::new(config.connect.clone(), config.auth.clone()),
            pings: Pings::new(config.ping_interval, config.max_pings_out),
            config,
            link: Link::AwaitInfo,
            ever_up: false,
            down_reported: false,
            nonce: None,
            url_auth: None,
            out: Vec::new(),
            subject: String::new(),
            buffered: Vec::new(),
            flushes_waiting: Vec::new(),
            subs: SubTable::default(),
            events: VecDeque::new(),
            drop_reason: None,
            tls_this: false,
        }
    }

    /// The STAN session.
    pub fn core(&self) -> &Connection {
        &self.core
    }

    /// The STAN session, for commands.
    pub fn core_mut(&mut self) -> &mut Connection {
        &mut self.core
    }

    /// True once CONNECT was sent on the current transport.
    pub fn is_connected(&self) -> bool {
        self.link == Link::Up
    }

    pub fn link(&self) -> Link {
        self.link
    }

    /// True once a NATS connection was confirmed (its first `PONG`).
    pub fn ever_up(&self) -> bool {
        self.ever_up
    }

    /// True while the current transport is connected and confirmed (its
    /// handshake `PONG` came).
    pub fn is_confirmed(&self) -> bool {
        self.link == Link::Up && self.ever_up && !self.down_reported
    }

    /// A new transport is open; `url_auth` is its URL's `user:pass@` (or
    /// lone `token@`), used when the options carry no credentials;
    /// `require_tls`: this server must speak TLS (a `tls://` URL).
    pub fn transport_opened(&mut self, url_auth: Option<(String, Option<String>)>, require_tls: bool) {
        self.tls_this = require_tls;
        self.decoder.clear();
        self.out.clear();
        self.link = Link::AwaitInfo;
        self.url_auth = url_auth;
        self.drop_reason = None;
    }

    /// The transport finished its TLS handshake.
    pub fn tls_upgraded(&mut self, now: Duration) {
        if self.link == Link::AwaitTls {
            self.decoder.clear();
            self.send_connect(now);
        }
    }

    /// The transport closed. Reports `Disconnected` to the core once per
    /// outage (when NATS had been connected); flushes in flight are sent
    /// again after the reconnect.
    pub fn transport_closed(&mut self) {
        self.link = Link::Down;
        self.decoder.clear();
        self.out.clear();
        let mut again = self.pings.stop();
        again.append(&mut self.flushes_waiting);
        self.flushes_waiting = again;
        if self.ever_up && !self.down_reported {
            self.down_reported = true;
            self.core.handle_nats_disconnected();
        }
    }

    /// No more transports (gave up reconnecting, or reconnect is off): the
    /// core ends, waiting flushes fail.
    pub fn give_up(&mut self) {
        self.link = Link::Down;
        for id in std::mem::take(&mut self.flushes_waiting) {
            self.events.push_back(NatsEvent::Flushed { id, ok: false });
        }
        self.buffered.clear();
        self.core.handle_nats_closed();
    }

    /// Why the transport must be dropped now (stale connection, protocol
    /// error, TLS refused), once.
    pub fn take_drop_request(&mut self) -> Option<String> {
        self.drop_reason.take()
    }

    /// True when the transport must upgrade to TLS now.
    pub fn wants_tls(&self) -> bool {
        self.link == Link::AwaitTls
    }

    fn request_drop(&mut self, why: String) {
        if self.drop_reason.is_none() {
            self.drop_reason = Some(why);
        }
    }

    /// Bytes arrived from the server. A decode error means the stream is
    /// unusable: the transport must be dropped.
    pub fn on_bytes(&mut self, now: Duration, data: &[u8]) -> Result<(), DecodeError> {
        self.decoder.feed(data);
        while let Some(op) = self.decoder.next_op()? {
            match op {
                ServerOp::Info(info) => {
                    self.core.set_max_payload(info.max_payload);
                    if !info.connect_urls.is_empty() {
                        self.events.push_back(NatsEvent::ServersDiscovered(info.connect_urls.clone()));
                    }
                    if self.link != Link::AwaitInfo {
                        continue; // an async INFO update
                    }
                    self.nonce = info.nonce.clone();
                    let want_tls = self.config.tls_required || self.tls_this;
                    if want_tls && !info.tls_required {
                        // Before the first connection this is the connect failure.
                        let class = if self.ever_up { NatsErrorClass::Other } else { NatsErrorClass::ConnectFailed };
                        self.error(class, "Server does not support a secure connection".into());
                        self.request_drop("the server does not offer TLS".into());
                        return Ok(());
                    }
                    if info.tls_required || want_tls {
                        // Nothing more comes in plain text: the transport upgrades now.
                        self.link = Link::AwaitTls;
                        self.decoder.clear();
                        return Ok(());
                    }
                    self.send_connect(now);
                }
                ServerOp::Ok => {}
                ServerOp::Ping => {
                    let _ = ClientOp::Pong.encode(&mut self.out);
                }
                ServerOp::Pong => match self.pings.pong() {
                    Some(PingOwner::Handshake) => self.confirmed(),
                    Some(PingOwner::Flush(id)) => self.events.push_back(NatsEvent::Flushed { id, ok: true }),
                    Some(PingOwner::KeepAlive) | None => {}
                },
                ServerOp::Err(text) => {
                    let established = self.core.state() != stan_core::State::Connecting;
                    self.error(NatsErrorClass::of_text(&text, established), text);
                }
                ServerOp::Msg(m) => {
                    if m.status().is_some() {
                        continue; // a status message (503 no responders), not data
                    }
                    if m.sid >= PLAIN_SID_BASE {
                        let id = m.sid - PLAIN_SID_BASE;
                        self.events.push_back(NatsEvent::Plain {
                            id,
                            subject: m.subject,
                            reply: m.reply,
                            payload: m.payload,
                        });
                        continue;
                    }
                    let msg =
                        IncomingMessage { sid: Sid(m.sid), subject: m.subject, reply: m.reply, payload: m.payload };
                    self.core.handle_message(now, msg);
                }
            }
        }
        Ok(())
    }

    fn error(&mut self, class: NatsErrorClass, text: String) {
        self.events.push_back(NatsEvent::Error { class, text });
    }

    /// The handshake `PONG`: NATS is connected (again).
    fn confirmed(&mut self) {
        if !self.ever_up {
            self.ever_up = true;
        } else if self.down_reported {
            self.core.handle_nats_reconnected();
        }
        self.down_reported = false;
    }

    fn send_connect(&mut self, now: Duration) {
        match self.connect.build(self.nonce.as_deref(), self.url_auth.as_ref()) {
            Ok(line) => self.out.extend_from_slice(&line),
            Err(text) => {
                let class = if self.ever_up { NatsErrorClass::Other } else { NatsErrorClass::ConnectFailed };
                self.error(class, text.clone());
                self.request_drop(text);
                return;
            }
        }
        self.link = Link::Up;
        self.pings.start(now);
        let _ = ClientOp::Ping.encode(&mut self.out);
        self.pings.sent(PingOwner::Handshake);
        self.subs.encode_all(&mut self.out);
        self.out.append(&mut self.buffered);
        for id in std::mem::take(&mut self.flushes_waiting) {
            let _ = ClientOp::Ping.encode(&mut self.out);
            self.pings.sent(PingOwner::Flush(id));
        }
    }

    /// The next event the session has beside the core's.
    pub fn poll_event(&mut self) -> Option<NatsEvent> {
        self.events.pop_front()
    }

    /// Events waiting here or in the core.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty() || self.core.has_events()
    }

    /// The earliest timer: the core's or the keep-alive's.
    pub fn deadline(&mut self) -> Option<Duration> {
        match (self.core.poll_timeout(), self.pings.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers due at `now`.
    pub fn tick(&mut self, now: Duration) {
        if self.core.poll_timeout().is_some_and(|d| d <= now) {
            self.core.handle_timeout(now);
        }
        match self.pings.tick(now) {
            Tick::Ping if self.link == Link::Up => {
                let _ = ClientOp::Ping.encode(&mut self.out);
            }
            Tick::Ping | Tick::Idle => {}
            Tick::Stale => self.request_drop("Stale connection".into()),
        }
    }

    /// Publish on the core; once connected the PUB is encoded straight into
    /// the output (after whatever the core had queued), with no per-publish
    /// allocation. Errors as [`Connection::publish`].
    pub fn publish(&mut self, now: Duration, subject: &str, data: &[u8]) -> Result<Guid, stan_core::Error> {
        if self.link != Link::Up {
            return self.core.publish_guid(now, subject, data);
        }
        self.drain_core();
        let (out, subj) = (&mut self.out, &mut self.subject);
        self.core.publish_into(now, subject, data, |f| {
            subj.clear();
            subj.push_str(f.prefix);
            subj.push('.');
            subj.push_str(f.channel);
            // A subject NATS refuses is dropped; the publish's ack timeout reports it.
            let _ = ClientOp::Pub { subject: subj, reply: Some(f.reply), payload: f.payload }.encode(out);
        })
    }

    /// Ack message `sequence` of subscription `sub` (as [`Connection::ack`]),
    /// encoded straight into the output once connected.
    pub fn ack(&mut self, sub: SubId, sequence: u64) -> Result<(), stan_core::Error> {
        if self.link != Link::Up {
            return self.core.ack(sub, sequence);
        }
        self.drain_core();
        let out = &mut self.out;
        self.core.ack_into(sub, sequence, |f| {
            let _ = ClientOp::Pub { subject: f.subject, reply: None, payload: f.payload }.encode(out);
        })
    }

    /// Encode the core's queued ops into the output (once connected).
    fn drain_core(&mut self) {
        if self.link != Link::Up {
            return;
        }
        while let Some(op) = self.core.poll_transmit() {
            let _ = match &op {
                NatsOp::Subscribe { sid, subject } => {
                    self.subs.insert(sid.0, subject, None);
                    ClientOp::Sub { subject, queue_group: None, sid: sid.0 }.encode(&mut self.out)
                }
                NatsOp::Unsubscribe { sid } => {
                    self.subs.remove(sid.0);
                    ClientOp::Unsub { sid: sid.0, max: None }.encode(&mut self.out)
                }
                NatsOp::Publish { subject, reply, payload } => {
                    ClientOp::Pub { subject, reply: reply.as_deref(), payload }.encode(&mut self.out)
                }
            };
        }
    }

    /// Everything to send now: the NATS replies and, once connected, the
    /// core's ops. Ops that cannot be encoded (a subject with control
    /// characters) are dropped; the core's timers report their failure.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.drain_core();
        std::mem::take(&mut self.out)
    }

    /// Bytes waiting to be sent (the core's queued ops encoded first).
    pub fn output(&mut self) -> &[u8] {
        self.drain_core();
        &self.out
    }

    /// Forget the output after it was copied out; its buffer is kept for
    /// the next one unless it grew past `keep` bytes (a burst).
    pub fn clear_output(&mut self, keep: usize) {
        self.out.clear();
        if self.out.capacity() > keep {
            self.out = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests;
