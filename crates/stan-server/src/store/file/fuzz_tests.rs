//! Property tests (proptest) of the journal's decoders: the payload codec
//! (every record round-trips; arbitrary payloads never panic and, when they
//! decode, re-encode to the same bytes) and the frame scan (a journal
//! damaged by an arbitrary burst keeps exactly the frames the burst did not
//! touch). `STAN_LONG_TESTS=1` runs many more cases.

use super::*;
use crate::store::SubRecord;
use bytes::Bytes;
use proptest::prelude::*;
use tempfile::TempDir;

fn config(short: u32, long: u32) -> ProptestConfig {
    let long_run = std::env::var_os("STAN_LONG_TESTS").is_some_and(|v| v == "1");
    ProptestConfig {
        cases: if long_run { long } else { short },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn data() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from)
}

fn sub_record() -> impl Strategy<Value = SubRecord> {
    (any::<u64>(), text(), text(), text(), text(), text(), any::<bool>(), any::<i32>(), any::<i32>(), any::<u64>())
        .prop_map(|(sub_id, client_id, inbox, ack_inbox, durable_name, queue_group, is_durable, mif, aw, last_sent)| {
            SubRecord {
                sub_id,
                client_id,
                inbox,
                ack_inbox,
                durable_name,
                queue_group,
                is_durable,
                max_in_flight: mif,
                ack_wait_secs: aw,
                last_sent,
            }
        })
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        text().prop_map(|cluster_id| Record::ServerInfo { cluster_id }),
        (text(), text(), data(), any::<i32>(), any::<i32>(), any::<i32>()).prop_map(
            |(client_id, hb_inbox, conn_id, protocol, ping_interval, ping_max_out)| Record::ClientAdded {
                client_id,
                hb_inbox,
                conn_id,
                protocol,
                ping_interval,
                ping_max_out
            }
        ),
        text().prop_map(|client_id| Record::ClientRemoved { client_id }),
        text().prop_map(|channel| Record::ChannelCreated { channel }),
        (text(), any::<u64>(), any::<i64>(), text(), data()).prop_map(|(channel, sequence, timestamp, reply, data)| {
            Record::Msg { channel, sequence, timestamp, reply, data }
        }),
        (text(), any::<u64>()).prop_map(|(channel, first_seq)| Record::MsgsTruncated { channel, first_seq }),
        (text(), sub_record()).prop_map(|(channel, sub)| Record::SubUpsert { channel, sub }),
        (text(), any::<u64>()).prop_map(|(channel, sub_id)| Record::SubDeleted { channel, sub_id }),
        text().prop_map(|channel| Record::ChannelDeleted { channel }),
        (text(), any::<u64>(), any::<u64>()).prop_map(|(channel, sub_id, sequence)| Record::Sent {
            channel,
            sub_id,
            sequence
        }),
        (text(), any::<u64>(), any::<u64>()).prop_map(|(channel, sub_id, sequence)| Record::Acked {
            channel,
            sub_id,
            sequence
        }),
    ]
}

/// Writes `recs` as a version-2 journal; returns its bytes and each frame's byte range.
fn journal_bytes(recs: &[Record]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut bytes = frame::header().to_vec();
    let mut ranges = Vec::new();
    for r in recs {
        let start = bytes.len();
        frame::push_frame(&mut bytes, |o| codec::encode_record(r, o)).unwrap();
        ranges.push((start, bytes.len()));
    }
    (bytes, ranges)
}

/// Opens `bytes` as `journal.dat` in a fresh directory.
fn open_bytes(bytes: &[u8]) -> (TempDir, io::Result<(FileJournal, Vec<Record>)>) {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join(JOURNAL_FILE), bytes).unwrap();
    let r = FileJournal::open(dir.path(), SyncPolicy::OsBuffer);
    (dir, r)
}

proptest! {
    #![proptest_config(config(300, 20_000))]

    #[test]
    fn every_record_round_trips(rec in record()) {
        let mut p = Vec::new();
        codec::encode_record(&rec, &mut p);
        prop_assert_eq!(codec::decode_entry(&p), Ok(codec::Entry::Record(rec)));
    }

    #[test]
    fn arbitrary_payloads_decode_strictly(p in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(codec::Entry::Record(rec)) = codec::decode_entry(&p) {
            let mut again = Vec::new();
            codec::encode_record(&rec, &mut again);
            prop_assert_eq!(again, p);
        }
    }

    #[test]
    fn mutated_payloads_never_panic(rec in record(), at in any::<prop::sample::Index>(), b in any::<u8>(),
                                    cut in any::<prop::sample::Index>()) {
        let mut p = Vec::new();
        codec::encode_record(&rec, &mut p);
        let i = at.index(p.len());
        p[i] = b;
        p.truncate(cut.index(p.len() + 1));
        let _ = codec::decode_entry(&p);
    }
}

proptest! {
    #![proptest_config(config(64, 2_000))]

    /// A burst of changed bytes anywhere after the header: the journal
    /// opens, keeps exactly the records of the frames the burst missed (in
    /// order), and reopens with the same records.
    #[test]
    fn a_damaged_burst_loses_only_the_frames_it_touches(
        recs in proptest::collection::vec(record(), 1..24),
        at in any::<prop::sample::Index>(),
        xor in proptest::collection::vec(1u8..=255, 1..48),
    ) {
        let (mut bytes, ranges) = journal_bytes(&recs);
        let body = bytes.len() - HEADER_LEN as usize;
        let start = HEADER_LEN as usize + at.index(body);
        let end = (start + xor.len()).min(bytes.len());
        for (b, x) in bytes[start..end].iter_mut().zip(&xor) {
            *b ^= x;
        }
        let want: Vec<Record> = recs
            .iter()
            .zip(&ranges)
            .filter(|(_, &(s, e))| e <= start || s >= end)
            .map(|(r, _)| r.clone())
            .collect();
        let (dir, opened) = open_bytes(&bytes);
        let (j, got) = opened.expect("a damaged journal still opens");
        prop_assert_eq!(&got, &want);
        drop(j);
        let (_, again) = FileJournal::open(dir.path(), SyncPolicy::OsBuffer).expect("reopen");
        prop_assert_eq!(again, want);
    }

    /// Arbitrary bytes after a valid header, or a file of arbitrary bytes:
    /// opening never panics; it either recovers or refuses with InvalidData.
    #[test]
    fn arbitrary_files_open_or_are_refused(with_header in any::<bool>(),
                                           tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = if with_header { frame::header().to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&tail);
        let (_dir, opened) = open_bytes(&bytes);
        match opened {
            Ok((j, recs)) => prop_assert!(j.len <= bytes.len().max(HEADER_LEN as usize) as u64 + 13 || recs.is_empty()),
            Err(e) => prop_assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{}", e),
        }
    }
}
