//! Responder-only mode: echo every request on one subject to its reply
//! subject until stdin closes (the parent bench script holds the pipe).
//!
//! Deliberately minimal so it is a floor, not another client's overhead: one
//! blocking thread on a plain TCP socket, the reply written in the same
//! wake-up that read the request, no async runtime and no channels.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::BoxError;

/// Connect to `url` (`nats://host:port`), subscribe to `subject`, print
/// `{"ready":true}` once the server has the subscription, then answer each
/// request with its own payload until stdin ends (exit 0) or the socket ends
/// (an error).
pub fn run(url: &str, subject: &str) -> Result<(), BoxError> {
    let addr = url.strip_prefix("nats://").unwrap_or(url);
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::with_capacity(64 * 1024, stream);
    let mut line = String::new();
    input.read_line(&mut line)?; // INFO
    if !line.starts_with("INFO") {
        return Err(format!("expected INFO from {addr}, got {line:?}").into());
    }
    write!(out, "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"nats-raw-bench responder\"}}\r\nSUB {subject} 1\r\nPING\r\n")?;
    loop {
        line.clear();
        input.read_line(&mut line)?;
        match line.trim_end() {
            "PONG" => break,
            l if l.starts_with("-ERR") => return Err(format!("nats-server refused the responder: {l}").into()),
            "" if line.is_empty() => return Err("nats-server closed the connection".into()),
            _ => {}
        }
    }
    println!("{{\"ready\":true}}");
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let mut payload = Vec::new();
    let mut reply = Vec::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Err("nats-server closed the connection".into());
        }
        let l = line.trim_end();
        if let Some(rest) = l.strip_prefix("MSG ") {
            let parts: Vec<&str> = rest.split(' ').collect();
            let (reply_to, size) = match parts.as_slice() {
                [_, _, reply_to, size] => (*reply_to, size.parse::<usize>()?),
                [_, _, size] => ("", size.parse::<usize>()?),
                _ => return Err(format!("malformed MSG line {l:?}").into()),
            };
            payload.resize(size + 2, 0);
            input.read_exact(&mut payload)?;
            if !reply_to.is_empty() {
                reply.clear();
                write!(reply, "PUB {reply_to} {size}\r\n")?;
                reply.extend_from_slice(&payload);
                out.write_all(&reply)?;
            }
        } else if l == "PING" {
            out.write_all(b"PONG\r\n")?;
        } else if l.starts_with("-ERR") {
            return Err(format!("nats-server: {l}").into());
        }
    }
}
