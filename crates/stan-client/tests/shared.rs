//! `SharedSession` against a real server: synchronous publish and subscribe
//! on the caller's thread, events in batches through the sink, the clock
//! frozen until NATS connects, and a silent end when NATS is unreachable.

mod common;

use common::{env, within, CLUSTER};
use stan_client::shared::{NatsErrorKind, SessionEvent, SharedSession};
use stan_client::Options;
use stan_core::{Event, SubscriptionOptions};
use tokio::sync::mpsc;

type Events = mpsc::UnboundedReceiver<Vec<SessionEvent>>;

fn start(url: &str, id: &str) -> (SharedSession, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = move |batch: &mut Vec<SessionEvent>| {
        let _ = tx.send(std::mem::take(batch));
    };
    let s = SharedSession::start(CLUSTER, id, &Options::new().url(url), sink, rand::random()).expect("start");
    (s, rx)
}

/// Collect events until `done` says so (5 s at most).
async fn until(rx: &mut Events, mut done: impl FnMut(&SessionEvent) -> bool) -> Vec<SessionEvent> {
    let mut all = Vec::new();
    within(5, async {
        while let Some(batch) = rx.recv().await {
            for ev in batch {
                let stop = done(&ev);
                all.push(ev);
                if stop {
                    return;
                }
            }
        }
    })
    .await;
    all
}

#[tokio::test]
async fn publish_subscribe_and_close_through_the_shared_core() {
    let env = env();
    let (s, mut rx) = start(&env.nats_url(), &common::client_id("shared"));
    // Commands work before the handshake: the publish is held, the guid is ours now.
    let early = s.with(|c, now| c.publish(now, "shared", b"early")).unwrap();
    let sub = s.with(|c, now| c.subscribe(now, "shared", SubscriptionOptions::default().deliver_all_available()));
    let sub = sub.unwrap();
    // The PubAck and the message arrive on different NATS subscriptions, in
    // either order: collect until both are there.
    let early_ack = SessionEvent::Core(Event::PubAck { guid: early.clone(), result: Ok(()) });
    let (mut got_ack, mut got_msg) = (false, false);
    let evs = until(&mut rx, |e| {
        got_ack |= *e == early_ack;
        got_msg |= matches!(e, SessionEvent::Core(Event::Message { .. }));
        got_ack && got_msg
    })
    .await;
    assert!(evs.contains(&SessionEvent::Core(Event::Connected)));
    assert!(evs.contains(&early_ack));
    assert!(evs.contains(&SessionEvent::Core(Event::SubReady { sub })));
    let msgs: Vec<&[u8]> = evs
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Core(Event::Message { msg, .. }) => Some(&msg.data[..]),
            _ => None,
        })
        .collect();
    assert_eq!(msgs, vec![b"early".as_ref()]);
    // Many publishes: their acks arrive in fewer batches than publishes.
    let guids: Vec<String> =
        (0..500).map(|i| s.with(|c, now| c.publish(now, "bulk", format!("{i}")).unwrap())).collect();
    let mut acked = 0;
    let mut batches = 0;
    within(10, async {
        while acked < guids.len() {
            let batch = rx.recv().await.expect("events");
            batches += 1;
            acked += batch.iter().filter(|e| matches!(e, SessionEvent::Core(Event::PubAck { .. }))).count();
        }
    })
    .await;
    assert!(batches < guids.len(), "{batches} batches for {} acks", guids.len());
    s.with(|c, now| c.close(now));
    let evs = until(&mut rx, |e| matches!(e, SessionEvent::Core(Event::Closed(_)))).await;
    assert_eq!(evs.last(), Some(&SessionEvent::Core(Event::Closed(Ok(())))));
    // The driver is gone: the sink (and its sender) was dropped.
    assert!(within(5, rx.recv()).await.is_none());
}

#[tokio::test]
async fn unreachable_nats_reports_connect_failed_then_ends() {
    let port = stan_testkit::ports::free_port();
    let (s, mut rx) = start(&format!("nats://127.0.0.1:{port}"), "nobody");
    let guid = s.with(|c, now| c.publish(now, "x", b"y")).unwrap();
    let evs = until(&mut rx, |e| matches!(e, SessionEvent::Core(Event::Closed(_)))).await;
    assert!(matches!(&evs[0], SessionEvent::Nats { kind: NatsErrorKind::ConnectFailed, .. }), "{evs:?}");
    assert!(evs.contains(&SessionEvent::Core(Event::PubAck { guid, result: Err(stan_core::Error::ConnectionClosed) })));
    assert!(within(5, rx.recv()).await.is_none());
    // The session clock never started: nothing timed out in between.
    assert!(!evs.iter().any(|e| matches!(e, SessionEvent::Core(Event::ConnectFailed(_)))));
}
