//! Connect errors, URL forms, close, client-side flow control, and recovery
//! from server restarts, against real servers.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use stan_client::{ConnectionEvent, Error, Options, StanError, SubscriptionOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_have_the_reference_texts() {
    let env = env();
    let e = stan_client::connect("", "a", opts(&env)).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: cluster ID must be supplied");
    let e = stan_client::connect(CLUSTER, "", opts(&env)).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: client ID must be supplied");
    let fast = opts(&env).connect_timeout(Duration::from_millis(500));
    let e = within(10, stan_client::connect("wrong-cluster", "a", fast)).await.unwrap_err();
    assert_eq!(e, Error::Stan(StanError::ConnectRequestTimeout));
    assert_eq!(e.to_string(), "stan: connect request timeout");
    let e = within(10, stan_client::connect(CLUSTER, "bad id", opts(&env))).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed");
    let id = client_id("dup");
    let first = within(10, stan_client::connect(CLUSTER, &id, opts(&env))).await.unwrap();
    let e = within(10, stan_client::connect(CLUSTER, &id, opts(&env))).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: clientID already registered");
    within(10, first.close()).await.unwrap();
    // Nothing listens on this port: a NATS error, no hang.
    let port = stan_testkit::ports::free_port();
    let nowhere = Options::new().url(format!("nats://127.0.0.1:{port}")).max_reconnect_attempts(Some(0));
    assert!(matches!(within(15, stan_client::connect(CLUSTER, "a", nowhere)).await, Err(Error::Nats(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_forms_from_the_course_code_work() {
    let env = env();
    let p = env.nats_port();
    for url in [format!("http://localhost:{p}"), format!("localhost:{p}"), format!("nats://127.0.0.1:{p}")] {
        let sc = within(10, stan_client::connect(CLUSTER, &client_id("url"), Options::new().url(url.clone())))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        within(10, sc.publish("u", "x")).await.unwrap();
        within(10, sc.close()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_pending_publishes_and_ends_everything() {
    let mut env = env();
    let o = opts(&env).max_pub_acks_inflight(2).connect_timeout(Duration::from_millis(500));
    let sc = within(10, stan_client::connect(CLUSTER, &client_id("close"), o)).await.unwrap();
    let mut sub = within(10, sc.subscribe("c", SubscriptionOptions::default())).await.unwrap();
    let mut events = sc.events();
    // With the STAN server gone no ack comes back.
    tokio::task::block_in_place(|| env.stop_stan());
    let a = within(5, sc.publish_async("c", "1")).await.unwrap();
    let b = within(5, sc.publish_async("c", "2")).await.unwrap();
    let e = within(5, sc.publish_async("c", "3")).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: max in flight reached.");
    let closed = within(10, sc.close()).await;
    assert_eq!(closed.unwrap_err().to_string(), "stan: close request timeout");
    assert_eq!(within(5, a).await.unwrap_err().to_string(), "stan: Connection closed");
    assert_eq!(within(5, b).await.unwrap_err(), Error::Stan(StanError::ConnectionClosed));
    assert!(within(5, sub.next()).await.is_none());
    assert!(matches!(within(5, events.next()).await, Some(ConnectionEvent::Closed(Err(_)))));
    assert_eq!(sc.publish("c", "x").await.unwrap_err().to_string(), "stan: Connection closed");
    assert!(sc.close().await.is_ok(), "a second close is a no-op");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_ack_timeout() {
    let mut env = env();
    let o = opts(&env).ack_timeout(Duration::from_millis(700));
    let sc = within(10, stan_client::connect(CLUSTER, &client_id("ackto"), o)).await.unwrap();
    tokio::task::block_in_place(|| env.stop_stan());
    let started = std::time::Instant::now();
    let e = within(5, sc.publish("t", "x")).await.unwrap_err();
    assert_eq!(e.to_string(), "stan: publish ack timeout");
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restart_mid_burst_loses_no_publish_silently() {
    let mut env = env();
    let o = opts(&env).ack_timeout(Duration::from_secs(4));
    let sc = within(10, stan_client::connect(CLUSTER, &client_id("burst"), o)).await.unwrap();
    let mut sub = within(10, sc.subscribe("b", SubscriptionOptions::default())).await.unwrap();
    let mut events = sc.events();
    const N: usize = 300;
    let publisher = {
        let sc = sc.clone();
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..N {
                acks.push(sc.publish_async("b", format!("{i}")).await);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acks
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::task::block_in_place(|| env.restart_nats());
    let acks = within(30, publisher).await.unwrap();
    let (mut ok, mut failed) = (0, 0);
    for a in acks {
        match a {
            Ok(fut) => match within(15, fut).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(e.stan().is_some(), "a STAN error: {e}");
                    failed += 1;
                }
            },
            Err(e) => panic!("publish refused: {e}"),
        }
    }
    assert_eq!(ok + failed, N, "every publish settled");
    assert!(ok > 0, "some publishes were acked");
    let mut saw = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {
        saw.push(e);
    }
    assert!(saw.contains(&ConnectionEvent::Disconnected), "{saw:?}");
    assert!(saw.contains(&ConnectionEvent::Reconnected), "{saw:?}");
    // The subscription keeps receiving after the restart.
    within(10, sc.publish("b", "after")).await.unwrap();
    let mut found = false;
    for _ in 0..=N {
        if next(&mut sub).await.data_str() == "after" {
            found = true;
            break;
        }
    }
    assert!(found);
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stan_restart_with_memory_store_loses_the_connection() {
    let mut env = env();
    let o = opts(&env).ping_interval(Duration::from_secs(1)).ping_max_out(2);
    let sc = within(10, stan_client::connect(CLUSTER, &client_id("lost"), o)).await.unwrap();
    let mut sub = within(10, sc.subscribe("l", SubscriptionOptions::default())).await.unwrap();
    let mut events = sc.events();
    tokio::task::block_in_place(|| env.restart_stan());
    let lost = within(10, async {
        loop {
            match events.next().await {
                Some(ConnectionEvent::ConnectionLost(e)) => return e,
                Some(_) => continue,
                None => panic!("events ended"),
            }
        }
    })
    .await;
    let text = lost.to_string();
    assert!(
        text == "client has been replaced or is no longer registered"
            || text == "stan: connection lost due to PING failure",
        "{text}"
    );
    assert!(matches!(within(5, events.next()).await, Some(ConnectionEvent::Closed(Ok(())))));
    assert!(within(5, sub.next()).await.is_none(), "subscriptions end");
    assert_eq!(within(5, sc.publish("l", "x")).await.unwrap_err().to_string(), "stan: Connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_closes_the_session() {
    let env = env();
    let id = client_id("drop");
    let sc = within(10, stan_client::connect(CLUSTER, &id, opts(&env))).await.unwrap();
    let sub = within(10, sc.subscribe("d", SubscriptionOptions::default())).await.unwrap();
    let mut events = sc.events();
    drop(sc);
    // A subscription keeps the session open.
    assert!(tokio::time::timeout(Duration::from_millis(300), events.next()).await.is_err(), "still open");
    drop(sub);
    assert!(matches!(within(5, events.next()).await, Some(ConnectionEvent::Closed(Ok(())))));
    // The server forgot the client: the same ID connects again at once.
    let again = within(10, stan_client::connect(CLUSTER, &id, opts(&env))).await.unwrap();
    within(10, again.close()).await.unwrap();
}
