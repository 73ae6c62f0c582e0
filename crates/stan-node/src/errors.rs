//! The one error-conversion point of the addon: every error that leaves Rust
//! gets its stable `code` here (the JS facade builds the `Error` from it).

use stan_client::shared::NatsErrorKind;
use stan_core::Error;

/// The stable `code` of a session error. Request timeouts keep
/// node-nats-streaming's `NatsError` codes (the text itself); the others use
/// the names of node-nats-streaming's constants.
pub fn code(e: &Error) -> &'static str {
    match e {
        Error::BadClusterId => "BAD_CLUSTER_ID",
        Error::BadClientId => "BAD_CLIENT_ID",
        Error::BadSubject => "BAD_SUBJECT",
        Error::ConnectionClosed => "CONN_CLOSED",
        Error::MaxInFlightReached => "MAX_FLIGHT_LIMIT_REACHED",
        Error::InvalidSubscription => "BAD_SUBSCRIPTION",
        Error::NotSupportedByServer => "NO_SERVER_SUPPORT",
        Error::PublishAckTimeout => "ACK_TIMEOUT",
        Error::ConnectRequestTimeout => stan_proto::errors::CONNECT_REQ_TIMEOUT,
        Error::CloseRequestTimeout => stan_proto::errors::CLOSE_REQ_TIMEOUT,
        Error::SubscribeRequestTimeout => stan_proto::errors::SUB_REQ_TIMEOUT,
        Error::UnsubscribeRequestTimeout => stan_proto::errors::UNSUB_REQ_TIMEOUT,
        Error::PingFailure => "MAX_PINGS_EXCEEDED",
        Error::AckWaitNotWholeSeconds => "BAD_ACK_WAIT",
        Error::InvalidMaxInFlight | Error::InvalidAckWait | Error::Server(_) => "SERVER_ERROR",
        Error::Decode(_) => "PROTOCOL_ERROR",
        _ => "STAN_ERROR",
    }
}

/// The stable `code` of a NATS-level error (nats.js v1 names).
pub fn nats_code(kind: NatsErrorKind) -> &'static str {
    match kind {
        NatsErrorKind::ConnectFailed => "CONN_ERR",
        NatsErrorKind::Permission => "PERMISSIONS_VIOLATION",
        NatsErrorKind::Other => "NATS_ERROR",
    }
}

/// A thrown JS error: `code` becomes the error's `code` property.
pub fn throw(e: &Error) -> napi::Error<String> {
    napi::Error::new(code(e).to_string(), e.to_string())
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
        assert_eq!(code(&Error::ConnectionClosed), "CONN_CLOSED");
        assert_eq!(code(&Error::ConnectRequestTimeout), "stan: connect request timeout");
        assert_eq!(code(&Error::Server("x".into())), "SERVER_ERROR");
        assert_eq!(nats_code(NatsErrorKind::ConnectFailed), "CONN_ERR");
        // (`throw` itself is exercised from JS: napi errors cannot be dropped outside Node.)
        assert_eq!(code(&Error::MaxInFlightReached), "MAX_FLIGHT_LIMIT_REACHED");
        assert_eq!(code(&Error::AckWaitNotWholeSeconds), "BAD_ACK_WAIT");
    }
}
