//! Rebuilding the state from journal records after a restart, and producing
//! the compacted snapshot that replaces a grown journal.

use super::channel::StoredMsg;
use super::pending::PendingSet;
use super::{Channel, Client, Pending, State, Sub, SubId};
use crate::store::{Record, SubRecord};
use std::collections::{BTreeMap, HashMap};

/// What a replay found, for the startup log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub clients: usize,
    pub channels: usize,
    pub msgs: u64,
    pub subs: usize,
}

impl State {
    /// Rebuild the state from `records` (in journal order).
    pub fn replay(&mut self, records: Vec<Record>, now: u64) -> Result<Recovered, String> {
        let persist = std::mem::replace(&mut self.cfg.persist, false);
        let mut clients: BTreeMap<String, Client> = BTreeMap::new();
        let mut subs: BTreeMap<SubId, Sub> = BTreeMap::new();
        for r in records {
            match r {
                Record::ServerInfo { cluster_id } => {
                    if cluster_id != self.cfg.cluster_id {
                        self.cfg.persist = persist;
                        return Err(format!(
                            "the store was created for cluster ID {cluster_id:?}, not {:?}",
                            self.cfg.cluster_id
                        ));
                    }
                }
                Record::ClientAdded { client_id, hb_inbox, conn_id, protocol, ping_interval, ping_max_out } => {
                    let c = Client {
                        id: client_id.clone(),
                        hb_inbox,
                        conn_id,
                        protocol,
                        ping_interval,
                        ping_max_out,
                        subs: Vec::new(),
                        hb_fails: 0,
                        next_hb: None,
                    };
                    clients.insert(client_id, c);
                }
                Record::ClientRemoved { client_id } => {
                    clients.remove(&client_id);
                }
                Record::ChannelCreated { channel } => {
                    self.channels.entry(channel.clone()).or_insert_with(|| Channel::new(&channel));
                }
                Record::Msg { channel, sequence, timestamp, reply, data } => {
                    let ch = self.channels.entry(channel.clone()).or_insert_with(|| Channel::new(&channel));
                    if sequence > ch.log.last_seq() {
                        // A store keeping bodies on disk recovers them empty.
                        let data_len = match &self.bodies {
                            Some(b) if data.is_empty() => b.data_len(&channel, sequence).unwrap_or(0),
                            _ => data.len() as u32,
                        };
                        ch.log.push(StoredMsg { sequence, timestamp, reply, data, data_len });
                    }
                }
                Record::MsgsTruncated { channel, first_seq } => {
                    if let Some(ch) = self.channels.get_mut(&channel) {
                        ch.log.truncate_before(first_seq);
                    }
                }
                Record::SubUpsert { channel, sub } => {
                    let pending = subs.remove(&sub.sub_id).map(|s| s.pending).unwrap_or_default();
                    subs.insert(sub.sub_id, sub_from_record(&channel, sub, pending));
                }
                Record::SubDeleted { sub_id, .. } => {
                    subs.remove(&sub_id);
                }
                Record::Sent { sub_id, sequence, .. } => {
                    if let Some(s) = subs.get_mut(&sub_id) {
                        s.last_sent = s.last_sent.max(sequence);
                        if !s.pending.contains(sequence) {
                            s.pending.insert(sequence, Pending { deadline: 0, redeliveries: 0 });
                        }
                    }
                }
                Record::Acked { sub_id, sequence, .. } => {
                    if let Some(s) = subs.get_mut(&sub_id) {
                        s.pending.remove(sequence);
                    }
                }
                Record::ChannelDeleted { channel } => {
                    self.channels.remove(&channel);
                    subs.retain(|_, s| s.channel != channel);
                }
            }
        }
        let mut rec = Recovered { clients: clients.len(), channels: self.channels.len(), ..Default::default() };
        rec.msgs = self.channels.values().map(|c| c.log.len() as u64).sum();
        for c in clients.into_values() {
            self.insert_client(c, now);
        }
        let mut pending_moves: HashMap<(String, String), SubId> = HashMap::new();
        for (sid, mut s) in subs {
            self.next_sub_id = self.next_sub_id.max(sid + 1);
            if !self.channels.contains_key(&s.channel) {
                continue;
            }
            // Drop pending entries whose messages are gone.
            let log = &self.channels[&s.channel].log;
            s.pending.retain(|seq, _| log.get(seq).is_some());
            let online = !s.offline && self.clients.contains_key(&s.client_id);
            if !online {
                if !s.is_durable {
                    continue;
                }
                s.offline = true;
                s.inbox.clear();
                if !s.queue.is_empty() {
                    let key = (s.channel.clone(), s.queue.clone());
                    let has_online =
                        self.channels[&s.channel].queues.get(&s.queue).is_some_and(|q| !q.members.is_empty());
                    if let Some(&shadow) = pending_moves.get(&key) {
                        // A second offline member: fold its state into the shadow.
                        let target = self.subs.get_mut(&shadow).expect("shadow");
                        target.last_sent = target.last_sent.max(s.last_sent);
                        target.pending.extend(s.pending);
                        continue;
                    }
                    if has_online {
                        continue;
                    }
                    pending_moves.insert(key, sid);
                }
            }
            rec.subs += 1;
            self.add_sub(s);
        }
        for sid in self.subs.keys().copied().collect::<Vec<_>>() {
            self.arm_overdue(sid, now);
        }
        for name in self.channels.keys().cloned().collect::<Vec<_>>() {
            self.channel_activity(&name, now);
        }
        self.cfg.persist = persist;
        Ok(rec)
    }

    /// Never hand out a subscription ID at or below `max` (a store may
    /// still hold rows keyed by it).
    pub fn reserve_sub_ids(&mut self, max: u64) {
        self.next_sub_id = self.next_sub_id.max(max + 1);
    }

    /// Ack inboxes outside this server's `<ack prefix>.>` wildcard (those of
    /// subscriptions migrated from the original server), sorted.
    pub fn foreign_ack_inboxes(&self) -> Vec<String> {
        let prefix = format!("{}.", self.subjects.ack_prefix);
        let mut v: Vec<String> = self.ack_inboxes.keys().filter(|k| !k.starts_with(&prefix)).cloned().collect();
        v.sort();
        v
    }

    /// Records that rebuild the current state (used to compact the journal).
    pub fn snapshot(&self) -> Vec<Record> {
        let mut out = vec![Record::ServerInfo { cluster_id: self.cfg.cluster_id.clone() }];
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
            let first = ch.log.iter().next().map_or(ch.log.last_seq() + 1, |m| m.sequence);
            if first > 1 {
                out.push(Record::MsgsTruncated { channel: name.clone(), first_seq: first });
            }
            for m in ch.log.iter() {
                out.push(Record::Msg {
                    channel: name.clone(),
                    sequence: m.sequence,
                    timestamp: m.timestamp,
                    reply: m.reply.clone(),
                    data: m.data.clone(),
                });
            }
        }
        let mut ids: Vec<&SubId> = self.subs.keys().collect();
        ids.sort();
        for sid in ids {
            let s = &self.subs[sid];
            out.push(Record::SubUpsert { channel: s.channel.clone(), sub: record_of(s) });
            for seq in s.pending.seqs() {
                out.push(Record::Sent { channel: s.channel.clone(), sub_id: s.id, sequence: seq });
            }
        }
        out
    }
}

fn sub_from_record(channel: &str, r: SubRecord, pending: PendingSet) -> Sub {
    Sub {
        id: r.sub_id,
        channel: channel.to_string(),
        offline: r.client_id.is_empty() || r.inbox.is_empty(),
        client_id: r.client_id,
        inbox: r.inbox,
        ack_inbox: r.ack_inbox,
        durable_name: r.durable_name,
        queue: r.queue_group,
        is_durable: r.is_durable,
        max_in_flight: r.max_in_flight.max(1) as u32,
        ack_wait_secs: r.ack_wait_secs.max(1),
        last_sent: r.last_sent,
        pending,
        ack_queue: Default::default(),
    }
}

fn record_of(s: &Sub) -> SubRecord {
    SubRecord {
        sub_id: s.id,
        client_id: s.client_id.clone(),
        inbox: s.inbox.clone(),
        ack_inbox: s.ack_inbox.clone(),
        durable_name: s.durable_name.clone(),
        queue_group: s.queue.clone(),
        is_durable: s.is_durable,
        max_in_flight: s.max_in_flight as i32,
        ack_wait_secs: s.ack_wait_secs,
        last_sent: s.last_sent,
    }
}
