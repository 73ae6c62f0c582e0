//! Reading the original server's file store: nats-streaming-server 0.25.6
//! writes a store (several channels, durables with some acks, ended by
//! kill -9), `stan-server migrate` converts it, and stan-server serves it:
//! every message with its body and timestamp, client sessions that go on,
//! and durables that resume at the right sequence.

use futures::stream::StreamExt;
use stan_client::{Connection, Options, Subscription, SubscriptionOptions};
use stan_testkit::{binaries, StanEnv, StanImpl};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CLUSTER: &str = "orig-mig";

fn opts(env: &StanEnv) -> Options {
    Options::new().url(env.nats_url()).ack_timeout(Duration::from_secs(5)).connect_timeout(Duration::from_secs(5))
}

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

fn durable(name: &str) -> SubscriptionOptions {
    SubscriptionOptions::default()
        .durable_name(name)
        .manual_ack_mode(true)
        .deliver_all_available()
        .ack_wait(Duration::from_secs(30))
}

async fn publish_all(sc: &Connection, channel: &str, range: std::ops::RangeInclusive<u32>) {
    for i in range {
        within(10, sc.publish(channel, format!("{channel}-{i}"))).await.unwrap();
    }
}

/// Receives `n` messages; returns (sequence, body, timestamp) in arrival order, acking when `ack(seq)`.
async fn take(sub: &mut Subscription, n: usize, ack: impl Fn(u64) -> bool) -> Vec<(u64, String, i64)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = within(15, sub.next()).await.expect("subscription ended");
        if ack(m.sequence()) {
            m.ack().unwrap();
        }
        out.push((m.sequence(), m.data_str().into_owned(), m.timestamp_nanos()));
    }
    out
}

fn migrate(from: &Path, to: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new(binaries::stan_server(StanImpl::Ours));
    c.arg("migrate").arg("--from").arg(from).arg("--to").arg(to).args(extra);
    c.output().expect("run stan-server migrate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_written_by_the_original_is_served_after_migrate() {
    let orig = tempfile::tempdir().unwrap();
    let ours = tempfile::tempdir().unwrap();
    let od = orig.path().to_str().unwrap();
    // Small slices: alpha spans three message files.
    let mut env =
        StanEnv::start_with(StanImpl::Reference, CLUSTER, &["-st", "FILE", "--dir", od, "--file_slice_max_msgs", "4"]);

    // --- The original writes.
    let writer = within(10, stan_client::connect(CLUSTER, "writer", opts(&env))).await.unwrap();
    publish_all(&writer, "alpha", 1..=10).await;
    publish_all(&writer, "beta", 1..=5).await;
    publish_all(&writer, "gamma", 1..=3).await;
    // A durable that stays connected across the switch: acks 1..=4.
    let live = within(10, stan_client::connect(CLUSTER, "live", opts(&env))).await.unwrap();
    let mut sub_a = within(10, live.subscribe("alpha", durable("dur-a"))).await.unwrap();
    let first: BTreeMap<u64, (String, i64)> =
        take(&mut sub_a, 10, |s| s <= 4).await.into_iter().map(|(s, b, t)| (s, (b, t))).collect();
    assert_eq!(first.keys().copied().collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The original writes pending acks out with its next publish batch on the channel.
    publish_all(&writer, "alpha", 11..=11).await;
    take(&mut sub_a, 1, |_| false).await;
    // A durable that acks 1..=2 of beta, is closed (offline), and misses 6..=7.
    let gone = within(10, stan_client::connect(CLUSTER, "gone", opts(&env))).await.unwrap();
    let mut sub_b = within(10, gone.subscribe("beta", durable("dur-b"))).await.unwrap();
    take(&mut sub_b, 5, |s| s <= 2).await;
    // A durable queue group on gamma whose only member acks 1 of 3 and leaves.
    let mut sub_q = within(10, gone.subscribe("gamma", durable("dq").queue_group("workers"))).await.unwrap();
    take(&mut sub_q, 3, |s| s == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(10, sub_b.close()).await.unwrap();
    within(10, sub_q.close()).await.unwrap();
    within(10, gone.close()).await.unwrap();
    publish_all(&writer, "beta", 6..=7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // kill -9 (the test kit kills by PID with SIGKILL).
    tokio::task::block_in_place(|| env.stop_stan());
    assert!(orig.path().join("alpha/msgs.3.dat").is_file(), "expected several slices");

    // --- Serving the original's directory as is is refused clearly.
    let direct = Command::new(binaries::stan_server(StanImpl::Ours))
        .args(["-cid", CLUSTER, "-ns", &env.nats_url(), "-st", "FILE", "--dir", od])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&direct.stderr).into_owned() + &String::from_utf8_lossy(&direct.stdout);
    assert!(!direct.status.success() && text.contains("stan-server migrate"), "{text}");

    // --- Migrate, then stan-server reads.
    let out = migrate(orig.path(), ours.path(), &[]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "migrate failed: {text}");
    assert!(text.contains("2 client(s), 3 channel(s), 21 message(s), 3 subscription(s)"), "{text}");
    let ourd = ours.path().to_str().unwrap();
    let mon = stan_testkit::ports::free_port();
    let m = mon.to_string();
    tokio::task::block_in_place(|| env.replace_stan(StanImpl::Ours, &["-st", "FILE", "--dir", ourd, "-m", &m]));

    // The live durable gets its unacknowledged 5..=11 again, with the
    // original's bodies and timestamps, and its acks (on the original's
    // ack inbox) reach stan-server.
    let again = take(&mut sub_a, 7, |_| true).await;
    let mut seqs: Vec<u64> = again.iter().map(|m| m.0).collect();
    seqs.sort();
    assert_eq!(seqs, (5..=11).collect::<Vec<_>>());
    for (seq, body, ts) in &again {
        assert_eq!(body, &format!("alpha-{seq}"));
        if let Some((b, t)) = first.get(seq) {
            assert_eq!((body, ts), (b, t), "message {seq} differs");
        }
    }
    // The writer's session goes on: its publish continues the sequence.
    publish_all(&writer, "alpha", 12..=12).await;
    let next = take(&mut sub_a, 1, |_| true).await;
    assert_eq!((next[0].0, next[0].1.as_str()), (12, "alpha-12"));
    // Those acks arrived: nothing is pending any more.
    let mut pending = None;
    for _ in 0..50 {
        let body = stan_testkit::monitor::http_get(mon, "/streaming/channelsz?channel=alpha&subs=1").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let s = v["subscriptions"].as_array().unwrap().iter().find(|s| s["durable_name"] == "dur-a").cloned();
        let s = s.expect("durable dur-a listed");
        assert_eq!(s["last_sent"], 12);
        pending = s["pending_count"].as_u64();
        if pending == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, Some(0), "acks on the original's ack inbox were not received");

    // The offline durable resumes: unacked 3..=5, then 6..=7 it never saw.
    let back = within(10, stan_client::connect(CLUSTER, "gone", opts(&env))).await.unwrap();
    let mut sub_b = within(10, back.subscribe("beta", durable("dur-b"))).await.unwrap();
    let got = take(&mut sub_b, 5, |_| true).await;
    let mut seqs: Vec<u64> = got.iter().map(|m| m.0).collect();
    seqs.sort();
    assert_eq!(seqs, vec![3, 4, 5, 6, 7]);
    assert!(got.iter().all(|(s, b, _)| b == &format!("beta-{s}")));
    // The durable queue group resumes with its unacknowledged 2..=3.
    let mut sub_q = within(10, back.subscribe("gamma", durable("dq").queue_group("workers"))).await.unwrap();
    let mut seqs: Vec<u64> = take(&mut sub_q, 2, |_| true).await.iter().map(|m| m.0).collect();
    seqs.sort();
    assert_eq!(seqs, vec![2, 3]);

    // Every message of a channel nobody subscribed to.
    let reader = within(10, stan_client::connect(CLUSTER, "reader", opts(&env))).await.unwrap();
    let mut sub_g =
        within(10, reader.subscribe("gamma", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let got = take(&mut sub_g, 3, |_| false).await;
    assert_eq!(
        got.iter().map(|m| (m.0, m.1.as_str())).collect::<Vec<_>>(),
        [(1, "gamma-1"), (2, "gamma-2"), (3, "gamma-3")]
    );
    for c in [writer, live, back, reader] {
        within(10, c.close()).await.unwrap();
    }

    // --- A damaged original file is a clear error, never a panic.
    let msgs = orig.path().join("gamma/msgs.1.dat");
    let mut b = std::fs::read(&msgs).unwrap();
    let n = b.len();
    b[n - 2] ^= 0x55;
    std::fs::write(&msgs, &b).unwrap();
    let again_dir = tempfile::tempdir().unwrap();
    let out = migrate(orig.path(), again_dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("msgs.1.dat: corrupted record at offset"), "{text}");
    b.truncate(n - 3);
    std::fs::write(&msgs, &b).unwrap();
    let out = migrate(orig.path(), again_dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unexpected end of file"), "{text}");
    let out = migrate(orig.path(), again_dir.path(), &["--file_truncate_bad_eof"]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("20 message(s)"), "{text}");
}
