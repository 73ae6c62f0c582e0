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

/// A raw STAN publisher on plain NATS, so a test can resend a PubMsg with the same GUID.
struct RawPublisher {
    nc: async_nats::Client,
    pub_prefix: String,
    client_id: String,
    conn_id: bytes::Bytes,
}

impl RawPublisher {
    async fn connect(url: &str, cid: &str, client_id: &str) -> RawPublisher {
        let nc = async_nats::connect(url).await.unwrap();
        let conn_id = bytes::Bytes::from(format!("{client_id}-conn"));
        let req = stan_proto::ConnectRequest {
            client_id: client_id.into(),
            heartbeat_inbox: format!("_INBOX.{client_id}.hb"),
            protocol: 1,
            conn_id: conn_id.clone(),
            ping_interval: 5,
            ping_max_out: 10,
        };
        let r = within(10, nc.request(format!("_STAN.discover.{cid}"), stan_proto::encode(&req).into())).await.unwrap();
        let resp: stan_proto::ConnectResponse = stan_proto::decode(&r.payload).unwrap();
        assert_eq!(resp.error, "");
        RawPublisher { nc, pub_prefix: resp.pub_prefix, client_id: client_id.into(), conn_id }
    }

    /// Publish `data` with `guid`; the PubAck's error text ("" when stored).
    async fn publish(&self, subject: &str, guid: &str, data: &str) -> String {
        let pm = stan_proto::encode_pub_msg(&self.client_id, guid, subject, data.as_bytes(), &self.conn_id);
        let r = within(20, self.nc.request(format!("{}.{subject}", self.pub_prefix), pm.into())).await.unwrap();
        let ack: stan_proto::PubAck = stan_proto::decode(&r.payload).unwrap();
        assert_eq!(ack.guid, guid);
        ack.error
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_retried_with_the_same_guid_is_stored_once_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--store", "jetstream", "--dir", dir.path().to_str().unwrap(), "--js_lease", "1s"];
    let s = Stan::start("js-dup", &args);
    let port = s.port;
    let p = RawPublisher::connect(&s.url(), "js-dup", "raw").await;
    assert_eq!(p.publish("dup", "G1", "one").await, "");
    assert_eq!(p.publish("dup", "G1", "one").await, "", "a retry is acknowledged");
    // A failover (kill -9, restart): the session survives and the GUID is still known.
    drop(p);
    drop(s);
    let s = start_on(port, "js-dup", &args);
    let p = RawPublisher::connect(&s.url(), "js-dup", "raw2").await;
    let old = RawPublisher { client_id: "raw".into(), conn_id: bytes::Bytes::from("raw-conn"), ..p };
    assert_eq!(old.publish("dup", "G1", "one").await, "", "a retry after the restart is acknowledged");
    assert_eq!(old.publish("dup", "G2", "two").await, "");
    assert_eq!(old.publish("dup", "G2", "two").await, "");

    // Stored once each: the stream, and a STAN subscriber from the start.
    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let mut stream = ctx.get_stream("STAN_js-dup_dup").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
    let m = stream.get_raw_message(1).await.unwrap();
    assert_eq!(m.headers.get("Stan-Guid").map(|v| v.as_str()), Some("G1"));
    let sc = within(20, stan_client::connect("js-dup", "reader", opts(&s.url()))).await.unwrap();
    let mut sub =
        within(20, sc.subscribe("dup", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        got.push((m.sequence(), m.data_str().to_string()));
    }
    assert_eq!(got, vec![(1, "one".to_string()), (2, "two".to_string())]);
    within(20, sc.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_refused_by_jetstream_stops_the_server_at_once_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stan::start("js-refuse", &["--store", "jetstream", "--dir", dir.path().to_str().unwrap()]);
    // Another stream already owns the channels' subjects: JetStream refuses ours (subjects overlap).
    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    ctx.create_stream(jetstream::stream::Config {
        name: "SQUATTER".into(),
        subjects: vec!["_STAN_CH.js-refuse.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let sc = within(20, stan_client::connect("js-refuse", "c1", opts(&s.url()))).await.unwrap();
    let t0 = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), sc.publish("orders", "m")).await;
    assert!(!matches!(r, Ok(Ok(_))), "published although the stream was refused: {r:?}");
    let code = s.wait_exit(Duration::from_secs(15));
    let took = t0.elapsed();
    let log = s.log();
    assert!(code.is_some_and(|c| c != 0), "still running or exit 0 ({code:?}):\n{log}");
    assert!(log.contains("JetStream refused to create the stream STAN_js-refuse_orders"), "{log}");
    assert!(log.contains("overlap"), "{log}");
    // Quick: well under the 30 s of retries of a transient failure.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    eprintln!("refused stream: server stopped {took:?} after the publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_reserve_no_jetstream_storage_and_max_bytes_is_still_enforced() {
    // A nats-server with 2 GB of JetStream storage: a stream with STAN's
    // default max_bytes (1 GB) would reserve half of it, so only one or two
    // channels could exist; the channels' streams must reserve nothing.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(&conf, "jetstream { max_file_store: 2GB }\n").unwrap();
    let (d, c) = (dir.path().join("store"), conf.to_str().unwrap().to_string());
    let d = d.to_str().unwrap();
    let s = Stan::start("js-res", &["--store", "jetstream", "--dir", d, "-c", &c, "-mb", "2KB"]);
    let sc = within(20, stan_client::connect("js-res", "c1", opts(&s.url()))).await.unwrap();
    for ch in 0..6 {
        within(20, sc.publish(&format!("ch{ch}"), "x")).await.unwrap_or_else(|e| panic!("ch{ch}: {e}\n{}", s.log()));
    }
    // -mb 2KB on one channel: 40 messages of 100 bytes keep only the newest ones.
    for i in 0..40 {
        within(20, sc.publish("big", vec![b'a' + (i % 26) as u8; 100])).await.unwrap();
    }
    let mut sub =
        within(20, sc.subscribe("big", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let first = within(10, sub.next()).await.expect("message");
    assert!(first.sequence() > 20, "-mb 2KB kept sequence {} of 40", first.sequence());
    within(20, sc.close()).await.unwrap();
    // The same in JetStream: the stream was purged below the first kept sequence.
    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let mut stream = ctx.get_stream("STAN_js-res_big").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_bytes, -1, "the channel's stream reserves storage");
    assert_eq!(info.state.first_sequence, first.sequence(), "stream not purged like the channel");
}

/// The consumer of a durable, once its ack floor reached `floor` (bounded wait).
async fn consumer_at(
    stream: &jetstream::stream::Stream,
    name: &str,
    floor: u64,
    log: impl Fn() -> String,
) -> jetstream::consumer::Info {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(info) = stream.consumer_info(name).await {
            if info.ack_floor.stream_sequence >= floor {
                return info;
            }
        }
        assert!(std::time::Instant::now() < deadline, "consumer {name} not at {floor} within 20 s:\n{}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A durable STAN subscription is a JetStream consumer: created with its
/// settings, acknowledged as far as the STAN durable acknowledged in order,
/// kept across a kill -9, deleted with an unsubscribe; a JetStream client
/// bound to it continues where the STAN durable stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_is_a_jetstream_consumer_that_a_jetstream_client_can_continue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = ["--store", "jetstream", "--dir", d, "--js_lease", "1s"];
    let s = Stan::start("js-cons", &args);
    let port = s.port;
    let sc = within(20, stan_client::connect("js-cons", "svc", opts(&s.url()))).await.unwrap();
    for i in 1..=10 {
        within(20, sc.publish("orders", format!("m{i}"))).await.unwrap();
    }
    let so = SubscriptionOptions::default()
        .durable_name("billing")
        .deliver_all_available()
        .manual_ack_mode(true)
        .max_in_flight(20)
        .ack_wait(Duration::from_secs(7));
    let mut sub = within(20, sc.subscribe("orders", so)).await.unwrap();
    // Acknowledge 1..=6 and 8: the durable's floor is 6 (7 is still pending).
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(within(10, sub.next()).await.expect("message"));
    }
    for m in &got {
        if m.sequence() <= 6 || m.sequence() == 8 {
            m.ack().unwrap();
        }
    }
    // A second durable, to be unsubscribed; and a plain subscription (no consumer).
    let gone = within(20, sc.subscribe("orders", SubscriptionOptions::default().durable_name("gone"))).await.unwrap();
    let _plain = within(20, sc.subscribe("orders", SubscriptionOptions::default())).await.unwrap();
    let workers = SubscriptionOptions::default().durable_name("workers").queue_group("q");
    let _queue = within(20, sc.subscribe("orders", workers)).await.unwrap();

    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let stream = ctx.get_stream("STAN_js-cons_orders").await.unwrap();
    let info = consumer_at(&stream, "STAN_D_svc_billing", 6, || s.log()).await;
    assert_eq!(info.ack_floor.stream_sequence, 6, "8 is acked but 7 is not: the floor stays at 6");
    assert_eq!(info.config.ack_policy, jetstream::consumer::AckPolicy::All);
    assert_eq!(info.config.ack_wait, Duration::from_secs(7));
    assert_eq!(info.config.max_ack_pending, 20);
    consumer_at(&stream, "STAN_D_svc_gone", 10, || s.log()).await;
    within(20, gone.unsubscribe()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stream.consumer_info("STAN_D_svc_gone").await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "unsubscribed durable's consumer still there:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut names: Vec<String> =
        stream.consumer_names().map(|n| n.unwrap()).collect::<Vec<_>>().await.into_iter().collect();
    names.sort();
    assert_eq!(names, ["STAN_D_svc_billing", "STAN_Q_workers_q"], "only the live durables have a consumer");
    let q = stream.consumer_info("STAN_Q_workers_q").await.unwrap();
    assert_eq!(
        q.config.description.as_deref(),
        Some("STAN durable queue group \"q\" (durable \"workers\") on channel \"orders\", kept in step by stan-server")
    );
    // The service stops (its durable stays) and the server is killed: the consumer stays where it was.
    within(20, sub.close()).await.unwrap();
    within(20, sc.close()).await.unwrap();
    drop(s);
    let s = start_on(port, "js-cons", &args);
    let ctx = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let stream = ctx.get_stream("STAN_js-cons_orders").await.unwrap();
    let info = consumer_at(&stream, "STAN_D_svc_billing", 6, || s.log()).await;
    assert_eq!(info.ack_floor.stream_sequence, 6);

    // The service moves to JetStream: bound to the consumer, it continues
    // with 7 (unacknowledged) and everything after the floor.
    let c: jetstream::consumer::PullConsumer = stream.get_consumer("STAN_D_svc_billing").await.unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(7..=10).all(|q| seen.contains(&q)) {
        assert!(std::time::Instant::now() < deadline, "the JetStream client saw {seen:?}:\n{}", s.log());
        let mut batch = c.fetch().max_messages(10).expires(Duration::from_secs(1)).messages().await.unwrap();
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            let seq = m.info().unwrap().stream_sequence;
            assert!(seq > 6, "the JetStream client got {seq}, below the durable's floor");
            assert_eq!(m.payload, format!("m{seq}").as_bytes());
            seen.push(seq);
            m.ack().await.unwrap();
        }
    }
}
