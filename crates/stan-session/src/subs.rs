//! The live NATS subscriptions of a connection (the session's inboxes and
//! the plain `sc.nc` ones), re-sent as `SUB` after every reconnect.

use std::collections::BTreeMap;

use nats_wire::ClientOp;

/// sid → (subject, queue group).
#[derive(Debug, Default)]
pub struct SubTable {
    subs: BTreeMap<u64, (String, Option<String>)>,
}

impl SubTable {
    pub fn insert(&mut self, sid: u64, subject: &str, queue: Option<&str>) {
        self.subs.insert(sid, (subject.to_string(), queue.map(str::to_string)));
    }

    pub fn remove(&mut self, sid: u64) -> bool {
        self.subs.remove(&sid).is_some()
    }

    pub fn len(&self) -> usize {
        self.subs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// A `SUB` for every live subscription, in sid order.
    pub fn encode_all(&self, out: &mut Vec<u8>) {
        for (sid, (subject, queue)) in &self.subs {
            // Subjects were checked when they were first encoded.
            let _ = ClientOp::Sub { subject, queue_group: queue.as_deref(), sid: *sid }.encode(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resubscribe_all_with_queue_groups() {
        let mut t = SubTable::default();
        t.insert(2, "b", Some("q"));
        t.insert(1, "a", None);
        t.insert(3, "c", None);
        assert!(t.remove(3));
        let mut out = Vec::new();
        t.encode_all(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "SUB a 1\r\nSUB b q 2\r\n");
    }
}
