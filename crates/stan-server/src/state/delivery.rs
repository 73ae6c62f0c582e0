//! Delivery: sending stored messages to subscriptions within MaxInFlight,
//! picking queue members, acks, and ack-wait redelivery.

use super::{Pending, State, Sub, SubId, Timer};
use crate::log;
use crate::store::Record;

impl State {
    /// Send whatever each subscription of `channel` may receive now; a
    /// message going to several subscriptions is encoded once.
    pub(crate) fn deliver_channel(&mut self, channel: &str, now: u64) {
        self.shared_msg.begin();
        self.deliver_channel_subs(channel, now);
        self.shared_msg.end();
    }

    fn deliver_channel_subs(&mut self, channel: &str, now: u64) {
        // By index: delivering never adds or removes subscriptions.
        let mut i = 0;
        while let Some(&sid) = self.channels.get(channel).and_then(|c| c.plain.get(i)) {
            self.deliver_plain(sid, now);
            i += 1;
        }
        let Some(ch) = self.channels.get(channel) else { return };
        if ch.queues.is_empty() {
            return;
        }
        let queues: Vec<String> = ch.queues.keys().cloned().collect();
        for q in queues {
            self.deliver_queue(channel, &q, now);
        }
    }

    /// Send a plain subscription what it may receive now.
    fn deliver_plain(&mut self, sid: SubId, now: u64) {
        loop {
            let (next, last) = {
                let Some(s) = self.subs.get(&sid) else { return };
                if s.offline || s.is_stalled() {
                    return;
                }
                let Some(ch) = self.channels.get(&s.channel) else { return };
                let Some(next) = ch.log.next_at_or_after(s.last_sent + 1) else { return };
                (next, ch.log.last_seq())
            };
            self.send_new(sid, next, now);
            if next >= last {
                // The newest message: nothing to look up again.
                return;
            }
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
        arm(&mut self.timers, sid, s, seq, deadline);
        self.send_msg(sid, seq, false, 0);
    }

    /// Arm the redelivery of pending message `seq` of `sid` at `deadline`
    /// (which its `Pending` entry already holds).
    pub(super) fn arm_redelivery(&mut self, sid: SubId, seq: u64, deadline: u64) {
        if let Some(s) = self.subs.get_mut(&sid) {
            arm(&mut self.timers, sid, s, seq, deadline);
        }
    }

    /// Drop every ack-wait timer of `sid` (its pending messages are re-armed
    /// another way, or it goes offline).
    pub(super) fn disarm_all(&mut self, sid: SubId) {
        let Some(s) = self.subs.get_mut(&sid) else { return };
        for (seq, p) in s.pending.iter() {
            self.timers.remove(&(p.deadline, Timer::Redeliver(sid, seq)));
        }
        s.ack_queue.clear();
        if let Some(a) = s.ack_queue.armed.take() {
            self.timers.remove(&(a, Timer::AckWait(sid)));
        }
    }

    /// A subscription's earliest ack-wait deadline passed: redeliver what is
    /// due, then arm its timer at the next deadline.
    pub(super) fn ack_wait_due(&mut self, sid: SubId, deadline: u64, now: u64) {
        let Some(s) = self.subs.get_mut(&sid) else { return };
        if s.ack_queue.armed != Some(deadline) {
            return;
        }
        s.ack_queue.armed = None;
        // Bounded: each round pops one entry; redeliveries go behind `now`.
        while let Some((d, seq)) = self.subs.get_mut(&sid).and_then(|s| s.ack_queue.pop_due(now)) {
            self.redeliver_due(sid, seq, d, now);
        }
        let Some(s) = self.subs.get_mut(&sid) else { return };
        let Some(front) = s.ack_queue.front(&s.pending) else { return };
        match s.ack_queue.armed {
            Some(a) if a <= front => {}
            other => {
                if let Some(a) = other {
                    self.timers.remove(&(a, Timer::AckWait(sid)));
                }
                s.ack_queue.armed = Some(front);
                self.timers.insert((front, Timer::AckWait(sid)));
            }
        }
    }

    fn send_msg(&mut self, sid: SubId, seq: u64, redelivered: bool, count: u32) -> bool {
        let s = &self.subs[&sid];
        let own_len = super::wire::own_len(redelivered, count);
        let encode_own = |b: &mut Vec<u8>| super::wire::encode_own(redelivered, count, b);
        let data_len = if let Some((shared, data_len)) = self.shared_msg.get(&s.channel, seq) {
            // Another subscription got this message in the same pass: its shared bytes are ready.
            self.out.publish(&s.inbox, shared.len() + own_len, |b| {
                b.extend_from_slice(shared);
                encode_own(b)
            });
            data_len
        } else {
            let Some(m) = self.channels.get(&s.channel).and_then(|c| c.log.get(seq)) else { return false };
            let Some(data) = self.body_of(&s.channel, m) else { return false };
            let r = super::wire::MsgRef {
                sequence: seq,
                subject: &s.channel,
                reply: &m.reply,
                data: &data,
                timestamp: m.timestamp,
                redelivered,
                redelivery_count: count,
            };
            match self.shared_msg.fill(&r) {
                Some(shared) => self.out.publish(&s.inbox, shared.len() + own_len, |b| {
                    b.extend_from_slice(shared);
                    encode_own(b)
                }),
                None => self.out.publish(&s.inbox, r.encoded_len(), |b| r.encode_into(b)),
            }
            data.len()
        };
        self.counters.out_msgs += 1;
        self.counters.out_bytes += data_len as u64;
        log::trace(format_args!(
            "[Client:{}] Delivering msg to subid={sid}, subject={}, seq={seq}{}",
            s.client_id,
            s.channel,
            if redelivered { " (redelivered)" } else { "" }
        ));
        true
    }

    /// An Ack arrived on an ack inbox.
    pub fn handle_ack(&mut self, subject: &str, payload: &[u8], now: u64) {
        let Some(&sid) = self.ack_inboxes.get(subject) else {
            log::trace(format_args!("Ack on unknown inbox {subject}, ignored"));
            return;
        };
        let Some(seq) = super::wire::ack_sequence(payload) else {
            log::debug(format_args!("Invalid ack ({} bytes), ignored", payload.len()));
            return;
        };
        let Some(s) = self.subs.get_mut(&sid) else { return };
        if let Some(p) = s.pending.remove(seq) {
            // The common case: the ack comes on the subscription that has the message.
            s.ack_queue.front(&s.pending);
            self.timers.remove(&(p.deadline, Timer::Redeliver(sid, seq)));
            if self.cfg.persist {
                self.records.push(Record::Acked { channel: s.channel.clone(), sub_id: sid, sequence: seq });
            }
            if s.queue.is_empty() {
                // The ack freed room on this subscription only.
                self.deliver_plain(sid, now);
            } else {
                let (channel, queue) = (s.channel.clone(), s.queue.clone());
                self.deliver_queue(&channel, &queue, now);
            }
            return;
        }
        if s.queue.is_empty() {
            return;
        }
        // A queue member may ack a message another member (or the group's
        // offline shadow) holds.
        let (channel, queue) = (s.channel.clone(), s.queue.clone());
        let Some(q) = self.channels.get(&channel).and_then(|c| c.queues.get(&queue)) else { return };
        let owner = q
            .members
            .iter()
            .chain(q.shadow.iter())
            .copied()
            .find(|m| self.subs.get(m).is_some_and(|x| x.pending.contains(seq)));
        let Some(owner) = owner else { return };
        let o = self.subs.get_mut(&owner).expect("owner");
        let p = o.pending.remove(seq).expect("pending");
        o.ack_queue.front(&o.pending);
        self.timers.remove(&(p.deadline, Timer::Redeliver(owner, seq)));
        self.record(|| Record::Acked { channel: channel.clone(), sub_id: owner, sequence: seq });
        self.deliver_queue(&channel, &queue, now);
    }

    /// A redelivery timer fired.
    pub(super) fn redeliver_due(&mut self, sid: SubId, seq: u64, deadline: u64, now: u64) {
        let Some(s) = self.subs.get(&sid) else { return };
        if s.offline || s.pending.get(seq).is_none_or(|p| p.deadline != deadline) {
            return;
        }
        let (channel, queue, wait) = (s.channel.clone(), s.queue.clone(), s.ack_wait_ms());
        if self.channels.get(&channel).and_then(|c| c.log.get(seq)).is_none() {
            // Dropped by limits: nothing left to redeliver.
            self.subs.get_mut(&sid).expect("sub").pending.remove(seq);
            self.record(|| Record::Acked { channel, sub_id: sid, sequence: seq });
            return;
        }
        let mut to = sid;
        if queue.is_empty() {
            let failing = self.clients.get(&s.client_id).is_none_or(|c| c.hb_fails > 0);
            if failing {
                let p = self.subs.get_mut(&sid).expect("sub").pending.get_mut(seq).expect("pending");
                p.deadline = now + wait;
                let d = p.deadline;
                self.arm_redelivery(sid, seq, d);
                return;
            }
        } else if let Some(best) = self.pick_member(&channel, &queue, Some(sid)) {
            to = best;
        }
        let mut p = self.subs.get_mut(&sid).expect("sub").pending.remove(seq).expect("pending");
        if to != sid {
            self.record(|| Record::Acked { channel: channel.clone(), sub_id: sid, sequence: seq });
            self.record(|| Record::Sent { channel: channel.clone(), sub_id: to, sequence: seq });
        }
        let target = self.subs.get_mut(&to).expect("member");
        p.redeliveries += 1;
        p.deadline = now + target.ack_wait_ms();
        target.last_sent = target.last_sent.max(seq);
        target.pending.insert(seq, p);
        arm(&mut self.timers, to, target, seq, p.deadline);
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
            due.push((seq, *p));
        }
        for (seq, p) in due {
            self.arm_redelivery(sid, seq, p.deadline);
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
        let mut due = Vec::new();
        for (seq, p) in s.pending.iter_mut() {
            if p.deadline == 0 {
                p.deadline = now;
                due.push(seq);
            }
        }
        for seq in due {
            self.arm_redelivery(sid, seq, now);
        }
    }
}

/// Arm the redelivery of pending message `seq` of subscription `s` (ID
/// `sid`) at `deadline`: on its ack-wait queue when that keeps the queue in
/// order (one core timer per subscription), as a timer of its own otherwise.
fn arm(timers: &mut super::timers::Timers, sid: SubId, s: &mut Sub, seq: u64, deadline: u64) {
    if !s.ack_queue.push(deadline, seq, &s.pending) {
        timers.insert((deadline, Timer::Redeliver(sid, seq)));
        return;
    }
    if s.ack_queue.armed.is_none() {
        let front = s.ack_queue.front(&s.pending).unwrap_or(deadline);
        s.ack_queue.armed = Some(front);
        timers.insert((front, Timer::AckWait(sid)));
    }
}
