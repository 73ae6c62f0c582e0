//! Subscriptions: request contents, ready, delivery and acks, errors,
//! timeouts, unsubscribe and sub close.

use super::*;
use crate::{Error, StartAt, SubId, SubOp, SubscriptionOptions};

const SUBS: &str = "_STAN.sub.test-cluster";
const UNSUBS: &str = "_STAN.unsub.test-cluster";
const SUBCLOSE: &str = "_STAN.subclose.test-cluster";

fn ok_response(ack_inbox: &str) -> stan_proto::SubscriptionResponse {
    stan_proto::SubscriptionResponse { ack_inbox: ack_inbox.into(), error: String::new() }
}

fn msg(seq: u64, subject: &str) -> Vec<u8> {
    stan_proto::encode(&stan_proto::MsgProto {
        sequence: seq,
        subject: subject.into(),
        data: Bytes::from(format!("m{seq}")),
        timestamp: 1_700_000_000_000_000_000 + seq as i64,
        ..Default::default()
    })
}

/// Subscribe and complete the request; returns (sub, delivery inbox).
fn ready(p: &mut Peer, opts: SubscriptionOptions) -> (SubId, String) {
    let sub = p.c.subscribe(p.now, "foo", opts).unwrap();
    let req = p.take(SUBS);
    let inbox = p.c.subscription(sub).unwrap().inbox;
    p.respond(&req, &ok_response("_INBOX.ACKS"));
    assert_eq!(p.events(), vec![Event::SubReady { sub }]);
    (sub, inbox)
}

#[test]
fn request_carries_every_option_and_inbox_is_subscribed_first() {
    let cases = [
        (StartAt::NewOnly, 0, 0, 0),
        (StartAt::LastReceived, 1, 0, 0),
        (StartAt::TimeDelta(ms(1500)), 2, 0, 1_500_000_000),
        (StartAt::Sequence(42), 3, 42, 0),
        (StartAt::First, 4, 0, 0),
    ];
    for (start, pos, seq, delta) in cases {
        let mut p = Peer::quiet();
        let opts = SubscriptionOptions::default()
            .queue_group("q")
            .durable_name("dur")
            .max_in_flight(5)
            .ack_wait(Duration::from_secs(3))
            .start_at(start);
        let sub = p.c.subscribe(ms(0), "foo", opts).unwrap();
        let first = p.c.poll_transmit().unwrap();
        let NatsOp::Subscribe { subject: inbox, .. } = first.clone() else { panic!("{first:?}") };
        assert!(inbox.starts_with("_INBOX.") && inbox.len() == 7 + 22);
        p.subs.insert(Sid(17), inbox.clone());
        let r: stan_proto::SubscriptionRequest = p.take(SUBS).decode();
        assert_eq!(r.client_id, CLIENT);
        assert_eq!(r.subject, "foo");
        assert_eq!(r.q_group, "q");
        assert_eq!(r.inbox, inbox);
        assert_eq!(r.max_in_flight, 5);
        assert_eq!(r.ack_wait_in_secs, 3);
        assert_eq!(r.durable_name, "dur");
        assert_eq!((r.start_position, r.start_sequence, r.start_time_delta), (pos, seq, delta));
        let info = p.c.subscription(sub).unwrap();
        assert!(!info.is_ready && !info.is_closed);
    }
}

#[test]
fn defaults_on_the_wire() {
    let mut p = Peer::quiet();
    p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let r: stan_proto::SubscriptionRequest = p.take(SUBS).decode();
    assert_eq!((r.q_group.as_str(), r.durable_name.as_str()), ("", ""));
    assert_eq!((r.max_in_flight, r.ack_wait_in_secs, r.start_position), (16384, 30, 0));
}

#[test]
fn option_and_subject_checks() {
    let mut p = Peer::quiet();
    let d = SubscriptionOptions::default();
    assert_eq!(p.c.subscribe(ms(0), "", d.clone()), Err(Error::BadSubject));
    assert_eq!(p.c.subscribe(ms(0), "foo", d.clone().max_in_flight(0)), Err(Error::InvalidMaxInFlight));
    assert_eq!(p.c.subscribe(ms(0), "foo", d.clone().ack_wait(ms(500))), Err(Error::AckWaitNotWholeSeconds));
    assert_eq!(p.c.subscribe(ms(0), "foo", d.ack_wait(Duration::ZERO)), Err(Error::InvalidAckWait));
    assert!(p.take_all().is_empty());
}

#[test]
fn auto_ack_mode_acks_each_message() {
    let mut p = Peer::quiet();
    let (sub, inbox) = ready(&mut p, SubscriptionOptions::default());
    assert_eq!(p.c.subscription(sub).unwrap().ack_inbox.as_deref(), Some("_INBOX.ACKS"));
    p.deliver(&inbox, None, msg(1, "foo"));
    let ev = p.events();
    let [Event::Message { sub: s, msg: m }] = ev.as_slice() else { panic!("{ev:?}") };
    assert_eq!(*s, sub);
    assert_eq!((m.sequence, m.subject.as_str(), m.data.as_ref()), (1, "foo", b"m1".as_ref()));
    assert_eq!(m.timestamp, 1_700_000_000_000_000_001);
    let ack: stan_proto::Ack = p.take("_INBOX.ACKS").decode();
    assert_eq!((ack.subject.as_str(), ack.sequence), ("foo", 1));
}

#[test]
fn manual_ack_mode_acks_on_request_only() {
    let mut p = Peer::quiet();
    let (sub, inbox) = ready(&mut p, SubscriptionOptions::default().manual_ack_mode(true));
    p.deliver(&inbox, None, msg(7, "foo"));
    assert_eq!(p.events().len(), 1);
    assert!(p.take_all().is_empty());
    p.c.ack(sub, 7).unwrap();
    let ack: stan_proto::Ack = p.take("_INBOX.ACKS").decode();
    assert_eq!(ack.sequence, 7);
    // Unknown subscriptions: a no-op.
    p.c.ack(SubId(999), 1).unwrap();
    assert!(p.take_all().is_empty());
}

#[test]
fn messages_before_ready_wait_for_it() {
    let mut p = Peer::quiet();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let req = p.take(SUBS);
    let inbox = p.c.subscription(sub).unwrap().inbox;
    p.deliver(&inbox, None, msg(1, "foo"));
    assert!(p.events().is_empty());
    p.respond(&req, &ok_response("_INBOX.ACKS"));
    let ev = p.events();
    assert_eq!(ev[0], Event::SubReady { sub });
    assert!(matches!(&ev[1], Event::Message { msg, .. } if msg.sequence == 1));
    assert_eq!(p.take("_INBOX.ACKS").decode::<stan_proto::Ack>().sequence, 1);
}

#[test]
fn undecodable_message_is_reported() {
    let mut p = Peer::quiet();
    let (sub, inbox) = ready(&mut p, SubscriptionOptions::default());
    p.deliver(&inbox, None, vec![0xff, 0xff]);
    assert_eq!(p.events(), vec![Event::SubError { sub, op: SubOp::Deliver, error: Error::Decode("MsgProto") }]);
}

#[test]
fn server_refusal_reports_error_then_unsubscribed() {
    let mut p = Peer::quiet();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let req = p.take(SUBS);
    let text = "stan: duplicate durable registration";
    p.respond(&req, &stan_proto::SubscriptionResponse { ack_inbox: String::new(), error: text.into() });
    assert_eq!(
        p.events(),
        vec![
            Event::SubError { sub, op: SubOp::Subscribe, error: Error::Server(text.into()) },
            Event::Unsubscribed { sub },
            Event::SubEnded { sub },
        ]
    );
    assert!(p.c.subscription(sub).is_none());
    assert_eq!(p.subs.len(), 4, "delivery inbox unsubscribed");
}

#[test]
fn subscribe_timeout_cleans_up_like_the_go_client() {
    let mut p = Peer::quiet();
    p.at(ms(100));
    let sub = p.c.subscribe(ms(100), "foo", SubscriptionOptions::default()).unwrap();
    let req = p.take(SUBS);
    let inbox = p.c.subscription(sub).unwrap().inbox;
    assert_eq!(p.c.poll_timeout(), Some(ms(2100)));
    p.at(ms(2099));
    assert!(p.events().is_empty());
    p.at(ms(2100));
    assert_eq!(
        p.events(),
        vec![
            Event::SubTimeout { sub, op: SubOp::Subscribe, error: Error::SubscribeRequestTimeout },
            Event::SubEnded { sub },
        ]
    );
    let cleanup: stan_proto::UnsubscribeRequest = p.take(SUBCLOSE).decode();
    assert_eq!((cleanup.subject.as_str(), cleanup.inbox.as_str()), ("foo", inbox.as_str()));
    assert_eq!(p.subs.len(), 4);
    // A late response is ignored.
    p.respond(&req, &ok_response("_INBOX.ACKS"));
    assert!(p.events().is_empty());
}

#[test]
fn subscribe_before_handshake_is_sent_after_it() {
    let mut p = Peer::new(config());
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let req = p.take("_STAN.discover.test-cluster");
    assert!(p.take_all().is_empty());
    p.respond(&req, &connect_response());
    assert_eq!(p.events(), vec![Event::Connected]);
    let r: stan_proto::SubscriptionRequest = p.take(SUBS).decode();
    assert_eq!(r.inbox, p.c.subscription(sub).unwrap().inbox);
}

#[test]
fn unsubscribe_round_trip_and_second_call() {
    let mut p = Peer::quiet();
    let (sub, inbox) = ready(&mut p, SubscriptionOptions::default());
    p.c.unsubscribe(ms(0), sub).unwrap();
    assert!(p.c.subscription(sub).unwrap().is_closed);
    p.pump();
    assert_eq!(p.subs.len(), 4, "delivery inbox UNSUB first");
    let req = p.take(UNSUBS);
    let r: stan_proto::UnsubscribeRequest = req.decode();
    assert_eq!((r.client_id.as_str(), r.subject.as_str(), r.inbox.as_str()), (CLIENT, "foo", "_INBOX.ACKS"));
    assert_eq!(r.durable_name, "");
    assert_eq!(p.c.unsubscribe(ms(0), sub), Err(Error::InvalidSubscription));
    assert_eq!(p.c.close_subscription(ms(0), sub), Err(Error::InvalidSubscription));
    assert_eq!(Error::InvalidSubscription.to_string(), "stan: invalid subscription");
    // Messages after unsubscribe() are not delivered (the peer would not route them;
    // feed one by sid to prove the session drops it).
    p.c.handle_message(
        p.now,
        IncomingMessage { sid: Sid(17), subject: inbox, reply: None, payload: msg(2, "foo").into() },
    );
    assert!(p.events().is_empty());
    p.respond(&req, &ok_response(""));
    assert_eq!(p.events(), vec![Event::Unsubscribed { sub }, Event::SubEnded { sub }]);
    assert_eq!(p.c.unsubscribe(ms(0), sub), Err(Error::InvalidSubscription));
}

#[test]
fn close_subscription_round_trip_and_server_error() {
    let mut p = Peer::quiet();
    let (sub, _) = ready(&mut p, SubscriptionOptions::default().durable_name("d"));
    p.c.close_subscription(ms(0), sub).unwrap();
    let req = p.take(SUBCLOSE);
    p.respond(&req, &ok_response(""));
    assert_eq!(p.events(), vec![Event::SubClosed { sub }, Event::SubEnded { sub }]);

    let (sub, _) = ready(&mut p, SubscriptionOptions::default());
    p.c.unsubscribe(ms(0), sub).unwrap();
    let req = p.take(UNSUBS);
    let text = "stan: invalid unsubscribe request";
    p.respond(&req, &stan_proto::SubscriptionResponse { ack_inbox: String::new(), error: text.into() });
    assert_eq!(
        p.events(),
        vec![
            Event::SubError { sub, op: SubOp::Unsubscribe, error: Error::Server(text.into()) },
            Event::SubEnded { sub }
        ]
    );
}

#[test]
fn unsubscribe_and_close_timeouts() {
    let mut p = Peer::quiet();
    let (a, _) = ready(&mut p, SubscriptionOptions::default());
    let (b, _) = ready(&mut p, SubscriptionOptions::default());
    p.c.unsubscribe(ms(0), a).unwrap();
    p.at(ms(10));
    p.c.close_subscription(ms(10), b).unwrap();
    let _ = p.take_all();
    p.at(ms(2000));
    assert_eq!(
        p.events(),
        vec![
            Event::SubTimeout { sub: a, op: SubOp::Unsubscribe, error: Error::UnsubscribeRequestTimeout },
            Event::SubEnded { sub: a },
        ]
    );
    p.at(ms(2010));
    assert_eq!(
        p.events(),
        vec![
            Event::SubTimeout { sub: b, op: SubOp::Close, error: Error::CloseRequestTimeout },
            Event::SubEnded { sub: b },
        ]
    );
    assert_eq!(Error::UnsubscribeRequestTimeout.to_string(), "stan: unsubscribe request timeout");
    assert_eq!(Error::CloseRequestTimeout.to_string(), "stan: close request timeout");
}

#[test]
fn unsubscribe_before_ready_is_sent_once_ready() {
    let mut p = Peer::quiet();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let req = p.take(SUBS);
    p.c.unsubscribe(ms(0), sub).unwrap();
    assert!(p.take_all().is_empty());
    p.respond(&req, &ok_response("_INBOX.ACKS"));
    assert_eq!(p.events(), vec![Event::SubReady { sub }]);
    let u: stan_proto::UnsubscribeRequest = p.take(UNSUBS).decode();
    assert_eq!(u.inbox, "_INBOX.ACKS");
}

#[test]
fn unsubscribe_while_held_ends_locally() {
    let mut p = Peer::new(config());
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    p.c.close_subscription(ms(0), sub).unwrap();
    assert_eq!(p.events(), vec![Event::SubClosed { sub }, Event::SubEnded { sub }]);
    assert_eq!(p.subs.len(), 4);
}

#[test]
fn sub_close_needs_server_support() {
    let resp = stan_proto::ConnectResponse { sub_close_requests: String::new(), ..connect_response() };
    let mut p = Peer::connected_with(config(), resp);
    let (sub, _) = ready(&mut p, SubscriptionOptions::default());
    assert_eq!(p.c.close_subscription(ms(0), sub), Err(Error::NotSupportedByServer));
    assert!(p.c.unsubscribe(ms(0), sub).is_ok());
}

#[test]
fn ack_into_hands_the_frame_over_only_when_nothing_is_queued_ahead() {
    let mut p = Peer::quiet();
    let (sub, _inbox) = ready(&mut p, SubscriptionOptions::default().manual_ack_mode(true));
    p.take_all();
    let mut frames = Vec::new();
    p.c.ack_into(sub, 7, |f| frames.push((f.subject.to_string(), f.payload.to_vec()))).unwrap();
    let [(to, payload)] = frames.as_slice() else { panic!("{frames:?}") };
    assert_eq!(to, "_INBOX.ACKS");
    let ack: stan_proto::Ack = stan_proto::decode(payload).unwrap();
    assert_eq!((ack.subject.as_str(), ack.sequence), ("foo", 7));
    p.c.subscribe(ms(0), "bar", SubscriptionOptions::default()).unwrap();
    p.c.ack_into(sub, 8, |_| panic!("must queue")).unwrap();
    let ack: stan_proto::Ack = p.take("_INBOX.ACKS").decode();
    assert_eq!(ack.sequence, 8);
}
