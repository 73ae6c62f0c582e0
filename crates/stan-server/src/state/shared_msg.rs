//! One message's shared `MsgProto` bytes while a publish fans out: the
//! fields every subscription receives alike (sequence, subject, reply, data,
//! timestamp) are encoded once, and each delivery appends only its own
//! `redelivered` / `redeliveryCount`.
//!
//! The bytes are kept only between [`SharedMsg::begin`] and
//! [`SharedMsg::end`], which bracket one pass over a channel's
//! subscriptions: nothing removes or replaces a stored message during that
//! pass, so a `(channel, sequence)` key cannot name two different messages
//! while the bytes are kept. Outside a pass nothing is kept or served.

use super::wire::MsgRef;

/// The shared part of the message being fanned out, if any.
#[derive(Debug, Default)]
pub struct SharedMsg {
    /// Inside a pass: bytes may be kept and served.
    active: bool,
    /// `fields` hold the message `(channel, seq)`.
    filled: bool,
    channel: String,
    seq: u64,
    /// Length of the message's body (for the byte counters).
    data_len: usize,
    /// Fields 1–5 of its `MsgProto`, as [`MsgRef::encode_shared`] writes them.
    fields: Vec<u8>,
}

/// Above this capacity the buffer is given back at the end of a pass (one
/// very large message must not pin its size for the server's lifetime).
const KEEP_CAPACITY: usize = 64 * 1024;

impl SharedMsg {
    /// Start a pass over the subscriptions of one channel.
    pub fn begin(&mut self) {
        self.active = true;
        self.filled = false;
    }

    /// End the pass: nothing is served until the next [`SharedMsg::begin`].
    pub fn end(&mut self) {
        self.active = false;
        self.filled = false;
        if self.fields.capacity() > KEEP_CAPACITY {
            self.fields = Vec::new();
        }
    }

    /// The shared bytes of message `seq` of `channel` and its body length, if kept.
    pub fn get(&self, channel: &str, seq: u64) -> Option<(&[u8], usize)> {
        (self.filled && self.seq == seq && self.channel == channel).then_some((&self.fields, self.data_len))
    }

    /// Keep `m`'s shared bytes (inside a pass; outside, nothing is kept) and
    /// return them. `m.subject` is the channel.
    pub fn fill(&mut self, m: &MsgRef<'_>) -> Option<&[u8]> {
        if !self.active {
            return None;
        }
        self.fields.clear();
        m.encode_shared(&mut self.fields);
        self.channel.clear();
        self.channel.push_str(m.subject);
        self.seq = m.sequence;
        self.data_len = m.data.len();
        self.filled = true;
        Some(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(channel: &'a str, seq: u64, data: &'a [u8]) -> MsgRef<'a> {
        MsgRef {
            sequence: seq,
            subject: channel,
            reply: "",
            data,
            timestamp: 7,
            redelivered: false,
            redelivery_count: 0,
        }
    }

    #[test]
    fn serves_only_the_kept_message_and_only_inside_a_pass() {
        let mut s = SharedMsg::default();
        assert!(s.fill(&msg("a", 1, b"x")).is_none(), "outside a pass nothing is kept");
        assert!(s.get("a", 1).is_none());
        s.begin();
        let mut want = Vec::new();
        msg("a", 1, b"xyz").encode_shared(&mut want);
        assert_eq!(s.fill(&msg("a", 1, b"xyz")), Some(&want[..]));
        assert_eq!(s.get("a", 1), Some((&want[..], 3)));
        assert!(s.get("a", 2).is_none(), "other sequence");
        assert!(s.get("b", 1).is_none(), "other channel");
        assert!(s.get("ab", 1).is_none());
        s.fill(&msg("b", 2, b"")).expect("kept");
        assert!(s.get("a", 1).is_none(), "replaced");
        assert!(s.get("b", 2).is_some());
        s.end();
        assert!(s.get("b", 2).is_none(), "forgotten at the end of the pass");
        s.begin();
        assert!(s.get("b", 2).is_none(), "not carried into the next pass");
    }

    #[test]
    fn gives_a_large_buffer_back() {
        let mut s = SharedMsg::default();
        let big = vec![1u8; KEEP_CAPACITY * 2];
        s.begin();
        s.fill(&msg("a", 1, &big)).expect("kept");
        assert!(s.fields.capacity() > KEEP_CAPACITY);
        s.end();
        assert_eq!(s.fields.capacity(), 0);
    }
}
