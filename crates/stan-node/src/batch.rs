//! `Outbox`: session events packed for one crossing of the napi boundary.
//!
//! Each event is a record of numbers in `nums` (kind first, layout below),
//! strings go to `strs` (referenced by index) and message payloads are
//! appended to `data` (referenced by offset and length). Publish guids, the
//! bulk of the strings under publish load, are appended to one string `ids`
//! (referenced by offset and length) so a batch of N acks crosses the napi
//! boundary as one JS string, not N. The JS facade (`lib/batch.js`,
//! `lib/stan.js`) decodes the same layout; keep them in step.
//!
//! | kind | record after the kind |
//! |---|---|
//! | 1 connected | — |
//! | 2 connect failed | code, text |
//! | 3 pub ack | guid offset in `ids`, guid length, code (-1 = ok), text (-1) |
//! | 4 sub ready | sub |
//! | 5 message | sub, sequence, timestamp ns, redelivered (0/1), redelivery count, crc32, data offset, data length, subject |
//! | 6 sub error / 7 sub timeout | sub, op (0 subscribe, 1 unsubscribe, 2 close, 3 deliver), code, text |
//! | 8 unsubscribed / 9 sub closed / 10 sub ended | sub |
//! | 11 disconnected / 12 reconnected / 13 reconnecting | — |
//! | 14 connection lost | code, text |
//! | 15 closed | code (-1 = ok), text (-1) |
//! | 16 NATS error | kind (0 connect failed, 1 permission, 2 other), code, text |
//! | 17 core-NATS message (`sc.nc`) | id, reply (-1 = none), data offset, data length, subject |
//! | 18 flushed (`sc.nc.flush`) | id, ok (0/1) |
//! | 19 pub ack by slot (`JsStan` only) | the publish's JS slot, guid offset in `ids`, guid length, code (-1 = ok), text (-1) |
//!
//! Numbers are `f64`: sequences and nanosecond timestamps above 2^53 lose
//! precision, exactly like node-nats-streaming's `getTimestampRaw()`.

use stan_client::shared::SessionEvent;
use stan_core::{Error, Event, SubOp};

use crate::errors;

/// Events waiting for the JS thread.
#[derive(Debug, Default)]
pub struct Outbox {
    pub nums: Vec<f64>,
    pub data: Vec<u8>,
    pub strs: Vec<String>,
    /// Publish guids, back to back (ASCII).
    pub ids: String,
    /// A wake-up call is queued and `take` has not run since.
    pub scheduled: bool,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.nums.is_empty()
    }

    fn str(&mut self, s: String) -> f64 {
        self.strs.push(s);
        (self.strs.len() - 1) as f64
    }

    /// Intern `s`, reusing the last string when equal (a batch of messages
    /// usually repeats one channel name).
    fn str_ref(&mut self, s: &str) -> f64 {
        match self.strs.last() {
            Some(last) if last == s => (self.strs.len() - 1) as f64,
            _ => self.str(s.to_string()),
        }
    }

    fn error(&mut self, e: Error) {
        let code = self.str(e.code().to_string());
        let text = self.str(e.to_string());
        self.nums.extend_from_slice(&[code, text]);
    }

    fn result(&mut self, r: Result<(), Error>) {
        match r {
            Ok(()) => self.nums.extend_from_slice(&[-1.0, -1.0]),
            Err(e) => self.error(e),
        }
    }

    /// Append one event.
    pub fn push(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Core(ev) => self.push_core(ev),
            SessionEvent::Reconnecting => self.nums.push(13.0),
            SessionEvent::Nats { kind, text } => {
                let k = f64::from(kind.phase());
                let code = self.str(errors::nats_code(kind).to_string());
                let text = self.str(text);
                self.nums.extend_from_slice(&[16.0, k, code, text]);
            }
            SessionEvent::Plain { id, subject, reply, payload } => {
                let off = self.data.len() as f64;
                self.data.extend_from_slice(&payload);
                let reply = reply.map_or(-1.0, |r| self.str(r));
                let subject = self.str_ref(&subject);
                self.nums.extend_from_slice(&[17.0, id as f64, reply, off, payload.len() as f64, subject]);
            }
            SessionEvent::Flushed { id, ok } => {
                self.nums.extend_from_slice(&[18.0, id as f64, f64::from(u8::from(ok))])
            }
        }
    }

    /// The ack of a publish made with a JS slot: the slot, and its guid (so
    /// JS need not keep the guid string alive while the ack is pending).
    pub fn push_slot_ack(&mut self, slot: u32, guid: &str, result: Result<(), Error>) {
        let off = self.ids.len() as f64;
        self.ids.push_str(guid);
        self.nums.extend_from_slice(&[19.0, f64::from(slot), off, guid.len() as f64]);
        self.result(result);
    }

    fn push_core(&mut self, ev: Event) {
        match ev {
            Event::Connected => self.nums.push(1.0),
            Event::ConnectFailed(e) => {
                self.nums.push(2.0);
                self.error(e);
            }
            Event::PubAck { guid, result } => {
                let off = self.ids.len() as f64;
                self.ids.push_str(&guid);
                self.nums.extend_from_slice(&[3.0, off, guid.len() as f64]);
                self.result(result);
            }
            Event::SubReady { sub } => self.nums.extend_from_slice(&[4.0, sub.0 as f64]),
            Event::Message { sub, msg } => {
                let off = self.data.len() as f64;
                self.data.extend_from_slice(&msg.data);
                let subject = self.str_ref(&msg.subject);
                self.nums.extend_from_slice(&[
                    5.0,
                    sub.0 as f64,
                    msg.sequence as f64,
                    msg.timestamp as f64,
                    f64::from(u8::from(msg.redelivered)),
                    f64::from(msg.redelivery_count),
                    f64::from(msg.crc32),
                    off,
                    msg.data.len() as f64,
                    subject,
                ]);
            }
            Event::SubError { sub, op, error } | Event::SubTimeout { sub, op, error } => {
                let kind = if error.is_timeout() { 7.0 } else { 6.0 };
                let op = match op {
                    SubOp::Subscribe => 0.0,
                    SubOp::Unsubscribe => 1.0,
                    SubOp::Close => 2.0,
                    SubOp::Deliver => 3.0,
                };
                self.nums.extend_from_slice(&[kind, sub.0 as f64, op]);
                self.error(error);
            }
            Event::Unsubscribed { sub } => self.nums.extend_from_slice(&[8.0, sub.0 as f64]),
            Event::SubClosed { sub } => self.nums.extend_from_slice(&[9.0, sub.0 as f64]),
            Event::SubEnded { sub } => self.nums.extend_from_slice(&[10.0, sub.0 as f64]),
            Event::Disconnected => self.nums.push(11.0),
            Event::Reconnected => self.nums.push(12.0),
            Event::ConnectionLost(e) => {
                self.nums.push(14.0);
                self.error(e);
            }
            Event::Closed(Ok(())) => self.nums.extend_from_slice(&[15.0, -1.0, -1.0]),
            Event::Closed(Err(e)) => {
                let code = self.str(stan_core::js::close_error_code(&e).to_string());
                let text = self.str(e.to_string());
                self.nums.extend_from_slice(&[15.0, code, text]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use stan_core::{Message, SubId};

    fn msg(seq: u64, data: &'static [u8]) -> SessionEvent {
        let msg = Message {
            subject: "chan".into(),
            sequence: seq,
            reply: String::new(),
            data: Bytes::from_static(data),
            timestamp: 1_700_000_000_123_456_789,
            redelivered: seq == 2,
            redelivery_count: 0,
            crc32: 0,
        };
        SessionEvent::Core(Event::Message { sub: SubId(17), msg })
    }

    #[test]
    fn messages_share_one_buffer_and_one_subject_string() {
        let mut o = Outbox::default();
        o.push(msg(1, b"ab"));
        o.push(msg(2, b"cde"));
        assert_eq!(o.data, b"abcde");
        assert_eq!(o.strs, ["chan"]);
        assert_eq!(o.nums.len(), 20);
        assert_eq!(&o.nums[..10], &[5.0, 17.0, 1.0, 1_700_000_000_123_456_789_f64, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
        assert_eq!(&o.nums[10..], &[5.0, 17.0, 2.0, 1_700_000_000_123_456_789_f64, 1.0, 0.0, 0.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn acks_errors_and_close() {
        let mut o = Outbox::default();
        o.push(SessionEvent::Core(Event::PubAck { guid: "g1".into(), result: Ok(()) }));
        o.push(SessionEvent::Core(Event::PubAck { guid: "g22".into(), result: Err(Error::PublishAckTimeout) }));
        o.push(SessionEvent::Core(Event::SubTimeout {
            sub: SubId(3),
            op: SubOp::Close,
            error: Error::CloseRequestTimeout,
        }));
        o.push(SessionEvent::Nats { kind: stan_client::shared::NatsErrorKind::ConnectFailed, text: "refused".into() });
        o.push(SessionEvent::Core(Event::Closed(Ok(()))));
        assert_eq!(
            o.nums,
            [
                3.0, 0.0, 2.0, -1.0, -1.0, 3.0, 2.0, 3.0, 0.0, 1.0, 7.0, 3.0, 2.0, 2.0, 3.0, 16.0, 0.0, 4.0, 5.0, 15.0,
                -1.0, -1.0
            ]
        );
        assert_eq!(o.ids, "g1g22");
        assert_eq!(o.strs[0..2], ["ACK_TIMEOUT", "stan: publish ack timeout"]);
        assert_eq!(o.strs[2..4], ["stan: close request timeout", "stan: close request timeout"]);
        assert_eq!(o.strs[4..], ["CONN_ERR", "refused"]);
    }

    #[test]
    fn slot_acks_carry_the_slot_and_the_error() {
        let mut o = Outbox::default();
        o.push_slot_ack(5, "g1", Ok(()));
        o.push_slot_ack(9, "g22", Err(Error::PublishAckTimeout));
        assert_eq!(o.nums, [19.0, 5.0, 0.0, 2.0, -1.0, -1.0, 19.0, 9.0, 2.0, 3.0, 0.0, 1.0]);
        assert_eq!(o.strs, ["ACK_TIMEOUT", "stan: publish ack timeout"]);
        assert_eq!(o.ids, "g1g22");
    }
}
