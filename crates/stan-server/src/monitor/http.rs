//! A minimal HTTP/1.1 listener for the monitoring endpoints: GET only,
//! one request per connection, bounded header size and time.

use super::{Query, Reply};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// A query and where to send its answer.
pub type Request = (Query, oneshot::Sender<Reply>);

const MAX_HEAD: usize = 16 * 1024;

/// Accept connections forever, forwarding each query to `tx`.
pub async fn serve(listener: TcpListener, tx: mpsc::Sender<Request>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle(sock, tx)).await;
        });
    }
}

async fn handle(mut sock: TcpStream, tx: mpsc::Sender<Request>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_HEAD {
            return write(&mut sock, &text(431, "Request Header Fields Too Large\n")).await;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        return write(&mut sock, &text(405, "Method Not Allowed\n")).await;
    }
    let query = parse_target(target);
    let (rtx, rrx) = oneshot::channel();
    if tx.send((query, rtx)).await.is_err() {
        return write(&mut sock, &text(503, "Server shutting down\n")).await;
    }
    let reply = rrx.await.unwrap_or_else(|_| text(503, "Server shutting down\n"));
    if method == "HEAD" {
        return write(&mut sock, &Reply { body: String::new(), ..reply }).await;
    }
    write(&mut sock, &reply).await
}

fn text(status: u16, body: &str) -> Reply {
    Reply { status, content_type: "text/plain; charset=utf-8", body: body.to_string() }
}

async fn write(sock: &mut TcpStream, r: &Reply) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        204 => "No Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(r.body.as_bytes()).await?;
    sock.shutdown().await
}

/// Split `/path?a=1&b=x` into a [`Query`], percent-decoding the values.
pub fn parse_target(target: &str) -> Query {
    let (path, qs) = target.split_once('?').unwrap_or((target, ""));
    let params = qs
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Query { path: path.trim_end_matches('/').to_string(), params }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let q = parse_target("/streaming/channelsz/?subs=1&channel=ticket%3Acreated");
        assert_eq!(q.path, "/streaming/channelsz");
        assert_eq!(q.param("subs"), Some("1"));
        assert_eq!(q.param("channel"), Some("ticket:created"));
        let q = parse_target("/streaming/serverz");
        assert!(q.params.is_empty());
        assert_eq!(parse_target("/x?a=%zz&b=%4").param("a"), Some("%zz"));
        assert_eq!(parse_target("/x?b=%4").param("b"), Some("%4"));
    }
}
