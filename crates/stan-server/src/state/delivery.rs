//! Delivery: sending stored messages to subscriptions within MaxInFlight,
//! picking queue members, acks, and ack-wait redelivery.

use super::{Pending, State, SubId, Timer};
use crate::log;
use crate::store::Record;
use bytes::Bytes;
use stan_proto::Ack;

impl State {
    /// Send whatever each subscription of `channel` may receive now.
    pub(crate) fn deliver_channel(&mut self, channel: &str, now: u64) {
        let Some(ch) = self.channels.get(channel) else { return };
        let plain = ch.plain.clone();
        let queues: Vec<String> = ch.queues.keys().cloned().collect();
        for sid in plain {
            self.deliver_plain(channel, sid, now);
        }
        for q in queues {
            self.deliver_queue(channel, &q, now);
        }
    }

    fn deliver_plain(&mut self, channel: &str, sid: SubId, now: u64) {
        loop {
            let Some(s) = self.subs.get(&sid) else { return };
            if s.offline || s.is_stalled() {
                return;
            }
            let Some(next) = self.channels[channel].log.next_at_or_after(s.last_sent + 1) else { return };
            self.send_new(sid, next, now);
        }
    }

    fn deliver_queue(&mut self, channel: &str, qkey: &str, now: u64) {
        loop {
            let Some(q) = self.channels.get(channel).and_then(|c| c.queues.get(qkey)) else { return };
            if q.members.is_empty() {
                return;
            }
            let Some(next) = self.channels[channel].log.next_at_or_after(q.last_sent + 1) else { return };
            let Some(to) = self.pick_member(channel, qkey, None) else { return };
            let q = self.channels.get_mut(channel).and_then(|c| c.queues.get_mut(qkey)).expect("group");
            q.last_sent = next;
            self.send_new(to, next, now);
        }
    }

    /// The member that should get the next message: not stalled, heartbeats
    /// healthy, fewest pending acks; ties rotate.
    fn pick_member(&mut self, channel: &str, qkey: &str, allow_stalled: Option<SubId>) -> Option<SubId> {
        let q = self.channels.get_mut(channel)?.queues.get_mut(qkey)?;
        let n = q.members.len();
        let mut best: Option<(usize, SubId, usize)> = None;
        for i in 0..n {
            let idx = (q.next_rr + i) % n;
            let sid = q.members[idx];
            let Some(s) = self.subs.get(&sid) else { continue };
            let healthy = self.clients.get(&s.client_id).is_some_and(|c| c.hb_fails == 0);
            let usable = !s.is_stalled() || allow_stalled.is_some();
            if !usable || !healthy {
                continue;
            }
            let load = s.pending.len();
            if best.is_none_or(|(l, _, _)| load < l) {
                best = Some((load, sid, idx));
            }
        }
        let (_, sid, idx) = best.or_else(|| allow_stalled.map(|s| (0, s, q.next_rr)))?;
        q.next_rr = (idx + 1) % n.max(1);
        Some(sid)
    }

    /// Send message `seq` for the first time to `sid`.
    fn send_new(&mut self, sid: SubId, seq: u64, now: u64) {
        let s = self.subs.get_mut(&sid).expect("sub");
        s.last_sent = s.last_sent.max(seq);
        let deadline = now + s.ack_wait_ms();
        s.pending.insert(seq, Pending { deadline, redeliveries: 0 });
        if self.cfg.persist {
            self.records.push(Record::Sent { channel: s.channel.clone(), sub_id: sid, sequence: seq });
        }
        self.timers.insert((deadline, Timer::Redeliver(sid, seq)));
        self.send_msg(sid, seq, false, 0);
    }

    fn send_msg(&mut self, sid: SubId, seq: u64, redelivered: bool, count: u32) -> bool {
        let s = &self.subs[&sid];
        let Some(m) = self.channels.get(&s.channel).and_then(|c| c.log.get(seq)) else { return false };
        let Some(data) = self.body_of(&s.channel, m) else { return false };
        let payload = super::wire::MsgRef {
            sequence: seq,
            subject: &s.channel,
            reply: &m.reply,
            data: &data,
            timestamp: m.timestamp,
            redelivered,
            redelivery_count: count,
        }
        .encode();
        self.counters.out_msgs += 1;
        self.counters.out_bytes += data.len() as u64;
        log::trace(format_args!(
            "[Client:{}] Delivering msg to subid={sid}, subject={}, seq={seq}{}",
            s.client_id,
            s.channel,
            if redelivered { " (redelivered)" } else { "" }
        ));
        let subject = s.inbox.clone();
        self.publish(subject, None, Bytes::from(payload));
        true
    }

    /// An Ack arrived on an ack inbox.
    pub fn handle_ack(&mut self, subject: &str, payload: &[u8], now: u64) {
        let Some(&sid) = self.ack_inboxes.get(subject) else {
            log::trace(format_args!("Ack on unknown inbox {subject}, ignored"));
            return;
        };
        let Some(ack) = stan_proto::decode::<Ack>(payload) else {
            log::debug(format_args!("Invalid ack ({} bytes), ignored", payload.len()));
            return;
        };
        let Some(s) = self.subs.get(&sid) else { return };
        let (channel, queue) = (s.channel.clone(), s.queue.clone());
        let mut owner = s.pending.contains_key(&ack.sequence).then_some(sid);
        if owner.is_none() && !queue.is_empty() {
            if let Some(q) = self.channels.get(&channel).and_then(|c| c.queues.get(&queue)) {
                owner = q
                    .members
                    .iter()
                    .chain(q.shadow.iter())
                    .copied()
                    .find(|m| self.subs.get(m).is_some_and(|x| x.pending.contains_key(&ack.sequence)));
            }
        }
        let Some(owner) = owner else { return };
        let p = self.subs.get_mut(&owner).and_then(|s| s.pending.remove(&ack.sequence)).expect("pending");
        self.timers.remove(&(p.deadline, Timer::Redeliver(owner, ack.sequence)));
        self.record(|| Record::Acked { channel: channel.clone(), sub_id: owner, sequence: ack.sequence });
        // The ack freed room on this subscription (or its group) only.
        if queue.is_empty() {
            self.deliver_plain(&channel, owner, now);
        } else {
            self.deliver_queue(&channel, &queue, now);
        }
    }

    /// A redelivery timer fired.
    pub(super) fn redeliver_due(&mut self, sid: SubId, seq: u64, deadline: u64, now: u64) {
        let Some(s) = self.subs.get(&sid) else { return };
        if s.offline || s.pending.get(&seq).is_none_or(|p| p.deadline != deadline) {
            return;
        }
        let (channel, queue, wait) = (s.channel.clone(), s.queue.clone(), s.ack_wait_ms());
        if self.channels.get(&channel).and_then(|c| c.log.get(seq)).is_none() {
            // Dropped by limits: nothing left to redeliver.
            self.subs.get_mut(&sid).expect("sub").pending.remove(&seq);
            self.record(|| Record::Acked { channel, sub_id: sid, sequence: seq });
            return;
        }
        let mut to = sid;
        if queue.is_empty() {
            let failing = self.clients.get(&s.client_id).is_none_or(|c| c.hb_fails > 0);
            if failing {
                let p = self.subs.get_mut(&sid).expect("sub").pending.get_mut(&seq).expect("pending");
                p.deadline = now + wait;
                self.timers.insert((p.deadline, Timer::Redeliver(sid, seq)));
                return;
            }
        } else if let Some(best) = self.pick_member(&channel, &queue, Some(sid)) {
            to = best;
        }
        let mut p = self.subs.get_mut(&sid).expect("sub").pending.remove(&seq).expect("pending");
        if to != sid {
            self.record(|| Record::Acked { channel: channel.clone(), sub_id: sid, sequence: seq });
            self.record(|| Record::Sent { channel: channel.clone(), sub_id: to, sequence: seq });
        }
        let target = self.subs.get_mut(&to).expect("member");
        p.redeliveries += 1;
        p.deadline = now + target.ack_wait_ms();
        target.last_sent = target.last_sent.max(seq);
        target.pending.insert(seq, p);
        self.timers.insert((p.deadline, Timer::Redeliver(to, seq)));
        self.send_msg(to, seq, true, p.redeliveries);
    }

    /// Redeliver right away the pending messages marked for immediate
    /// redelivery (deadline 0), as after a durable resume.
    pub(crate) fn redeliver_overdue_now(&mut self, sid: SubId, now: u64) {
        let Some(s) = self.subs.get_mut(&sid) else { return };
        if s.offline {
            return;
        }
        let wait = s.ack_wait_ms();
        let mut due = Vec::new();
        for (seq, p) in s.pending.iter_mut().filter(|(_, p)| p.deadline == 0) {
            p.deadline = now + wait;
            p.redeliveries += 1;
            due.push((*seq, *p));
        }
        for (seq, p) in due {
            self.timers.insert((p.deadline, Timer::Redeliver(sid, seq)));
            self.send_msg(sid, seq, true, p.redeliveries);
        }
    }

    /// Arm the pending messages marked for immediate redelivery (deadline 0),
    /// as after a durable resume or a restart.
    pub(crate) fn arm_overdue(&mut self, sid: SubId, now: u64) {
        let Some(s) = self.subs.get_mut(&sid) else { return };
        if s.offline {
            return;
        }
        for (seq, p) in s.pending.iter_mut() {
            if p.deadline == 0 {
                p.deadline = now;
                self.timers.insert((now, Timer::Redeliver(sid, *seq)));
            }
        }
    }
}
