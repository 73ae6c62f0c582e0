//! `Connection`: one STAN session as a sans-IO state machine.
//!
//! The shape follows quinn-proto's `Connection`:
//! - getters ([`Connection::state`], [`Connection::client_id`], ...);
//! - inputs: [`Connection::handle_message`], [`Connection::handle_timeout`],
//!   [`Connection::handle_nats_disconnected`], [`Connection::handle_nats_reconnected`];
//! - commands: [`Connection::publish`], [`Connection::subscribe`],
//!   [`Connection::ack`], [`Connection::unsubscribe`],
//!   [`Connection::close_subscription`], [`Connection::close`];
//! - outputs: [`Connection::poll_transmit`] (NATS operations to perform, in
//!   order), [`Connection::poll_timeout`] (when to call `handle_timeout`) and
//!   [`Connection::poll_event`] (what to tell the application).
//!
//! Time is always passed in as a [`Duration`] since an epoch the driver picks;
//! it must not go backwards (a smaller value is treated as the last one seen).

mod commands;
mod input;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use stan_proto::Nuid;

use crate::config::ConnectConfig;
use crate::io::{Event, NatsOp, ServerSubjects, Sid, State, SubId, SubOp};
use crate::ping::PingTimer;
use crate::pub_acks::PubAckTracker;
use crate::requests::{RequestKind, RequestTable};
use crate::subscriptions::{Phase, SubTable, SubscriptionInfo};
use crate::Error;

/// NATS sid of the heartbeat inbox.
const SID_HEARTBEAT: Sid = Sid(1);
/// NATS sid of the publish-ack subject.
const SID_PUB_ACKS: Sid = Sid(2);
/// NATS sid of the ping reply inbox.
const SID_PING: Sid = Sid(3);
/// NATS sid of the wildcard request-reply inbox.
const SID_RESPONSES: Sid = Sid(4);
/// First sid handed to STAN subscriptions.
const FIRST_SUB_SID: u64 = 16;

/// One STAN session. See the module docs for the calling convention.
#[derive(Debug)]
pub struct Connection {
    config: ConnectConfig,
    nuid: Nuid,
    state: State,
    now: Duration,
    conn_id: Bytes,
    heartbeat_inbox: String,
    ack_subject: String,
    ping_inbox: String,
    response_prefix: String,
    ping_subscribed: bool,
    server: Option<ServerSubjects>,
    next_sid: u64,
    requests: RequestTable,
    pubs: PubAckTracker,
    subs: SubTable,
    ping: Option<PingTimer>,
    /// The NATS server's `max_payload`, once the driver told us.
    max_payload: Option<usize>,
    transmits: VecDeque<NatsOp>,
    events: VecDeque<Event>,
    /// Reused for the PubMsg / Ack protobuf of a direct publish or ack.
    scratch: Vec<u8>,
}

/// One publish for the driver to put on the wire itself
/// ([`Connection::publish_into`]): `PUB <prefix>.<channel> <reply>` with `payload`.
#[derive(Debug)]
pub struct PubFrame<'a> {
    pub prefix: &'a str,
    pub channel: &'a str,
    pub reply: &'a str,
    pub payload: &'a [u8],
}

/// One ack for the driver to put on the wire itself
/// ([`Connection::ack_into`]): `PUB <subject>` with `payload`.
#[derive(Debug)]
pub struct AckFrame<'a> {
    pub subject: &'a str,
    pub payload: &'a [u8],
}

impl Connection {
    /// Start a session: validates `config`, then queues the SUBs of the
    /// heartbeat inbox, ack subject, ping inbox and response inbox, and the
    /// ConnectRequest. `seed` feeds the NUID generator behind every inbox,
    /// connID and guid (pass fresh randomness in production).
    pub fn new(config: ConnectConfig, seed: u64, now: Duration) -> Result<Self, Error> {
        config.validate()?;
        let mut nuid = Nuid::from_seed(seed);
        let conn_id = Bytes::from(nuid.next_string().into_bytes());
        let heartbeat_inbox = format!("_INBOX.{}", nuid.next_string());
        let ack_subject = format!("_STAN.acks.{}", nuid.next_string());
        let ping_inbox = format!("_INBOX.{}", nuid.next_string());
        let response_prefix = format!("_INBOX.{}", nuid.next_string());
        let mut c = Connection {
            config,
            nuid,
            state: State::Connecting,
            now,
            conn_id,
            heartbeat_inbox,
            ack_subject,
            ping_inbox,
            response_prefix,
            ping_subscribed: true,
            server: None,
            next_sid: FIRST_SUB_SID,
            requests: RequestTable::default(),
            pubs: PubAckTracker::default(),
            subs: SubTable::default(),
            ping: None,
            max_payload: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            scratch: Vec::new(),
        };
        for (sid, subject) in [
            (SID_HEARTBEAT, c.heartbeat_inbox.clone()),
            (SID_PUB_ACKS, c.ack_subject.clone()),
            (SID_PING, c.ping_inbox.clone()),
            (SID_RESPONSES, format!("{}.*", c.response_prefix)),
        ] {
            c.transmits.push_back(NatsOp::Subscribe { sid, subject });
        }
        let req = stan_proto::ConnectRequest {
            client_id: c.config.client_id.clone(),
            heartbeat_inbox: c.heartbeat_inbox.clone(),
            protocol: stan_proto::PROTOCOL_ONE,
            conn_id: c.conn_id.clone(),
            ping_interval: c.config.ping_interval_secs(),
            ping_max_out: c.config.ping_max_out,
        };
        let subject = format!("{}.{}", c.config.discover_prefix, c.config.cluster_id);
        c.request(RequestKind::Connect, subject, stan_proto::encode(&req));
        Ok(c)
    }

    // ---- getters ----

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }
    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
    /// The configuration the session runs with.
    pub fn config(&self) -> &ConnectConfig {
        &self.config
    }
    /// The cluster ID.
    pub fn cluster_id(&self) -> &str {
        &self.config.cluster_id
    }
    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }
    /// The connection ID: the UTF-8 bytes of a NUID.
    pub fn conn_id(&self) -> &[u8] {
        &self.conn_id
    }
    /// The subject PubAcks arrive on (`_STAN.acks.<nuid>`).
    pub fn ack_subject(&self) -> &str {
        &self.ack_subject
    }
    /// The inbox the server heartbeats.
    pub fn heartbeat_inbox(&self) -> &str {
        &self.heartbeat_inbox
    }
    /// The inbox ping replies arrive on.
    pub fn ping_inbox(&self) -> &str {
        &self.ping_inbox
    }
    /// The subjects from the ConnectResponse, once connected.
    pub fn server_subjects(&self) -> Option<&ServerSubjects> {
        self.server.as_ref()
    }
    /// The ping interval in force (the server's echo), if pings run.
    pub fn ping_interval(&self) -> Option<Duration> {
        self.ping.as_ref().map(|p| p.interval())
    }
    /// The ping max-out in force (the server's echo), if pings run.
    pub fn ping_max_out(&self) -> Option<i32> {
        self.ping.as_ref().map(|p| p.max_out())
    }
    /// Pings sent without a reply so far.
    pub fn pings_outstanding(&self) -> i32 {
        self.ping.as_ref().map_or(0, |p| p.outstanding())
    }
    /// The NATS server's `max_payload`, if the driver set it.
    pub fn max_payload(&self) -> Option<usize> {
        self.max_payload
    }

    /// The NATS server's `max_payload` (from its INFO; call again after a
    /// reconnect). Publishes whose encoded PubMsg is larger then fail at
    /// once with [`Error::MaxPayloadExceeded`]; 0 means unknown.
    pub fn set_max_payload(&mut self, max: usize) {
        self.max_payload = (max > 0).then_some(max);
    }

    /// Publishes waiting for their ack.
    pub fn pending_pub_acks(&self) -> usize {
        self.pubs.len()
    }
    /// A view of one subscription, while it exists.
    pub fn subscription(&self, sub: SubId) -> Option<SubscriptionInfo> {
        self.subs.info(sub)
    }

    // ---- outputs ----

    /// The next NATS operation to perform.
    pub fn poll_transmit(&mut self) -> Option<NatsOp> {
        self.transmits.pop_front()
    }

    /// The next application event.
    /// True when [`Connection::poll_event`] has something.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Connection::handle_timeout`] has work.
    pub fn poll_timeout(&mut self) -> Option<Duration> {
        if self.state == State::Closed {
            return None;
        }
        let ping = self.ping.as_ref().map(|p| p.deadline());
        [self.requests.next_deadline(), self.pubs.next_deadline(), ping].into_iter().flatten().min()
    }

    // ---- shared helpers ----

    fn advance(&mut self, now: Duration) -> Duration {
        self.now = self.now.max(now);
        self.now
    }

    fn next_inbox(&mut self) -> String {
        format!("_INBOX.{}", self.nuid.next_string())
    }

    fn alloc_sid(&mut self) -> Sid {
        self.next_sid += 1;
        Sid(self.next_sid)
    }

    fn publish_raw(&mut self, subject: String, reply: Option<String>, payload: impl Into<Bytes>) {
        self.transmits.push_back(NatsOp::Publish { subject, reply, payload: payload.into() });
    }

    /// Send a request whose reply comes back on the response inbox.
    fn request(&mut self, kind: RequestKind, subject: String, payload: Vec<u8>) {
        let token = self.requests.start(kind, self.now + self.config.connect_timeout);
        let reply = format!("{}.{}", self.response_prefix, token);
        self.publish_raw(subject, Some(reply), payload);
    }

    /// End one subscription: UNSUB its inbox unless already done, forget its
    /// requests, and emit `SubEnded`.
    fn end_sub(&mut self, sub: SubId) {
        if let Some(s) = self.subs.remove(sub) {
            if !s.detached {
                self.transmits.push_back(NatsOp::Unsubscribe { sid: s.sid });
            }
            self.requests.forget_sub(sub);
            self.events.push_back(Event::SubEnded { sub });
        }
    }

    /// End every subscription; operations still waiting for a reply fail with `err`.
    fn end_all_subs(&mut self, err: &Error) {
        for id in self.subs.ids() {
            if let Some(s) = self.subs.get(id) {
                let op = match s.phase {
                    Phase::Held | Phase::Requested => Some(SubOp::Subscribe),
                    Phase::Closing(op) => Some(op),
                    Phase::Ready => None,
                };
                if let Some(op) = op {
                    self.events.push_back(Event::SubError { sub: id, op, error: err.clone() });
                }
                if let Some(op) = s.deferred {
                    if op != SubOp::Subscribe {
                        self.events.push_back(Event::SubError { sub: id, op, error: err.clone() });
                    }
                }
            }
            self.end_sub(id);
        }
    }

    /// Fail every outstanding publish with `err`.
    fn fail_all_pubs(&mut self, err: &Error) {
        for guid in self.pubs.take_all() {
            self.events.push_back(Event::PubAck { guid: guid.as_str().to_string(), result: Err(err.clone()) });
        }
    }

    /// Final step of every session: UNSUB the internal inboxes, emit `Closed`.
    fn finish(&mut self, result: Result<(), Error>) {
        self.requests.clear();
        self.ping = None;
        let mut sids = vec![SID_HEARTBEAT, SID_PUB_ACKS, SID_RESPONSES];
        if self.ping_subscribed {
            sids.insert(2, SID_PING);
            self.ping_subscribed = false;
        }
        for sid in sids {
            self.transmits.push_back(NatsOp::Unsubscribe { sid });
        }
        self.state = State::Closed;
        self.events.push_back(Event::Closed(result));
    }

    /// The session died (handshake failure or lost connection).
    fn die(&mut self, reason: Event, err: Error) {
        self.fail_all_pubs(&err);
        self.end_all_subs(&err);
        self.events.push_back(reason);
        self.finish(Ok(()));
    }
}

#[cfg(test)]
mod tests;
