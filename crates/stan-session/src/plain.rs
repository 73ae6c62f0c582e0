//! Plain core-NATS operations beside the STAN session (`sc.nc`): publish,
//! subscribe (with a queue group), unsubscribe and flush (a `PING` whose
//! `PONG` is matched in order). While disconnected, publishes are buffered
//! up to `SessionConfig::max_buffered` bytes (beyond that they are refused
//! with `NATS_ERROR`), subscriptions are re-sent on reconnect and flushes
//! wait for the next connection.

use nats_wire::ClientOp;
use stan_core::{Error, State};

use crate::pings::PingOwner;
use crate::{Link, NatsSession, PLAIN_SID_BASE};

/// Why a plain operation was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlainError {
    /// As the STAN session refuses it (`CONN_CLOSED`, `BAD_SUBJECT`, `MAX_PAYLOAD_EXCEEDED`).
    Stan(Error),
    /// The buffer of publishes made while disconnected is full (its bound, bytes).
    BufferFull(usize),
}

impl PlainError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            PlainError::Stan(e) => e.code(),
            PlainError::BufferFull(_) => "NATS_ERROR",
        }
    }
}

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlainError::Stan(e) => e.fmt(f),
            PlainError::BufferFull(n) => write!(f, "nats: reconnect buffer full ({n} bytes queued while disconnected)"),
        }
    }
}

impl From<Error> for PlainError {
    fn from(e: Error) -> Self {
        PlainError::Stan(e)
    }
}

fn check_subject(subject: &str) -> Result<(), Error> {
    if subject.is_empty() || subject.contains(char::is_whitespace) || subject.contains(char::is_control) {
        return Err(Error::BadSubject);
    }
    Ok(())
}

impl NatsSession {
    fn check_open(&self) -> Result<(), Error> {
        if matches!(self.core.state(), State::Closing | State::Closed) {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    /// Publish `payload` on `subject`. Errors: `ConnectionClosed`,
    /// `BadSubject`, `MaxPayloadExceeded`, or `Nats` when the
    /// disconnected buffer is full.
    pub fn plain_publish(&mut self, subject: &str, reply: Option<&str>, payload: &[u8]) -> Result<(), PlainError> {
        self.check_open()?;
        check_subject(subject)?;
        if let Some(r) = reply {
            check_subject(r)?;
        }
        if self.core.max_payload().is_some_and(|max| payload.len() > max) {
            return Err(Error::MaxPayloadExceeded.into());
        }
        let op = ClientOp::Pub { subject, reply, payload };
        if self.link == Link::Up {
            op.encode(&mut self.out).map_err(|_| Error::BadSubject.into())
        } else {
            let before = self.buffered.len();
            op.encode(&mut self.buffered).map_err(|_| Error::BadSubject)?;
            if self.buffered.len() > self.config.max_buffered {
                self.buffered.truncate(before);
                return Err(PlainError::BufferFull(self.config.max_buffered));
            }
            Ok(())
        }
    }

    /// Subscribe plain subscription `id` (the caller's, unique per session).
    pub fn plain_subscribe(&mut self, id: u64, subject: &str, queue: Option<&str>) -> Result<(), Error> {
        self.check_open()?;
        check_subject(subject)?;
        if let Some(q) = queue {
            check_subject(q)?;
        }
        let sid = PLAIN_SID_BASE + id;
        self.subs.insert(sid, subject, queue);
        if self.link == Link::Up {
            let _ = ClientOp::Sub { subject, queue_group: queue, sid }.encode(&mut self.out);
        }
        Ok(())
    }

    /// End plain subscription `id`.
    pub fn plain_unsubscribe(&mut self, id: u64) -> Result<(), Error> {
        self.check_open()?;
        let sid = PLAIN_SID_BASE + id;
        if self.subs.remove(sid) && self.link == Link::Up {
            let _ = ClientOp::Unsub { sid, max: None }.encode(&mut self.out);
        }
        Ok(())
    }

    /// Round trip to the server after everything queued before; the outcome
    /// comes as `NatsEvent::Flushed { id, .. }`.
    pub fn plain_flush(&mut self, id: u64) -> Result<(), Error> {
        self.check_open()?;
        if self.link == Link::Up {
            // The core's ops queued before go out first.
            let earlier = self.take_output();
            self.out = earlier;
            let _ = ClientOp::Ping.encode(&mut self.out);
            self.pings.sent(PingOwner::Flush(id));
        } else {
            self.flushes_waiting.push(id);
        }
        Ok(())
    }
}
