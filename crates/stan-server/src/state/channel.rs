//! A channel's message log: sequence and timestamp assignment, lookups by
//! sequence and time, and the per-channel limits (count, bytes, age).

use bytes::Bytes;
use std::collections::VecDeque;

/// One stored message.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMsg {
    pub sequence: u64,
    pub timestamp: i64,
    pub reply: String,
    /// Empty when the store keeps bodies out of memory (see `data_len`).
    pub data: Bytes,
    /// Length of the body, kept when `data` was dropped.
    pub data_len: u32,
}

/// Limits applied to every channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLimits {
    /// 0 = unlimited.
    pub max_msgs: u64,
    /// 0 = unlimited.
    pub max_bytes: u64,
    /// Nanoseconds, 0 = unlimited.
    pub max_age_ns: i64,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        ChannelLimits { max_msgs: 1_000_000, max_bytes: 1_024_000_000, max_age_ns: 0 }
    }
}

/// Size the reference server counts for a message: its encoded MsgProto
/// (sequence, channel, reply, data, timestamp).
fn msg_size(subject_len: usize, m: &StoredMsg) -> u64 {
    use prost::encoding::encoded_len_varint as v;
    let field = |len: usize| if len == 0 { 0 } else { 1 + v(len as u64) + len };
    let seq = if m.sequence == 0 { 0 } else { 1 + v(m.sequence) };
    let ts = if m.timestamp == 0 { 0 } else { 1 + v(m.timestamp as u64) };
    (seq + field(subject_len) + field(m.reply.len()) + field(m.data_len as usize) + ts) as u64
}

/// The ordered messages of one channel.
#[derive(Debug, Default)]
pub struct MsgLog {
    msgs: VecDeque<StoredMsg>,
    /// Sequence of the first message still stored (last + 1 when empty).
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
    /// Length of the channel name, which counts in each message's size.
    subject_len: usize,
}

impl MsgLog {
    pub fn new(channel: &str) -> Self {
        MsgLog { first_seq: 1, subject_len: channel.len(), ..Default::default() }
    }

    pub fn first_seq(&self) -> u64 {
        if self.is_empty() {
            // The reference reports 0/0 for a channel that never had a message.
            if self.last_seq == 0 {
                0
            } else {
                self.last_seq + 1
            }
        } else {
            self.first_seq
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Append a new message; the timestamp is made strictly increasing.
    pub fn append(&mut self, now_ns: i64, reply: String, data: Bytes) -> &StoredMsg {
        let ts = if now_ns <= self.last_ts { self.last_ts + 1 } else { now_ns };
        let seq = self.last_seq + 1;
        let data_len = data.len() as u32;
        self.push(StoredMsg { sequence: seq, timestamp: ts, reply, data, data_len });
        self.msgs.back().expect("just pushed")
    }

    /// Insert a message with a known sequence (recovery). Gaps are allowed.
    pub fn push(&mut self, m: StoredMsg) {
        if self.msgs.is_empty() {
            self.first_seq = m.sequence;
        }
        self.last_seq = m.sequence;
        self.last_ts = self.last_ts.max(m.timestamp);
        self.bytes += msg_size(self.subject_len, &m);
        self.msgs.push_back(m);
    }

    /// Drop the in-memory body of message `seq` (the store keeps it).
    pub fn forget_body(&mut self, seq: u64) {
        let Some(front) = self.msgs.front().map(|m| m.sequence) else { return };
        let idx = match seq.checked_sub(front) {
            Some(i) if self.msgs.get(i as usize).is_some_and(|m| m.sequence == seq) => i as usize,
            Some(_) => match self.msgs.binary_search_by_key(&seq, |m| m.sequence) {
                Ok(i) => i,
                Err(_) => return,
            },
            None => return,
        };
        self.msgs[idx].data = Bytes::new();
    }

    /// Drop messages below `first_seq` (recovery of a truncation).
    pub fn truncate_before(&mut self, first_seq: u64) {
        while let Some(front) = self.msgs.front() {
            if front.sequence >= first_seq {
                break;
            }
            self.bytes -= msg_size(self.subject_len, front);
            self.msgs.pop_front();
        }
        self.first_seq = first_seq.max(self.first_seq);
        if self.last_seq + 1 < first_seq {
            self.last_seq = first_seq - 1;
        }
    }

    /// Enforce limits; returns the new first sequence when messages were dropped.
    pub fn enforce(&mut self, lim: &ChannelLimits, now_ns: i64) -> Option<u64> {
        let before = self.first_seq;
        let mut dropped = false;
        while let Some(front) = self.msgs.front() {
            let over_count = lim.max_msgs > 0 && self.msgs.len() as u64 > lim.max_msgs;
            let over_bytes = lim.max_bytes > 0 && self.bytes > lim.max_bytes && self.msgs.len() > 1;
            let too_old = lim.max_age_ns > 0 && front.timestamp < now_ns - lim.max_age_ns;
            if !(over_count || over_bytes || too_old) {
                break;
            }
            self.bytes -= msg_size(self.subject_len, front);
            self.msgs.pop_front();
            dropped = true;
            self.first_seq = self.msgs.front().map_or(self.last_seq + 1, |m| m.sequence);
        }
        (dropped && self.first_seq != before).then_some(self.first_seq)
    }

    /// The message with this sequence, if still stored.
    pub fn get(&self, seq: u64) -> Option<&StoredMsg> {
        let (front, back) = (self.msgs.front()?.sequence, self.msgs.back()?.sequence);
        if seq < front || seq > back {
            return None;
        }
        let idx = (seq - front) as usize;
        match self.msgs.get(idx) {
            Some(m) if m.sequence == seq => Some(m),
            // Without gaps the index is exact: it is not stored.
            _ if self.is_contiguous() => None,
            // Gaps (only possible after recovery): fall back to a search.
            _ => self.msgs.binary_search_by_key(&seq, |m| m.sequence).ok().and_then(|i| self.msgs.get(i)),
        }
    }

    /// Whether the stored sequences have no gaps (always, except after some recoveries).
    fn is_contiguous(&self) -> bool {
        match (self.msgs.front(), self.msgs.back()) {
            (Some(f), Some(b)) => b.sequence - f.sequence + 1 == self.msgs.len() as u64,
            _ => true,
        }
    }

    /// The first stored sequence at or after `seq`, if any.
    pub fn next_at_or_after(&self, seq: u64) -> Option<u64> {
        let (front, back) = (self.msgs.front()?.sequence, self.msgs.back()?.sequence);
        if seq > back {
            return None;
        }
        if seq <= front {
            return Some(front);
        }
        if let Some(m) = self.get(seq) {
            return Some(m.sequence);
        }
        let i = self.msgs.partition_point(|m| m.sequence < seq);
        self.msgs.get(i).map(|m| m.sequence)
    }

    /// Sequence of the first message with `timestamp >= ts`, if any.
    pub fn first_at_or_after_time(&self, ts: i64) -> Option<u64> {
        let i = self.msgs.partition_point(|m| m.timestamp < ts);
        self.msgs.get(i).map(|m| m.sequence)
    }

    pub fn iter(&self) -> impl Iterator<Item = &StoredMsg> {
        self.msgs.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(n: u64) -> MsgLog {
        let mut l = MsgLog::new("");
        for i in 0..n {
            l.append(1000 + i as i64, String::new(), Bytes::from(vec![b'x'; 10]));
        }
        l
    }

    #[test]
    fn sequences_and_timestamps_increase() {
        let mut l = MsgLog::new("");
        assert_eq!((l.first_seq(), l.last_seq()), (0, 0));
        let a = l.append(5, String::new(), Bytes::new()).timestamp;
        let b = l.append(5, String::new(), Bytes::new()).timestamp;
        let c = l.append(3, String::new(), Bytes::new()).timestamp;
        assert!(a < b && b < c);
        assert_eq!((l.first_seq(), l.last_seq()), (1, 3));
    }

    #[test]
    fn count_limit_drops_oldest() {
        let mut l = log_with(5);
        let lim = ChannelLimits { max_msgs: 3, max_bytes: 0, max_age_ns: 0 };
        assert_eq!(l.enforce(&lim, 0), Some(3));
        assert_eq!(l.len(), 3);
        assert!(l.get(2).is_none());
        assert_eq!(l.get(3).unwrap().sequence, 3);
        assert_eq!(l.enforce(&lim, 0), None);
    }

    #[test]
    fn bytes_and_age_limits() {
        let mut l = log_with(5);
        // Each message is an encoded MsgProto of 17 bytes: seq (2), data (12), timestamp (3).
        assert_eq!(l.bytes(), 5 * 17);
        let lim = ChannelLimits { max_msgs: 0, max_bytes: 40, max_age_ns: 0 };
        l.enforce(&lim, 0);
        assert_eq!((l.first_seq(), l.bytes()), (4, 34));
        let mut l = log_with(5);
        let lim = ChannelLimits { max_msgs: 0, max_bytes: 0, max_age_ns: 2 };
        // now=1005: messages with ts < 1003 are too old
        l.enforce(&lim, 1005);
        assert_eq!(l.first_seq(), 4);
    }

    #[test]
    fn lookups() {
        let l = log_with(5);
        assert_eq!(l.first_at_or_after_time(1002), Some(3));
        assert_eq!(l.first_at_or_after_time(2000), None);
        assert_eq!(l.next_at_or_after(0), Some(1));
        assert_eq!(l.next_at_or_after(6), None);
    }

    #[test]
    fn recovery_with_truncation() {
        let mut l = MsgLog::new("");
        for s in [3u64, 4, 7] {
            l.push(StoredMsg {
                sequence: s,
                timestamp: s as i64,
                reply: String::new(),
                data: Bytes::new(),
                data_len: 0,
            });
        }
        assert_eq!(l.get(7).unwrap().sequence, 7);
        assert_eq!(l.next_at_or_after(5), Some(7));
        l.truncate_before(4);
        assert_eq!(l.first_seq(), 4);
        assert!(l.get(3).is_none());
    }
}
