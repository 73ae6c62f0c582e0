//! Reading the file store of the original nats-streaming-server (0.25.x)
//! and turning it into our journal's [`Record`]s, for `stan-server migrate`.
//!
//! # What is read
//!
//! - `server.dat`: the cluster ID (and the subjects, checked against ours).
//! - `clients.dat`: client registrations and removals.
//! - one directory per channel: `msgs.<N>.dat` message slices (oldest
//!   first; the `.idx` index files are not needed) and `subs.dat`
//!   (subscription creations, updates, deletions, and each message sent
//!   to / acknowledged by a subscription).
//!
//! Files are only read, never changed. A damaged file is an error naming
//! the file and offset; a torn last record is dropped with a warning only
//! when asked (the original's `--file_truncate_bad_eof`).
//!
//! # Mapping
//!
//! Subscription IDs are per channel in the original and global in
//! stan-server, so they are renumbered. A durable queue member is stored
//! by the original with an empty durable name and the group `durable:queue`;
//! stan-server keeps the durable name, so it is taken from the group. A
//! closed durable (`isClosed`) becomes an offline durable (no inbox).
//! Ack inboxes are kept as they are (the original's are `_INBOX.<nuid>`):
//! the driver subscribes to each such inbox, so subscribers that stay
//! connected across the switch keep acknowledging.

pub mod format;
pub mod read;
#[cfg(test)]
mod tests;

use super::{Record, SubRecord};
pub use read::{looks_like_original, read_store, OrigStore, ReadOptions};

impl OrigStore {
    /// Records that rebuild this store's state in stan-server (the same
    /// shape as a journal snapshot).
    pub fn to_records(&self) -> Vec<Record> {
        let mut out = vec![Record::ServerInfo { cluster_id: self.info.cluster_id.clone() }];
        for c in self.clients.values() {
            out.push(Record::ClientAdded {
                client_id: c.id.clone(),
                hb_inbox: c.hb_inbox.clone(),
                conn_id: c.conn_id.clone(),
                protocol: c.protocol,
                ping_interval: c.ping_interval,
                ping_max_out: c.ping_max_out,
            });
        }
        for (name, ch) in &self.channels {
            out.push(Record::ChannelCreated { channel: name.clone() });
            if let Some(first) = ch.msgs.first().map(|m| m.sequence).filter(|s| *s > 1) {
                out.push(Record::MsgsTruncated { channel: name.clone(), first_seq: first });
            }
            for m in &ch.msgs {
                out.push(Record::Msg {
                    channel: name.clone(),
                    sequence: m.sequence,
                    timestamp: m.timestamp,
                    reply: m.reply.clone(),
                    data: m.data.clone(),
                });
            }
        }
        let mut next_id = 1u64;
        for (name, ch) in &self.channels {
            for sub in ch.subs.values() {
                let s = &sub.state;
                let durable_queue = !s.q_group.is_empty() && s.is_durable;
                let durable_name = if durable_queue {
                    s.q_group.split(':').next().unwrap_or_default().to_string()
                } else {
                    s.durable_name.clone()
                };
                let last_sent = s.last_sent.max(sub.pending.last().copied().unwrap_or(0));
                let rec = SubRecord {
                    sub_id: next_id,
                    client_id: s.client_id.clone(),
                    inbox: if s.is_closed { String::new() } else { s.inbox.clone() },
                    ack_inbox: s.ack_inbox.clone(),
                    is_durable: s.is_durable || !durable_name.is_empty(),
                    durable_name,
                    queue_group: s.q_group.clone(),
                    max_in_flight: s.max_in_flight,
                    ack_wait_secs: s.ack_wait_in_secs,
                    last_sent,
                };
                out.push(Record::SubUpsert { channel: name.clone(), sub: rec });
                for seq in &sub.pending {
                    out.push(Record::Sent { channel: name.clone(), sub_id: next_id, sequence: *seq });
                }
                next_id += 1;
            }
        }
        out
    }

    /// Subjects of the original that differ from stan-server's (stores
    /// created by old versions used random ones): clients connected to the
    /// original must reconnect then.
    pub fn subject_mismatches(&self, expected: &[(&str, String)]) -> Vec<String> {
        let i = &self.info;
        let have = [
            ("publish", &i.publish),
            ("subscribe", &i.subscribe),
            ("unsubscribe", &i.unsubscribe),
            ("close", &i.close),
            ("subclose", &i.sub_close),
            ("discovery", &i.discovery),
        ];
        let mut out = Vec::new();
        for (what, ours) in expected {
            if let Some((_, theirs)) = have.iter().find(|(w, _)| w == what) {
                if !theirs.is_empty() && theirs.as_str() != ours {
                    out.push(format!("{what} subject {theirs:?} (stan-server uses {ours:?})"));
                }
            }
        }
        out
    }
}

/// Refuses to open `dir` as a stan-server file store when it holds the
/// original's store (and no journal of ours): serving it as an empty store
/// would hide the user's data.
pub fn refuse_original_dir(dir: &std::path::Path) -> Result<(), String> {
    if looks_like_original(dir) && !dir.join(super::file::JOURNAL_FILE).exists() {
        return Err(format!(
            "{} holds a nats-streaming-server file store, which stan-server does not serve directly: \
             convert it with `stan-server migrate --from {} --to <new dir>` and start with --dir <new dir>",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}
