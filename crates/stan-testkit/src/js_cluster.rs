//! `JsCluster`: a cluster of real `nats-server` processes with JetStream
//! (`-js`), routed to each other (`--cluster`, `--routes`), each with its own
//! store directory, on free loopback ports. Nodes can be killed (`SIGKILL`)
//! and restarted on the same ports and directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::binaries;
use crate::monitor;
use crate::ports::free_port;
use crate::process::ServerProcess;

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
    root: PathBuf,
}

impl JsCluster {
    /// Start `n` nodes (n = 1 is a single JetStream server, no routes) and
    /// wait until each reports healthy (`/healthz`: JetStream is up and,
    /// in a cluster, has a meta leader).
    pub fn start(n: usize) -> JsCluster {
        let k = SEQ.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("stan-testkit-{}", std::process::id())).join(format!("js-{k}"));
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let name = format!("stan-js-{}-{k}", std::process::id());
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
                "-js".into(),
                "--store_dir".into(),
                store_dir.display().to_string(),
                "--server_name".into(),
                format!("n{i}"),
            ];
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| format!("nats://127.0.0.1:{}", p.2))
                    .collect();
                args.extend([
                    "--cluster_name".into(),
                    name.clone(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{cluster_port}"),
                    "--routes".into(),
                    routes.join(","),
                ]);
            }
            let process = ServerProcess::start(&format!("nats-js-n{i}"), &binaries::nats_server(), args);
            nodes.push(JsNode { port, monitor_port, cluster_port, store_dir, process });
        }
        let mut c = JsCluster { nodes, root };
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

    /// The body of `GET path` on node `i`'s monitoring port.
    pub fn monitor(&self, i: usize, path: &str) -> Option<String> {
        monitor::http_get(self.nodes[i].monitor_port, path)
    }

    fn wait_healthy(&mut self, i: usize) {
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

impl Drop for JsCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.process.stop();
        }
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
