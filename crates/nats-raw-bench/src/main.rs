//! The raw NATS request/reply ceiling: a responder and a pipelined requester
//! (async-nats, two connections) on one nats-server, no STAN in between.
//!
//! ```text
//! nats-raw-bench --url nats://127.0.0.1:4222 [--n 100000] [--window 512] [--size 128]
//! ```
//!
//! The requester keeps `window` requests in flight (like a STAN publisher
//! keeps `maxPubAcksInFlight` publishes waiting for their acks) until `n`
//! replies arrived; the responder answers every request with a 32-byte reply
//! (about the size of a PubAck). Prints one JSON line on stdout:
//! `{"n":..,"window":..,"size":..,"seconds":..,"rate":..}`; exits non-zero on
//! an error, a wrong count or no progress for 30 s.
//!
//! ```text
//! nats-raw-bench --url nats://127.0.0.1:4222 --respond <subject>
//! ```
//!
//! Responder only (the latency floor of `bench/raw-latency.js`): answers
//! every request on `subject` with its own payload, the least any server
//! between a publisher and a subscriber can do. Prints `{"ready":true}` once
//! subscribed and runs until its stdin closes.

mod respond;

mod args;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

/// Longest wait for the next reply before giving up.
const STALL: Duration = Duration::from_secs(30);
/// Round trips run before the timed run (not counted).
const WARMUP: u64 = 2_000;
/// Reply payload size: about a PubAck.
const REPLY_SIZE: usize = 32;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("nats-raw-bench: {msg}\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    // The responder is one blocking thread: no runtime to start (or block).
    let result = match &args.respond {
        Some(subject) => respond::run(&args.url, subject).map(|()| None),
        None => tokio::runtime::Runtime::new().map_err(BoxError::from).and_then(|rt| rt.block_on(run(&args))).map(Some),
    };
    match result {
        Ok(Some(seconds)) => println!(
            "{{\"n\":{},\"window\":{},\"size\":{},\"seconds\":{:.6},\"rate\":{:.1}}}",
            args.n,
            args.window,
            args.size,
            seconds,
            args.n as f64 / seconds
        ),
        Ok(None) => {}
        Err(e) => {
            eprintln!("nats-raw-bench: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &args::Args) -> Result<f64, BoxError> {
    let responder = async_nats::connect(&args.url).await?;
    let requester = async_nats::connect(&args.url).await?;
    let subject = format!("raw.bench.{}", std::process::id());

    let mut requests = responder.subscribe(subject.clone()).await?;
    responder.flush().await?;
    let reply_payload = Bytes::from(vec![b'a'; REPLY_SIZE]);
    let answering = tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                responder.publish(reply, reply_payload.clone()).await?;
            }
        }
        Ok::<(), BoxError>(())
    });

    let inbox = requester.new_inbox();
    let mut replies = requester.subscribe(inbox.clone()).await?;
    requester.flush().await?;
    let payload = Bytes::from(vec![b'x'; args.size]);
    let mut pipeline = Pipeline {
        client: &requester,
        replies: &mut replies,
        subject: &subject,
        inbox: &inbox,
        payload: &payload,
        window: args.window,
    };

    pipeline.round_trips(WARMUP.min(args.n)).await?;
    let t0 = Instant::now();
    pipeline.round_trips(args.n).await?;
    let seconds = t0.elapsed().as_secs_f64();

    answering.abort();
    Ok(seconds)
}

/// A requester keeping up to `window` requests in flight.
struct Pipeline<'a> {
    client: &'a async_nats::Client,
    replies: &'a mut async_nats::Subscriber,
    subject: &'a str,
    inbox: &'a str,
    payload: &'a Bytes,
    window: u64,
}

impl Pipeline<'_> {
    /// `n` requests, each answered once; an error if a reply is missing.
    async fn round_trips(&mut self, n: u64) -> Result<(), BoxError> {
        let mut sent = 0u64;
        let mut got = 0u64;
        while sent < n.min(self.window) {
            self.send().await?;
            sent += 1;
        }
        while got < n {
            match tokio::time::timeout(STALL, self.replies.next()).await {
                Ok(Some(_)) => got += 1,
                Ok(None) => return Err(format!("reply subscription closed after {got} of {n} replies").into()),
                Err(_) => return Err(format!("no reply for {} s after {got} of {n} replies", STALL.as_secs()).into()),
            }
            if sent < n {
                self.send().await?;
                sent += 1;
            }
        }
        Ok(())
    }

    async fn send(&self) -> Result<(), BoxError> {
        self.client.publish_with_reply(self.subject.to_string(), self.inbox.to_string(), self.payload.clone()).await?;
        Ok(())
    }
}
