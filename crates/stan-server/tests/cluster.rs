//! Route clustering of the embedded NATS layer (`--cluster`, `--routes`,
//! `--cluster_name`): two stan-servers' nats-server children form a routed
//! cluster. STAN state stays per server, so the two serve different STAN
//! cluster IDs (`stan-a`, `stan-b`); the scenario that is real: a client
//! whose NATS connection is on node A uses the STAN server of node B, and
//! keeps publishing after node A's nats-server is killed, because its NATS
//! connection fails over to node B (learned from the INFO `connect_urls`).

mod support;

use futures::StreamExt;
use stan_client::SubscriptionOptions;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{free_port, opts, within, Stan};

fn node(cid: &str, port: u16, cluster: u16, route: u16) -> Stan {
    let c = format!("nats://127.0.0.1:{cluster}");
    let r = format!("nats://127.0.0.1:{route}");
    Stan::start_on(
        port,
        cid,
        &["--cluster", &c, "--routes", &r, "--cluster_name", "stan-routed", "--connect_retries", "30"],
    )
    .unwrap_or_else(|log| panic!("{cid} did not start:\n{log}"))
}

/// Wait (bounded) until a message published on A reaches a subscriber on B.
async fn wait_routed(a: &str, b: &str) {
    let ca = async_nats::connect(a).await.unwrap();
    let cb = async_nats::connect(b).await.unwrap();
    let mut sub = cb.subscribe("route.check").await.unwrap();
    cb.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        ca.publish("route.check", "x".into()).await.unwrap();
        ca.flush().await.unwrap();
        if tokio::time::timeout(Duration::from_millis(200), sub.next()).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "the routes between the two nats-servers did not form");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_on_node_a_keeps_publishing_after_node_a_nats_dies() {
    let (pa, pb, ca, cb) = (free_port(), free_port(), free_port(), free_port());
    let a = node("stan-a", pa, ca, cb);
    let b = node("stan-b", pb, cb, ca);
    assert!(std::fs::read_to_string(format!("/proc/{}/cmdline", a.nats_pid)).unwrap().contains("--routes"));
    wait_routed(&a.url(), &b.url()).await;

    // NATS connection to node A only; STAN requests reach stan-b over the route.
    let o = opts(&a.url()).reconnect(true).max_reconnect_attempts(None).reconnect_time_wait(Duration::from_millis(100));
    let sc = within(15, stan_client::connect("stan-b", "routed-pub", o)).await.expect("connect through node A");
    let total = 40u32;
    let mut acked = BTreeSet::new();
    let mut retries = 0;
    for i in 0..total {
        if i == 10 {
            // SAFETY: killing the nats-server child that stan-server A started for this test.
            let r = unsafe { libc::kill(a.nats_pid as i32, libc::SIGKILL) };
            assert_eq!(r, 0, "node A's nats-server was not running");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout(Duration::from_secs(6), sc.publish("routed", format!("m{i}"))).await {
                Ok(Ok(_)) => {
                    acked.insert(i);
                    break;
                }
                _ if Instant::now() < deadline => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("publish m{i} never acknowledged after node A died: {other:?}\nA:\n{}", a.log()),
            }
        }
    }
    assert_eq!(acked.len(), total as usize);
    eprintln!("all {total} publishes acknowledged, {retries} retried during the failover");

    // Everything is in stan-b, read through node B.
    let reader = within(15, stan_client::connect("stan-b", "routed-reader", opts(&b.url()))).await.unwrap();
    let mut sub =
        within(10, reader.subscribe("routed", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut stored = BTreeSet::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        stored.insert(m.data_str().trim_start_matches('m').parse::<u32>().unwrap());
    }
    assert_eq!(stored, (0..total).collect::<BTreeSet<_>>(), "stan-b does not hold every acknowledged message");
    within(10, reader.close()).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), sc.close()).await;
}

/// A plain nats-server of a routed cluster, killed by PID on drop.
struct Nats(std::process::Child);

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn plain_nats(port: u16, cluster: u16, route: u16) -> Nats {
    let child = std::process::Command::new(stan_testkit::binaries::nats_server())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--cluster_name", "plain-routed"])
        .args(["--cluster", &format!("nats://127.0.0.1:{cluster}"), "--routes", &format!("nats://127.0.0.1:{route}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Nats(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stan_server_on_external_cluster_fails_over_to_the_advertised_node() {
    let (pa, pb, ca, cb) = (free_port(), free_port(), free_port(), free_port());
    let mut na = plain_nats(pa, ca, cb);
    let _nb = plain_nats(pb, cb, ca);
    let (ua, ub) = (format!("nats://127.0.0.1:{pa}"), format!("nats://127.0.0.1:{pb}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", pa)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", pb)).is_err()
    {
        assert!(Instant::now() < deadline, "nats-servers did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_routed(&ua, &ub).await;
    // stan-server is given node A only.
    let s = Stan::try_start("stan-ext", &["-ns", &ua]).unwrap_or_else(|log| panic!("{log}"));
    let sc = within(15, stan_client::connect("stan-ext", "ext-pub", opts(&ub).reconnect(true))).await.unwrap();
    within(10, sc.publish("ext", "before")).await.unwrap();
    na.0.kill().unwrap();
    na.0.wait().unwrap();
    // stan-server's own connection reconnects to node B (advertised by the cluster).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout(Duration::from_secs(3), sc.publish("ext", "after")).await {
            Ok(Ok(_)) => break,
            _ => assert!(Instant::now() < deadline, "stan-server did not come back after node A died:\n{}", s.log()),
        }
    }
    let log = s.log();
    assert!(log.contains("NATS connection event: disconnected"), "no failover seen:\n{log}");
    let reader = within(15, stan_client::connect("stan-ext", "ext-reader", opts(&ub))).await.unwrap();
    let mut sub =
        within(10, reader.subscribe("ext", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let first = within(5, sub.next()).await.unwrap();
    assert_eq!(first.data_str(), "before", "the message stored before the failover is still there");
    within(10, reader.close()).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), sc.close()).await;
}
