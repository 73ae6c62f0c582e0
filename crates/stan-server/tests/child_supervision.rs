//! stan-server supervises its embedded nats-server: the child is killed
//! (SIGKILL) in the middle of a publish burst from `stan-client`; it is
//! restarted on the same port, every publish the client saw acknowledged is
//! still stored (memory store), the publishers finish, and the same STAN
//! session keeps working.

mod support;

use futures::StreamExt;
use stan_client::SubscriptionOptions;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{within, Stan};

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// The PIDs of `pid`'s children (over all its threads).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    out
}

const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_nats_child_is_restarted_and_nothing_acked_is_lost() {
    let mut stan = Stan::start("sup-test", &[]);
    let first_child = stan.nats_pid;
    assert!(children(stan.pid()).contains(&first_child), "nats-server {first_child} is not our child");
    let o = stan_client::Options::new()
        .url(stan.url())
        .connect_timeout(Duration::from_secs(3))
        .nats_connect_timeout(Duration::from_secs(3))
        .ack_timeout(Duration::from_secs(3))
        .reconnect(true)
        .reconnect_time_wait(Duration::from_millis(100));
    let sc = within(15, stan_client::connect("sup-test", "burst-client", o)).await.expect("connect");

    let acked_count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let sc = sc.clone();
        let acked_count = acked_count.clone();
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut failed) = (Vec::new(), 0usize);
            for k in 0..PER_PUBLISHER {
                let payload = format!("p{p}-{k}");
                // Bounded: the ack timeout is 3 s; a hang fails the test here.
                match tokio::time::timeout(Duration::from_secs(20), sc.publish("burst", payload.clone())).await {
                    Ok(Ok(_guid)) => {
                        acked.push(payload);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Err(_)) => failed += 1,
                    Err(_) => panic!("publish {payload} hung"),
                }
            }
            (acked, failed)
        }));
    }

    // Kill the child once the burst is under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked_count.load(Ordering::SeqCst) < 200 {
        assert!(Instant::now() < deadline, "the burst did not start:\n{}", stan.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SAFETY: signalling the nats-server our server started for this test.
    unsafe { libc::kill(first_child as i32, libc::SIGKILL) };
    let acked_at_kill = acked_count.load(Ordering::SeqCst);

    let mut acked = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (a, f) = within(120, t).await.expect("publisher panicked");
        acked.extend(a);
        failed += f;
    }
    eprintln!(
        "acked {} of {} (acked at kill: {acked_at_kill}), failed {failed}",
        acked.len(),
        PUBLISHERS * PER_PUBLISHER
    );
    assert_eq!(acked.len() + failed, PUBLISHERS * PER_PUBLISHER);
    assert!(acked.len() > acked_at_kill, "nothing was acked after the restart:\n{}", stan.log());

    // The server is still running, with a new child on the same port.
    assert_eq!(stan.wait_exit(Duration::ZERO), None, "stan-server exited:\n{}", stan.log());
    let log = stan.log();
    assert!(
        log.contains(&format!(
            "[ERR] STREAM: the embedded nats-server (pid {first_child}) exited unexpectedly (signal: 9"
        )),
        "{log}"
    );
    let new_child = log
        .split("Restarted nats-server (pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no restart logged:\n{log}"));
    assert_ne!(new_child, first_child);
    assert!(alive(new_child) && children(stan.pid()).contains(&new_child), "restarted child {new_child} not running");
    assert!(!alive(first_child));

    // The same STAN session still works.
    within(15, sc.publish("burst", "after")).await.expect("publish on the same session after the restart");

    // Every acknowledged publish is stored.
    let mut sub = within(10, sc.subscribe("burst", SubscriptionOptions::default().deliver_all_available()))
        .await
        .expect("subscribe after the restart");
    let mut want: HashSet<String> = acked.into_iter().collect();
    want.insert("after".to_string());
    let total = want.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0usize;
    while !want.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(m)) => {
                seen += 1;
                want.remove(m.data_str().as_ref());
            }
            _ => panic!("{} of {total} acknowledged messages missing after {seen} delivered", want.len()),
        }
    }
    within(10, sc.close()).await.expect("close");
    assert_eq!(stan.wait_exit(Duration::ZERO), None);
}

/// The PID of the n-th (1-based) restarted child, waiting (bounded) for it to be logged.
fn restarted_pid(stan: &Stan, n: usize) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = stan.log();
        if let Some(pid) = log
            .split("Restarted nats-server (pid ")
            .nth(n)
            .and_then(|r| r.split(')').next())
            .and_then(|p| p.parse::<u32>().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "restart {n} not logged:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With a generated configuration file (credentials): the restarted child
/// enforces the same credentials, two restarts in a row work, and a restarted
/// child (spawned by the supervisor thread) still dies with stan-server on SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_child_keeps_its_configuration_and_dies_with_the_server() {
    let mut stan = Stan::start("sup-auth", &["--user", "alice", "--pass", "s3cret"]);
    let mut victim = stan.nats_pid;
    for n in 1..=2 {
        // SAFETY: signalling the nats-server our server started for this test.
        unsafe { libc::kill(victim as i32, libc::SIGKILL) };
        victim = restarted_pid(&stan, n);
        assert!(children(stan.pid()).contains(&victim));
    }
    let refused = support::refused("sup-auth", "no-creds", support::opts(&stan.url())).await;
    assert!(refused.contains("Authorization Violation"), "{refused}");
    support::round_trip("sup-auth", "good", support::opts(&stan.url()).user_and_password("alice", "s3cret")).await;
    // SAFETY: killing the stan-server we started for this test.
    unsafe { libc::kill(stan.pid() as i32, libc::SIGKILL) };
    assert!(stan.wait_exit(Duration::from_secs(5)).is_none(), "SIGKILL has no exit code");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(victim) {
        assert!(Instant::now() < deadline, "restarted nats-server {victim} was orphaned");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `GOGC` in `pid`'s environment, if any.
fn gogc_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    env.split(|&b| b == 0).find_map(|v| v.strip_prefix(b"GOGC=")).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The child (first and restarted) runs with a larger Go GC target than
/// Go's default, unless our environment sets one, which it then inherits.
#[test]
fn child_gets_the_gc_target_and_keeps_it_after_a_restart() {
    let want = std::env::var("GOGC").unwrap_or_else(|_| "400".into());
    let stan = Stan::start("sup-gogc", &[]);
    assert_eq!(gogc_of(stan.nats_pid).as_deref(), Some(want.as_str()));
    // SAFETY: signalling the nats-server our server started for this test.
    unsafe { libc::kill(stan.nats_pid as i32, libc::SIGKILL) };
    let restarted = restarted_pid(&stan, 1);
    assert_eq!(gogc_of(restarted).as_deref(), Some(want.as_str()));
}

/// A child that keeps dying soon after each restart: 5 restarts within 30 s
/// are allowed, the 6th death makes stan-server give up with exit code 1.
#[test]
fn six_fast_deaths_make_the_server_give_up() {
    let mut stan = Stan::start("sup-fast", &[]);
    let mut victim = stan.nats_pid;
    for n in 1..=6 {
        // SAFETY: signalling the nats-server our server started for this test.
        unsafe { libc::kill(victim as i32, libc::SIGKILL) };
        if n < 6 {
            victim = restarted_pid(&stan, n);
        }
    }
    assert_eq!(stan.wait_exit(Duration::from_secs(10)), Some(1), "{}", stan.log());
    std::thread::sleep(Duration::from_millis(200)); // the log reader catches up
    let log = stan.log();
    assert_eq!(log.matches("exited unexpectedly (signal: 9 (SIGKILL))").count(), 6, "{log}");
    assert!(
        log.contains(&format!(
            "[ERR] STREAM: the embedded nats-server failed 6 times within 30s (last: pid {victim}, signal: 9 (SIGKILL)); \
             giving up, shutting down"
        )),
        "{log}"
    );
    assert!(!alive(victim));
}
