//! Turning [`Record`]s into statements on nats-streaming-server's tables,
//! in the forms its own SQL store writes (so it can read them back):
//! protobuf blobs for server info, clients, messages and subscriptions, and
//! one `SubsPending` row per sent sequence (the `--sql_no_caching` form,
//! which the original reads in either mode).

use super::db::{Arg, Stmt};
use super::proto::{ClientInfo, SubState};
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
    Stmt { sql, args }
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

/// Appends the statements that persist `rec` to `out`.
pub fn statements(rec: &Record, ids: &mut Ids, limits: RowLimits, out: &mut Vec<Stmt>) -> Result<(), String> {
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
            out.push(stmt("DELETE FROM Clients WHERE id=?", vec![s(client_id)]));
            out.push(stmt(
                "INSERT INTO Clients (id, hbinbox, proto) VALUES (?, ?, ?)",
                vec![s(client_id), s(hb_inbox), Arg::Bytes(info.encode_to_vec())],
            ));
        }
        Record::ClientRemoved { client_id } => out.push(stmt("DELETE FROM Clients WHERE id=?", vec![s(client_id)])),
        Record::ChannelCreated { channel } => {
            if ids.channels.contains_key(channel) {
                return Ok(());
            }
            let id = ids.max_channel_id + 1;
            ids.max_channel_id = id;
            ids.channels.insert(channel.clone(), id);
            out.push(stmt(
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
            let blob = m.encode_to_vec();
            out.push(stmt(
                "INSERT INTO Messages (id, seq, timestamp, size, data) VALUES (?, ?, ?, ?, ?)",
                vec![Arg::I64(id), n(*sequence), Arg::I64(*timestamp), n(blob.len() as u64), Arg::Bytes(blob)],
            ));
        }
        Record::MsgsTruncated { channel, first_seq } => {
            let id = ids.channel(channel)?;
            out.push(stmt("DELETE FROM Messages WHERE id=? AND seq<?", vec![Arg::I64(id), n(*first_seq)]));
            // Keeps the last sequence known when every message is gone.
            let last = first_seq.saturating_sub(1);
            out.push(stmt(
                "UPDATE Channels SET maxseq=? WHERE id=? AND maxseq<?",
                vec![n(last), Arg::I64(id), n(last)],
            ));
        }
        Record::SubUpsert { channel, sub } => {
            let id = ids.channel(channel)?;
            out.push(stmt("DELETE FROM Subscriptions WHERE id=? AND subid=?", vec![Arg::I64(id), n(sub.sub_id)]));
            out.push(stmt(
                "INSERT INTO Subscriptions (id, subid, lastsent, proto) VALUES (?, ?, ?, ?)",
                vec![Arg::I64(id), n(sub.sub_id), n(sub.last_sent), Arg::Bytes(sub_state(sub).encode_to_vec())],
            ));
        }
        Record::SubDeleted { channel, sub_id } => {
            let id = ids.channel(channel)?;
            out.push(stmt("DELETE FROM Subscriptions WHERE id=? AND subid=?", vec![Arg::I64(id), n(*sub_id)]));
            out.push(stmt("DELETE FROM SubsPending WHERE subid=?", vec![n(*sub_id)]));
        }
        Record::Sent { sub_id, sequence, .. } => {
            ids.max_row += 1;
            out.push(stmt(
                "INSERT INTO SubsPending (subid, `row`, seq) VALUES (?, ?, ?)",
                vec![n(*sub_id), Arg::I64(ids.max_row), n(*sequence)],
            ));
        }
        Record::Acked { channel, sub_id, sequence } => {
            let id = ids.channel(channel)?;
            out.push(stmt("DELETE FROM SubsPending WHERE subid=? AND seq=?", vec![n(*sub_id), n(*sequence)]));
            out.push(stmt(
                "UPDATE Subscriptions SET lastsent=? WHERE id=? AND subid=? AND lastsent<?",
                vec![n(*sequence), Arg::I64(id), n(*sub_id), n(*sequence)],
            ));
        }
    }
    Ok(())
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

    #[test]
    fn unknown_channel_is_an_error() {
        let mut ids = Ids::default();
        let mut out = Vec::new();
        let rec = Record::Msg {
            channel: "x".into(),
            sequence: 1,
            timestamp: 0,
            reply: String::new(),
            data: Default::default(),
        };
        assert!(statements(&rec, &mut ids, RowLimits::default(), &mut out).unwrap_err().contains("unknown channel"));
        statements(&Record::ChannelCreated { channel: "x".into() }, &mut ids, RowLimits::default(), &mut out).unwrap();
        statements(&rec, &mut ids, RowLimits::default(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(ids.channels["x"], 1);
    }
}
