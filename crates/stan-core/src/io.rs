//! The values that cross the session boundary: NATS operations out, NATS
//! messages in, application events out.

use bytes::Bytes;

use crate::Error;

/// Identifies one NATS subscription the session asked the driver to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub u64);

/// Identifies one STAN subscription of this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubId(pub u64);

/// A NATS operation the driver must perform, in the order polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatsOp {
    /// SUB `subject`; deliver its messages back tagged with `sid`.
    Subscribe { sid: Sid, subject: String },
    /// UNSUB the subscription made for `sid`.
    Unsubscribe { sid: Sid },
    /// PUB `subject` with an optional reply subject.
    Publish { subject: String, reply: Option<String>, payload: Bytes },
}

/// A NATS message that arrived on a subscription the session asked for.
///
/// Drivers pass only real messages: NATS status messages (such as the 503
/// "no responders" reply to a request) must be dropped, not fed in with an
/// empty payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The subscription it arrived on.
    pub sid: Sid,
    /// The subject it was published to.
    pub subject: String,
    /// Its reply subject, if any.
    pub reply: Option<String>,
    /// The payload.
    pub payload: Bytes,
}

/// One message delivered to a STAN subscription (a decoded MsgProto).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel.
    pub subject: String,
    /// Per-channel sequence number.
    pub sequence: u64,
    /// MsgProto.reply (copied from the publisher's PubMsg; usually empty).
    pub reply: String,
    /// The payload.
    pub data: Bytes,
    /// Server timestamp, Unix nanoseconds.
    pub timestamp: i64,
    /// True if this is a redelivery.
    pub redelivered: bool,
    /// How many times it was redelivered.
    pub redelivery_count: u32,
    /// Always 0 from current servers.
    pub crc32: u32,
}

impl From<stan_proto::MsgProto> for Message {
    fn from(m: stan_proto::MsgProto) -> Self {
        Message {
            subject: m.subject,
            sequence: m.sequence,
            reply: m.reply,
            data: m.data,
            timestamp: m.timestamp,
            redelivered: m.redelivered,
            redelivery_count: m.redelivery_count,
            crc32: m.crc32,
        }
    }
}

/// Which subscription operation an error or timeout belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubOp {
    /// The SubscriptionRequest.
    Subscribe,
    /// An unsubscribe request.
    Unsubscribe,
    /// A sub-close request.
    Close,
    /// Delivery of a message (undecodable payload).
    Deliver,
}

/// What the application learns from the session, in order.
///
/// Every subscription ends with exactly one [`Event::SubEnded`], and every
/// session ends with exactly one [`Event::Closed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The ConnectResponse arrived without an error.
    Connected,
    /// The handshake failed (timeout or server error); [`Event::Closed`] follows.
    ConnectFailed(Error),
    /// The outcome of one publish, matched by guid.
    PubAck { guid: String, result: Result<(), Error> },
    /// The server accepted the subscription.
    SubReady { sub: SubId },
    /// A message for a subscription.
    Message { sub: SubId, msg: Message },
    /// A subscription operation failed.
    SubError { sub: SubId, op: SubOp, error: Error },
    /// A subscription request timed out (`error` names which one).
    SubTimeout { sub: SubId, op: SubOp, error: Error },
    /// The server confirmed an unsubscribe (also sent after a refused subscribe).
    Unsubscribed { sub: SubId },
    /// The server confirmed a sub close.
    SubClosed { sub: SubId },
    /// The subscription is gone; no more events for it.
    SubEnded { sub: SubId },
    /// The driver reported a NATS disconnect.
    Disconnected,
    /// The driver reported a NATS reconnect (STAN state is assumed valid).
    Reconnected,
    /// Pings failed or the server disowned this connection; [`Event::Closed`] follows.
    ConnectionLost(Error),
    /// The session is over. `Err` only when `close()` itself failed.
    Closed(Result<(), Error>),
}

/// Where the session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// ConnectRequest sent, waiting for the response.
    Connecting,
    /// Handshake done.
    Connected,
    /// CloseRequest sent, waiting for the response.
    Closing,
    /// Over.
    Closed,
}

/// The subjects the server announced in its ConnectResponse (opaque values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerSubjects {
    pub pub_prefix: String,
    pub sub_requests: String,
    pub unsub_requests: String,
    pub close_requests: String,
    pub sub_close_requests: String,
    pub ping_requests: String,
    /// Echoed ping interval, seconds.
    pub ping_interval: i32,
    /// Echoed ping max out.
    pub ping_max_out: i32,
    /// Server protocol version.
    pub protocol: i32,
}
