//! One connection attempt to one server: TCP (and TLS), the server's INFO,
//! then `CONNECT`, every subscription and a `PING` in one write, and the
//! answer up to the `PONG`. When the `PONG` arrives the subscriptions are
//! registered; whatever the server sent besides (messages, `PING`s, `INFO`)
//! is handed on as the first bytes of the connection.

use super::addr::ServerAddr;
use super::tls;
use crate::nats_conn::Security;
use async_nats::rustls::{self, pki_types::ServerName};
use base64::Engine;
use nats_wire::{ClientOp, ConnectInfo, Decoder, ServerInfo, ServerOp};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Time allowed for the TCP connect, and again for the rest of the handshake.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A byte stream to a server, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One subscription: subject and sid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sub {
    pub subject: String,
    pub sid: u64,
}

/// What a connection needs besides the address.
pub struct Params {
    pub name: String,
    pub security: Security,
    /// Read from `security.nkey_seed_file` once.
    pub nkey_seed: Option<String>,
    /// Built once when `security` asks for TLS; else on demand.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub subs: Vec<Sub>,
}

impl Params {
    pub fn new(name: &str, security: &Security, subs: Vec<Sub>) -> Result<Params, String> {
        let nkey_seed = match &security.nkey_seed_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the NKey seed file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let tls = if security.tls_required { Some(tls::client_config(security)?) } else { None };
        Ok(Params { name: name.to_string(), security: security.clone(), nkey_seed, tls, subs })
    }
}

/// A connected, subscribed server.
pub struct Connected {
    pub io: Box<dyn Io>,
    pub info: ServerInfo,
    /// Bytes the server sent besides the handshake's `PONG`, in order.
    pub leftover: Vec<u8>,
}

/// Why an attempt failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// `-ERR 'Authorization Violation'`: retrying will not help.
    Auth,
    /// The TLS handshake or setup failed (certificate not trusted, ...).
    Tls(String),
    /// Anything else (refused, timed out, closed, protocol error).
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Auth => f.write_str("Authorization Violation"),
            Failure::Tls(e) | Failure::Other(e) => f.write_str(e),
        }
    }
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

/// Connect to `addr`, authenticate and subscribe `p.subs`.
pub async fn connect(addr: &ServerAddr, p: &Params) -> Result<Connected, Failure> {
    let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((addr.host.as_str(), addr.port)))
        .await
        .map_err(|_| other("connect timed out"))?
        .map_err(other)?;
    let _ = tcp.set_nodelay(true);
    tokio::time::timeout(TIMEOUT, after_tcp(addr, p, Box::new(tcp)))
        .await
        .unwrap_or_else(|_| Err(other("handshake timed out")))
}

async fn after_tcp(addr: &ServerAddr, p: &Params, mut io: Box<dyn Io>) -> Result<Connected, Failure> {
    let mut dec = Decoder::new();
    let mut buf = vec![0u8; 16 * 1024];
    let info = loop {
        match dec.next_op().map_err(other)? {
            Some(ServerOp::Info(i)) => break *i,
            Some(op) => return Err(other(format!("expected INFO, got {op:?}"))),
            None => {}
        }
        let n = io.read(&mut buf).await.map_err(other)?;
        if n == 0 {
            return Err(other("connection closed before INFO"));
        }
        dec.feed(&buf[..n]);
    };
    let tls = p.security.tls_required || info.tls_required || addr.tls;
    if tls {
        if dec.buffered() > 0 {
            return Err(other("unexpected plaintext after INFO"));
        }
        let cfg = match &p.tls {
            Some(c) => c.clone(),
            None => tls::client_config(&p.security).map_err(Failure::Tls)?,
        };
        let name = ServerName::try_from(addr.host.clone()).map_err(|e| Failure::Tls(e.to_string()))?;
        let s =
            tokio_rustls::TlsConnector::from(cfg).connect(name, io).await.map_err(|e| Failure::Tls(e.to_string()))?;
        io = Box::new(s);
    }
    let mut out = Vec::new();
    ClientOp::Connect(&connect_info(addr, p, &info, tls)?).encode(&mut out).map_err(other)?;
    for s in &p.subs {
        ClientOp::Sub { subject: &s.subject, queue_group: None, sid: s.sid }.encode(&mut out).map_err(other)?;
    }
    ClientOp::Ping.encode(&mut out).map_err(other)?;
    io.write_all(&out).await.map_err(other)?;
    io.flush().await.map_err(other)?;
    let leftover = until_pong(io.as_mut(), dec, &mut buf).await?;
    Ok(Connected { io, info, leftover })
}

/// The CONNECT body: name, credentials (URL first, then flags), nkey signature.
fn connect_info(addr: &ServerAddr, p: &Params, info: &ServerInfo, tls: bool) -> Result<ConnectInfo, Failure> {
    let mut c = ConnectInfo::new("rust", env!("CARGO_PKG_VERSION"));
    c.tls_required = tls;
    c.name = Some(p.name.clone());
    if let Some((u, pw)) = addr.user.as_ref().or(p.security.user.as_ref()) {
        c.user = Some(u.clone());
        c.pass = Some(pw.clone());
    } else if let Some(t) = &p.security.token {
        c.auth_token = Some(t.clone());
    } else if let Some(seed) = &p.nkey_seed {
        let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| other(format!("bad NKey seed: {e}")))?;
        let nonce = info.nonce.as_deref().unwrap_or("");
        let sig = kp.sign(nonce.as_bytes()).map_err(|e| other(format!("cannot sign the nonce: {e}")))?;
        c.nkey = Some(kp.public_key());
        c.sig = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig));
    }
    Ok(c)
}

/// Read until the `PONG`; an `Authorization Violation` before it fails the
/// attempt. Returns every other byte received, in order.
async fn until_pong(io: &mut dyn Io, mut dec: Decoder, buf: &mut [u8]) -> Result<Vec<u8>, Failure> {
    // `raw` holds every byte fed to `dec` since the INFO; `dec` holds its tail.
    let mut raw: Vec<u8> = Vec::new();
    let mut last_err = None;
    if dec.buffered() > 0 {
        // A server sends nothing after INFO before our CONNECT.
        return Err(other("unexpected data after INFO"));
    }
    loop {
        loop {
            let start = raw.len() - dec.buffered();
            let Some(op) = dec.next_op().map_err(other)? else { break };
            let end = raw.len() - dec.buffered();
            match op {
                ServerOp::Pong => {
                    raw.drain(start..end);
                    return Ok(raw);
                }
                ServerOp::Err(e) if e.to_ascii_lowercase().contains("authorization violation") => {
                    return Err(Failure::Auth);
                }
                ServerOp::Err(e) => {
                    crate::log::error(format_args!("NATS error: {e}"));
                    last_err = Some(e);
                }
                _ => {}
            }
        }
        let n = io.read(buf).await.map_err(other)?;
        if n == 0 {
            return Err(other(match last_err {
                Some(e) => format!("connection closed by the server: {e}"),
                None => "connection closed by the server".into(),
            }));
        }
        raw.extend_from_slice(&buf[..n]);
        dec.feed(&buf[..n]);
    }
}
