//! `StanEnv`: a nats-server plus a STAN server attached to it, on free
//! loopback ports, with bounded readiness waits and restarts.

use std::time::{Duration, Instant};

use crate::binaries::{self, StanImpl};
use crate::monitor;
use crate::ports::free_port;
use crate::process::ServerProcess;

/// How long any start or stop may take before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running pair of servers. Dropping it kills both.
#[derive(Debug)]
pub struct StanEnv {
    cluster_id: String,
    nats_port: u16,
    monitor_port: u16,
    stan_impl: StanImpl,
    // Field order: the STAN server is dropped (killed) before nats-server.
    stan: ServerProcess,
    nats: ServerProcess,
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool, mut dead: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        if let Some(log) = dead() {
            panic!("{what}: the process exited. Log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what}: not within {READY_TIMEOUT:?}");
}

impl StanEnv {
    /// Start nats-server and the STAN server chosen by `STAN_SERVER_IMPL`
    /// with `-cid cluster_id -ns nats://127.0.0.1:<port>` and `stan_args`
    /// (e.g. `["-hbi", "1s", "-hbt", "1s", "-hbf", "2"]`).
    pub fn start(cluster_id: &str, stan_args: &[&str]) -> StanEnv {
        Self::start_with(StanImpl::from_env(), cluster_id, stan_args)
    }

    /// Like [`StanEnv::start`] with an explicit implementation.
    pub fn start_with(stan_impl: StanImpl, cluster_id: &str, stan_args: &[&str]) -> StanEnv {
        let nats_port = free_port();
        let monitor_port = free_port();
        let nats_args = ["-a", "127.0.0.1", "-p", &nats_port.to_string(), "-m", &monitor_port.to_string()];
        let nats = ServerProcess::start("nats-server", &binaries::nats_server(), to_strings(&nats_args));
        let mut stan_cmd = vec![
            "-cid".to_string(),
            cluster_id.to_string(),
            "-ns".to_string(),
            format!("nats://127.0.0.1:{nats_port}"),
        ];
        stan_cmd.extend(to_strings(stan_args));
        let mut env = StanEnv {
            cluster_id: cluster_id.to_string(),
            nats_port,
            monitor_port,
            stan_impl,
            stan: ServerProcess::start_later("stan-server", &binaries::stan_server(stan_impl), stan_cmd),
            nats,
        };
        env.wait_nats_ready();
        env.stan.restart();
        env.wait_stan_ready();
        env
    }

    /// The cluster ID.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }
    /// `nats://127.0.0.1:<port>`.
    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.nats_port)
    }
    /// The NATS client port.
    pub fn nats_port(&self) -> u16 {
        self.nats_port
    }
    /// nats-server's monitoring port.
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }
    /// Which STAN server runs.
    pub fn stan_impl(&self) -> StanImpl {
        self.stan_impl
    }
    /// The nats-server process.
    pub fn nats(&self) -> &ServerProcess {
        &self.nats
    }
    /// The STAN server process.
    pub fn stan(&self) -> &ServerProcess {
        &self.stan
    }

    fn discover_subject(&self) -> String {
        format!("_STAN.discover.{}", self.cluster_id)
    }

    fn wait_nats_ready(&mut self) {
        let (port, mon) = (self.nats_port, self.monitor_port);
        let nats = &mut self.nats;
        let mut exited = || nats.has_exited().then(|| nats.log());
        wait_until(
            "nats-server start",
            || monitor::accepts(port) && monitor::http_get(mon, "/varz").is_some(),
            &mut exited,
        );
    }

    fn wait_stan_ready(&mut self) {
        let (mon, subject) = (self.monitor_port, self.discover_subject());
        let stan = &mut self.stan;
        wait_until(
            "STAN server start",
            || monitor::has_subscription(mon, &subject),
            || stan.has_exited().then(|| stan.log()),
        );
    }

    fn wait_stan_gone(&mut self) {
        let (mon, subject) = (self.monitor_port, self.discover_subject());
        wait_until("STAN server stop", || !monitor::has_subscription(mon, &subject), || None);
    }

    /// Kill nats-server, wait until its port is closed, start it again on
    /// the same ports and wait until the STAN server is attached again.
    pub fn restart_nats(&mut self) {
        self.stop_nats();
        self.start_nats();
    }

    /// Kill nats-server (the STAN server keeps running and reconnects later).
    pub fn stop_nats(&mut self) {
        self.nats.stop();
        let port = self.nats_port;
        wait_until("nats-server stop", || !monitor::accepts(port), || None);
    }

    /// Start nats-server again after [`StanEnv::stop_nats`] and wait until
    /// the STAN server is attached again.
    pub fn start_nats(&mut self) {
        self.nats.restart();
        self.wait_nats_ready();
        self.wait_stan_ready();
    }

    /// Kill the STAN server and start it again (a memory store loses every
    /// client and channel).
    pub fn restart_stan(&mut self) {
        self.stop_stan();
        self.start_stan();
    }

    /// Kill the STAN server and wait until nats-server saw it go.
    pub fn stop_stan(&mut self) {
        self.stan.stop();
        self.wait_stan_gone();
    }

    /// Replace the STAN server by `stan_impl` started with `stan_args` (plus
    /// the same `-cid` and `-ns`) and wait until it is ready; the old one is
    /// killed first if it still runs (e.g. to read one server's store with
    /// the other).
    pub fn replace_stan(&mut self, stan_impl: StanImpl, stan_args: &[&str]) {
        self.stan.stop();
        let mut cmd = vec!["-cid".to_string(), self.cluster_id.clone(), "-ns".to_string(), self.nats_url()];
        cmd.extend(to_strings(stan_args));
        self.stan = ServerProcess::start_later("stan-server", &binaries::stan_server(stan_impl), cmd);
        self.stan_impl = stan_impl;
        self.start_stan();
    }

    /// Start the STAN server after [`StanEnv::stop_stan`] and wait until ready.
    pub fn start_stan(&mut self) {
        self.stan.restart();
        self.wait_stan_ready();
    }
}

fn to_strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
