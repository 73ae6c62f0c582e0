//! Journal corruption against real processes: messages are published to a
//! file store, stan-server is stopped, one byte in the middle of the journal
//! is flipped, and the restarted server must still serve every other message,
//! report the lost one at error level, and keep a copy of the damaged file.

use futures::stream::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use stan_testkit::{StanEnv, StanImpl};
use std::time::Duration;

const CLUSTER: &str = "jc-test";
const N: u32 = 400;
const HIT: u32 = 200;

fn opts(env: &StanEnv) -> Options {
    Options::new().url(env.nats_url()).ack_timeout(Duration::from_secs(3)).connect_timeout(Duration::from_secs(3))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The body of a plain HTTP GET on 127.0.0.1.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("monitor port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_mid_journal_loses_only_that_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let http = free_port();
    let http_s = http.to_string();
    let mut env = StanEnv::start_with(StanImpl::Ours, CLUSTER, &["-st", "FILE", "--dir", d, "-m", &http_s]);
    let sc = within(10, stan_client::connect(CLUSTER, "jc-pub", opts(&env))).await.unwrap();
    for i in 1..=N {
        within(10, sc.publish("jc", format!("message-{i:05}"))).await.unwrap();
    }
    within(10, sc.close()).await.unwrap();
    tokio::task::block_in_place(|| env.stop_stan());

    // Flip one byte inside the data of message HIT (sequence HIT).
    let path = dir.path().join("journal.dat");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = format!("message-{HIT:05}");
    let at = bytes.windows(needle.len()).position(|w| w == needle.as_bytes()).expect("message in journal");
    assert!(at > bytes.len() / 4 && at < bytes.len() * 3 / 4, "the damage is mid-file");
    bytes[at + 3] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();

    tokio::task::block_in_place(|| env.start_stan());
    let reader = within(10, stan_client::connect(CLUSTER, "jc-reader", opts(&env))).await.unwrap();
    let mut sub =
        within(10, reader.subscribe("jc", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        assert_eq!(m.data_str(), format!("message-{:05}", m.sequence()));
        got.push(m.sequence());
        if got.len() as u32 == N {
            break;
        }
    }
    let want: Vec<u64> = (1..=u64::from(N)).filter(|&s| s != u64::from(HIT)).collect();
    assert_eq!(got, want, "every message but the damaged one survives");
    within(10, reader.close()).await.unwrap();

    let log = env.stan().log();
    let line = log.lines().find(|l| l.contains("[ERR]") && l.contains("is corrupt")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains(&format!("channel \"jc\" sequence {HIT}")), "{line}");
    assert!(line.contains("bytes skipped"), "{line}");
    // The monitoring endpoint tells the same (storez `recovery`).
    let storez = http_get(http, "/streaming/storez");
    assert!(storez.contains("\"recovery\""), "{storez}");
    assert!(storez.contains(&format!("channel \\\"jc\\\" sequence {HIT}")), "{storez}");
    let copies: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("journal.dat.corrupt-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(std::fs::read(dir.path().join(&copies[0])).unwrap(), bytes, "the damaged file is kept as it was");
}
