//! `PubAckTracker`: publishes waiting for their PubAck, with their deadlines,
//! and the publishes held back until the handshake completes.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::deadlines::DeadlineQueue;

/// A publish made before the server's `pubPrefix` was known.
#[derive(Debug)]
pub(crate) struct HeldPublish {
    pub(crate) guid: String,
    pub(crate) channel: String,
    pub(crate) payload: Bytes,
}

/// Outstanding publishes.
#[derive(Debug, Default)]
pub(crate) struct PubAckTracker {
    pending: HashSet<String>,
    deadlines: DeadlineQueue<String>,
    held: VecDeque<HeldPublish>,
}

impl PubAckTracker {
    /// How many publishes wait for an ack.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Record a publish whose ack is due by `deadline`.
    pub(crate) fn insert(&mut self, guid: String, deadline: Duration) {
        self.pending.insert(guid.clone());
        self.deadlines.push(deadline, guid);
    }

    /// Keep a publish until the handshake completes.
    pub(crate) fn hold(&mut self, p: HeldPublish) {
        self.held.push_back(p);
    }

    /// The held publishes that are still pending (timed-out ones are dropped).
    pub(crate) fn release_held(&mut self) -> Vec<HeldPublish> {
        let pending = &self.pending;
        self.held.drain(..).filter(|p| pending.contains(&p.guid)).collect()
    }

    /// Settle `guid`; false if it was not pending.
    pub(crate) fn remove(&mut self, guid: &str) -> bool {
        self.pending.remove(guid)
    }

    /// The earliest ack deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        let pending = &self.pending;
        self.deadlines.next(|g| pending.contains(g))
    }

    /// The next publish whose ack is overdue at `now`, now settled.
    pub(crate) fn pop_expired(&mut self, now: Duration) -> Option<String> {
        let pending = &self.pending;
        let g = self.deadlines.pop_expired(now, |g| pending.contains(g))?;
        self.pending.remove(&g);
        Some(g)
    }

    /// Settle everything, returning guids in publish order.
    pub(crate) fn take_all(&mut self) -> Vec<String> {
        let pending = std::mem::take(&mut self.pending);
        self.held.clear();
        self.deadlines.drain().filter(|g| pending.contains(g)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_acks_timeouts_and_held() {
        let s = Duration::from_secs;
        let mut t = PubAckTracker::default();
        t.insert("a".into(), s(1));
        t.insert("b".into(), s(2));
        t.hold(HeldPublish { guid: "b".into(), channel: "c".into(), payload: Bytes::new() });
        assert_eq!(t.len(), 2);
        assert!(t.remove("a"));
        assert!(!t.remove("a"));
        assert_eq!(t.next_deadline(), Some(s(2)));
        assert_eq!(t.pop_expired(s(1)), None);
        assert_eq!(t.release_held().len(), 1);
        assert_eq!(t.pop_expired(s(2)).as_deref(), Some("b"));
        assert_eq!(t.len(), 0);
        t.insert("c".into(), s(3));
        t.insert("d".into(), s(4));
        assert_eq!(t.take_all(), vec!["c".to_string(), "d".to_string()]);
        assert_eq!(t.next_deadline(), None);
    }
}
