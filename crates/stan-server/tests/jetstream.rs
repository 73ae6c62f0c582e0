//! The JetStream store (`--store jetstream`) on a real 3-node JetStream
//! cluster (stan-testkit's `JsCluster`): durable state across a stan-server
//! restart, a JetStream consumer reading a channel's stream (interop), a
//! nats-server node killed (SIGKILL) in the middle of publishing, a
//! standby stan-server taking over from a killed active one, and an active
//! paused past its lease stopping once it resumes.

mod support;

use async_nats::jetstream;
use futures::StreamExt;
use stan_client::{Connection, Options, SubscriptionOptions};
use stan_testkit::{JsCluster, ServerProcess};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::within;

/// One cluster at a time: the machine is small.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start stan-server on the cluster; wait (bounded) until `ready` is in its log.
fn stan(cid: &str, urls: &str, extra: &[&str], ready: &str) -> ServerProcess {
    let mut args: Vec<String> =
        ["-cid", cid, "-ns", urls, "--store", "jetstream", "--js_replicas", "3", "--js_lease", "3s", "-SD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut p = ServerProcess::start("stan-js", std::path::Path::new(support::bin()), args);
    p.wait_for_log(ready, 1, Duration::from_secs(60));
    p
}

fn opts(urls: &str) -> Options {
    support::reconnecting_options(urls)
}

/// Publish until acknowledged (bounded); the number of attempts. Panics
/// with the server's log if it never is.
async fn publish_acked(sc: &Connection, subject: &str, data: String, secs: u64, server: &ServerProcess) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match tokio::time::timeout(Duration::from_secs(5), sc.publish(subject, data.clone())).await {
            Ok(Ok(_)) => return attempts,
            other => {
                assert!(Instant::now() < deadline, "{data} never acknowledged: {other:?}\n{}", server.log());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Receive (and ack) until nothing comes for `quiet`; payload → times received.
async fn drain(sub: &mut stan_client::Subscription, quiet: Duration, limit: usize) -> BTreeMap<String, u32> {
    let mut got = BTreeMap::new();
    let mut n = 0;
    while let Ok(Some(m)) = tokio::time::timeout(quiet, sub.next()).await {
        m.ack().unwrap();
        *got.entry(m.data_str().to_string()).or_insert(0) += 1;
        n += 1;
        if n >= limit {
            break;
        }
    }
    got
}

fn durable() -> SubscriptionOptions {
    SubscriptionOptions::default()
        .durable_name("dur")
        .deliver_all_available()
        .manual_ack_mode(true)
        .ack_wait(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_messages_and_durable_and_a_jetstream_consumer_reads_the_channel() {
    let _g = SERIAL.lock().await;
    let js = JsCluster::start(3);
    let urls = js.urls();
    let mut s = stan("js-restart", &urls, &[], "Streaming Server is ready");
    let sc = within(20, stan_client::connect("js-restart", "c1", opts(&urls))).await.unwrap();
    for i in 0..10 {
        within(20, sc.publish("orders.eu", format!("m{i}"))).await.unwrap();
    }
    let mut sub = within(20, sc.subscribe("orders.eu", durable())).await.unwrap();
    let got = drain(&mut sub, Duration::from_secs(2), 5).await;
    assert_eq!(got.len(), 5, "{got:?}");
    within(20, sub.close()).await.unwrap();
    within(20, sc.close()).await.unwrap();

    // kill -9 and start again: everything comes back from JetStream.
    s.stop();
    let mut s2 = stan("js-restart", &urls, &[], "Streaming Server is ready");
    assert!(s2.log().contains("recovered"), "{}", s2.log());
    let sc = within(20, stan_client::connect("js-restart", "c1", opts(&urls))).await.unwrap();
    within(20, sc.publish("orders.eu", "m10")).await.unwrap();
    let mut sub = within(20, sc.subscribe("orders.eu", durable())).await.unwrap();
    let got = drain(&mut sub, Duration::from_secs(3), 100).await;
    let want: BTreeSet<String> = (5..11).map(|i| format!("m{i}")).collect();
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), want, "durable did not resume after m4: {got:?}");
    // A new subscriber from the start sees sequences 1..=11, in order.
    let mut all =
        within(20, sc.subscribe("orders.eu", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    for seq in 1..=11u64 {
        let m = within(10, all.next()).await.expect("message");
        assert_eq!((m.sequence(), m.data_str().to_string()), (seq, format!("m{}", seq - 1)));
    }
    within(20, sc.close()).await.unwrap();

    // Interop: a plain JetStream consumer reads the channel's stream.
    let nc = async_nats::connect(js.url(1)).await.unwrap();
    let ctx = jetstream::new(nc);
    let stream = ctx.stream_by_subject("_STAN_CH.js-restart.orders.eu").await.unwrap();
    let mut stream = ctx.get_stream(stream).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!((info.state.messages, info.config.num_replicas), (11, 3));
    let c = stream.create_consumer(jetstream::consumer::pull::OrderedConfig::default()).await.unwrap();
    let mut msgs = c.messages().await.unwrap();
    for seq in 1..=11u64 {
        let m = within(10, msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, seq);
        assert_eq!(m.payload.as_ref(), format!("m{}", seq - 1).as_bytes());
        let h = m.headers.as_ref().expect("headers");
        assert_eq!(h.get("Stan-Sequence").unwrap().as_str(), seq.to_string());
        assert!(h.get("Stan-Timestamp").unwrap().as_str().parse::<i64>().unwrap() > 0);
    }
    s2.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_nats_node_while_publishing_loses_nothing_acked() {
    let _g = SERIAL.lock().await;
    let mut js = JsCluster::start(3);
    let urls = js.urls();
    let mut s = stan("js-nodeloss", &urls, &[], "Streaming Server is ready");
    let sc = within(20, stan_client::connect("js-nodeloss", "pub", opts(&urls))).await.unwrap();
    let addrs: Vec<async_nats::ServerAddr> = urls.split(',').map(|u| u.parse().unwrap()).collect();
    let ctx = jetstream::new(async_nats::connect(addrs).await.unwrap());
    let total = 60;
    let mut retries = 0;
    let mut killed = None;
    let t0 = Instant::now();
    for i in 0..total {
        if i == 20 {
            // Kill the node that leads the channel's stream: JetStream must elect another.
            let info = support::channel_stream_info(&ctx, "js-nodeloss", "events").await;
            let leader = info.cluster.and_then(|c| c.leader).expect("the stream has a leader");
            let n: usize = leader.trim_start_matches('n').parse().unwrap();
            js.kill(n);
            killed = Some(n);
        }
        retries += publish_acked(&sc, "events", format!("m{i}"), 60, &s).await - 1;
    }
    let acked: BTreeSet<String> = (0..total).map(|i| format!("m{i}")).collect();
    let mut all =
        within(20, sc.subscribe("events", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let got = drain(&mut all, Duration::from_secs(3), 10_000).await;
    let delivered: u32 = got.values().sum();
    let dups = delivered - got.len() as u32;
    eprintln!(
        "node loss (stream leader n{} killed): acked {} (retried {retries}), stored+delivered {delivered} ({} distinct, {dups} duplicates) in {:?}",
        killed.unwrap(),
        acked.len(),
        got.len(),
        t0.elapsed()
    );
    let missing: Vec<_> = acked.iter().filter(|m| !got.contains_key(*m)).collect();
    assert!(missing.is_empty(), "acked but not stored: {missing:?}\n{}", s.log());
    // A duplicate is only possible for a publish that was retried.
    assert!(dups <= retries, "{dups} duplicates for {retries} retries");
    // The stream agrees with what was delivered.
    let info = support::channel_stream_info(&ctx, "js-nodeloss", "events").await;
    assert_eq!(info.state.messages, delivered as u64);
    let _ = tokio::time::timeout(Duration::from_secs(5), sc.close()).await;
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_active_is_killed() {
    let _g = SERIAL.lock().await;
    let js = JsCluster::start(3);
    let urls = js.urls();
    let mut a = stan("js-ha", &urls, &[], "Streaming Server is ready");
    let mut b = stan("js-ha", &urls, &[], "Standby");
    let sc = within(20, stan_client::connect("js-ha", "c1", opts(&urls))).await.unwrap();
    let mut sub = within(20, sc.subscribe("jobs", durable())).await.unwrap();
    for i in 0..10 {
        within(20, sc.publish("jobs", format!("m{i}"))).await.unwrap();
    }
    let before = drain(&mut sub, Duration::from_secs(2), 10).await;
    assert_eq!(before.len(), 10, "{before:?}");
    // Let the acks reach the server (and JetStream) before the kill.
    tokio::time::sleep(Duration::from_secs(1)).await;

    a.stop(); // SIGKILL
    let t0 = Instant::now();
    b.wait_for_log("Streaming Server is ready", 1, Duration::from_secs(60));
    let takeover = t0.elapsed();
    let mut retries = 0;
    for i in 10..20 {
        retries += publish_acked(&sc, "jobs", format!("m{i}"), 60, &b).await - 1;
    }
    let after = drain(&mut sub, Duration::from_secs(4), 1000).await;
    eprintln!("takeover in {takeover:?}; publishes retried {retries}; delivered after: {after:?}");
    let want: BTreeSet<String> = (10..20).map(|i| format!("m{i}")).collect();
    let got: BTreeSet<String> = after.keys().cloned().collect();
    assert!(want.is_subset(&got), "the durable did not get every message published after the takeover: {after:?}");
    // The acked ones are not delivered again; none is delivered twice.
    assert_eq!(got, want, "{after:?}");
    assert!(after.values().all(|n| *n == 1), "{after:?}");
    assert!(takeover < Duration::from_secs(30), "takeover took {takeover:?}");
    // The durable's JetStream consumer (replicated like the streams) is kept
    // in step by the new active: acknowledged up to 20.
    let ctx = jetstream::new(async_nats::connect(js.url(1)).await.unwrap());
    let stream = ctx.get_stream("STAN_js-ha_jobs").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = stream.consumer_info("STAN_D_c1_dur").await;
        if let Ok(i) = &info {
            if i.ack_floor.stream_sequence == 20 {
                assert_eq!(i.config.num_replicas, 0, "a consumer inherits the stream's replicas");
                assert_eq!(i.cluster.as_ref().map(|c| c.replicas.len()), Some(2), "{i:?}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "consumer not at 20: {info:?}\n{}", b.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    within(20, sc.close()).await.expect("the client kept its session across the takeover");
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_active_that_lost_its_lease_stops_without_writing() {
    let _g = SERIAL.lock().await;
    let js = JsCluster::start(3);
    let urls = js.urls();
    let mut a = stan("js-pause", &urls, &[], "Streaming Server is ready");
    let mut b = stan("js-pause", &urls, &[], "Standby");
    let sc = within(20, stan_client::connect("js-pause", "c1", opts(&urls))).await.unwrap();
    for i in 0..5 {
        within(20, sc.publish("p", format!("m{i}"))).await.unwrap();
    }
    // SIGSTOP the active for longer than its lease (3 s): the standby takes over.
    let pid = a.pid().unwrap() as i32;
    // SAFETY: signalling the stan-server this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    b.wait_for_log("Streaming Server is ready", 1, Duration::from_secs(60));
    let mut retries = 0;
    for i in 5..10 {
        retries += publish_acked(&sc, "p", format!("m{i}"), 60, &b).await - 1;
    }
    // Resumed, the old active finds its lease taken and exits before writing anything.
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !a.has_exited() {
        assert!(Instant::now() < deadline, "the old active still runs:\n{}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.log().contains("Lost the active lease"), "{}", a.log());
    // Meanwhile the new active keeps serving: one more publish, then everything in order.
    publish_acked(&sc, "p", "m10".to_string(), 60, &b).await;
    let mut all = within(20, sc.subscribe("p", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let got = drain(&mut all, Duration::from_secs(3), 1000).await;
    let want: BTreeSet<String> = (0..11).map(|i| format!("m{i}")).collect();
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), want, "{got:?}");
    let dups: u32 = got.values().map(|n| n - 1).sum();
    eprintln!("paused active: old one exited; 11 acked, {dups} duplicates, {retries} retries");
    assert!(dups <= retries, "{dups} duplicates for {retries} retries");
    within(20, sc.close()).await.expect("the client kept its session");
    b.stop();
}
