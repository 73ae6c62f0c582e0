//! Publishing: PubMsg contents, acks, ack timeout, flow control, held
//! publishes, subject checks.

use super::*;
use crate::{Error, SubscriptionOptions};

#[test]
fn publish_sends_pubmsg_with_ack_subject_reply() {
    let mut p = Peer::connected();
    let guid = p.c.publish(ms(0), "ticket:created", "héllo").unwrap();
    assert_eq!(guid.len(), 22);
    let sent = p.take("_STAN.pub.test-cluster.ticket:created");
    assert_eq!(sent.reply.as_deref(), Some(p.c.ack_subject()));
    let m: stan_proto::PubMsg = sent.decode();
    assert_eq!(m.client_id, CLIENT);
    assert_eq!(m.guid, guid);
    assert_eq!(m.subject, "ticket:created");
    assert_eq!(m.data.as_ref(), "héllo".as_bytes());
    assert_eq!(m.conn_id.as_ref(), p.c.conn_id());
    assert_eq!(p.c.pending_pub_acks(), 1);
}

#[test]
fn acks_are_matched_by_guid() {
    let mut p = Peer::connected();
    let g1 = p.c.publish(ms(0), "foo", "1").unwrap();
    let g2 = p.c.publish(ms(0), "foo", "2").unwrap();
    assert_ne!(g1, g2);
    let acks = p.c.ack_subject().to_string();
    p.deliver(&acks, None, stan_proto::encode(&stan_proto::PubAck { guid: g2.clone(), error: String::new() }));
    let bad = stan_proto::PubAck { guid: g1.clone(), error: "stan: invalid publish request".into() };
    p.deliver(&acks, None, stan_proto::encode(&bad));
    // Unknown and repeated acks are ignored.
    p.deliver(&acks, None, stan_proto::encode(&stan_proto::PubAck { guid: "nope".into(), error: String::new() }));
    p.deliver(&acks, None, stan_proto::encode(&bad));
    p.deliver(&acks, None, vec![0xff]);
    assert_eq!(
        p.events(),
        vec![
            Event::PubAck { guid: g2, result: Ok(()) },
            Event::PubAck { guid: g1, result: Err(Error::Server("stan: invalid publish request".into())) },
        ]
    );
    assert_eq!(p.c.pending_pub_acks(), 0);
}

#[test]
fn ack_timeout_fails_each_publish_at_its_own_deadline() {
    let mut p = Peer::quiet();
    let g1 = p.c.publish(ms(100), "foo", "1").unwrap();
    let g2 = p.c.publish(ms(300), "foo", "2").unwrap();
    assert_eq!(p.c.poll_timeout(), Some(ms(5100)));
    p.at(ms(5099));
    assert!(p.events().is_empty());
    p.at(ms(5100));
    assert_eq!(p.events(), vec![Event::PubAck { guid: g1, result: Err(Error::PublishAckTimeout) }]);
    p.at(ms(5300));
    assert_eq!(p.events(), vec![Event::PubAck { guid: g2, result: Err(Error::PublishAckTimeout) }]);
}

#[test]
fn late_ack_after_timeout_is_ignored() {
    let mut p = Peer::quiet();
    let g = p.c.publish(ms(0), "foo", "1").unwrap();
    assert_eq!(p.c.poll_timeout(), Some(ms(5000)));
    p.at(ms(5000));
    assert_eq!(p.events().len(), 1);
    let acks = p.c.ack_subject().to_string();
    p.deliver(&acks, None, stan_proto::encode(&stan_proto::PubAck { guid: g, error: String::new() }));
    assert!(p.events().is_empty());
}

#[test]
fn max_pub_acks_inflight_refuses_without_sending() {
    let mut cfg = config();
    cfg.max_pub_acks_inflight = 2;
    let mut p = Peer::connected_with(cfg, connect_response());
    let g1 = p.c.publish(ms(0), "foo", "1").unwrap();
    p.c.publish(ms(0), "foo", "2").unwrap();
    assert_eq!(p.take_all().len(), 2);
    let e = p.c.publish(ms(0), "foo", "3").unwrap_err();
    assert_eq!(e, Error::MaxInFlightReached);
    assert_eq!(e.to_string(), "stan: max in flight reached.");
    assert!(p.take_all().is_empty());
    let acks = p.c.ack_subject().to_string();
    p.deliver(&acks, None, stan_proto::encode(&stan_proto::PubAck { guid: g1, error: String::new() }));
    assert!(p.c.publish(ms(0), "foo", "3").is_ok());
}

#[test]
fn publishes_before_the_handshake_are_held() {
    let mut p = Peer::new(config());
    let g1 = p.c.publish(ms(0), "foo", "1").unwrap();
    let req = p.take("_STAN.discover.test-cluster");
    assert!(p.take_all().is_empty());
    p.respond(&req, &connect_response());
    assert_eq!(p.events(), vec![Event::Connected]);
    let sent = p.take("_STAN.pub.test-cluster.foo");
    assert_eq!(sent.decode::<stan_proto::PubMsg>().guid, g1);
}

#[test]
fn held_publish_that_timed_out_is_not_sent() {
    let mut cfg = config();
    cfg.ack_timeout = ms(500);
    let mut p = Peer::new(cfg);
    let g = p.c.publish(ms(0), "foo", "1").unwrap();
    let req = p.take("_STAN.discover.test-cluster");
    p.at(ms(500));
    assert_eq!(p.events(), vec![Event::PubAck { guid: g, result: Err(Error::PublishAckTimeout) }]);
    p.respond(&req, &connect_response());
    assert_eq!(p.events(), vec![Event::Connected]);
    assert!(p.take_all().is_empty());
}

#[test]
fn subject_checks() {
    let mut p = Peer::connected();
    assert_eq!(p.c.publish(ms(0), "", "x"), Err(Error::BadSubject));
    assert_eq!(p.c.publish(ms(0), "a b", "x"), Err(Error::BadSubject));
    assert_eq!(Error::BadSubject.to_string(), "stan: subject must be supplied");
    assert!(p.take_all().is_empty());
}

#[test]
fn empty_payload_is_allowed() {
    let mut p = Peer::connected();
    p.c.publish(ms(0), "foo", Bytes::new()).unwrap();
    let m: stan_proto::PubMsg = p.take("_STAN.pub.test-cluster.foo").decode();
    assert!(m.data.is_empty());
}

#[test]
fn publish_over_max_payload_fails_at_once_and_sends_nothing() {
    let mut p = Peer::connected();
    p.c.set_max_payload(1024);
    assert_eq!(p.c.max_payload(), Some(1024));
    assert_eq!(p.c.publish(ms(0), "foo", vec![0u8; 1024]), Err(Error::MaxPayloadExceeded));
    assert_eq!(p.c.pending_pub_acks(), 0);
    assert!(p.c.poll_transmit().is_none());
    // Smaller ones still go out; 0 means "unknown" (no limit).
    p.c.publish(ms(0), "foo", vec![0u8; 512]).unwrap();
    assert_eq!(p.c.pending_pub_acks(), 1);
    p.c.set_max_payload(0);
    p.c.publish(ms(0), "foo", vec![0u8; 4096]).unwrap();
    assert_eq!(p.c.pending_pub_acks(), 2);
}

#[test]
fn publish_into_hands_the_frame_over_only_when_nothing_is_queued_ahead() {
    let mut p = Peer::connected();
    p.take_all();
    let mut frames = Vec::new();
    let g =
        p.c.publish_into(ms(0), "foo", b"direct", |f| {
            frames.push((format!("{}.{}", f.prefix, f.channel), f.reply.to_string(), f.payload.to_vec()))
        })
        .unwrap();
    assert_eq!(frames.len(), 1);
    let (to, reply, payload) = frames.pop().unwrap();
    assert_eq!(to, "_STAN.pub.test-cluster.foo");
    assert_eq!(reply, p.c.ack_subject());
    let m: stan_proto::PubMsg = stan_proto::decode(&payload).unwrap();
    assert_eq!((m.guid.as_str(), m.subject.as_str(), m.data.as_ref()), (g.as_str(), "foo", b"direct".as_ref()));
    assert!(p.take_all().is_empty(), "nothing queued");
    // An op queued ahead (a SUB) keeps its place: the publish is queued behind it.
    p.c.subscribe(ms(0), "bar", SubscriptionOptions::default()).unwrap();
    let g2 = p.c.publish_into(ms(0), "foo", b"queued", |_| panic!("must queue")).unwrap();
    let sent: stan_proto::PubMsg = p.take("_STAN.pub.test-cluster.foo").decode();
    assert_eq!(sent.guid, g2.as_str());
    // Both acks match.
    let acks = p.c.ack_subject().to_string();
    for g in [g, g2] {
        p.deliver(
            &acks,
            None,
            stan_proto::encode(&stan_proto::PubAck { guid: g.as_str().into(), error: String::new() }),
        );
    }
    assert_eq!(p.c.pending_pub_acks(), 0);
}
