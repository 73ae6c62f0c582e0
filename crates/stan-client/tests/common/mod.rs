//! Shared helpers of the integration tests: real servers from stan-testkit,
//! unique client IDs, and bounded waits.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use stan_client::{Connection, Message, Options, Subscription};
use stan_testkit::StanEnv;

pub const CLUSTER: &str = "test-cluster";

/// nats-server + STAN server with fast heartbeats.
pub fn env() -> StanEnv {
    StanEnv::start(CLUSTER, &["-hbi", "1s", "-hbt", "1s", "-hbf", "2"])
}

pub fn opts(env: &StanEnv) -> Options {
    Options::new().url(env.nats_url()).reconnect_time_wait(Duration::from_millis(100))
}

pub fn client_id(tag: &str) -> String {
    format!("{tag}-{:08x}", rand::random::<u32>())
}

pub async fn connect(env: &StanEnv, tag: &str) -> Connection {
    within(10, stan_client::connect(CLUSTER, &client_id(tag), opts(env))).await.expect("connect")
}

/// Run `f` with a deadline of `secs` seconds; panics on expiry.
pub async fn within<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("operation timed out")
}

/// The next message, within 5 s.
pub async fn next(sub: &mut Subscription) -> Message {
    within(5, sub.next()).await.expect("subscription ended")
}

/// Assert that no message arrives for `ms` milliseconds.
pub async fn quiet(sub: &mut Subscription, ms: u64) {
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(ms), sub.next()).await {
        panic!("unexpected message {:?}", m.map(|m| (m.sequence(), m.data_str().into_owned())));
    }
}

/// The next `n` payloads as strings.
pub async fn take(sub: &mut Subscription, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(next(sub).await.data_str().into_owned());
    }
    v
}

/// Publish each payload and wait for its ack.
pub async fn publish_all(sc: &Connection, subject: &str, payloads: &[&str]) {
    for p in payloads {
        within(10, sc.publish(subject, p.to_string())).await.expect("publish");
    }
}
