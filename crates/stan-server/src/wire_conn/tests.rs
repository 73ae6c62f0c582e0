//! The data connection against a real nats-server on a free loopback port:
//! subscriptions, order, output, credentials, server PINGs, reconnection.

use super::*;
use stan_testkit::{binaries::nats_server, ports::free_port, ServerProcess};
use std::path::PathBuf;

struct Nats {
    proc: ServerProcess,
    port: u16,
}

impl Nats {
    fn start(args: &[&str]) -> Nats {
        let port = free_port();
        let mut a = vec!["-a".to_string(), "127.0.0.1".into(), "-p".into(), port.to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let proc = ServerProcess::start("wire-nats", &nats_server(), a);
        let n = Nats { proc, port };
        n.wait_listening();
        n
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start: {}", self.proc.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

type Got = (Kind, String, String, Vec<u8>);

/// The next message (pumping PINGs and the rest meanwhile).
async fn next(conn: &mut WireConn) -> Got {
    loop {
        conn.ready().await.expect("connection task alive");
        let mut got = None;
        conn.take_batch(1, |k, s, r, p| got = Some((k, s.to_string(), r.to_string(), p.to_vec())));
        if let Some(g) = got {
            return g;
        }
    }
}

async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

fn subs() -> Vec<(String, Kind)> {
    vec![("t.pub.>".into(), Kind::Publish), ("t.close".into(), Kind::Close), ("_INBOX.old".into(), Kind::Ack)]
}

async fn open(url: &str, security: &Security) -> WireConn {
    within(20, WireConn::connect(url, "wire-test", security, subs())).await.unwrap()
}

#[tokio::test]
async fn requests_arrive_in_order_with_their_kind_and_output_is_written() {
    let nats = Nats::start(&[]);
    let mut conn = open(&nats.url(), &Security::default()).await;
    let c = async_nats::connect(nats.url()).await.unwrap();
    let mut replies = c.subscribe("reply.>").await.unwrap();
    c.flush().await.unwrap();
    c.publish_with_reply("t.pub.a", "reply.1", "one".into()).await.unwrap();
    c.publish("_INBOX.old", "ack".into()).await.unwrap();
    c.publish("elsewhere", "not ours".into()).await.unwrap();
    c.publish_with_reply("t.close", "reply.2", vec![0u8; 70_000].into()).await.unwrap();
    c.flush().await.unwrap();
    let a = within(5, next(&mut conn)).await;
    assert_eq!(a, (Kind::Publish, "t.pub.a".into(), "reply.1".into(), b"one".to_vec()));
    let b = within(5, next(&mut conn)).await;
    assert_eq!((b.0, b.1.as_str(), b.2.as_str(), b.3.as_slice()), (Kind::Ack, "_INBOX.old", "", &b"ack"[..]));
    let d = within(5, next(&mut conn)).await;
    assert_eq!((d.0, d.1.as_str(), d.3.len()), (Kind::Close, "t.close", 70_000));
    // Output: one buffer holding two PUBs, delivered in order.
    let mut wire = Vec::new();
    nats_wire::ClientOp::Pub { subject: "reply.1", reply: None, payload: b"first" }.encode(&mut wire).unwrap();
    nats_wire::ClientOp::Pub { subject: "reply.2", reply: Some("r"), payload: b"second" }.encode(&mut wire).unwrap();
    conn.queue(wire).unwrap();
    use futures::StreamExt;
    let m1 = within(5, replies.next()).await.unwrap();
    let m2 = within(5, replies.next()).await.unwrap();
    assert_eq!((m1.subject.as_str(), &m1.payload[..]), ("reply.1", &b"first"[..]));
    assert_eq!((m2.subject.as_str(), m2.reply.as_deref(), &m2.payload[..]), ("reply.2", Some("r"), &b"second"[..]));
    within(5, conn.drain(Duration::from_secs(2))).await;
    assert_eq!(conn.shared.out_queued.load(Ordering::Relaxed), 0);
    assert_eq!(conn.backlog(), 0);
}

#[tokio::test]
async fn credentials_user_token_and_nkey() {
    let nats = Nats::start(&["--user", "u", "--pass", "p"]);
    let url = nats.url();
    let Err(e) = WireConn::connect(&url, "wire-test", &Security::default(), subs()).await else {
        panic!("connected without credentials")
    };
    assert_eq!(e, format!("cannot connect to NATS at {url}: Authorization Violation"));
    let ok = Security { user: Some(("u".into(), "p".into())), ..Security::default() };
    open(&url, &ok).await;
    let in_url = format!("nats://u:p@127.0.0.1:{}", nats.port);
    open(&in_url, &Security::default()).await;

    let nats = Nats::start(&["--auth", "tok"]);
    let bad = Security { token: Some("other".into()), ..Security::default() };
    assert!(WireConn::connect(&nats.url(), "w", &bad, subs())
        .await
        .is_err_and(|e| e.contains("Authorization Violation")));
    open(&nats.url(), &Security { token: Some("tok".into()), ..Security::default() }).await;

    let dir = tempfile::tempdir().unwrap();
    let kp = nkeys::KeyPair::new_user();
    let seed = dir.path().join("seed.nk");
    std::fs::write(&seed, kp.seed().unwrap()).unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(&conf, format!("authorization {{ users = [ {{ nkey: {} }} ] }}\n", kp.public_key())).unwrap();
    let nats = Nats::start(&["-c", conf.to_str().unwrap()]);
    let with_seed = |p: PathBuf| Security { nkey_seed_file: Some(p), ..Security::default() };
    open(&nats.url(), &with_seed(seed.clone())).await;
    let other = dir.path().join("other.nk");
    std::fs::write(&other, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    let e =
        WireConn::connect(&nats.url(), "w", &with_seed(other), subs()).await.err().expect("a foreign key is refused");
    assert!(e.ends_with(": Authorization Violation"), "{e}");
}

#[tokio::test]
async fn server_pings_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ping.conf");
    std::fs::write(&conf, "ping_interval: \"100ms\"\nping_max: 1\n").unwrap();
    let nats = Nats::start(&["-c", conf.to_str().unwrap()]);
    let mut conn = open(&nats.url(), &Security::default()).await;
    // Several server PINGs go by while we wait (and answer them).
    assert!(tokio::time::timeout(Duration::from_millis(1500), next(&mut conn)).await.is_err());
    let c = async_nats::connect(nats.url()).await.unwrap();
    c.publish("t.pub.x", "still here".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(within(5, next(&mut conn)).await.3, b"still here");
    assert_eq!(conn.shared.generation.load(Ordering::Relaxed), 1, "the server dropped us as stale");
}

#[tokio::test]
async fn a_dead_server_in_the_list_is_skipped() {
    let nats = Nats::start(&[]);
    let dead = free_port();
    let mut conn = open(&format!("nats://127.0.0.1:{dead},{}", nats.url()), &Security::default()).await;
    let c = async_nats::connect(nats.url()).await.unwrap();
    c.publish("t.pub.y", "y".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(within(5, next(&mut conn)).await.1, "t.pub.y");
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_the_server_restarts() {
    let mut nats = Nats::start(&[]);
    let mut conn = open(&nats.url(), &Security::default()).await;
    nats.proc.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    nats.proc.restart();
    nats.wait_listening();
    let c = async_nats::connect(nats.url()).await.unwrap();
    let mut out = c.subscribe("out.late").await.unwrap();
    c.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        c.publish("t.pub.after", "after".into()).await.unwrap();
        c.flush().await.unwrap();
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(300), next(&mut conn)).await {
            assert_eq!((m.0, m.1.as_str()), (Kind::Publish, "t.pub.after"));
            break;
        }
        assert!(Instant::now() < deadline, "no message after the restart");
    }
    assert_eq!(conn.shared.generation.load(Ordering::Relaxed), 2);
    // Output goes to the new connection.
    let mut wire = Vec::new();
    nats_wire::ClientOp::Pub { subject: "out.late", reply: None, payload: b"queued" }.encode(&mut wire).unwrap();
    conn.queue(wire).unwrap();
    use futures::StreamExt;
    assert_eq!(&within(5, out.next()).await.unwrap().payload[..], b"queued");
}
