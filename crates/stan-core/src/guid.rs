//! `Guid`: a publish's NUID held inline (22 bytes, no allocation).

use std::fmt;

use stan_proto::nuid::NUID_LEN;

/// The guid of one publish: the 22 ASCII bytes of a NUID, inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_foreign_guids() {
        let g = Guid::parse("AAAAAAAAAAAAAAAAAAAAA1").unwrap();
        assert_eq!(g.as_str(), "AAAAAAAAAAAAAAAAAAAAA1");
        assert!(Guid::parse("short").is_none());
        assert!(Guid::parse("AAAAAAAAAAAAAAAAAAAAAAA").is_none());
    }
}
