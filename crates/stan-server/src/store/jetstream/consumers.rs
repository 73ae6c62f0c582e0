//! Durable STAN subscriptions as JetStream consumers: every durable (and
//! durable queue group) of a channel has a durable pull consumer on the
//! channel's stream, created with the subscription's settings (ack wait,
//! max in flight → max ack pending, its start resolved to a stream
//! sequence), whose ack floor follows the STAN durable's: everything the
//! durable acknowledged in order is acknowledged on the consumer too. So a
//! service moving to JetStream binds to the consumer and continues where its
//! STAN durable stopped. Deliveries to STAN clients stay with stan-server;
//! the consumers are kept in step in the background, after each commit, and
//! never hold up a PubAck (a failure is logged and retried).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;

use super::{token, Names};
use crate::log;
use crate::store::Record;

/// Most messages fetched per pull while advancing a consumer.
const FETCH_MAX: u64 = 256;
/// Pause between two rounds of syncing (a round handles every changed durable).
const ROUND_EVERY: Duration = Duration::from_millis(200);
/// Time one durable may take in a round (the rest waits for the next round).
const DURABLE_BUDGET: Duration = Duration::from_millis(100);
/// Pause after a failed round.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Which consumer a subscription belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub channel: String,
    /// `STAN_D_<client>_<durable>`, or `STAN_Q_<durable>_<queue>` for a
    /// durable queue group (each part a stream-name token, see [`token`]).
    pub name: String,
}

impl Key {
    /// The consumer of a durable subscription and its description (None
    /// for a non-durable one). A durable queue group's `queue_group` is
    /// `durable:queue`.
    pub fn of(
        channel: &str,
        client_id: &str,
        durable_name: &str,
        queue_group: &str,
        is_durable: bool,
    ) -> Option<(Key, String)> {
        if !is_durable {
            return None;
        }
        let (name, what) = match queue_group.split_once(':') {
            None if queue_group.is_empty() => (
                format!("STAN_D_{}_{}", token(client_id), token(durable_name)),
                format!("STAN durable {durable_name:?} of client {client_id:?}"),
            ),
            Some((durable, queue)) => (
                format!("STAN_Q_{}_{}", token(durable), token(queue)),
                format!("STAN durable queue group {queue:?} (durable {durable:?})"),
            ),
            None => (format!("STAN_Q_{}", token(queue_group)), format!("STAN durable queue group {queue_group:?}")),
        };
        let description = format!("{what} on channel {channel:?}, kept in step by stan-server");
        Some((Key { channel: channel.to_string(), name }, description))
    }
}

/// One member subscription of a durable.
#[derive(Debug, Default)]
struct Member {
    last_sent: u64,
    /// Sent and not yet acknowledged.
    pending: BTreeSet<u64>,
}

/// A durable's settings and members.
#[derive(Debug, Default)]
struct Durable {
    description: String,
    members: HashMap<u64, Member>,
    max_in_flight: i32,
    ack_wait_secs: i32,
}

impl Durable {
    /// Everything up to here was acknowledged in order.
    fn floor(&self) -> u64 {
        let lowest_pending = self.members.values().filter_map(|m| m.pending.first()).min();
        match lowest_pending {
            Some(&p) => p - 1,
            None => self.members.values().map(|m| m.last_sent).max().unwrap_or(0),
        }
    }
}

/// What the store's records say about the durables, and what changed.
#[derive(Debug, Default)]
pub struct Tracker {
    durables: HashMap<Key, Durable>,
    sub_key: HashMap<u64, Key>,
    /// Durables whose floor or settings may have changed.
    dirty: HashSet<Key>,
    /// Durables whose last member was removed (unsubscribed).
    deleted: HashSet<Key>,
}

impl Tracker {
    /// Follow one committed (or recovered) record.
    pub fn apply(&mut self, rec: &Record) {
        match rec {
            Record::SubUpsert { channel, sub } => {
                let Some((key, description)) =
                    Key::of(channel, &sub.client_id, &sub.durable_name, &sub.queue_group, sub.is_durable)
                else {
                    return;
                };
                self.deleted.remove(&key);
                let d = self.durables.entry(key.clone()).or_default();
                d.description = description;
                d.max_in_flight = sub.max_in_flight;
                d.ack_wait_secs = sub.ack_wait_secs;
                let m = d.members.entry(sub.sub_id).or_default();
                m.last_sent = m.last_sent.max(sub.last_sent);
                self.sub_key.insert(sub.sub_id, key.clone());
                self.dirty.insert(key);
            }
            Record::SubDeleted { sub_id, .. } => {
                let Some(key) = self.sub_key.remove(sub_id) else { return };
                if let Some(d) = self.durables.get_mut(&key) {
                    d.members.remove(sub_id);
                    if d.members.is_empty() {
                        self.durables.remove(&key);
                        self.dirty.remove(&key);
                        self.deleted.insert(key);
                    } else {
                        self.dirty.insert(key);
                    }
                }
            }
            Record::Sent { sub_id, sequence, .. } => {
                if let Some(m) = self.member(*sub_id) {
                    m.last_sent = m.last_sent.max(*sequence);
                    m.pending.insert(*sequence);
                }
            }
            Record::Acked { sub_id, sequence, .. } => {
                if let Some(m) = self.member(*sub_id) {
                    m.pending.remove(sequence);
                    let key = self.sub_key[sub_id].clone();
                    self.dirty.insert(key);
                }
            }
            Record::MsgsTruncated { channel, first_seq } => {
                // Messages below the channel's first are gone: not pending any more.
                for (key, d) in self.durables.iter_mut().filter(|(k, _)| &k.channel == channel) {
                    for m in d.members.values_mut() {
                        m.pending = m.pending.split_off(first_seq);
                    }
                    self.dirty.insert(key.clone());
                }
            }
            Record::ChannelDeleted { channel } => {
                // The channel's stream, and its consumers with it, are deleted by the store.
                self.durables.retain(|k, _| &k.channel != channel);
                self.sub_key.retain(|_, k| &k.channel != channel);
                self.dirty.retain(|k| &k.channel != channel);
                self.deleted.retain(|k| &k.channel != channel);
            }
            Record::ServerInfo { .. }
            | Record::ClientAdded { .. }
            | Record::ClientRemoved { .. }
            | Record::ChannelCreated { .. }
            | Record::Msg { .. } => {}
        }
    }

    fn member(&mut self, sub_id: u64) -> Option<&mut Member> {
        let key = self.sub_key.get(&sub_id)?;
        self.durables.get_mut(key)?.members.get_mut(&sub_id)
    }

    /// Start over from a full state (a snapshot): every durable is synced again.
    pub fn reset(&mut self, snapshot: &[Record]) {
        let deleted = std::mem::take(&mut self.deleted);
        *self = Tracker::default();
        for r in snapshot {
            self.apply(r);
        }
        self.deleted = deleted;
        self.dirty = self.durables.keys().cloned().collect();
    }

    /// The work of one round: (durable, floor, settings) to sync, and durables to delete.
    fn take(&mut self) -> (Vec<Target>, Vec<Key>) {
        let targets = self
            .dirty
            .drain()
            .filter_map(|k| {
                let d = self.durables.get(&k)?;
                Some(Target {
                    description: d.description.clone(),
                    floor: d.floor(),
                    max_in_flight: d.max_in_flight.max(1),
                    ack_wait_secs: d.ack_wait_secs.max(1),
                    key: k,
                })
            })
            .collect();
        (targets, self.deleted.drain().collect())
    }

    /// Put back what a failed round did not finish.
    fn retry(&mut self, targets: Vec<Key>, deleted: Vec<Key>) {
        for k in targets {
            if self.durables.contains_key(&k) {
                self.dirty.insert(k);
            }
        }
        for k in deleted {
            if !self.durables.contains_key(&k) {
                self.deleted.insert(k);
            }
        }
    }

    /// The floor a durable's consumer should have.
    #[cfg(test)]
    pub fn floor(&self, key: &Key) -> Option<u64> {
        self.durables.get(key).map(Durable::floor)
    }
}

#[derive(Debug)]
struct Target {
    key: Key,
    description: String,
    floor: u64,
    max_in_flight: i32,
    ack_wait_secs: i32,
}

/// The tracker shared between the commit path and the sync task.
#[derive(Debug, Default)]
pub struct Shared {
    tracker: Mutex<Tracker>,
    wake: tokio::sync::Notify,
}

impl Shared {
    /// Follow committed records and wake the sync task.
    pub fn committed(&self, recs: &[Record]) {
        let mut t = self.tracker.lock().unwrap_or_else(|e| e.into_inner());
        for r in recs {
            t.apply(r);
        }
        let changed = !t.dirty.is_empty() || !t.deleted.is_empty();
        drop(t);
        if changed {
            self.wake.notify_one();
        }
    }

    /// Start over from a snapshot (compaction or recovery).
    pub fn reset(&self, snapshot: &[Record]) {
        self.tracker.lock().unwrap_or_else(|e| e.into_inner()).reset(snapshot);
        self.wake.notify_one();
    }
}

/// Keep the consumers in step, forever (runs on the store's runtime).
pub async fn sync_task(js: jetstream::Context, names: Names, shared: Arc<Shared>) {
    let mut failing: HashSet<Key> = HashSet::new();
    loop {
        shared.wake.notified().await;
        loop {
            let (targets, deleted) = shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if targets.is_empty() && deleted.is_empty() {
                break;
            }
            let mut left = Vec::new();
            let mut left_deleted = Vec::new();
            for t in targets {
                match sync_one(&js, &names, &t).await {
                    Ok(false) => left.push(t.key),
                    Ok(true) => {
                        if failing.remove(&t.key) {
                            log::info(format_args!(
                                "JetStream consumer {} of {:?} in step again",
                                t.key.name, t.key.channel
                            ));
                        }
                    }
                    Err(e) => {
                        if failing.insert(t.key.clone()) {
                            log::warn(format_args!(
                                "JetStream consumer {} of {:?} not in step (retrying): {e}",
                                t.key.name, t.key.channel
                            ));
                        }
                        left.push(t.key);
                    }
                }
            }
            for k in deleted {
                let stream = names.channel_stream(&k.channel);
                let r = match js.get_stream(&stream).await {
                    Ok(s) => s.delete_consumer(&k.name).await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match r {
                    Ok(()) => {}
                    // Already gone (or its channel): nothing to delete.
                    Err(e) if e.contains("not found") => {}
                    Err(e) => {
                        log::warn(format_args!("Cannot delete JetStream consumer {} (retrying): {e}", k.name));
                        left_deleted.push(k);
                    }
                }
            }
            let failed = !failing.is_empty() || !left_deleted.is_empty();
            shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).retry(left, left_deleted);
            tokio::time::sleep(if failed { RETRY_AFTER } else { ROUND_EVERY }).await;
        }
    }
}

/// Create the durable's consumer if needed, then acknowledge up to its
/// floor; false if the time budget ran out first.
async fn sync_one(js: &jetstream::Context, names: &Names, t: &Target) -> Result<bool, String> {
    let stream = js.get_stream(names.channel_stream(&t.key.channel)).await.map_err(|e| e.to_string())?;
    let config = consumer::pull::Config {
        durable_name: Some(t.key.name.clone()),
        description: Some(t.description.clone()),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: t.floor + 1 },
        ack_policy: consumer::AckPolicy::All,
        ack_wait: Duration::from_secs(t.ack_wait_secs as u64),
        max_ack_pending: i64::from(t.max_in_flight),
        ..Default::default()
    };
    let mut c: consumer::PullConsumer =
        stream.get_or_create_consumer(&t.key.name, config).await.map_err(|e| e.to_string())?;
    // Bounded in time; the rest in the next round.
    let started = std::time::Instant::now();
    while started.elapsed() < DURABLE_BUDGET {
        let info = c.info().await.map_err(|e| e.to_string())?.clone();
        let acked = info.ack_floor.stream_sequence;
        if acked >= t.floor {
            return Ok(true);
        }
        let delivered = info.delivered.stream_sequence;
        let room = u64::try_from(info.config.max_ack_pending).unwrap_or(1).max(1);
        let want = t.floor.saturating_sub(delivered).clamp(1, FETCH_MAX.min(room));
        let mut batch = c
            .fetch()
            .max_messages(want as usize)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let mut last = None;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| e.to_string())?;
            let seq = m.info().map_err(|e| e.to_string())?.stream_sequence;
            if seq <= t.floor {
                last = Some(m);
            }
        }
        match last {
            // AckAll: this acknowledges every message below it too.
            Some(m) => m.double_ack().await.map_err(|e| e.to_string())?,
            // Nothing at or below the floor was handed out: the messages up
            // to it were delivered before and come back after the ack wait.
            None => return Ok(false),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SubRecord;

    fn upsert(id: u64, durable: &str, queue: &str, last_sent: u64) -> Record {
        Record::SubUpsert {
            channel: "c".into(),
            sub: SubRecord {
                sub_id: id,
                client_id: "me".into(),
                durable_name: durable.into(),
                queue_group: queue.into(),
                is_durable: !durable.is_empty(),
                max_in_flight: 5,
                ack_wait_secs: 7,
                last_sent,
                ..Default::default()
            },
        }
    }
    fn sent(id: u64, seq: u64) -> Record {
        Record::Sent { channel: "c".into(), sub_id: id, sequence: seq }
    }
    fn acked(id: u64, seq: u64) -> Record {
        Record::Acked { channel: "c".into(), sub_id: id, sequence: seq }
    }

    #[test]
    fn the_floor_is_what_was_acknowledged_in_order() {
        let mut t = Tracker::default();
        let (key, description) = Key::of("c", "me", "d", "", true).unwrap();
        assert_eq!(key.name, "STAN_D_me_d");
        assert_eq!(description, "STAN durable \"d\" of client \"me\" on channel \"c\", kept in step by stan-server");
        t.apply(&upsert(1, "d", "", 0));
        assert_eq!(t.floor(&key), Some(0));
        for s in 1..=5 {
            t.apply(&sent(1, s));
        }
        assert_eq!(t.floor(&key), Some(0));
        for s in [1, 2, 4] {
            t.apply(&acked(1, s));
        }
        assert_eq!(t.floor(&key), Some(2), "3 is still pending");
        t.apply(&acked(1, 3));
        t.apply(&acked(1, 5));
        assert_eq!(t.floor(&key), Some(5));
        // A truncation forgets pending messages that are gone.
        t.apply(&sent(1, 6));
        t.apply(&Record::MsgsTruncated { channel: "c".into(), first_seq: 8 });
        assert_eq!(t.floor(&key), Some(6));
    }

    #[test]
    fn non_durables_have_no_consumer_and_queue_members_share_one() {
        let mut t = Tracker::default();
        t.apply(&upsert(1, "", "", 0));
        assert!(t.durables.is_empty());
        t.apply(&upsert(2, "d", "d:q", 0));
        t.apply(&upsert(3, "d", "d:q", 0));
        let (key, _) = Key::of("c", "other", "d", "d:q", true).unwrap();
        assert_eq!(key.name, "STAN_Q_d_q");
        assert_eq!(t.durables.len(), 1);
        t.apply(&sent(2, 1));
        t.apply(&sent(3, 2));
        t.apply(&acked(3, 2));
        assert_eq!(t.floor(&key), Some(0), "member 2 still has 1 pending");
        t.apply(&acked(2, 1));
        assert_eq!(t.floor(&key), Some(2));
        // One member leaves: the consumer stays; the last one leaves: it is deleted.
        t.apply(&Record::SubDeleted { channel: "c".into(), sub_id: 2 });
        let (_, deleted) = t.take();
        assert!(deleted.is_empty());
        t.apply(&Record::SubDeleted { channel: "c".into(), sub_id: 3 });
        let (targets, deleted) = t.take();
        assert!(targets.is_empty());
        assert_eq!(deleted, vec![key]);
    }

    #[test]
    fn reset_syncs_every_durable_again_and_keeps_deletions() {
        let mut t = Tracker::default();
        t.apply(&upsert(1, "gone", "", 0));
        t.apply(&Record::SubDeleted { channel: "c".into(), sub_id: 1 });
        t.reset(&[upsert(2, "d", "", 9)]);
        let (targets, deleted) = t.take();
        assert_eq!(targets.len(), 1);
        assert_eq!((targets[0].floor, targets[0].max_in_flight, targets[0].ack_wait_secs), (9, 5, 7));
        assert_eq!(deleted.len(), 1);
    }
}
