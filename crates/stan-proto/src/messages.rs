//! The STAN protobuf messages (proto3, package `pb`), written with prost derive.
//!
//! Field numbers and types follow the reference `protocol.proto`; unknown
//! fields are skipped on decode, as proto3 requires.

/// Where a new subscription starts (SubscriptionRequest.startPosition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StartPosition {
    /// Only messages published after the subscription was created.
    NewOnly = 0,
    /// Start with the last stored message.
    LastReceived = 1,
    /// First message whose timestamp is at or after `now - startTimeDelta`.
    TimeDeltaStart = 2,
    /// Start at `startSequence` (clamped to the stored range).
    SequenceStart = 3,
    /// All available messages.
    First = 4,
}

/// Client → server: a message to store on a channel.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PubMsg {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub guid: String,
    #[prost(string, tag = "3")]
    pub subject: String,
    #[prost(string, tag = "4")]
    pub reply: String,
    #[prost(bytes = "bytes", tag = "5")]
    pub data: bytes::Bytes,
    #[prost(bytes = "bytes", tag = "6")]
    pub conn_id: bytes::Bytes,
    #[prost(bytes = "bytes", tag = "10")]
    pub sha256: bytes::Bytes,
}

/// Server → client: the outcome of a publish, matched by guid.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PubAck {
    #[prost(string, tag = "1")]
    pub guid: String,
    #[prost(string, tag = "2")]
    pub error: String,
}

/// Server → subscriber: one stored message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MsgProto {
    #[prost(uint64, tag = "1")]
    pub sequence: u64,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub reply: String,
    #[prost(bytes = "bytes", tag = "4")]
    pub data: bytes::Bytes,
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
    #[prost(bool, tag = "6")]
    pub redelivered: bool,
    #[prost(uint32, tag = "7")]
    pub redelivery_count: u32,
    #[prost(uint32, tag = "10")]
    pub crc32: u32,
}

/// Subscriber → server: acknowledge one message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ack {
    #[prost(string, tag = "1")]
    pub subject: String,
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
}

/// Client → server on `<discoverPrefix>.<clusterID>`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub heartbeat_inbox: String,
    #[prost(int32, tag = "3")]
    pub protocol: i32,
    #[prost(bytes = "bytes", tag = "4")]
    pub conn_id: bytes::Bytes,
    /// Seconds.
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

/// Server → client: the subjects to use for this connection, or an error.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectResponse {
    #[prost(string, tag = "1")]
    pub pub_prefix: String,
    #[prost(string, tag = "2")]
    pub sub_requests: String,
    #[prost(string, tag = "3")]
    pub unsub_requests: String,
    #[prost(string, tag = "4")]
    pub close_requests: String,
    #[prost(string, tag = "5")]
    pub error: String,
    #[prost(string, tag = "6")]
    pub sub_close_requests: String,
    #[prost(string, tag = "7")]
    pub ping_requests: String,
    /// Seconds.
    #[prost(int32, tag = "8")]
    pub ping_interval: i32,
    #[prost(int32, tag = "9")]
    pub ping_max_out: i32,
    #[prost(int32, tag = "10")]
    pub protocol: i32,
    #[prost(string, tag = "100")]
    pub public_key: String,
}

/// Client → server on `pingRequests`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ping {
    #[prost(bytes = "bytes", tag = "1")]
    pub conn_id: bytes::Bytes,
}

/// Server → client reply to a [`Ping`]; success is an empty payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PingResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// Client → server on `subRequests`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscriptionRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub q_group: String,
    #[prost(string, tag = "4")]
    pub inbox: String,
    #[prost(int32, tag = "5")]
    pub max_in_flight: i32,
    #[prost(int32, tag = "6")]
    pub ack_wait_in_secs: i32,
    #[prost(string, tag = "7")]
    pub durable_name: String,
    #[prost(enumeration = "StartPosition", tag = "10")]
    pub start_position: i32,
    #[prost(uint64, tag = "11")]
    pub start_sequence: u64,
    /// Nanoseconds before "now".
    #[prost(int64, tag = "12")]
    pub start_time_delta: i64,
}

/// Server → client reply to subscribe, unsubscribe and sub-close requests.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscriptionResponse {
    #[prost(string, tag = "2")]
    pub ack_inbox: String,
    #[prost(string, tag = "3")]
    pub error: String,
}

/// Client → server on `unsubRequests` or `subCloseRequests`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnsubscribeRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    /// The ackInbox from the SubscriptionResponse (servers also accept the delivery inbox).
    #[prost(string, tag = "3")]
    pub inbox: String,
    #[prost(string, tag = "4")]
    pub durable_name: String,
}

/// Client → server on `closeRequests`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CloseRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
}

/// Server → client reply to a [`CloseRequest`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct CloseResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// Encode any message into a fresh `Vec<u8>`.
pub fn encode<M: prost::Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

/// Encode a PubMsg straight from borrowed parts (same bytes as encoding a
/// [`PubMsg`] with these fields): the payload is copied once, into the result.
pub fn encode_pub_msg(client_id: &str, guid: &str, subject: &str, data: &[u8], conn_id: &[u8]) -> Vec<u8> {
    use crate::borrowed::{bytes_field_len, encode_pub_msg_into, pub_msg_fields};
    let len = pub_msg_fields(client_id, guid, subject, data, conn_id).iter().map(|&(t, v)| bytes_field_len(t, v)).sum();
    let mut buf = Vec::with_capacity(len);
    encode_pub_msg_into(&mut buf, client_id, guid, subject, data, conn_id);
    buf
}

/// Decode a message, mapping every decode failure to `None`.
pub fn decode<M: prost::Message + Default>(buf: &[u8]) -> Option<M> {
    M::decode(buf).ok()
}

impl StartPosition {
    /// Decode a raw wire value, `None` when out of range.
    pub fn from_wire(v: i32) -> Option<Self> {
        Self::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_msg_field_numbers() {
        let m = PubMsg {
            client_id: "a".into(),
            guid: "g".into(),
            subject: "s".into(),
            data: bytes::Bytes::from_static(b"d"),
            conn_id: bytes::Bytes::from_static(b"c"),
            ..Default::default()
        };
        // tag 1 string "a", tag 2 "g", tag 3 "s", tag 5 bytes "d", tag 6 bytes "c"
        assert_eq!(encode(&m), vec![0x0a, 1, b'a', 0x12, 1, b'g', 0x1a, 1, b's', 0x2a, 1, b'd', 0x32, 1, b'c']);
    }

    #[test]
    fn pub_msg_from_parts_matches_prost() {
        let big = vec![7u8; 300];
        for (cid, guid, subj, data, conn) in
            [("a", "g", "s", &b"d"[..], &b"c"[..]), ("client", "", "ticket:created", &big[..], &b""[..])]
        {
            let m = PubMsg {
                client_id: cid.into(),
                guid: guid.into(),
                subject: subj.into(),
                data: bytes::Bytes::copy_from_slice(data),
                conn_id: bytes::Bytes::copy_from_slice(conn),
                ..Default::default()
            };
            assert_eq!(encode_pub_msg(cid, guid, subj, data, conn), encode(&m));
        }
    }

    #[test]
    fn subscription_response_has_no_field_one() {
        let r = SubscriptionResponse { ack_inbox: "x".into(), error: "e".into() };
        assert_eq!(encode(&r), vec![0x12, 1, b'x', 0x1a, 1, b'e']);
    }

    #[test]
    fn connect_response_public_key_is_field_100() {
        let r = ConnectResponse { public_key: "k".into(), ..Default::default() };
        // field 100, wire type 2 => key = (100 << 3) | 2 = 802 = varint [0xa2, 0x06]
        assert_eq!(encode(&r), vec![0xa2, 0x06, 1, b'k']);
    }

    #[test]
    fn msg_proto_roundtrip_and_unknown_fields_skipped() {
        let m = MsgProto {
            sequence: 7,
            subject: "foo".into(),
            timestamp: 1_700_000_000_123_456_789,
            redelivered: true,
            redelivery_count: 2,
            ..Default::default()
        };
        let mut buf = encode(&m);
        // append an unknown field 50 (varint)
        buf.extend_from_slice(&[0x90, 0x03, 0x01]);
        let back: MsgProto = decode(&buf).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn garbage_does_not_decode_or_panic() {
        assert!(decode::<ConnectRequest>(&[0xff, 0xff, 0xff]).is_none());
        assert!(decode::<PubMsg>(&[0x0a, 0x10, b'a']).is_none());
    }

    #[test]
    fn start_position_from_wire() {
        assert_eq!(StartPosition::from_wire(4), Some(StartPosition::First));
        assert_eq!(StartPosition::from_wire(5), None);
        assert_eq!(StartPosition::from_wire(-1), None);
    }
}
