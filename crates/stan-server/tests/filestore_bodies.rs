//! The file store keeps message bodies on disk: a channel holding far more
//! data than the body cache is delivered intact from sequence 1, before and
//! after a `kill -9` and restart, while stan-server's resident memory grows
//! by far less than the stored data.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::{StanEnv, StanImpl};
use std::time::Duration;

const CLUSTER: &str = "fs-bodies";
const MSGS: u32 = 200;
const BODY: usize = 200 * 1024;
/// Body cache of stan-server in this test (through its hidden env variable).
const CACHE: &str = "2097152";

fn body(i: u32) -> Vec<u8> {
    // Distinct, position-dependent content, so a wrong or torn body shows.
    (0..BODY).map(|k| (k as u32).wrapping_mul(31).wrapping_add(i.wrapping_mul(7919)) as u8).collect()
}

fn opts(env: &StanEnv) -> Options {
    Options::new()
        .url(env.nats_url())
        .ack_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .max_pub_acks_inflight(1000)
}

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

/// Resident memory of stan-server, in bytes.
fn rss(env: &StanEnv) -> u64 {
    let pid = env.stan().pid().expect("stan-server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Reads every message from sequence 1 with a new subscription and checks it.
async fn read_all(env: &StanEnv, client_id: &str) {
    let sc = within(10, stan_client::connect(CLUSTER, client_id, opts(env))).await.unwrap();
    let so = SubscriptionOptions::default().deliver_all_available().max_in_flight(16);
    let mut sub = within(10, sc.subscribe("big", so)).await.unwrap();
    for i in 1..=MSGS {
        let m = within(20, sub.next()).await.expect("subscription ended");
        assert_eq!(m.sequence(), u64::from(i));
        assert!(m.data() == body(i).as_slice(), "body of message {i} differs");
    }
    within(10, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_larger_than_the_cache_are_read_from_disk() {
    // Set before stan-server is spawned (it inherits the environment).
    std::env::set_var("STAN_FILE_BODY_CACHE_BYTES", CACHE);
    // A fixed mmap threshold, so glibc returns freed bodies to the system
    // (its dynamic threshold keeps them in the heap, which hides the figure).
    std::env::set_var("MALLOC_MMAP_THRESHOLD_", "65536");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut env = StanEnv::start_with(StanImpl::Ours, CLUSTER, &["-st", "FILE", "--dir", d]);
    let data_bytes = u64::from(MSGS) * BODY as u64;
    let baseline = rss(&env);
    eprintln!("baseline RSS {baseline}");
    let pc = within(10, stan_client::connect(CLUSTER, "big-pub", opts(&env))).await.unwrap();
    for i in 1..=MSGS {
        within(20, pc.publish("big", body(i))).await.unwrap();
    }
    within(10, pc.close()).await.unwrap();
    eprintln!("after publish RSS {}", rss(&env));
    read_all(&env, "reader-1").await;
    let after_publish = rss(&env);
    eprintln!("stored {data_bytes} bytes; stan-server RSS {after_publish} bytes");
    assert!(
        after_publish < baseline + data_bytes / 4,
        "RSS {after_publish} (baseline {baseline}) for {data_bytes} bytes"
    );

    tokio::task::block_in_place(|| env.restart_stan());
    eprintln!("after restart RSS {}", rss(&env));
    read_all(&env, "reader-2").await;
    let after_restart = rss(&env);
    eprintln!("after kill -9 and restart: RSS {after_restart} bytes");
    assert!(after_restart < baseline + data_bytes / 4, "RSS {after_restart} after restart (baseline {baseline})");
}
