//! Inputs: NATS messages the driver received, timer expiry, and NATS
//! connection status changes.

use std::time::Duration;

use bytes::Bytes;

use super::{Connection, SID_HEARTBEAT, SID_PING, SID_PUB_ACKS, SID_RESPONSES};
use crate::io::{Event, IncomingMessage, Message, NatsOp, ServerSubjects, State, SubId, SubOp};
use crate::ping::{PingTick, PingTimer};
use crate::requests::RequestKind;
use crate::subscriptions::Phase;
use crate::Error;

fn decode<M: prost::Message + Default>(payload: &[u8], name: &'static str) -> Result<M, Error> {
    stan_proto::decode::<M>(payload).ok_or(Error::Decode(name))
}

fn server_result(error: String) -> Result<(), Error> {
    if error.is_empty() {
        Ok(())
    } else {
        Err(Error::Server(error))
    }
}

impl Connection {
    /// A NATS message arrived on one of the session's subscriptions.
    pub fn handle_message(&mut self, now: Duration, msg: IncomingMessage) {
        let now = self.advance(now);
        if self.state == State::Closed {
            return;
        }
        match msg.sid {
            SID_HEARTBEAT => {
                if let Some(reply) = msg.reply {
                    self.publish_raw(reply, None, Bytes::new());
                }
            }
            SID_PUB_ACKS => self.on_pub_ack(&msg.payload),
            SID_PING => self.on_ping_reply(&msg.payload),
            SID_RESPONSES => {
                let token = msg
                    .subject
                    .strip_prefix(self.response_prefix.as_str())
                    .and_then(|t| t.strip_prefix('.'))
                    .and_then(|t| t.parse::<u64>().ok());
                if let Some(kind) = token.and_then(|t| self.requests.finish(t)) {
                    self.on_response(now, kind, &msg.payload);
                }
            }
            sid => {
                if let Some(sub) = self.subs.by_sid(sid) {
                    self.on_delivery(sub, msg.payload);
                }
            }
        }
    }

    /// Call when `now` reaches [`Connection::poll_timeout`] (calling earlier is harmless).
    pub fn handle_timeout(&mut self, now: Duration) {
        let now = self.advance(now);
        while self.state != State::Closed {
            let Some(kind) = self.requests.pop_expired(now) else { break };
            self.on_request_timeout(kind);
        }
        while self.state != State::Closed {
            let Some(guid) = self.pubs.pop_expired(now) else { break };
            self.events
                .push_back(Event::PubAck { guid: guid.as_str().to_string(), result: Err(Error::PublishAckTimeout) });
        }
        if self.state != State::Connected {
            return;
        }
        match self.ping.as_mut().and_then(|p| p.tick(now)) {
            Some(PingTick::Send) => {
                let (Some(srv), true) = (self.server.as_ref(), self.ping_subscribed) else { return };
                let to = srv.ping_requests.clone();
                let ping = stan_proto::Ping { conn_id: self.conn_id.clone() };
                let reply = Some(self.ping_inbox.clone());
                self.publish_raw(to, reply, stan_proto::encode(&ping));
            }
            Some(PingTick::Lost) => self.lose(Error::PingFailure),
            None => {}
        }
    }

    /// The driver's NATS connection dropped (it is reconnecting).
    pub fn handle_nats_disconnected(&mut self) {
        if self.state != State::Closed {
            self.events.push_back(Event::Disconnected);
        }
    }

    /// The driver's NATS connection is gone for good (it gave up
    /// reconnecting): outstanding publishes and subscriptions fail with
    /// [`Error::ConnectionClosed`] and the session ends with `Closed(Ok)`
    /// without talking to the server.
    pub fn handle_nats_closed(&mut self) {
        if self.state != State::Closed {
            let err = Error::ConnectionClosed;
            self.fail_all_pubs(&err);
            self.end_all_subs(&err);
            self.finish(Ok(()));
        }
    }

    /// The driver's NATS connection is back. There is no STAN re-handshake:
    /// pings tell whether the server still knows this client.
    pub fn handle_nats_reconnected(&mut self) {
        if self.state != State::Closed {
            self.events.push_back(Event::Reconnected);
        }
    }

    fn lose(&mut self, err: Error) {
        self.die(Event::ConnectionLost(err.clone()), err);
    }

    fn on_pub_ack(&mut self, payload: &[u8]) {
        let Ok(ack) = decode::<stan_proto::PubAck>(payload, "PubAck") else { return };
        if self.pubs.remove(&ack.guid) {
            self.events.push_back(Event::PubAck { guid: ack.guid, result: server_result(ack.error) });
        }
    }

    fn on_ping_reply(&mut self, payload: &[u8]) {
        if self.state != State::Connected {
            return;
        }
        let error = if payload.is_empty() {
            String::new()
        } else {
            match decode::<stan_proto::PingResponse>(payload, "PingResponse") {
                Ok(r) => r.error,
                Err(_) => return,
            }
        };
        if error.is_empty() {
            if let Some(p) = self.ping.as_mut() {
                p.reset();
            }
        } else {
            self.lose(Error::Server(error));
        }
    }

    fn on_delivery(&mut self, sub: SubId, payload: Bytes) {
        let Some(s) = self.subs.get_mut(sub) else { return };
        if s.detached {
            return;
        }
        // Decoding from `Bytes` makes `data` a slice of the NATS payload (no copy).
        let msg: Message = match <stan_proto::MsgProto as prost::Message>::decode(payload) {
            Ok(m) => m.into(),
            Err(_) => {
                let error = Error::Decode("MsgProto");
                self.events.push_back(Event::SubError { sub, op: SubOp::Deliver, error });
                return;
            }
        };
        if s.ack_inbox.is_none() {
            s.early.push(msg);
            return;
        }
        self.deliver(sub, msg);
    }

    /// Emit one message and, in auto-ack mode, ack it.
    fn deliver(&mut self, sub: SubId, msg: Message) {
        let manual = self.subs.get(sub).is_some_and(|s| s.opts.manual_acks);
        let seq = msg.sequence;
        self.events.push_back(Event::Message { sub, msg });
        if !manual {
            let _ = self.ack(sub, seq);
        }
    }

    fn on_response(&mut self, now: Duration, kind: RequestKind, payload: &[u8]) {
        match kind {
            RequestKind::Connect => self.on_connect_response(now, payload),
            RequestKind::Subscribe(sub) => self.on_sub_response(sub, payload),
            RequestKind::Unsubscribe(sub) | RequestKind::SubClose(sub) => {
                let op = if matches!(kind, RequestKind::SubClose(_)) { SubOp::Close } else { SubOp::Unsubscribe };
                let result = decode::<stan_proto::SubscriptionResponse>(payload, "SubscriptionResponse")
                    .and_then(|r| server_result(r.error));
                self.events.push_back(match (result, op) {
                    (Err(error), _) => Event::SubError { sub, op, error },
                    (Ok(()), SubOp::Close) => Event::SubClosed { sub },
                    (Ok(()), _) => Event::Unsubscribed { sub },
                });
                self.end_sub(sub);
            }
            RequestKind::Close => {
                let result =
                    decode::<stan_proto::CloseResponse>(payload, "CloseResponse").and_then(|r| server_result(r.error));
                self.finish(result);
            }
        }
    }

    fn on_connect_response(&mut self, now: Duration, payload: &[u8]) {
        if self.state != State::Connecting {
            return;
        }
        let r = match decode::<stan_proto::ConnectResponse>(payload, "ConnectResponse") {
            Ok(r) => r,
            Err(e) => return self.die(Event::ConnectFailed(e.clone()), e),
        };
        if !r.error.is_empty() {
            let e = Error::Server(r.error);
            return self.die(Event::ConnectFailed(e.clone()), e);
        }
        let srv = ServerSubjects {
            pub_prefix: r.pub_prefix,
            sub_requests: r.sub_requests,
            unsub_requests: r.unsub_requests,
            close_requests: r.close_requests,
            sub_close_requests: r.sub_close_requests,
            ping_requests: r.ping_requests,
            ping_interval: r.ping_interval,
            ping_max_out: r.ping_max_out,
            protocol: r.protocol,
        };
        if srv.protocol >= stan_proto::PROTOCOL_ONE && srv.ping_interval > 0 {
            let interval = Duration::from_secs(u64::from(srv.ping_interval.unsigned_abs()));
            self.ping = Some(PingTimer::new(now, interval, srv.ping_max_out));
        } else {
            self.ping_subscribed = false;
            self.transmits.push_back(NatsOp::Unsubscribe { sid: SID_PING });
        }
        let pub_prefix = srv.pub_prefix.clone();
        self.server = Some(srv);
        self.state = State::Connected;
        self.events.push_back(Event::Connected);
        for p in self.pubs.release_held() {
            let to = format!("{}.{}", pub_prefix, p.channel);
            let reply = Some(self.ack_subject.clone());
            self.publish_raw(to, reply, p.payload);
        }
        for id in self.subs.held() {
            self.send_sub_request(id);
        }
    }

    fn on_sub_response(&mut self, sub: SubId, payload: &[u8]) {
        let result = decode::<stan_proto::SubscriptionResponse>(payload, "SubscriptionResponse")
            .and_then(|r| server_result(r.error.clone()).map(|()| r.ack_inbox));
        let ack_inbox = match result {
            Ok(a) => a,
            Err(error) => {
                let deferred = self.subs.get(sub).and_then(|s| s.deferred);
                self.events.push_back(Event::SubError { sub, op: SubOp::Subscribe, error: error.clone() });
                self.events.push_back(Event::Unsubscribed { sub });
                if deferred == Some(SubOp::Close) {
                    self.events.push_back(Event::SubError { sub, op: SubOp::Close, error });
                }
                return self.end_sub(sub);
            }
        };
        let Some(s) = self.subs.get_mut(sub) else { return };
        s.ack_inbox = Some(ack_inbox);
        s.phase = Phase::Ready;
        let early = std::mem::take(&mut s.early);
        let deferred = s.deferred.take();
        self.events.push_back(Event::SubReady { sub });
        match deferred {
            Some(op) => self.send_end_request(sub, op),
            None => early.into_iter().for_each(|m| self.deliver(sub, m)),
        }
    }

    fn on_request_timeout(&mut self, kind: RequestKind) {
        match kind {
            RequestKind::Connect => {
                let e = Error::ConnectRequestTimeout;
                self.die(Event::ConnectFailed(e.clone()), e);
            }
            RequestKind::Subscribe(sub) => {
                let error = Error::SubscribeRequestTimeout;
                let deferred = self.subs.get(sub).and_then(|s| s.deferred);
                self.events.push_back(Event::SubTimeout { sub, op: SubOp::Subscribe, error: error.clone() });
                if let Some(op) = deferred {
                    self.events.push_back(Event::SubTimeout { sub, op, error });
                }
                self.cleanup_timed_out_sub(sub);
                self.end_sub(sub);
            }
            RequestKind::Unsubscribe(sub) => {
                let error = Error::UnsubscribeRequestTimeout;
                self.events.push_back(Event::SubTimeout { sub, op: SubOp::Unsubscribe, error });
                self.end_sub(sub);
            }
            RequestKind::SubClose(sub) => {
                let error = Error::CloseRequestTimeout;
                self.events.push_back(Event::SubTimeout { sub, op: SubOp::Close, error });
                self.end_sub(sub);
            }
            RequestKind::Close => self.finish(Err(Error::CloseRequestTimeout)),
        }
    }

    /// After a subscribe timeout the server may still create the
    /// subscription: ask it to close it (by delivery inbox), like the Go client.
    fn cleanup_timed_out_sub(&mut self, sub: SubId) {
        let (Some(srv), Some(s)) = (self.server.as_ref(), self.subs.get(sub)) else { return };
        let to = if srv.sub_close_requests.is_empty() { &srv.unsub_requests } else { &srv.sub_close_requests };
        let req = stan_proto::UnsubscribeRequest {
            client_id: self.config.client_id.clone(),
            subject: s.channel.clone(),
            inbox: s.inbox.clone(),
            durable_name: String::new(),
        };
        let to = to.clone();
        self.publish_raw(to, None, stan_proto::encode(&req));
    }
}
