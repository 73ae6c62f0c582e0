//! `NatsSession`: one NATS connection's protocol glue around a `stan-core`
//! session, independent of any transport. Bytes from the server go in; bytes
//! for the server, NATS-level errors and the core's events come out.
//!
//! It sends `CONNECT` when the server's `INFO` arrives, answers `PING` with
//! `PONG`, routes `MSG`/`HMSG` to the core (dropping status messages such as
//! 503 "no responders"), and encodes the core's `poll_transmit` ops. The
//! core's ops wait until `CONNECT` went out.

use std::collections::VecDeque;
use std::time::Duration;

use nats_wire::{ClientOp, ConnectInfo, DecodeError, Decoder, ServerOp};
use stan_core::{Connection, IncomingMessage, NatsOp, Sid};

/// A NATS connection carrying one STAN session.
#[derive(Debug)]
pub struct NatsSession {
    core: Connection,
    decoder: Decoder,
    connect: ConnectInfo,
    connected: bool,
    out: Vec<u8>,
    errors: VecDeque<String>,
}

impl NatsSession {
    /// Wrap a core session; nothing is sent before the server's INFO.
    pub fn new(core: Connection, connect: ConnectInfo) -> Self {
        NatsSession {
            core,
            decoder: Decoder::new(),
            connect,
            connected: false,
            out: Vec::new(),
            errors: VecDeque::new(),
        }
    }

    /// The STAN session.
    pub fn core(&self) -> &Connection {
        &self.core
    }

    /// The STAN session, for commands.
    pub fn core_mut(&mut self) -> &mut Connection {
        &mut self.core
    }

    /// True once CONNECT was sent.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Bytes arrived from the server. A decode error means the stream is
    /// unusable: the driver must drop the connection.
    pub fn on_bytes(&mut self, now: Duration, data: &[u8]) -> Result<(), DecodeError> {
        self.decoder.feed(data);
        while let Some(op) = self.decoder.next_op()? {
            match op {
                ServerOp::Info(info) if !self.connected => {
                    self.core.set_max_payload(info.max_payload);
                    // Encoding CONNECT cannot fail (no subjects in it).
                    let _ = ClientOp::Connect(&self.connect).encode(&mut self.out);
                    self.connected = true;
                }
                ServerOp::Info(info) => self.core.set_max_payload(info.max_payload),
                ServerOp::Pong | ServerOp::Ok => {}
                ServerOp::Ping => {
                    let _ = ClientOp::Pong.encode(&mut self.out);
                }
                ServerOp::Err(text) => self.errors.push_back(text),
                ServerOp::Msg(m) => {
                    if m.status().is_some() {
                        continue; // a status message (503 no responders), not data
                    }
                    let msg =
                        IncomingMessage { sid: Sid(m.sid), subject: m.subject, reply: m.reply, payload: m.payload };
                    self.core.handle_message(now, msg);
                }
            }
        }
        Ok(())
    }

    /// The next `-ERR` text the server sent.
    pub fn poll_nats_error(&mut self) -> Option<String> {
        self.errors.pop_front()
    }

    /// Everything to send now: the NATS replies and, once connected, the
    /// core's ops. Ops that cannot be encoded (a subject with control
    /// characters) are dropped; the core's timers report their failure.
    pub fn take_output(&mut self) -> Vec<u8> {
        if self.connected {
            while let Some(op) = self.core.poll_transmit() {
                let _ = match &op {
                    NatsOp::Subscribe { sid, subject } => {
                        ClientOp::Sub { subject, queue_group: None, sid: sid.0 }.encode(&mut self.out)
                    }
                    NatsOp::Unsubscribe { sid } => ClientOp::Unsub { sid: sid.0, max: None }.encode(&mut self.out),
                    NatsOp::Publish { subject, reply, payload } => {
                        ClientOp::Pub { subject, reply: reply.as_deref(), payload }.encode(&mut self.out)
                    }
                };
            }
        }
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stan_core::{ConnectConfig, Event};

    fn session() -> NatsSession {
        let core = Connection::new(ConnectConfig::new("test-cluster", "me"), 7, Duration::ZERO).unwrap();
        NatsSession::new(core, ConnectInfo::new("test", "0"))
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn nothing_before_info_then_connect_and_the_cores_ops() {
        let mut s = session();
        assert!(s.take_output().is_empty());
        s.on_bytes(Duration::ZERO, b"INFO {\"max_payload\":1048576}\r\n").unwrap();
        let out = text(s.take_output());
        assert!(out.starts_with("CONNECT {"), "{out}");
        assert!(out.contains("\r\nSUB _INBOX."), "{out}");
        assert!(out.contains("PUB _STAN.discover.test-cluster _INBOX."), "{out}");
        assert!(s.take_output().is_empty());
        assert_eq!(s.core().max_payload(), Some(1048576));
    }

    #[test]
    fn ping_is_answered_in_any_chunking() {
        let mut s = session();
        s.on_bytes(Duration::ZERO, b"INFO {}\r\nPI").unwrap();
        let _ = s.take_output();
        s.on_bytes(Duration::ZERO, b"NG\r\n").unwrap();
        assert_eq!(text(s.take_output()), "PONG\r\n");
    }

    #[test]
    fn errors_and_garbage() {
        let mut s = session();
        s.on_bytes(Duration::ZERO, b"INFO {}\r\n-ERR 'Authorization Violation'\r\n").unwrap();
        assert_eq!(s.poll_nats_error().as_deref(), Some("Authorization Violation"));
        assert!(s.on_bytes(Duration::ZERO, b"BOGUS\r\n").is_err());
    }

    #[test]
    fn status_messages_are_dropped_and_connect_timeout_still_fires() {
        let mut s = session();
        s.on_bytes(Duration::ZERO, b"INFO {}\r\nHMSG _INBOX.x.1 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n").unwrap();
        assert_eq!(s.core_mut().poll_event(), None);
        let deadline = s.core_mut().poll_timeout().unwrap();
        s.core_mut().handle_timeout(deadline);
        assert!(matches!(s.core_mut().poll_event(), Some(Event::ConnectFailed(_))));
    }
}
