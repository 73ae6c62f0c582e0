//! The delivery path's wire formats: `MsgProto` encoded from borrowed fields
//! straight into the output buffer (the same bytes prost writes for the owned
//! message, without a temporary struct or buffer), and the sequence of an
//! `Ack` read without allocating its subject.

use prost::encoding::{decode_varint, encode_key, encode_varint, encoded_len_varint, WireType};

/// The fields of one delivery (`MsgProto`), borrowed from the stored message.
pub struct MsgRef<'a> {
    pub sequence: u64,
    pub subject: &'a str,
    pub reply: &'a str,
    pub data: &'a [u8],
    pub timestamp: i64,
    pub redelivered: bool,
    pub redelivery_count: u32,
}

fn key_len(tag: u32) -> usize {
    prost::encoding::key_len(tag)
}

fn bytes_len(tag: u32, b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        key_len(tag) + encoded_len_varint(b.len() as u64) + b.len()
    }
}

fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

fn put_bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    if !b.is_empty() {
        encode_key(tag, WireType::LengthDelimited, out);
        encode_varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
}

fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

impl MsgRef<'_> {
    /// Length of the protobuf bytes [`MsgRef::encode_into`] writes.
    pub fn encoded_len(&self) -> usize {
        self.shared_len() + own_len(self.redelivered, self.redelivery_count)
    }

    /// Append the protobuf bytes, identical to prost's encoding of the owned
    /// `MsgProto` (proto3: fields at their default value are left out; `crc32` is 0).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_shared(out);
        encode_own(self.redelivered, self.redelivery_count, out);
    }

    /// Length of what [`MsgRef::encode_shared`] writes.
    pub fn shared_len(&self) -> usize {
        varint_len(1, self.sequence)
            + bytes_len(2, self.subject.as_bytes())
            + bytes_len(3, self.reply.as_bytes())
            + bytes_len(4, self.data)
            + varint_len(5, self.timestamp as u64)
    }

    /// Append fields 1–5 (sequence, subject, reply, data, timestamp): the
    /// part every delivery of this message shares. [`encode_own`] appends the
    /// rest; the two together are [`MsgRef::encode_into`]'s bytes, because
    /// prost writes the fields in tag order and `crc32` (8) is always 0.
    pub fn encode_shared(&self, out: &mut Vec<u8>) {
        put_varint(1, self.sequence, out);
        put_bytes(2, self.subject.as_bytes(), out);
        put_bytes(3, self.reply.as_bytes(), out);
        put_bytes(4, self.data, out);
        put_varint(5, self.timestamp as u64, out);
    }
}

/// Length of what [`encode_own`] writes.
pub fn own_len(redelivered: bool, redelivery_count: u32) -> usize {
    varint_len(6, redelivered as u64) + varint_len(7, redelivery_count as u64)
}

/// Append a delivery's own fields 6 and 7 (`redelivered`, `redeliveryCount`).
pub fn encode_own(redelivered: bool, redelivery_count: u32, out: &mut Vec<u8>) {
    put_varint(6, redelivered as u64, out);
    put_varint(7, redelivery_count as u64, out);
}

/// The sequence of the `Ack` in `buf`, or `None` if `buf` is not a valid
/// `Ack`: the answer decoding it with prost gives, without allocating the
/// subject (the channel name, which the server does not need).
pub fn ack_sequence(buf: &[u8]) -> Option<u64> {
    canonical_ack_sequence(buf).or_else(|| stan_proto::decode::<stan_proto::Ack>(buf).map(|a| a.sequence))
}

/// The sequence of an `Ack` encoded the way every client encodes it (field
/// 1, a UTF-8 string, then field 2, a varint, each at most once and nothing
/// else); `None` for anything else, which prost then decides.
fn canonical_ack_sequence(mut buf: &[u8]) -> Option<u64> {
    const SUBJECT_KEY: u8 = (1 << 3) | WireType::LengthDelimited as u8;
    const SEQUENCE_KEY: u8 = (2 << 3) | WireType::Varint as u8;
    if let Some((&SUBJECT_KEY, rest)) = buf.split_first() {
        buf = rest;
        let len = decode_varint(&mut buf).ok()?;
        let subject = buf.get(..usize::try_from(len).ok()?)?;
        nats_wire::utf8(subject)?;
        buf = &buf[subject.len()..];
    }
    let mut sequence = 0;
    if let Some((&SEQUENCE_KEY, rest)) = buf.split_first() {
        buf = rest;
        sequence = decode_varint(&mut buf).ok()?;
    }
    buf.is_empty().then_some(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use stan_proto::MsgProto;

    #[test]
    fn same_bytes_as_prost() {
        let cases = [
            (1u64, "foo", "", &b"hello"[..], 1_700_000_000_000_000_000i64, false, 0u32),
            (0, "", "", &b""[..], 0, false, 0),
            (u64::MAX, "a.b", "_INBOX.x", &[0u8; 300][..], -5, true, 7),
            (300, "ch", "r", &b"x"[..], 1, true, u32::MAX),
        ];
        for (sequence, subject, reply, data, timestamp, redelivered, redelivery_count) in cases {
            let owned = MsgProto {
                sequence,
                subject: subject.into(),
                reply: reply.into(),
                data: bytes::Bytes::copy_from_slice(data),
                timestamp,
                redelivered,
                redelivery_count,
                crc32: 0,
            };
            let r = MsgRef { sequence, subject, reply, data, timestamp, redelivered, redelivery_count };
            let mut mine = b"before".to_vec();
            r.encode_into(&mut mine);
            assert_eq!(mine[6..], owned.encode_to_vec(), "{owned:?}");
            assert_eq!(mine.len() - 6, r.encoded_len());
        }
    }

    /// What prost makes of `buf` as an `Ack`.
    fn prost_ack(buf: &[u8]) -> Option<u64> {
        stan_proto::decode::<stan_proto::Ack>(buf).map(|a| a.sequence)
    }

    #[test]
    fn ack_sequence_reads_what_clients_send_and_rejects_what_prost_rejects() {
        let enc = |subject: &str, sequence| stan_proto::Ack { subject: subject.into(), sequence }.encode_to_vec();
        for (subject, seq) in [("foo", 1u64), ("", 0), ("a.b.c", u64::MAX), ("x", 300)] {
            let b = enc(subject, seq);
            assert_eq!(canonical_ack_sequence(&b), Some(seq), "{b:?}");
            assert_eq!(ack_sequence(&b), Some(seq));
        }
        let mut bad_utf8 = enc("ab", 5);
        bad_utf8[2] = 0xff;
        let truncated = &enc("abc", 7)[..4];
        let overlong_varint = [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        let wrong_wire_type = [0x11, 1, 0, 0, 0, 0, 0, 0, 0];
        for b in [&bad_utf8[..], truncated, &overlong_varint, &wrong_wire_type] {
            assert_eq!(ack_sequence(b), None, "{b:?}");
            assert_eq!(prost_ack(b), None, "{b:?}");
        }
        // Not canonical (fields swapped, repeated, unknown): prost decides.
        let mut swapped = vec![0x10, 9];
        swapped.extend(enc("ch", 0));
        let unknown = [0x10, 3, 0x18, 7];
        let repeated = [0x10, 3, 0x10, 4];
        for (b, want) in [(&swapped[..], 9), (&unknown[..], 3), (&repeated[..], 4)] {
            assert_eq!(canonical_ack_sequence(b), None, "{b:?}");
            assert_eq!(ack_sequence(b), Some(want), "{b:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn shared_then_own_fields_are_prosts_bytes(
            sequence in proptest::prelude::any::<u64>(),
            subject in "[a-z.]{0,12}",
            reply in "[A-Za-z_.0-9]{0,20}",
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            timestamp in proptest::prelude::any::<i64>(),
            redelivered in proptest::prelude::any::<bool>(),
            redelivery_count in proptest::prelude::any::<u32>(),
        ) {
            let owned = MsgProto {
                sequence,
                subject: subject.clone(),
                reply: reply.clone(),
                data: bytes::Bytes::copy_from_slice(&data),
                timestamp,
                redelivered,
                redelivery_count,
                crc32: 0,
            };
            let r = MsgRef { sequence, subject: &subject, reply: &reply, data: &data, timestamp, redelivered, redelivery_count };
            let mut shared = Vec::new();
            r.encode_shared(&mut shared);
            proptest::prop_assert_eq!(shared.len(), r.shared_len());
            let mut mine = shared.clone();
            encode_own(redelivered, redelivery_count, &mut mine);
            proptest::prop_assert_eq!(mine.len(), r.shared_len() + own_len(redelivered, redelivery_count));
            proptest::prop_assert_eq!(&mine, &owned.encode_to_vec());
            // The same shared bytes serve any other delivery of the message.
            let mut again = shared;
            encode_own(!redelivered, redelivery_count / 2, &mut again);
            let other = MsgProto { redelivered: !redelivered, redelivery_count: redelivery_count / 2, ..owned };
            proptest::prop_assert_eq!(again, other.encode_to_vec());
        }

        #[test]
        fn ack_sequence_agrees_with_prost(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            subject in "[a-z.]{0,12}",
            sequence in proptest::prelude::any::<u64>(),
            cut in 0usize..32,
        ) {
            proptest::prop_assert_eq!(ack_sequence(&bytes), prost_ack(&bytes));
            let b = stan_proto::Ack { subject, sequence }.encode_to_vec();
            proptest::prop_assert_eq!(ack_sequence(&b), Some(sequence));
            let b = &b[..cut.min(b.len())];
            proptest::prop_assert_eq!(ack_sequence(b), prost_ack(b));
        }
    }
}
