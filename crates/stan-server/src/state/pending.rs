//! The unacknowledged messages of one subscription: a sequence-sorted ring
//! with tombstones, in place of a `BTreeMap<u64, Pending>`.
//!
//! Sends append at the back (sequences only grow) and acks mostly remove at
//! the front, so the common operations are a `VecDeque` push and pop with no
//! allocation per message. The slots are sorted by sequence, not indexed by
//! it: a queue member receives every n-th sequence and a stuck message can
//! sit far behind the others, so a slot per sequence number could be huge.
//! A lookup first tries the slot at `seq - front` (exact while the held
//! sequences are consecutive) and binary-searches below it otherwise.
//! Removing from the middle leaves a tombstone; the ends are kept live and
//! the tombstones are swept once they outnumber the live entries.

use super::Pending;
use std::collections::VecDeque;

/// One slot: a held sequence, or a tombstone (`live == false`) keeping the
/// order until it is swept.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    seq: u64,
    p: Pending,
    live: bool,
}

/// Sweep tombstones once there are more than this many and more than live entries.
const MIN_SWEEP: usize = 32;

/// Capacity (slots) below which the ring is never shrunk.
const MIN_SHRINK: usize = 1024;

/// A subscription's pending messages, by sequence.
#[derive(Clone, Debug, Default)]
pub struct PendingSet {
    /// Strictly increasing sequences; the first and last slots are live.
    slots: VecDeque<Slot>,
    live: usize,
}

impl PendingSet {
    /// Number of pending messages.
    pub fn len(&self) -> usize {
        self.live
    }

    /// The slot holding `seq` (live or not), or where it would go.
    fn find(&self, seq: u64) -> Result<usize, usize> {
        let Some(first) = self.slots.front().map(|s| s.seq) else { return Err(0) };
        let Some(guess) = seq.checked_sub(first) else { return Err(0) };
        let len = self.slots.len();
        if guess < len as u64 && self.slots[guess as usize].seq == seq {
            return Ok(guess as usize);
        }
        // Sequences strictly increase, so `seq` cannot sit past `guess`.
        let (mut lo, mut hi) = (0, len.min((guess as usize).saturating_add(1)));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.slots[mid].seq.cmp(&seq) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn live_at(&self, seq: u64) -> Option<usize> {
        self.find(seq).ok().filter(|&i| self.slots[i].live)
    }

    pub fn get(&self, seq: u64) -> Option<&Pending> {
        self.live_at(seq).map(|i| &self.slots[i].p)
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut Pending> {
        self.live_at(seq).map(|i| &mut self.slots[i].p)
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.live_at(seq).is_some()
    }

    /// Hold `seq` with `p`; the previous entry of `seq`, if there was one.
    pub fn insert(&mut self, seq: u64, p: Pending) -> Option<Pending> {
        let slot = Slot { seq, p, live: true };
        match self.slots.back() {
            None => self.slots.push_back(slot),
            Some(b) if b.seq < seq => self.slots.push_back(slot),
            _ => match self.find(seq) {
                Ok(i) => {
                    let s = &mut self.slots[i];
                    let old = std::mem::replace(s, slot);
                    if old.live {
                        return Some(old.p);
                    }
                }
                Err(0) => self.slots.push_front(slot),
                Err(i) => self.slots.insert(i, slot),
            },
        }
        self.live += 1;
        None
    }

    /// Stop holding `seq`; its entry, if it was held.
    pub fn remove(&mut self, seq: u64) -> Option<Pending> {
        let i = self.live_at(seq)?;
        let s = &mut self.slots[i];
        s.live = false;
        let p = s.p;
        self.live -= 1;
        while self.slots.front().is_some_and(|s| !s.live) {
            self.slots.pop_front();
        }
        while self.slots.back().is_some_and(|s| !s.live) {
            self.slots.pop_back();
        }
        let dead = self.slots.len() - self.live;
        if dead > MIN_SWEEP && dead > self.live {
            self.slots.retain(|s| s.live);
        }
        // Give memory back after a burst (amortized: the ring shrank 8-fold).
        if self.slots.capacity() > MIN_SHRINK && self.slots.capacity() > 8 * self.slots.len() {
            self.slots.shrink_to(2 * self.slots.len());
        }
        Some(p)
    }

    /// The pending entries in sequence order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Pending)> + '_ {
        self.slots.iter().filter(|s| s.live).map(|s| (s.seq, &s.p))
    }

    /// The pending entries in sequence order, to change them in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut Pending)> + '_ {
        self.slots.iter_mut().filter(|s| s.live).map(|s| (s.seq, &mut s.p))
    }

    /// The pending sequences in order.
    pub fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(seq, _)| seq)
    }

    /// Keep only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &mut Pending) -> bool) {
        self.slots.retain_mut(|s| s.live && keep(s.seq, &mut s.p));
        self.live = self.slots.len();
    }

    /// Hold every entry of `entries` (a later entry of a sequence replaces
    /// an earlier one, as `insert` does). Linear in both sizes when they
    /// interleave, where inserting one by one could move the ring each time.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = (u64, Pending)>) {
        let mut rest = entries.into_iter().peekable();
        while let Some(&(seq, p)) = rest.peek() {
            if self.slots.back().is_some_and(|b| b.seq >= seq) {
                break;
            }
            self.insert(seq, p);
            rest.next();
        }
        let mut late: Vec<(u64, Pending)> = rest.collect();
        if late.len() <= 8 {
            for (seq, p) in late {
                self.insert(seq, p);
            }
            return;
        }
        // Sort by sequence, keeping the last entry given for each.
        late.reverse();
        late.sort_by_key(|&(seq, _)| seq);
        late.dedup_by_key(|&mut (seq, _)| seq);
        let old = std::mem::take(&mut self.slots);
        let mut mine = old.into_iter().filter(|s| s.live).peekable();
        let mut theirs = late.into_iter().peekable();
        let mut merged = VecDeque::with_capacity(self.live + theirs.len());
        loop {
            let (a, b) = (mine.peek().map(|s| s.seq), theirs.peek().map(|&(seq, _)| seq));
            let next = match (a, b) {
                (None, None) => break,
                (Some(a), Some(b)) if a < b => mine.next(),
                (Some(_), None) => mine.next(),
                (a, _) => {
                    if a == b {
                        mine.next(); // replaced by theirs
                    }
                    theirs.next().map(|(seq, p)| Slot { seq, p, live: true })
                }
            };
            merged.extend(next);
        }
        self.live = merged.len();
        self.slots = merged;
    }

    /// Slots in use, tombstones included (for tests of the sweeping).
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.slots.len()
    }
}

impl IntoIterator for PendingSet {
    type Item = (u64, Pending);
    type IntoIter =
        std::iter::FilterMap<std::collections::vec_deque::IntoIter<Slot>, fn(Slot) -> Option<(u64, Pending)>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().filter_map(live_entry)
    }
}

fn live_entry(s: Slot) -> Option<(u64, Pending)> {
    s.live.then_some((s.seq, s.p))
}

impl FromIterator<(u64, Pending)> for PendingSet {
    fn from_iter<I: IntoIterator<Item = (u64, Pending)>>(entries: I) -> Self {
        let mut set = PendingSet::default();
        set.extend(entries);
        set
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
