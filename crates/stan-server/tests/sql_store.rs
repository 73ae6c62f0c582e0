//! The SQL store against real databases (PostgreSQL and MariaDB started by
//! stan-testkit on free loopback ports) and the original server.
//!
//! Each scenario writes with one server and reads with another on the same
//! database: channels, messages, a client and a durable subscription with
//! unacknowledged messages. The durable must resume exactly where it was
//! (the unacked messages redelivered, nothing before them), both between
//! two runs of stan-server and between nats-streaming-server 0.25.6
//! (`STAN_REFERENCE_BIN`) and stan-server, in both directions.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::{SqlDb, SqlKind, StanEnv, StanImpl};
use std::collections::BTreeSet;
use std::time::Duration;

const CLUSTER: &str = "sql-test";

fn db(kind: SqlKind) -> SqlDb {
    assert!(SqlDb::available(kind), "{kind:?} is not installed (run .ci/setup)");
    tokio::task::block_in_place(|| SqlDb::start(kind))
}

fn env(which: StanImpl, db: &SqlDb) -> StanEnv {
    let mut args = db.stan_args();
    args.extend(["-hbi", "1s", "-hbt", "1s", "-hbf", "5"].iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tokio::task::block_in_place(|| StanEnv::start_with(which, CLUSTER, &args))
}

fn opts(env: &StanEnv) -> Options {
    Options::new()
        .url(env.nats_url())
        .ack_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .max_pub_acks_inflight(100_000)
}

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

fn durable() -> SubscriptionOptions {
    SubscriptionOptions::default()
        .durable_name("dur")
        .manual_ack_mode(true)
        .max_in_flight(100)
        .ack_wait(Duration::from_secs(30))
        .deliver_all_available()
}

/// Publishes 10 messages on `orders` and 3 on `other`, receives the 10 on a
/// durable and acknowledges the first 4, then closes the client.
async fn write_phase(env: &StanEnv) {
    let sc = within(15, stan_client::connect(CLUSTER, "c1", opts(env))).await.unwrap();
    let mut sub = within(10, sc.subscribe("orders", durable())).await.unwrap();
    for i in 1..=10 {
        within(10, sc.publish("orders", format!("m{i}"))).await.unwrap();
    }
    for i in 1..=3 {
        within(10, sc.publish("other", format!("o{i}"))).await.unwrap();
    }
    for want in 1..=10u64 {
        let m = within(10, sub.next()).await.expect("message");
        assert_eq!(m.sequence(), want);
        assert_eq!(m.data_str(), format!("m{want}"));
        if want <= 4 {
            m.ack().unwrap();
        }
    }
    // A round trip after the acks: they are handled (and stored) before it.
    within(10, sc.publish("orders-sync", "x")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(10, sc.close()).await.unwrap();
}

/// Resumes the durable: messages 5..=10 come again, then a new one is 11;
/// `other` still holds its 3 messages.
async fn read_phase(env: &StanEnv) {
    let sc = within(15, stan_client::connect(CLUSTER, "c1", opts(env))).await.unwrap();
    let mut sub = within(10, sc.subscribe("orders", durable())).await.unwrap();
    let mut got = BTreeSet::new();
    while got.len() < 6 {
        let m = within(15, sub.next()).await.expect("redelivered message");
        assert!(m.sequence() >= 5, "message {} was acknowledged before the restart", m.sequence());
        assert_eq!(m.data_str(), format!("m{}", m.sequence()));
        m.ack().unwrap();
        got.insert(m.sequence());
    }
    assert_eq!(got, (5..=10).collect::<BTreeSet<u64>>());
    within(10, sc.publish("orders", "m11")).await.unwrap();
    loop {
        let m = within(15, sub.next()).await.expect("new message");
        if m.sequence() <= 10 {
            continue; // a late redelivery of an unacked one
        }
        assert_eq!((m.sequence(), m.data_str().as_ref()), (11, "m11"));
        m.ack().unwrap();
        break;
    }
    let mut other =
        within(10, sc.subscribe("other", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    for i in 1..=3u64 {
        let m = within(10, other.next()).await.expect("message of other");
        assert_eq!((m.sequence(), m.data_str().into_owned()), (i, format!("o{i}")));
    }
    within(10, sc.close()).await.unwrap();
}

async fn scenario(kind: SqlKind, writer: StanImpl, reader: StanImpl) {
    let db = db(kind);
    {
        let env = env(writer, &db);
        write_phase(&env).await;
        tokio::task::block_in_place(move || drop(env));
    }
    assert_eq!(db.query("SELECT COUNT(*) FROM Messages"), "14");
    let env = env(reader, &db);
    read_phase(&env).await;
    tokio::task::block_in_place(move || drop(env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_durable_resumes_across_a_restart() {
    scenario(SqlKind::Postgres, StanImpl::Ours, StanImpl::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_durable_resumes_across_a_restart() {
    scenario(SqlKind::MariaDb, StanImpl::Ours, StanImpl::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_written_by_the_original_is_served_by_ours() {
    scenario(SqlKind::Postgres, StanImpl::Reference, StanImpl::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_written_by_ours_is_served_by_the_original() {
    scenario(SqlKind::Postgres, StanImpl::Ours, StanImpl::Reference).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_written_by_the_original_is_served_by_ours() {
    scenario(SqlKind::MariaDb, StanImpl::Reference, StanImpl::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_written_by_ours_is_served_by_the_original() {
    scenario(SqlKind::MariaDb, StanImpl::Ours, StanImpl::Reference).await;
}

/// A client stays connected while the original server is replaced by
/// stan-server on the same NATS and database: its session goes on, its
/// publishes are accepted, and its acks (sent to the `_INBOX.<nuid>` ack
/// inbox the original gave the subscription) are received, so nothing is
/// redelivered once acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_survives_a_swap_from_the_original() {
    let db = db(SqlKind::Postgres);
    let mut env = env(StanImpl::Reference, &db);
    let sc = within(15, stan_client::connect(CLUSTER, "c1", opts(&env))).await.unwrap();
    let sub_opts = durable().ack_wait(Duration::from_secs(2));
    let mut sub = within(10, sc.subscribe("orders", sub_opts)).await.unwrap();
    for i in 1..=3 {
        within(10, sc.publish("orders", format!("m{i}"))).await.unwrap();
    }
    let mut first = Vec::new();
    for want in 1..=3u64 {
        let m = within(10, sub.next()).await.expect("message");
        assert_eq!(m.sequence(), want);
        first.push(m);
    }
    // Swap the servers, NATS stays up.
    tokio::task::block_in_place(|| env.stop_stan());
    let mut args = vec!["-cid".to_string(), CLUSTER.to_string(), "-ns".to_string(), env.nats_url()];
    args.extend(db.stan_args());
    let bin = stan_testkit::binaries::stan_server(StanImpl::Ours);
    let ours = stan_testkit::ServerProcess::start("stan-server", &bin, args);
    let mut ready = false;
    for _ in 0..80 {
        let probe = Options::new().url(env.nats_url()).connect_timeout(Duration::from_millis(500));
        if let Ok(p) = stan_client::connect(CLUSTER, "probe", probe).await {
            let _ = p.close().await;
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "stan-server did not start:\n{}", ours.log());
    for m in &first {
        m.ack().unwrap();
    }
    // Redeliveries made before the acks arrived are acked too.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        assert!(m.sequence() <= 3);
        m.ack().unwrap();
    }
    within(10, sc.publish("orders", "m4")).await.expect("publish after the swap");
    let m = within(10, sub.next()).await.expect("new message");
    assert_eq!((m.sequence(), m.data_str().as_ref()), (4, "m4"));
    m.ack().unwrap();
    // Two ack waits of silence: every ack reached stan-server.
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        panic!("message {} redelivered after its ack:\n{}", m.sequence(), ours.log());
    }
    within(10, sc.close()).await.unwrap();
    tokio::task::block_in_place(move || {
        drop(ours);
        drop(env);
    });
}

/// stan-server is killed with SIGKILL in the middle of a publish burst and
/// restarted on the same database: every acknowledged message is stored,
/// in order, without gaps.
async fn sigkill_mid_burst(kind: SqlKind) {
    let db = db(kind);
    let mut env = env(StanImpl::Ours, &db);
    let sc = within(15, stan_client::connect(CLUSTER, "burst-pub", opts(&env))).await.unwrap();
    let publisher = sc.clone();
    // Publishes in windows of 256 until the kill makes one fail (bounded: 90 s),
    // so a fast machine cannot finish the burst before the kill.
    let burst = tokio::spawn(async move {
        let (mut acked, mut failed, mut i) = (BTreeSet::new(), 0u32, 0u32);
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while failed == 0 && std::time::Instant::now() < deadline {
            let mut window = Vec::new();
            for _ in 0..256 {
                match publisher.publish_async("burst", format!("m{i}")).await {
                    Ok(f) => window.push((i, f)),
                    Err(_) => failed += 1,
                }
                i += 1;
            }
            for (n, f) in window {
                match f.await {
                    Ok(_) => {
                        acked.insert(n);
                    }
                    Err(_) => failed += 1,
                }
            }
        }
        (acked, failed)
    });
    // Kill once the burst is well under way (bounded: a loaded machine is slow).
    for _ in 0..400 {
        let stored: u64 = tokio::task::block_in_place(|| db.query("SELECT COUNT(*) FROM Messages")).parse().unwrap();
        if stored >= 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::task::block_in_place(|| env.stop_stan());
    let (acked, failed) = within(120, burst).await.unwrap();
    assert!(!acked.is_empty(), "no publish was acknowledged before the kill");
    assert!(failed > 0, "the kill did not interrupt the burst");
    drop(sc);
    tokio::task::block_in_place(|| env.start_stan());
    let reader = within(15, stan_client::connect(CLUSTER, "burst-reader", opts(&env))).await.unwrap();
    let mut sub =
        within(10, reader.subscribe("burst", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut stored = BTreeSet::new();
    let mut last_seq = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(3), sub.next()).await {
        assert_eq!(m.sequence(), last_seq + 1, "gap or reordering in the stored messages");
        last_seq = m.sequence();
        stored.insert(m.data_str().trim_start_matches('m').parse::<u32>().unwrap());
    }
    eprintln!("{kind:?}: acked {} / failed {failed} / stored {}", acked.len(), stored.len());
    let lost: Vec<&u32> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    within(10, reader.close()).await.unwrap();
    tokio::task::block_in_place(move || drop(env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sigkill_mid_burst_loses_no_acknowledged_message() {
    sigkill_mid_burst(SqlKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_sigkill_mid_burst_loses_no_acknowledged_message() {
    sigkill_mid_burst(SqlKind::MariaDb).await;
}

/// A message larger than MySQL's `BLOB` column (`Messages.data`, 64 KiB) is
/// refused with a PubAck error instead of failing the whole commit; the
/// server goes on. PostgreSQL's `BYTEA` takes it, across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_larger_than_the_column_is_refused_and_the_server_goes_on() {
    let big = vec![b'x'; 100_000];
    let my = db(SqlKind::MariaDb);
    let env_my = env(StanImpl::Ours, &my);
    let sc = within(15, stan_client::connect(CLUSTER, "big", opts(&env_my))).await.unwrap();
    let err = within(10, sc.publish("big", big.clone())).await.expect_err("a 100 kB message on MySQL");
    assert!(err.to_string().contains("message too large for the store"), "{err}");
    within(10, sc.publish("big", vec![b'y'; 60_000])).await.expect("60 kB fits the BLOB");
    within(10, sc.publish("big", "small")).await.expect("the server goes on");
    assert_eq!(my.query("SELECT COUNT(*) FROM Messages"), "2");
    within(10, sc.close()).await.unwrap();
    tokio::task::block_in_place(move || drop(env_my));

    let pg = db(SqlKind::Postgres);
    let mut env_pg = env(StanImpl::Ours, &pg);
    let sc = within(15, stan_client::connect(CLUSTER, "big", opts(&env_pg))).await.unwrap();
    within(10, sc.publish("big", big.clone())).await.expect("BYTEA takes 100 kB");
    within(10, sc.close()).await.unwrap();
    tokio::task::block_in_place(|| env_pg.restart_stan());
    let sc = within(15, stan_client::connect(CLUSTER, "big2", opts(&env_pg))).await.unwrap();
    let mut sub =
        within(10, sc.subscribe("big", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let m = within(10, sub.next()).await.expect("the big message");
    assert_eq!(m.data().len(), big.len());
    within(10, sc.close()).await.unwrap();
    tokio::task::block_in_place(move || drop(env_pg));
}
