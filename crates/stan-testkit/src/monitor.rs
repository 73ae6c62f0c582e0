//! Readiness checks: a TCP probe, and a plain HTTP GET of nats-server's
//! `/connz?subs=1` monitoring page to see who subscribes to what.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// True if something accepts TCP connections on 127.0.0.1:`port`.
pub fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The body of `GET path` on 127.0.0.1:`port`, if the request worked.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// True if some NATS client subscribes exactly to `subject`.
pub fn has_subscription(monitor_port: u16, subject: &str) -> bool {
    http_get(monitor_port, "/connz?subs=1&limit=1024").is_some_and(|b| b.contains(&format!("\"{subject}\"")))
}

/// The HTTP status of `GET path` on 127.0.0.1:`port` (e.g. 200 or 204 from
/// a STAN server's `/streaming/isFTActive`), if the request worked.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).into_owned();
    head.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}
