//! Per-subscription ack-wait deadlines: a FIFO of `(deadline, sequence)` in
//! send order, with one core timer per subscription instead of one per
//! message in flight.
//!
//! A subscription's deadlines are `now + ack wait` at each send, so they grow
//! monotonically; the queue keeps them in order and the core arms a single
//! [`super::Timer::AckWait`] at the earliest one. Acks do not search the
//! queue: an entry whose message is no longer pending with that deadline is
//! stale and is dropped when it reaches the front (or by [`AckQueue::compact`]
//! when stale entries pile up behind a slow one). A deadline that would break
//! the order (a member taking over a leaving member's messages, an overdue
//! message armed "now") goes to the core's general timer set instead.

use super::pending::PendingSet;
use std::collections::VecDeque;

/// The ack-wait deadlines of one subscription.
#[derive(Clone, Debug, Default)]
pub struct AckQueue {
    entries: VecDeque<(u64, u64)>,
    /// Deadline of this subscription's `Timer::AckWait` in the core's timer
    /// set, if one is armed (at or before the front entry's deadline).
    pub armed: Option<u64>,
}

impl AckQueue {
    /// Append `(deadline, seq)` if that keeps the queue ordered; `false` otherwise.
    pub fn push(&mut self, deadline: u64, seq: u64, pending: &PendingSet) -> bool {
        if self.entries.back().is_some_and(|&(d, _)| d > deadline) {
            return false;
        }
        // Bound the stale entries: never more than about twice what is pending.
        if self.entries.len() >= 64 && self.entries.len() > 2 * pending.len() {
            self.compact(pending);
        }
        self.entries.push_back((deadline, seq));
        true
    }

    /// Drop stale entries from the front; the earliest live deadline, if any.
    pub fn front(&mut self, pending: &PendingSet) -> Option<u64> {
        while let Some(&(d, seq)) = self.entries.front() {
            if is_live(pending, d, seq) {
                return Some(d);
            }
            self.entries.pop_front();
        }
        None
    }

    /// Remove and return the front entry if it is due at `now` (stale or not).
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, u64)> {
        match self.entries.front() {
            Some(&(d, _)) if d <= now => self.entries.pop_front(),
            _ => None,
        }
    }

    /// Keep only the live entries.
    pub fn compact(&mut self, pending: &PendingSet) {
        self.entries.retain(|&(d, seq)| is_live(pending, d, seq));
    }

    /// Forget every entry (the subscription went offline or its pending
    /// messages were re-armed another way).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

fn is_live(pending: &PendingSet, deadline: u64, seq: u64) -> bool {
    pending.get(seq).is_some_and(|p| p.deadline == deadline)
}

#[cfg(test)]
mod tests {
    use super::super::Pending;
    use super::*;

    fn pend(entries: &[(u64, u64)]) -> PendingSet {
        entries.iter().map(|&(seq, deadline)| (seq, Pending { deadline, redeliveries: 0 })).collect()
    }

    #[test]
    fn keeps_order_and_skips_stale_entries() {
        let mut q = AckQueue::default();
        let mut p = pend(&[(1, 10), (2, 10), (3, 20)]);
        assert!(q.push(10, 1, &p) && q.push(10, 2, &p) && q.push(20, 3, &p));
        assert!(!q.push(15, 4, &p), "out of order is refused");
        assert_eq!(q.front(&p), Some(10));
        p.remove(1);
        p.get_mut(2).unwrap().deadline = 30; // re-armed elsewhere
        assert_eq!(q.front(&p), Some(20));
        assert_eq!(q.pop_due(19), None);
        assert_eq!(q.pop_due(20), Some((20, 3)));
        p.remove(3);
        assert_eq!(q.front(&p), None);
    }

    #[test]
    fn stale_entries_stay_bounded() {
        let mut q = AckQueue::default();
        let mut p = PendingSet::default();
        // Message 0 is never acked; every later one is acked at once.
        for seq in 0..10_000u64 {
            p.insert(seq, Pending { deadline: seq, redeliveries: 0 });
            assert!(q.push(seq, seq, &p));
            if seq > 0 {
                p.remove(seq);
            }
            assert!(q.len() <= 2 * p.len() + 64, "{} entries for {} pending", q.len(), p.len());
        }
        assert_eq!(q.front(&p), Some(0));
    }
}
