//! Property tests (proptest) of the protocol core: random sequences of
//! requests — well-formed ones with random fields, and arbitrary bytes to
//! every handler — with random clock jumps and probe outcomes. After every
//! step the state must be consistent and bounded (limits hold, no dangling
//! subscription, timer or connection entry); at the end, replaying the
//! journal records and replaying the snapshot must both rebuild the same
//! state. `STAN_LONG_TESTS=1` runs many more and longer sequences.

use super::*;
use proptest::prelude::*;
use stan_proto::*;

const CLIENTS: [&str; 3] = ["a", "b", "c"];
const CHANNELS: [&str; 4] = ["foo", "bar", "baz.q", "foo.*"];

fn long_run() -> bool {
    std::env::var_os("STAN_LONG_TESTS").is_some_and(|v| v == "1")
}

#[derive(Clone, Debug)]
enum Op {
    Connect {
        client: usize,
        conn: u8,
        hb: u8,
    },
    Publish {
        client: usize,
        conn: Option<u8>,
        chan: usize,
        len: usize,
    },
    Subscribe {
        client: usize,
        chan: usize,
        queue: Option<u8>,
        durable: Option<u8>,
        mif: i32,
        ack_wait: i32,
        start: i32,
        seq: u64,
        delta: i64,
    },
    Unsub {
        client: usize,
        chan: usize,
        ack: prop::sample::Index,
        close: bool,
        durable: Option<u8>,
    },
    Ack {
        ack: prop::sample::Index,
        seq: u64,
        chan: usize,
    },
    Close {
        client: usize,
    },
    Ping {
        conn: u8,
    },
    Raw {
        handler: u8,
        bytes: Vec<u8>,
    },
    Advance {
        ms: u64,
    },
    Probes {
        answered: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLIENTS.len();
    let ch = 0..CHANNELS.len();
    prop_oneof![
        3 => (c.clone(), 0u8..4, prop_oneof![1 => Just(0u8), 6 => 1u8..3]).prop_map(|(client, conn, hb)| Op::Connect { client, conn, hb }),
        8 => (c.clone(), prop_oneof![4 => Just(None), 1 => (0u8..4).prop_map(Some)], ch.clone(), 0usize..300).prop_map(|(client, conn, chan, len)| Op::Publish { client, conn, chan, len }),
        3 => (c.clone(), ch.clone(), proptest::option::of(0u8..2), proptest::option::of(0u8..2), prop_oneof![6 => 1i32..5, 1 => -1i32..1], prop_oneof![6 => 1i32..3, 1 => -1i32..1],
              prop_oneof![6 => 0i32..5, 1 => -1i32..7], 0u64..40, -5_000_000_000i64..5_000_000_000)
            .prop_map(|(client, chan, queue, durable, mif, ack_wait, start, seq, delta)| Op::Subscribe {
                client, chan, queue, durable, mif, ack_wait, start, seq, delta
            }),
        2 => (c.clone(), ch.clone(), any::<prop::sample::Index>(), any::<bool>(), proptest::option::of(0u8..2))
            .prop_map(|(client, chan, ack, close, durable)| Op::Unsub { client, chan, ack, close, durable }),
        5 => (any::<prop::sample::Index>(), 0u64..40, ch.clone()).prop_map(|(ack, seq, chan)| Op::Ack { ack, seq, chan }),
        1 => c.prop_map(|client| Op::Close { client }),
        1 => (0u8..5).prop_map(|conn| Op::Ping { conn }),
        2 => (0u8..7, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(handler, bytes)| Op::Raw { handler, bytes }),
        3 => prop_oneof![6 => 0u64..2_000, 2 => 0u64..40_000, 1 => Just(1_000_000)].prop_map(|ms| Op::Advance { ms }),
        2 => prop_oneof![3 => Just(true), 1 => Just(false)].prop_map(|answered| Op::Probes { answered }),
    ]
}

struct Fuzz {
    st: State,
    now: u64,
    wall: i64,
    /// Ack inboxes handed out in subscription responses.
    acks: Vec<String>,
    probes: Vec<ProbeKind>,
    records: Vec<Record>,
}

fn cfg() -> Config {
    let mut cfg = Config::new("c");
    cfg.hb_interval_ms = 1000;
    cfg.hb_timeout_ms = 500;
    cfg.hb_fail_count = 2;
    cfg.max_channels = 2;
    cfg.max_subs = 4;
    cfg.limits = ChannelLimits { max_msgs: 12, max_bytes: 2_000, max_age_ns: 30_000_000_000 };
    cfg.persist = true;
    cfg
}

impl Fuzz {
    fn new() -> Self {
        Fuzz {
            st: State::new(cfg()),
            now: 0,
            wall: 1_000_000_000_000,
            acks: Vec::new(),
            probes: Vec::new(),
            records: Vec::new(),
        }
    }

    fn step(&mut self, op: &Op) {
        let conn = |client: usize, n: u8| Bytes::from(format!("conn-{}-{n}", CLIENTS[client]));
        match op.clone() {
            Op::Connect { client, conn: n, hb } => {
                let req = ConnectRequest {
                    client_id: CLIENTS[client].into(),
                    heartbeat_inbox: if hb == 0 { String::new() } else { format!("hb.{}.{hb}", CLIENTS[client]) },
                    protocol: 1,
                    conn_id: conn(client, n),
                    ping_interval: 5,
                    ping_max_out: 3,
                };
                self.st.handle_connect("r.connect", &encode(&req), self.now);
            }
            Op::Publish { client, conn: n, chan, len } => {
                self.wall += 1_000_000;
                // Mostly the client's registered connection ID, sometimes another.
                let registered = self.st.clients.get(CLIENTS[client]).map(|c| c.conn_id.clone());
                let conn_id = match (n, registered) {
                    (None, Some(id)) => id,
                    (n, _) => conn(client, n.unwrap_or(0)),
                };
                let pm = encode_pub_msg(
                    CLIENTS[client],
                    &format!("g{}", self.wall),
                    CHANNELS[chan],
                    &vec![7u8; len],
                    &conn_id,
                );
                self.st.handle_publish("r.pub", &pm, self.now, self.wall);
            }
            Op::Subscribe { client, chan, queue, durable, mif, ack_wait, start, seq, delta } => {
                let req = SubscriptionRequest {
                    client_id: CLIENTS[client].into(),
                    subject: CHANNELS[chan].into(),
                    q_group: queue.map(|q| format!("q{q}")).unwrap_or_default(),
                    inbox: format!("in.{}.{}", CLIENTS[client], self.acks.len()),
                    max_in_flight: mif,
                    ack_wait_in_secs: ack_wait,
                    durable_name: durable.map(|d| format!("d{d}")).unwrap_or_default(),
                    start_position: start,
                    start_sequence: seq,
                    start_time_delta: delta,
                };
                self.st.handle_subscribe("r.sub", &encode(&req), self.now, self.wall);
            }
            Op::Unsub { client, chan, ack, close, durable } => {
                let inbox = if self.acks.is_empty() {
                    "none".to_string()
                } else {
                    self.acks[ack.index(self.acks.len())].clone()
                };
                let req = UnsubscribeRequest {
                    client_id: CLIENTS[client].into(),
                    subject: CHANNELS[chan].into(),
                    inbox,
                    durable_name: durable.map(|d| format!("d{d}")).unwrap_or_default(),
                };
                self.st.handle_unsubscribe("r.unsub", &encode(&req), close, self.now);
            }
            Op::Ack { ack, seq, chan } => {
                if !self.acks.is_empty() {
                    let inbox = self.acks[ack.index(self.acks.len())].clone();
                    let a = Ack { subject: CHANNELS[chan].into(), sequence: seq };
                    self.st.handle_ack(&inbox, &encode(&a), self.now);
                }
            }
            Op::Close { client } => {
                self.st.handle_close("r.close", &encode(&CloseRequest { client_id: CLIENTS[client].into() }), self.now);
            }
            Op::Ping { conn: n } => {
                let p = Ping { conn_id: if n == 4 { Bytes::new() } else { conn(usize::from(n) % 3, n) } };
                self.st.handle_ping("r.ping", &encode(&p), self.now);
            }
            Op::Raw { handler, bytes } => match handler {
                0 => self.st.handle_connect("r.raw", &bytes, self.now),
                1 => self.st.handle_publish("r.raw", &bytes, self.now, self.wall),
                2 => self.st.handle_subscribe("r.raw", &bytes, self.now, self.wall),
                3 => self.st.handle_unsubscribe("r.raw", &bytes, bytes.len() % 2 == 0, self.now),
                4 => self.st.handle_close("r.raw", &bytes, self.now),
                5 => self.st.handle_ping("r.raw", &bytes, self.now),
                _ => {
                    let inbox = self.acks.first().cloned().unwrap_or_else(|| "_STAN.ack.c.x".into());
                    self.st.handle_ack(&inbox, &bytes, self.now)
                }
            },
            Op::Advance { ms } => {
                self.now += ms;
                self.wall += ms as i64 * 1_000_000;
                self.st.handle_timeout(self.now);
            }
            Op::Probes { answered } => {
                for kind in std::mem::take(&mut self.probes) {
                    self.st.handle_probe_result(kind, answered, self.now);
                }
            }
        }
        self.drain(op);
        self.check();
    }

    /// Takes the output: remembers ack inboxes and probes, and checks every
    /// publish goes to a subject this test handed out.
    fn drain(&mut self, op: &Op) {
        let out = self.st.take_out();
        let mut replies = 0;
        for o in out {
            match o {
                Out::Publish { subject, payload, .. } => {
                    if subject == "r.sub" {
                        let resp: SubscriptionResponse = decode(&payload).expect("subscription response");
                        if resp.error.is_empty() {
                            assert!(resp.ack_inbox.starts_with("_STAN.ack.c."), "{resp:?}");
                            self.acks.push(resp.ack_inbox);
                        }
                    }
                    if subject.starts_with("r.") {
                        replies += 1;
                    } else {
                        assert!(
                            subject.starts_with("in.") || subject.starts_with("hb."),
                            "publish to {subject:?} after {op:?}"
                        );
                    }
                }
                Out::Probe { kind, subject, timeout_ms } => {
                    assert!(subject.starts_with("hb."), "probe of {subject:?}");
                    assert!(timeout_ms > 0);
                    self.probes.push(kind);
                }
            }
        }
        // At most one reply per request (a connect may answer later, after its probe).
        assert!(
            replies <= 1 + usize::from(matches!(op, Op::Probes { .. })) * CLIENTS.len(),
            "{replies} replies to {op:?}"
        );
        self.records.extend(self.st.take_records());
    }

    /// The state is consistent and within its limits.
    fn check(&self) {
        check_state(&self.st);
        assert!(self.st.waiting.len() <= self.probes.len().max(self.st.waiting.len()));
        assert_eq!(self.st.waiting.len(), self.st.probing.len());
    }
}

fn check_state(st: &State) {
    let cfg = &st.cfg;
    assert!(st.clients.len() <= CLIENTS.len());
    assert!(st.channels.len() <= cfg.max_channels, "{} channels", st.channels.len());
    for (name, ch) in &st.channels {
        assert!(is_valid_channel(name));
        assert!(ch.log.len() as u64 <= cfg.limits.max_msgs, "{name}: {} msgs", ch.log.len());
        assert!(ch.log.bytes() <= cfg.limits.max_bytes || ch.log.len() <= 1);
        assert!(ch.subs_count() <= cfg.max_subs, "{name}: {} subs", ch.subs_count());
        for sid in ch.plain.iter().chain(ch.durables.values()) {
            assert_eq!(st.subs[sid].channel, *name);
        }
        for q in ch.queues.values() {
            for sid in q.members.iter().chain(q.shadow.iter()) {
                assert_eq!(st.subs[sid].channel, *name);
            }
        }
    }
    let mut pending = 0;
    for (sid, s) in &st.subs {
        let ch = st.channels.get(&s.channel).expect("sub on a live channel");
        if s.offline {
            assert!(s.is_durable, "offline non-durable sub {sid}");
        } else {
            let c = st.clients.get(&s.client_id).expect("online sub of a live client");
            assert!(c.subs.contains(sid));
            assert_eq!(st.ack_inboxes.get(&s.ack_inbox), Some(sid));
        }
        for seq in s.pending.seqs() {
            assert!(seq <= ch.log.last_seq() && seq <= s.last_sent.max(seq));
        }
        pending += s.pending.len();
    }
    for c in st.clients.values() {
        for sid in &c.subs {
            assert_eq!(st.subs[sid].client_id, c.id);
        }
        if let Some(d) = c.next_hb {
            assert!(st.timers.contains(&(d, Timer::Heartbeat(c.id.clone()))));
        }
    }
    assert!(st.ack_inboxes.len() <= st.subs.len());
    for (conn, id) in &st.conn_ids {
        assert!(st.clients.get(id).is_some_and(|c| c.conn_id == *conn), "stale conn ID entry for {id}");
    }
    // Timers: one heartbeat per client, one ack-wait timer per subscription,
    // at most one redelivery per pending message.
    assert!(
        st.timers.len() <= st.clients.len() + st.subs.len() + pending,
        "{} timers, {} clients, {pending} pending",
        st.timers.len(),
        st.clients.len()
    );
}

/// What must survive a restart: clients, channels with their messages, and
/// subscriptions with their positions.
/// Client IDs; per channel (name, first, last, count); per durable (channel, name, queue, position).
type DurableView = (Vec<String>, Vec<(String, u64, u64, usize)>, Vec<(String, String, String, u64)>);

fn durable_view(st: &State) -> DurableView {
    let clients = st.clients.keys().cloned().collect();
    let channels =
        st.channels.iter().map(|(n, c)| (n.clone(), c.log.first_seq(), c.log.last_seq(), c.log.len())).collect();
    let mut subs: Vec<_> = st
        .subs
        .values()
        .filter(|s| s.is_durable)
        .map(|s| {
            // A queue group delivers from the group's position; a member's
            // own `last_sent` is informational (a message handed over from a
            // leaving member counts on replay, not live).
            let pos = match st.channels[&s.channel].queues.get(&s.queue) {
                Some(q) if !s.queue.is_empty() => q.last_sent,
                _ => s.last_sent,
            };
            (s.channel.clone(), s.durable_name.clone(), s.queue.clone(), pos)
        })
        .collect();
    subs.sort();
    (clients, channels, subs)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if long_run() { 3_000 } else { 150 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_requests_keep_the_state_consistent_and_recoverable(
        ops in proptest::collection::vec(op(), 1..if long_run() { 400 } else { 120 })
    ) {
        let mut f = Fuzz::new();
        for op in &ops {
            f.step(op);
        }
        let want = durable_view(&f.st);
        let mut from_journal = State::new(cfg());
        from_journal.replay(f.records.clone(), f.now).expect("replay of the journal records");
        check_state(&from_journal);
        prop_assert_eq!(durable_view(&from_journal), want.clone());
        let mut from_snapshot = State::new(cfg());
        from_snapshot.replay(f.st.snapshot(), f.now).expect("replay of the snapshot");
        check_state(&from_snapshot);
        prop_assert_eq!(durable_view(&from_snapshot), want);
    }
}
