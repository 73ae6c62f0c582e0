//! The stable `code` of every error that reaches JS (the same codes as the
//! Node package, see docs/compat.md).

use stan_core::Error;
use stan_proto::errors as stan_proto_texts;

/// The code of a session error. Request timeouts keep node-nats-streaming's
/// `NatsError` codes (the text itself); others use its constant names.
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
        Error::ConnectRequestTimeout => stan_proto_texts::CONNECT_REQ_TIMEOUT,
        Error::CloseRequestTimeout => stan_proto_texts::CLOSE_REQ_TIMEOUT,
        Error::SubscribeRequestTimeout => stan_proto_texts::SUB_REQ_TIMEOUT,
        Error::UnsubscribeRequestTimeout => stan_proto_texts::UNSUB_REQ_TIMEOUT,
        Error::PingFailure => "MAX_PINGS_EXCEEDED",
        Error::AckWaitNotWholeSeconds => "BAD_ACK_WAIT",
        Error::InvalidMaxInFlight | Error::InvalidAckWait | Error::Server(_) => "SERVER_ERROR",
        Error::Decode(_) => "PROTOCOL_ERROR",
        _ => "STAN_ERROR",
    }
}

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
    fn codes_are_stable() {
        assert_eq!(code(&Error::ConnectionClosed), "CONN_CLOSED");
        assert_eq!(code(&Error::Server("stan: invalid publish request".into())), "SERVER_ERROR");
        assert_eq!(code(&Error::ConnectRequestTimeout), Error::ConnectRequestTimeout.to_string());
        assert_eq!(code(&Error::CloseRequestTimeout), Error::CloseRequestTimeout.to_string());
        assert_eq!(code(&Error::SubscribeRequestTimeout), Error::SubscribeRequestTimeout.to_string());
        assert_eq!(code(&Error::UnsubscribeRequestTimeout), Error::UnsubscribeRequestTimeout.to_string());
        assert_eq!(code(&Error::AckWaitNotWholeSeconds), "BAD_ACK_WAIT");
    }

    #[test]
    fn nats_error_codes() {
        assert_eq!(nats_err_code("Permissions Violation for Publish to \"x\""), "PERMISSIONS_VIOLATION");
        assert_eq!(nats_err_code("Authorization Violation"), "CONN_ERR");
        assert_eq!(nats_err_code("Maximum Payload Violation"), "NATS_ERROR");
    }
}
