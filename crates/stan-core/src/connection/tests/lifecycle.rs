//! Pings, connection loss, close, and NATS status reports.

use super::*;
use crate::{Error, State, SubOp, SubscriptionOptions};

const PINGS: &str = "_STAN.discover.test-cluster.pings";
const CLOSE: &str = "_STAN.close.test-cluster";

#[test]
fn pings_every_interval_and_replies_reset() {
    let mut p = Peer::connected();
    assert_eq!(p.c.poll_timeout(), Some(ms(1000)));
    p.at(ms(1000));
    let ping = p.take(PINGS);
    assert_eq!(ping.reply.as_deref(), Some(p.c.ping_inbox()));
    assert_eq!(ping.decode::<stan_proto::Ping>().conn_id.as_ref(), p.c.conn_id());
    assert_eq!(p.c.pings_outstanding(), 1);
    let inbox = p.c.ping_inbox().to_string();
    p.deliver(&inbox, None, Bytes::new());
    assert_eq!(p.c.pings_outstanding(), 0);
    // A PingResponse with an empty error also resets.
    p.at(ms(2000));
    let _ = p.take(PINGS);
    p.deliver(&inbox, None, stan_proto::encode(&stan_proto::PingResponse { error: String::new() }));
    assert_eq!(p.c.pings_outstanding(), 0);
    for t in [3000, 4000, 5000, 6000] {
        p.at(ms(t));
        let _ = p.take(PINGS);
        p.deliver(&inbox, None, Bytes::new());
    }
    assert!(p.events().is_empty());
    assert_eq!(p.c.state(), State::Connected);
}

#[test]
fn unanswered_pings_lose_the_connection() {
    let mut p = Peer::connected();
    let guid = p.c.publish(ms(0), "foo", "x").unwrap();
    let _ = p.take_all();
    p.at(ms(1000));
    p.at(ms(2000));
    assert_eq!(p.take_all().len(), 2);
    assert!(p.events().is_empty());
    p.at(ms(3000));
    assert!(p.take_all().is_empty(), "no third ping: the session is lost");
    assert_eq!(
        p.events(),
        vec![
            Event::PubAck { guid, result: Err(Error::PingFailure) },
            Event::ConnectionLost(Error::PingFailure),
            Event::Closed(Ok(())),
        ]
    );
    assert!(p.c.is_closed());
    assert!(p.subs.is_empty());
    assert_eq!(p.c.publish(ms(3000), "foo", "x"), Err(Error::ConnectionClosed));
}

#[test]
fn ping_error_loses_the_connection_with_the_server_text() {
    let mut p = Peer::connected();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let _ = p.take_all();
    p.at(ms(1000));
    let inbox = p.c.ping_inbox().to_string();
    let text = "client has been replaced or is no longer registered";
    p.deliver(&inbox, None, stan_proto::encode(&stan_proto::PingResponse { error: text.into() }));
    let e = Error::Server(text.into());
    assert_eq!(
        p.events(),
        vec![
            Event::SubError { sub, op: SubOp::Subscribe, error: e.clone() },
            Event::SubEnded { sub },
            Event::ConnectionLost(e),
            Event::Closed(Ok(())),
        ]
    );
    assert!(p.subs.is_empty());
}

#[test]
fn close_fails_publishes_ends_subs_and_sends_close_request() {
    let mut p = Peer::quiet();
    let guid = p.c.publish(ms(0), "foo", "x").unwrap();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let sub_req = p.take("_STAN.sub.test-cluster");
    p.respond(&sub_req, &stan_proto::SubscriptionResponse { ack_inbox: "_INBOX.A".into(), error: String::new() });
    let _ = p.take_all();
    let _ = p.events();
    p.c.close(ms(0));
    assert_eq!(p.c.state(), State::Closing);
    let req = p.take(CLOSE);
    assert_eq!(req.decode::<stan_proto::CloseRequest>().client_id, CLIENT);
    assert_eq!(p.events(), vec![Event::PubAck { guid, result: Err(Error::ConnectionClosed) }, Event::SubEnded { sub }]);
    assert_eq!(p.c.publish(ms(0), "foo", "x"), Err(Error::ConnectionClosed));
    assert_eq!(p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()), Err(Error::ConnectionClosed));
    p.c.close(ms(0));
    assert!(p.take_all().is_empty(), "second close is a no-op");
    p.respond(&req, &stan_proto::CloseResponse { error: String::new() });
    assert_eq!(p.events(), vec![Event::Closed(Ok(()))]);
    assert!(p.subs.is_empty());
    assert_eq!(p.c.poll_timeout(), None);
}

#[test]
fn close_response_error_and_timeout() {
    let mut p = Peer::quiet();
    p.c.close(ms(0));
    let req = p.take(CLOSE);
    p.respond(&req, &stan_proto::CloseResponse { error: "stan: unknown clientID".into() });
    assert_eq!(p.events(), vec![Event::Closed(Err(Error::Server("stan: unknown clientID".into())))]);

    let mut p = Peer::quiet();
    p.at(ms(50));
    p.c.close(ms(50));
    assert_eq!(p.c.poll_timeout(), Some(ms(2050)));
    p.at(ms(2049));
    assert!(p.events().is_empty());
    p.at(ms(2050));
    assert_eq!(p.events(), vec![Event::Closed(Err(Error::CloseRequestTimeout))]);
    assert!(p.subs.is_empty());
}

#[test]
fn close_during_handshake_is_immediate() {
    let mut p = Peer::new(config());
    let guid = p.c.publish(ms(0), "foo", "x").unwrap();
    p.c.close(ms(0));
    assert_eq!(p.events(), vec![Event::PubAck { guid, result: Err(Error::ConnectionClosed) }, Event::Closed(Ok(()))]);
    assert!(p.subs.is_empty());
    assert_eq!(p.c.ack(crate::SubId(1), 1), Err(Error::ConnectionClosed));
}

#[test]
fn close_fails_pending_sub_operations() {
    let mut p = Peer::quiet();
    let a = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    p.c.close(ms(0));
    let ev = p.events();
    assert_eq!(
        ev,
        vec![
            Event::SubError { sub: a, op: SubOp::Subscribe, error: Error::ConnectionClosed },
            Event::SubEnded { sub: a }
        ]
    );
    assert_eq!(p.c.unsubscribe(ms(0), a), Err(Error::ConnectionClosed));
}

#[test]
fn nats_status_reports_become_events() {
    let mut p = Peer::quiet();
    p.c.handle_nats_disconnected();
    p.c.handle_nats_reconnected();
    assert_eq!(p.events(), vec![Event::Disconnected, Event::Reconnected]);
    p.c.close(ms(0));
    let req = p.take(CLOSE);
    p.respond(&req, &stan_proto::CloseResponse::default());
    let _ = p.events();
    p.c.handle_nats_disconnected();
    assert!(p.events().is_empty());
}

#[test]
fn messages_after_close_are_ignored() {
    let mut p = Peer::quiet();
    p.c.close(ms(0));
    let req = p.take(CLOSE);
    p.respond(&req, &stan_proto::CloseResponse::default());
    let _ = p.events();
    p.c.handle_message(
        ms(0),
        IncomingMessage { sid: Sid(1), subject: "x".into(), reply: Some("r".into()), payload: Bytes::new() },
    );
    assert!(p.take_all().is_empty());
    p.c.handle_timeout(ms(100_000));
    assert!(p.events().is_empty());
}

#[test]
fn nats_closed_ends_the_session_without_a_close_request() {
    let mut p = Peer::connected();
    let guid = p.c.publish(ms(0), "foo", b"x").unwrap();
    let sub = p.c.subscribe(ms(0), "foo", SubscriptionOptions::default()).unwrap();
    let _ = p.take_all();
    p.c.handle_nats_closed();
    assert_eq!(
        p.events(),
        vec![
            Event::PubAck { guid, result: Err(Error::ConnectionClosed) },
            Event::SubError { sub, op: SubOp::Subscribe, error: Error::ConnectionClosed },
            Event::SubEnded { sub },
            Event::Closed(Ok(())),
        ]
    );
    assert!(p.take_all().is_empty(), "nothing is sent to the server");
    assert!(p.subs.is_empty(), "every NATS subscription is dropped");
    assert!(p.c.is_closed());
    p.c.handle_nats_closed();
    assert!(p.events().is_empty(), "a second report is ignored");
}
