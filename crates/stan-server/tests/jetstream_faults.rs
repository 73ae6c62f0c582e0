//! Fault tests of the JetStream store on real nats-server clusters
//! (stan-testkit's `JsCluster`, loopback ports, processes stopped by PID):
//! the JetStream cluster losing quorum (two of three nodes killed while a
//! client publishes), a network partition with the active stan-server on
//! the minority side (route proxies cut), and a STAN client in a second
//! cluster joined by gateways (the gateway node it goes through killed,
//! then the whole gateway link cut). Each test logs every publish attempt
//! (sent, answered, acked or not), prints what it counted, and checks that
//! every acked message is stored once, in STAN sequence order, and
//! delivered to a durable subscriber. Design and results: docs/jetstream.md.

mod support;

use async_nats::jetstream;
use futures::StreamExt;
use stan_client::{Connection, Options, Subscription, SubscriptionOptions};
use stan_testkit::{ports::free_port, Gateway, JsCluster, JsSetup, ServerProcess, TcpProxy};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::within;

/// One cluster at a time: the machine is small.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start stan-server (`--js_replicas 3 --js_lease 3s`); wait (bounded) until `ready` is in its log.
fn stan(cid: &str, urls: &str, ready: &str) -> ServerProcess {
    let args: Vec<String> =
        ["-cid", cid, "-ns", urls, "--store", "jetstream", "--js_replicas", "3", "--js_lease", "3s", "-SD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let mut p = ServerProcess::start("stan-js", std::path::Path::new(support::bin()), args);
    p.wait_for_log(ready, 1, Duration::from_secs(60));
    p
}

/// Client options: reconnecting, 4 s ack timeout. The STAN session must
/// outlive a takeover (lease time + JetStream elections, 5-20 s here), so
/// the client gives up only after 20 unanswered pings 3 s apart.
fn client_opts(urls: &str) -> Options {
    support::reconnecting_options(urls).ping_interval(Duration::from_secs(3)).ping_max_out(20)
}

/// Connect, retrying (bounded): through a gateway, interest may still be propagating.
async fn connect(cid: &str, client: &str, urls: &str) -> Connection {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stan_client::connect(cid, client, client_opts(urls))).await
        {
            Ok(Ok(c)) => return c,
            other => {
                assert!(Instant::now() < deadline, "{client} cannot connect to {cid}: {other:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn durable() -> SubscriptionOptions {
    SubscriptionOptions::default()
        .durable_name("dur")
        .deliver_all_available()
        .manual_ack_mode(true)
        .ack_wait(Duration::from_secs(3))
}

/// One publish attempt.
#[derive(Clone, Debug)]
struct Attempt {
    msg: String,
    sent: Instant,
    done: Instant,
    acked: bool,
    error: String,
}

/// Every attempt of one publisher, in order.
#[derive(Clone, Default)]
struct Attempts(Arc<Mutex<Vec<Attempt>>>);

impl Attempts {
    fn all(&self) -> Vec<Attempt> {
        self.0.lock().unwrap().clone()
    }
    /// Acked messages, in publish order.
    fn acked(&self) -> Vec<String> {
        self.all().into_iter().filter(|a| a.acked).map(|a| a.msg).collect()
    }
    /// Attempts that were not acked (each may still be stored: a retry's duplicate).
    fn unacked(&self) -> usize {
        self.all().iter().filter(|a| !a.acked).count()
    }
    /// Attempts sent at or after `t` that were acked.
    fn acked_sent_after(&self, t: Instant) -> usize {
        self.all().iter().filter(|a| a.acked && a.sent >= t).count()
    }
    fn last_error(&self) -> String {
        self.all().iter().rev().find(|a| !a.acked).map(|a| a.error.clone()).unwrap_or_default()
    }
}

/// Publish `prefix-0`, `prefix-1`, ... to `channel` one at a time, each
/// retried until acknowledged (a retry is a new publish: new GUID), until
/// `stop`; every attempt is logged.
fn spawn_publisher(
    sc: Connection,
    channel: &'static str,
    prefix: &'static str,
    stop: Arc<AtomicBool>,
) -> (Attempts, tokio::task::JoinHandle<()>) {
    let log = Attempts::default();
    let l = log.clone();
    let h = tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::SeqCst) {
            let msg = format!("{prefix}-{i}");
            loop {
                let sent = Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(6), sc.publish(channel, msg.clone())).await;
                let (acked, error) = match r {
                    Ok(Ok(_)) => (true, String::new()),
                    Ok(Err(e)) => (false, e.to_string()),
                    Err(_) => (false, "no answer within 6 s".to_string()),
                };
                l.0.lock().unwrap().push(Attempt { msg: msg.clone(), sent, done: Instant::now(), acked, error });
                if acked || stop.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            i += 1;
        }
    });
    (log, h)
}

/// Publish `prefix-0..n` at once (each `publish_async`, not retried) in a
/// background task; each attempt is logged when its ack or error arrives.
fn spawn_burst(
    sc: Connection,
    channel: &'static str,
    prefix: &'static str,
    n: usize,
) -> (Attempts, tokio::task::JoinHandle<()>) {
    let log = Attempts::default();
    let l = log.clone();
    let h = tokio::spawn(async move {
        let mut pending = Vec::new();
        for i in 0..n {
            let msg = format!("{prefix}-{i}");
            let sent = Instant::now();
            match sc.publish_async(channel, msg.clone()).await {
                Ok(f) => pending.push((msg, sent, f)),
                Err(e) => l.0.lock().unwrap().push(Attempt {
                    msg,
                    sent,
                    done: Instant::now(),
                    acked: false,
                    error: e.to_string(),
                }),
            }
        }
        for (msg, sent, f) in pending {
            let r = tokio::time::timeout(Duration::from_secs(6), f).await;
            let (acked, error) = match r {
                Ok(Ok(_)) => (true, String::new()),
                Ok(Err(e)) => (false, e.to_string()),
                Err(_) => (false, "no answer within 6 s".to_string()),
            };
            l.0.lock().unwrap().push(Attempt { msg, sent, done: Instant::now(), acked, error });
        }
    });
    (log, h)
}

/// What a subscriber received: payload → times.
type Received = Arc<Mutex<BTreeMap<String, u32>>>;

/// Receive (and ack) on `sub` until `stop`; payload → times received.
fn spawn_receiver(mut sub: Subscription, stop: Arc<AtomicBool>) -> (Received, tokio::task::JoinHandle<Subscription>) {
    let got = Arc::new(Mutex::new(BTreeMap::new()));
    let g = got.clone();
    let h = tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
                let _ = m.ack();
                *g.lock().unwrap().entry(m.data_str().to_string()).or_insert(0) += 1;
            }
        }
        sub
    });
    (got, h)
}

/// Wait (bounded) until `n` attempts sent at or after `t` were acked; on
/// timeout panic with the publisher's last error and `server`'s log.
async fn wait_acked(log: &Attempts, t: Instant, n: usize, secs: u64, server: &ServerProcess) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while log.acked_sent_after(t) < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} publishes acked within {secs}s (last error: {})\n{}",
            log.last_error(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stop a publisher and wait (bounded) for its current attempt to end.
async fn stop_publisher(stop: &AtomicBool, h: tokio::task::JoinHandle<()>) {
    stop.store(true, Ordering::SeqCst);
    within(20, h).await.unwrap();
}

/// Every stored message of `channel`, read by a new subscriber from the
/// start until nothing comes for 3 s: (STAN sequence, payload).
async fn stored(sc: &Connection, channel: &str) -> Vec<(u64, String)> {
    let mut all =
        within(20, sc.subscribe(channel, SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(3), all.next()).await {
        out.push((m.sequence(), m.data_str().to_string()));
        assert!(out.len() < 100_000, "runaway channel");
    }
    let _ = within(20, all.close()).await;
    out
}

/// Counts of one run, checked and printed.
struct Check<'a> {
    name: &'a str,
    stored: &'a [(u64, String)],
    /// Each publisher's attempts.
    publishers: Vec<&'a Attempts>,
    /// What the durable received: payload → times.
    delivered: &'a BTreeMap<String, u32>,
}

impl Check<'_> {
    /// Every acked message stored, in publish order; STAN sequences 1..n;
    /// stored duplicates only from retried publishes; every acked message
    /// delivered to the durable. Returns the printed summary.
    fn run(&self) -> String {
        let seqs: Vec<u64> = self.stored.iter().map(|(s, _)| *s).collect();
        let want: Vec<u64> = (1..=self.stored.len() as u64).collect();
        assert_eq!(seqs, want, "{}: stored STAN sequences are not 1..n", self.name);
        let mut first_pos: BTreeMap<&str, usize> = BTreeMap::new();
        let mut times: BTreeMap<&str, u32> = BTreeMap::new();
        for (i, (_, p)) in self.stored.iter().enumerate() {
            first_pos.entry(p.as_str()).or_insert(i);
            *times.entry(p.as_str()).or_insert(0) += 1;
        }
        let attempted: std::collections::BTreeSet<String> =
            self.publishers.iter().flat_map(|l| l.all().into_iter().map(|a| a.msg)).collect();
        let phantom: Vec<_> = times.keys().filter(|p| !attempted.contains(**p)).collect();
        assert!(phantom.is_empty(), "{}: stored but never published: {phantom:?}", self.name);
        let (mut acked, mut retries) = (0, 0);
        for l in &self.publishers {
            let a = l.acked();
            acked += a.len();
            retries += l.unacked();
            let missing: Vec<_> = a.iter().filter(|m| !first_pos.contains_key(m.as_str())).collect();
            assert!(missing.is_empty(), "{}: acked but not stored: {missing:?}", self.name);
            let pos: Vec<usize> = a.iter().map(|m| first_pos[m.as_str()]).collect();
            assert!(pos.windows(2).all(|w| w[0] < w[1]), "{}: acked messages stored out of order: {a:?}", self.name);
            let undelivered: Vec<_> = a.iter().filter(|m| !self.delivered.contains_key(m.as_str())).collect();
            assert!(undelivered.is_empty(), "{}: acked but not delivered to the durable: {undelivered:?}", self.name);
        }
        let dups: usize = times.values().map(|n| *n as usize - 1).sum();
        assert!(dups <= retries, "{}: {dups} stored duplicates for {retries} unacked attempts", self.name);
        let delivered: u32 = self.delivered.values().sum();
        let redelivered = delivered as usize - self.delivered.len();
        let s = format!(
            "{}: acked {acked}, unacked attempts {retries}, stored {} ({} distinct, {dups} duplicates), \
             durable received {delivered} ({} distinct, {redelivered} redeliveries)",
            self.name,
            self.stored.len(),
            times.len(),
            self.delivered.len()
        );
        eprintln!("{s}");
        s
    }
}

/// Wait (bounded) for every acked message to reach the durable.
async fn wait_delivered(got: &Mutex<BTreeMap<String, u32>>, acked: &[String], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if acked.iter().all(|m| got.lock().unwrap().contains_key(m)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The number of messages in the channel's stream (JetStream's own count).
async fn stream_messages(url: &str, cid: &str, channel: &str) -> u64 {
    let ctx = jetstream::new(async_nats::connect(url).await.unwrap());
    support::channel_stream_info(&ctx, cid, channel).await.state.messages
}

fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_loss_sends_no_puback_and_loses_nothing_acked() {
    let _g = SERIAL.lock().await;
    let t0 = Instant::now();
    let mut js = JsCluster::start(3);
    // stan-server and the client stay on node 0, which survives: this test is
    // about quorum, not about reconnecting.
    let url0 = js.url(0);
    let mut s = stan("js-quorum", &url0, "Streaming Server is ready");
    let sc = connect("js-quorum", "c1", &url0).await;
    let sub = within(20, sc.subscribe("q", durable())).await.unwrap();
    let stop_rx = Arc::new(AtomicBool::new(false));
    let (got, rx) = spawn_receiver(sub, stop_rx.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let (log, publisher) = spawn_publisher(sc.clone(), "q", "m", stop.clone());
    wait_acked(&log, t0, 20, 30, &s).await;

    // kill -9 two of the three nodes: no quorum for any stream.
    blocking(|| {
        js.nodes[1].process.stop();
        js.nodes[2].process.stop();
    });
    let lost = Instant::now();
    // Besides the publisher's retries, 20 publishes at once.
    let (burst, burst_task) = spawn_burst(sc.clone(), "q", "b", 20);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let restore = Instant::now();
    blocking(|| {
        js.respawn(1);
        js.respawn(2);
        js.wait_healthy(1);
        js.wait_healthy(2);
    });
    let healthy = restore.elapsed();

    // Service resumes: the same active re-acquires its lease, or (outage
    // longer than its 30 s of retries) it has exited loudly and a restart
    // on the same cluster takes over.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut restarted = false;
    while log.acked_sent_after(restore) < 20 {
        if !restarted && s.has_exited() {
            let l = s.log();
            assert!(l.contains("store commit failed"), "stan-server exited without the documented error:\n{l}");
            s.restart();
            restarted = true;
        }
        assert!(
            Instant::now() < deadline,
            "no service 60 s after quorum came back (last error: {})\n{}",
            log.last_error(),
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed = log.all().into_iter().find(|a| a.acked && a.sent >= lost).map(|a| a.done - lost);
    stop_publisher(&stop, publisher).await;
    wait_delivered(&got, &log.acked(), 20).await;
    stop_rx.store(true, Ordering::SeqCst);
    let _sub = within(10, rx).await.unwrap();

    // No PubAck for a publish sent while quorum was gone, before it came back.
    within(20, burst_task).await.unwrap();
    let window: Vec<Attempt> =
        log.all().into_iter().chain(burst.all()).filter(|a| a.sent >= lost && a.sent < restore).collect();
    let sent_in_window = window.len();
    let acked_in_window = window.iter().filter(|a| a.acked && a.done < restore).count();
    let inflight_acked = log.all().iter().filter(|a| a.acked && a.sent < lost && a.done >= lost).count();
    assert!(sent_in_window >= 21, "fewer publishes than meant while quorum was gone: {window:?}");
    assert_eq!(acked_in_window, 0, "PubAcks without quorum: {window:?}");

    let stored_msgs = stored(&sc, "q").await;
    let delivered = got.lock().unwrap().clone();
    let summary =
        Check { name: "quorum loss", stored: &stored_msgs, publishers: vec![&log, &burst], delivered: &delivered }
            .run();
    assert_eq!(stream_messages(&url0, "js-quorum", "q").await, stored_msgs.len() as u64);
    eprintln!(
        "quorum loss: {sent_in_window} attempts sent during the 8 s without quorum, {acked_in_window} acked before \
         it came back; {inflight_acked} sent before the kill acked after it; nodes healthy {healthy:?} after restart; \
         first PubAck for a publish sent after the kill {resumed:?} after it; the active {}; total {:?}\n{summary}",
        if restarted {
            "exited (store commit failed) and was restarted"
        } else if s.log().contains("late renewal of ours") {
            "kept running (its renewal sent without quorum was applied when quorum came back)"
        } else if s.log().contains("re-acquired") {
            "kept running (re-acquired its expired lease)"
        } else {
            "kept running"
        },
        t0.elapsed()
    );
    if !restarted {
        within(20, sc.close()).await.expect("the client kept its session");
    }
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_with_the_active_on_the_minority_side_fails_over_to_the_majority() {
    partition(Partition::Cut).await;
}

/// The same partition, silent: node 2's routes stay open but carry nothing
/// (every byte held, delivered late on the heal, as TCP retransmits after
/// dropped packets); only missing answers tell the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_partition_with_the_active_on_the_minority_side_fails_over_to_the_majority() {
    partition(Partition::Silent).await;
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Partition {
    /// Connections closed, new ones refused.
    Cut,
    /// Connections open, bytes held.
    Silent,
}

async fn partition(kind: Partition) {
    let _g = SERIAL.lock().await;
    let t0 = Instant::now();
    let mut js = JsCluster::start_with(3, JsSetup { proxied_routes: true, ..Default::default() });
    // Node 2 will be cut off: the active stan-server and one client are on it;
    // the standby and the other client are on the majority side.
    let mut a = stan("js-part", &js.url(2), "Streaming Server is ready");
    let mut b = stan("js-part", &js.url(0), "Standby");
    let cmaj = connect("js-part", "maj", &format!("{},{}", js.url(0), js.url(1))).await;
    let cmin = connect("js-part", "min", &js.url(2)).await;
    let sub = within(20, cmaj.subscribe("part", durable())).await.unwrap();
    let stop_rx = Arc::new(AtomicBool::new(false));
    let (got, rx) = spawn_receiver(sub, stop_rx.clone());
    let stop_maj = Arc::new(AtomicBool::new(false));
    let (maj, maj_pub) = spawn_publisher(cmaj.clone(), "part", "maj", stop_maj.clone());
    wait_acked(&maj, t0, 10, 30, &a).await;

    let cut = Instant::now();
    if kind == Partition::Cut {
        blocking(|| js.isolate(2));
        // The routes are down: node 2 sees nobody, nodes 0 and 1 only each other.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !(js.routed_to(2).is_empty() && js.routed_to(0) == ["n1"] && js.routed_to(1) == ["n0"]) {
            let routes: Vec<_> = (0..3).map(|i| js.routed_to(i)).collect();
            assert!(Instant::now() < deadline, "no partition: {routes:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        blocking(|| js.isolate_silently(2));
        // Silent: node 2 still believes in its routes.
        assert_eq!(js.routed_to(2).len(), 2, "node 2 noticed a silent partition at once");
    }
    // The minority client publishes: its active stan-server cannot commit.
    let stop_min = Arc::new(AtomicBool::new(false));
    let (min, min_pub) = spawn_publisher(cmin.clone(), "part", "min", stop_min.clone());

    // The standby on the majority side takes over, the majority client keeps its session.
    blocking(|| b.wait_for_log("Streaming Server is ready", 1, Duration::from_secs(60)));
    let takeover = cut.elapsed();
    let t_active = Instant::now();
    wait_acked(&maj, t_active, 10, 60, &b).await;
    let first_maj_ack = maj.all().into_iter().find(|a| a.acked && a.sent >= cut).map(|a| a.done - cut);
    // Keep the partition for at least 12 s: several lease times, and more
    // than one ack timeout of the minority client.
    if let Some(rest) = Duration::from_secs(12).checked_sub(cut.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let old_exited_before_heal = a.has_exited();
    let heal = Instant::now();
    blocking(|| js.heal());

    // The old active does not write: it exits (its renewal is refused, or its commit fails).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !a.has_exited() {
        assert!(Instant::now() < deadline, "the old active still runs 60 s after the heal:\n{}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old_log = a.log();
    let why = if old_log.contains("Lost the active lease") {
        "Lost the active lease"
    } else if old_log.contains("store commit failed") {
        "store commit failed"
    } else {
        panic!("the old active exited without the documented error:\n{old_log}")
    };
    // The minority client's publishes go through once healed.
    wait_acked(&min, cut, 3, 60, &b).await;
    wait_acked(&maj, heal, 5, 60, &b).await;
    stop_publisher(&stop_min, min_pub).await;
    stop_publisher(&stop_maj, maj_pub).await;
    let acked: Vec<String> = maj.acked().into_iter().chain(min.acked()).collect();
    wait_delivered(&got, &acked, 20).await;
    stop_rx.store(true, Ordering::SeqCst);
    let _sub = within(10, rx).await.unwrap();

    let min_before_heal: Vec<Attempt> = min.all().into_iter().filter(|a| a.sent < heal).collect();
    let min_sent = min_before_heal.len();
    let min_acked_partitioned = min_before_heal.iter().filter(|a| a.acked && a.done < heal).count();
    assert!(min_sent >= 1, "the minority client did not publish during the partition");
    assert_eq!(min_acked_partitioned, 0, "PubAcks on the minority side: {min_before_heal:?}");
    let min_acked_heal = min.all().into_iter().find(|a| a.acked).map(|a| a.done - heal);

    let name = if kind == Partition::Cut { "partition" } else { "silent partition" };
    let stored_msgs = stored(&cmaj, "part").await;
    let delivered = got.lock().unwrap().clone();
    let summary = Check { name, stored: &stored_msgs, publishers: vec![&maj, &min], delivered: &delivered }.run();
    assert_eq!(stream_messages(&js.url(0), "js-part", "part").await, stored_msgs.len() as u64);
    assert!(!b.has_exited(), "the new active stopped:\n{}", b.log());
    within(20, cmaj.close()).await.expect("the majority client kept its session");
    eprintln!(
        "{name}: standby active {takeover:?} after the cut (first majority PubAck {first_maj_ack:?}); \
         minority client: {min_sent} attempts during the partition, {min_acked_partitioned} acked, first ack \
         {min_acked_heal:?} after the heal; partition {:?}; old active exited ({why}; already before the heal: \
         {old_exited_before_heal}); total {:?}\n{summary}",
        heal - cut,
        t0.elapsed()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), cmin.close()).await;
    b.stop();
}

/// The port of node `i`'s outbound gateway connection to `remote` (`/gatewayz`).
fn outbound_gateway_port(js: &JsCluster, i: usize, remote: &str) -> Option<u64> {
    let body = js.monitor(i, "/gatewayz")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["outbound_gateways"][remote]["connection"]["port"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_in_another_cluster_works_through_gateways() {
    let _g = SERIAL.lock().await;
    let t0 = Instant::now();
    // Cluster A (3 JetStream nodes: STAN's streams and stan-server) and
    // cluster B (one node, no JetStream: the client), joined by gateways.
    // Every gateway connection goes through a proxy (each node advertises
    // its proxy), so the test can cut the whole link.
    let a_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let b_port = free_port();
    let a_proxies: Vec<TcpProxy> = a_ports.iter().map(|p| TcpProxy::start(*p)).collect();
    let b_proxy = TcpProxy::start(b_port);
    let url = |p: &TcpProxy| format!("nats://{}", p.addr());
    let mut ca = JsCluster::start_with(
        3,
        JsSetup {
            gateway: Some(Gateway {
                name: "A".into(),
                ports: a_ports.clone(),
                advertise: a_proxies.iter().map(|p| Some(p.addr())).collect(),
                remotes: vec![("B".into(), vec![url(&b_proxy)])],
            }),
            ..Default::default()
        },
    );
    let cb = JsCluster::start_with(
        1,
        JsSetup {
            jetstream: false,
            gateway: Some(Gateway {
                name: "B".into(),
                ports: vec![b_port],
                advertise: vec![Some(b_proxy.addr())],
                remotes: vec![("A".into(), vec![url(&a_proxies[0])])],
            }),
            ..Default::default()
        },
    );
    // The link is up both ways. B's outbound connection goes to one node of
    // A (its configured URL or one learnt by gossip): the gateway node.
    let deadline = Instant::now() + Duration::from_secs(30);
    let gw_node = loop {
        let via = outbound_gateway_port(&cb, 0, "A");
        let node = a_proxies.iter().position(|p| Some(p.port as u64) == via);
        if let (Some(n), true) = (node, (0..3).all(|i| outbound_gateway_port(&ca, i, "B").is_some())) {
            break n;
        }
        assert!(Instant::now() < deadline, "gateways not connected: {:?}", cb.monitor(0, "/gatewayz"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // stan-server on the two other nodes of A.
    let others: Vec<String> = (0..3).filter(|&i| i != gw_node).map(|i| ca.url(i)).collect();
    let mut s = stan("js-gw", &others.join(","), "Streaming Server is ready");
    let sc = connect("js-gw", "in-b", &cb.url(0)).await;
    let sub = within(20, sc.subscribe("gw", durable())).await.unwrap();
    let stop_rx = Arc::new(AtomicBool::new(false));
    let (got, rx) = spawn_receiver(sub, stop_rx.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let (log, publisher) = spawn_publisher(sc.clone(), "gw", "g", stop.clone());
    wait_acked(&log, t0, 10, 30, &s).await;

    // 1. kill -9 the node of A that B's gateway connection goes to: B
    //    reconnects to another node of A (gossiped gateway URLs).
    blocking(|| ca.kill(gw_node));
    let killed = Instant::now();
    wait_acked(&log, killed, 10, 60, &s).await;
    let gap_kill = log.all().into_iter().find(|a| a.acked && a.sent >= killed).map(|a| a.done - killed);
    let deadline = Instant::now() + Duration::from_secs(30);
    let via = loop {
        match outbound_gateway_port(&cb, 0, "A") {
            Some(p) if p != a_proxies[gw_node].port as u64 => break p,
            _ => {
                assert!(Instant::now() < deadline, "B did not reconnect to A: {:?}", cb.monitor(0, "/gatewayz"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let new_gw_node = a_proxies.iter().position(|p| p.port as u64 == via).expect("B's gateway goes to a node of A");
    blocking(|| ca.restart(gw_node));

    // 2. Cut the whole link (every gateway connection, both ways): no PubAck
    //    reaches B; healed, the client goes on with the same session.
    for p in a_proxies.iter().chain([&b_proxy]) {
        p.cut();
    }
    let cut = Instant::now();
    let (burst, burst_task) = spawn_burst(sc.clone(), "gw", "b", 20);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let heal = Instant::now();
    for p in a_proxies.iter().chain([&b_proxy]) {
        p.heal();
    }
    wait_acked(&log, heal, 10, 60, &s).await;
    let gap_heal = log.all().into_iter().find(|a| a.acked && a.sent >= heal).map(|a| a.done - heal);
    stop_publisher(&stop, publisher).await;
    wait_delivered(&got, &log.acked(), 20).await;
    stop_rx.store(true, Ordering::SeqCst);
    let _sub = within(10, rx).await.unwrap();

    within(20, burst_task).await.unwrap();
    let window: Vec<Attempt> =
        log.all().into_iter().chain(burst.all()).filter(|a| a.sent >= cut && a.sent < heal).collect();
    let acked_in_window = window.iter().filter(|a| a.acked && a.done < heal).count();
    assert!(window.len() >= 21, "fewer publishes than meant while the link was cut: {window:?}");
    assert_eq!(acked_in_window, 0, "PubAcks across a cut gateway link: {window:?}");
    let stored_msgs = stored(&sc, "gw").await;
    let delivered = got.lock().unwrap().clone();
    let summary =
        Check { name: "gateways", stored: &stored_msgs, publishers: vec![&log, &burst], delivered: &delivered }.run();
    assert_eq!(stream_messages(&ca.url(1), "js-gw", "gw").await, stored_msgs.len() as u64);
    within(20, sc.close()).await.expect("the client in B kept its session");
    assert!(!s.has_exited(), "{}", s.log());
    eprintln!(
        "gateways: gateway node n{gw_node} of A killed: first PubAck for a publish sent after it {gap_kill:?} (B \
         reconnected to n{new_gw_node}); whole link cut 8 s: {} attempts, {acked_in_window} acked; after the heal \
         first PubAck {gap_heal:?}; total {:?}\n{summary}",
        window.len(),
        t0.elapsed()
    );
    s.stop();
}
