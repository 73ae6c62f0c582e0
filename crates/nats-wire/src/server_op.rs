//! The operations a NATS server sends to a client.

use bytes::Bytes;
use serde::Deserialize;

use crate::Headers;

/// The fields of a server's `INFO` the client uses; unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub host: String,
    pub port: u16,
    /// Largest payload the server accepts (and sends).
    pub max_payload: usize,
    /// The server understands `HPUB`/`HMSG`.
    pub headers: bool,
    pub auth_required: bool,
    pub tls_required: bool,
    /// Nonce to sign for nkey authentication.
    pub nonce: Option<String>,
    /// The client id the server assigned.
    pub client_id: u64,
    pub connect_urls: Vec<String>,
    /// Set on an INFO pushed because the server enters lame-duck mode.
    pub ldm: bool,
}

/// One message delivered on a subscription (`MSG` or `HMSG`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// Present for `HMSG`: the header block, with its status line parsed.
    pub headers: Option<Headers>,
    pub payload: Bytes,
}

impl Msg {
    /// The status code of an `HMSG` status line (503 = no responders), if any.
    pub fn status(&self) -> Option<u16> {
        self.headers.as_ref().and_then(|h| h.status)
    }
}

/// A server operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOp {
    Info(Box<ServerInfo>),
    Msg(Msg),
    Ping,
    Pong,
    Ok,
    /// `-ERR 'text'`, the text without its quotes.
    Err(String),
}
