//! Publish, subscribe, acks and subscription kinds against real servers.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use stan_client::{Error, StanError, StartAt, SubscriptionOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_is_acked_and_delivered() {
    let env = env();
    let sc = connect(&env, "pub").await;
    let guid = within(10, sc.publish("foo", "hello")).await.unwrap();
    assert_eq!(guid.len(), 22);
    let mut sub =
        within(10, sc.subscribe("foo", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!((m.subject(), m.sequence(), m.data().as_ref()), ("foo", 1, b"hello".as_ref()));
    assert!(!m.is_redelivered());
    assert!(m.timestamp_nanos() > 1_600_000_000_000_000_000);
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_publishes_are_all_acked_in_order() {
    let env = env();
    let sc = connect(&env, "pipe").await;
    let mut futures = Vec::new();
    for i in 0..200 {
        futures.push(within(10, sc.publish_async("pipe", format!("m{i}"))).await.unwrap());
    }
    let guids: Vec<String> = futures.iter().map(|f| f.guid().to_string()).collect();
    let acked = within(20, futures::future::try_join_all(futures)).await.unwrap();
    assert_eq!(acked, guids);
    let unique: std::collections::HashSet<_> = guids.iter().collect();
    assert_eq!(unique.len(), 200);
    let mut sub =
        within(10, sc.subscribe("pipe", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    for i in 0..200u64 {
        let m = next(&mut sub).await;
        assert_eq!((m.sequence(), m.data_str().into_owned()), (i + 1, format!("m{i}")));
    }
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_start_position() {
    let env = env();
    let sc = connect(&env, "start").await;
    publish_all(&sc, "pos", &["1", "2", "3", "4", "5"]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    publish_all(&sc, "pos", &["6"]).await;

    let sub_at = |start: StartAt| sc.subscribe("pos", SubscriptionOptions::default().start_at(start));
    let mut first = within(10, sub_at(StartAt::First)).await.unwrap();
    assert_eq!(take(&mut first, 6).await, ["1", "2", "3", "4", "5", "6"]);
    let mut last = within(10, sub_at(StartAt::LastReceived)).await.unwrap();
    assert_eq!(take(&mut last, 1).await, ["6"]);
    let mut seq = within(10, sub_at(StartAt::Sequence(3))).await.unwrap();
    assert_eq!(take(&mut seq, 4).await, ["3", "4", "5", "6"]);
    let mut delta = within(10, sub_at(StartAt::TimeDelta(Duration::from_millis(300)))).await.unwrap();
    assert_eq!(take(&mut delta, 1).await, ["6"]);
    let mut new_only = within(10, sub_at(StartAt::NewOnly)).await.unwrap();
    quiet(&mut new_only, 300).await;
    publish_all(&sc, "pos", &["7"]).await;
    assert_eq!(take(&mut new_only, 1).await, ["7"]);
    for sub in [&mut first, &mut last, &mut seq, &mut delta] {
        assert_eq!(take(sub, 1).await, ["7"]);
    }
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_members_share_the_messages() {
    let env = env();
    let (a, b) = (connect(&env, "qa").await, connect(&env, "qb").await);
    let group = SubscriptionOptions::default().queue_group("order-service-queue-group");
    let mut sa = within(10, a.subscribe("ticket:created", group.clone())).await.unwrap();
    let mut sb = within(10, b.subscribe("ticket:created", group)).await.unwrap();
    let publisher = connect(&env, "qp").await;
    let payloads: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    for p in &payloads {
        within(10, publisher.publish("ticket:created", p.clone())).await.unwrap();
    }
    let mut got = Vec::new();
    let (mut na, mut nb) = (0, 0);
    while got.len() < 20 {
        tokio::select! {
            Some(m) = sa.next() => { na += 1; got.push(m.data_str().into_owned()); }
            Some(m) = sb.next() => { nb += 1; got.push(m.data_str().into_owned()); }
            _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("only {} messages", got.len()),
        }
    }
    got.sort_by_key(|s| s.parse::<u32>().unwrap());
    assert_eq!(got, payloads, "each message exactly once across the group");
    assert!(na > 0 && nb > 0, "both members received ({na}, {nb})");
    quiet(&mut sa, 300).await;
    for c in [a, b, publisher] {
        within(10, c.close()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_resumes_after_close_and_restarts_after_unsubscribe() {
    let env = env();
    let id = client_id("dur");
    let opts = || SubscriptionOptions::default().deliver_all_available().durable_name("dur").manual_ack_mode(true);
    let sc = within(10, stan_client::connect(CLUSTER, &id, common::opts(&env))).await.unwrap();
    publish_all(&sc, "d", &["1", "2"]).await;
    let mut sub = within(10, sc.subscribe("d", opts())).await.unwrap();
    for _ in 0..2 {
        next(&mut sub).await.ack().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(10, sub.close()).await.unwrap();
    assert_eq!(within(10, sub.close()).await.unwrap_err().to_string(), "stan: invalid subscription");
    assert!(within(5, sub.next()).await.is_none(), "stream ends after close");
    publish_all(&sc, "d", &["3"]).await;
    let mut sub = within(10, sc.subscribe("d", opts())).await.unwrap();
    assert_eq!(take(&mut sub, 1).await, ["3"], "resumes after the last ack, start position ignored");
    next_ack_quiet(&mut sub).await;
    within(10, sub.unsubscribe()).await.unwrap();
    let mut sub = within(10, sc.subscribe("d", opts())).await.unwrap();
    assert_eq!(take(&mut sub, 3).await, ["1", "2", "3"], "unsubscribe deleted the durable");
    // A second live registration of the same durable is refused.
    let err = within(10, sc.subscribe("d", opts())).await.unwrap_err();
    assert_eq!(err.to_string(), "stan: duplicate durable registration");
    within(10, sc.close()).await.unwrap();
}

async fn next_ack_quiet(sub: &mut stan_client::Subscription) {
    quiet(sub, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_queue_group_resumes_where_the_group_left_off() {
    // The seed's last section: after message 1 was processed the listener
    // goes down; 2 and 3 are published; the restarted listener gets 2 and 3.
    let env = env();
    let listener_opts = || {
        SubscriptionOptions::default()
            .queue_group("queue-group-name")
            .deliver_all_available()
            .durable_name("accounting-service")
            .manual_ack_mode(true)
    };
    let publisher = connect(&env, "pub").await;
    let listener = connect(&env, "listener").await;
    let mut sub = within(10, listener.subscribe("ticket:created", listener_opts())).await.unwrap();
    publish_all(&publisher, "ticket:created", &["1"]).await;
    let m = next(&mut sub).await;
    assert_eq!(m.data_str(), "1");
    m.ack().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(10, listener.close()).await.unwrap();
    assert!(within(5, sub.next()).await.is_none());

    publish_all(&publisher, "ticket:created", &["2", "3"]).await;
    let listener = connect(&env, "listener").await;
    let mut sub = within(10, listener.subscribe("ticket:created", listener_opts())).await.unwrap();
    let got = take(&mut sub, 2).await;
    assert_eq!(got, ["2", "3"]);
    quiet(&mut sub, 500).await;
    within(10, listener.close()).await.unwrap();
    within(10, publisher.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_message_is_redelivered_after_ack_wait() {
    let env = env();
    let sc = connect(&env, "redeliver").await;
    let o = SubscriptionOptions::default().manual_ack_mode(true).ack_wait(Duration::from_secs(1));
    let mut sub = within(10, sc.subscribe("r", o)).await.unwrap();
    publish_all(&sc, "r", &["x"]).await;
    let m = next(&mut sub).await;
    assert!(!m.is_redelivered());
    let started = std::time::Instant::now();
    let again = next(&mut sub).await;
    assert!(started.elapsed() >= Duration::from_millis(500), "redelivered after the ack wait");
    assert_eq!((again.sequence(), again.is_redelivered(), again.redelivery_count()), (1, true, 1));
    again.ack().unwrap();
    quiet(&mut sub, 1800).await;
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_stalls_until_an_ack() {
    let env = env();
    let sc = connect(&env, "mif").await;
    let o = SubscriptionOptions::default().manual_ack_mode(true).max_in_flight(2);
    let mut sub = within(10, sc.subscribe("f", o)).await.unwrap();
    publish_all(&sc, "f", &["1", "2", "3", "4"]).await;
    let first = next(&mut sub).await;
    let second = next(&mut sub).await;
    assert_eq!((first.sequence(), second.sequence()), (1, 2));
    quiet(&mut sub, 500).await;
    first.ack().unwrap();
    assert_eq!(next(&mut sub).await.sequence(), 3);
    quiet(&mut sub, 300).await;
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_option_checks_and_server_refusals() {
    let env = env();
    let sc = connect(&env, "checks").await;
    let d = SubscriptionOptions::default();
    let e = sc.subscribe("x", d.clone().max_in_flight(0)).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: invalid MaxInflight, should be >= 1");
    let e = sc.subscribe("x", d.clone().ack_wait(Duration::from_millis(500))).await.unwrap_err();
    assert_eq!(e, Error::Stan(StanError::AckWaitNotWholeSeconds));
    let e = sc.subscribe("", d.clone()).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: subject must be supplied");
    let e = within(10, sc.subscribe("foo.*", d.clone())).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: invalid subject");
    let e = within(10, sc.subscribe("x", d.queue_group("g").durable_name("a:b"))).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: durable name of a durable queue subscriber can't contain the character ':'");
    let e = within(10, sc.publish("foo.*", "x")).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: invalid publish request");
    let sub = within(10, sc.subscribe("x", SubscriptionOptions::default())).await.unwrap();
    within(10, sub.unsubscribe()).await.unwrap();
    assert_eq!(within(10, sub.unsubscribe()).await.unwrap_err().to_string(), "stan: invalid subscription");
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_over_max_payload_fails_at_once_and_the_connection_stays_usable() {
    let env = env();
    let sc = connect(&env, "big").await;
    let big = vec![1u8; 2 * 1024 * 1024];
    let t0 = std::time::Instant::now();
    let err = within(10, sc.publish("big", big)).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    assert_eq!(err.stan(), Some(&StanError::MaxPayloadExceeded));
    assert_eq!(err.to_string(), "nats: maximum payload exceeded");
    within(10, sc.publish("big", "small")).await.unwrap();
    within(10, sc.close()).await.unwrap();
}
