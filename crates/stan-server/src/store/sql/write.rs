//! Turning [`Record`]s into statements on nats-streaming-server's tables,
//! in the forms its own SQL store writes (so it can read them back):
//! protobuf blobs for server info, clients, messages and subscriptions, and
//! one `SubsPending` row per sent sequence (the `--sql_no_caching` form,
//! which the original reads in either mode).

use super::db::{Arg, Stmt};
use crate::store::spb::{ClientInfo, SubState};
use crate::store::{Record, SubRecord};
use prost::Message;
use stan_proto::messages::MsgProto;
use std::collections::HashMap;

/// Channel limits written in new `Channels` rows (as the original does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowLimits {
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age_ns: i64,
}

/// The IDs the tables need and our records do not carry.
#[derive(Debug, Default)]
pub struct Ids {
    pub channels: HashMap<String, i64>,
    pub max_channel_id: i64,
    pub max_row: i64,
}

fn stmt(sql: &'static str, args: Vec<Arg>) -> Stmt {
    Stmt::new(sql, args)
}

fn s(v: &str) -> Arg {
    Arg::Str(v.to_string())
}

fn n(v: u64) -> Arg {
    Arg::I64(v as i64)
}

impl Ids {
    fn channel(&self, name: &str) -> Result<i64, String> {
        self.channels.get(name).copied().ok_or_else(|| format!("sql: unknown channel {name:?} (no Channels row)"))
    }
}

/// The `SubState` the original would store for `sub`: a closed durable
/// keeps its client ID with `isClosed`; a durable queue group's shadow
/// (no member left) has an empty client ID.
pub fn sub_state(sub: &SubRecord) -> SubState {
    let offline = sub.inbox.is_empty();
    let queue = !sub.queue_group.is_empty();
    SubState {
        id: sub.sub_id,
        client_id: if offline && queue { String::new() } else { sub.client_id.clone() },
        q_group: sub.queue_group.clone(),
        inbox: sub.inbox.clone(),
        ack_inbox: sub.ack_inbox.clone(),
        max_in_flight: sub.max_in_flight,
        ack_wait_in_secs: sub.ack_wait_secs,
        durable_name: sub.durable_name.clone(),
        last_sent: sub.last_sent,
        is_durable: sub.is_durable,
        is_closed: offline && !queue && sub.is_durable,
    }
}

/// Rows per multi-row statement (PostgreSQL allows 65535 parameters).
const CHUNK: usize = 500;

/// One message row to insert.
#[derive(Debug)]
struct MsgRow {
    channel_id: i64,
    seq: u64,
    timestamp: i64,
    blob: Vec<u8>,
}

/// The statements of one commit, grouped by table so that runs of inserts
/// and deletes become multi-row statements. The tables have no foreign
/// keys, so only the order within each group matters, and it is kept:
/// (1) clients, channels and server info, (2) messages, (3) subscriptions
/// and their pending rows. In group 3 a sequence sent and acknowledged
/// within the same commit never reaches the table, and the acks of a batch
/// become one `DELETE ... IN (...)` per subscription.
#[derive(Debug, Default)]
pub struct Batch {
    first: Vec<Stmt>,
    msgs: Vec<MsgOp>,
    subs: SubOps,
}

#[derive(Debug)]
enum MsgOp {
    Insert(MsgRow),
    Stmt(Stmt),
}

/// Group 3, accumulated between barriers (subscription upserts and deletes).
#[derive(Debug, Default)]
struct SubOps {
    done: Vec<Stmt>,
    /// Pending rows to insert: (subid, row, seq); `None` once acknowledged.
    inserts: Vec<Option<(u64, i64, u64)>>,
    index: std::collections::HashMap<(u64, u64), usize>,
    /// Acknowledged sequences per subscription, and their set.
    deletes: std::collections::BTreeMap<u64, Vec<u64>>,
    deleted: std::collections::HashSet<(u64, u64)>,
    /// Highest acknowledged sequence per (channel ID, subid).
    last_sent: std::collections::BTreeMap<(i64, u64), u64>,
}

impl SubOps {
    fn is_empty(&self) -> bool {
        self.done.is_empty() && self.inserts.is_empty() && self.deletes.is_empty() && self.last_sent.is_empty()
    }

    fn sent(&mut self, subid: u64, row: i64, seq: u64) {
        if self.deleted.contains(&(subid, seq)) {
            // Sent again after an ack in this batch: keep the order.
            self.flush();
        }
        self.index.insert((subid, seq), self.inserts.len());
        self.inserts.push(Some((subid, row, seq)));
    }

    fn acked(&mut self, channel_id: i64, subid: u64, seq: u64) {
        if let Some(i) = self.index.remove(&(subid, seq)) {
            self.inserts[i] = None;
        }
        // Rows written by earlier commits (or sent twice) go too.
        if self.deleted.insert((subid, seq)) {
            self.deletes.entry(subid).or_default().push(seq);
        }
        let l = self.last_sent.entry((channel_id, subid)).or_insert(0);
        *l = (*l).max(seq);
    }

    fn barrier(&mut self, s: Stmt) {
        self.flush();
        self.done.push(s);
    }

    /// Turns the accumulated pending rows, acks and last sent updates into statements.
    fn flush(&mut self) {
        let rows: Vec<(u64, i64, u64)> = self.inserts.drain(..).flatten().collect();
        for chunk in rows.chunks(CHUNK) {
            let mut sql = String::from("INSERT INTO SubsPending (subid, `row`, seq) VALUES ");
            let mut args = Vec::with_capacity(chunk.len() * 3);
            for (i, (subid, row, seq)) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" });
                args.extend([n(*subid), Arg::I64(*row), n(*seq)]);
            }
            self.done.push(Stmt { sql: sql.into(), args });
        }
        self.index.clear();
        for (subid, seqs) in std::mem::take(&mut self.deletes) {
            for chunk in seqs.chunks(CHUNK) {
                let mut sql = String::from("DELETE FROM SubsPending WHERE subid=? AND seq IN (");
                let mut args = vec![n(subid)];
                for (i, seq) in chunk.iter().enumerate() {
                    sql.push_str(if i == 0 { "?" } else { ", ?" });
                    args.push(n(*seq));
                }
                sql.push(')');
                self.done.push(Stmt { sql: sql.into(), args });
            }
        }
        self.deleted.clear();
        for ((cid, subid), seq) in std::mem::take(&mut self.last_sent) {
            self.done.push(stmt(
                "UPDATE Subscriptions SET lastsent=? WHERE id=? AND subid=? AND lastsent<?",
                vec![n(seq), Arg::I64(cid), n(subid), n(seq)],
            ));
        }
    }
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.msgs.is_empty() && self.subs.is_empty()
    }

    /// A statement run before everything else of the batch.
    pub fn push_first(&mut self, s: Stmt) {
        self.first.push(s);
    }

    /// The statements of the batch, in execution order.
    pub fn compile(mut self) -> Vec<Stmt> {
        let mut out = std::mem::take(&mut self.first);
        let mut rows: Vec<MsgRow> = Vec::new();
        for op in self.msgs {
            match op {
                MsgOp::Insert(r) => rows.push(r),
                MsgOp::Stmt(s) => {
                    insert_msgs(&mut rows, &mut out);
                    out.push(s);
                }
            }
        }
        insert_msgs(&mut rows, &mut out);
        self.subs.flush();
        out.append(&mut self.subs.done);
        out
    }

    /// Adds what persists `rec`.
    pub fn add(&mut self, rec: &Record, ids: &mut Ids, limits: RowLimits) -> Result<(), String> {
        match rec {
            Record::ServerInfo { .. } => {
                // Written once when the store is opened (with the subjects), see `SqlJournal::open`.
            }
            Record::ClientAdded { client_id, hb_inbox, conn_id, protocol, ping_interval, ping_max_out } => {
                let info = ClientInfo {
                    id: client_id.clone(),
                    hb_inbox: hb_inbox.clone(),
                    conn_id: conn_id.clone(),
                    protocol: *protocol,
                    ping_interval: *ping_interval,
                    ping_max_out: *ping_max_out,
                };
                self.first.push(stmt("DELETE FROM Clients WHERE id=?", vec![s(client_id)]));
                self.first.push(stmt(
                    "INSERT INTO Clients (id, hbinbox, proto) VALUES (?, ?, ?)",
                    vec![s(client_id), s(hb_inbox), Arg::Bytes(info.encode_to_vec())],
                ));
            }
            Record::ClientRemoved { client_id } => {
                self.first.push(stmt("DELETE FROM Clients WHERE id=?", vec![s(client_id)]))
            }
            Record::ChannelCreated { channel } => {
                if ids.channels.contains_key(channel) {
                    return Ok(());
                }
                let id = ids.max_channel_id + 1;
                ids.max_channel_id = id;
                ids.channels.insert(channel.clone(), id);
                self.first.push(stmt(
                    "INSERT INTO Channels (id, name, maxmsgs, maxbytes, maxage) VALUES (?, ?, ?, ?, ?)",
                    vec![
                        Arg::I64(id),
                        s(channel),
                        Arg::I64(limits.max_msgs),
                        Arg::I64(limits.max_bytes),
                        Arg::I64(limits.max_age_ns),
                    ],
                ));
            }
            Record::Msg { channel, sequence, timestamp, reply, data } => {
                let id = ids.channel(channel)?;
                let m = MsgProto {
                    sequence: *sequence,
                    subject: channel.clone(),
                    reply: reply.clone(),
                    data: data.clone(),
                    timestamp: *timestamp,
                    ..Default::default()
                };
                self.msgs.push(MsgOp::Insert(MsgRow {
                    channel_id: id,
                    seq: *sequence,
                    timestamp: *timestamp,
                    blob: m.encode_to_vec(),
                }));
            }
            Record::MsgsTruncated { channel, first_seq } => {
                let id = ids.channel(channel)?;
                self.msgs.push(MsgOp::Stmt(stmt(
                    "DELETE FROM Messages WHERE id=? AND seq<?",
                    vec![Arg::I64(id), n(*first_seq)],
                )));
                // Keeps the last sequence known when every message is gone.
                let last = first_seq.saturating_sub(1);
                self.first.push(stmt(
                    "UPDATE Channels SET maxseq=? WHERE id=? AND maxseq<?",
                    vec![n(last), Arg::I64(id), n(last)],
                ));
            }
            Record::SubUpsert { channel, sub } => {
                let id = ids.channel(channel)?;
                self.subs.barrier(stmt(
                    "DELETE FROM Subscriptions WHERE id=? AND subid=?",
                    vec![Arg::I64(id), n(sub.sub_id)],
                ));
                self.subs.barrier(stmt(
                    "INSERT INTO Subscriptions (id, subid, lastsent, proto) VALUES (?, ?, ?, ?)",
                    vec![Arg::I64(id), n(sub.sub_id), n(sub.last_sent), Arg::Bytes(sub_state(sub).encode_to_vec())],
                ));
            }
            Record::SubDeleted { channel, sub_id } => {
                let id = ids.channel(channel)?;
                self.subs
                    .barrier(stmt("DELETE FROM Subscriptions WHERE id=? AND subid=?", vec![Arg::I64(id), n(*sub_id)]));
                self.subs.barrier(stmt("DELETE FROM SubsPending WHERE subid=?", vec![n(*sub_id)]));
            }
            Record::Sent { sub_id, sequence, .. } => {
                ids.max_row += 1;
                self.subs.sent(*sub_id, ids.max_row, *sequence);
            }
            Record::Acked { channel, sub_id, sequence } => {
                let id = ids.channel(channel)?;
                self.subs.acked(id, *sub_id, *sequence);
            }
            Record::ChannelDeleted { channel } => {
                // Every row of the channel goes, its Channels row last (as
                // the original's deep delete; here in the batch's one
                // transaction). Last in the batch, after its inserts.
                let id = ids.channel(channel)?;
                ids.channels.remove(channel);
                let id = || vec![Arg::I64(id)];
                self.subs.barrier(stmt(
                    "DELETE FROM SubsPending WHERE subid IN (SELECT subid FROM Subscriptions WHERE id=?)",
                    id(),
                ));
                self.subs.barrier(stmt("DELETE FROM Subscriptions WHERE id=?", id()));
                self.subs.barrier(stmt("DELETE FROM Messages WHERE id=?", id()));
                self.subs.barrier(stmt("DELETE FROM Channels WHERE id=?", id()));
            }
        }
        Ok(())
    }
}

/// Most message bytes in one multi-row insert (MySQL refuses a statement
/// larger than `max_allowed_packet`, 16 MiB by default).
const CHUNK_BYTES: usize = 4 << 20;

/// Multi-row inserts of the message rows collected so far.
fn insert_msgs(rows: &mut Vec<MsgRow>, out: &mut Vec<Stmt>) {
    let mut start = 0;
    while start < rows.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < rows.len() && end - start < CHUNK && (end == start || bytes + rows[end].blob.len() <= CHUNK_BYTES) {
            bytes += rows[end].blob.len();
            end += 1;
        }
        let chunk = &mut rows[start..end];
        let mut sql = String::from("INSERT INTO Messages (id, seq, timestamp, size, data) VALUES ");
        let mut args = Vec::with_capacity(chunk.len() * 5);
        for (i, r) in chunk.iter_mut().enumerate() {
            sql.push_str(if i == 0 { "(?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?)" });
            args.extend([
                Arg::I64(r.channel_id),
                n(r.seq),
                Arg::I64(r.timestamp),
                n(r.blob.len() as u64),
                Arg::Bytes(std::mem::take(&mut r.blob)),
            ]);
        }
        out.push(Stmt { sql: sql.into(), args });
        start = end;
    }
    rows.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::recover::sub_record;

    #[test]
    fn sub_state_round_trips_through_the_original_form() {
        let online = SubRecord {
            sub_id: 3,
            client_id: "c".into(),
            inbox: "_INBOX.a".into(),
            ack_inbox: "_STAN.ack.x".into(),
            durable_name: "d".into(),
            is_durable: true,
            max_in_flight: 5,
            ack_wait_secs: 30,
            last_sent: 9,
            ..Default::default()
        };
        assert_eq!(sub_record(3, sub_state(&online)), online);
        let closed = SubRecord { inbox: String::new(), ..online.clone() };
        let st = sub_state(&closed);
        assert!(st.is_closed);
        assert_eq!(st.client_id, "c");
        assert_eq!(sub_record(3, st), closed);
        let shadow = SubRecord { queue_group: "d:q".into(), inbox: String::new(), ..online.clone() };
        let st = sub_state(&shadow);
        assert!(!st.is_closed);
        assert_eq!(st.client_id, "");
        let back = sub_record(3, st);
        assert_eq!((back.client_id.as_str(), back.inbox.as_str()), ("", ""));
    }

    fn msg(seq: u64) -> Record {
        Record::Msg { channel: "x".into(), sequence: seq, timestamp: 0, reply: String::new(), data: Default::default() }
    }

    #[test]
    fn unknown_channel_is_an_error() {
        let mut ids = Ids::default();
        let mut b = Batch::default();
        assert!(b.add(&msg(1), &mut ids, RowLimits::default()).unwrap_err().contains("unknown channel"));
        b.add(&Record::ChannelCreated { channel: "x".into() }, &mut ids, RowLimits::default()).unwrap();
        b.add(&msg(1), &mut ids, RowLimits::default()).unwrap();
        assert_eq!(b.compile().len(), 2);
        assert_eq!(ids.channels["x"], 1);
    }

    #[test]
    fn large_messages_are_split_across_inserts() {
        let mut ids = Ids::default();
        let lim = RowLimits::default();
        let mut b = Batch::default();
        b.add(&Record::ChannelCreated { channel: "x".into() }, &mut ids, lim).unwrap();
        let big = bytes::Bytes::from(vec![7u8; 1 << 20]);
        for seq in 1..=9 {
            let m = Record::Msg {
                channel: "x".into(),
                sequence: seq,
                timestamp: 0,
                reply: String::new(),
                data: big.clone(),
            };
            b.add(&m, &mut ids, lim).unwrap();
        }
        let rows: Vec<usize> = b.compile().iter().skip(1).map(|s| s.args.len() / 5).collect();
        assert_eq!(rows, vec![3, 3, 3]);
    }

    #[test]
    fn batches_become_multi_row_statements_in_order() {
        let mut ids = Ids::default();
        let lim = RowLimits::default();
        let mut b = Batch::default();
        b.add(&Record::ChannelCreated { channel: "x".into() }, &mut ids, lim).unwrap();
        let sent = |seq| Record::Sent { channel: "x".into(), sub_id: 7, sequence: seq };
        let acked = |seq| Record::Acked { channel: "x".into(), sub_id: 7, sequence: seq };
        for seq in 1..=3 {
            b.add(&msg(seq), &mut ids, lim).unwrap();
            b.add(&sent(seq), &mut ids, lim).unwrap();
        }
        b.add(&acked(2), &mut ids, lim).unwrap();
        b.add(&acked(9), &mut ids, lim).unwrap();
        b.add(&Record::MsgsTruncated { channel: "x".into(), first_seq: 2 }, &mut ids, lim).unwrap();
        b.add(&msg(4), &mut ids, lim).unwrap();
        let sqls: Vec<String> = b.compile().into_iter().map(|s| format!("{} {}", s.sql, s.args.len())).collect();
        let five = "(?, ?, ?, ?, ?)";
        assert_eq!(
            sqls,
            vec![
                "INSERT INTO Channels (id, name, maxmsgs, maxbytes, maxage) VALUES (?, ?, ?, ?, ?) 5".to_string(),
                "UPDATE Channels SET maxseq=? WHERE id=? AND maxseq<? 3".to_string(),
                format!("INSERT INTO Messages (id, seq, timestamp, size, data) VALUES {five}, {five}, {five} 15"),
                "DELETE FROM Messages WHERE id=? AND seq<? 2".to_string(),
                format!("INSERT INTO Messages (id, seq, timestamp, size, data) VALUES {five} 5"),
                // Sequence 2 was sent and acknowledged in the batch: only 1 and 3 are written.
                "INSERT INTO SubsPending (subid, `row`, seq) VALUES (?, ?, ?), (?, ?, ?) 6".to_string(),
                "DELETE FROM SubsPending WHERE subid=? AND seq IN (?, ?) 3".to_string(),
                "UPDATE Subscriptions SET lastsent=? WHERE id=? AND subid=? AND lastsent<? 4".to_string(),
            ]
        );
    }

    #[test]
    fn a_deleted_channel_loses_every_row_after_its_inserts() {
        let mut ids = Ids::default();
        let lim = RowLimits::default();
        let mut b = Batch::default();
        b.add(&Record::ChannelCreated { channel: "x".into() }, &mut ids, lim).unwrap();
        b.add(&msg(1), &mut ids, lim).unwrap();
        b.add(&Record::Sent { channel: "x".into(), sub_id: 7, sequence: 1 }, &mut ids, lim).unwrap();
        b.add(&Record::ChannelDeleted { channel: "x".into() }, &mut ids, lim).unwrap();
        assert!(ids.channels.is_empty());
        assert!(b.add(&msg(2), &mut ids, lim).unwrap_err().contains("unknown channel"));
        let sqls: Vec<String> = b.compile().into_iter().map(|s| format!("{} {:?}", s.sql, s.args)).collect();
        let id = format!("{:?}", vec![Arg::I64(1)]);
        assert_eq!(
            sqls[sqls.len() - 4..],
            [
                format!("DELETE FROM SubsPending WHERE subid IN (SELECT subid FROM Subscriptions WHERE id=?) {id}"),
                format!("DELETE FROM Subscriptions WHERE id=? {id}"),
                format!("DELETE FROM Messages WHERE id=? {id}"),
                format!("DELETE FROM Channels WHERE id=? {id}"),
            ]
        );
        // The inserts of the same batch come first.
        assert!(sqls[..sqls.len() - 4].iter().any(|s| s.starts_with("INSERT INTO SubsPending")), "{sqls:?}");
        // Created again, the channel gets a new ID.
        b = Batch::default();
        b.add(&Record::ChannelCreated { channel: "x".into() }, &mut ids, lim).unwrap();
        assert_eq!(ids.channels["x"], 2);
    }
}
