//! The one error-conversion point of the addon: every error that leaves Rust
//! gets its stable `code` here (the JS facade builds the `Error` from it).

use stan_client::shared::NatsErrorKind;
use stan_core::Error;

/// The stable `code` of a NATS-level error (nats.js v1 names).
pub fn nats_code(kind: NatsErrorKind) -> &'static str {
    kind.code()
}

/// A thrown JS error: `code` becomes the error's `code` property.
pub fn throw(e: &Error) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// A thrown JS error for a client-level failure (bad URL, credentials file).
pub fn throw_client(e: &stan_client::Error) -> napi::Error<String> {
    match e.stan() {
        Some(s) => throw(s),
        None => match e {
            stan_client::Error::InvalidUrl(_) => napi::Error::new("BAD_URL".to_string(), e.to_string()),
            _ => napi::Error::new("NATS_ERROR".to_string(), e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        // Session error codes are stan-core's (`Error::code`); `throw` itself is
        // exercised from JS: napi errors cannot be dropped outside Node.
        assert_eq!(nats_code(NatsErrorKind::ConnectFailed), "CONN_ERR");
        assert_eq!(nats_code(NatsErrorKind::Permission), "PERMISSIONS_VIOLATION");
    }
}
