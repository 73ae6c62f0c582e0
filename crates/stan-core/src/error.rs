//! The one error type of the session, whose `Display` is the exact text the
//! reference client (node-nats-streaming) or server prints.

use stan_proto::errors as text;

/// Everything that can go wrong in a STAN session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster ID is empty.
    #[error("{}", text::BAD_CLUSTER_ID)]
    BadClusterId,
    /// The client ID is empty.
    #[error("{}", text::BAD_CLIENT_ID)]
    BadClientId,
    /// A publish or subscribe subject is empty (or not a usable NATS subject).
    #[error("{}", text::BAD_SUBJECT)]
    BadSubject,
    /// The session is closed, or was closed while the operation was pending.
    #[error("{}", text::CONN_CLOSED)]
    ConnectionClosed,
    /// `maxPubAcksInflight` publishes are already waiting for their acks.
    #[error("{}", text::MAX_FLIGHT_LIMIT_REACHED)]
    MaxInFlightReached,
    /// A second unsubscribe/close, or an unknown subscription.
    #[error("{}", text::BAD_SUBSCRIPTION)]
    InvalidSubscription,
    /// Sub close on a server that did not announce `subCloseRequests`.
    #[error("{}", text::NO_SERVER_SUPPORT)]
    NotSupportedByServer,
    /// No PubAck arrived within the ack timeout.
    #[error("{}", text::ACK_TIMEOUT)]
    PublishAckTimeout,
    /// No ConnectResponse arrived within the connect timeout.
    #[error("{}", text::CONNECT_REQ_TIMEOUT)]
    ConnectRequestTimeout,
    /// No reply to a sub-close or connection-close request in time.
    #[error("{}", text::CLOSE_REQ_TIMEOUT)]
    CloseRequestTimeout,
    /// No SubscriptionResponse in time.
    #[error("{}", text::SUB_REQ_TIMEOUT)]
    SubscribeRequestTimeout,
    /// No reply to an unsubscribe request in time.
    #[error("{}", text::UNSUB_REQ_TIMEOUT)]
    UnsubscribeRequestTimeout,
    /// More than `pingMaxOut` pings went unanswered.
    #[error("{}", text::MAX_PINGS_EXCEEDED)]
    PingFailure,
    /// Subscription `max_in_flight` below 1 (the server's text).
    #[error("{}", text::SRV_INVALID_MAX_INFLIGHT)]
    InvalidMaxInFlight,
    /// Subscription ack wait below one second (the server's text).
    #[error("{}", text::SRV_INVALID_ACK_WAIT)]
    InvalidAckWait,
    /// Subscription ack wait that is not a whole number of seconds (the wire
    /// carries seconds; node-nats-streaming fails with `Assertion failed`).
    #[error("stan: ack wait must be a whole number of seconds")]
    AckWaitNotWholeSeconds,
    /// The encoded PubMsg is larger than the NATS server's `max_payload`
    /// (nothing is sent; the Go client's text).
    #[error("nats: maximum payload exceeded")]
    MaxPayloadExceeded,
    /// A reply the session could not decode; the payload names the message type.
    #[error("stan: cannot decode {0}")]
    Decode(&'static str),
    /// An error text sent by the server (ConnectResponse, PubAck,
    /// SubscriptionResponse, CloseResponse or PingResponse), verbatim.
    #[error("{0}")]
    Server(String),
}

impl Error {
    /// The stable `code` the JS packages put on this error. Request timeouts
    /// keep node-nats-streaming's `NatsError` codes (the text itself); the
    /// others use the names of node-nats-streaming's constants.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadClusterId => "BAD_CLUSTER_ID",
            Error::BadClientId => "BAD_CLIENT_ID",
            Error::BadSubject => "BAD_SUBJECT",
            Error::ConnectionClosed => "CONN_CLOSED",
            Error::MaxInFlightReached => "MAX_FLIGHT_LIMIT_REACHED",
            Error::InvalidSubscription => "BAD_SUBSCRIPTION",
            Error::NotSupportedByServer => "NO_SERVER_SUPPORT",
            Error::PublishAckTimeout => "ACK_TIMEOUT",
            Error::ConnectRequestTimeout => text::CONNECT_REQ_TIMEOUT,
            Error::CloseRequestTimeout => text::CLOSE_REQ_TIMEOUT,
            Error::SubscribeRequestTimeout => text::SUB_REQ_TIMEOUT,
            Error::UnsubscribeRequestTimeout => text::UNSUB_REQ_TIMEOUT,
            Error::PingFailure => "MAX_PINGS_EXCEEDED",
            Error::AckWaitNotWholeSeconds => "BAD_ACK_WAIT",
            Error::MaxPayloadExceeded => "MAX_PAYLOAD_EXCEEDED",
            Error::InvalidMaxInFlight | Error::InvalidAckWait | Error::Server(_) => "SERVER_ERROR",
            Error::Decode(_) => "PROTOCOL_ERROR",
        }
    }

    /// True for the four request timeouts and the publish ack timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::PublishAckTimeout
                | Error::ConnectRequestTimeout
                | Error::CloseRequestTimeout
                | Error::SubscribeRequestTimeout
                | Error::UnsubscribeRequestTimeout
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_the_reference() {
        assert_eq!(Error::BadClusterId.to_string(), "stan: cluster ID must be supplied");
        assert_eq!(Error::ConnectionClosed.to_string(), "stan: Connection closed");
        assert_eq!(Error::MaxInFlightReached.to_string(), "stan: max in flight reached.");
        assert_eq!(Error::PingFailure.to_string(), "stan: connection lost due to PING failure");
        assert_eq!(Error::Server("boom".into()).to_string(), "boom");
        assert!(Error::CloseRequestTimeout.is_timeout());
        assert!(!Error::PingFailure.is_timeout());
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(Error::ConnectionClosed.code(), "CONN_CLOSED");
        assert_eq!(Error::MaxInFlightReached.code(), "MAX_FLIGHT_LIMIT_REACHED");
        assert_eq!(Error::Server("stan: invalid publish request".into()).code(), "SERVER_ERROR");
        assert_eq!(Error::AckWaitNotWholeSeconds.code(), "BAD_ACK_WAIT");
        assert_eq!(Error::MaxPayloadExceeded.code(), "MAX_PAYLOAD_EXCEEDED");
        for e in [
            Error::ConnectRequestTimeout,
            Error::CloseRequestTimeout,
            Error::SubscribeRequestTimeout,
            Error::UnsubscribeRequestTimeout,
        ] {
            assert_eq!(e.code(), e.to_string());
        }
    }
}
