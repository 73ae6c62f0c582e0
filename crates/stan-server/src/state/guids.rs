//! Publish de-duplication by GUID (JetStream store): the GUIDs of recent
//! messages per channel, so a PubMsg retried with the same GUID (e.g. after
//! a failover lost its PubAck) is acknowledged without being stored again.

use std::collections::{HashMap, VecDeque};

/// How long a GUID is remembered (Unix ns of the publish).
pub const WINDOW_NS: i64 = 120 * 1_000_000_000;
/// At most this many GUIDs are remembered (the oldest are forgotten first).
pub const MAX_GUIDS: usize = 200_000;

/// Recent (channel, GUID) → STAN sequence, forgotten after [`WINDOW_NS`].
#[derive(Debug, Default)]
pub struct GuidWindow {
    seqs: HashMap<(String, String), u64>,
    order: VecDeque<(i64, String, String, u64)>,
    /// GUIDs of messages published since the last [`GuidWindow::take_new`], for the journal.
    new: Vec<(String, u64, String)>,
}

impl GuidWindow {
    /// The sequence `guid` was stored at on `channel`, if remembered.
    pub fn seen(&self, channel: &str, guid: &str) -> Option<u64> {
        self.seqs.get(&(channel.to_string(), guid.to_string())).copied()
    }

    /// Remember a message stored at `seq`, published at `ts` (Unix ns).
    pub fn remember(&mut self, channel: &str, guid: &str, seq: u64, ts: i64, now: i64) {
        self.forget_before(now - WINDOW_NS);
        if ts < now - WINDOW_NS || guid.is_empty() {
            return;
        }
        self.seqs.insert((channel.to_string(), guid.to_string()), seq);
        self.order.push_back((ts, channel.to_string(), guid.to_string(), seq));
        while self.order.len() > MAX_GUIDS {
            self.pop();
        }
    }

    /// Remember a message just published, and queue its GUID for the journal.
    pub fn published(&mut self, channel: &str, guid: &str, seq: u64, now: i64) {
        self.remember(channel, guid, seq, now, now);
        self.new.push((channel.to_string(), seq, guid.to_string()));
    }

    /// Forget every GUID of a deleted channel.
    pub fn forget_channel(&mut self, channel: &str) {
        self.seqs.retain(|k, _| k.0 != channel);
        self.new.retain(|n| n.0 != channel);
    }

    pub fn take_new(&mut self) -> Vec<(String, u64, String)> {
        std::mem::take(&mut self.new)
    }

    fn forget_before(&mut self, limit: i64) {
        while self.order.front().is_some_and(|e| e.0 < limit) {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some((_, ch, guid, seq)) = self.order.pop_front() {
            let key = (ch, guid);
            if self.seqs.get(&key) == Some(&seq) {
                self.seqs.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_only() {
        let mut g = GuidWindow::default();
        g.published("a", "g1", 1, 1_000);
        assert_eq!((g.seen("a", "g1"), g.seen("b", "g1")), (Some(1), None));
        assert_eq!(g.take_new(), vec![("a".to_string(), 1, "g1".to_string())]);
        g.published("a", "g2", 2, 1_000 + WINDOW_NS + 1);
        assert_eq!((g.seen("a", "g1"), g.seen("a", "g2")), (None, Some(2)));
        // Recovered messages older than the window are not remembered.
        g.remember("a", "old", 3, 0, 1_000 + WINDOW_NS + 1);
        assert_eq!(g.seen("a", "old"), None);
    }
}
