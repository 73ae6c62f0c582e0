//! Shared helpers of the security and clustering tests: start the real
//! `stan-server` binary (with its real nats-server child) on free loopback
//! ports, wait until it is ready, keep its log, kill it by PID on drop; and a
//! STAN round trip through `stan-client`.
#![allow(dead_code)]

use futures::StreamExt;
use stan_client::{Options, SubscriptionOptions};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_stan-server")
}

/// Client options for tests that move between servers: the NATS URLs
/// `urls` (comma-separated), reconnecting forever 100 ms apart, 5 s STAN
/// connect timeout, 3 s NATS connect timeout, 4 s ack timeout.
pub fn reconnecting_options(urls: &str) -> Options {
    Options::new()
        .servers(urls.split(','))
        .connect_timeout(Duration::from_secs(5))
        .nats_connect_timeout(Duration::from_secs(3))
        .ack_timeout(Duration::from_secs(4))
        .reconnect(true)
        .max_reconnect_attempts(None)
        .reconnect_time_wait(Duration::from_millis(100))
}

pub fn free_port() -> u16 {
    stan_testkit::ports::free_port()
}

/// A running stan-server; killed (with its child) when dropped.
pub struct Stan {
    child: Child,
    pub port: u16,
    pub nats_pid: u32,
    log: Arc<Mutex<String>>,
}

impl Stan {
    /// Start with `-a 127.0.0.1 -p <free> -cid <cid>` and `extra`; panics
    /// (with the log) if it is not ready within 20 s.
    pub fn start(cid: &str, extra: &[&str]) -> Stan {
        Self::try_start(cid, extra).unwrap_or_else(|log| panic!("stan-server did not start:\n{log}"))
    }

    /// Like [`Stan::start`], but returns the log if the server exits or is not ready.
    pub fn try_start(cid: &str, extra: &[&str]) -> Result<Stan, String> {
        let port = free_port();
        Self::start_on(port, cid, extra)
    }

    pub fn start_on(port: u16, cid: &str, extra: &[&str]) -> Result<Stan, String> {
        let p = port.to_string();
        let mut child = Command::new(bin())
            .args(["-a", "127.0.0.1", "-p", &p, "-cid", cid])
            .args(extra)
            .env("NATS_SERVER_BIN", stan_testkit::binaries::nats_server())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start stan-server");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut me = Stan { child, port, nats_pid: 0, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(rest) = line.split("Started nats-server (pid ").nth(1) {
                        me.nats_pid = rest.split(')').next().unwrap().parse().unwrap();
                    }
                    if line.contains("Streaming Server is ready") {
                        return Ok(me);
                    }
                }
                Err(_) => {
                    // Exited (stderr closed) or timed out.
                    std::thread::sleep(Duration::from_millis(100));
                    return Err(me.log());
                }
            }
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait (bounded) for the process to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Stan {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

/// Options with short timeouts for tests.
pub fn opts(url: &str) -> Options {
    Options::new()
        .url(url)
        .connect_timeout(Duration::from_secs(3))
        .nats_connect_timeout(Duration::from_secs(3))
        .ack_timeout(Duration::from_secs(5))
        .reconnect(false)
}

/// Connect, subscribe, publish one message and receive it back; close.
pub async fn round_trip(cid: &str, client_id: &str, o: Options) {
    let sc = within(15, stan_client::connect(cid, client_id, o)).await.expect("connect with the right credentials");
    let mut sub = within(10, sc.subscribe("secured", SubscriptionOptions::default())).await.unwrap();
    let guid = within(10, sc.publish("secured", "hello")).await.unwrap();
    assert!(!guid.is_empty());
    let m = within(10, sub.next()).await.expect("subscription ended");
    assert_eq!(m.data_str(), "hello");
    within(10, sc.close()).await.unwrap();
}

/// A STAN connection attempt that must fail; its error text.
pub async fn refused(cid: &str, client_id: &str, o: Options) -> String {
    match within(20, stan_client::connect(cid, client_id, o)).await {
        Ok(_) => panic!("{client_id}: connected without the right credentials"),
        Err(e) => e.to_string(),
    }
}

/// The JetStream info of a STAN channel's stream (`_STAN_CH.<cid>.<channel>`).
/// Right after a heal or a node loss the cluster may still answer 503
/// ("JetStream system temporarily unavailable") while it elects leaders, so
/// the query is retried for up to 30 s before the test fails.
pub async fn channel_stream_info(
    ctx: &async_nats::jetstream::Context,
    cid: &str,
    channel: &str,
) -> async_nats::jetstream::stream::Info {
    let subject = format!("_STAN_CH.{cid}.{channel}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = async {
            let name = ctx.stream_by_subject(subject.clone()).await.map_err(|e| e.to_string())?;
            let stream = ctx.get_stream(name).await.map_err(|e| e.to_string())?;
            stream.get_info().await.map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(info) => return info,
            Err(e) if Instant::now() < deadline => {
                eprintln!("stream info for {subject} not available yet: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("stream info for {subject} still unavailable after 30 s: {e}"),
        }
    }
}
