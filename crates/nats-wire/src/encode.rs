//! The operations a client sends, and their encoding.

use serde::Serialize;

use crate::EncodeError;

/// The JSON body of `CONNECT`. `None` fields are left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectInfo {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub lang: String,
    pub version: String,
    /// 1 = the server may send async INFO updates.
    pub protocol: u8,
    /// Receive messages this connection published itself.
    pub echo: bool,
    /// The client understands `HMSG`.
    pub headers: bool,
    /// Ask for a 503 status message when a request has no responders.
    pub no_responders: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// NKey authentication: the public key...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// ...and its signature of the INFO nonce (base64url, no padding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl ConnectInfo {
    /// Quiet (non-verbose) settings with headers and no-responders on.
    pub fn new(lang: impl Into<String>, version: impl Into<String>) -> Self {
        ConnectInfo {
            verbose: false,
            pedantic: false,
            tls_required: false,
            lang: lang.into(),
            version: version.into(),
            protocol: 1,
            echo: true,
            headers: true,
            no_responders: true,
            name: None,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
        }
    }
}

/// A client operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientOp<'a> {
    Connect(&'a ConnectInfo),
    Pub { subject: &'a str, reply: Option<&'a str>, payload: &'a [u8] },
    Sub { subject: &'a str, queue_group: Option<&'a str>, sid: u64 },
    Unsub { sid: u64, max: Option<u64> },
    Ping,
    Pong,
}

fn token(s: &str) -> Result<&str, EncodeError> {
    // ASCII whitespace and control bytes are exactly the bytes up to b' '
    // and DEL. Folded without an early exit, so the loop is vectorized: every
    // outgoing subject (each delivery's inbox) passes here.
    let bad = s.bytes().fold(false, |bad, b| bad | (b <= b' ') | (b == 0x7f));
    if s.is_empty() || bad {
        return Err(EncodeError::BadSubject(s.to_string()));
    }
    Ok(s)
}

/// Append `n` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Append a `PUB` whose payload of `len` bytes `body` writes straight into
/// `out` (a server encodes its reply there without a buffer of its own).
/// Written piecewise: no allocation per message (a server's hot path). If
/// `body` writes other than `len` bytes, the op is taken back out and
/// [`EncodeError::PayloadLength`] returned; on any error nothing is appended.
pub fn encode_pub_with(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    len: usize,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<(), EncodeError> {
    let subject = token(subject)?;
    let reply = reply.map(token).transpose()?;
    let start = out.len();
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(r) = reply {
        out.push(b' ');
        out.extend_from_slice(r.as_bytes());
    }
    out.push(b' ');
    push_decimal(out, len);
    out.extend_from_slice(b"\r\n");
    let payload_start = out.len();
    body(out);
    let written = out.len() - payload_start;
    if written != len {
        out.truncate(start);
        return Err(EncodeError::PayloadLength { declared: len, written });
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

impl ClientOp<'_> {
    /// Append the op's bytes to `out`. On error nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match *self {
            ClientOp::Connect(info) => {
                out.extend_from_slice(b"CONNECT ");
                // Serializing this plain struct of strings and numbers cannot fail.
                out.extend_from_slice(serde_json::to_string(info).unwrap_or_default().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            ClientOp::Pub { subject, reply, payload } => {
                encode_pub_with(out, subject, reply, payload.len(), |out| out.extend_from_slice(payload))?;
            }
            ClientOp::Sub { subject, queue_group, sid } => {
                let subject = token(subject)?;
                let line = match queue_group.map(token).transpose()? {
                    Some(q) => format!("SUB {subject} {q} {sid}\r\n"),
                    None => format!("SUB {subject} {sid}\r\n"),
                };
                out.extend_from_slice(line.as_bytes());
            }
            ClientOp::Unsub { sid, max } => {
                let line = match max {
                    Some(m) => format!("UNSUB {sid} {m}\r\n"),
                    None => format!("UNSUB {sid}\r\n"),
                };
                out.extend_from_slice(line.as_bytes());
            }
            ClientOp::Ping => out.extend_from_slice(b"PING\r\n"),
            ClientOp::Pong => out.extend_from_slice(b"PONG\r\n"),
        }
        Ok(())
    }

    /// The op's bytes as a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod write_op {
    use super::*;

    fn bytes(op: ClientOp<'_>) -> String {
        String::from_utf8(op.to_bytes().unwrap()).unwrap()
    }

    #[test]
    fn connect() {
        let mut info = ConnectInfo::new("rust-wasm", "0.1.0");
        info.user = Some("u".into());
        info.pass = Some("p".into());
        let s = bytes(ClientOp::Connect(&info));
        assert!(s.starts_with("CONNECT {") && s.ends_with("}\r\n"), "{s}");
        let json: serde_json::Value = serde_json::from_str(&s["CONNECT ".len()..s.len() - 2]).unwrap();
        assert_eq!(json["verbose"], false);
        assert_eq!(json["headers"], true);
        assert_eq!(json["user"], "u");
        assert_eq!(json["pass"], "p");
        assert!(json.get("auth_token").is_none());
        assert!(json.get("nkey").is_none() && json.get("sig").is_none());
    }

    #[test]
    fn publish() {
        assert_eq!(bytes(ClientOp::Pub { subject: "foo", reply: None, payload: b"hello" }), "PUB foo 5\r\nhello\r\n");
        assert_eq!(
            bytes(ClientOp::Pub { subject: "foo", reply: Some("_INBOX.x"), payload: b"" }),
            "PUB foo _INBOX.x 0\r\n\r\n"
        );
        let big = vec![b'x'; 1_234_567];
        let s = bytes(ClientOp::Pub { subject: "b", reply: None, payload: &big });
        assert!(s.starts_with("PUB b 1234567\r\nxxx"), "{}", &s[..20]);
        assert_eq!(s.len(), "PUB b 1234567\r\n".len() + big.len() + 2);
    }

    #[test]
    fn publish_written_in_place() {
        let mut out = b"PING\r\n".to_vec();
        encode_pub_with(&mut out, "a.b", Some("r"), 3, |o| o.extend_from_slice(b"xyz")).unwrap();
        assert_eq!(out, b"PING\r\nPUB a.b r 3\r\nxyz\r\n");
        // A body that writes another length than declared is taken back out.
        for (len, body) in [(2, &b"xyz"[..]), (4, &b"xyz"[..]), (1, &b""[..])] {
            let r = encode_pub_with(&mut out, "a", None, len, |o| o.extend_from_slice(body));
            assert_eq!(r, Err(EncodeError::PayloadLength { declared: len, written: body.len() }));
            assert_eq!(out, b"PING\r\nPUB a.b r 3\r\nxyz\r\n");
        }
        let r = encode_pub_with(&mut out, "a b", None, 0, |_| panic!("not called for a bad subject"));
        assert!(r.is_err());
    }

    #[test]
    fn subscribe() {
        assert_eq!(bytes(ClientOp::Sub { subject: "foo.*", queue_group: None, sid: 7 }), "SUB foo.* 7\r\n");
        assert_eq!(bytes(ClientOp::Sub { subject: "foo", queue_group: Some("q"), sid: 8 }), "SUB foo q 8\r\n");
    }

    #[test]
    fn unsubscribe() {
        assert_eq!(bytes(ClientOp::Unsub { sid: 7, max: None }), "UNSUB 7\r\n");
        assert_eq!(bytes(ClientOp::Unsub { sid: 7, max: Some(1) }), "UNSUB 7 1\r\n");
    }

    #[test]
    fn ping_pong() {
        assert_eq!(bytes(ClientOp::Ping), "PING\r\n");
        assert_eq!(bytes(ClientOp::Pong), "PONG\r\n");
    }

    #[test]
    fn subjects_that_would_break_the_line_are_refused() {
        let mut out = Vec::new();
        for bad in ["", "a b", "a\r\nPUB x 0", "a\tb"] {
            let op = ClientOp::Pub { subject: bad, reply: None, payload: b"" };
            assert_eq!(op.encode(&mut out), Err(EncodeError::BadSubject(bad.to_string())));
            let op = ClientOp::Sub { subject: "ok", queue_group: Some(bad), sid: 1 };
            assert!(op.encode(&mut out).is_err());
        }
        assert!(out.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn token_refuses_exactly_whitespace_and_control_bytes(s in "(?s).{0,40}", b in 0u8..=127) {
            let with = format!("{s}{}", b as char);
            for t in [&s[..], &with[..]] {
                let want = !t.is_empty() && !t.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
                proptest::prop_assert_eq!(token(t).is_ok(), want, "{:?}", t);
            }
        }
    }
}
