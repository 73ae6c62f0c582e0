//! Fault-tolerant pairs on the SQL store: two stan-servers with
//! `--ft_group` share one PostgreSQL database (started by stan-testkit on a
//! free loopback port) and one external nats-server. The active one holds
//! the `StoreLock` row; it is killed with SIGKILL while a publisher and a
//! durable subscriber run. The standby must steal the row once its tick
//! stops moving (three unchanged polls 1.5 s apart, the original's rule),
//! take over within seconds with every acknowledged message, and the
//! subscriber must continue. A clean stop (SIGTERM) of the active empties
//! the row, so the standby takes over at its next poll, without the steal
//! delay.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::monitor::http_get;
use stan_testkit::{binaries, ft_active, FtPair, ServerProcess, SqlDb, SqlKind, StanImpl};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLUSTER: &str = "ft-sql-test";

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

fn member(nats_port: u16, db: &SqlDb, http: u16) -> ServerProcess {
    let mut args: Vec<String> =
        ["-cid", CLUSTER, "-ns", &format!("nats://127.0.0.1:{nats_port}")].iter().map(|s| s.to_string()).collect();
    args.extend(db.stan_args());
    args.extend(["--ft_group", "g", "-m", &http.to_string(), "-a", "127.0.0.1"].iter().map(|s| s.to_string()));
    ServerProcess::start("stan-server-ft-sql", &binaries::stan_server(StanImpl::Ours), args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_standby_steals_the_store_lock_after_sigkill() {
    assert!(SqlDb::available(SqlKind::Postgres), "PostgreSQL is not installed (run .ci/setup)");
    let db = tokio::task::block_in_place(|| SqlDb::start(SqlKind::Postgres));
    let pair = tokio::task::block_in_place(|| FtPair::start(|nats, http| member(nats, &db, http)));
    let FtPair { nats: _nats, nats_port, nats_mon, mut a, mut b, mb, .. } = pair;
    let serverz = http_get(mb, "/streaming/serverz").unwrap();
    assert!(serverz.contains("\"state\": \"FT_STANDBY\""), "{serverz}");
    let owner_a = tokio::task::block_in_place(|| db.query("SELECT id FROM StoreLock"));
    assert!(!owner_a.is_empty(), "the active member does not own the StoreLock row");
    // The active keeps the row's tick moving (one update per heartbeat).
    let tick = || tokio::task::block_in_place(|| db.query("SELECT tick FROM StoreLock")).parse::<i64>().unwrap();
    let t0 = tick();
    assert!(eventually(10, || tick() > t0 + 1).await, "the active does not refresh the lock:\n{}", a.log());
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
    let stop = Arc::new(AtomicBool::new(false));
    let stop_pub = stop.clone();
    let pc = publisher.clone();
    let writer = tokio::spawn(async move {
        let (mut acked, mut failed, mut i) = (BTreeSet::new(), 0u32, 0u32);
        while !stop_pub.load(Ordering::Relaxed) {
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

    // kill -9 the active member: its row stays, only its tick stops.
    a.stop();
    let killed = Instant::now();
    assert!(eventually(25, || ft_active(mb) == Some(200)).await, "standby did not take over:\n{}", b.log());
    let takeover = killed.elapsed();
    // 1.25 s of missed heartbeats, then 3 unchanged polls 1.5 s apart.
    assert!(takeover >= Duration::from_secs(4), "stolen before 3 unchanged polls: {takeover:?}");
    assert!(takeover < Duration::from_secs(15), "takeover took {takeover:?}");
    assert!(http_get(mb, "/streaming/serverz").unwrap().contains("\"state\": \"FT_ACTIVE\""));
    let owner_b = tokio::task::block_in_place(|| db.query("SELECT id FROM StoreLock"));
    assert!(!owner_b.is_empty() && owner_b != owner_a, "StoreLock still owned by {owner_b:?}");
    let before = delivered.lock().unwrap().iter().max().copied().unwrap_or(0);
    assert!(
        eventually(20, || delivered.lock().unwrap().iter().max().copied().unwrap_or(0) > before + 50).await,
        "the durable subscriber did not continue after the takeover:\n{}",
        b.log()
    );
    stop.store(true, Ordering::Relaxed);
    let (acked, failed) = within(20, writer).await.unwrap();
    let all_in = eventually(20, || acked.is_subset(&delivered.lock().unwrap())).await;
    let missing: Vec<u32> = acked.difference(&delivered.lock().unwrap()).copied().collect();
    assert!(
        all_in,
        "{} acknowledged messages never delivered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Everything acknowledged is stored, in order and without gaps.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_releases_the_store_lock_for_an_immediate_takeover() {
    assert!(SqlDb::available(SqlKind::Postgres), "PostgreSQL is not installed (run .ci/setup)");
    let db = tokio::task::block_in_place(|| SqlDb::start(SqlKind::Postgres));
    let pair = tokio::task::block_in_place(|| FtPair::start(|nats, http| member(nats, &db, http)));
    let FtPair { nats: _nats, nats_port, mut a, mut b, mb, .. } = pair;
    let owner_a = tokio::task::block_in_place(|| db.query("SELECT id FROM StoreLock"));
    assert!(!owner_a.is_empty(), "the active member does not own the StoreLock row");

    let opts = Options::new().url(format!("nats://127.0.0.1:{nats_port}")).connect_timeout(Duration::from_secs(5));
    let sc = within(10, stan_client::connect(CLUSTER, "ft-clean-pub", opts.clone())).await.unwrap();
    for i in 0..20 {
        within(10, sc.publish("clean", format!("m{i}"))).await.unwrap();
    }
    // SIGTERM: the active closes its store, then empties the row.
    assert!(tokio::task::block_in_place(|| a.terminate(Duration::from_secs(10))), "active did not stop:\n{}", a.log());
    let stopped = Instant::now();
    // Released, not left to be stolen: the row no longer names the old
    // active (empty, or already taken by the standby's next poll).
    let owner_now = tokio::task::block_in_place(|| db.query("SELECT id FROM StoreLock"));
    assert_ne!(owner_now, owner_a, "the stopped active still owns the StoreLock row:\n{}", a.log());
    assert!(eventually(15, || ft_active(mb) == Some(200)).await, "standby did not take over:\n{}", b.log());
    let takeover = stopped.elapsed();
    eprintln!("takeover after a clean stop: {takeover:?}");
    let owner_b = tokio::task::block_in_place(|| db.query("SELECT id FROM StoreLock"));
    assert!(!owner_b.is_empty() && owner_b != owner_a, "StoreLock owned by {owner_b:?}");
    // Everything published before the stop is served by the new active.
    let mut all =
        within(10, sc.subscribe("clean", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    for i in 0..20 {
        let m = within(10, all.next()).await.expect("subscription ended");
        assert_eq!(m.data_str(), format!("m{i}"));
    }
    within(10, sc.close()).await.unwrap();
    b.stop();
}
