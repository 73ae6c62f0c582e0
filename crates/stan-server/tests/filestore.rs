//! File store durability against real processes: stan-server is killed with
//! SIGKILL in the middle of a publish burst and restarted on the same
//! directory; every acknowledged message must be there, and a durable
//! subscription must resume after its last ack.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::{StanEnv, StanImpl};
use std::collections::BTreeSet;
use std::time::Duration;

const CLUSTER: &str = "fs-test";

fn env(dir: &std::path::Path) -> StanEnv {
    let d = dir.to_str().unwrap();
    StanEnv::start_with(StanImpl::Ours, CLUSTER, &["-st", "FILE", "--dir", d, "-hbi", "1s", "-hbt", "1s", "-hbf", "5"])
}

fn opts(env: &StanEnv) -> Options {
    Options::new()
        .url(env.nats_url())
        .ack_timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(3))
        .max_pub_acks_inflight(100_000)
}

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(dir.path());
    let sc = within(10, stan_client::connect(CLUSTER, "burst-pub", opts(&env))).await.unwrap();
    // Publish in the background, pipelined, while the server is killed.
    let publisher = sc.clone();
    let burst = tokio::spawn(async move {
        // Acks are awaited in publish order: a FuturesUnordered of 100k
        // pending oneshots is polled over and over under tokio's coop budget
        // (quadratic, minutes in a debug build).
        let mut acks = Vec::new();
        for i in 0..200_000u32 {
            match publisher.publish_async("burst", format!("m{i}")).await {
                Ok(f) => acks.push((i, f)),
                Err(_) => break,
            }
            if i % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let (mut acked, mut failed) = (BTreeSet::new(), 0);
        for (i, f) in acks {
            match f.await {
                Ok(_) => {
                    acked.insert(i);
                }
                Err(_) => failed += 1,
            }
        }
        (acked, failed)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    tokio::task::block_in_place(|| env.stop_stan());
    let (acked, failed) = within(60, burst).await.unwrap();
    assert!(!acked.is_empty(), "no publish was acknowledged before the kill");
    assert!(failed > 0, "the kill did not interrupt the burst");
    drop(sc);
    tokio::task::block_in_place(|| env.start_stan());
    let reader = within(10, stan_client::connect(CLUSTER, "burst-reader", opts(&env))).await.unwrap();
    let mut sub =
        within(10, reader.subscribe("burst", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut stored = BTreeSet::new();
    let mut last_seq = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        assert_eq!(m.sequence(), last_seq + 1, "gap or reordering in the stored messages");
        last_seq = m.sequence();
        let text = m.data_str();
        stored.insert(text.trim_start_matches('m').parse::<u32>().unwrap());
    }
    eprintln!("acked {} / failed {failed} / stored {}", acked.len(), stored.len());
    let lost: Vec<&u32> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    within(10, reader.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_resumes_after_its_last_ack_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(dir.path());
    let sc = within(10, stan_client::connect(CLUSTER, "dur-client", opts(&env))).await.unwrap();
    let so = SubscriptionOptions::default()
        .durable_name("accounting-service")
        .manual_ack_mode(true)
        .deliver_all_available()
        .ack_wait(Duration::from_secs(30));
    let mut sub = within(10, sc.subscribe("orders", so)).await.unwrap();
    for i in 1..=10 {
        within(10, sc.publish("orders", format!("o{i}"))).await.unwrap();
    }
    for want in 1..=10u64 {
        let m = within(5, sub.next()).await.unwrap();
        assert_eq!(m.sequence(), want);
        if want <= 5 {
            m.ack().unwrap();
        }
    }
    // Give the acks time to reach the server before the kill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| env.restart_stan());
    // The client stays registered (file store), so the same subscription
    // gets the unacknowledged 6..10 again, flagged as redelivered, long
    // before the 30 s ack wait.
    for want in 6..=10u64 {
        let m = within(10, sub.next()).await.unwrap();
        assert_eq!((m.sequence(), m.is_redelivered()), (want, true));
        m.ack().unwrap();
    }
    within(10, sc.publish("orders", "o11")).await.unwrap();
    let m = within(5, sub.next()).await.unwrap();
    assert_eq!((m.sequence(), m.is_redelivered()), (11, false));
    within(10, sc.close()).await.unwrap();
}
