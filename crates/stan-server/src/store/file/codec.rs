//! Binary encoding of one journal entry (a frame's payload).
//!
//! A payload is a one-byte tag followed by the entry's fields in declaration
//! order. Unsigned integers are LEB128 varints, signed integers are zigzag
//! varints, booleans are one byte (0 or 1), strings and byte strings are a
//! varint length followed by the raw bytes (strings must be UTF-8). Decoding
//! is strict: an unknown tag, a malformed field or trailing bytes are errors,
//! so every payload has exactly one accepted encoding.

use crate::store::{Record, SubRecord};
use bytes::Bytes;
use std::fmt;

/// Tag of the internal marker written after a rewrite's snapshot.
const TAG_SNAPSHOT_END: u8 = 0;
const TAG_SERVER_INFO: u8 = 1;
const TAG_CLIENT_ADDED: u8 = 2;
const TAG_CLIENT_REMOVED: u8 = 3;
const TAG_CHANNEL_CREATED: u8 = 4;
const TAG_MSG: u8 = 5;
const TAG_MSGS_TRUNCATED: u8 = 6;
const TAG_SUB_UPSERT: u8 = 7;
const TAG_SUB_DELETED: u8 = 8;
const TAG_SENT: u8 = 9;
const TAG_ACKED: u8 = 10;
const TAG_CHANNEL_DELETED: u8 = 11;

/// One decoded journal entry.
#[derive(Debug, PartialEq)]
pub(crate) enum Entry {
    /// A record of the server state.
    Record(Record),
    /// Everything before this marker is the snapshot of the last rewrite.
    SnapshotEnd,
}

/// Why a payload could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DecodeError(&'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Appends the payload of the snapshot-end marker to `out`.
pub(super) fn encode_snapshot_end(out: &mut Vec<u8>) {
    out.push(TAG_SNAPSHOT_END);
}

/// Appends the payload encoding `rec` to `out`.
pub(crate) fn encode_record(rec: &Record, out: &mut Vec<u8>) {
    match rec {
        Record::ServerInfo { cluster_id } => {
            out.push(TAG_SERVER_INFO);
            put_bytes(out, cluster_id.as_bytes());
        }
        Record::ClientAdded { client_id, hb_inbox, conn_id, protocol, ping_interval, ping_max_out } => {
            out.push(TAG_CLIENT_ADDED);
            put_bytes(out, client_id.as_bytes());
            put_bytes(out, hb_inbox.as_bytes());
            put_bytes(out, conn_id);
            put_signed(out, (*protocol).into());
            put_signed(out, (*ping_interval).into());
            put_signed(out, (*ping_max_out).into());
        }
        Record::ClientRemoved { client_id } => {
            out.push(TAG_CLIENT_REMOVED);
            put_bytes(out, client_id.as_bytes());
        }
        Record::ChannelCreated { channel } => {
            out.push(TAG_CHANNEL_CREATED);
            put_bytes(out, channel.as_bytes());
        }
        Record::Msg { channel, sequence, timestamp, reply, data } => {
            out.push(TAG_MSG);
            put_bytes(out, channel.as_bytes());
            put_varint(out, *sequence);
            put_signed(out, *timestamp);
            put_bytes(out, reply.as_bytes());
            put_bytes(out, data);
        }
        Record::MsgsTruncated { channel, first_seq } => {
            out.push(TAG_MSGS_TRUNCATED);
            put_bytes(out, channel.as_bytes());
            put_varint(out, *first_seq);
        }
        Record::SubUpsert { channel, sub } => {
            out.push(TAG_SUB_UPSERT);
            put_bytes(out, channel.as_bytes());
            put_sub(out, sub);
        }
        Record::SubDeleted { channel, sub_id } => {
            out.push(TAG_SUB_DELETED);
            put_bytes(out, channel.as_bytes());
            put_varint(out, *sub_id);
        }
        Record::Sent { channel, sub_id, sequence } => {
            out.push(TAG_SENT);
            put_bytes(out, channel.as_bytes());
            put_varint(out, *sub_id);
            put_varint(out, *sequence);
        }
        Record::Acked { channel, sub_id, sequence } => {
            out.push(TAG_ACKED);
            put_bytes(out, channel.as_bytes());
            put_varint(out, *sub_id);
            put_varint(out, *sequence);
        }
        Record::ChannelDeleted { channel } => {
            out.push(TAG_CHANNEL_DELETED);
            put_bytes(out, channel.as_bytes());
        }
    }
}

/// Decodes one payload.
pub(crate) fn decode_entry(payload: &[u8]) -> Result<Entry, DecodeError> {
    let mut r = Reader { buf: payload };
    let entry = match r.u8()? {
        TAG_SNAPSHOT_END => Entry::SnapshotEnd,
        TAG_SERVER_INFO => Entry::Record(Record::ServerInfo { cluster_id: r.string()? }),
        TAG_CLIENT_ADDED => Entry::Record(Record::ClientAdded {
            client_id: r.string()?,
            hb_inbox: r.string()?,
            conn_id: Bytes::copy_from_slice(r.bytes()?),
            protocol: r.i32()?,
            ping_interval: r.i32()?,
            ping_max_out: r.i32()?,
        }),
        TAG_CLIENT_REMOVED => Entry::Record(Record::ClientRemoved { client_id: r.string()? }),
        TAG_CHANNEL_CREATED => Entry::Record(Record::ChannelCreated { channel: r.string()? }),
        TAG_MSG => Entry::Record(Record::Msg {
            channel: r.string()?,
            sequence: r.varint()?,
            timestamp: r.signed()?,
            reply: r.string()?,
            data: Bytes::copy_from_slice(r.bytes()?),
        }),
        TAG_MSGS_TRUNCATED => Entry::Record(Record::MsgsTruncated { channel: r.string()?, first_seq: r.varint()? }),
        TAG_SUB_UPSERT => Entry::Record(Record::SubUpsert { channel: r.string()?, sub: r.sub()? }),
        TAG_SUB_DELETED => Entry::Record(Record::SubDeleted { channel: r.string()?, sub_id: r.varint()? }),
        TAG_SENT => Entry::Record(Record::Sent { channel: r.string()?, sub_id: r.varint()?, sequence: r.varint()? }),
        TAG_ACKED => Entry::Record(Record::Acked { channel: r.string()?, sub_id: r.varint()?, sequence: r.varint()? }),
        TAG_CHANNEL_DELETED => Entry::Record(Record::ChannelDeleted { channel: r.string()? }),
        _ => return Err(DecodeError("unknown record tag")),
    };
    if !r.buf.is_empty() {
        return Err(DecodeError("trailing bytes after record"));
    }
    Ok(entry)
}

fn put_sub(out: &mut Vec<u8>, sub: &SubRecord) {
    put_varint(out, sub.sub_id);
    put_bytes(out, sub.client_id.as_bytes());
    put_bytes(out, sub.inbox.as_bytes());
    put_bytes(out, sub.ack_inbox.as_bytes());
    put_bytes(out, sub.durable_name.as_bytes());
    put_bytes(out, sub.queue_group.as_bytes());
    out.push(u8::from(sub.is_durable));
    put_signed(out, sub.max_in_flight.into());
    put_signed(out, sub.ack_wait_secs.into());
    put_varint(out, sub.last_sent);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A cursor over a payload; every read checks bounds.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or(DecodeError("record ends early"))?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && (b & 0x7f) > 1 {
                return Err(DecodeError("varint overflows u64"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError("varint not minimally encoded"));
                }
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn signed(&mut self) -> Result<i64, DecodeError> {
        let z = self.varint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        i32::try_from(self.signed()?).map_err(|_| DecodeError("integer overflows i32"))
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("invalid boolean")),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or(DecodeError("field length overruns record"))?;
        let (b, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| DecodeError("string is not UTF-8"))
    }

    fn sub(&mut self) -> Result<SubRecord, DecodeError> {
        Ok(SubRecord {
            sub_id: self.varint()?,
            client_id: self.string()?,
            inbox: self.string()?,
            ack_inbox: self.string()?,
            durable_name: self.string()?,
            queue_group: self.string()?,
            is_durable: self.bool()?,
            max_in_flight: self.i32()?,
            ack_wait_secs: self.i32()?,
            last_sent: self.varint()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    #[test]
    fn varint_round_trips_edges() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let b = varint_bytes(v);
            let mut r = Reader { buf: &b };
            assert_eq!(r.varint(), Ok(v), "value {v}");
            assert!(r.buf.is_empty());
        }
        assert_eq!(varint_bytes(u64::MAX).len(), 10);
    }

    #[test]
    fn signed_round_trips_edges() {
        for v in [0, -1, 1, i64::MIN, i64::MAX, i32::MIN as i64, 1_700_000_000_000] {
            let mut b = Vec::new();
            put_signed(&mut b, v);
            assert_eq!(Reader { buf: &b }.signed(), Ok(v), "value {v}");
        }
    }

    #[test]
    fn malformed_varints_are_rejected() {
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader { buf: &overflow }.varint().is_err());
        let too_long = [0x80; 11];
        assert!(Reader { buf: &too_long }.varint().is_err());
        let non_minimal = [0x81, 0x00];
        assert!(Reader { buf: &non_minimal }.varint().is_err());
        assert!(Reader { buf: &[0x80] }.varint().is_err());
    }

    #[test]
    fn strict_decoding_rejects_bad_payloads() {
        assert!(decode_entry(&[]).is_err());
        assert!(decode_entry(&[200]).is_err());
        // Snapshot marker with a trailing byte.
        assert!(decode_entry(&[TAG_SNAPSHOT_END, 0]).is_err());
        // ChannelCreated with invalid UTF-8.
        assert!(decode_entry(&[TAG_CHANNEL_CREATED, 1, 0xff]).is_err());
        // ChannelCreated whose length overruns the payload.
        assert!(decode_entry(&[TAG_CHANNEL_CREATED, 5, b'a']).is_err());
        assert_eq!(
            decode_entry(&[TAG_CHANNEL_CREATED, 1, b'a']),
            Ok(Entry::Record(Record::ChannelCreated { channel: "a".into() }))
        );
    }

    #[test]
    fn i32_fields_reject_out_of_range_values() {
        let mut b = vec![TAG_CLIENT_ADDED, 0, 0, 0];
        put_signed(&mut b, i64::from(i32::MAX) + 1);
        b.extend_from_slice(&[0, 0]);
        assert_eq!(decode_entry(&b), Err(DecodeError("integer overflows i32")));
    }
}
