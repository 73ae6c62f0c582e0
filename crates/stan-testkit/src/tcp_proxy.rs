//! `TcpProxy`: a userspace TCP forwarder on a free loopback port that a test
//! can cut (close every forwarded connection, refuse new ones) and heal —
//! a network partition without iptables — or pause (hold every byte, keep
//! the connections open, forward it all on resume: a silent partition, as
//! TCP sees dropped packets that are retransmitted later). Used for
//! nats-server routes and gateways (see [`crate::JsCluster`]).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ports::free_port;

#[derive(Debug, Default)]
struct Shared {
    cut: AtomicBool,
    paused: AtomicBool,
    stop: AtomicBool,
    /// Both sockets of every live forwarded connection (to close on a cut).
    conns: Mutex<Vec<TcpStream>>,
    /// Connections refused while cut.
    refused: AtomicU64,
}

/// A running forwarder `127.0.0.1:port` → `127.0.0.1:target`. Dropping it
/// stops the listener and closes every forwarded connection.
#[derive(Debug)]
pub struct TcpProxy {
    pub port: u16,
    pub target: u16,
    shared: Arc<Shared>,
}

impl TcpProxy {
    /// Listen on a free loopback port; forward each accepted connection to
    /// `target` (which need not listen yet: a failed connect closes the
    /// accepted one, as a refused connection would).
    pub fn start(target: u16) -> TcpProxy {
        let shared = Arc::new(Shared::default());
        // A port from free_port() may be taken meanwhile: a few tries.
        let (listener, port) = (0..20)
            .find_map(|_| {
                let p = free_port();
                TcpListener::bind(("127.0.0.1", p)).ok().map(|l| (l, p))
            })
            .expect("bind a proxy port on 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let s = shared.clone();
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, target, s))
            .expect("proxy thread");
        TcpProxy { port, target, shared }
    }

    /// `host:port` of the proxy (for `advertise`).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Close every forwarded connection and refuse new ones until [`TcpProxy::heal`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        close_all(&self.shared);
    }

    /// Forward again.
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Hold every byte in both directions (connections stay open, new ones
    /// are accepted and held too) until [`TcpProxy::resume`]: nobody sees a
    /// close; only missing answers tell.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
    }

    /// Forward what was held, and everything after it.
    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Connections refused while cut so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        close_all(&self.shared);
    }
}

fn close_all(s: &Shared) {
    let conns = std::mem::take(&mut *s.conns.lock().unwrap_or_else(|e| e.into_inner()));
    for c in conns {
        let _ = c.shutdown(Shutdown::Both);
    }
}

fn accept_loop(listener: TcpListener, target: u16, s: Arc<Shared>) {
    while !s.stop.load(Ordering::SeqCst) {
        let Ok((inbound, _)) = listener.accept() else {
            // Nothing pending (non-blocking), or a transient accept error.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if s.cut.load(Ordering::SeqCst) {
            s.refused.fetch_add(1, Ordering::SeqCst);
            let _ = inbound.shutdown(Shutdown::Both);
            continue;
        }
        let _ = inbound.set_nonblocking(false);
        let Ok(outbound) = TcpStream::connect_timeout(&([127, 0, 0, 1], target).into(), Duration::from_secs(2)) else {
            let _ = inbound.shutdown(Shutdown::Both);
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let (Ok(i2), Ok(o2), Ok(i3), Ok(o3)) =
            (inbound.try_clone(), outbound.try_clone(), inbound.try_clone(), outbound.try_clone())
        else {
            continue;
        };
        {
            let mut conns = s.conns.lock().unwrap_or_else(|e| e.into_inner());
            // A cut between the check above and here: do not forward.
            if s.cut.load(Ordering::SeqCst) || s.stop.load(Ordering::SeqCst) {
                let _ = inbound.shutdown(Shutdown::Both);
                let _ = outbound.shutdown(Shutdown::Both);
                continue;
            }
            conns.push(i3);
            conns.push(o3);
        }
        let (s1, s2) = (s.clone(), s.clone());
        std::thread::spawn(move || pump(inbound, o2, &s1));
        std::thread::spawn(move || pump(outbound, i2, &s2));
    }
}

/// Copy `from` → `to` until either side closes; then close both. While
/// paused, a chunk read is held (and nothing more is read: the kernel's
/// buffers fill, as behind a link that drops packets).
fn pump(mut from: TcpStream, mut to: TcpStream, s: &Shared) {
    let mut buf = [0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                while s.paused.load(Ordering::SeqCst) && !s.stop.load(Ordering::SeqCst) && !s.cut.load(Ordering::SeqCst)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_cuts_and_heals() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut c in server.incoming().map_while(Result::ok) {
                std::thread::spawn(move || {
                    let mut b = [0u8; 64];
                    while let Ok(n) = c.read(&mut b) {
                        if n == 0 || c.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let p = TcpProxy::start(target);
        let echo = |c: &mut TcpStream| -> bool {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 2];
            c.write_all(b"hi").is_ok() && c.read_exact(&mut b).is_ok() && &b == b"hi"
        };
        let mut c = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        assert!(echo(&mut c));
        p.cut();
        // The forwarded connection is closed, a new one is refused (closed at once).
        let mut b = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(matches!(c.read(&mut b), Ok(0) | Err(_)));
        let mut c2 = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        assert!(!echo(&mut c2));
        assert!(p.refused() >= 1);
        p.heal();
        let mut c3 = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        assert!(echo(&mut c3));

        // Paused: the bytes are held, the connection stays open; resumed: they arrive.
        p.pause();
        c3.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        c3.write_all(b"yo").unwrap();
        let mut b = [0u8; 2];
        assert!(c3.read(&mut b).is_err(), "a paused proxy forwarded");
        p.resume();
        c3.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c3.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"yo");
    }
}
