//! Reading nats-streaming-server's SQL tables back into [`Record`]s.
//!
//! Follows the original's recovery: the `ServerInfo` row (version 1), every
//! `Clients` row (the `ClientInfo` proto, or just id and heartbeat inbox for
//! rows written before 0.10), the channels not marked deleted with their
//! messages (`MsgProto` blobs), and each live subscription's `SubState`
//! with its pending messages from `SubsPending` — both the one-row-per-
//! sequence form (`seq` column, written with `--sql_no_caching`) and the
//! batched form (JSON arrays of pending and acknowledged sequences, applied
//! in row order). A channel's last sequence is the highest of `maxseq`, the
//! stored messages and the subscriptions' last sent sequences.

use super::db::{Arg, Conn};
use crate::store::spb::{ClientInfo, ServerInfo, SubState};
use crate::store::{Record, SubRecord};
use prost::Message;
use stan_proto::messages::MsgProto;
use std::collections::{BTreeSet, HashMap};

/// The schema version nats-streaming-server 0.25 writes in `ServerInfo`.
pub const SQL_VERSION: i64 = 1;

/// What recovery found, besides the records.
#[derive(Debug, Default)]
pub struct Found {
    pub records: Vec<Record>,
    /// `false` when the database held no server state (a new store).
    pub has_server_info: bool,
    pub channel_ids: HashMap<String, i64>,
    pub max_channel_id: i64,
    /// Highest subscription ID in the table, deleted rows included.
    pub max_sub_id: u64,
    pub max_row: i64,
}

pub async fn recover(conn: &mut Conn) -> Result<Found, String> {
    let mut f = Found::default();
    let max_ch = conn.fetch("SELECT MAX(id) FROM Channels", &[]).await?;
    f.max_channel_id = max_ch.first().map(|r| r.int(0)).transpose()?.unwrap_or(0);
    let rows = conn.fetch("SELECT id, proto, version FROM ServerInfo WHERE uniquerow=1", &[]).await?;
    let Some(row) = rows.first() else {
        if f.max_channel_id > 0 {
            return Err("no server state recovered but channels present".into());
        }
        return Ok(f);
    };
    f.has_server_info = true;
    let (id, proto, version) = (row.text(0)?, row.bytes(1)?, row.int(2)?);
    if version != SQL_VERSION {
        return Err(format!("sql: unsupported version: {version} (supports [1..{SQL_VERSION}])"));
    }
    let info = ServerInfo::decode(&proto[..]).map_err(|e| format!("sql: invalid ServerInfo proto: {e}"))?;
    if info.cluster_id != id {
        return Err(format!("sql: id {id:?} in column does not match cluster ID in data {:?}", info.cluster_id));
    }
    f.records.push(Record::ServerInfo { cluster_id: info.cluster_id });

    for r in conn.fetch("SELECT id, hbinbox, proto FROM Clients", &[]).await? {
        let (id, hb_inbox, proto) = (r.text(0)?, r.text(1)?, r.bytes(2)?);
        let c = if proto.is_empty() {
            ClientInfo { id, hb_inbox, ..Default::default() }
        } else {
            ClientInfo::decode(&proto[..]).map_err(|e| format!("sql: invalid ClientInfo proto of {id:?}: {e}"))?
        };
        f.records.push(Record::ClientAdded {
            client_id: c.id,
            hb_inbox: c.hb_inbox,
            conn_id: c.conn_id,
            protocol: c.protocol,
            ping_interval: c.ping_interval,
            ping_max_out: c.ping_max_out,
        });
    }

    let sub_max = conn.fetch("SELECT MAX(subid) FROM Subscriptions", &[]).await?;
    f.max_sub_id = sub_max.first().map(|r| r.int(0)).transpose()?.unwrap_or(0) as u64;
    let row_max = conn.fetch("SELECT MAX(`row`) FROM SubsPending", &[]).await?;
    f.max_row = row_max.first().map(|r| r.int(0)).transpose()?.unwrap_or(0);

    let channels = conn.fetch("SELECT id, name, maxseq FROM Channels WHERE deleted=FALSE ORDER BY id", &[]).await?;
    for ch in channels {
        let (cid, name, maxseq) = (ch.int(0)?, ch.text(1)?, ch.int(2)? as u64);
        f.channel_ids.insert(name.clone(), cid);
        recover_channel(conn, &mut f.records, cid, &name, maxseq).await?;
    }
    Ok(f)
}

async fn recover_channel(
    conn: &mut Conn,
    out: &mut Vec<Record>,
    cid: i64,
    name: &str,
    maxseq: u64,
) -> Result<(), String> {
    out.push(Record::ChannelCreated { channel: name.to_string() });
    let mut msgs = Vec::new();
    for r in conn.fetch("SELECT seq, timestamp, data FROM Messages WHERE id=? ORDER BY seq", &[Arg::I64(cid)]).await? {
        let (seq, ts, data) = (r.int(0)? as u64, r.int(1)?, r.bytes(2)?);
        let m =
            MsgProto::decode(&data[..]).map_err(|e| format!("sql: invalid message {seq} of channel {name:?}: {e}"))?;
        msgs.push(Record::Msg {
            channel: name.to_string(),
            sequence: seq,
            timestamp: if m.timestamp != 0 { m.timestamp } else { ts },
            reply: m.reply,
            data: m.data,
        });
    }
    let mut last = maxseq;
    let mut subs = Vec::new();
    let sub_rows = conn
        .fetch(
            "SELECT subid, lastsent, proto FROM Subscriptions WHERE id=? AND deleted=FALSE ORDER BY subid",
            &[Arg::I64(cid)],
        )
        .await?;
    for r in sub_rows {
        let (subid, col_last_sent, proto) = (r.int(0)? as u64, r.int(1)? as u64, r.bytes(2)?);
        if proto.is_empty() {
            last = last.max(col_last_sent);
            continue;
        }
        let mut s = SubState::decode(&proto[..])
            .map_err(|e| format!("sql: invalid subscription {subid} of channel {name:?}: {e}"))?;
        s.last_sent = s.last_sent.max(col_last_sent);
        let pending = recover_pending(conn, subid, &mut s.last_sent).await?;
        last = last.max(s.last_sent);
        subs.push((subid, s, pending));
    }
    let first = match msgs.first() {
        Some(Record::Msg { sequence, .. }) => *sequence,
        _ => last + 1,
    };
    if let Some(Record::Msg { sequence, .. }) = msgs.last() {
        last = last.max(*sequence);
    }
    let first = if msgs.is_empty() { last + 1 } else { first };
    if first > 1 {
        out.push(Record::MsgsTruncated { channel: name.to_string(), first_seq: first });
    }
    out.append(&mut msgs);
    for (subid, s, pending) in subs {
        out.push(Record::SubUpsert { channel: name.to_string(), sub: sub_record(subid, s) });
        for seq in pending {
            out.push(Record::Sent { channel: name.to_string(), sub_id: subid, sequence: seq });
        }
    }
    Ok(())
}

/// A `SubState` as our record. An offline durable (closed, or a queue
/// group's shadow with no client) has no delivery inbox.
pub fn sub_record(subid: u64, s: SubState) -> SubRecord {
    let shadow = !s.q_group.is_empty() && s.client_id.is_empty();
    let closed = s.is_closed && s.q_group.is_empty();
    let is_durable = s.is_durable || !s.durable_name.is_empty();
    SubRecord {
        sub_id: subid,
        inbox: if shadow || closed { String::new() } else { s.inbox },
        client_id: s.client_id,
        ack_inbox: s.ack_inbox,
        durable_name: s.durable_name,
        queue_group: s.q_group,
        is_durable,
        max_in_flight: s.max_in_flight,
        ack_wait_secs: s.ack_wait_in_secs,
        last_sent: s.last_sent,
    }
}

/// The sequences awaiting an ack for `subid`; raises `last_sent` to what
/// the rows record.
async fn recover_pending(conn: &mut Conn, subid: u64, last_sent: &mut u64) -> Result<BTreeSet<u64>, String> {
    let rows = conn
        .fetch(
            "SELECT `row`, seq, lastsent, pending, acks FROM SubsPending WHERE subid=? ORDER BY `row`",
            &[Arg::I64(subid as i64)],
        )
        .await?;
    let mut pending = BTreeSet::new();
    for r in rows {
        let (seq, ls, p, a) = (r.int(1)? as u64, r.int(2)? as u64, r.bytes(3)?, r.bytes(4)?);
        if seq > 0 {
            *last_sent = (*last_sent).max(seq);
            pending.insert(seq);
            continue;
        }
        *last_sent = (*last_sent).max(ls);
        for s in decode_seqs(&p, subid)? {
            pending.insert(s);
        }
        for s in decode_seqs(&a, subid)? {
            pending.remove(&s);
        }
    }
    Ok(pending)
}

/// A JSON array of sequences (`SubsPending.pending` / `.acks`); empty or
/// `null` is none.
fn decode_seqs(b: &[u8], subid: u64) -> Result<Vec<u64>, String> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let v: Option<Vec<u64>> = serde_json::from_slice(b)
        .map_err(|e| format!("sql: invalid pending sequences of subscription {subid}: {e}"))?;
    Ok(v.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_seqs() {
        assert_eq!(decode_seqs(b"[3,1,2]", 1).unwrap(), vec![3, 1, 2]);
        assert_eq!(decode_seqs(b"null", 1).unwrap(), Vec::<u64>::new());
        assert_eq!(decode_seqs(b"", 1).unwrap(), Vec::<u64>::new());
        assert!(decode_seqs(b"[x]", 1).is_err());
    }

    #[test]
    fn offline_subs_have_no_inbox() {
        let closed = SubState {
            client_id: "c".into(),
            inbox: "_INBOX.x".into(),
            durable_name: "d".into(),
            is_durable: true,
            is_closed: true,
            ..Default::default()
        };
        let r = sub_record(4, closed);
        assert_eq!((r.sub_id, r.client_id.as_str(), r.inbox.as_str(), r.is_durable), (4, "c", "", true));
        let shadow = SubState { q_group: "d:q".into(), inbox: "_INBOX.y".into(), ..Default::default() };
        assert_eq!(sub_record(5, shadow).inbox, "");
        let online = SubState { client_id: "c".into(), inbox: "_INBOX.z".into(), ..Default::default() };
        assert_eq!(sub_record(6, online).inbox, "_INBOX.z");
    }
}
