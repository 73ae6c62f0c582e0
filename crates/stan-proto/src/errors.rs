//! Exact error texts of node-nats-streaming (client side) and
//! nats-streaming-server (server side), shared so both ends use one wording.

// ---- client library texts (node-nats-streaming `lib/stan.js`) ----
pub const BAD_CLUSTER_ID: &str = "stan: cluster ID must be supplied";
pub const BAD_CLIENT_ID: &str = "stan: client ID must be supplied";
pub const BINARY_ENCODING_REQUIRED: &str = "stan: NATS connection encoding must be 'binary'.";
pub const BAD_SUBJECT: &str = "stan: subject must be supplied";
pub const CONN_CLOSED: &str = "stan: Connection closed";
pub const MAX_FLIGHT_LIMIT_REACHED: &str = "stan: max in flight reached.";
pub const BAD_SUBSCRIPTION: &str = "stan: invalid subscription";
pub const NO_SERVER_SUPPORT: &str = "stan: not supported by server";
pub const ACK_TIMEOUT: &str = "stan: publish ack timeout";
pub const CONNECT_REQ_TIMEOUT: &str = "stan: connect request timeout";
pub const CLOSE_REQ_TIMEOUT: &str = "stan: close request timeout";
pub const SUB_REQ_TIMEOUT: &str = "stan: subscribe request timeout";
pub const UNSUB_REQ_TIMEOUT: &str = "stan: unsubscribe request timeout";
pub const MAX_PINGS_EXCEEDED: &str = "stan: connection lost due to PING failure";

// ---- server texts (nats-streaming-server) ----
pub const SRV_INVALID_CONN_REQ: &str = "stan: invalid connection request";
pub const SRV_INVALID_CLIENT_ID: &str = "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed";
pub const SRV_CLIENT_ID_REGISTERED: &str = "stan: clientID already registered";
pub const SRV_INVALID_PUB_REQ: &str = "stan: invalid publish request";
pub const SRV_INVALID_SUB_REQ: &str = "stan: invalid subscription request";
pub const SRV_MISSING_CLIENT_ID: &str = "stan: clientID missing";
pub const SRV_INVALID_ACK_WAIT: &str = "stan: invalid ack wait time, should be >= 1s";
pub const SRV_INVALID_MAX_INFLIGHT: &str = "stan: invalid MaxInflight, should be >= 1";
pub const SRV_INVALID_START: &str = "stan: invalid start position";
pub const SRV_INVALID_SUBJECT: &str = "stan: invalid subject";
pub const SRV_UNKNOWN_CLIENT: &str = "stan: unknown clientID";
pub const SRV_DUP_DURABLE: &str = "stan: duplicate durable registration";
pub const SRV_DURABLE_QUEUE_COLON: &str =
    "stan: durable name of a durable queue subscriber can't contain the character ':'";
pub const SRV_TOO_MANY_CHANNELS: &str = "too many channels";
pub const SRV_TOO_MANY_SUBS: &str = "too many subscriptions per channel";
pub const SRV_CHANNEL_BEING_DELETED: &str = "stan: channel is being deleted";
pub const SRV_INVALID_UNSUB_REQ: &str = "stan: invalid unsubscribe request";
pub const SRV_UNKNOWN_CHANNEL: &str = "stan: unknown channel";
pub const SRV_INVALID_SUB: &str = "stan: invalid subscription";
pub const SRV_INVALID_CLOSE_REQ: &str = "stan: invalid close request";
pub const SRV_CLIENT_REPLACED: &str = "client has been replaced or is no longer registered";
