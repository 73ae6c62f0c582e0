//! The server's protocol core, with no I/O: clients, channels, subscriptions
//! and delivery as plain data, driven by `handle_*` calls that carry the
//! current time, and drained through [`State::take_wire`],
//! [`State::take_probes`] and [`State::take_records`] (NATS publishes,
//! probes and journal records for the driver to perform).

mod ack_wait;
mod bodies;
pub mod channel;
mod clients;
mod delivery;
#[cfg(test)]
mod fuzz_tests;
pub mod guids;
mod inactivity;
mod output;
mod pending;
mod publish;
pub mod recovery;
mod shared_msg;
mod subscribe;
#[cfg(test)]
mod tests;
mod timers;
mod wire;

use crate::store::Record;
use bytes::Bytes;
use channel::{ChannelLimits, MsgLog};
#[cfg(test)]
pub use output::Out;
use output::Output;
pub use output::Probe;
use std::collections::{BTreeMap, HashMap};

/// Identifies a subscription inside one server run.
pub type SubId = u64;

/// Hashes [`SubId`]s with one multiply (FxHash style). They are small
/// integers the server allocates itself, so SipHash's protection against
/// chosen keys buys nothing on this hot path.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// A map keyed by subscription ID.
pub type SubMap<V> = HashMap<SubId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Hashes strings the server generated itself (ack inboxes: a prefix and a
/// NUID) eight bytes at a time; every ack looks one up.
#[derive(Clone, Copy, Debug, Default)]
pub struct InboxHasher(IdHasher);

impl std::hash::Hasher for InboxHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.0.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.0.write_u64(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }
    fn write_u8(&mut self, n: u8) {
        self.0.write_u64(n as u64);
    }
}

/// A map keyed by ack inbox.
pub type InboxMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<InboxHasher>>;

/// Settings of the protocol core (from the command line).
#[derive(Clone, Debug)]
pub struct Config {
    pub cluster_id: String,
    pub discover_prefix: String,
    /// Heartbeat interval, timeout (ms) and tolerated consecutive failures.
    pub hb_interval_ms: u64,
    pub hb_timeout_ms: u64,
    pub hb_fail_count: u32,
    pub max_channels: usize,
    pub max_subs: usize,
    pub limits: ChannelLimits,
    pub replace_durable: bool,
    /// Whether records are wanted (false for the memory store, to save work).
    pub persist: bool,
    /// Largest stored message (its encoded MsgProto) the store can hold; 0:
    /// no limit. Bigger publishes get a PubAck error (e.g. MySQL's `BLOB`).
    pub max_stored_msg: u64,
    /// `-mi`: a channel without active subscriptions nor new messages for
    /// this long (ms) is deleted; 0: channels are kept.
    pub max_inactivity_ms: u64,
}

impl Config {
    pub fn new(cluster_id: &str) -> Self {
        Config {
            cluster_id: cluster_id.to_string(),
            discover_prefix: stan_proto::DEFAULT_DISCOVER_PREFIX.to_string(),
            hb_interval_ms: 30_000,
            hb_timeout_ms: 10_000,
            hb_fail_count: 10,
            max_channels: 100,
            max_subs: 1000,
            limits: ChannelLimits::default(),
            replace_durable: false,
            persist: false,
            max_stored_msg: 0,
            max_inactivity_ms: 0,
        }
    }
}

/// The subjects this server listens on.
#[derive(Clone, Debug)]
pub struct Subjects {
    pub discover: String,
    pub pings: String,
    pub pub_prefix: String,
    pub sub: String,
    pub unsub: String,
    pub sub_close: String,
    pub close: String,
    /// Prefix of every ack inbox (`<prefix>.<nuid>`); the server subscribes `<prefix>.>`.
    pub ack_prefix: String,
}

impl Subjects {
    pub fn new(cfg: &Config) -> Self {
        let c = &cfg.cluster_id;
        let discover = format!("{}.{}", cfg.discover_prefix, c);
        Subjects {
            pings: format!("{discover}.pings"),
            discover,
            pub_prefix: format!("_STAN.pub.{c}"),
            sub: format!("_STAN.sub.{c}"),
            unsub: format!("_STAN.unsub.{c}"),
            sub_close: format!("_STAN.subclose.{c}"),
            close: format!("_STAN.close.{c}"),
            ack_prefix: format!("_STAN.ack.{c}"),
        }
    }
}

/// A registered client connection.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub hb_inbox: String,
    pub conn_id: Bytes,
    pub protocol: i32,
    pub ping_interval: i32,
    pub ping_max_out: i32,
    /// Live subscriptions of this client.
    pub subs: Vec<SubId>,
    /// Consecutive failed heartbeats.
    pub hb_fails: u32,
    /// When the next heartbeat is due (ms), `None` while one is in flight.
    pub next_hb: Option<u64>,
}

/// A message sent to a subscription and not yet acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// When it is redelivered if still unacknowledged (ms).
    pub deadline: u64,
    /// How many times it was redelivered.
    pub redeliveries: u32,
}

/// A subscription (online or an offline durable).
#[derive(Clone, Debug)]
pub struct Sub {
    pub id: SubId,
    pub channel: String,
    /// For durables this stays set while offline (it is part of the durable key).
    pub client_id: String,
    pub inbox: String,
    pub ack_inbox: String,
    pub durable_name: String,
    /// Queue group key (`queue`, or `durable:queue` for a durable group).
    pub queue: String,
    pub is_durable: bool,
    pub max_in_flight: u32,
    pub ack_wait_secs: i32,
    pub last_sent: u64,
    pub pending: pending::PendingSet,
    /// Ack-wait deadlines of `pending`, in send order.
    pub ack_queue: ack_wait::AckQueue,
    pub offline: bool,
}

impl Sub {
    pub fn is_stalled(&self) -> bool {
        self.pending.len() as u64 >= self.max_in_flight as u64
    }
    pub fn ack_wait_ms(&self) -> u64 {
        self.ack_wait_secs.max(1) as u64 * 1000
    }
}

/// A queue group on one channel.
#[derive(Clone, Debug, Default)]
pub struct QueueGroup {
    /// Online members (for an offline durable group: empty, see `shadow`).
    pub members: Vec<SubId>,
    /// The offline durable group's retained state.
    pub shadow: Option<SubId>,
    pub last_sent: u64,
    pub next_rr: usize,
    pub is_durable: bool,
}

/// A channel: its messages and its subscriptions.
#[derive(Debug, Default)]
pub struct Channel {
    pub name: String,
    pub log: MsgLog,
    /// Plain (non-queue) subscriptions, including offline durables.
    pub plain: Vec<SubId>,
    pub queues: BTreeMap<String, QueueGroup>,
    /// `clientID:durable` → plain durable subscription.
    pub durables: HashMap<String, SubId>,
    /// Its `-mi` inactivity timer.
    pub idle: inactivity::Idle,
}

impl Channel {
    pub fn new(name: &str) -> Self {
        Channel { name: name.to_string(), log: MsgLog::new(name), ..Default::default() }
    }
    /// Number of subscriptions the reference reports (`subs_count`).
    pub fn subs_count(&self) -> usize {
        self.plain.len() + self.queues.values().map(|q| q.members.len() + q.shadow.iter().count()).sum::<usize>()
    }
}

/// Timers of the core, ordered by deadline.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The earliest ack-wait deadline of a subscription's [`ack_wait::AckQueue`].
    AckWait(SubId),
    /// One message whose deadline is out of its subscription's queue order.
    Redeliver(SubId, u64),
    Heartbeat(String),
    /// A channel's `-mi` inactivity period may be over.
    ChannelIdle(String),
}

/// What a [`Probe`] asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Heartbeat {
        client_id: String,
        conn_id: Bytes,
    },
    /// A duplicate-client-ID check of a waiting connect request.
    Duplicate {
        token: u64,
    },
}

/// Message and byte counters for monitoring.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// A connect request waiting for the duplicate-ID probe.
#[derive(Clone, Debug)]
struct WaitingConnect {
    reply: String,
    req: stan_proto::ConnectRequest,
}

/// The whole server state.
pub struct State {
    pub cfg: Config,
    pub subjects: Subjects,
    pub clients: BTreeMap<String, Client>,
    /// Client by connection ID (every publish looks its own up): a fast
    /// hasher, seeded per process since the IDs come from clients.
    conn_ids: HashMap<Bytes, String, foldhash::fast::RandomState>,
    pub channels: BTreeMap<String, Channel>,
    pub subs: SubMap<Sub>,
    ack_inboxes: InboxMap<SubId>,
    next_sub_id: SubId,
    timers: timers::Timers,
    waiting: HashMap<u64, WaitingConnect>,
    probing: HashMap<String, u64>,
    next_token: u64,
    nuid: stan_proto::Nuid,
    pub counters: Counters,
    out: Output,
    /// The message being fanned out to a channel's subscriptions, encoded once.
    shared_msg: shared_msg::SharedMsg,
    records: Vec<Record>,
    /// Publish de-duplication by GUID (JetStream store only; `None`: off).
    pub guids: Option<guids::GuidWindow>,
    /// Where message bodies are read when the store keeps them on disk.
    bodies: Option<crate::store::Bodies>,
}

impl State {
    pub fn new(cfg: Config) -> Self {
        let subjects = Subjects::new(&cfg);
        State {
            cfg,
            subjects,
            clients: BTreeMap::new(),
            conn_ids: HashMap::default(),
            channels: BTreeMap::new(),
            subs: SubMap::default(),
            ack_inboxes: InboxMap::default(),
            next_sub_id: 1,
            timers: Default::default(),
            waiting: HashMap::new(),
            probing: HashMap::new(),
            next_token: 1,
            nuid: stan_proto::Nuid::new(),
            counters: Counters::default(),
            out: Output::default(),
            shared_msg: Default::default(),
            records: Vec::new(),
            guids: None,
            bodies: None,
        }
    }

    /// Drain the NATS work produced so far (probes first, then every publish).
    #[cfg(test)]
    pub fn take_out(&mut self) -> Vec<Out> {
        self.out.take_list()
    }

    /// The `PUB` ops produced so far, as wire bytes; `spare` (empty) takes
    /// their place and receives the next ones.
    pub fn take_wire(&mut self, spare: Vec<u8>) -> Vec<u8> {
        debug_assert!(spare.is_empty());
        std::mem::replace(&mut self.out.wire, spare)
    }

    /// The probes requested so far.
    pub fn take_probes(&mut self) -> Vec<Probe> {
        std::mem::take(&mut self.out.probes)
    }

    /// Drain the journal records produced so far (always empty without `persist`).
    pub fn take_records(&mut self) -> Vec<Record> {
        let records = std::mem::take(&mut self.records);
        self.forget_journaled_bodies(&records);
        records
    }

    /// Whether there is output waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || !self.records.is_empty()
    }

    /// The earliest timer deadline (ms), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.first().map(|(d, _)| *d)
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some((d, _)) = self.timers.first() {
            if *d > now {
                break;
            }
            let Some((d, t)) = self.timers.pop_first() else { break };
            match t {
                Timer::AckWait(sub) => self.ack_wait_due(sub, d, now),
                Timer::Redeliver(sub, seq) => self.redeliver_due(sub, seq, d, now),
                Timer::Heartbeat(cid) => self.heartbeat_due(&cid, d),
                Timer::ChannelIdle(ch) => self.channel_idle_due(&ch, d, now),
            }
        }
    }

    /// Answer request `reply` (if it has one) with `msg`.
    fn reply<M: prost::Message>(&mut self, reply: &str, msg: &M) {
        if reply.is_empty() {
            return;
        }
        self.out.publish_msg(reply, msg);
    }

    fn record(&mut self, r: impl FnOnce() -> Record) {
        if self.cfg.persist {
            self.records.push(r());
        }
    }

    fn new_ack_inbox(&mut self) -> String {
        format!("{}.{}", self.subjects.ack_prefix, self.nuid.next_string())
    }

    fn alloc_sub_id(&mut self) -> SubId {
        let id = self.next_sub_id;
        self.next_sub_id += 1;
        id
    }

    /// Total number of subscriptions, as `serverz` counts them.
    pub fn total_subs(&self) -> usize {
        self.channels.values().map(|c| c.subs_count()).sum()
    }

    /// Stored messages and bytes over all channels.
    pub fn totals(&self) -> (u64, u64) {
        self.channels.values().fold((0, 0), |(m, b), c| (m + c.log.len() as u64, b + c.log.bytes()))
    }
}
