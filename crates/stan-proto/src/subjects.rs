//! Rules for client IDs, channel names and NATS subject tokens, as the
//! reference server applies them.

/// A client ID must match `^[a-zA-Z0-9_-]+$`.
pub fn is_valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A channel name is a literal NATS subject: not empty, no leading `.`, no
/// empty token, no `*`/`>` wildcard, no `/`, no whitespace.
pub fn is_valid_channel(name: &str) -> bool {
    if name.is_empty() || name.contains('/') {
        return false;
    }
    name.split('.').all(|t| is_valid_subject_token(t) && t != "*" && t != ">" && !t.contains(['*', '>']))
}

/// A literal subject token: non-empty and free of whitespace.
pub fn is_valid_subject_token(tok: &str) -> bool {
    !tok.is_empty() && !tok.chars().any(|c| c.is_whitespace())
}

/// A NATS subject that may carry wildcards (`*` tokens, a final `>`).
pub fn is_valid_nats_subject(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let toks: Vec<&str> = s.split('.').collect();
    let n = toks.len();
    toks.iter().enumerate().all(|(i, t)| is_valid_subject_token(t) && (*t != ">" || i + 1 == n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        for ok in ["a", "abc-123_X", "0", "__"] {
            assert!(is_valid_client_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a.b", "é", "a*", "a/b", "x\n"] {
            assert!(!is_valid_client_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn channels() {
        for ok in ["foo", "ticket:created", "a.b.c", "a-b_c", "UPPER"] {
            assert!(is_valid_channel(ok), "{ok}");
        }
        for bad in ["", ".foo", "foo.", "foo..bar", "foo.*", "foo.>", "*", ">", "a/b", "a b", "fo*o"] {
            assert!(!is_valid_channel(bad), "{bad:?}");
        }
    }

    #[test]
    fn nats_subjects() {
        assert!(is_valid_nats_subject("a.*.c"));
        assert!(is_valid_nats_subject("a.>"));
        assert!(!is_valid_nats_subject("a.>.b"));
        assert!(!is_valid_nats_subject("a..b"));
        assert!(!is_valid_nats_subject(""));
    }
}
