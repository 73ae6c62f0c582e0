//! `--store jetstream` without `-ns`: stan-server's own nats-server child
//! runs JetStream (one node, `--dir` as its store directory). State survives
//! a kill -9 and restart on the same directory, and a JetStream client reads
//! the channel's stream.

mod support;

use async_nats::jetstream;
use futures::StreamExt;
use stan_client::SubscriptionOptions;
use std::time::Duration;
use support::{opts, within, Stan};

/// Start on `port`, retrying (bounded) while the previous child's port is still being released.
fn start_on(port: u16, cid: &str, extra: &[&str]) -> Stan {
    let mut last = String::new();
    for _ in 0..5 {
        match Stan::start_on(port, cid, extra) {
            Ok(s) => return s,
            Err(log) => last = log,
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("stan-server did not start:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_jetstream_keeps_messages_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = ["--store", "jetstream", "--dir", d, "--js_lease", "1s"];
    let s = Stan::start("js-emb", &args);
    assert!(s.log().contains(&format!("JetStream with its store in {d}")), "{}", s.log());
    let port = s.port;
    let sc = within(20, stan_client::connect("js-emb", "c1", opts(&s.url()))).await.unwrap();
    for i in 0..3 {
        within(20, sc.publish("orders", format!("m{i}"))).await.unwrap();
    }
    within(20, sc.close()).await.unwrap();
    // The data is in nats-server's JetStream directory.
    assert!(dir.path().join("jetstream").is_dir());

    drop(s); // SIGKILL; its nats-server child dies with it
    let s = start_on(port, "js-emb", &args);
    assert!(s.log().contains("recovered"), "{}", s.log());
    let sc = within(20, stan_client::connect("js-emb", "c2", opts(&s.url()))).await.unwrap();
    let mut sub =
        within(20, sc.subscribe("orders", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    for seq in 1..=3u64 {
        let m = within(10, sub.next()).await.expect("message");
        assert_eq!((m.sequence(), m.data_str().to_string()), (seq, format!("m{}", seq - 1)));
    }
    within(20, sc.close()).await.unwrap();

    // A JetStream client on the same nats-server reads the channel's stream.
    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let mut stream = ctx.get_stream("STAN_js-emb_orders").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_jetstream_without_dir_uses_a_directory_named_for_the_cluster_and_port() {
    let s = Stan::start("js-emb-default", &["--store", "jetstream"]);
    let want = std::env::temp_dir().join(format!("stan-server-js-js-emb-default-{}", s.port));
    let sc = within(20, stan_client::connect("js-emb-default", "c1", opts(&s.url()))).await.unwrap();
    within(20, sc.publish("a", "x")).await.unwrap();
    within(20, sc.close()).await.unwrap();
    let log = s.log();
    drop(s);
    assert!(log.contains(&format!("JetStream with its store in {}", want.display())), "{log}");
    assert!(want.join("jetstream").is_dir(), "{want:?}");
    let _ = std::fs::remove_dir_all(&want);
}
