//! One-at-a-time publish→message latency of the Rust client: publish 128 B,
//! wait for both its PubAck and its delivery to our own subscription, repeat
//! (after min(200, n) warm-up round trips). The same loop as
//! `bench/client.js latency`, without Node: the bench's latency section
//! prints it beside the Node clients and the floor, which splits the Node
//! package's round trip into the Rust core's share and the rest.
//!
//! Run: `cargo run --release -p stan-client --example latency -- <url> <cluster> <subject> [n=5000]`.
//! Prints one JSON line `{"n":..,"p50":..,"p99":..}` (µs).

use futures::StreamExt;
use stan_client::{connect, Options, SubscriptionOptions};
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stan_client::Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let cluster = args.next().unwrap_or_else(|| "test-cluster".into());
    let subject = args.next().unwrap_or_else(|| format!("lat.rust.{}", std::process::id()));
    let n: usize = match args.next() {
        None => 5000,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("latency: n must be a positive integer, got {s:?}");
                std::process::exit(2);
            }
        },
    };
    let warmup = n.min(200);
    let id = format!("latency-{}", std::process::id());
    let sc = connect(&cluster, &id, Options::new().url(url)).await?;
    let mut sub = sc.subscribe(&subject, SubscriptionOptions::default()).await?;
    let payload = bytes::Bytes::from(vec![b'x'; 128]);
    let mut samples = Vec::with_capacity(n);
    for i in 0..warmup + n {
        let t0 = Instant::now();
        let received = async {
            let m = sub.next().await;
            (m, t0.elapsed())
        };
        let (acked, (msg, took)) = tokio::join!(sc.publish(&subject, payload.clone()), received);
        acked?;
        if msg.is_none() {
            eprintln!("latency: the subscription ended after {i} round trips");
            std::process::exit(1);
        }
        if i >= warmup {
            samples.push(took.as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| samples[((p * n as f64) as usize).min(n - 1)];
    println!("{{\"n\":{n},\"p50\":{:.1},\"p99\":{:.1}}}", pct(0.5), pct(0.99));
    sc.close().await
}
