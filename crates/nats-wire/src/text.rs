//! UTF-8 checks for the short strings of the protocol: subjects, inboxes,
//! client and connection IDs, GUIDs. They are ASCII in practice and tens of
//! bytes long, where `std::str::from_utf8` mostly goes byte by byte.

/// `bytes` as a `&str` if it is UTF-8, as `std::str::from_utf8(bytes).ok()`
/// answers. ASCII is recognized a word at a time (`<[u8]>::is_ascii`); only
/// other input goes through the full UTF-8 validation.
#[inline]
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::utf8;
    use proptest::prelude::*;

    #[test]
    fn ascii_multibyte_and_invalid() {
        assert_eq!(utf8(b""), Some(""));
        assert_eq!(utf8(b"_STAN.acks.ZxHg1r2wXJtDbyQRZJpyAX"), Some("_STAN.acks.ZxHg1r2wXJtDbyQRZJpyAX"));
        assert_eq!(utf8("kênh.đơn-hàng".as_bytes()), Some("kênh.đơn-hàng"));
        assert_eq!(utf8(b"abc\xff"), None);
        assert_eq!(utf8(b"\xe2\x82"), None, "a truncated sequence");
        assert_eq!(utf8(b"0123456789abcde\x80"), None, "a stray continuation byte after a full word");
    }

    proptest! {
        #[test]
        fn answers_what_std_answers(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes).ok());
        }

        #[test]
        fn answers_what_std_answers_on_mostly_ascii(s in "[ -~]{0,40}", tail in proptest::collection::vec(any::<u8>(), 0..3)) {
            let mut bytes = s.into_bytes();
            bytes.extend(tail);
            prop_assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes).ok());
        }
    }
}
