//! Tests of the file journal: round trips, recovery from damage, rewrites,
//! locking, and robustness against arbitrary file contents.

use super::*;
use crate::store::SubRecord;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

fn every_variant() -> Vec<Record> {
    vec![
        Record::ServerInfo { cluster_id: "test-cluster".into() },
        Record::ClientAdded {
            client_id: "client-é".into(),
            hb_inbox: "_INBOX.hb".into(),
            conn_id: Bytes::from_static(&[0, 1, 2, 255]),
            protocol: 1,
            ping_interval: -5,
            ping_max_out: i32::MAX,
        },
        Record::ClientRemoved { client_id: String::new() },
        Record::ChannelCreated { channel: "foo.bar".into() },
        Record::Msg {
            channel: "foo.bar".into(),
            sequence: u64::MAX,
            timestamp: i64::MIN,
            reply: "reply.to".into(),
            data: Bytes::from_static(b"hello\0world"),
        },
        Record::MsgsTruncated { channel: "foo.bar".into(), first_seq: 42 },
        Record::SubUpsert {
            channel: "foo.bar".into(),
            sub: SubRecord {
                sub_id: 7,
                client_id: "c".into(),
                inbox: "in".into(),
                ack_inbox: "ack".into(),
                durable_name: "dur".into(),
                queue_group: "dur:q".into(),
                is_durable: true,
                max_in_flight: i32::MIN,
                ack_wait_secs: 30,
                last_sent: 1 << 40,
            },
        },
        Record::SubUpsert { channel: String::new(), sub: SubRecord::default() },
        Record::SubDeleted { channel: "foo.bar".into(), sub_id: 7 },
        Record::Sent { channel: "foo.bar".into(), sub_id: 7, sequence: 3 },
        Record::Acked { channel: "foo.bar".into(), sub_id: 7, sequence: 3 },
        Record::ChannelDeleted { channel: "foo.bar".into() },
    ]
}

fn msg(seq: u64, size: usize) -> Record {
    Record::Msg {
        channel: "orders".into(),
        sequence: seq,
        timestamp: 1_700_000_000_000_000_000 + seq as i64,
        reply: String::new(),
        data: Bytes::from(vec![(seq % 251) as u8; size]),
    }
}

fn open(dir: &Path) -> (FileJournal, Vec<Record>) {
    open_retrying(dir).expect("open journal")
}

/// Open, retrying for a moment while the lock is busy: another test of this
/// binary (the SQL FT-lock tests) starts database processes, and a child
/// between its fork and its exec briefly holds a copy of our lock file's
/// descriptor.
fn open_retrying(dir: &Path) -> io::Result<(FileJournal, Vec<Record>)> {
    let mut tries = 0;
    loop {
        match FileJournal::open(dir, SyncPolicy::OsBuffer) {
            Err(e) if e.kind() == io::ErrorKind::ResourceBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

fn write_all(dir: &Path, recs: &[Record]) {
    let (mut j, _) = open(dir);
    for r in recs {
        j.append(r).unwrap();
    }
    j.commit().unwrap();
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join(JOURNAL_FILE)
}

fn file_len(dir: &Path) -> u64 {
    fs::metadata(journal_path(dir)).unwrap().len()
}

#[test]
fn every_variant_round_trips() {
    let dir = TempDir::new().unwrap();
    let (_, recs) = open(dir.path());
    assert!(recs.is_empty());
    let all = every_variant();
    write_all(dir.path(), &all);
    let (_, recs) = open(dir.path());
    assert_eq!(recs, all);
}

#[test]
fn encoding_is_deterministic_and_compact() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for r in every_variant() {
        codec::encode_record(&r, &mut a);
        codec::encode_record(&r.clone(), &mut b);
    }
    assert_eq!(a, b);
    let mut one = Vec::new();
    codec::encode_record(&Record::Acked { channel: "c".into(), sub_id: 1, sequence: 2 }, &mut one);
    assert_eq!(one, [10, 1, b'c', 1, 2]);
}

#[test]
fn many_records_survive_reopen_with_both_policies() {
    for policy in [SyncPolicy::OsBuffer, SyncPolicy::Fsync] {
        let dir = TempDir::new().unwrap();
        let expected: Vec<Record> = (1..=5000).map(|i| msg(i, (i % 300) as usize)).collect();
        {
            let (mut j, _) = FileJournal::open(dir.path(), policy).unwrap();
            for batch in expected.chunks(64) {
                for r in batch {
                    j.append(r).unwrap();
                }
                j.commit().unwrap();
            }
        }
        let (_, recs) = FileJournal::open(dir.path(), policy).unwrap();
        assert_eq!(recs.len(), expected.len());
        assert_eq!(recs, expected, "policy {policy:?}");
    }
}

#[test]
fn large_batches_flush_early_and_commit_is_cheap_when_idle() {
    let dir = TempDir::new().unwrap();
    let (mut j, _) = open(dir.path());
    let big: Vec<Record> = (1..=40).map(|i| msg(i, 100_000)).collect();
    for r in &big {
        j.append(r).unwrap();
    }
    // More than FLUSH_AT was appended, so some of it is already written.
    assert!(file_len(dir.path()) > HEADER_LEN + FLUSH_AT as u64);
    j.commit().unwrap();
    let after_commit = file_len(dir.path());
    assert_eq!(after_commit, j.len);
    assert_eq!(j.bytes_since_rewrite(), after_commit - HEADER_LEN);
    j.commit().unwrap();
    assert_eq!(file_len(dir.path()), after_commit);
    assert!(j.buf.capacity() <= 4 * FLUSH_AT);
    drop(j);
    assert_eq!(open(dir.path()).1, big);
}

#[test]
fn committed_bytes_reach_the_file_before_drop() {
    let dir = TempDir::new().unwrap();
    let (mut j, _) = open(dir.path());
    j.append(&msg(1, 10)).unwrap();
    assert_eq!(file_len(dir.path()), HEADER_LEN, "append alone must not write");
    j.commit().unwrap();
    assert!(file_len(dir.path()) > HEADER_LEN, "commit must write");
}

#[test]
fn torn_tail_at_every_offset_recovers_previous_records() {
    let src = TempDir::new().unwrap();
    let before: Vec<Record> = (1..=20).map(|i| msg(i, 8)).collect();
    write_all(src.path(), &before);
    let good_len = file_len(src.path());
    let last = msg(21, 40);
    write_all(src.path(), std::slice::from_ref(&last));
    let full = fs::read(journal_path(src.path())).unwrap();
    assert!(full.len() as u64 > good_len + 40);

    let extra = msg(99, 3);
    for cut in good_len as usize..full.len() {
        let dir = TempDir::new().unwrap();
        fs::write(journal_path(dir.path()), &full[..cut]).unwrap();
        let (mut j, recs) = open(dir.path());
        assert_eq!(recs, before, "cut at {cut}");
        assert_eq!(file_len(dir.path()), good_len, "cut at {cut}");
        j.append(&extra).unwrap();
        j.commit().unwrap();
        drop(j);
        let (_, recs) = open(dir.path());
        assert_eq!(recs.len(), before.len() + 1, "cut at {cut}");
        assert_eq!(recs[..before.len()], before[..]);
        assert_eq!(recs[before.len()], extra);
        assert!(corrupt_copies(dir.path()).is_empty(), "a torn tail is not corruption (cut at {cut})");
    }
    // The full file recovers everything.
    let (_, recs) = open(src.path());
    assert_eq!(recs.len(), before.len() + 1);
}

#[test]
fn torn_header_reinitializes_the_journal() {
    let header = frame::header();
    for cut in 0..header.len() {
        let dir = TempDir::new().unwrap();
        fs::write(journal_path(dir.path()), &header[..cut]).unwrap();
        let (mut j, recs) = open(dir.path());
        assert!(recs.is_empty());
        j.append(&msg(1, 1)).unwrap();
        j.commit().unwrap();
        drop(j);
        assert_eq!(open(dir.path()).1, vec![msg(1, 1)], "cut at {cut}");
    }
}

#[test]
fn flipped_byte_mid_file_loses_only_that_frame() {
    let src = TempDir::new().unwrap();
    let (r0, r1, r2) = (msg(1, 5), msg(2, 5), msg(3, 5));
    write_all(src.path(), std::slice::from_ref(&r0));
    let start = file_len(src.path()) as usize;
    write_all(src.path(), std::slice::from_ref(&r1));
    let end = file_len(src.path()) as usize;
    write_all(src.path(), std::slice::from_ref(&r2));
    let full = fs::read(journal_path(src.path())).unwrap();

    for pos in start..end {
        let dir = TempDir::new().unwrap();
        let mut bad = full.clone();
        bad[pos] ^= 0x5a;
        fs::write(journal_path(dir.path()), &bad).unwrap();
        let (mut j, recs) = open(dir.path());
        assert_eq!(recs, vec![r0.clone(), r2.clone()], "flip at {pos}");
        let damage = j.recovery_damage().to_vec();
        assert_eq!(damage.len(), 1, "flip at {pos}: {damage:?}");
        assert_eq!((damage[0].start, damage[0].end, damage[0].torn), (start as u64, end as u64, false));
        assert_eq!(damage[0].lost, vec![lost("orders", 2, 2)], "flip at {pos}");
        let saved = corrupt_copies(dir.path());
        assert_eq!(saved.len(), 1, "flip at {pos}");
        assert_eq!(fs::read(&saved[0]).unwrap(), bad, "the damaged file is saved as it was");
        j.append(&msg(4, 5)).unwrap();
        j.commit().unwrap();
        drop(j);
        let (j, recs) = open(dir.path());
        assert_eq!(recs, vec![r0.clone(), r2.clone(), msg(4, 5)]);
        assert!(j.recovery_damage().is_empty(), "recovery rewrote a clean journal");
        assert_eq!(corrupt_copies(dir.path()).len(), 1);
    }
}

#[test]
fn checksum_mismatch_mid_file_saves_the_file_and_keeps_the_rest() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[msg(1, 5)]);
    let start = file_len(dir.path()) as usize;
    write_all(dir.path(), &[msg(2, 5), msg(3, 5)]);
    let mut bad = fs::read(journal_path(dir.path())).unwrap();
    bad[start + frame::FRAME_HEADER_LEN + 2] ^= 1;
    fs::write(journal_path(dir.path()), &bad).unwrap();
    let (_, recs) = open(dir.path());
    assert_eq!(recs, vec![msg(1, 5), msg(3, 5)]);
    let saved = corrupt_copies(dir.path());
    assert_eq!(saved.len(), 1);
    assert_eq!(fs::read(&saved[0]).unwrap(), bad);
}

fn lost(channel: &str, first: u64, last: u64) -> frame::LostMsgs {
    frame::LostMsgs { channel: channel.into(), first, last }
}

/// The `journal.dat.corrupt-*` copies in `dir`.
fn corrupt_copies(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("journal.dat.corrupt-"))
        .collect();
    v.sort();
    v
}

/// A journal of `n` messages over two interleaved channels, built in memory.
/// Returns the file bytes, the records and each frame's byte range.
fn two_channel_journal(n: u64) -> (Vec<u8>, Vec<Record>, Vec<(usize, usize)>) {
    let mut bytes = frame::header().to_vec();
    let (mut recs, mut ranges) = (Vec::new(), Vec::new());
    let mut seqs = [0u64; 2];
    for i in 0..n {
        let c = usize::from(i % 3 == 0);
        seqs[c] += 1;
        let rec = Record::Msg {
            channel: ["orders", "audit"][c].into(),
            sequence: seqs[c],
            timestamp: 1_700_000_000_000_000_000 + i as i64,
            reply: String::new(),
            data: Bytes::from(vec![(i % 251) as u8; 1 + (i as usize * 7) % 90]),
        };
        let start = bytes.len();
        frame::push_frame(&mut bytes, |o| codec::encode_record(&rec, o)).unwrap();
        ranges.push((start, bytes.len()));
        recs.push(rec);
    }
    (bytes, recs, ranges)
}

/// Opens `bad` (a damaged copy of `full`, whose frames are `ranges`) and
/// checks that exactly the frames `hit` are lost, that the loss is reported
/// (byte range; channel sequences where a later frame of the channel tells)
/// and saved aside, and that the recovered journal reopens clean.
fn check_recovery(bad: &[u8], recs: &[Record], ranges: &[(usize, usize)], hit: &[usize], what: &str) {
    let dir = TempDir::new().unwrap();
    fs::write(journal_path(dir.path()), bad).unwrap();
    let (j, got) = open(dir.path());
    let expected: Vec<Record> =
        recs.iter().enumerate().filter(|(i, _)| !hit.contains(i)).map(|(_, r)| r.clone()).collect();
    assert_eq!(got.len(), expected.len(), "{what}");
    assert_eq!(got, expected, "{what}");
    let damage = j.recovery_damage().to_vec();
    let last = ranges.len() - 1;
    if hit.contains(&last) {
        // Damage in the last frame may look like a torn write.
        assert_eq!(damage.len(), 1, "{what}: {damage:?}");
        drop(j);
        assert_eq!(open(dir.path()).1, expected, "{what}");
        return;
    }
    let (first_hit, last_hit) = (*hit.iter().min().unwrap(), *hit.iter().max().unwrap());
    assert_eq!(damage.len(), 1, "{what}: {damage:?}");
    let d = &damage[0];
    assert!(!d.torn, "{what}");
    assert_eq!(d.start, ranges[first_hit].0 as u64, "{what}");
    assert_eq!(d.end, ranges[last_hit].1 as u64, "{what}");
    // Every lost message between valid ones of its channel is reported.
    let mut want: Vec<(String, u64)> = Vec::new();
    for &i in hit {
        let Record::Msg { channel, sequence, .. } = &recs[i] else { unreachable!() };
        // (These journals have no ChannelCreated records: the first message
        // of a channel is only reported lost if the channel had one before.)
        let later = recs[..i].iter().any(|r| matches!(r, Record::Msg { channel: c, .. } if c == channel))
            && recs[i + 1..].iter().any(|r| matches!(r, Record::Msg { channel: c, .. } if c == channel));
        if later {
            want.push((channel.clone(), *sequence));
        }
    }
    let mut reported: Vec<(String, u64)> =
        d.lost.iter().flat_map(|l| (l.first..=l.last).map(|s| (l.channel.clone(), s))).collect();
    want.sort();
    reported.sort();
    assert_eq!(reported, want, "{what}");
    let saved = corrupt_copies(dir.path());
    assert_eq!(saved.len(), 1, "{what}");
    assert_eq!(fs::read(&saved[0]).unwrap(), bad, "{what}");
    drop(j);
    let (j, again) = open(dir.path());
    assert_eq!(again, expected, "{what}");
    assert!(j.recovery_damage().is_empty(), "{what}");
}

fn frame_at(ranges: &[(usize, usize)], pos: usize) -> usize {
    ranges.iter().position(|&(s, e)| s <= pos && pos < e).unwrap()
}

#[test]
fn corrupted_length_field_mid_file_loses_only_that_frame() {
    let (full, recs, ranges) = two_channel_journal(200);
    for k in [1, 50, 100, 101, 150, 198] {
        let len_at = ranges[k].0 + 4;
        let len = u32::from_le_bytes(full[len_at..len_at + 4].try_into().unwrap());
        for new_len in [0, 1, len - 1, len + 1, len + 5000, 1 << 20, u32::MAX] {
            let mut bad = full.clone();
            bad[len_at..len_at + 4].copy_from_slice(&new_len.to_le_bytes());
            check_recovery(&bad, &recs, &ranges, &[k], &format!("frame {k} length {len} -> {new_len}"));
        }
    }
}

#[test]
fn flipped_byte_every_97th_offset_loses_only_the_frame_hit() {
    let (full, recs, ranges) = two_channel_journal(300);
    let mut checked = 0;
    for pos in (97..full.len()).step_by(97) {
        for mask in [0x01, 0xff] {
            let mut bad = full.clone();
            bad[pos] ^= mask;
            let k = frame_at(&ranges, pos);
            check_recovery(&bad, &recs, &ranges, &[k], &format!("flip {mask:#x} at {pos} (frame {k})"));
            checked += 1;
        }
    }
    assert!(checked > 200, "checked {checked}");
}

#[test]
fn zeroed_page_mid_file_loses_only_the_frames_it_covers() {
    let (full, recs, ranges) = two_channel_journal(400);
    assert!(full.len() > 5 * 4096);
    for page in [4096, 8192 + 100, full.len() / 2] {
        let mut bad = full.clone();
        bad[page..page + 4096].fill(0);
        let hit: Vec<usize> = (0..ranges.len()).filter(|&i| ranges[i].0 < page + 4096 && ranges[i].1 > page).collect();
        assert!(hit.len() > 50, "{}", hit.len());
        check_recovery(&bad, &recs, &ranges, &hit, &format!("zeroed page at {page}"));
    }
}

#[test]
fn zeroed_tail_is_a_torn_write() {
    let (mut full, recs, _) = two_channel_journal(20);
    full.resize(full.len() + 4096, 0);
    let dir = TempDir::new().unwrap();
    fs::write(journal_path(dir.path()), &full).unwrap();
    let (j, got) = open(dir.path());
    assert_eq!(got, recs);
    assert!(j.recovery_damage()[0].torn);
    assert!(corrupt_copies(dir.path()).is_empty());
}

#[test]
fn version_1_journal_is_read_and_migrated() {
    let all = every_variant();
    let mut bytes = frame::header_of(frame::VERSION_V1).to_vec();
    for r in &all {
        let mut p = Vec::new();
        codec::encode_record(r, &mut p);
        frame::push_frame_v1(&mut bytes, &p);
    }
    let dir = TempDir::new().unwrap();
    fs::write(journal_path(dir.path()), &bytes).unwrap();
    let (mut j, recs) = open(dir.path());
    assert_eq!(recs, all);
    j.append(&msg(1, 3)).unwrap();
    j.commit().unwrap();
    drop(j);
    let migrated = fs::read(journal_path(dir.path())).unwrap();
    assert_eq!(migrated[..HEADER_LEN as usize], frame::header());
    let (_, recs) = open(dir.path());
    assert_eq!(recs[..all.len()], all[..]);
    assert_eq!(recs[all.len()], msg(1, 3));
    assert!(corrupt_copies(dir.path()).is_empty());
}

#[test]
fn rewrite_then_append_then_reopen() {
    let dir = TempDir::new().unwrap();
    let (mut j, _) = open(dir.path());
    for i in 1..=100 {
        j.append(&msg(i, 20)).unwrap();
    }
    j.commit().unwrap();
    let before = j.bytes_since_rewrite();
    assert!(before > 100 * 20);
    // Pending, uncommitted records are superseded by the snapshot.
    j.append(&msg(1000, 1)).unwrap();

    let snapshot = every_variant();
    j.rewrite(&snapshot).unwrap();
    assert_eq!(j.bytes_since_rewrite(), 0);
    assert!(!dir.path().join(TMP_FILE).exists());
    let appended = vec![msg(101, 3), msg(102, 4)];
    for r in &appended {
        j.append(r).unwrap();
    }
    j.commit().unwrap();
    let since = j.bytes_since_rewrite();
    assert!(since > 0);
    drop(j);

    let (j, recs) = open(dir.path());
    let expected: Vec<Record> = snapshot.iter().chain(&appended).cloned().collect();
    assert_eq!(recs, expected);
    assert_eq!(j.bytes_since_rewrite(), since, "survives reopen");
}

#[test]
fn rewrite_with_a_large_snapshot_and_empty_snapshot() {
    let dir = TempDir::new().unwrap();
    let (mut j, _) = open(dir.path());
    let big: Vec<Record> = (1..=3000).map(|i| msg(i, 1000)).collect();
    j.rewrite(&big).unwrap();
    drop(j);
    let (mut j, recs) = open(dir.path());
    assert_eq!(recs, big);
    assert_eq!(j.bytes_since_rewrite(), 0);
    j.rewrite(&[]).unwrap();
    drop(j);
    let (_, recs) = open(dir.path());
    assert!(recs.is_empty());
    assert_eq!(file_len(dir.path()), HEADER_LEN + 13, "header + marker frame");
}

#[test]
fn stale_rewrite_temp_file_is_removed_on_open() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[msg(1, 1)]);
    fs::write(dir.path().join(TMP_FILE), b"half a snapshot").unwrap();
    let (_, recs) = open(dir.path());
    assert_eq!(recs, vec![msg(1, 1)]);
    assert!(!dir.path().join(TMP_FILE).exists());
}

#[test]
fn second_open_of_the_same_dir_fails_while_first_is_alive() {
    let dir = TempDir::new().unwrap();
    let (first, _) = open(dir.path());
    let err = FileJournal::open(dir.path(), SyncPolicy::Fsync).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
    assert!(err.to_string().contains("in use by another stan-server"), "{err}");
    drop(first);
    FileJournal::open(dir.path(), SyncPolicy::Fsync).expect("lock released on drop");
}

#[test]
fn foreign_files_are_rejected_untouched() {
    let dir = TempDir::new().unwrap();
    let content = b"this is not a journal at all".to_vec();
    fs::write(journal_path(dir.path()), &content).unwrap();
    let err = FileJournal::open(dir.path(), SyncPolicy::OsBuffer).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(fs::read(journal_path(dir.path())).unwrap(), content);

    let mut future = frame::header().to_vec();
    future[8] = 3;
    fs::write(journal_path(dir.path()), &future).unwrap();
    let err = FileJournal::open(dir.path(), SyncPolicy::OsBuffer).unwrap_err();
    assert!(err.to_string().contains("version 3"), "{err}");
}

/// Opens `bytes` as a journal; if that succeeds, checks that recovery is a
/// fixed point and that the journal still works.
fn open_arbitrary(dir: &Path, bytes: &[u8]) -> Option<usize> {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != lock::LOCK_FILE {
            fs::remove_file(path).unwrap();
        }
    }
    fs::write(journal_path(dir), bytes).unwrap();
    let (mut j, recs) = match open_retrying(dir) {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
            return None;
        }
    };
    // A recovery rewrite keeps only valid frames, plus a snapshot-end marker.
    assert!(j.len <= bytes.len().max(HEADER_LEN as usize) as u64 + 13);
    j.append(&msg(7, 2)).unwrap();
    j.commit().unwrap();
    drop(j);
    let (_, again) = open(dir);
    assert_eq!(again.len(), recs.len() + 1);
    assert_eq!(again[..recs.len()], recs[..]);
    Some(recs.len())
}

fn random_frame(rng: &mut StdRng, out: &mut Vec<u8>) {
    let mut valid = Vec::new();
    let all = every_variant();
    codec::encode_record(&all[rng.random_range(0..all.len())], &mut valid);
    let payload = match rng.random_range(0..4) {
        // Random bytes after a plausible tag.
        0 => {
            let mut p = vec![0u8; rng.random_range(0..40)];
            rng.fill(&mut p[..]);
            if let Some(b) = p.first_mut() {
                *b %= 13;
            }
            p
        }
        // A valid encoding with a few bytes changed.
        1 => {
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..valid.len());
                valid[i] = rng.random();
            }
            valid
        }
        // A valid encoding cut short.
        2 => {
            let keep = rng.random_range(0..valid.len());
            valid.truncate(keep);
            valid
        }
        _ => valid,
    };
    frame::push_frame(out, |o| o.extend_from_slice(&payload)).unwrap();
}

#[test]
fn arbitrary_bytes_never_panic() {
    let dir = TempDir::new().unwrap();
    let mut rng = StdRng::seed_from_u64(0x5741_4e52);
    let (mut opened, mut recovered) = (0, 0);
    for round in 0..3000 {
        let mut bytes = Vec::new();
        match round % 3 {
            0 => {}
            _ => bytes.extend_from_slice(&frame::header()),
        }
        if round % 3 == 2 {
            for _ in 0..rng.random_range(0..6) {
                random_frame(&mut rng, &mut bytes);
            }
        }
        let start = bytes.len();
        bytes.resize(start + rng.random_range(0..200), 0);
        rng.fill(&mut bytes[start..]);
        if let Some(n) = open_arbitrary(dir.path(), &bytes) {
            opened += 1;
            recovered += n;
        }
    }
    // Files with a valid header always open; framed ones yield some records.
    assert!(opened >= 2000, "opened {opened}");
    assert!(recovered > 200, "recovered {recovered}");
}

#[test]
fn arbitrary_payloads_never_panic_the_decoder() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut p = Vec::new();
        random_frame(&mut rng, &mut p);
        if let Ok(codec::Entry::Record(rec)) = codec::decode_entry(&p[frame::FRAME_HEADER_LEN..]) {
            // Whatever decodes re-encodes to the very same bytes.
            let mut again = Vec::new();
            codec::encode_record(&rec, &mut again);
            assert_eq!(again, p[frame::FRAME_HEADER_LEN..]);
            ok += 1;
        }
    }
    assert!(ok > 4000, "decoded {ok}");
}

#[test]
fn describe_policy_mentions_the_syscall() {
    assert!(describe_policy(SyncPolicy::OsBuffer).contains("write(2)"));
    assert!(describe_policy(SyncPolicy::Fsync).contains("fsync(2)"));
}

#[test]
fn loss_of_a_channel_first_message_is_reported_from_its_creation() {
    let mut bytes = frame::header().to_vec();
    let recs = vec![Record::ChannelCreated { channel: "orders".into() }, msg(1, 4), msg(2, 4), msg(3, 4)];
    let mut ranges = Vec::new();
    for r in &recs {
        let start = bytes.len();
        frame::push_frame(&mut bytes, |o| codec::encode_record(r, o)).unwrap();
        ranges.push((start, bytes.len()));
    }
    bytes[ranges[1].0 + frame::FRAME_HEADER_LEN + 1] ^= 0x10;
    let dir = TempDir::new().unwrap();
    fs::write(journal_path(dir.path()), &bytes).unwrap();
    let (j, got) = open(dir.path());
    assert_eq!(got, vec![recs[0].clone(), recs[2].clone(), recs[3].clone()]);
    let damage = j.recovery_damage();
    assert_eq!(damage.len(), 1);
    assert_eq!((damage[0].start, damage[0].end), (ranges[1].0 as u64, ranges[1].1 as u64));
    assert_eq!(damage[0].skipped(), (ranges[1].1 - ranges[1].0) as u64);
    assert_eq!(damage[0].lost, vec![lost("orders", 1, 1)]);
}

#[test]
fn lazy_bodies_are_read_from_disk_and_survive_rewrites() {
    let dir = TempDir::new().unwrap();
    let body = |i: u64| Bytes::from(vec![i as u8; 1000 + i as usize]);
    let rec = |i: u64| Record::Msg {
        channel: "c".into(),
        sequence: i,
        timestamp: i as i64,
        reply: String::new(),
        data: body(i),
    };
    {
        let (mut j, _) = FileJournal::open_with(dir.path(), SyncPolicy::OsBuffer, true).unwrap();
        let b = j.bodies().unwrap();
        for i in 1..=50 {
            j.append(&rec(i)).unwrap();
        }
        // Appended but not written: served from memory.
        assert_eq!(b.get("c", 7).unwrap(), Some(body(7)));
        j.commit().unwrap();
        assert_eq!(b.indexed(), 50);
    }
    let (mut j, recs) = FileJournal::open_with(dir.path(), SyncPolicy::OsBuffer, true).unwrap();
    let b = j.bodies().unwrap();
    assert_eq!(recs.len(), 50);
    assert!(recs.iter().all(|r| matches!(r, Record::Msg { data, .. } if data.is_empty())), "bodies were loaded");
    for i in 1..=50 {
        assert_eq!(b.get("c", i).unwrap(), Some(body(i)), "message {i}");
        assert_eq!(crate::store::BodySource::data_len(&b, "c", i), Some(1000 + i as u32));
    }
    assert_eq!(b.get("c", 51).unwrap(), None);
    // A compaction keeping 20..=50 (bodies left empty: taken from the store).
    let snapshot: Vec<Record> = recs.into_iter().skip(19).collect();
    j.rewrite(&snapshot).unwrap();
    assert_eq!(b.indexed(), 31);
    assert_eq!(b.get("c", 3).unwrap(), None);
    drop(j);
    let (_j, recs) = open(dir.path());
    assert_eq!(recs, (20..=50).map(rec).collect::<Vec<_>>());
}

#[test]
fn a_deleted_channel_created_again_serves_its_new_bodies() {
    let dir = TempDir::new().unwrap();
    let rec = |seq: u64, text: &str| Record::Msg {
        channel: "c".into(),
        sequence: seq,
        timestamp: seq as i64,
        reply: String::new(),
        data: Bytes::from(text.to_string()),
    };
    let created = Record::ChannelCreated { channel: "c".into() };
    let deleted = Record::ChannelDeleted { channel: "c".into() };
    {
        let (mut j, _) = FileJournal::open_with(dir.path(), SyncPolicy::OsBuffer, true).unwrap();
        let b = j.bodies().unwrap();
        for r in [created.clone(), rec(1, "old-1"), rec(2, "old-2")] {
            j.append(&r).unwrap();
        }
        j.commit().unwrap();
        // Read once, so the old body is cached.
        assert_eq!(b.get("c", 1).unwrap(), Some(Bytes::from("old-1")));
        j.append(&deleted).unwrap();
        assert_eq!((b.get("c", 1).unwrap(), b.get("c", 2).unwrap()), (None, None));
        j.append(&created).unwrap();
        j.append(&rec(1, "new-1")).unwrap();
        j.commit().unwrap();
        assert_eq!(b.get("c", 1).unwrap(), Some(Bytes::from("new-1")));
        assert_eq!(b.get("c", 2).unwrap(), None);
    }
    let (_j, recs) = FileJournal::open_with(dir.path(), SyncPolicy::OsBuffer, true).unwrap();
    let b = _j.bodies().unwrap();
    assert_eq!(recs.iter().filter(|r| **r == deleted).count(), 1, "{recs:?}");
    assert_eq!(b.get("c", 1).unwrap(), Some(Bytes::from("new-1")));
    assert_eq!(b.get("c", 2).unwrap(), None, "the deleted channel's message is still indexed");
}
