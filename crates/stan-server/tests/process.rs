//! Process-level tests of the `stan-server` binary: flags, the embedded
//! nats-server child and its lifetime, clean shutdown.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_stan-server")
}

fn nats_server_bin() -> String {
    if let Ok(b) = std::env::var("NATS_SERVER_BIN") {
        return b;
    }
    let local = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/nats-server");
    assert!(std::path::Path::new(local).exists(), "nats-server missing: run .ci/setup or set NATS_SERVER_BIN");
    local.to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server under test; killed (by PID) if a test ends without reaping it.
struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Start the server and wait for "Streaming Server is ready"; returns the
/// server and the nats-server PID it logged.
fn start(extra: &[&str]) -> (Server, u32, mpsc::Receiver<String>) {
    let port = free_port().to_string();
    let mut child = Server(
        Command::new(bin())
            .args(["-a", "127.0.0.1", "-p", &port, "-cid", "proc-test"])
            .args(extra)
            .env("NATS_SERVER_BIN", nats_server_bin())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut nats_pid = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("server did not start");
        if let Some(rest) = line.split("Started nats-server (pid ").nth(1) {
            nats_pid = rest.split(')').next().unwrap().parse().unwrap();
        }
        if line.contains("Streaming Server is ready") {
            break;
        }
    }
    assert!(nats_pid > 0);
    (child, nats_pid, rx)
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn help_lists_the_compatible_flags() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in
        ["-cid", "-hbi", "-hbt", "-hbf", "-st", "--dir", "-ns", "-SD", "-mc", "-msu", "-mm", "-mb", "-ma", "--ws_port"]
            .into_iter()
            .chain(["--user", "--pass", "--auth", "--tls", "--tlscert", "--tlskey", "--tlscacert", "--tlsverify"])
            .chain(["-secure", "-tls_client_cert", "-tls_client_key", "-tls_client_cacert", "--nats_user"])
            .chain(["--cluster", "--routes", "--cluster_name", "--no_advertise", "--connect_retries"])
    {
        assert!(text.contains(flag), "missing {flag}");
    }
}

#[test]
fn unknown_flag_fails_with_a_message() {
    let out = Command::new(bin()).arg("-nope").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -nope"));
}

#[test]
fn sigterm_stops_server_and_child() {
    let (mut child, nats_pid, _rx) = start(&[]);
    assert!(alive(nats_pid));
    // SAFETY: signalling the child we started, by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(wait_dead(nats_pid), "nats-server {nats_pid} survived");
}

#[test]
fn sigkill_leaves_no_orphan() {
    let (mut child, nats_pid, _rx) = start(&["-SD"]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wait_dead(nats_pid), "nats-server {nats_pid} was orphaned");
}

/// A nats-server that cannot be started again: the child is restarted, every
/// restart fails at once, and after the allowed fast restarts stan-server
/// gives up with a clear error and exit code 1 (it cannot serve without NATS).
#[test]
fn server_gives_up_when_its_nats_server_keeps_failing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let wrapper = dir.path().join("nats-server-once");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ -e '{m}' ]; then echo 'nats-server-once: refusing to start again' >&2; exit 3; fi\n\
             touch '{m}'\nexec '{bin}' \"$@\"\n",
            m = marker.display(),
            bin = nats_server_bin()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (mut child, nats_pid, rx) = start(&["--nats_server_bin", wrapper.to_str().unwrap()]);
    // SAFETY: signalling the nats-server our server started for this test.
    unsafe { libc::kill(nats_pid as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "stan-server kept restarting a nats-server that cannot start");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    // Until stderr closes (the reader thread then drops its sender).
    let log: Vec<String> = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok()).collect();
    let log = log.join("\n");
    assert!(
        log.contains(&format!(
            "[ERR] STREAM: the embedded nats-server (pid {nats_pid}) exited unexpectedly (signal: 9"
        )),
        "{log}"
    );
    assert_eq!(log.matches("cannot restart the embedded nats-server").count(), 5, "{log}");
    assert!(log.contains("nats-server exited at startup (exit status: 3)"), "{log}");
    assert!(
        log.contains(
            "[ERR] STREAM: the embedded nats-server could not be restarted (5 attempts in a row, \
             last: nats-server exited at startup (exit status: 3)); giving up, shutting down"
        ),
        "{log}"
    );
}
