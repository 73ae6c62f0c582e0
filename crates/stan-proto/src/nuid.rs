//! NUID: 22-character unique identifiers (12 random prefix characters and a
//! 10-character sequence, base 62), used for GUIDs, connIDs and inboxes.

use rand::Rng;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: u64 = 62;
const PRE_LEN: usize = 12;
const SEQ_LEN: usize = 10;
/// 62^10
const MAX_SEQ: u64 = 839_299_365_868_340_224;
const MIN_INC: u64 = 33;
const MAX_INC: u64 = 333;

/// Total length of a NUID.
pub const NUID_LEN: usize = PRE_LEN + SEQ_LEN;

/// A NUID generator. Not thread-safe by itself; keep one per task or behind a lock.
#[derive(Clone, Debug)]
pub struct Nuid {
    pre: [u8; PRE_LEN],
    seq: u64,
    inc: u64,
}

impl Default for Nuid {
    fn default() -> Self {
        Self::new()
    }
}

impl Nuid {
    /// A generator with a random prefix and a random starting sequence.
    pub fn new() -> Self {
        let mut rng = rand::rng();
        let mut n = Nuid { pre: [b'0'; PRE_LEN], seq: rng.random_range(0..MAX_SEQ), inc: 0 };
        n.inc = rng.random_range(MIN_INC..MAX_INC);
        n.randomize_prefix();
        n
    }

    /// A generator whose prefix and starting sequence come from `seed`, so a
    /// caller without OS randomness (a sans-IO core, a test) gets reproducible
    /// identifiers. Only the rollover after ~10^15 identifiers draws fresh
    /// randomness.
    pub fn from_seed(seed: u64) -> Self {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut n = Nuid { pre: [b'0'; PRE_LEN], seq: rng.random_range(0..MAX_SEQ), inc: 0 };
        n.inc = rng.random_range(MIN_INC..MAX_INC);
        for b in n.pre.iter_mut() {
            *b = DIGITS[rng.random_range(0..62) as usize];
        }
        n
    }

    fn randomize_prefix(&mut self) {
        let mut rng = rand::rng();
        for b in self.pre.iter_mut() {
            *b = DIGITS[rng.random_range(0..62) as usize];
        }
    }

    /// Write the next NUID into `out`.
    pub fn next_into(&mut self, out: &mut [u8; NUID_LEN]) {
        self.seq += self.inc;
        if self.seq >= MAX_SEQ {
            self.randomize_prefix();
            let mut rng = rand::rng();
            self.seq = rng.random_range(0..MAX_SEQ / 2);
            self.inc = rng.random_range(MIN_INC..MAX_INC);
        }
        out[..PRE_LEN].copy_from_slice(&self.pre);
        let mut l = self.seq;
        for i in (PRE_LEN..NUID_LEN).rev() {
            out[i] = DIGITS[(l % BASE) as usize];
            l /= BASE;
        }
    }

    /// The next NUID as a `String`.
    pub fn next_string(&mut self) -> String {
        let mut buf = [0u8; NUID_LEN];
        self.next_into(&mut buf);
        // All bytes come from DIGITS, which is ASCII.
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// A fresh NUID from a new generator (convenient, but slower than reusing one).
pub fn next() -> String {
    Nuid::new().next_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn length_alphabet_uniqueness() {
        let mut n = Nuid::new();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let s = n.next_string();
            assert_eq!(s.len(), 22);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn seeded_generators_repeat() {
        let mut a = Nuid::from_seed(42);
        let mut b = Nuid::from_seed(42);
        let mut c = Nuid::from_seed(43);
        let (x, y, z) = (a.next_string(), b.next_string(), c.next_string());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_eq!(x.len(), NUID_LEN);
    }

    #[test]
    fn rollover_changes_prefix() {
        let mut n = Nuid::new();
        n.seq = MAX_SEQ - 1;
        let a = n.next_string();
        let b = n.next_string();
        assert_ne!(a, b);
    }
}
