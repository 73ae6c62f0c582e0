//! `-mi/--max_inactivity` against real processes: a channel without active
//! subscriptions and without new messages for that long is deleted with its
//! messages (gone from `/streaming/channelsz`, a new subscriber gets
//! nothing), a subscription keeps it, a message restarts the period, and a
//! deleted channel does not come back after a restart (file, SQL and
//! JetStream stores). The same scenario run against nats-streaming-server
//! 0.25.6 (`STAN_REFERENCE_BIN`) must give the same observations.

mod support;

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::{monitor, ports, SqlDb, SqlKind, StanEnv, StanImpl};
use std::time::{Duration, Instant};
use support::within;

const CLUSTER: &str = "mi-test";
/// The `-mi` of the scenarios (long enough for a loaded CI machine to
/// publish and look at monitoring well within one period).
const MI: Duration = Duration::from_secs(2);

/// Start `which` behind its own nats-server with `-mi` [`MI`] and monitoring.
fn start(which: StanImpl, extra: &[&str]) -> (StanEnv, u16) {
    let mon = ports::free_port();
    let m = mon.to_string();
    let mut args = vec!["-mi", "2s", "-m", m.as_str(), "-a", "127.0.0.1", "-hbi", "1s", "-hbt", "1s", "-hbf", "5"];
    args.extend_from_slice(extra);
    let env = tokio::task::block_in_place(|| StanEnv::start_with(which, CLUSTER, &args));
    (env, mon)
}

fn opts(url: &str) -> Options {
    Options::new().url(url).ack_timeout(Duration::from_secs(5)).connect_timeout(Duration::from_secs(5))
}

/// The channel names `/streaming/channelsz` lists, sorted.
fn channels(mon: u16) -> Vec<String> {
    let body = monitor::http_get(mon, "/streaming/channelsz").expect("channelsz answers");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut names: Vec<String> =
        v["names"].as_array().map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect()).unwrap_or_default();
    names.sort();
    names
}

/// Wait (bounded by `secs`) until `channel` is no longer listed; how long it took.
async fn wait_gone(mon: u16, channel: &str, secs: u64) -> Duration {
    let t = Instant::now();
    while channels(mon).iter().any(|c| c == channel) {
        assert!(t.elapsed() < Duration::from_secs(secs), "channel {channel} still listed after {secs}s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.elapsed()
}

/// Messages a new `deliver_all_available` subscriber on `channel` gets within `wait`.
async fn replay_all(sc: &stan_client::Connection, channel: &str, wait: Duration) -> usize {
    let mut sub =
        within(10, sc.subscribe(channel, SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(wait, sub.next()).await {
        n += 1;
    }
    within(10, sub.unsubscribe()).await.unwrap();
    n
}

async fn publish(sc: &stan_client::Connection, channel: &str, n: usize) {
    for i in 0..n {
        within(10, sc.publish(channel, format!("m{i}"))).await.unwrap();
    }
}

/// The scenario; returns the channel lists seen at each step.
async fn scenario(which: StanImpl) -> Vec<(&'static str, Vec<String>)> {
    let (env, mon) = start(which, &[]);
    let mut seen = Vec::new();
    let storez = monitor::http_get(mon, "/streaming/storez").expect("storez answers");
    let storez: serde_json::Value = serde_json::from_str(&storez).unwrap();
    assert_eq!(storez["limits"]["max_inactivity"], MI.as_nanos() as u64, "{which:?}: {storez}");
    let sc = within(15, stan_client::connect(CLUSTER, "c1", opts(&env.nats_url()))).await.unwrap();

    // A channel with messages and no subscription goes after -mi; one with
    // a subscription stays.
    publish(&sc, "idle", 3).await;
    let kept_sub = within(10, sc.subscribe("kept", SubscriptionOptions::default())).await.unwrap();
    publish(&sc, "kept", 1).await;
    seen.push(("published", channels(mon)));
    let took = wait_gone(mon, "idle", 15).await;
    assert!(took >= MI / 2, "{which:?}: idle deleted after only {took:?}");
    seen.push(("idle deleted", channels(mon)));
    // Its messages went with it.
    assert_eq!(replay_all(&sc, "idle", Duration::from_millis(700)).await, 0, "{which:?}: messages came back");

    // The subscription keeps its channel past -mi (`idle`, created again by
    // that subscriber, goes again meanwhile) ...
    tokio::time::sleep(MI * 3 / 2).await;
    wait_gone(mon, "idle", 15).await;
    seen.push(("kept past -mi", channels(mon)));
    // ... until it is unsubscribed and -mi passes again.
    within(10, kept_sub.unsubscribe()).await.unwrap();
    tokio::time::sleep(MI / 4).await;
    seen.push(("just unsubscribed", channels(mon)));
    let took = wait_gone(mon, "kept", 15).await;
    assert!(took >= MI / 4, "{which:?}: kept deleted after only {took:?}");
    seen.push(("kept deleted", channels(mon)));

    // A message restarts the period: publishing every 0.3 MI keeps it for 1.5 MI.
    for _ in 0..5 {
        publish(&sc, "busy", 1).await;
        tokio::time::sleep(MI * 3 / 10).await;
    }
    seen.push(("busy after 1.5 MI", channels(mon)));
    wait_gone(mon, "busy", 15).await;

    // A durable that went offline does not keep its channel, and goes with it.
    let dur = SubscriptionOptions::default().durable_name("d").deliver_all_available();
    let d = within(10, sc.subscribe("durable", dur.clone())).await.unwrap();
    publish(&sc, "durable", 2).await;
    within(10, d.close()).await.unwrap();
    wait_gone(mon, "durable", 15).await;
    seen.push(("offline durable's channel deleted", channels(mon)));
    let mut d = within(10, sc.subscribe("durable", dur)).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), d.next()).await.is_err(),
        "{which:?}: the durable resumed on deleted messages"
    );
    within(10, sc.close()).await.unwrap();
    drop(env);
    seen
}

/// What both servers must show at each step.
fn expected() -> Vec<(&'static str, Vec<String>)> {
    let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("published", v(&["idle", "kept"])),
        ("idle deleted", v(&["kept"])),
        ("kept past -mi", v(&["kept"])),
        ("just unsubscribed", v(&["kept"])),
        ("kept deleted", v(&[])),
        ("busy after 1.5 MI", v(&["busy"])),
        ("offline durable's channel deleted", v(&[])),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_channels_are_deleted() {
    assert_eq!(scenario(StanImpl::Ours).await, expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_deletes_the_same_channels() {
    assert_eq!(scenario(StanImpl::Reference).await, expected());
}

/// Publish on `gone` and `stays` (which keeps a subscription), wait until
/// `gone` is deleted, restart the server on the same store: `gone` stays
/// deleted, `stays` has its messages.
async fn survives_restart(env: &mut StanEnv, mon: u16) {
    let sc = within(15, stan_client::connect(CLUSTER, "c1", opts(&env.nats_url()))).await.unwrap();
    publish(&sc, "gone", 3).await;
    let _sub = within(10, sc.subscribe("stays", SubscriptionOptions::default())).await.unwrap();
    publish(&sc, "stays", 2).await;
    wait_gone(mon, "gone", 15).await;
    assert_eq!(channels(mon), ["stays"]);
    tokio::task::block_in_place(|| env.stop_stan());
    tokio::task::block_in_place(|| env.start_stan());
    assert_eq!(channels(mon), ["stays"], "the deleted channel came back after the restart");
    let sc2 = within(15, stan_client::connect(CLUSTER, "c2", opts(&env.nats_url()))).await.unwrap();
    assert_eq!(replay_all(&sc2, "stays", Duration::from_millis(700)).await, 2);
    assert_eq!(replay_all(&sc2, "gone", Duration::from_millis(700)).await, 0);
    // Created again, it starts from sequence 1.
    publish(&sc2, "gone", 1).await;
    let mut sub =
        within(10, sc2.subscribe("gone", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    assert_eq!(within(10, sub.next()).await.unwrap().sequence(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_deleted_channel_stays_deleted_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (mut env, mon) = start(StanImpl::Ours, &["-st", "FILE", "--dir", d]);
    survives_restart(&mut env, mon).await;
}

async fn sql_store(kind: SqlKind) {
    assert!(SqlDb::available(kind), "{kind:?} is not installed (run .ci/setup)");
    let db = tokio::task::block_in_place(|| SqlDb::start(kind));
    let args = db.stan_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut env, mon) = start(StanImpl::Ours, &args);
    survives_restart(&mut env, mon).await;
    // Only the live channels' rows are left.
    let q = |sql: &str| tokio::task::block_in_place(|| db.query(sql)).trim().to_string();
    assert_eq!(q("SELECT name FROM Channels ORDER BY name"), "gone\nstays");
    assert_eq!(q("SELECT COUNT(*) FROM Messages"), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_store_postgres_deleted_channel_stays_deleted_after_restart() {
    sql_store(SqlKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_store_mariadb_deleted_channel_stays_deleted_after_restart() {
    sql_store(SqlKind::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_store_deletes_the_channel_stream() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mon = ports::free_port();
    let m = mon.to_string();
    let args = ["--store", "jetstream", "--dir", d, "--js_lease", "1s", "-mi", "1s", "-m", &m];
    let s = support::Stan::start(CLUSTER, &args);
    let sc = within(20, stan_client::connect(CLUSTER, "c1", support::opts(&s.url()))).await.unwrap();
    publish(&sc, "gone", 3).await;
    publish(&sc, "stays", 1).await;
    let _sub = within(10, sc.subscribe("stays", SubscriptionOptions::default())).await.unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(s.url()).await.unwrap());
    assert!(js.get_stream(format!("STAN_{CLUSTER}_gone")).await.is_ok());
    wait_gone(mon, "gone", 15).await;
    // The stream goes right after the deletion is recorded.
    let t = Instant::now();
    while js.get_stream(format!("STAN_{CLUSTER}_gone")).await.is_ok() {
        assert!(t.elapsed() < Duration::from_secs(10), "the stream of the deleted channel is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(js.get_stream(format!("STAN_{CLUSTER}_stays")).await.is_ok());
    assert_eq!(channels(mon), ["stays"]);

    // After a restart on the same store the channel is still gone, and
    // created again it starts from sequence 1 in a new stream.
    let port = s.port;
    drop(js);
    drop(sc);
    drop(s); // SIGKILL; its nats-server child dies with it
    let mut s = None;
    for _ in 0..5 {
        match support::Stan::start_on(port, CLUSTER, &args) {
            Ok(started) => {
                s = Some(started);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let s = s.expect("stan-server restarted");
    assert!(!channels(mon).contains(&"gone".to_string()), "the deleted channel came back after the restart");
    let sc = within(20, stan_client::connect(CLUSTER, "c2", support::opts(&s.url()))).await.unwrap();
    publish(&sc, "gone", 1).await;
    let mut sub =
        within(10, sc.subscribe("gone", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let m = within(10, sub.next()).await.unwrap();
    assert_eq!((m.sequence(), m.data_str().to_string()), (1, "m0".to_string()));
    assert!(tokio::time::timeout(Duration::from_millis(500), sub.next()).await.is_err(), "an old message came back");
}
