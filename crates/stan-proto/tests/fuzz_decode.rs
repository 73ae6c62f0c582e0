//! Property tests of the protobuf messages: arbitrary bytes never panic a
//! decoder, every message survives an encode/decode round trip, a message
//! followed by unknown fields still decodes to itself, and the borrowed
//! PubMsg encoder writes exactly prost's bytes. `STAN_LONG_TESTS=1` runs
//! many more cases.

use bytes::Bytes;
use proptest::prelude::*;
use stan_proto::*;

fn cases() -> u32 {
    if std::env::var_os("STAN_LONG_TESTS").is_some_and(|v| v == "1") {
        20_000
    } else {
        300
    }
}

fn bytes_s(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn text() -> impl Strategy<Value = String> {
    ".{0,40}"
}

/// Decodes `buf` as every message type; none may panic, and whatever decodes
/// re-encodes to bytes that decode to the same value.
fn decode_all(buf: &[u8]) {
    fn one<M: prost::Message + Default + PartialEq + std::fmt::Debug>(buf: &[u8]) {
        if let Some(m) = decode::<M>(buf) {
            let again = decode::<M>(&encode(&m)).expect("a decoded message re-encodes decodably");
            assert_eq!(again, m);
        }
    }
    one::<PubMsg>(buf);
    one::<PubAck>(buf);
    one::<MsgProto>(buf);
    one::<Ack>(buf);
    one::<ConnectRequest>(buf);
    one::<ConnectResponse>(buf);
    one::<Ping>(buf);
    one::<PingResponse>(buf);
    one::<SubscriptionRequest>(buf);
    one::<SubscriptionResponse>(buf);
    one::<UnsubscribeRequest>(buf);
    one::<CloseRequest>(buf);
    one::<CloseResponse>(buf);
}

prop_compose! {
    fn pub_msg()(client_id in text(), guid in text(), subject in text(), reply in text(),
                 data in bytes_s(300), conn_id in bytes_s(30), sha256 in bytes_s(40)) -> PubMsg {
        PubMsg { client_id, guid, subject, reply, data, conn_id, sha256 }
    }
}

prop_compose! {
    fn msg_proto()(sequence in any::<u64>(), subject in text(), reply in text(), data in bytes_s(300),
                   timestamp in any::<i64>(), redelivered in any::<bool>(), redelivery_count in any::<u32>(),
                   crc32 in any::<u32>()) -> MsgProto {
        MsgProto { sequence, subject, reply, data, timestamp, redelivered, redelivery_count, crc32 }
    }
}

prop_compose! {
    fn sub_request()(client_id in text(), subject in text(), q_group in text(), inbox in text(),
                     max_in_flight in any::<i32>(), ack_wait_in_secs in any::<i32>(), durable_name in text(),
                     start_position in any::<i32>(), start_sequence in any::<u64>(),
                     start_time_delta in any::<i64>()) -> SubscriptionRequest {
        SubscriptionRequest {
            client_id, subject, q_group, inbox, max_in_flight, ack_wait_in_secs, durable_name,
            start_position, start_sequence, start_time_delta,
        }
    }
}

prop_compose! {
    fn connect_request()(client_id in text(), heartbeat_inbox in text(), protocol in any::<i32>(),
                         conn_id in bytes_s(30), ping_interval in any::<i32>(),
                         ping_max_out in any::<i32>()) -> ConnectRequest {
        ConnectRequest { client_id, heartbeat_inbox, protocol, conn_id, ping_interval, ping_max_out }
    }
}

/// An unknown field (tag 15..1000, any wire type that prost can skip).
fn unknown_field() -> impl Strategy<Value = Vec<u8>> {
    (15u32..1000, 0u8..3, any::<u64>(), bytes_s(20)).prop_map(|(tag, kind, v, b)| {
        let mut out = Vec::new();
        let wire = match kind {
            0 => prost::encoding::WireType::Varint,
            1 => prost::encoding::WireType::SixtyFourBit,
            _ => prost::encoding::WireType::LengthDelimited,
        };
        prost::encoding::encode_key(tag, wire, &mut out);
        match kind {
            0 => prost::encoding::encode_varint(v, &mut out),
            1 => out.extend_from_slice(&v.to_le_bytes()),
            _ => {
                prost::encoding::encode_varint(b.len() as u64, &mut out);
                out.extend_from_slice(&b);
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&buf);
    }

    #[test]
    fn mutated_messages_never_panic(m in pub_msg(), at in any::<prop::sample::Index>(), byte in any::<u8>(),
                                    cut in any::<prop::sample::Index>()) {
        let mut buf = encode(&m);
        if !buf.is_empty() {
            let i = at.index(buf.len());
            buf[i] = byte;
            buf.truncate(cut.index(buf.len() + 1));
        }
        decode_all(&buf);
    }

    #[test]
    fn pub_msg_round_trips(m in pub_msg()) {
        prop_assert_eq!(decode::<PubMsg>(&encode(&m)), Some(m));
    }

    #[test]
    fn msg_proto_round_trips(m in msg_proto()) {
        prop_assert_eq!(decode::<MsgProto>(&encode(&m)), Some(m));
    }

    #[test]
    fn subscription_request_round_trips(m in sub_request()) {
        prop_assert_eq!(decode::<SubscriptionRequest>(&encode(&m)), Some(m));
    }

    #[test]
    fn connect_request_round_trips(m in connect_request()) {
        prop_assert_eq!(decode::<ConnectRequest>(&encode(&m)), Some(m));
    }

    #[test]
    fn unknown_fields_are_skipped(m in sub_request(), extra in proptest::collection::vec(unknown_field(), 0..4)) {
        let mut buf = encode(&m);
        for e in &extra {
            buf.extend_from_slice(e);
        }
        prop_assert_eq!(decode::<SubscriptionRequest>(&buf), Some(m));
    }

    #[test]
    fn borrowed_pub_msg_encoder_matches_prost(client_id in text(), guid in text(), subject in text(),
                                              data in bytes_s(400), conn_id in bytes_s(30)) {
        let m = PubMsg {
            client_id: client_id.clone(),
            guid: guid.clone(),
            subject: subject.clone(),
            data: data.clone(),
            conn_id: conn_id.clone(),
            ..Default::default()
        };
        prop_assert_eq!(encode_pub_msg(&client_id, &guid, &subject, &data, &conn_id), encode(&m));
    }

    #[test]
    fn start_position_from_wire_accepts_exactly_the_enum(v in any::<i32>()) {
        prop_assert_eq!(StartPosition::from_wire(v).is_some(), (0..=4).contains(&v));
    }
}
