//! Unit tests of the original file store reader on files built with the
//! original's framing.

use super::format::{self as f, push_record};
use super::*;
use crate::store::Record;
use prost::Message;
use stan_proto::MsgProto;
use std::path::Path;

fn file(records: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = 1u32.to_le_bytes().to_vec();
    for (t, p) in records {
        push_record(&mut out, *t, p);
    }
    out
}

fn msg(seq: u64, data: &str) -> (u8, Vec<u8>) {
    let m = MsgProto {
        sequence: seq,
        subject: "foo".into(),
        reply: if seq == 2 { "r".into() } else { String::new() },
        data: data.as_bytes().to_vec().into(),
        timestamp: 1_000 + seq as i64,
        ..Default::default()
    };
    (0, m.encode_to_vec())
}

fn sub(id: u64, client: &str, durable: &str, queue: &str, durable_flag: bool, closed: bool) -> Vec<u8> {
    f::SubState {
        id,
        client_id: client.into(),
        q_group: queue.into(),
        inbox: format!("in.{id}"),
        ack_inbox: format!("_INBOX.ack{id}"),
        max_in_flight: 10,
        ack_wait_in_secs: 30,
        durable_name: durable.into(),
        last_sent: 0,
        is_durable: durable_flag,
        is_closed: closed,
    }
    .encode_to_vec()
}

fn upd(id: u64, seqno: u64) -> Vec<u8> {
    f::SubStateUpdate { id, seqno }.encode_to_vec()
}

/// A store with clients a (kept) and b (deleted), channel foo with 3
/// messages in two slices and four subscriptions.
fn write_store(dir: &Path) {
    let info = f::ServerInfo { cluster_id: "c1".into(), publish: "_STAN.pub.c1".into(), ..Default::default() };
    std::fs::write(dir.join("server.dat"), file(&[(0, info.encode_to_vec())])).unwrap();
    let ca = f::ClientInfo { id: "a".into(), hb_inbox: "hb.a".into(), protocol: 1, ..Default::default() };
    let cb = f::ClientInfo { id: "b".into(), hb_inbox: "hb.b".into(), ..Default::default() };
    let del = f::ClientDelete { id: "b".into() };
    std::fs::write(
        dir.join("clients.dat"),
        file(&[
            (f::ADD_CLIENT, ca.encode_to_vec()),
            (f::ADD_CLIENT, cb.encode_to_vec()),
            (f::DEL_CLIENT, del.encode_to_vec()),
        ]),
    )
    .unwrap();
    let ch = dir.join("foo");
    std::fs::create_dir(&ch).unwrap();
    std::fs::write(ch.join("msgs.1.dat"), file(&[msg(1, "one"), msg(2, "two")])).unwrap();
    std::fs::write(ch.join("msgs.2.dat"), file(&[msg(3, "three")])).unwrap();
    std::fs::write(ch.join("msgs.1.idx"), b"ignored").unwrap();
    std::fs::write(
        ch.join("subs.dat"),
        file(&[
            (f::SUB_NEW, sub(1, "a", "dur", "", true, false)),
            (f::SUB_MSG, upd(1, 1)),
            (f::SUB_MSG, upd(1, 2)),
            (f::SUB_ACK, upd(1, 1)),
            (f::SUB_NEW, sub(2, "a", "", "", false, false)),
            (f::SUB_DEL, f::SubStateDelete { id: 2 }.encode_to_vec()),
            (f::SUB_NEW, sub(3, "a", "", "dq:grp", true, false)),
            (f::SUB_MSG, upd(3, 3)),
            (f::SUB_NEW, sub(4, "a", "off", "", true, false)),
            (f::SUB_UPDATE, sub(4, "a", "off", "", true, true)),
        ]),
    )
    .unwrap();
}

#[test]
fn reads_every_record_kind() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path());
    assert!(looks_like_original(dir.path()));
    let st = read_store(dir.path(), ReadOptions::default()).unwrap();
    assert_eq!(st.info.cluster_id, "c1");
    assert_eq!(st.clients.keys().collect::<Vec<_>>(), ["a"]);
    let ch = &st.channels["foo"];
    assert_eq!(ch.msgs.iter().map(|m| m.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(ch.subs.keys().copied().collect::<Vec<_>>(), [1, 3, 4]);
    assert_eq!(ch.subs[&1].pending.iter().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(ch.subs[&1].state.last_sent, 2);
    assert!(ch.subs[&4].state.is_closed);
    assert!(st.warnings.is_empty());

    let recs = st.to_records();
    assert_eq!(recs[0], Record::ServerInfo { cluster_id: "c1".into() });
    assert!(recs.contains(&Record::Msg {
        channel: "foo".into(),
        sequence: 2,
        timestamp: 1002,
        reply: "r".into(),
        data: "two".into()
    }));
    let subs: Vec<&SubRecord> =
        recs.iter().filter_map(|r| if let Record::SubUpsert { sub, .. } = r { Some(sub) } else { None }).collect();
    assert_eq!(subs.len(), 3);
    assert_eq!((subs[0].durable_name.as_str(), subs[0].last_sent, subs[0].is_durable), ("dur", 2, true));
    assert_eq!((subs[1].durable_name.as_str(), subs[1].queue_group.as_str()), ("dq", "dq:grp"));
    assert_eq!((subs[2].inbox.as_str(), subs[2].client_id.as_str()), ("", "a"));
    assert!(recs.contains(&Record::Sent { channel: "foo".into(), sub_id: 1, sequence: 2 }));
    assert!(recs.contains(&Record::Sent { channel: "foo".into(), sub_id: 2, sequence: 3 }));
}

#[test]
fn torn_tail_is_an_error_unless_truncation_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path());
    let path = dir.path().join("foo/msgs.2.dat");
    let mut b = std::fs::read(&path).unwrap();
    let full = b.len();
    b.extend_from_slice(&file(&[msg(4, "four")])[4..]);
    b.truncate(full + 10);
    std::fs::write(&path, &b).unwrap();
    let e = read_store(dir.path(), ReadOptions::default()).unwrap_err();
    assert!(e.contains("msgs.2.dat: unexpected end of file at offset"), "{e}");
    assert!(e.contains("--file_truncate_bad_eof"), "{e}");
    let st = read_store(dir.path(), ReadOptions { truncate_bad_eof: true }).unwrap();
    assert_eq!(st.channels["foo"].msgs.len(), 3);
    assert_eq!(st.warnings.len(), 1, "{:?}", st.warnings);
}

#[test]
fn corruption_and_bad_versions_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path());
    let path = dir.path().join("foo/msgs.1.dat");
    let mut b = std::fs::read(&path).unwrap();
    let n = b.len();
    b[n - 1] ^= 0xFF;
    std::fs::write(&path, &b).unwrap();
    let e = read_store(dir.path(), ReadOptions { truncate_bad_eof: true }).unwrap_err();
    assert!(e.contains("msgs.1.dat: corrupted record at offset"), "{e}");

    std::fs::write(dir.path().join("clients.dat"), 7u32.to_le_bytes()).unwrap();
    let e = read_store(dir.path(), ReadOptions::default()).unwrap_err();
    assert!(e.contains("unsupported file version: 7"), "{e}");

    std::fs::write(dir.path().join("server.dat"), [1u8, 0]).unwrap();
    let e = read_store(dir.path(), ReadOptions::default()).unwrap_err();
    assert!(e.contains("unable to verify file version"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    let e = read_store(empty.path(), ReadOptions::default()).unwrap_err();
    assert!(e.contains("not a nats-streaming-server file store"), "{e}");
}

#[test]
fn zero_padding_ends_the_data_and_garbage_never_panics() {
    let mut b = file(&[msg(1, "x")]);
    b.extend_from_slice(&[0u8; 64]);
    let mut r = f::RecordReader::new(Path::new("p"), &b, false, false).unwrap();
    assert!(r.next_record().unwrap().is_some());
    assert!(r.next_record().unwrap().is_none());
    // Arbitrary bytes: an error or records, never a panic.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in 0..200usize {
        let mut g = vec![1u8, 0, 0, 0];
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g.push(x as u8);
        }
        for typed in [false, true] {
            if let Ok(mut r) = f::RecordReader::new(Path::new("g"), &g, typed, false) {
                while let Ok(Some(_)) = r.next_record() {}
            }
        }
    }
}
