//! Unit tests of the protocol core: a scripted client against [`State`],
//! with the clock passed in by hand.

use super::*;
use stan_proto::*;

struct Harness {
    st: State,
    now: u64,
    wall: i64,
}

fn h() -> Harness {
    let mut cfg = Config::new("c");
    cfg.hb_interval_ms = 1000;
    cfg.hb_timeout_ms = 500;
    cfg.hb_fail_count = 2;
    Harness { st: State::new(cfg), now: 0, wall: 1_000_000_000 }
}

/// Messages delivered to `inbox` in the output, decoded.
fn msgs_to(out: &[Out], inbox: &str) -> Vec<MsgProto> {
    out.iter()
        .filter_map(|o| match o {
            Out::Publish { subject, payload, .. } if subject == inbox => decode::<MsgProto>(payload),
            _ => None,
        })
        .collect()
}

fn reply_to<M: prost::Message + Default>(out: &[Out], reply: &str) -> M {
    out.iter()
        .find_map(|o| match o {
            Out::Publish { subject, payload, .. } if subject == reply => decode::<M>(payload),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply on {reply} in {out:?}"))
}

impl Harness {
    fn connect(&mut self, id: &str) -> ConnectResponse {
        let req = ConnectRequest {
            client_id: id.into(),
            heartbeat_inbox: format!("hb.{id}"),
            protocol: 1,
            conn_id: bytes::Bytes::from(format!("conn-{id}")),
            ping_interval: 5,
            ping_max_out: 3,
        };
        self.st.handle_connect("r.connect", &encode(&req), self.now);
        reply_to(&self.st.take_out(), "r.connect")
    }

    fn subscribe(&mut self, id: &str, chan: &str, inbox: &str, f: impl FnOnce(&mut SubscriptionRequest)) -> String {
        let mut req = SubscriptionRequest {
            client_id: id.into(),
            subject: chan.into(),
            inbox: inbox.into(),
            max_in_flight: 100,
            ack_wait_in_secs: 30,
            ..Default::default()
        };
        f(&mut req);
        self.st.handle_subscribe("r.sub", &encode(&req), self.now, self.wall);
        let out = self.st.take_out();
        let resp: SubscriptionResponse = reply_to(&out, "r.sub");
        // put back deliveries for the caller
        self.st.out.put_back(
            out.into_iter().filter(|o| !matches!(o, Out::Publish { subject, .. } if subject == "r.sub")).collect(),
        );
        if resp.error.is_empty() {
            resp.ack_inbox
        } else {
            format!("ERR:{}", resp.error)
        }
    }

    fn publish(&mut self, id: &str, chan: &str, data: &str) -> PubAck {
        self.wall += 1000;
        let pm = PubMsg {
            client_id: id.into(),
            guid: format!("g{}", self.wall),
            subject: chan.into(),
            data: bytes::Bytes::from(data.to_string()),
            conn_id: bytes::Bytes::from(format!("conn-{id}")),
            ..Default::default()
        };
        self.st.handle_publish("r.ack", &encode(&pm), self.now, self.wall);
        let out = self.st.take_out();
        let ack: PubAck = reply_to(&out, "r.ack");
        self.st.out.put_back(
            out.into_iter().filter(|o| !matches!(o, Out::Publish { subject, .. } if subject == "r.ack")).collect(),
        );
        ack
    }

    fn ack(&mut self, ack_inbox: &str, chan: &str, seq: u64) {
        let a = Ack { subject: chan.into(), sequence: seq };
        self.st.handle_ack(ack_inbox, &encode(&a), self.now);
    }

    fn unsub(&mut self, id: &str, chan: &str, ack_inbox: &str, close: bool) -> String {
        let r = UnsubscribeRequest {
            client_id: id.into(),
            subject: chan.into(),
            inbox: ack_inbox.into(),
            ..Default::default()
        };
        self.st.handle_unsubscribe("r.unsub", &encode(&r), close, self.now);
        let out = self.st.take_out();
        let resp: SubscriptionResponse = reply_to(&out, "r.unsub");
        self.st.out.put_back(
            out.into_iter().filter(|o| !matches!(o, Out::Publish { subject, .. } if subject == "r.unsub")).collect(),
        );
        resp.error
    }

    fn close(&mut self, id: &str) -> String {
        self.st.handle_close("r.close", &encode(&CloseRequest { client_id: id.into() }), self.now);
        reply_to::<CloseResponse>(&self.st.take_out(), "r.close").error
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.st.handle_timeout(self.now);
    }
}

#[test]
fn connect_validates_ids_and_answers_subjects() {
    let mut t = h();
    let r = t.connect("a");
    assert_eq!(r.error, "");
    assert_eq!(r.pub_prefix, "_STAN.pub.c");
    assert_eq!(r.ping_requests, "_STAN.discover.c.pings");
    assert_eq!((r.ping_interval, r.ping_max_out, r.protocol), (5, 3, 1));
    assert_eq!(t.connect("bad id").error, errors::SRV_INVALID_CLIENT_ID);
    t.st.handle_connect("r.x", b"\xff\xff", 0);
    assert_eq!(reply_to::<ConnectResponse>(&t.st.take_out(), "r.x").error, errors::SRV_INVALID_CONN_REQ);
}

#[test]
fn duplicate_client_probe() {
    let mut t = h();
    t.connect("a");
    let req = ConnectRequest {
        client_id: "a".into(),
        heartbeat_inbox: "hb2".into(),
        conn_id: "c2".into(),
        ..Default::default()
    };
    t.st.handle_connect("r.2", &encode(&req), 0);
    let out = t.st.take_out();
    let Some(Out::Probe { kind, subject, timeout_ms }) = out.first().cloned() else { panic!("{out:?}") };
    assert_eq!((subject.as_str(), timeout_ms), ("hb.a", 500));
    // The old client answers: the newcomer is refused.
    t.st.handle_probe_result(kind, true, 0);
    assert_eq!(reply_to::<ConnectResponse>(&t.st.take_out(), "r.2").error, errors::SRV_CLIENT_ID_REGISTERED);
    // It does not answer: the newcomer replaces it.
    t.st.handle_connect("r.3", &encode(&req), 0);
    let Some(Out::Probe { kind, .. }) = t.st.take_out().first().cloned() else { panic!() };
    t.st.handle_probe_result(kind, false, 0);
    assert_eq!(reply_to::<ConnectResponse>(&t.st.take_out(), "r.3").error, "");
    assert_eq!(t.st.clients["a"].hb_inbox, "hb2");
}

#[test]
fn publish_validation() {
    let mut t = h();
    t.connect("a");
    assert_eq!(t.publish("a", "foo", "x").error, "");
    assert_eq!(t.publish("a", "foo.*", "x").error, errors::SRV_INVALID_PUB_REQ);
    assert_eq!(t.publish("a", "", "x").error, errors::SRV_INVALID_PUB_REQ);
    assert_eq!(t.publish("nobody", "foo", "x").error, errors::SRV_INVALID_PUB_REQ);
    assert_eq!(t.st.channels["foo"].log.last_seq(), 1);
}

#[test]
fn channel_limit() {
    let mut t = h();
    t.st.cfg.max_channels = 1;
    t.connect("a");
    assert_eq!(t.publish("a", "one", "x").error, "");
    assert_eq!(t.publish("a", "two", "x").error, errors::SRV_TOO_MANY_CHANNELS);
}

#[test]
fn subscribe_errors() {
    let mut t = h();
    t.connect("a");
    assert_eq!(
        t.subscribe("a", "foo", "in", |r| r.ack_wait_in_secs = 0),
        format!("ERR:{}", errors::SRV_INVALID_ACK_WAIT)
    );
    assert_eq!(
        t.subscribe("a", "foo", "in", |r| r.max_in_flight = 0),
        format!("ERR:{}", errors::SRV_INVALID_MAX_INFLIGHT)
    );
    assert_eq!(t.subscribe("a", "foo", "in", |r| r.start_position = 9), format!("ERR:{}", errors::SRV_INVALID_START));
    assert_eq!(t.subscribe("a", "foo.>", "in", |_| ()), format!("ERR:{}", errors::SRV_INVALID_SUBJECT));
    assert_eq!(t.subscribe("zz", "foo", "in", |_| ()), format!("ERR:{}", errors::SRV_UNKNOWN_CLIENT));
    assert_eq!(t.subscribe("", "foo", "in", |_| ()), format!("ERR:{}", errors::SRV_MISSING_CLIENT_ID));
    assert_eq!(
        t.subscribe("a", "foo", "in", |r| {
            r.durable_name = "a:b".into();
            r.q_group = "q".into()
        }),
        format!("ERR:{}", errors::SRV_DURABLE_QUEUE_COLON)
    );
    // That failure still created the channel, like the reference.
    assert!(t.st.channels.contains_key("foo"));
}

#[test]
fn start_positions() {
    let mut t = h();
    t.connect("a");
    for i in 1..=5 {
        t.publish("a", "foo", &format!("m{i}"));
    }
    let t3 = t.st.channels["foo"].log.get(3).unwrap().timestamp;
    type Case = (&'static str, Box<dyn Fn(&mut SubscriptionRequest)>, Vec<u64>);
    let cases: Vec<Case> = vec![
        ("new", Box::new(|_| ()), vec![]),
        ("last", Box::new(|r| r.start_position = StartPosition::LastReceived as i32), vec![5]),
        ("first", Box::new(|r| r.start_position = StartPosition::First as i32), vec![1, 2, 3, 4, 5]),
        (
            "seq",
            Box::new(|r| {
                r.start_position = StartPosition::SequenceStart as i32;
                r.start_sequence = 4
            }),
            vec![4, 5],
        ),
        (
            "seq-low",
            Box::new(|r| {
                r.start_position = StartPosition::SequenceStart as i32;
                r.start_sequence = 0
            }),
            vec![1, 2, 3, 4, 5],
        ),
        (
            "seq-high",
            Box::new(|r| {
                r.start_position = StartPosition::SequenceStart as i32;
                r.start_sequence = 99
            }),
            vec![],
        ),
    ];
    for (name, f, want) in cases {
        t.subscribe("a", "foo", name, f);
        let got: Vec<u64> = msgs_to(&t.st.take_out(), name).iter().map(|m| m.sequence).collect();
        assert_eq!(got, want, "{name}");
    }
    let wall = t.wall;
    t.subscribe("a", "foo", "time", |r| {
        r.start_position = StartPosition::TimeDeltaStart as i32;
        r.start_time_delta = wall - t3;
    });
    let got: Vec<u64> = msgs_to(&t.st.take_out(), "time").iter().map(|m| m.sequence).collect();
    assert_eq!(got, vec![3, 4, 5]);
}

#[test]
fn max_in_flight_and_acks() {
    let mut t = h();
    t.connect("a");
    let ack = t.subscribe("a", "foo", "in", |r| r.max_in_flight = 1);
    t.publish("a", "foo", "1");
    t.publish("a", "foo", "2");
    let got = msgs_to(&t.st.take_out(), "in");
    assert_eq!(got.iter().map(|m| m.sequence).collect::<Vec<_>>(), vec![1]);
    t.ack(&ack, "foo", 1);
    let got = msgs_to(&t.st.take_out(), "in");
    assert_eq!(got.iter().map(|m| m.sequence).collect::<Vec<_>>(), vec![2]);
    // Acking an unknown sequence is harmless.
    t.ack(&ack, "foo", 77);
    t.st.handle_ack(&ack, b"\xff", 0);
    assert!(t.st.take_out().is_empty());
}

#[test]
fn redelivery_after_ack_wait() {
    let mut t = h();
    t.connect("a");
    t.subscribe("a", "foo", "in", |r| r.ack_wait_in_secs = 1);
    t.publish("a", "foo", "x");
    assert_eq!(msgs_to(&t.st.take_out(), "in").len(), 1);
    t.advance(999);
    assert!(msgs_to(&t.st.take_out(), "in").is_empty());
    t.advance(1);
    let got = msgs_to(&t.st.take_out(), "in");
    assert_eq!(got.len(), 1);
    assert!(got[0].redelivered);
    assert_eq!(got[0].redelivery_count, 1);
    t.advance(1000);
    assert_eq!(msgs_to(&t.st.take_out(), "in")[0].redelivery_count, 2);
}

#[test]
fn queue_group_splits_and_redistributes() {
    let mut t = h();
    t.connect("a");
    t.connect("b");
    let qa = t.subscribe("a", "foo", "ina", |r| r.q_group = "q".into());
    t.subscribe("b", "foo", "inb", |r| r.q_group = "q".into());
    for i in 0..10 {
        t.publish("a", "foo", &i.to_string());
    }
    let out = t.st.take_out();
    let (a, b) = (msgs_to(&out, "ina"), msgs_to(&out, "inb"));
    assert_eq!(a.len() + b.len(), 10);
    assert!(a.len() >= 4 && b.len() >= 4, "{} {}", a.len(), b.len());
    let mut all: Vec<u64> = a.iter().chain(b.iter()).map(|m| m.sequence).collect();
    all.sort();
    assert_eq!(all, (1..=10).collect::<Vec<_>>());
    // Member a leaves without acking: its messages go to b, redelivered.
    assert_eq!(t.unsub("a", "foo", &qa, false), "");
    t.advance(100);
    let moved = msgs_to(&t.st.take_out(), "inb");
    assert_eq!(moved.len(), a.len());
    assert!(moved.iter().all(|m| m.redelivered));
}

#[test]
fn queue_redelivery_may_go_to_other_member() {
    let mut t = h();
    t.connect("a");
    t.connect("b");
    t.subscribe("a", "foo", "ina", |r| {
        r.q_group = "q".into();
        r.ack_wait_in_secs = 1
    });
    t.publish("a", "foo", "x");
    assert_eq!(msgs_to(&t.st.take_out(), "ina").len(), 1);
    t.subscribe("b", "foo", "inb", |r| {
        r.q_group = "q".into();
        r.ack_wait_in_secs = 1
    });
    t.advance(1000);
    // b has fewer pending messages, so it gets the redelivery.
    let got = msgs_to(&t.st.take_out(), "inb");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].sequence, got[0].redelivered), (1, true));
}

#[test]
fn durable_close_resumes_unsubscribe_resets() {
    let mut t = h();
    t.connect("a");
    let d = |r: &mut SubscriptionRequest| {
        r.durable_name = "dur".into();
        r.start_position = StartPosition::First as i32
    };
    let ack = t.subscribe("a", "foo", "in1", d);
    t.publish("a", "foo", "1");
    t.ack(&ack, "foo", 1);
    t.st.take_out();
    assert_eq!(t.subscribe("a", "foo", "inX", d), format!("ERR:{}", errors::SRV_DUP_DURABLE));
    assert_eq!(t.unsub("a", "foo", &ack, true), "");
    t.publish("a", "foo", "2");
    t.publish("a", "foo", "3");
    let ack = t.subscribe("a", "foo", "in2", d);
    let got: Vec<u64> = msgs_to(&t.st.take_out(), "in2").iter().map(|m| m.sequence).collect();
    assert_eq!(got, vec![2, 3]);
    assert_eq!(t.unsub("a", "foo", &ack, false), "");
    assert_eq!(t.unsub("a", "foo", &ack, false), errors::SRV_INVALID_SUB);
    t.subscribe("a", "foo", "in3", d);
    let got: Vec<u64> = msgs_to(&t.st.take_out(), "in3").iter().map(|m| m.sequence).collect();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn durable_queue_group_survives_last_member_leaving() {
    let mut t = h();
    t.connect("a");
    let d = |r: &mut SubscriptionRequest| {
        r.durable_name = "accounting-service".into();
        r.q_group = "qg".into();
        r.start_position = StartPosition::First as i32
    };
    let ack = t.subscribe("a", "ticket:created", "in1", d);
    t.publish("a", "ticket:created", "1");
    t.ack(&ack, "ticket:created", 1);
    assert_eq!(t.close("a"), "");
    t.connect("p");
    t.publish("p", "ticket:created", "2");
    t.publish("p", "ticket:created", "3");
    t.connect("b");
    t.subscribe("b", "ticket:created", "in2", d);
    let got: Vec<u64> = msgs_to(&t.st.take_out(), "in2").iter().map(|m| m.sequence).collect();
    assert_eq!(got, vec![2, 3]);
}

#[test]
fn heartbeats_expire_a_silent_client() {
    let mut t = h();
    t.connect("a");
    t.subscribe("a", "foo", "in", |_| ());
    for _ in 0..3 {
        t.advance(1000);
        let out = t.st.take_out();
        let Some(Out::Probe { kind, subject, .. }) = out.into_iter().find(|o| matches!(o, Out::Probe { .. })) else {
            panic!("no heartbeat")
        };
        assert_eq!(subject, "hb.a");
        t.st.handle_probe_result(kind, false, t.now);
    }
    assert!(!t.st.clients.contains_key("a"));
    assert_eq!(t.st.channels["foo"].subs_count(), 0);
}

#[test]
fn pings() {
    let mut t = h();
    t.connect("a");
    t.st.handle_ping("r.p", &encode(&Ping { conn_id: "conn-a".into() }), 0);
    let out = t.st.take_out();
    assert!(matches!(&out[0], Out::Publish { subject, payload, .. } if subject == "r.p" && payload.is_empty()));
    t.st.handle_ping("r.p", &encode(&Ping { conn_id: "zzz".into() }), 0);
    assert_eq!(reply_to::<PingResponse>(&t.st.take_out(), "r.p").error, errors::SRV_CLIENT_REPLACED);
}

#[test]
fn close_errors() {
    let mut t = h();
    assert_eq!(t.close("nobody"), errors::SRV_UNKNOWN_CLIENT);
    t.st.handle_close("r.c", b"\x0a\xff", 0);
    assert_eq!(reply_to::<CloseResponse>(&t.st.take_out(), "r.c").error, errors::SRV_INVALID_CLOSE_REQ);
}

#[test]
fn snapshot_replay_round_trip() {
    let mut t = h();
    t.st.cfg.persist = true;
    t.connect("a");
    let ack = t.subscribe("a", "foo", "in", |r| r.durable_name = "d".into());
    for i in 0..3 {
        t.publish("a", "foo", &i.to_string());
    }
    t.ack(&ack, "foo", 1);
    let records = t.st.take_records();
    let mut fresh = State::new(t.st.cfg.clone());
    fresh.replay(records, 0).unwrap();
    assert_eq!(fresh.channels["foo"].log.last_seq(), 3);
    let sid = fresh.channels["foo"].durables["a:d"];
    assert_eq!(fresh.subs[&sid].pending.seqs().collect::<Vec<_>>(), vec![2, 3]);
    // The snapshot rebuilds the same state again.
    let mut again = State::new(t.st.cfg.clone());
    again.replay(fresh.snapshot(), 0).unwrap();
    assert_eq!(again.subs[&sid].pending.len(), 2);
    assert_eq!(again.clients.len(), 1);
    assert!(State::new(Config::new("other")).replay(fresh.snapshot(), 0).is_err());
}

#[test]
fn garbage_on_every_handler_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut t = h();
    t.connect("a");
    let ack = t.subscribe("a", "foo", "in", |_| ());
    for i in 0..5000u64 {
        let len = rng.random_range(0..64);
        let mut buf: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 3 == 0 && !buf.is_empty() {
            // Make some of them look like valid frames of field 1.
            buf[0] = 0x0a;
        }
        let now = i;
        t.st.handle_connect("r", &buf, now);
        t.st.handle_publish("r", &buf, now, 1);
        t.st.handle_subscribe("r", &buf, now, 1);
        t.st.handle_unsubscribe("r", &buf, i % 2 == 0, now);
        t.st.handle_close("r", &buf, now);
        t.st.handle_ping("r", &buf, now);
        t.st.handle_ack(&ack, &buf, now);
        t.st.handle_timeout(now);
        t.st.take_out();
    }
    // Still serving the normal client.
    assert_eq!(t.publish("a", "foo", "ok").error, "");
}

#[test]
fn publishes_of_the_registered_client_go_on_while_a_duplicate_is_probed() {
    let mut t = h();
    t.connect("a");
    let req = ConnectRequest {
        client_id: "a".into(),
        heartbeat_inbox: "hb2".into(),
        conn_id: "c2".into(),
        ..Default::default()
    };
    t.st.handle_connect("r.2", &encode(&req), 0);
    let Some(Out::Probe { kind, .. }) = t.st.take_out().first().cloned() else { panic!("no probe") };
    // While the old client is probed, its publishes are accepted.
    assert_eq!(t.publish("a", "foo", "during").error, "");
    // It answers: the newcomer is refused, the old client goes on.
    t.st.handle_probe_result(kind, true, 0);
    assert_eq!(reply_to::<ConnectResponse>(&t.st.take_out(), "r.2").error, errors::SRV_CLIENT_ID_REGISTERED);
    assert_eq!(t.publish("a", "foo", "after").error, "");
    assert_eq!(t.st.channels["foo"].log.last_seq(), 2);
}

#[test]
fn a_newcomer_reusing_a_connection_id_does_not_invalidate_the_owner() {
    let mut t = h();
    t.connect("a");
    let req = ConnectRequest {
        client_id: "b".into(),
        heartbeat_inbox: "hb.b".into(),
        conn_id: "conn-a".into(),
        ..Default::default()
    };
    t.st.handle_connect("r.b", &encode(&req), 0);
    assert_eq!(reply_to::<ConnectResponse>(&t.st.take_out(), "r.b").error, "");
    // "a" publishes with its own (reused) connection ID: still accepted, as by the original.
    assert_eq!(t.publish("a", "foo", "x").error, "");
    // A publisher naming a registered client with a foreign connection ID is refused.
    let pm = PubMsg {
        client_id: "a".into(),
        guid: "g-x".into(),
        subject: "foo".into(),
        conn_id: "conn-other".into(),
        ..Default::default()
    };
    t.st.handle_publish("r.ack", &encode(&pm), 0, 1);
    assert_eq!(reply_to::<PubAck>(&t.st.take_out(), "r.ack").error, errors::SRV_INVALID_PUB_REQ);
    // Once the newcomer closes, the connection ID is gone: refused, as by the original.
    assert_eq!(t.close("b"), "");
    assert_eq!(t.publish("a", "foo", "y").error, errors::SRV_INVALID_PUB_REQ);
}

#[test]
fn empty_ping_gets_no_reply() {
    let mut t = h();
    t.connect("a");
    t.st.handle_ping("r.p", b"", 0);
    assert!(t.st.take_out().is_empty(), "the original sends no reply to an empty Ping");
    t.st.handle_ping("r.p", &encode(&Ping { conn_id: "conn-a".into() }), 0);
    assert_eq!(t.st.take_out().len(), 1);
}

#[test]
fn closing_a_client_cancels_its_heartbeat() {
    let mut t = h();
    t.connect("a");
    assert_eq!(t.st.next_deadline(), Some(1000));
    assert_eq!(t.close("a"), "");
    assert_eq!(t.st.next_deadline(), None, "the closed client's heartbeat timer lingers");
    // Heartbeat expiry removes it as well.
    t.connect("b");
    for _ in 0..3 {
        t.advance(1000);
        let out = t.st.take_out();
        if let Some(Out::Probe { kind, .. }) = out.into_iter().find(|o| matches!(o, Out::Probe { .. })) {
            t.st.handle_probe_result(kind, false, t.now);
        }
    }
    assert!(!t.st.clients.contains_key("b"));
    assert_eq!(t.st.next_deadline(), None);
}

/// A harness whose channels are deleted after `mi` ms of inactivity (`-mi`).
fn h_mi(mi: u64) -> Harness {
    let mut t = h();
    t.st.cfg.max_inactivity_ms = mi;
    t.st.cfg.persist = true;
    t
}

#[test]
fn inactive_channel_is_deleted_after_max_inactivity() {
    let mut t = h_mi(1000);
    t.connect("a");
    assert_eq!(t.publish("a", "foo", "1").error, "");
    t.advance(999);
    assert!(t.st.channels.contains_key("foo"));
    t.advance(1);
    assert!(!t.st.channels.contains_key("foo"));
    let recs = t.st.take_records();
    assert_eq!(recs.last(), Some(&Record::ChannelDeleted { channel: "foo".into() }));
    // Created again from sequence 1.
    t.publish("a", "foo", "2");
    assert_eq!(t.st.channels["foo"].log.first_seq(), 1);
    assert_eq!(t.st.channels["foo"].log.len(), 1);
}

#[test]
fn max_inactivity_zero_keeps_channels() {
    let mut t = h_mi(0);
    t.connect("a");
    t.publish("a", "foo", "1");
    t.advance(10_000_000);
    assert!(t.st.channels.contains_key("foo"));
}

#[test]
fn a_message_moves_the_inactivity_period() {
    let mut t = h_mi(1000);
    t.connect("a");
    t.publish("a", "foo", "1");
    t.advance(600);
    t.publish("a", "foo", "2");
    t.advance(400);
    assert!(t.st.channels.contains_key("foo"), "the message at 600 restarted the period");
    t.advance(599);
    assert!(t.st.channels.contains_key("foo"));
    t.advance(1);
    assert!(!t.st.channels.contains_key("foo"));
}

#[test]
fn an_active_subscription_keeps_the_channel_until_it_ends() {
    let mut t = h_mi(1000);
    t.connect("a");
    t.publish("a", "foo", "1");
    let ack = t.subscribe("a", "foo", "in.a", |_| {});
    t.advance(5000);
    assert!(t.st.channels.contains_key("foo"));
    assert_eq!(t.unsub("a", "foo", &ack, false), "");
    t.advance(999);
    assert!(t.st.channels.contains_key("foo"));
    t.advance(1);
    assert!(!t.st.channels.contains_key("foo"));
    // A subscription creates the channel; closing its client starts the period.
    t.subscribe("a", "bar", "in.b", |r| r.q_group = "q".into());
    t.advance(5000);
    assert!(t.st.channels.contains_key("bar"));
    assert_eq!(t.close("a"), "");
    t.advance(999);
    assert!(t.st.channels.contains_key("bar"));
    t.advance(1);
    assert!(!t.st.channels.contains_key("bar"));
}

#[test]
fn offline_durables_do_not_keep_a_channel_and_go_with_it() {
    let mut t = h_mi(1000);
    t.connect("a");
    t.publish("a", "foo", "1");
    let ack = t.subscribe("a", "foo", "in.a", |r| r.durable_name = "d".into());
    t.subscribe("a", "foo", "in.q", |r| {
        r.durable_name = "dq".into();
        r.q_group = "q".into();
    });
    assert_eq!(t.st.subs.len(), 2);
    assert_eq!(t.close("a"), "");
    assert_eq!(t.st.subs.len(), 2, "both durables are kept offline");
    t.advance(1000);
    assert!(!t.st.channels.contains_key("foo"));
    assert!(t.st.subs.is_empty() && t.st.ack_inboxes.is_empty(), "{:?}", t.st.subs.keys());
    // The durable starts again on a new, empty channel.
    t.connect("a");
    t.subscribe("a", "foo", "in.a2", |r| {
        r.durable_name = "d".into();
        r.start_position = StartPosition::First as i32;
    });
    assert!(t.st.channels["foo"].log.is_empty());
    assert!(!t.st.ack_inboxes.contains_key(&ack));
}

#[test]
fn a_failed_subscription_restarts_the_period() {
    let mut t = h_mi(1000);
    t.connect("a");
    t.publish("a", "foo", "1");
    t.advance(600);
    // Refused after the channel lookup: the period starts again from now.
    let r = t.subscribe("a", "foo", "in.b", |r| {
        r.durable_name = "a:b".into();
        r.q_group = "q".into();
    });
    assert!(r.starts_with("ERR:"), "{r}");
    t.advance(400);
    assert!(t.st.channels.contains_key("foo"));
    t.advance(599);
    assert!(t.st.channels.contains_key("foo"));
    t.advance(1);
    assert!(!t.st.channels.contains_key("foo"));
}

#[test]
fn a_deleted_channel_stays_deleted_after_replay() {
    let mut t = h_mi(1000);
    t.connect("a");
    t.publish("a", "foo", "1");
    t.publish("a", "keep", "k");
    t.subscribe("a", "keep", "in.k", |_| {});
    t.subscribe("a", "foo", "in.d", |r| r.durable_name = "d".into());
    let mut recs = t.st.take_records();
    // Close the durable: it goes offline and the channel is deleted.
    t.close("a");
    t.connect("a");
    t.subscribe("a", "keep", "in.k", |_| {});
    t.advance(1000);
    assert!(!t.st.channels.contains_key("foo"));
    t.publish("a", "foo", "again");
    recs.extend(t.st.take_records());
    assert!(recs.contains(&Record::ChannelDeleted { channel: "foo".into() }));
    let mut st = State::new(t.st.cfg.clone());
    st.replay(recs, 0).unwrap();
    let foo = &st.channels["foo"];
    assert_eq!((foo.log.first_seq(), foo.log.last_seq()), (1, 1));
    assert!(foo.durables.is_empty() && foo.plain.is_empty());
    assert_eq!(st.channels["keep"].log.len(), 1);
    // The recovered channel without subscriptions has its timer armed again.
    st.handle_timeout(1000);
    assert!(!st.channels.contains_key("foo"));
    assert!(st.channels.contains_key("keep"));
}

#[test]
fn fan_out_sends_every_subscription_the_same_message_encoded_once() {
    let mut t = h();
    t.connect("a");
    let ack3 = t.subscribe("a", "foo", "in3", |r| r.max_in_flight = 1);
    t.subscribe("a", "foo", "in1", |_| {});
    t.subscribe("a", "foo", "in2", |_| {});
    t.subscribe("a", "bar", "inb", |_| {});
    t.publish("a", "foo", "x");
    t.publish("a", "foo", "yy");
    t.publish("a", "bar", "z");
    let out = t.st.take_out();
    let (in1, in2, in3, inb) = (msgs_to(&out, "in1"), msgs_to(&out, "in2"), msgs_to(&out, "in3"), msgs_to(&out, "inb"));
    let seen = |v: &[MsgProto]| v.iter().map(|m| (m.sequence, m.subject.clone(), m.data.to_vec())).collect::<Vec<_>>();
    let foo = vec![(1, "foo".to_string(), b"x".to_vec()), (2, "foo".to_string(), b"yy".to_vec())];
    assert_eq!(seen(&in1), foo);
    assert_eq!(in1, in2, "timestamps and every other field alike");
    assert_eq!(in1[0].timestamp + 1000, in1[1].timestamp);
    assert_eq!(in3, in1[..1], "max in flight 1: the second message waits");
    assert_eq!(seen(&inb), vec![(1, "bar".to_string(), b"z".to_vec())]);
    assert!(in1.iter().chain(&inb).all(|m| !m.redelivered && m.redelivery_count == 0));
    // Outside the publish's pass: the stalled subscription gets message 2 after its ack.
    t.ack(&ack3, "foo", 1);
    assert_eq!(msgs_to(&t.st.take_out(), "in3"), in1[1..]);
    // A new subscription replaying the channel (several messages in one pass).
    t.subscribe("a", "foo", "in4", |r| r.start_position = StartPosition::First as i32);
    assert_eq!(msgs_to(&t.st.take_out(), "in4"), in1);
}
