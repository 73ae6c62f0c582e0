//! Overload: stan-server must never drop a publish that reached its NATS
//! connection. Many windowed publishers at once, and a raw pipelined flood
//! with no window at all, against real servers (memory and file store):
//! every publish is acknowledged, every message is stored, and neither
//! server log mentions a slow consumer.
//!
//! Sizes: 8 publishers × 12,500 windowed publishes and a 100,000-message
//! raw flood; with `STAN_LONG_TESTS=1`, the sizes of the acceptance test
//! (8 × 50,000 and 500,000).

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use prost::Message as _;
use stan_client::Options;
use stan_proto::{ConnectRequest, ConnectResponse, PubAck, PubMsg};
use stan_testkit::{ports::free_port, StanEnv, StanImpl};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const PUBLISHERS: usize = 8;
const WINDOW: usize = 16_384;
const PAYLOAD: usize = 128;

/// One overload at a time: they share two cores with everything else.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn long() -> bool {
    std::env::var("STAN_LONG_TESTS").is_ok_and(|v| v == "1")
}

fn per_publisher() -> usize {
    if long() {
        50_000
    } else {
        12_500
    }
}

fn flood_size() -> usize {
    if long() {
        500_000
    } else {
        100_000
    }
}

/// A running pair with stan-server's own monitoring on `http`.
struct Servers {
    env: StanEnv,
    http: u16,
    _dir: Option<tempfile::TempDir>,
}

fn start(cluster: &str, store: &str, file_sync: bool) -> Servers {
    let http = free_port();
    let hp = http.to_string();
    let mut args = vec!["-m", &hp];
    let dir = (store == "FILE").then(|| tempfile::tempdir().unwrap());
    let d = dir.as_ref().map(|d| d.path().to_str().unwrap().to_string());
    let sync = format!("--file_sync={file_sync}");
    if let Some(d) = &d {
        args.extend(["-st", "FILE", "--dir", d, &sync]);
    }
    let env = StanEnv::start_with(StanImpl::Ours, cluster, &args);
    Servers { env, http, _dir: dir }
}

/// GET a monitoring document of stan-server as JSON.
fn monitor(port: u16, path: &str) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("monitor port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("bad JSON from {path}: {e}: {body:?}"))
}

fn stored(s: &Servers, channel: &str) -> u64 {
    let v = monitor(s.http, &format!("/streaming/channelsz?channel={channel}"));
    v["msgs"].as_u64().unwrap_or_else(|| panic!("no msgs in {v}"))
}

/// Neither server may have seen a slow consumer.
fn assert_no_slow_consumer(s: &Servers) {
    for (who, log) in [("stan-server", s.env.stan().log()), ("nats-server", s.env.nats().log())] {
        let bad: Vec<&str> = log.lines().filter(|l| l.to_ascii_lowercase().contains("slow consumer")).collect();
        assert!(
            bad.is_empty(),
            "{who} log has {} slow consumer line(s), e.g. {:?}",
            bad.len(),
            &bad[..bad.len().min(3)]
        );
    }
}

/// One publisher: `n` messages, at most `WINDOW` unacknowledged.
async fn publish_windowed(
    url: String,
    cluster: String,
    id: usize,
    n: usize,
    channel: &'static str,
) -> (usize, Vec<String>) {
    let opts = Options::new()
        .url(url)
        .connect_timeout(Duration::from_secs(10))
        .ack_timeout(Duration::from_secs(60))
        .max_pub_acks_inflight(WINDOW);
    let sc = stan_client::connect(&cluster, &format!("pub-{id}"), opts).await.expect("connect");
    let payload = Bytes::from(vec![b'x'; PAYLOAD]);
    let (mut acked, mut errors) = (0usize, Vec::new());
    let mut inflight = FuturesUnordered::new();
    let mut sent = 0;
    while sent < n {
        if inflight.len() >= WINDOW {
            match inflight.next().await {
                Some(Ok(_)) => acked += 1,
                Some(Err(e)) => errors.push(format!("{e}")),
                None => {}
            }
            continue;
        }
        match sc.publish_async(channel, payload.clone()).await {
            Ok(f) => {
                inflight.push(f);
                sent += 1;
            }
            // The client's window may lag our count by an ack being processed.
            Err(e) if e.to_string().contains("max in flight") && !inflight.is_empty() => match inflight.next().await {
                Some(Ok(_)) => acked += 1,
                Some(Err(e)) => errors.push(format!("{e}")),
                None => {}
            },
            Err(e) => panic!("publish {sent} of publisher {id}: {e}"),
        }
    }
    while let Some(r) = inflight.next().await {
        match r {
            Ok(_) => acked += 1,
            Err(e) => errors.push(format!("{e}")),
        }
    }
    let _ = sc.close().await;
    (acked, errors)
}

async fn windowed_publishers_all_acked(store: &str, file_sync: bool) {
    let _serial = SERIAL.lock().await;
    let cluster = format!("overload-{}", store.to_lowercase());
    let s = start(&cluster, store, file_sync);
    let t = Instant::now();
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|i| tokio::spawn(publish_windowed(s.env.nats_url(), cluster.clone(), i, per_publisher(), "flood")))
        .collect();
    let mut acked = 0;
    let mut errors = Vec::new();
    for t in tasks {
        let (a, e) = tokio::time::timeout(Duration::from_secs(300), t).await.expect("publishers timed out").unwrap();
        acked += a;
        errors.extend(e);
    }
    let total = PUBLISHERS * per_publisher();
    eprintln!(
        "{store} (file_sync={file_sync}): {acked}/{total} acked in {:?} ({:.0} msgs/s), {} errors",
        t.elapsed(),
        total as f64 / t.elapsed().as_secs_f64(),
        errors.len()
    );
    assert!(errors.is_empty(), "{} publishes failed, e.g. {:?}", errors.len(), &errors[..errors.len().min(3)]);
    assert_eq!(acked, total, "publishes acknowledged");
    assert_eq!(stored(&s, "flood"), total as u64, "messages stored");
    assert_no_slow_consumer(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_publishers_memory_store() {
    windowed_publishers_all_acked("MEMORY", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_publishers_file_store() {
    windowed_publishers_all_acked("FILE", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_publishers_file_store_fsync() {
    windowed_publishers_all_acked("FILE", true).await;
}

/// Publish `n` PubMsgs as fast as async-nats can write them, with no window,
/// then wait for all PubAcks.
async fn raw_flood(store: &str) {
    let _serial = SERIAL.lock().await;
    let cluster = format!("flood-{}", store.to_lowercase());
    let s = start(&cluster, store, false);
    let n = flood_size();
    let nc = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 22)
        .connect(s.env.nats_url())
        .await
        .expect("nats connect");
    let req = ConnectRequest {
        client_id: "flooder".into(),
        heartbeat_inbox: nc.new_inbox(),
        protocol: 1,
        conn_id: Bytes::from_static(b"flooder-conn"),
        ping_interval: 5,
        ping_max_out: 88,
    };
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request(format!("_STAN.discover.{cluster}"), Bytes::from(req.encode_to_vec())),
    )
    .await
    .expect("connect request timed out")
    .expect("connect request");
    let resp = ConnectResponse::decode(resp.payload).expect("ConnectResponse");
    assert!(resp.error.is_empty(), "connect refused: {}", resp.error);
    let acks_subject = nc.new_inbox();
    let mut acks = nc.subscribe(acks_subject.clone()).await.unwrap();
    nc.flush().await.unwrap();
    let counter = tokio::spawn(async move {
        let (mut ok, mut bad) = (0usize, Vec::new());
        while ok + bad.len() < n {
            match tokio::time::timeout(Duration::from_secs(30), acks.next()).await {
                Ok(Some(m)) => {
                    let a = PubAck::decode(m.payload).expect("PubAck");
                    if a.error.is_empty() {
                        ok += 1
                    } else {
                        bad.push(a.error)
                    }
                }
                _ => break,
            }
        }
        (ok, bad)
    });
    let subject = format!("{}.raw", resp.pub_prefix);
    let data = Bytes::from(vec![b'r'; PAYLOAD]);
    let t = Instant::now();
    for i in 0..n {
        let pm = PubMsg {
            client_id: "flooder".into(),
            guid: format!("g{i}"),
            subject: "raw".into(),
            reply: String::new(),
            data: data.clone(),
            conn_id: Bytes::from_static(b"flooder-conn"),
            ..Default::default()
        };
        nc.publish_with_reply(subject.clone(), acks_subject.clone(), Bytes::from(pm.encode_to_vec())).await.unwrap();
    }
    nc.flush().await.unwrap();
    let (ok, bad) = tokio::time::timeout(Duration::from_secs(300), counter).await.expect("acks timed out").unwrap();
    eprintln!(
        "{store} raw flood: {ok}/{n} acked in {:?} ({:.0} msgs/s)",
        t.elapsed(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    assert!(bad.is_empty(), "{} PubAcks with an error, e.g. {:?}", bad.len(), &bad[..bad.len().min(3)]);
    assert_eq!(ok, n, "PubAcks received");
    assert_eq!(stored(&s, "raw"), n as u64, "messages stored");
    assert_no_slow_consumer(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_flood_memory_store() {
    raw_flood("MEMORY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_flood_file_store() {
    raw_flood("FILE").await;
}
