//! The stable `code` of NATS-level errors that reach JS (session errors carry
//! theirs from `stan_core::Error::code`; the same codes as the Node package).

/// The code of a NATS `-ERR` text (nats.js v1 names).
pub fn nats_err_code(text: &str) -> &'static str {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("permissions violation") {
        "PERMISSIONS_VIOLATION"
    } else if lower.contains("authorization") || lower.contains("authentication") {
        "CONN_ERR"
    } else {
        "NATS_ERROR"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_error_codes() {
        assert_eq!(nats_err_code("Permissions Violation for Publish to \"x\""), "PERMISSIONS_VIOLATION");
        assert_eq!(nats_err_code("Authorization Violation"), "CONN_ERR");
        assert_eq!(nats_err_code("Maximum Payload Violation"), "NATS_ERROR");
    }
}
