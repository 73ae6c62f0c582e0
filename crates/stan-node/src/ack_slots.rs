//! `AckSlots`: which JS slot waits for the ack of which publish guid, so a
//! successful (or failed) PubAck reaches `lib/stan.js` as a small integer
//! (with the guid for the callback) instead of a guid string it would have
//! to hash in a `Map`. Also `Fnv`, the hasher of the addon's small tables.

use std::hash::Hasher;

use stan_core::{Guid, PendingRing};

/// FNV-1a, 64 bits, for keys this process makes (session handles, guids),
/// not attacker-chosen ones: SipHash's flood resistance buys nothing there
/// and costs a few hundred nanoseconds per lookup.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// guid -> the JS slot of its callback, for publishes made with a slot: a
/// `PendingRing` in publish order (guids inline, no hash table, nothing
/// allocated per publish; acks in publish order are found at the front).
#[derive(Default)]
pub struct AckSlots {
    ring: PendingRing<u32>,
}

impl AckSlots {
    /// Remember that the ack of `guid` (newer than every guid before) goes to `slot`.
    pub fn insert(&mut self, guid: Guid, slot: u32) {
        self.ring.insert(guid, slot);
    }

    /// The slot waiting for `guid`, forgotten once taken.
    pub fn take(&mut self, guid: &str) -> Option<u32> {
        if self.ring.is_empty() {
            return None;
        }
        self.ring.remove(&Guid::parse(guid)?)
    }

    /// The waiting guids and their slots, in publish order.
    pub fn pending(&self) -> impl Iterator<Item = (&Guid, u32)> {
        self.ring.iter().map(|(g, s)| (g, *s))
    }

    /// Slots still waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ring.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_taken_once_and_only_by_its_guid() {
        let mut s = AckSlots::default();
        let g = |t: &str| Guid::parse(t).unwrap();
        s.insert(g("AAAAAAAAAAAAAAAAAAAAA1"), 0);
        s.insert(g("AAAAAAAAAAAAAAAAAAAAA2"), 7);
        assert_eq!(s.take("not a guid"), None);
        assert_eq!(s.take("AAAAAAAAAAAAAAAAAAAAA3"), None);
        let pending: Vec<(String, u32)> = s.pending().map(|(g, s)| (g.as_str().to_string(), s)).collect();
        assert_eq!(pending, [("AAAAAAAAAAAAAAAAAAAAA1".to_string(), 0), ("AAAAAAAAAAAAAAAAAAAAA2".to_string(), 7)]);
        assert_eq!(s.take("AAAAAAAAAAAAAAAAAAAAA2"), Some(7));
        assert_eq!(s.take("AAAAAAAAAAAAAAAAAAAAA2"), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.take("AAAAAAAAAAAAAAAAAAAAA1"), Some(0));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn fnv_spreads_guids_that_differ_in_one_character() {
        let h = |s: &str| {
            let mut f = Fnv::default();
            f.write(s.as_bytes());
            f.finish()
        };
        assert_ne!(h("AAAAAAAAAAAAAAAAAAAAA1"), h("AAAAAAAAAAAAAAAAAAAAA2"));
    }
}
