//! Wire formats on borrowed parts, for the hot paths of both sides: a
//! `PubMsg` decoded into slices of the request (no allocation; the same
//! answer prost's decoding of the owned message gives, for any bytes), and
//! `PubMsg`, `Ack` and `PubAck` encoded from borrowed fields straight into a
//! caller's buffer (the same bytes prost writes for the owned messages).

use prost::encoding::{decode_key, decode_varint, encode_key, encode_varint, encoded_len_varint, key_len, skip_field};
use prost::encoding::{DecodeContext, WireType};

/// The fields of a `PubMsg`, borrowed from the request's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PubMsgRef<'a> {
    pub client_id: &'a str,
    pub guid: &'a str,
    pub subject: &'a str,
    pub reply: &'a str,
    pub data: &'a [u8],
    pub conn_id: &'a [u8],
    pub sha256: &'a [u8],
}

impl<'a> PubMsgRef<'a> {
    /// Decode `buf`; `None` exactly when prost fails to decode it as a
    /// `PubMsg` (bad key, varint, wire type or length, a string that is not
    /// UTF-8, a malformed unknown field). A field given twice keeps its last
    /// value, unknown fields are skipped, as prost does (it also does the
    /// key, varint and skipping here).
    pub fn decode(mut buf: &'a [u8]) -> Option<PubMsgRef<'a>> {
        let mut m = PubMsgRef::default();
        while let Some(&first) = buf.first() {
            // Keys and lengths below 128 are one byte (every field here but a
            // large `data`): read in place; anything longer goes through prost.
            let (tag, wire_type) = if first < 0x80 {
                buf = &buf[1..];
                if first < 8 {
                    return None; // tag 0
                }
                (u32::from(first >> 3), WireType::try_from(u64::from(first & 7)).ok()?)
            } else {
                decode_key(&mut buf).ok()?
            };
            if !matches!(tag, 1..=6 | 10) {
                skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?;
                continue;
            }
            if wire_type != WireType::LengthDelimited {
                return None;
            }
            let len = match buf.first() {
                Some(&l) if l < 0x80 => {
                    buf = &buf[1..];
                    u64::from(l)
                }
                _ => decode_varint(&mut buf).ok()?,
            };
            let value = buf.get(..usize::try_from(len).ok()?)?;
            buf = &buf[value.len()..];
            let text = || nats_wire::utf8(value);
            match tag {
                1 => m.client_id = text()?,
                2 => m.guid = text()?,
                3 => m.subject = text()?,
                4 => m.reply = text()?,
                5 => m.data = value,
                6 => m.conn_id = value,
                _ => m.sha256 = value,
            }
        }
        Some(m)
    }
}

/// Encoded length of a length-delimited field (0 when empty: proto3 leaves it out).
pub(crate) fn bytes_field_len(tag: u32, v: &[u8]) -> usize {
    if v.is_empty() {
        0
    } else {
        key_len(tag) + encoded_len_varint(v.len() as u64) + v.len()
    }
}

/// Append a length-delimited field (nothing when empty, as prost does).
pub(crate) fn put_bytes_field(tag: u32, v: &[u8], out: &mut Vec<u8>) {
    if !v.is_empty() {
        encode_key(tag, WireType::LengthDelimited, out);
        encode_varint(v.len() as u64, out);
        out.extend_from_slice(v);
    }
}

/// The fields of a `PubMsg` by tag (clientID 1, guid 2, subject 3, data 5, connID 6).
pub(crate) fn pub_msg_fields<'a>(
    client_id: &'a str,
    guid: &'a str,
    subject: &'a str,
    data: &'a [u8],
    conn_id: &'a [u8],
) -> [(u32, &'a [u8]); 5] {
    [(1, client_id.as_bytes()), (2, guid.as_bytes()), (3, subject.as_bytes()), (5, data), (6, conn_id)]
}

/// Encode a `PubMsg` into `buf`, replacing its contents (a reused buffer:
/// no allocation once it has grown).
pub fn encode_pub_msg_into(buf: &mut Vec<u8>, client_id: &str, guid: &str, subject: &str, data: &[u8], conn_id: &[u8]) {
    buf.clear();
    for (tag, v) in pub_msg_fields(client_id, guid, subject, data, conn_id) {
        put_bytes_field(tag, v, buf);
    }
}

/// Encode an `Ack` (subject 1, sequence 2) into `buf`, replacing its contents.
pub fn encode_ack_into(buf: &mut Vec<u8>, subject: &str, sequence: u64) {
    buf.clear();
    put_bytes_field(1, subject.as_bytes(), buf);
    if sequence != 0 {
        encode_key(2, WireType::Varint, buf);
        encode_varint(sequence, buf);
    }
}

/// Length of the `PubAck` bytes [`encode_pub_ack`] writes.
pub fn pub_ack_len(guid: &str, error: &str) -> usize {
    bytes_field_len(1, guid.as_bytes()) + bytes_field_len(2, error.as_bytes())
}

/// Append a `PubAck` (guid 1, error 2) to `out`.
pub fn encode_pub_ack(guid: &str, error: &str, out: &mut Vec<u8>) {
    put_bytes_field(1, guid.as_bytes(), out);
    put_bytes_field(2, error.as_bytes(), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ack, PubAck, PubMsg};
    use proptest::prelude::*;
    use prost::Message;

    /// What prost makes of `buf`, as borrowed fields.
    fn check_same_as_prost(buf: &[u8]) {
        let prost = crate::decode::<PubMsg>(buf);
        let mine = PubMsgRef::decode(buf);
        match (&prost, mine) {
            (None, None) => {}
            (Some(p), Some(m)) => {
                assert_eq!(m.client_id, p.client_id, "{buf:?}");
                assert_eq!(m.guid, p.guid, "{buf:?}");
                assert_eq!(m.subject, p.subject, "{buf:?}");
                assert_eq!(m.reply, p.reply, "{buf:?}");
                assert_eq!(m.data, &p.data[..], "{buf:?}");
                assert_eq!(m.conn_id, &p.conn_id[..], "{buf:?}");
                assert_eq!(m.sha256, &p.sha256[..], "{buf:?}");
            }
            _ => panic!("prost {prost:?}, borrowed {mine:?} for {buf:?}"),
        }
    }

    fn sample() -> PubMsg {
        PubMsg {
            client_id: "me".into(),
            guid: "g1".into(),
            subject: "foo".into(),
            reply: "r".into(),
            data: bytes::Bytes::from_static(b"hello"),
            conn_id: bytes::Bytes::from_static(b"c1"),
            sha256: bytes::Bytes::from_static(b"h"),
        }
    }

    #[test]
    fn reads_what_clients_send() {
        let b = sample().encode_to_vec();
        let m = PubMsgRef::decode(&b).expect("valid");
        assert_eq!((m.client_id, m.guid, m.subject, m.reply), ("me", "g1", "foo", "r"));
        assert_eq!((m.data, m.conn_id, m.sha256), (&b"hello"[..], &b"c1"[..], &b"h"[..]));
        assert_eq!(PubMsgRef::decode(&[]), Some(PubMsgRef::default()));
        check_same_as_prost(&b);
    }

    #[test]
    fn rejects_what_prost_rejects_and_accepts_what_it_accepts() {
        let good = sample().encode_to_vec();
        let mut bad_utf8 = good.clone();
        bad_utf8[2] = 0xff; // client_id's first byte
        let truncated = &good[..good.len() - 1];
        let cases: Vec<Vec<u8>> = vec![
            bad_utf8,
            truncated.to_vec(),
            vec![0x0a],                                                             // length missing
            vec![0x0a, 5, b'a'],                                                    // length past the end
            vec![0x08, 1],                                                          // client_id as a varint
            vec![0x2d, 1, 2, 3, 4],                                                 // data as fixed32
            vec![0x00, 1],                                                          // tag 0
            vec![0x3c],                                                             // unexpected end group
            vec![0x3b, 0x08, 1, 0x3c],                                              // group 7 skipped
            vec![0x3b, 0x44],                                                       // end group of another tag
            vec![0x3b],                                                             // unterminated group
            vec![0x0e],                                                             // wire type 6
            vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // overlong varint
            vec![0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // unknown varint
            vec![0x41, 1, 2, 3, 4, 5, 6, 7, 8],                                     // unknown fixed64
            vec![0x45, 1, 2, 3],                                                    // unknown fixed32, short
            vec![0x12, 1, b'a', 0x12, 1, b'b'],                                     // guid twice: the last wins
            vec![0x52, 0],                                                          // empty sha256
            vec![0xfa, 0xff, 0xff, 0xff, 0x0f, 0],                                  // the largest tag
            vec![0xfa, 0xff, 0xff, 0xff, 0x1f, 0],                                  // key beyond u32
        ];
        for c in &cases {
            check_same_as_prost(c);
        }
        // Groups nested past prost's recursion limit are refused by both.
        let mut deep = vec![0x3b; 150];
        deep.extend(vec![0x3c; 150]);
        check_same_as_prost(&deep);
        assert!(PubMsgRef::decode(&[0x0a, 1, 0xff]).is_none());
        assert_eq!(PubMsgRef::decode(&[0x12, 1, b'a', 0x12, 1, b'b']).map(|m| m.guid), Some("b"));
    }

    #[test]
    fn pub_ack_is_prosts_bytes() {
        for (guid, error) in [("g", ""), ("", ""), ("", "stan: bad"), ("x".repeat(200).as_str(), "e")] {
            let mut mine = b"pre".to_vec();
            encode_pub_ack(guid, error, &mut mine);
            let owned = PubAck { guid: guid.into(), error: error.into() }.encode_to_vec();
            assert_eq!(mine[3..], owned);
            assert_eq!(pub_ack_len(guid, error), owned.len());
        }
    }

    #[test]
    fn pub_msg_and_ack_encode_as_the_protobuf_types() {
        let mut buf = vec![9, 9, 9];
        for data in [&b"data"[..], b""] {
            encode_pub_msg_into(&mut buf, "client", "GUID", "chan", data, b"conn");
            let owned = PubMsg {
                client_id: "client".into(),
                guid: "GUID".into(),
                subject: "chan".into(),
                data: bytes::Bytes::copy_from_slice(data),
                conn_id: bytes::Bytes::from_static(b"conn"),
                ..Default::default()
            };
            assert_eq!(buf, owned.encode_to_vec());
        }
        for seq in [0, 1, 300, u64::MAX] {
            encode_ack_into(&mut buf, "chan", seq);
            assert_eq!(buf, Ack { subject: "chan".into(), sequence: seq }.encode_to_vec(), "sequence {seq}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_decode_as_prost_decodes_them(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            check_same_as_prost(&buf);
        }

        #[test]
        fn mutated_pub_msgs_decode_as_prost_decodes_them(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = sample().encode_to_vec();
            let i = at.index(b.len());
            b[i] = byte;
            check_same_as_prost(&b);
            check_same_as_prost(&b[..cut.index(b.len() + 1)]);
        }
    }
}
