//! `Guid`: a publish's NUID held inline (22 bytes, no allocation), and the
//! cheap hasher the ack tables key it with.

use std::fmt;
use std::hash::{Hash, Hasher};

use stan_proto::nuid::NUID_LEN;

/// The guid of one publish: the 22 ASCII bytes of a NUID, inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Guid([u8; NUID_LEN]);

impl Guid {
    /// Wrap the bytes of a NUID.
    pub fn new(bytes: [u8; NUID_LEN]) -> Self {
        Guid(bytes)
    }

    /// The guid of `s`; `None` when it is not 22 ASCII bytes (not one of ours).
    pub fn parse(s: &str) -> Option<Self> {
        let b: [u8; NUID_LEN] = s.as_bytes().try_into().ok()?;
        b.is_ascii().then_some(Guid(b))
    }

    /// The guid as text.
    pub fn as_str(&self) -> &str {
        // Built only from ASCII (NUID digits, or checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.as_str())
    }
}

impl Hash for Guid {
    /// The last 8 bytes: a NUID's sequence part, different for every guid
    /// of one generator (the prefix is shared).
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&self.0[NUID_LEN - 8..]);
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(tail) ^ u64::from_le_bytes(head).rotate_left(29));
    }
}

/// A multiply-xorshift finisher for `Guid` keys (and other small integer
/// keys): the keys are our own identifiers, not attacker-chosen, so
/// SipHash's flood resistance buys nothing and costs per lookup.
#[derive(Default, Clone, Copy)]
pub struct GuidHasher(u64);

impl Hasher for GuidHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

/// `BuildHasher` of [`GuidHasher`].
pub type GuidBuildHasher = std::hash::BuildHasherDefault<GuidHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn parse_round_trips_and_rejects_foreign_guids() {
        let g = Guid::parse("AAAAAAAAAAAAAAAAAAAAA1").unwrap();
        assert_eq!(g.as_str(), "AAAAAAAAAAAAAAAAAAAAA1");
        assert!(Guid::parse("short").is_none());
        assert!(Guid::parse("AAAAAAAAAAAAAAAAAAAAAAA").is_none());
    }

    #[test]
    fn consecutive_nuids_hash_apart() {
        let mut n = stan_proto::Nuid::from_seed(7);
        let b = GuidBuildHasher::default();
        let hashes: HashSet<u64> = (0..10_000)
            .map(|_| {
                let mut g = [0u8; NUID_LEN];
                n.next_into(&mut g);
                b.hash_one(Guid::new(g))
            })
            .collect();
        assert_eq!(hashes.len(), 10_000);
        // The low bits pick the bucket: they must spread too.
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xffff).collect();
        assert!(low.len() > 8_000, "{}", low.len());
    }
}
