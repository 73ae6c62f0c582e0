//! `JsCluster`: a cluster of real `nats-server` processes with JetStream
//! (`-js`), routed to each other (`--cluster`, `--routes`), each with its own
//! store directory, on free loopback ports. Nodes can be killed (`SIGKILL`)
//! and restarted on the same ports and directory.
//!
//! [`JsCluster::start_with`] adds what fault tests need ([`JsSetup`]):
//! routes through a [`TcpProxy`] per ordered pair of nodes, so that
//! [`JsCluster::isolate`] can partition a node off and [`JsCluster::heal`]
//! join it again; a `gateway {}` block (superclusters); nodes without
//! JetStream.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::binaries;
use crate::monitor;
use crate::ports::free_port;
use crate::process::ServerProcess;
use crate::tcp_proxy::TcpProxy;

/// Route gossip advertises this address when routes are proxied: nothing
/// listens on port 1, so a route learnt by gossip fails at once and every
/// route between two nodes is the configured one, through their proxy.
const UNROUTABLE_ADVERTISE: &str = "127.0.0.1:1";

/// A `gateway {}` block for every node of a cluster.
#[derive(Clone, Debug, Default)]
pub struct Gateway {
    /// The gateway (and cluster) name.
    pub name: String,
    /// Each node's gateway listen port (one per node).
    pub ports: Vec<u16>,
    /// Each node's advertised gateway address (`host:port`), e.g. a proxy in
    /// front of it; `None`: the listen address.
    pub advertise: Vec<Option<String>>,
    /// The remote gateways: name and URLs.
    pub remotes: Vec<(String, Vec<String>)>,
}

/// How [`JsCluster::start_with`] sets the nodes up.
#[derive(Clone, Debug)]
pub struct JsSetup {
    /// `-js` on every node (default true).
    pub jetstream: bool,
    /// Routes through one [`TcpProxy`] per ordered pair of nodes (default false).
    pub proxied_routes: bool,
    /// A gateway block (its name is then also the cluster name).
    pub gateway: Option<Gateway>,
}

impl Default for JsSetup {
    fn default() -> Self {
        JsSetup { jetstream: true, proxied_routes: false, gateway: None }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// How long the cluster may take to start (or a node to come back).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One node of a [`JsCluster`].
#[derive(Debug)]
pub struct JsNode {
    pub port: u16,
    pub monitor_port: u16,
    pub cluster_port: u16,
    pub store_dir: PathBuf,
    pub process: ServerProcess,
}

/// A running JetStream cluster. Dropping it kills every node and removes
/// the store directories.
#[derive(Debug)]
pub struct JsCluster {
    pub nodes: Vec<JsNode>,
    /// Route proxies: `(from, to, proxy)`; node `from` reaches `to` through it.
    pub route_proxies: Vec<(usize, usize, TcpProxy)>,
    root: PathBuf,
}

impl JsCluster {
    /// Start `n` nodes (n = 1 is a single JetStream server, no routes) and
    /// wait until each reports healthy (`/healthz`: JetStream is up and,
    /// in a cluster, has a meta leader).
    pub fn start(n: usize) -> JsCluster {
        Self::start_with(n, JsSetup::default())
    }

    /// Start `n` nodes set up as `setup` says, and wait until each is healthy.
    pub fn start_with(n: usize, setup: JsSetup) -> JsCluster {
        let k = SEQ.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("stan-testkit-{}", std::process::id())).join(format!("js-{k}"));
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let name = match &setup.gateway {
            Some(g) => g.name.clone(),
            None => format!("stan-js-{}-{k}", std::process::id()),
        };
        // Server names are unique across a supercluster: `a0`, `b0`, ... with
        // a gateway, else `n0`, `n1`, ...
        let prefix = setup.gateway.as_ref().map(|g| g.name.to_lowercase()).unwrap_or_else(|| "n".into());
        let mut route_proxies = Vec::new();
        if setup.proxied_routes && n > 1 {
            for from in 0..n {
                for to in (0..n).filter(|&to| to != from) {
                    route_proxies.push((from, to, TcpProxy::start(ports[to].2)));
                }
            }
        }
        let mut nodes = Vec::new();
        for (i, &(port, monitor_port, cluster_port)) in ports.iter().enumerate() {
            let store_dir = root.join(format!("n{i}"));
            std::fs::create_dir_all(&store_dir).expect("store dir");
            let mut args: Vec<String> = vec![
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-m".into(),
                monitor_port.to_string(),
                "--server_name".into(),
                format!("{prefix}{i}"),
            ];
            if setup.jetstream {
                args.extend(["-js".into(), "--store_dir".into(), store_dir.display().to_string()]);
            }
            if n > 1 {
                let routes: Vec<String> = if route_proxies.is_empty() {
                    ports
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, p)| format!("nats://127.0.0.1:{}", p.2))
                        .collect()
                } else {
                    route_proxies
                        .iter()
                        .filter(|(from, _, _)| *from == i)
                        .map(|(_, _, p)| format!("nats://127.0.0.1:{}", p.port))
                        .collect()
                };
                args.extend([
                    "--cluster_name".into(),
                    name.clone(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{cluster_port}"),
                    "--routes".into(),
                    routes.join(","),
                ]);
                if !route_proxies.is_empty() {
                    args.extend(["--cluster_advertise".into(), UNROUTABLE_ADVERTISE.into()]);
                }
            }
            if let Some(g) = &setup.gateway {
                let conf = store_dir.with_extension("gateway.conf");
                std::fs::write(&conf, gateway_conf(g, i)).expect("gateway config");
                args.extend(["-c".into(), conf.display().to_string()]);
            }
            let process = ServerProcess::start(&format!("nats-js-n{i}"), &binaries::nats_server(), args);
            nodes.push(JsNode { port, monitor_port, cluster_port, store_dir, process });
        }
        let mut c = JsCluster { nodes, route_proxies, root };
        for i in 0..n {
            c.wait_healthy(i);
        }
        c
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Every node's client URL, comma-separated (as `-ns` takes them).
    pub fn urls(&self) -> String {
        (0..self.nodes.len()).map(|i| self.url(i)).collect::<Vec<_>>().join(",")
    }

    /// Kill node `i` with `SIGKILL` (its store directory is kept).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].process.stop();
        let port = self.nodes[i].port;
        wait_until(&format!("node {i} stop"), || !monitor::accepts(port), || None);
    }

    /// Start node `i` again (same ports and directory) and wait until healthy.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].process.restart();
        self.wait_healthy(i);
    }

    /// Start node `i` again without waiting (see [`JsCluster::wait_healthy`]).
    pub fn respawn(&mut self, i: usize) {
        self.nodes[i].process.restart();
    }

    /// Cut node `i` off from every other node: close the proxied routes in
    /// both directions and refuse new ones. Needs `proxied_routes`.
    pub fn isolate(&mut self, i: usize) {
        assert!(!self.route_proxies.is_empty(), "isolate() needs JsSetup::proxied_routes");
        for (from, to, p) in &self.route_proxies {
            if *from == i || *to == i {
                p.cut();
            }
        }
    }

    /// Cut node `i` off silently: its proxied routes hold every byte both
    /// ways and stay open (no close for either side to see; see
    /// [`TcpProxy::pause`]). Needs `proxied_routes`.
    pub fn isolate_silently(&mut self, i: usize) {
        assert!(!self.route_proxies.is_empty(), "isolate_silently() needs JsSetup::proxied_routes");
        for (from, to, p) in &self.route_proxies {
            if *from == i || *to == i {
                p.pause();
            }
        }
    }

    /// Undo every [`JsCluster::isolate`] and [`JsCluster::isolate_silently`].
    pub fn heal(&mut self) {
        for (_, _, p) in &self.route_proxies {
            p.heal();
            p.resume();
        }
    }

    /// The names of the servers node `i` has a route to (`/routez`).
    pub fn routed_to(&self, i: usize) -> Vec<String> {
        let body = self.monitor(i, "/routez").unwrap_or_default();
        let mut names: Vec<String> = body
            .split("\"remote_name\":")
            .skip(1)
            .filter_map(|t| t.trim_start().strip_prefix('"').and_then(|t| t.split('"').next()).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The body of `GET path` on node `i`'s monitoring port.
    pub fn monitor(&self, i: usize, path: &str) -> Option<String> {
        monitor::http_get(self.nodes[i].monitor_port, path)
    }

    /// Wait (bounded) until node `i` reports healthy (`/healthz`).
    pub fn wait_healthy(&mut self, i: usize) {
        let mon = self.nodes[i].monitor_port;
        let p = &mut self.nodes[i].process;
        let mut exited = || p.has_exited().then(|| p.log());
        wait_until(
            &format!("JetStream node {i} start"),
            || monitor::http_get(mon, "/healthz").is_some_and(|b| b.contains("\"ok\"")),
            &mut exited,
        );
    }
}

/// The `gateway {}` block of node `i`.
fn gateway_conf(g: &Gateway, i: usize) -> String {
    let remotes: Vec<String> = g
        .remotes
        .iter()
        .map(|(name, urls)| {
            let urls: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
            format!("{{ name: \"{name}\", urls: [{}] }}", urls.join(", "))
        })
        .collect();
    let advertise = match g.advertise.get(i).cloned().flatten() {
        Some(a) => format!("  advertise: \"{a}\"\n"),
        None => String::new(),
    };
    format!(
        "gateway {{\n  name: \"{}\"\n  listen: \"127.0.0.1:{}\"\n{advertise}  gateways: [{}]\n}}\n",
        g.name,
        g.ports[i],
        remotes.join(", ")
    )
}

impl Drop for JsCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.process.stop();
        }
        self.route_proxies.clear();
        let _ = std::fs::remove_dir_all(&self.root);
    }
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
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within {READY_TIMEOUT:?}");
}
