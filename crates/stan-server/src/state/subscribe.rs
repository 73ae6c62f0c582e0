//! Subscription requests: create (plain, durable, queue, durable queue, with
//! every start position), resume, unsubscribe and close.

use super::{QueueGroup, State, Sub, SubId};
use crate::log;
use crate::store::{Record, SubRecord};
use stan_proto::{errors as e, StartPosition, SubscriptionRequest, SubscriptionResponse, UnsubscribeRequest};

impl State {
    /// A SubscriptionRequest arrived.
    pub fn handle_subscribe(&mut self, reply: &str, payload: &[u8], now: u64, wall_ns: i64) {
        match self.subscribe(payload, now, wall_ns) {
            Ok((sid, ack_inbox)) => {
                let resp = SubscriptionResponse { ack_inbox, error: String::new() };
                self.reply(reply, &resp);
                // Deliver only after the response, so the client knows the ack inbox.
                let channel = self.subs[&sid].channel.clone();
                // A resumed durable gets its unacknowledged messages first.
                self.redeliver_overdue_now(sid, now);
                self.deliver_channel(&channel, now);
            }
            Err(text) => {
                log::debug(format_args!("Subscription request failed: {text}"));
                let resp = SubscriptionResponse { ack_inbox: String::new(), error: text.to_string() };
                self.reply(reply, &resp);
            }
        }
    }

    fn subscribe(&mut self, payload: &[u8], now: u64, wall_ns: i64) -> Result<(SubId, String), &'static str> {
        let sr = stan_proto::decode::<SubscriptionRequest>(payload).ok_or(e::SRV_INVALID_SUB_REQ)?;
        if sr.client_id.is_empty() {
            return Err(e::SRV_MISSING_CLIENT_ID);
        }
        if sr.ack_wait_in_secs <= 0 {
            return Err(e::SRV_INVALID_ACK_WAIT);
        }
        if sr.max_in_flight <= 0 {
            return Err(e::SRV_INVALID_MAX_INFLIGHT);
        }
        let start = StartPosition::from_wire(sr.start_position).ok_or(e::SRV_INVALID_START)?;
        if !stan_proto::is_valid_channel(&sr.subject) {
            return Err(e::SRV_INVALID_SUBJECT);
        }
        if !stan_proto::subjects::is_valid_nats_subject(&sr.inbox) {
            return Err(e::SRV_INVALID_SUB_REQ);
        }
        if !self.clients.contains_key(&sr.client_id) {
            return Err(e::SRV_UNKNOWN_CLIENT);
        }
        self.channel_or_create(&sr.subject)?;
        // The channel's inactivity timer stops while the request is handled,
        // and starts again (from now) if it fails.
        self.stop_idle_timer(&sr.subject);
        let r = self.subscribe_on(&sr, start, now, wall_ns);
        self.channel_activity(&sr.subject, now);
        r
    }

    /// Create or resume the subscription `sr` asks for on its (existing) channel.
    fn subscribe_on(
        &mut self,
        sr: &SubscriptionRequest,
        start: StartPosition,
        now: u64,
        wall_ns: i64,
    ) -> Result<(SubId, String), &'static str> {
        let durable_queue = !sr.durable_name.is_empty() && !sr.q_group.is_empty();
        if durable_queue && sr.durable_name.contains(':') {
            return Err(e::SRV_DURABLE_QUEUE_COLON);
        }
        let ch = &self.channels[&sr.subject];
        if sr.q_group.is_empty() && !sr.durable_name.is_empty() {
            let key = format!("{}:{}", sr.client_id, sr.durable_name);
            if let Some(&sid) = ch.durables.get(&key) {
                if !self.subs[&sid].offline {
                    if !self.cfg.replace_durable {
                        return Err(e::SRV_DUP_DURABLE);
                    }
                    self.end_sub(sid, true, now);
                }
                return Ok(self.resume(sid, sr));
            }
        }
        let qkey = if durable_queue { format!("{}:{}", sr.durable_name, sr.q_group) } else { sr.q_group.clone() };
        if !qkey.is_empty() {
            if let Some(q) = ch.queues.get(&qkey) {
                if let Some(shadow) = q.shadow {
                    return Ok(self.resume(shadow, sr));
                }
                let (last_sent, sid) = (q.last_sent, self.alloc_sub_id());
                let ack_inbox = self.new_ack_inbox();
                self.check_sub_limit(&sr.subject)?;
                let sub = new_sub(sid, sr, &qkey, ack_inbox.clone(), last_sent);
                self.add_sub(sub);
                return Ok((sid, ack_inbox));
            }
        }
        self.check_sub_limit(&sr.subject)?;
        let start_after = self.start_cursor(sr, start, wall_ns);
        let sid = self.alloc_sub_id();
        let ack_inbox = self.new_ack_inbox();
        let sub = new_sub(sid, sr, &qkey, ack_inbox.clone(), start_after);
        if !qkey.is_empty() {
            let ch = self.channels.get_mut(&sr.subject).expect("exists");
            ch.queues
                .insert(qkey, QueueGroup { last_sent: start_after, is_durable: durable_queue, ..Default::default() });
        }
        self.add_sub(sub);
        Ok((sid, ack_inbox))
    }

    fn check_sub_limit(&self, channel: &str) -> Result<(), &'static str> {
        let max = self.cfg.max_subs;
        if max > 0 && self.channels[channel].subs_count() >= max {
            return Err(e::SRV_TOO_MANY_SUBS);
        }
        Ok(())
    }

    /// The sequence after which a new subscription starts.
    fn start_cursor(&self, sr: &SubscriptionRequest, start: StartPosition, wall_ns: i64) -> u64 {
        let log = &self.channels[&sr.subject].log;
        let (first, last) = (log.first_seq(), log.last_seq());
        match start {
            StartPosition::NewOnly => last,
            StartPosition::LastReceived => last.saturating_sub(1),
            StartPosition::First => first.saturating_sub(1).min(last),
            StartPosition::TimeDeltaStart => {
                let since = wall_ns.saturating_sub(sr.start_time_delta.max(0));
                log.first_at_or_after_time(since).map_or(last, |s| s - 1)
            }
            StartPosition::SequenceStart => {
                let s = sr.start_sequence;
                if s <= first {
                    first.saturating_sub(1).min(last)
                } else if s > last {
                    last
                } else {
                    log.next_at_or_after(s).map_or(last, |n| n - 1)
                }
            }
        }
    }

    /// An offline durable (or durable queue shadow) comes back online.
    fn resume(&mut self, sid: SubId, sr: &SubscriptionRequest) -> (SubId, String) {
        let sub = self.subs.get_mut(&sid).expect("durable exists");
        sub.client_id = sr.client_id.clone();
        sub.inbox = sr.inbox.clone();
        sub.max_in_flight = sr.max_in_flight as u32;
        sub.ack_wait_secs = sr.ack_wait_in_secs;
        sub.offline = false;
        let (channel, queue, ack_inbox) = (sub.channel.clone(), sub.queue.clone(), sub.ack_inbox.clone());
        // Everything pending is redelivered right away.
        self.disarm_all(sid);
        if let Some(s) = self.subs.get_mut(&sid) {
            for (_, p) in s.pending.iter_mut() {
                p.deadline = 0;
            }
        }
        if !queue.is_empty() {
            let q = self.channels.get_mut(&channel).and_then(|c| c.queues.get_mut(&queue)).expect("group exists");
            q.shadow = None;
            q.members.push(sid);
        }
        if let Some(c) = self.clients.get_mut(&sr.client_id) {
            c.subs.push(sid);
        }
        self.ack_inboxes.insert(ack_inbox.clone(), sid);
        self.record_sub(sid);
        log::debug(format_args!(
            "[Client:{}] Resumed durable subscription on {channel:?} (durable={:?}, queue={:?})",
            sr.client_id, sr.durable_name, sr.q_group
        ));
        (sid, ack_inbox)
    }

    /// Index a new subscription everywhere.
    pub(crate) fn add_sub(&mut self, sub: Sub) {
        let sid = sub.id;
        let ch = self.channels.get_mut(&sub.channel).expect("channel exists");
        if sub.queue.is_empty() {
            ch.plain.push(sid);
            if sub.is_durable {
                ch.durables.insert(format!("{}:{}", sub.client_id, sub.durable_name), sid);
            }
        } else {
            let q = ch.queues.entry(sub.queue.clone()).or_default();
            q.is_durable |= sub.is_durable;
            if sub.offline {
                q.shadow = Some(sid);
                q.is_durable = true;
            } else {
                q.members.push(sid);
            }
            q.last_sent = q.last_sent.max(sub.last_sent);
        }
        if !sub.offline {
            if let Some(c) = self.clients.get_mut(&sub.client_id) {
                c.subs.push(sid);
            }
        }
        log::debug(format_args!(
            "[Client:{}] Added subscription on {:?} (inbox={}, durable={:?}, queue={:?})",
            sub.client_id, sub.channel, sub.inbox, sub.durable_name, sub.queue
        ));
        self.ack_inboxes.insert(sub.ack_inbox.clone(), sid);
        self.subs.insert(sid, sub);
        self.record_sub(sid);
    }

    pub(crate) fn record_sub(&mut self, sid: SubId) {
        if !self.cfg.persist {
            return;
        }
        let s = &self.subs[&sid];
        let rec = Record::SubUpsert {
            channel: s.channel.clone(),
            sub: SubRecord {
                sub_id: s.id,
                client_id: if s.offline && !s.is_durable { String::new() } else { s.client_id.clone() },
                inbox: s.inbox.clone(),
                ack_inbox: s.ack_inbox.clone(),
                durable_name: s.durable_name.clone(),
                queue_group: s.queue.clone(),
                is_durable: s.is_durable,
                max_in_flight: s.max_in_flight as i32,
                ack_wait_secs: s.ack_wait_secs,
                last_sent: s.last_sent,
            },
        };
        self.records.push(rec);
    }

    /// An UnsubscribeRequest arrived on the unsub (`close == false`) or sub-close subject.
    pub fn handle_unsubscribe(&mut self, reply: &str, payload: &[u8], close: bool, now: u64) {
        let text = match self.unsubscribe(payload, close, now) {
            Ok(()) => "",
            Err(t) => {
                log::debug(format_args!("Unsubscribe request failed: {t}"));
                t
            }
        };
        let resp = SubscriptionResponse { ack_inbox: String::new(), error: text.to_string() };
        self.reply(reply, &resp);
    }

    fn unsubscribe(&mut self, payload: &[u8], close: bool, now: u64) -> Result<(), &'static str> {
        let req = stan_proto::decode::<UnsubscribeRequest>(payload).ok_or(e::SRV_INVALID_UNSUB_REQ)?;
        if !self.channels.contains_key(&req.subject) {
            return Err(e::SRV_UNKNOWN_CHANNEL);
        }
        let client = self.clients.get(&req.client_id).ok_or(e::SRV_UNKNOWN_CLIENT)?;
        let sid = client
            .subs
            .iter()
            .copied()
            .find(|sid| {
                let s = &self.subs[sid];
                s.channel == req.subject && (s.ack_inbox == req.inbox || s.inbox == req.inbox)
            })
            .ok_or(e::SRV_INVALID_SUB)?;
        let keep = close && self.subs[&sid].is_durable;
        log::debug(format_args!(
            "[Client:{}] {} subscription on {:?}",
            req.client_id,
            if close { "Closing" } else { "Unsubscribing" },
            req.subject
        ));
        self.end_sub(sid, keep, now);
        Ok(())
    }

    /// Take a subscription down. `keep` leaves a durable offline; otherwise
    /// its state is deleted. A queue member's pending messages move to the
    /// remaining members.
    pub(crate) fn end_sub(&mut self, sid: SubId, keep: bool, now: u64) {
        let Some(channel) = self.subs.get(&sid).map(|s| s.channel.clone()) else { return };
        self.take_sub_down(sid, keep, now);
        self.channel_activity(&channel, now);
    }

    fn take_sub_down(&mut self, sid: SubId, keep: bool, now: u64) {
        let Some(sub) = self.subs.get(&sid) else { return };
        let (cid, channel, queue) = (sub.client_id.clone(), sub.channel.clone(), sub.queue.clone());
        if let Some(c) = self.clients.get_mut(&cid) {
            c.subs.retain(|s| *s != sid);
        }
        self.disarm_all(sid);
        if queue.is_empty() {
            if keep {
                self.set_offline(sid);
            } else {
                self.delete_sub(sid);
            }
            return;
        }
        let Some(q) = self.channels.get_mut(&channel).and_then(|c| c.queues.get_mut(&queue)) else {
            return self.delete_sub(sid);
        };
        q.members.retain(|m| *m != sid);
        if !q.members.is_empty() {
            // Hand the pending messages to the others, redelivered shortly.
            let members = q.members.clone();
            let n = members.len();
            let deadline = now + 100;
            let held = self.subs.get_mut(&sid).map(|s| std::mem::take(&mut s.pending)).unwrap_or_default();
            let moved: Vec<(u64, super::Pending)> =
                held.into_iter().map(|(seq, p)| (seq, super::Pending { deadline, ..p })).collect();
            // Dealt round-robin; each member merges its share at once.
            for (k, &to) in members.iter().enumerate() {
                let share = || moved.iter().skip(k).step_by(n).copied();
                let member = self.subs.get_mut(&to).expect("member");
                member.pending.extend(share());
                // As a replay of the Sent records below would have it.
                if let Some((last, _)) = share().last() {
                    member.last_sent = member.last_sent.max(last);
                }
            }
            for (i, &(seq, _)) in moved.iter().enumerate() {
                let to = members[i % n];
                self.arm_redelivery(to, seq, deadline);
                self.record(|| Record::Sent { channel: channel.clone(), sub_id: to, sequence: seq });
            }
            self.delete_sub(sid);
            return;
        }
        let durable_group = q.is_durable;
        if durable_group && keep {
            q.shadow = Some(sid);
            // The shadow's record carries the group's position, so a restart
            // resumes the group where it was.
            let pos = q.last_sent;
            if let Some(s) = self.subs.get_mut(&sid) {
                s.last_sent = s.last_sent.max(pos);
            }
            self.set_offline(sid);
        } else {
            self.channels.get_mut(&channel).expect("channel").queues.remove(&queue);
            self.delete_sub(sid);
        }
    }

    fn set_offline(&mut self, sid: SubId) {
        let Some(s) = self.subs.get_mut(&sid) else { return };
        s.offline = true;
        s.inbox.clear();
        self.record_sub(sid);
    }

    fn delete_sub(&mut self, sid: SubId) {
        let Some(s) = self.subs.remove(&sid) else { return };
        self.ack_inboxes.remove(&s.ack_inbox);
        if let Some(ch) = self.channels.get_mut(&s.channel) {
            ch.plain.retain(|x| *x != sid);
            if s.is_durable && s.queue.is_empty() {
                ch.durables.remove(&format!("{}:{}", s.client_id, s.durable_name));
            }
        }
        self.record(|| Record::SubDeleted { channel: s.channel.clone(), sub_id: sid });
    }
}

fn new_sub(sid: SubId, sr: &SubscriptionRequest, qkey: &str, ack_inbox: String, last_sent: u64) -> Sub {
    Sub {
        id: sid,
        channel: sr.subject.clone(),
        client_id: sr.client_id.clone(),
        inbox: sr.inbox.clone(),
        ack_inbox,
        durable_name: sr.durable_name.clone(),
        queue: qkey.to_string(),
        is_durable: !sr.durable_name.is_empty(),
        max_in_flight: sr.max_in_flight as u32,
        ack_wait_secs: sr.ack_wait_in_secs,
        last_sent,
        pending: Default::default(),
        ack_queue: Default::default(),
        offline: false,
    }
}
