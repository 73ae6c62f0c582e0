//! Fault-tolerant pairs: two stan-servers with `--ft_group` share one FILE
//! store directory on one external nats-server. The active one is killed
//! with SIGKILL while a publisher and a durable subscriber run; the standby
//! must take over within seconds with every acknowledged message, the
//! clients' sessions and the durable's position, and `isFTActive` flips.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::monitor::{accepts, http_get};
use stan_testkit::{binaries, ft_active, ports::free_port, FtPair, ServerProcess, StanImpl};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLUSTER: &str = "ft-test";

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

/// Polls `ok` every 50 ms for at most `secs`; true if it held.
async fn eventually(secs: u64, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn member(nats_port: u16, dir: &str, http: u16) -> ServerProcess {
    member_of(StanImpl::Ours, nats_port, dir, http)
}

fn member_of(which: StanImpl, nats_port: u16, dir: &str, http: u16) -> ServerProcess {
    let args = [
        "-cid",
        CLUSTER,
        "-ns",
        &format!("nats://127.0.0.1:{nats_port}"),
        "-st",
        "FILE",
        "--dir",
        dir,
        "--ft_group",
        "pair",
        "-m",
        &http.to_string(),
        "-a",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ServerProcess::start("stan-server-ft", &binaries::stan_server(which), args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_after_sigkill_without_losing_acked_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let pair = tokio::task::block_in_place(|| FtPair::start(|nats, http| member(nats, d, http)));
    let FtPair { nats: _nats, nats_port, nats_mon, mut a, ma, mut b, mb } = pair;
    let serverz = http_get(mb, "/streaming/serverz").unwrap();
    assert!(serverz.contains("\"state\": \"FT_STANDBY\""), "{serverz}");
    assert!(http_get(ma, "/streaming/serverz").unwrap().contains("\"state\": \"FT_ACTIVE\""));
    // Only the active member serves STAN requests.
    let connz = http_get(nats_mon, "/connz?subs=1&limit=1024").unwrap();
    assert_eq!(connz.matches(&format!("\"_STAN.discover.{CLUSTER}\"")).count(), 1, "{connz}");

    let opts = || {
        Options::new()
            .url(format!("nats://127.0.0.1:{nats_port}"))
            .ack_timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(5))
    };
    let publisher = within(10, stan_client::connect(CLUSTER, "ft-pub", opts())).await.unwrap();
    let consumer = within(10, stan_client::connect(CLUSTER, "ft-sub", opts())).await.unwrap();
    let so = SubscriptionOptions::default()
        .durable_name("ft-durable")
        .manual_ack_mode(true)
        .deliver_all_available()
        .ack_wait(Duration::from_secs(30));
    let mut sub = within(10, consumer.subscribe("events", so)).await.unwrap();
    let delivered = Arc::new(Mutex::new(BTreeSet::<u32>::new()));
    let seen = delivered.clone();
    let reader = tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let n: u32 = m.data_str().trim_start_matches('e').parse().unwrap();
            seen.lock().unwrap().insert(n);
            let _ = m.ack();
        }
    });
    // Publish with a few acks in flight until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_pub = stop.clone();
    let pc = publisher.clone();
    let writer = tokio::spawn(async move {
        let (mut acked, mut failed, mut i) = (BTreeSet::new(), 0u32, 0u32);
        while !stop_pub.load(std::sync::atomic::Ordering::Relaxed) {
            let mut batch = Vec::new();
            for _ in 0..8 {
                i += 1;
                match pc.publish_async("events", format!("e{i}")).await {
                    Ok(f) => batch.push((i, f)),
                    Err(_) => failed += 1,
                }
            }
            for (n, f) in batch {
                match f.await {
                    Ok(_) => {
                        acked.insert(n);
                    }
                    Err(_) => failed += 1,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (acked, failed)
    });
    assert!(eventually(20, || delivered.lock().unwrap().len() >= 50).await, "no traffic before the kill");

    // kill -9 the active member.
    a.stop();
    let killed = Instant::now();
    assert!(eventually(20, || ft_active(mb) == Some(200)).await, "standby did not take over:\n{}", b.log());
    let takeover = killed.elapsed();
    assert!(takeover < Duration::from_secs(10), "takeover took {takeover:?}");
    assert!(http_get(mb, "/streaming/serverz").unwrap().contains("\"state\": \"FT_ACTIVE\""));
    // Traffic goes on through the same client sessions.
    let before = delivered.lock().unwrap().iter().max().copied().unwrap_or(0);
    assert!(
        eventually(30, || delivered.lock().unwrap().iter().max().copied().unwrap_or(0) > before + 50).await,
        "the durable subscriber did not continue after the takeover:\n{}",
        b.log()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, failed) = within(30, writer).await.unwrap();
    // Everything acknowledged reaches the durable (redeliveries included).
    let all_in = eventually(30, || acked.is_subset(&delivered.lock().unwrap())).await;
    let missing: Vec<u32> = acked.difference(&delivered.lock().unwrap()).copied().collect();
    assert!(
        all_in,
        "{} acknowledged messages never delivered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // And everything acknowledged is stored, in order and without gaps.
    let check = within(10, stan_client::connect(CLUSTER, "ft-check", opts())).await.unwrap();
    let mut all =
        within(10, check.subscribe("events", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let (mut stored, mut last) = (BTreeSet::new(), 0u64);
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), all.next()).await {
        assert_eq!(m.sequence(), last + 1, "gap in the stored sequence");
        last = m.sequence();
        stored.insert(m.data_str().trim_start_matches('e').parse::<u32>().unwrap());
    }
    let lost: Vec<&u32> = acked.difference(&stored).collect();
    eprintln!(
        "takeover {takeover:?}; acked {} / failed {failed} / stored {} / delivered {}",
        acked.len(),
        stored.len(),
        delivered.lock().unwrap().len()
    );
    assert!(lost.is_empty(), "{} acknowledged messages not stored, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    reader.abort();
    for c in [publisher, consumer, check] {
        within(10, c.close()).await.unwrap();
    }
    b.stop();
}

/// Heartbeats interoperate with nats-streaming-server 0.25.6: each
/// implementation, in standby on a directory whose lock is free, stays in
/// standby while a member of the other implementation beats, and takes over
/// when that member dies. (Members use separate directories here because
/// the store formats differ; the heartbeats alone keep a standby waiting.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_interoperate_with_the_original() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let d = |i: usize| dirs[i].path().to_str().unwrap().to_string();
    let nats_port = free_port();
    let _nats = ServerProcess::start(
        "nats-server",
        &binaries::nats_server(),
        ["-a", "127.0.0.1", "-p", &nats_port.to_string()].map(String::from).to_vec(),
    );
    assert!(eventually(20, || accepts(nats_port)).await, "nats-server did not start");
    let (m0, m1, m2) = (free_port(), free_port(), free_port());
    let mut ours = member(nats_port, &d(0), m0);
    assert!(eventually(20, || ft_active(m0) == Some(200)).await, "ours not active:\n{}", ours.log());
    let mut orig = member_of(StanImpl::Reference, nats_port, &d(1), m1);
    assert!(eventually(20, || ft_active(m1) == Some(204)).await, "original not in standby:\n{}", orig.log());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ft_active(m1), Some(204), "the original ignored our heartbeats:\n{}", orig.log());
    ours.stop();
    assert!(eventually(20, || ft_active(m1) == Some(200)).await, "original did not take over:\n{}", orig.log());
    let mut ours2 = member(nats_port, &d(2), m2);
    assert!(eventually(20, || ft_active(m2) == Some(204)).await, "ours not in standby:\n{}", ours2.log());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ft_active(m2), Some(204), "we ignored the original's heartbeats:\n{}", ours2.log());
    orig.stop();
    assert!(eventually(20, || ft_active(m2) == Some(200)).await, "ours did not take over:\n{}", ours2.log());

    // A heartbeat of a member active since earlier (1970): two actives,
    // the later one aborts, as the original does.
    let nc = async_nats::connect(format!("nats://127.0.0.1:{nats_port}")).await.unwrap();
    let mut hb = vec![0x08, 0x03, 0x12, 8];
    hb.extend_from_slice(b"intruder");
    hb.extend_from_slice(&[0x1a, 15, 1]);
    hb.extend_from_slice(&(62_135_596_801i64).to_be_bytes());
    hb.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff]);
    nc.publish(format!("_STAN.ft.{CLUSTER}.pair"), hb.into()).await.unwrap();
    nc.flush().await.unwrap();
    assert!(eventually(10, || ours2.has_exited()).await, "ours kept running:\n{}", ours2.log());
    assert!(ours2.log().contains("ft: serverID \"intruder\" claims to be active, aborting"), "{}", ours2.log());
}
