//! `PendingRing`: values keyed by publish guid, kept in publish order in one
//! ring buffer, with no hash table. A session's guids come from one NUID
//! generator, so their sequence part (the last 10 base-62 digits) grows
//! with every publish: an ack is found by checking the oldest entry (acks
//! mostly come back in publish order) and otherwise by binary search on
//! that sequence. Settled entries that are not the oldest stay as
//! tombstones until they reach the front, or until a compaction when they
//! outnumber the live ones. After a NUID prefix rollover (once in ~10^15
//! guids) the order breaks; lookups then fall back to a scan until the
//! ring has emptied once.

use std::collections::VecDeque;

use crate::guid::Guid;

/// Where the sequence digits of a NUID start.
const SEQ_AT: usize = 12;

/// The value of a NUID's sequence part (base 62, digits `0-9A-Za-z`).
fn seq_of(g: &Guid) -> u64 {
    g.as_str().as_bytes()[SEQ_AT..].iter().fold(0u64, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => 0,
        };
        acc.wrapping_mul(62).wrapping_add(u64::from(d))
    })
}

#[derive(Debug)]
struct Entry<T> {
    seq: u64,
    guid: Guid,
    /// `None`: settled (a tombstone).
    value: Option<T>,
}

/// Pending values by guid, in insertion (publish) order.
#[derive(Debug)]
pub struct PendingRing<T> {
    items: VecDeque<Entry<T>>,
    live: usize,
    /// Some insert broke the sequence order (a NUID rollover, or guids from
    /// more than one generator): look up by scanning until the ring empties.
    unordered: bool,
}

impl<T> Default for PendingRing<T> {
    fn default() -> Self {
        PendingRing { items: VecDeque::new(), live: 0, unordered: false }
    }
}

impl<T> PendingRing<T> {
    /// Live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Add `guid` (newer than every entry) with `value`.
    pub fn insert(&mut self, guid: Guid, value: T) {
        let seq = seq_of(&guid);
        if self.items.back().is_some_and(|e| e.seq >= seq) {
            self.unordered = true;
        }
        self.items.push_back(Entry { seq, guid, value: Some(value) });
        self.live += 1;
    }

    fn position(&self, guid: &Guid) -> Option<usize> {
        let front = self.items.front()?;
        if front.guid == *guid {
            return front.value.is_some().then_some(0);
        }
        let at = if self.unordered {
            self.items.iter().position(|e| e.guid == *guid && e.value.is_some())?
        } else {
            let seq = seq_of(guid);
            self.items.binary_search_by_key(&seq, |e| e.seq).ok()?
        };
        let e = &self.items[at];
        (e.guid == *guid && e.value.is_some()).then_some(at)
    }

    /// True while `guid` is pending.
    pub fn contains(&self, guid: &Guid) -> bool {
        self.position(guid).is_some()
    }

    /// Settle `guid`, returning its value.
    pub fn remove(&mut self, guid: &Guid) -> Option<T> {
        let at = self.position(guid)?;
        let v = self.items[at].value.take();
        self.live -= 1;
        self.tidy();
        v
    }

    /// The oldest live entry.
    pub fn front(&self) -> Option<(&Guid, &T)> {
        self.items.front().and_then(|e| Some((&e.guid, e.value.as_ref()?)))
    }

    /// The live entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&Guid, &T)> {
        self.items.iter().filter_map(|e| Some((&e.guid, e.value.as_ref()?)))
    }

    /// Settle and return the oldest live entry.
    pub fn pop_front(&mut self) -> Option<(Guid, T)> {
        let e = self.items.pop_front()?;
        let v = e.value?;
        self.live -= 1;
        self.tidy();
        Some((e.guid, v))
    }

    /// Settle everything, returning the live entries in insertion order.
    pub fn take_all(&mut self) -> Vec<(Guid, T)> {
        let all = self.items.drain(..).filter_map(|e| Some((e.guid, e.value?))).collect();
        self.live = 0;
        self.tidy();
        all
    }

    /// Drop tombstones at the front; compact when they outnumber the live
    /// entries (a lost ack keeps the front in place); give the memory of a
    /// burst back once empty.
    fn tidy(&mut self) {
        while self.items.front().is_some_and(|e| e.value.is_none()) {
            self.items.pop_front();
        }
        if self.items.len() > 2 * self.live + 1024 {
            self.items.retain(|e| e.value.is_some());
        }
        if self.items.is_empty() {
            self.unordered = false;
            if self.items.capacity() > 4096 {
                self.items = VecDeque::new();
            }
        }
    }

    /// Allocated room, in entries.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.items.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stan_proto::nuid::NUID_LEN;
    use stan_proto::Nuid;

    fn guids(seed: u64, n: usize) -> Vec<Guid> {
        let mut nuid = Nuid::from_seed(seed);
        (0..n)
            .map(|_| {
                let mut b = [0u8; NUID_LEN];
                nuid.next_into(&mut b);
                Guid::new(b)
            })
            .collect()
    }

    #[test]
    fn sequence_digits_decode_in_order() {
        let g = guids(3, 1000);
        assert!(g.windows(2).all(|w| seq_of(&w[0]) < seq_of(&w[1])));
        assert_eq!(seq_of(&Guid::parse("AAAAAAAAAAAA0000000010").unwrap()), 62);
        assert_eq!(seq_of(&Guid::parse("AAAAAAAAAAAA000000000z").unwrap()), 61);
    }

    #[test]
    fn in_order_out_of_order_unknown_and_repeated() {
        let g = guids(1, 5000);
        let mut r = PendingRing::default();
        for (i, x) in g.iter().enumerate() {
            r.insert(*x, i);
        }
        assert_eq!(r.len(), 5000);
        // Out of order: every odd one first, then the even ones backwards.
        for i in (1..5000).step_by(2) {
            assert_eq!(r.remove(&g[i]), Some(i));
            assert_eq!(r.remove(&g[i]), None, "settled once");
        }
        assert_eq!(r.remove(&Guid::parse("AAAAAAAAAAAAAAAAAAAAA1").unwrap()), None);
        assert_eq!(r.remove(&guids(2, 1)[0]), None, "another generator's guid");
        assert_eq!(r.front().map(|(_, v)| *v), Some(0));
        assert!(r.iter().map(|(_, v)| *v).eq((0..5000).step_by(2)));
        for i in (0..5000).step_by(2).rev() {
            assert!(r.contains(&g[i]));
            assert_eq!(r.remove(&g[i]), Some(i));
        }
        assert!(r.is_empty());
        assert_eq!(r.front().map(|(_, v)| *v), None);
    }

    #[test]
    fn a_lost_ack_does_not_let_tombstones_pile_up() {
        let g = guids(4, 20_000);
        let mut r = PendingRing::default();
        r.insert(g[0], 0);
        for (i, x) in g.iter().enumerate().skip(1) {
            r.insert(*x, i);
            assert_eq!(r.remove(x), Some(i));
        }
        assert_eq!(r.len(), 1);
        assert!(r.items.len() <= 1026, "{}", r.items.len());
        assert_eq!(r.pop_front(), Some((g[0], 0)));
        assert_eq!(r.pop_front(), None);
    }

    #[test]
    fn guids_out_of_sequence_order_are_still_found() {
        // Two generators interleaved: the sequence order breaks.
        let (a, b) = (guids(5, 300), guids(6, 300));
        let mut r = PendingRing::default();
        for i in 0..300 {
            r.insert(a[i], i);
            r.insert(b[i], 1000 + i);
        }
        for i in (0..300).rev() {
            assert_eq!(r.remove(&b[i]), Some(1000 + i));
        }
        let all = r.take_all();
        assert_eq!(all.len(), 300);
        assert!(all.iter().enumerate().all(|(i, (g, v))| *g == a[i] && *v == i));
        assert!(r.is_empty() && !r.unordered);
    }

    #[test]
    fn memory_is_given_back_after_a_burst() {
        let g = guids(7, 20_000);
        let mut r = PendingRing::default();
        for x in &g {
            r.insert(*x, ());
        }
        assert!(r.capacity() >= 20_000);
        for x in &g {
            r.remove(x);
        }
        assert!(r.capacity() < 4096, "{}", r.capacity());
    }
}
