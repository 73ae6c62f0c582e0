//! Chaos and load against the real binaries (stan-server with its real
//! nats-server child, and `stan-client`):
//!
//! - **kill -9 rounds** (file store): in each round, under publish load,
//!   the nats-server child is killed with SIGKILL (the server restarts it and
//!   the publishers carry on), then stan-server itself; it is restarted on
//!   the same directory and every message ever acknowledged must be stored,
//!   in one gap-free sequence. 3 rounds (10 with `STAN_LONG_TESTS=1`).
//! - **slow consumer**: a subscriber that never reads while publishers run:
//!   the server keeps at most MaxInFlight messages outstanding to it (its
//!   memory stays bounded), the publishers are not slowed down beyond a
//!   generous factor, and once the subscriber reads it gets every message.
//! - **many clients**: 200 STAN connections (2,000 with `STAN_LONG_TESTS=1`)
//!   are open at once, each publishes, all close; the server registers and
//!   forgets every one and stores every message.
//!
//! Each test prints its figures (`chaos figures: ...`) for docs/reliability.md.

mod support;

use futures::future::join_all;
use futures::StreamExt;
use stan_client::{Connection, Options, SubscriptionOptions};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{free_port, within, Stan};

fn long() -> bool {
    std::env::var("STAN_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// One heavy test at a time: they share two cores with everything else.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn kill9(pid: u32) {
    // SAFETY: signalling a process this test started (stan-server or its child).
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `GET path` on stan-server's monitoring port, parsed as JSON.
fn monitor(port: u16, path: &str) -> serde_json::Value {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("monitor port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {buf}"))
}

/// Polls `f` every 50 ms until it is true; panics with `what` after `secs`.
async fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn opts(url: &str) -> Options {
    Options::new()
        .url(url)
        .connect_timeout(Duration::from_secs(5))
        .nats_connect_timeout(Duration::from_secs(5))
        .ack_timeout(Duration::from_secs(3))
        .reconnect(true)
        .reconnect_time_wait(Duration::from_millis(100))
}

// ---------------------------------------------------------------- kill -9 --

const CHAOS_CID: &str = "chaos";
const CHAOS_CHANNEL: &str = "chaos";

/// Publishers that run until stopped, keeping what was acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<usize>>,
}

impl Load {
    fn start(sc: &Connection, round: usize, publishers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..publishers)
            .map(|p| {
                let (sc, stop, acked) = (sc.clone(), stop.clone(), acked.clone());
                tokio::spawn(async move {
                    let mut failed = 0;
                    for k in 0..10_000_000u64 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let payload = format!("r{round}-p{p}-{k}");
                        // Bounded by the 3 s ack timeout; the outer timeout catches a hang.
                        match tokio::time::timeout(Duration::from_secs(30), sc.publish(CHAOS_CHANNEL, payload.clone()))
                            .await
                        {
                            Ok(Ok(_)) => acked.lock().unwrap().push(payload),
                            Ok(Err(_)) => {
                                failed += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(_) => panic!("publish {payload} hung"),
                        }
                    }
                    failed
                })
            })
            .collect();
        Load { stop, acked, tasks }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops the publishers; the acknowledged payloads and the failure count.
    async fn finish(self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let mut failed = 0;
        for t in self.tasks {
            failed += within(60, t).await.expect("publisher panicked");
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        (acked, failed)
    }
}

/// Reads the whole channel from the start: the payloads, checking that the
/// sequences run 1, 2, 3... with no gap.
async fn read_all(url: &str, reader_id: &str, expect_at_least: usize) -> BTreeSet<String> {
    let sc = within(20, stan_client::connect(CHAOS_CID, reader_id, opts(url))).await.expect("reader connects");
    let mut sub = within(
        10,
        sc.subscribe(CHAOS_CHANNEL, SubscriptionOptions::default().deliver_all_available().max_in_flight(8192)),
    )
    .await
    .expect("reader subscribes");
    let mut stored = BTreeSet::new();
    let mut last = 0;
    let quiet = Duration::from_secs(3);
    loop {
        // Wait longer while fewer than expected have come.
        let wait = if stored.len() < expect_at_least { Duration::from_secs(30) } else { quiet };
        match tokio::time::timeout(wait, sub.next()).await {
            Ok(Some(m)) => {
                assert_eq!(m.sequence(), last + 1, "gap or reordering in the stored sequence");
                last = m.sequence();
                stored.insert(m.data_str().into_owned());
            }
            Ok(None) => panic!("reader subscription ended"),
            Err(_) => break,
        }
    }
    within(10, sc.close()).await.expect("reader closes");
    stored
}

fn restarted_child(log: &str, nth: usize) -> Option<u32> {
    log.split("Restarted nats-server (pid ").nth(nth).and_then(|r| r.split(')').next()).and_then(|p| p.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_rounds_of_server_and_child_under_load_lose_no_acked_message() {
    let _serial = SERIAL.lock().await;
    let rounds = if long() { 10 } else { 3 };
    let per_phase = if long() { 1500 } else { 300 };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let args = ["-st", "FILE", "--dir", d.as_str(), "-hbi", "1s", "-hbt", "1s", "-hbf", "3"];
    let mut all_acked: BTreeSet<String> = BTreeSet::new();
    let (mut total_failed, mut restarts, mut child_restarts) = (0usize, 0usize, 0usize);
    let t0 = Instant::now();
    for round in 0..rounds {
        let stan = Stan::start(CHAOS_CID, &args);
        if round > 0 {
            restarts += 1;
        }
        // After each restart: everything acknowledged so far is stored.
        let stored = read_all(&stan.url(), &format!("reader-{round}"), all_acked.len()).await;
        let lost: Vec<&String> = all_acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged messages lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        eprintln!("round {round}: stored {} (acked so far {})", stored.len(), all_acked.len());

        let sc = within(20, stan_client::connect(CHAOS_CID, &format!("pub-{round}"), opts(&stan.url())))
            .await
            .expect("publisher connects");
        let load = Load::start(&sc, round, 3);
        wait_until(60, "acks before the child kill", || load.acked() >= per_phase).await;
        // Kill the nats-server child under load: the server restarts it and
        // the publishers carry on.
        kill9(stan.nats_pid);
        let at_kill = load.acked();
        wait_until(60, "acks after the child restart", || load.acked() >= at_kill + per_phase).await;
        let child = restarted_child(&stan.log(), 1).expect("child restart logged");
        child_restarts += 1;
        // Then stan-server itself, still under load.
        kill9(stan.pid());
        let (acked, failed) = load.finish().await;
        total_failed += failed;
        assert!(acked.len() >= at_kill + per_phase);
        all_acked.extend(acked);
        drop(sc);
        drop(stan);
        // Its restarted child dies with it.
        wait_until(10, "the restarted child to exit with the server", || !alive(child)).await;
    }
    let stan = Stan::start(CHAOS_CID, &args);
    restarts += 1;
    let stored = read_all(&stan.url(), "reader-final", all_acked.len()).await;
    let lost = all_acked.difference(&stored).count();
    eprintln!(
        "chaos figures: kill9 rounds={rounds} server_restarts={restarts} child_kills={child_restarts} acked={} \
         failed_publishes={total_failed} stored={} lost={lost} elapsed={:.1}s",
        all_acked.len(),
        stored.len(),
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "acknowledged messages lost");
    assert!(stored.len() >= all_acked.len());
}

// ---------------------------------------------------------- slow consumer --

/// Publishes `n` messages of `size` bytes on `channel` from 4 tasks; the time it took.
async fn publish_n(sc: &Connection, channel: &str, n: usize, size: usize) -> Duration {
    let t = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|p| {
            let (sc, channel) = (sc.clone(), channel.to_string());
            tokio::spawn(async move {
                for k in (p..n).step_by(4) {
                    let mut data = format!("{k:08}").into_bytes();
                    data.resize(size, b'.');
                    within(30, sc.publish(&channel, data)).await.expect("publish acknowledged");
                }
            })
        })
        .collect();
    for t in tasks {
        within(300, t).await.expect("publisher panicked");
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_does_not_hold_up_publishers_or_lose_messages() {
    let _serial = SERIAL.lock().await;
    let n = if long() { 50_000 } else { 4_000 };
    let size = 1024;
    let max_in_flight = 256;
    let http = free_port();
    let stan = Stan::start("slow", &["-m", &http.to_string()]);
    let publisher = within(20, stan_client::connect("slow", "slow-pub", opts(&stan.url()))).await.unwrap();
    // Baseline: the same load with no subscriber.
    let base = publish_n(&publisher, "baseline", n, size).await;
    let rss_before = rss_kib(stan.pid());

    let consumer = within(20, stan_client::connect("slow", "slow-sub", opts(&stan.url()))).await.unwrap();
    let mut sub = within(
        10,
        consumer.subscribe(
            "slow",
            SubscriptionOptions::default()
                .manual_ack_mode(true)
                .max_in_flight(max_in_flight)
                .ack_wait(Duration::from_secs(2)),
        ),
    )
    .await
    .unwrap();
    // The subscriber never reads while this runs.
    let with_slow = publish_n(&publisher, "slow", n, size).await;
    let rss_after = rss_kib(stan.pid());
    let ch = monitor(http, "/streaming/channelsz?channel=slow&subs=1");
    let subz = &ch["subscriptions"][0];
    let pending = subz["pending_count"].as_u64().unwrap();
    eprintln!(
        "chaos figures: slow consumer n={n} size={size} baseline={:.2}s with_slow_consumer={:.2}s \
         pending={pending} (max_in_flight {max_in_flight}) rss_before={rss_before}KiB rss_after={rss_after}KiB",
        base.as_secs_f64(),
        with_slow.as_secs_f64()
    );
    assert_eq!(ch["msgs"].as_u64(), Some(n as u64), "{ch}");
    assert!(pending <= max_in_flight as u64, "{pending} outstanding to a subscriber with MaxInFlight {max_in_flight}");
    assert_eq!(subz["is_stalled"], serde_json::Value::Bool(true), "{subz}");
    // Publishers are not held up by the consumer (generous: the machine is shared).
    assert!(
        with_slow <= base * 4 + Duration::from_secs(5),
        "publishing took {with_slow:?} with a slow consumer, {base:?} without"
    );
    // Server memory: the stored messages (the baseline channel and this one)
    // plus a bounded overhead; nothing queued per message for the consumer.
    let stored_kib = (n * size / 1024) as u64;
    assert!(
        rss_after.saturating_sub(rss_before) <= 3 * stored_kib + 64 * 1024,
        "stan-server grew by {} KiB for {stored_kib} KiB stored",
        rss_after.saturating_sub(rss_before)
    );
    // Nothing lost: the consumer now reads and acks everything.
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(if long() { 600 } else { 120 });
    while seen.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(m)) => {
                m.ack().expect("ack");
                seen.insert(m.sequence());
            }
            _ => panic!("only {} of {n} messages reached the slow consumer", seen.len()),
        }
    }
    assert_eq!(seen.iter().next(), Some(&1));
    assert_eq!(seen.iter().next_back(), Some(&(n as u64)));
    within(10, consumer.close()).await.unwrap();
    within(10, publisher.close()).await.unwrap();
}

// ----------------------------------------------------------- many clients --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_register_publish_and_close() {
    let _serial = SERIAL.lock().await;
    let n = if long() { 2_000 } else { 200 };
    let http = free_port();
    let stan = Stan::start("many", &["-m", &http.to_string()]);
    let url = stan.url();
    let gate = Arc::new(tokio::sync::Semaphore::new(50));
    let t0 = Instant::now();
    let conns: Vec<Connection> = join_all((0..n).map(|i| {
        let (url, gate) = (url.clone(), gate.clone());
        async move {
            let _permit = gate.acquire().await.unwrap();
            let o = opts(&url).connect_timeout(Duration::from_secs(30)).reconnect(false);
            within(120, stan_client::connect("many", &format!("client-{i}"), o))
                .await
                .unwrap_or_else(|e| panic!("client-{i} did not connect: {e}"))
        }
    }))
    .await;
    let connect_time = t0.elapsed();
    let serverz = monitor(http, "/streaming/serverz");
    assert_eq!(serverz["clients"].as_u64(), Some(n as u64), "{serverz}");

    let t1 = Instant::now();
    let guids = join_all(conns.iter().enumerate().map(|(i, sc)| async move {
        within(120, sc.publish("many", format!("from client-{i}"))).await.unwrap_or_else(|e| panic!("client-{i}: {e}"))
    }))
    .await;
    let publish_time = t1.elapsed();
    assert_eq!(guids.iter().collect::<BTreeSet<_>>().len(), n);

    let t2 = Instant::now();
    join_all(conns.iter().map(|sc| {
        let gate = gate.clone();
        async move {
            let _permit = gate.acquire().await.unwrap();
            within(60, sc.close()).await.expect("close");
        }
    }))
    .await;
    let close_time = t2.elapsed();
    let serverz = monitor(http, "/streaming/serverz");
    let ch = monitor(http, "/streaming/channelsz?channel=many");
    eprintln!(
        "chaos figures: clients={n} connect={:.2}s publish={:.2}s close={:.2}s",
        connect_time.as_secs_f64(),
        publish_time.as_secs_f64(),
        close_time.as_secs_f64()
    );
    assert_eq!(serverz["clients"].as_u64(), Some(0), "{serverz}");
    assert_eq!(ch["msgs"].as_u64(), Some(n as u64), "{ch}");
    assert_eq!(stan.log().matches("[ERR]").count(), 0, "{}", stan.log());
}
