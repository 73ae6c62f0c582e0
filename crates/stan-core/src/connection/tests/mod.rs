//! Scripted-peer harness for the session tests: it plays the NATS server
//! (routing published messages to the session's subscriptions by subject)
//! and the STAN server (answering requests), on a fake clock.

mod connect;
mod lifecycle;
mod publish;
mod subscribe;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use crate::{ConnectConfig, Connection, Event, IncomingMessage, NatsOp, Sid};

pub(super) const CLUSTER: &str = "test-cluster";
pub(super) const CLIENT: &str = "me";

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A publish the session made.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub subject: String,
    pub reply: Option<String>,
    pub payload: Bytes,
}

impl Sent {
    pub fn decode<M: prost::Message + Default>(&self) -> M {
        stan_proto::decode(&self.payload).expect("decodable payload")
    }
}

/// The fake peer.
pub(super) struct Peer {
    pub c: Connection,
    pub now: Duration,
    /// Live NATS subscriptions of the session.
    pub subs: BTreeMap<Sid, String>,
    /// Publishes not yet inspected.
    pub sent: Vec<Sent>,
    /// Every UNSUB seen.
    pub unsubs: Vec<Sid>,
}

fn matches(pattern: &str, subject: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(a, b)| *a == "*" || a == b)
}

pub(super) fn config() -> ConnectConfig {
    let mut c = ConnectConfig::new(CLUSTER, CLIENT);
    c.ping_interval = Duration::from_secs(1);
    c.ping_max_out = 2;
    c.ack_timeout = Duration::from_secs(5);
    c
}

pub(super) fn connect_response() -> stan_proto::ConnectResponse {
    stan_proto::ConnectResponse {
        pub_prefix: format!("_STAN.pub.{CLUSTER}"),
        sub_requests: format!("_STAN.sub.{CLUSTER}"),
        unsub_requests: format!("_STAN.unsub.{CLUSTER}"),
        close_requests: format!("_STAN.close.{CLUSTER}"),
        sub_close_requests: format!("_STAN.subclose.{CLUSTER}"),
        ping_requests: format!("_STAN.discover.{CLUSTER}.pings"),
        ping_interval: 1,
        ping_max_out: 2,
        protocol: 1,
        ..Default::default()
    }
}

impl Peer {
    pub fn new(config: ConnectConfig) -> Self {
        let c = Connection::new(config, 7, Duration::ZERO).expect("valid config");
        let mut p = Peer { c, now: Duration::ZERO, subs: BTreeMap::new(), sent: Vec::new(), unsubs: Vec::new() };
        p.pump();
        p
    }

    /// A session whose handshake completed with [`connect_response`].
    pub fn connected() -> Self {
        Self::connected_with(config(), connect_response())
    }

    /// Connected, with pings every 100 s so they stay out of the way.
    pub fn quiet() -> Self {
        let mut cfg = config();
        cfg.ping_interval = Duration::from_secs(100);
        Self::connected_with(cfg, stan_proto::ConnectResponse { ping_interval: 100, ..connect_response() })
    }

    pub fn connected_with(config: ConnectConfig, resp: stan_proto::ConnectResponse) -> Self {
        let mut p = Self::new(config);
        let req = p.take(&format!("_STAN.discover.{CLUSTER}"));
        p.respond(&req, &resp);
        assert_eq!(p.events(), vec![Event::Connected]);
        p
    }

    /// Move the session's queued NATS operations into the peer's view.
    pub fn pump(&mut self) {
        while let Some(op) = self.c.poll_transmit() {
            match op {
                NatsOp::Subscribe { sid, subject } => {
                    assert!(self.subs.insert(sid, subject).is_none(), "sid reused");
                }
                NatsOp::Unsubscribe { sid } => {
                    assert!(self.subs.remove(&sid).is_some(), "UNSUB of unknown sid {sid:?}");
                    self.unsubs.push(sid);
                }
                NatsOp::Publish { subject, reply, payload } => self.sent.push(Sent { subject, reply, payload }),
            }
        }
    }

    pub fn events(&mut self) -> Vec<Event> {
        self.pump();
        std::iter::from_fn(|| self.c.poll_event()).collect()
    }

    /// Remove and return the only pending publish to `subject`.
    pub fn take(&mut self, subject: &str) -> Sent {
        self.pump();
        let found: Vec<usize> =
            self.sent.iter().enumerate().filter(|(_, s)| s.subject == subject).map(|(i, _)| i).collect();
        assert_eq!(found.len(), 1, "expected one publish to {subject}, have {:?}", self.sent);
        self.sent.remove(found[0])
    }

    /// Remove and return every pending publish.
    pub fn take_all(&mut self) -> Vec<Sent> {
        self.pump();
        std::mem::take(&mut self.sent)
    }

    /// Deliver a NATS message to every matching subscription of the session.
    pub fn deliver(&mut self, subject: &str, reply: Option<&str>, payload: impl Into<Bytes>) {
        let payload = payload.into();
        let targets: Vec<Sid> =
            self.subs.iter().filter(|(_, pat)| matches(pat, subject)).map(|(sid, _)| *sid).collect();
        for sid in targets {
            let m = IncomingMessage {
                sid,
                subject: subject.to_string(),
                reply: reply.map(str::to_string),
                payload: payload.clone(),
            };
            self.c.handle_message(self.now, m);
        }
        self.pump();
    }

    /// Answer request `req` with `resp`.
    pub fn respond<M: prost::Message>(&mut self, req: &Sent, resp: &M) {
        let reply = req.reply.clone().expect("request has a reply subject");
        self.deliver(&reply, None, stan_proto::encode(resp));
    }

    /// Move the clock to `at` and fire timers.
    pub fn at(&mut self, at: Duration) {
        self.now = at;
        self.c.handle_timeout(at);
        self.pump();
    }
}
