//! Supervision of the embedded nats-server: a dedicated thread watches the
//! child and, when it dies, restarts it on the same ports with the same
//! (regenerated) configuration, so stan-server carries on with its protocol
//! state in memory while its own NATS connection and the clients reconnect.
//! It gives up after [`MAX_FAST_RESTARTS`] restarts within [`FAST_WINDOW`]
//! (or that many failed starts in a row).
//!
//! Restarted children are spawned by this thread, which lives until
//! shutdown: `PR_SET_PDEATHSIG` is tied to the spawning *thread*, so they
//! still die with stan-server (even on SIGKILL) and never with a short-lived
//! runtime thread.

use crate::config::Options;
use crate::log;
use crate::nats_child::NatsChild;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Restarts allowed within [`FAST_WINDOW`]; one more failure gives up.
pub const MAX_FAST_RESTARTS: usize = 5;
/// The window in which restarts count as fast failures.
pub const FAST_WINDOW: Duration = Duration::from_secs(30);
/// How often the child is polled.
const POLL: Duration = Duration::from_millis(50);

/// The running supervisor thread.
pub struct Supervisor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Supervise `child`; `gave_up` receives the error when restarting failed
    /// too often (stan-server must then shut down).
    pub fn spawn(child: NatsChild, opts: Options, gave_up: tokio::sync::oneshot::Sender<String>) -> Supervisor {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("nats-supervisor".into())
            .spawn(move || {
                if let Some(why) = supervise(child, &opts, &s) {
                    let _ = gave_up.send(why);
                }
            })
            .expect("cannot start the nats-server supervisor thread");
        Supervisor { stop, thread: Some(thread) }
    }

    /// Stop the child (SIGTERM, then SIGKILL) and the supervisor.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Watch and restart until stopped (`None`) or given up (the error).
fn supervise(mut child: NatsChild, opts: &Options, stop: &AtomicBool) -> Option<String> {
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            child.stop();
            return None;
        }
        let Some(status) = child.exit_status() else {
            std::thread::sleep(POLL);
            continue;
        };
        let pid = child.pid();
        child.stop(); // removes the generated configuration file; it is written again below
        let mut last = format!("pid {pid}, {status}");
        log::error(format_args!(
            "the embedded nats-server (pid {pid}) exited unexpectedly ({status}); restarting it on {}:{}",
            opts.addr, opts.port
        ));
        // Starts that fail in a row (each may take up to 15 s when the child
        // never accepts connections) give up too, however slow they are.
        let mut failed_starts = 0;
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            while restarts.front().is_some_and(|t| now.duration_since(*t) >= FAST_WINDOW) {
                restarts.pop_front();
            }
            if failed_starts >= MAX_FAST_RESTARTS {
                return Some(format!(
                    "the embedded nats-server could not be restarted ({failed_starts} attempts in a row, last: {last}); giving up, shutting down"
                ));
            }
            if restarts.len() >= MAX_FAST_RESTARTS {
                return Some(format!(
                    "the embedded nats-server failed {} times within {}s (last: {last}); giving up, shutting down",
                    MAX_FAST_RESTARTS + 1,
                    FAST_WINDOW.as_secs()
                ));
            }
            restarts.push_back(now);
            let n = restarts.len();
            match NatsChild::start(opts) {
                Ok(c) => {
                    log::info(format_args!(
                        "Restarted nats-server (pid {}) listening for clients on {}:{} (restart {n} within {}s)",
                        c.pid(),
                        opts.addr,
                        opts.port,
                        FAST_WINDOW.as_secs()
                    ));
                    child = c;
                    break;
                }
                Err(e) => {
                    failed_starts += 1;
                    log::error(format_args!("cannot restart the embedded nats-server (attempt {n}): {e}"));
                    last = e.to_string();
                    // Back off a little: a port still held, a binary being replaced...
                    std::thread::sleep(Duration::from_millis(200 * n as u64));
                }
            }
        }
    }
}
