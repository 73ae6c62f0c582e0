//! The application's commands: publish, subscribe, ack, unsubscribe, sub
//! close and connection close.

use std::time::Duration;

use bytes::Bytes;
use stan_proto::borrowed::{encode_ack_into, encode_pub_msg_into};
use stan_proto::nuid::NUID_LEN;

use super::{AckFrame, Connection, PubFrame};
use crate::config::SubscriptionOptions;
use crate::io::{Event, NatsOp, State, SubId, SubOp};
use crate::pub_acks::HeldPublish;
use crate::requests::RequestKind;
use crate::subscriptions::{Phase, Sub};
use crate::{Error, Guid};

/// A subject the session can put on the NATS wire at all.
fn usable_subject(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

impl Connection {
    /// Publish `data` on channel `subject`; returns the guid the PubAck event
    /// will carry. Before the handshake completes the publish is held and
    /// sent on `Connected` (its ack timer already runs).
    ///
    /// Errors: [`Error::ConnectionClosed`] once closing or closed,
    /// [`Error::BadSubject`] for an empty subject or one with whitespace,
    /// [`Error::MaxInFlightReached`] when `max_pub_acks_inflight` acks are
    /// outstanding (nothing is sent then), [`Error::MaxPayloadExceeded`] when
    /// the encoded PubMsg is larger than the server's `max_payload`.
    ///
    /// `data` is borrowed: it is copied once, straight into the encoded PubMsg.
    pub fn publish(&mut self, now: Duration, subject: &str, data: impl AsRef<[u8]>) -> Result<String, Error> {
        self.publish_guid(now, subject, data).map(|g| g.as_str().to_string())
    }

    /// [`Connection::publish`] returning the guid inline (no allocation).
    pub fn publish_guid(&mut self, now: Duration, subject: &str, data: impl AsRef<[u8]>) -> Result<Guid, Error> {
        self.publish_inner(now, subject, data.as_ref(), None::<fn(PubFrame<'_>)>)
    }

    /// [`Connection::publish`] where the driver encodes the PUB itself:
    /// `emit` gets the frame (subject parts, reply, PubMsg bytes) at once
    /// instead of a [`NatsOp::Publish`] being queued — no allocation per
    /// publish. When ops are still queued (their order must hold) or the
    /// handshake is not done, the publish is queued or held as usual and
    /// `emit` is not called.
    pub fn publish_into(
        &mut self,
        now: Duration,
        subject: &str,
        data: &[u8],
        emit: impl FnOnce(PubFrame<'_>),
    ) -> Result<Guid, Error> {
        self.publish_inner(now, subject, data, Some(emit))
    }

    fn publish_inner(
        &mut self,
        now: Duration,
        subject: &str,
        data: &[u8],
        emit: Option<impl FnOnce(PubFrame<'_>)>,
    ) -> Result<Guid, Error> {
        let now = self.advance(now);
        if matches!(self.state, State::Closing | State::Closed) {
            return Err(Error::ConnectionClosed);
        }
        if !usable_subject(subject) {
            return Err(Error::BadSubject);
        }
        if self.pubs.len() >= self.config.max_pub_acks_inflight {
            return Err(Error::MaxInFlightReached);
        }
        let mut g = [0u8; NUID_LEN];
        self.nuid.next_into(&mut g);
        let guid = Guid::new(g);
        encode_pub_msg_into(&mut self.scratch, &self.config.client_id, guid.as_str(), subject, data, &self.conn_id);
        if self.max_payload.is_some_and(|max| self.scratch.len() > max) {
            return Err(Error::MaxPayloadExceeded);
        }
        self.pubs.insert(guid, now + self.config.ack_timeout);
        match (&self.server, emit) {
            (Some(srv), Some(emit)) if self.transmits.is_empty() => emit(PubFrame {
                prefix: &srv.pub_prefix,
                channel: subject,
                reply: &self.ack_subject,
                payload: &self.scratch,
            }),
            (Some(srv), _) => {
                let to = format!("{}.{}", srv.pub_prefix, subject);
                let reply = Some(self.ack_subject.clone());
                let payload = Bytes::copy_from_slice(&self.scratch);
                self.publish_raw(to, reply, payload);
            }
            (None, _) => {
                let payload = Bytes::copy_from_slice(&self.scratch);
                self.pubs.hold(HeldPublish { guid, channel: subject.to_string(), payload })
            }
        }
        Ok(guid)
    }

    /// Subscribe to channel `subject`. The delivery inbox is SUBscribed at
    /// once; the SubscriptionRequest goes out now, or on `Connected` if the
    /// handshake is still running. The outcome arrives as `SubReady`, or
    /// `SubError`/`SubTimeout` with [`SubOp::Subscribe`].
    ///
    /// Errors: [`Error::ConnectionClosed`], [`Error::BadSubject`] and the
    /// option checks of [`SubscriptionOptions::validate`].
    pub fn subscribe(&mut self, now: Duration, subject: &str, opts: SubscriptionOptions) -> Result<SubId, Error> {
        self.advance(now);
        if matches!(self.state, State::Closing | State::Closed) {
            return Err(Error::ConnectionClosed);
        }
        if !usable_subject(subject) {
            return Err(Error::BadSubject);
        }
        opts.validate()?;
        let sid = self.alloc_sid();
        let inbox = self.next_inbox();
        self.transmits.push_back(NatsOp::Subscribe { sid, subject: inbox.clone() });
        let id = self.subs.add(Sub {
            sid,
            channel: subject.to_string(),
            inbox,
            opts,
            ack_inbox: None,
            phase: Phase::Held,
            deferred: None,
            detached: false,
            early: Vec::new(),
        });
        if self.state == State::Connected {
            self.send_sub_request(id);
        }
        Ok(id)
    }

    /// Send the SubscriptionRequest of a held subscription.
    pub(super) fn send_sub_request(&mut self, id: SubId) {
        let (Some(srv), Some(s)) = (self.server.as_ref(), self.subs.get(id)) else { return };
        let (start, seq, delta) = s.opts.wire_start();
        let req = stan_proto::SubscriptionRequest {
            client_id: self.config.client_id.clone(),
            subject: s.channel.clone(),
            q_group: s.opts.queue_group.clone().unwrap_or_default(),
            inbox: s.inbox.clone(),
            max_in_flight: s.opts.max_in_flight,
            ack_wait_in_secs: i32::try_from(s.opts.ack_wait.as_secs()).unwrap_or(i32::MAX),
            durable_name: s.opts.durable_name.clone().unwrap_or_default(),
            start_position: start as i32,
            start_sequence: seq,
            start_time_delta: delta,
        };
        let to = srv.sub_requests.clone();
        if let Some(s) = self.subs.get_mut(id) {
            s.phase = Phase::Requested;
        }
        self.request(RequestKind::Subscribe(id), to, stan_proto::encode(&req));
    }

    /// Acknowledge message `sequence` of subscription `sub` (publishes an Ack
    /// to its ack inbox). A no-op once the subscription is closed or gone.
    pub fn ack(&mut self, sub: SubId, sequence: u64) -> Result<(), Error> {
        self.ack_inner(sub, sequence, None::<fn(AckFrame<'_>)>)
    }

    /// [`Connection::ack`] where the driver encodes the PUB itself (as
    /// [`Connection::publish_into`]: `emit` is called only when no op is
    /// queued ahead; otherwise the ack is queued).
    pub fn ack_into(&mut self, sub: SubId, sequence: u64, emit: impl FnOnce(AckFrame<'_>)) -> Result<(), Error> {
        self.ack_inner(sub, sequence, Some(emit))
    }

    fn ack_inner(&mut self, sub: SubId, sequence: u64, emit: Option<impl FnOnce(AckFrame<'_>)>) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(Error::ConnectionClosed);
        }
        let Some(s) = self.subs.get(sub) else { return Ok(()) };
        if s.detached {
            return Ok(());
        }
        let Some(ack_inbox) = s.ack_inbox.as_deref() else { return Ok(()) };
        encode_ack_into(&mut self.scratch, &s.channel, sequence);
        match emit {
            Some(emit) if self.transmits.is_empty() => emit(AckFrame { subject: ack_inbox, payload: &self.scratch }),
            _ => {
                let to = ack_inbox.to_string();
                let payload = Bytes::copy_from_slice(&self.scratch);
                self.publish_raw(to, None, payload);
            }
        }
        Ok(())
    }

    /// Unsubscribe: stop local delivery now and remove the server-side state
    /// (durables included). The reply arrives as `Unsubscribed`, or
    /// `SubError`/`SubTimeout` with [`SubOp::Unsubscribe`].
    pub fn unsubscribe(&mut self, now: Duration, sub: SubId) -> Result<(), Error> {
        self.end_request(now, sub, SubOp::Unsubscribe)
    }

    /// Close the subscription: like [`Connection::unsubscribe`] but a durable
    /// stays on the server, offline. The reply arrives as `SubClosed`, or
    /// `SubError`/`SubTimeout` with [`SubOp::Close`].
    pub fn close_subscription(&mut self, now: Duration, sub: SubId) -> Result<(), Error> {
        self.end_request(now, sub, SubOp::Close)
    }

    fn end_request(&mut self, now: Duration, sub: SubId, op: SubOp) -> Result<(), Error> {
        self.advance(now);
        if matches!(self.state, State::Closing | State::Closed) {
            return Err(Error::ConnectionClosed);
        }
        let no_sub_close = op == SubOp::Close && self.server.as_ref().is_some_and(|s| s.sub_close_requests.is_empty());
        let Some(s) = self.subs.get_mut(sub) else { return Err(Error::InvalidSubscription) };
        if s.detached {
            return Err(Error::InvalidSubscription);
        }
        if no_sub_close {
            return Err(Error::NotSupportedByServer);
        }
        s.detached = true;
        s.early.clear();
        let sid = s.sid;
        let phase = s.phase;
        self.transmits.push_back(NatsOp::Unsubscribe { sid });
        match phase {
            Phase::Ready => self.send_end_request(sub, op),
            Phase::Held => {
                // Nothing reached the server: end locally.
                self.events.push_back(match op {
                    SubOp::Close => Event::SubClosed { sub },
                    _ => Event::Unsubscribed { sub },
                });
                self.end_sub(sub);
            }
            Phase::Requested => {
                if let Some(s) = self.subs.get_mut(sub) {
                    s.deferred = Some(op);
                }
            }
            Phase::Closing(_) => {}
        }
        Ok(())
    }

    /// Send the unsubscribe or sub-close request of a ready subscription.
    pub(super) fn send_end_request(&mut self, sub: SubId, op: SubOp) {
        let (Some(srv), Some(s)) = (self.server.as_ref(), self.subs.get(sub)) else { return };
        let req = stan_proto::UnsubscribeRequest {
            client_id: self.config.client_id.clone(),
            subject: s.channel.clone(),
            inbox: s.ack_inbox.clone().unwrap_or_else(|| s.inbox.clone()),
            durable_name: String::new(),
        };
        let (to, kind) = match op {
            SubOp::Close => (srv.sub_close_requests.clone(), RequestKind::SubClose(sub)),
            _ => (srv.unsub_requests.clone(), RequestKind::Unsubscribe(sub)),
        };
        if let Some(s) = self.subs.get_mut(sub) {
            s.phase = Phase::Closing(op);
        }
        self.request(kind, to, stan_proto::encode(&req));
    }

    /// Close the session. Outstanding publishes fail with
    /// [`Error::ConnectionClosed`] and subscriptions end at once; then a
    /// CloseRequest is sent and `Closed` reports its outcome. Before the
    /// handshake completed the session closes immediately. Calling it again
    /// is a no-op.
    pub fn close(&mut self, now: Duration) {
        self.advance(now);
        match self.state {
            State::Closing | State::Closed => {}
            State::Connecting => {
                let err = Error::ConnectionClosed;
                self.fail_all_pubs(&err);
                self.end_all_subs(&err);
                self.finish(Ok(()));
            }
            State::Connected => {
                let err = Error::ConnectionClosed;
                self.fail_all_pubs(&err);
                self.end_all_subs(&err);
                self.ping = None;
                self.state = State::Closing;
                let req = stan_proto::CloseRequest { client_id: self.config.client_id.clone() };
                let to = self.server.as_ref().map(|s| s.close_requests.clone()).unwrap_or_default();
                self.request(RequestKind::Close, to, stan_proto::encode(&req));
            }
        }
    }
}
