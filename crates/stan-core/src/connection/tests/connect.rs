//! Handshake: subscriptions made first, ConnectRequest contents, responses,
//! timeout, heartbeats, and determinism.

use super::*;
use crate::{Error, SubscriptionOptions};

#[test]
fn rejects_missing_ids() {
    let e = Connection::new(ConnectConfig::new("", CLIENT), 1, Duration::ZERO).unwrap_err();
    assert_eq!(e, Error::BadClusterId);
    let e = Connection::new(ConnectConfig::new(CLUSTER, ""), 1, Duration::ZERO).unwrap_err();
    assert_eq!(e.to_string(), "stan: client ID must be supplied");
}

#[test]
fn subscribes_inboxes_then_sends_connect_request() {
    let mut c = Connection::new(config(), 3, Duration::ZERO).unwrap();
    let ops: Vec<NatsOp> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert_eq!(ops.len(), 5);
    let subjects: Vec<String> = ops[..4]
        .iter()
        .map(|op| match op {
            NatsOp::Subscribe { subject, .. } => subject.clone(),
            other => panic!("expected SUB first, got {other:?}"),
        })
        .collect();
    assert_eq!(subjects[0], c.heartbeat_inbox());
    assert_eq!(subjects[1], c.ack_subject());
    assert!(c.ack_subject().starts_with("_STAN.acks.") && c.ack_subject().len() == 11 + 22);
    assert_eq!(subjects[2], c.ping_inbox());
    assert!(subjects[3].starts_with("_INBOX.") && subjects[3].ends_with(".*"));
    let NatsOp::Publish { subject, reply, payload } = &ops[4] else { panic!("expected PUB") };
    assert_eq!(subject, "_STAN.discover.test-cluster");
    assert!(matches(&subjects[3], reply.as_deref().unwrap()));
    let req: stan_proto::ConnectRequest = stan_proto::decode(payload).unwrap();
    assert_eq!(req.client_id, CLIENT);
    assert_eq!(req.heartbeat_inbox, c.heartbeat_inbox());
    assert_eq!(req.protocol, 1);
    assert_eq!(req.conn_id.as_ref(), c.conn_id());
    assert_eq!(c.conn_id().len(), 22);
    assert_eq!(req.ping_interval, 1);
    assert_eq!(req.ping_max_out, 2);
    assert_eq!(c.poll_timeout(), Some(ms(2000)));
}

#[test]
fn custom_discover_prefix_and_rounded_ping_interval() {
    let mut cfg = config();
    cfg.discover_prefix = "my.discover".into();
    cfg.ping_interval = ms(2500);
    let mut p = Peer::new(cfg);
    let req: stan_proto::ConnectRequest = p.take("my.discover.test-cluster").decode();
    assert_eq!(req.ping_interval, 3);
}

#[test]
fn connect_response_stores_subjects_and_starts_pings() {
    let mut p = Peer::new(config());
    let req = p.take("_STAN.discover.test-cluster");
    assert!(p.c.server_subjects().is_none());
    p.respond(&req, &connect_response());
    assert_eq!(p.events(), vec![Event::Connected]);
    assert_eq!(p.c.state(), crate::State::Connected);
    let srv = p.c.server_subjects().unwrap();
    assert_eq!(srv.pub_prefix, "_STAN.pub.test-cluster");
    assert_eq!(srv.ping_requests, "_STAN.discover.test-cluster.pings");
    assert_eq!(p.c.ping_interval(), Some(Duration::from_secs(1)));
    assert_eq!(p.c.ping_max_out(), Some(2));
    assert_eq!(p.c.poll_timeout(), Some(Duration::from_secs(1)));
}

#[test]
fn old_server_without_pings_drops_the_ping_inbox() {
    let resp = stan_proto::ConnectResponse { protocol: 0, ping_interval: 0, ..connect_response() };
    let mut p = Peer::connected_with(config(), resp);
    let ping_sid = Sid(3);
    assert!(p.unsubs.contains(&ping_sid));
    assert_eq!(p.c.ping_interval(), None);
    assert_eq!(p.c.poll_timeout(), None);
    p.at(Duration::from_secs(60));
    assert!(p.take_all().is_empty());
    assert!(p.events().is_empty());
}

#[test]
fn connect_error_fails_the_session() {
    let mut p = Peer::new(config());
    let guid = p.c.publish(ms(0), "foo", "x").unwrap();
    let req = p.take("_STAN.discover.test-cluster");
    let text = "stan: clientID already registered";
    p.respond(&req, &stan_proto::ConnectResponse { error: text.into(), ..Default::default() });
    let err = Error::Server(text.into());
    assert_eq!(
        p.events(),
        vec![Event::PubAck { guid, result: Err(err.clone()) }, Event::ConnectFailed(err), Event::Closed(Ok(()))]
    );
    assert!(p.c.is_closed());
    assert!(p.subs.is_empty(), "all internal inboxes unsubscribed: {:?}", p.subs);
    assert!(p.take_all().is_empty(), "held publish never sent");
    assert_eq!(p.c.poll_timeout(), None);
}

#[test]
fn connect_timeout() {
    let mut p = Peer::new(config());
    let req = p.take("_STAN.discover.test-cluster");
    p.at(ms(1999));
    assert!(p.events().is_empty());
    p.at(ms(2000));
    assert_eq!(p.events(), vec![Event::ConnectFailed(Error::ConnectRequestTimeout), Event::Closed(Ok(()))]);
    assert_eq!(Error::ConnectRequestTimeout.to_string(), "stan: connect request timeout");
    // A late response changes nothing.
    p.subs.insert(Sid(4), "_INBOX.*.*".into());
    p.respond(&req, &connect_response());
    assert!(p.events().is_empty());
    assert!(p.c.is_closed());
}

#[test]
fn undecodable_connect_response_fails() {
    let mut p = Peer::new(config());
    let req = p.take("_STAN.discover.test-cluster");
    p.deliver(req.reply.as_deref().unwrap(), None, vec![0xff, 0xff, 0xff]);
    let ev = p.events();
    assert_eq!(ev[0], Event::ConnectFailed(Error::Decode("ConnectResponse")));
}

#[test]
fn heartbeats_are_answered_with_an_empty_message() {
    let mut p = Peer::new(config());
    let _ = p.take_all();
    let hb = p.c.heartbeat_inbox().to_string();
    p.deliver(&hb, Some("_INBOX.hbreply"), Bytes::new());
    let r = p.take("_INBOX.hbreply");
    assert!(r.payload.is_empty() && r.reply.is_none());
    let mut p = Peer::connected();
    let hb = p.c.heartbeat_inbox().to_string();
    p.deliver(&hb, Some("_INBOX.r2"), Bytes::new());
    assert!(p.take("_INBOX.r2").payload.is_empty());
    // Without a reply subject nothing is sent.
    p.deliver(&hb, None, Bytes::new());
    assert!(p.take_all().is_empty());
}

#[test]
fn the_same_seed_and_inputs_give_the_same_outputs() {
    let run = || {
        let mut p = Peer::connected();
        p.c.publish(ms(10), "a", "1").unwrap();
        p.c.subscribe(ms(10), "a", SubscriptionOptions::default()).unwrap();
        p.take_all().into_iter().map(|s| (s.subject, s.reply, s.payload)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
