//! `PubAckTracker`: publishes waiting for their PubAck, with their deadlines,
//! and the publishes held back until the handshake completes. The pending
//! publishes are a [`PendingRing`] in publish order: with a fixed ack
//! timeout and a clock that does not go back, that is also deadline order,
//! so the oldest entry carries the next deadline. A publish allocates
//! nothing here once the ring has grown to the window.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::guid::Guid;
use crate::pending::PendingRing;

/// A publish made before the server's `pubPrefix` was known.
#[derive(Debug)]
pub(crate) struct HeldPublish {
    pub(crate) guid: Guid,
    pub(crate) channel: String,
    pub(crate) payload: Bytes,
}

/// Outstanding publishes.
#[derive(Debug, Default)]
pub(crate) struct PubAckTracker {
    pending: PendingRing<Duration>,
    held: VecDeque<HeldPublish>,
}

impl PubAckTracker {
    /// How many publishes wait for an ack.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Record a publish whose ack is due by `deadline` (not earlier than
    /// the deadlines recorded before).
    pub(crate) fn insert(&mut self, guid: Guid, deadline: Duration) {
        self.pending.insert(guid, deadline);
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
        Guid::parse(guid).is_some_and(|g| self.pending.remove(&g).is_some())
    }

    /// The earliest ack deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        self.pending.front().map(|(_, d)| *d)
    }

    /// The next publish whose ack is overdue at `now`, now settled.
    pub(crate) fn pop_expired(&mut self, now: Duration) -> Option<Guid> {
        if self.next_deadline()? > now {
            return None;
        }
        self.pending.pop_front().map(|(g, _)| g)
    }

    /// Settle everything, returning guids in publish order.
    pub(crate) fn take_all(&mut self) -> Vec<Guid> {
        self.held.clear();
        self.pending.take_all().into_iter().map(|(g, _)| g).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Guid {
        Guid::parse(&format!("{s:A>22}")).unwrap()
    }

    #[test]
    fn tracks_acks_timeouts_and_held() {
        let s = Duration::from_secs;
        let mut t = PubAckTracker::default();
        t.insert(g("a"), s(1));
        t.insert(g("b"), s(2));
        t.hold(HeldPublish { guid: g("b"), channel: "c".into(), payload: Bytes::new() });
        assert_eq!(t.len(), 2);
        assert!(t.remove(g("a").as_str()));
        assert!(!t.remove(g("a").as_str()));
        assert!(!t.remove("not-a-nuid"));
        assert_eq!(t.next_deadline(), Some(s(2)));
        assert_eq!(t.pop_expired(s(1)), None);
        assert_eq!(t.release_held().len(), 1);
        assert_eq!(t.pop_expired(s(2)), Some(g("b")));
        assert_eq!(t.len(), 0);
        t.insert(g("c"), s(3));
        t.insert(g("d"), s(4));
        assert_eq!(t.take_all(), vec![g("c"), g("d")]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn a_burst_acked_newest_first_settles_every_publish() {
        let mut t = PubAckTracker::default();
        let mut n = stan_proto::Nuid::from_seed(1);
        let guids: Vec<Guid> = (0..20_000)
            .map(|_| {
                let mut b = [0u8; 22];
                n.next_into(&mut b);
                Guid::new(b)
            })
            .collect();
        for (i, x) in guids.iter().enumerate() {
            t.insert(*x, Duration::from_millis(i as u64));
        }
        assert_eq!(t.len(), 20_000);
        for x in guids.iter().rev() {
            assert!(t.remove(x.as_str()));
        }
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.len(), 0);
    }
}
