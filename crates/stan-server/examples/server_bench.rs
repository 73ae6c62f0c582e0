//! A lean load generator for measuring stan-server (or the original server):
//! STAN publishers and subscribers spoken raw over async-nats, so the
//! clients cost little and the server is what is measured.
//!
//! Run (servers already started):
//! `cargo run --release -p stan-server --example server_bench -- \
//!    [--url nats://127.0.0.1:4222] [--cluster test-cluster] [--pubs 1] \
//!    [--msgs 100000] [--size 128] [--window 16384] [--subs 0] [--channel bench]`
//!
//! `--msgs` is per publisher; each subscriber (started before publishing,
//! new messages only, acks every message) must receive all of them. Prints
//! the publish rate (all PubAcks received) and, with subscribers, the rate
//! at which the last subscriber got everything.

use bytes::Bytes;
use futures::StreamExt;
use prost::Message as _;
use stan_proto::{
    Ack, ConnectRequest, ConnectResponse, MsgProto, PubAck, PubMsg, SubscriptionRequest, SubscriptionResponse,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

struct Args {
    url: String,
    cluster: String,
    pubs: usize,
    msgs: usize,
    size: usize,
    window: usize,
    subs: usize,
    channel: String,
}

fn parse() -> Args {
    let mut a = Args {
        url: "nats://127.0.0.1:4222".into(),
        cluster: "test-cluster".into(),
        pubs: 1,
        msgs: 100_000,
        size: 128,
        window: 16_384,
        subs: 0,
        channel: "bench".into(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (k, v) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
        let num = || v.parse::<usize>().unwrap_or_else(|_| panic!("{k} wants a number, got {v:?}"));
        match k {
            "--url" => a.url = v.clone(),
            "--cluster" => a.cluster = v.clone(),
            "--pubs" => a.pubs = num(),
            "--msgs" => a.msgs = num(),
            "--size" => a.size = num(),
            "--window" => a.window = num(),
            "--subs" => a.subs = num(),
            "--channel" => a.channel = v.clone(),
            _ => panic!("unknown option {k}"),
        }
    }
    a
}

/// A raw STAN session: a NATS connection registered as client `id`.
async fn session(a: &Args, id: &str) -> (async_nats::Client, ConnectResponse, Bytes) {
    let nc = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 22)
        .connect(a.url.as_str())
        .await
        .expect("NATS connect");
    let conn_id = Bytes::from(stan_proto::nuid::next());
    let req = ConnectRequest {
        client_id: id.into(),
        heartbeat_inbox: nc.new_inbox(),
        protocol: 1,
        conn_id: conn_id.clone(),
        ping_interval: 5,
        ping_max_out: 88,
    };
    let r = nc.request(format!("_STAN.discover.{}", a.cluster), req.encode_to_vec().into()).await.expect("connect");
    let resp = ConnectResponse::decode(r.payload).expect("ConnectResponse");
    assert!(resp.error.is_empty(), "{}", resp.error);
    (nc, resp, conn_id)
}

async fn subscriber(a: Arc<Args>, i: usize, total: usize, ready: tokio::sync::mpsc::Sender<()>) -> Instant {
    let id = format!("bench-sub-{i}");
    let (nc, resp, _) = session(&a, &id).await;
    let inbox = nc.new_inbox();
    let mut msgs = nc.subscribe(inbox.clone()).await.unwrap();
    let req = SubscriptionRequest {
        client_id: id,
        subject: a.channel.clone(),
        inbox,
        max_in_flight: 16_384,
        ack_wait_in_secs: 30,
        ..Default::default()
    };
    let r = nc.request(resp.sub_requests.clone(), req.encode_to_vec().into()).await.expect("subscribe");
    let sr = SubscriptionResponse::decode(r.payload).expect("SubscriptionResponse");
    assert!(sr.error.is_empty(), "{}", sr.error);
    ready.send(()).await.unwrap();
    let mut got = 0;
    while got < total {
        let m = tokio::time::timeout(Duration::from_secs(60), msgs.next()).await.expect("stalled").unwrap();
        let m = MsgProto::decode(m.payload).expect("MsgProto");
        let ack = Ack { subject: m.subject, sequence: m.sequence };
        nc.publish(sr.ack_inbox.clone(), ack.encode_to_vec().into()).await.unwrap();
        got += 1;
    }
    Instant::now()
}

async fn publisher(a: Arc<Args>, i: usize) {
    let id = format!("bench-pub-{i}");
    let (nc, resp, conn_id) = session(&a, &id).await;
    let acks_inbox = nc.new_inbox();
    let mut acks = nc.subscribe(acks_inbox.clone()).await.unwrap();
    nc.flush().await.unwrap();
    let window = Arc::new(Semaphore::new(a.window));
    let w = window.clone();
    let n = a.msgs;
    let counter = tokio::spawn(async move {
        for _ in 0..n {
            let m = tokio::time::timeout(Duration::from_secs(60), acks.next()).await.expect("stalled").unwrap();
            let ack = PubAck::decode(m.payload).expect("PubAck");
            assert!(ack.error.is_empty(), "{}", ack.error);
            w.add_permits(1);
        }
    });
    let subject = format!("{}.{}", resp.pub_prefix, a.channel);
    let data = Bytes::from(vec![b'x'; a.size]);
    for k in 0..n {
        window.acquire().await.unwrap().forget();
        let pm = PubMsg {
            client_id: id.clone(),
            guid: format!("{i}-{k}"),
            subject: a.channel.clone(),
            data: data.clone(),
            conn_id: conn_id.clone(),
            ..Default::default()
        };
        nc.publish_with_reply(subject.clone(), acks_inbox.clone(), pm.encode_to_vec().into()).await.unwrap();
    }
    counter.await.unwrap();
}

#[tokio::main]
async fn main() {
    let a = Arc::new(parse());
    let total = a.pubs * a.msgs;
    let (tx, mut rx) = tokio::sync::mpsc::channel(a.subs.max(1));
    let subs: Vec<_> = (0..a.subs).map(|i| tokio::spawn(subscriber(a.clone(), i, total, tx.clone()))).collect();
    for _ in 0..a.subs {
        rx.recv().await.unwrap();
    }
    let t = Instant::now();
    let pubs: Vec<_> = (0..a.pubs).map(|i| tokio::spawn(publisher(a.clone(), i))).collect();
    for p in pubs {
        p.await.unwrap();
    }
    let pub_time = t.elapsed();
    let mut last = t;
    for s in subs {
        last = last.max(s.await.unwrap());
    }
    println!(
        "publish: {total} msgs x {} B, {} publisher(s), window {}: {:?}, {:.0} msgs/s",
        a.size,
        a.pubs,
        a.window,
        pub_time,
        total as f64 / pub_time.as_secs_f64()
    );
    if a.subs > 0 {
        let d = last - t;
        println!("publish+subscribe ({} subscriber(s)): {:?}, {:.0} msgs/s", a.subs, d, total as f64 / d.as_secs_f64());
    }
}
