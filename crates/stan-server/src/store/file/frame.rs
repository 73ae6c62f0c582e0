//! Framing of journal entries and the recovery scan of a journal file.
//!
//! Format version 2 (written): a frame is `magic: 4 bytes`, `len: u32 LE`,
//! `crc: u32 LE` (CRC-32 of the `len` bytes followed by the payload), then
//! `len` payload bytes. The magic lets a scan find the next frame again after
//! a damaged one. Format version 1 (read only, migrated on open) has no magic
//! and a CRC of the payload alone, so its scan stops at the first bad frame.
//!
//! The scan reads frames to the end of the file. On a bad frame (wrong magic,
//! checksum mismatch, undecodable payload, or a length overrunning the file)
//! a version-2 scan resynchronizes: it looks for the next offset holding the
//! magic, a length that fits the file, a matching checksum and a decodable
//! payload, and carries on from there. Each skipped byte range is reported as
//! a [`Damage`] region.

use super::bodies::{Index, Loc};
use super::codec::{self, Entry};
use crate::store::Record;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Magic bytes at the start of every journal file.
pub(super) const MAGIC: [u8; 8] = *b"STANRSJ\0";
/// Version of the format written by this code.
pub(super) const VERSION: u32 = 2;
/// Oldest version this code still reads (and migrates on open).
pub(super) const VERSION_V1: u32 = 1;
/// Length of the file header: magic then version (u32 LE).
pub(super) const HEADER_LEN: u64 = 12;
/// Sync marker at the start of every version-2 frame.
pub(super) const FRAME_MAGIC: [u8; 4] = [0xF3, 0x5A, 0x4E, 0xC7];
/// Length of a version-2 frame header: magic, payload length, checksum.
pub(super) const FRAME_HEADER_LEN: usize = 12;
/// Length of a version-1 frame header: payload length, checksum.
const FRAME_HEADER_LEN_V1: usize = 8;
/// Bytes read at a time while searching for the next frame magic.
const RESYNC_CHUNK: usize = 1 << 20;

/// The file header of `version`.
pub(super) fn header_of(version: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&version.to_le_bytes());
    h
}

/// The file header of the current format.
pub(super) fn header() -> [u8; HEADER_LEN as usize] {
    header_of(VERSION)
}

/// The checksum of a version-2 frame: CRC-32 of its length field then payload.
fn frame_crc(len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends one frame to `out`, its payload written by `encode`. Returns the
/// frame's length, or an error (leaving `out` unchanged) if the payload does
/// not fit a u32 length.
pub(super) fn push_frame(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) -> io::Result<u64> {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    encode(out);
    let payload = &out[start + FRAME_HEADER_LEN..];
    let Ok(len) = u32::try_from(payload.len()) else {
        out.truncate(start);
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "journal record larger than 4 GiB"));
    };
    let crc = frame_crc(len, payload);
    out[start..start + 4].copy_from_slice(&FRAME_MAGIC);
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    Ok((out.len() - start) as u64)
}

/// Appends one version-1 frame (no magic, CRC of the payload) to `out`.
#[cfg(test)]
pub(super) fn push_frame_v1(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Messages known to be lost: sequences `first..=last` of `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LostMsgs {
    pub channel: String,
    pub first: u64,
    pub last: u64,
}

/// A damaged byte range of the journal, skipped by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Damage {
    /// File offset of the first skipped byte.
    pub start: u64,
    /// File offset just after the last skipped byte.
    pub end: u64,
    /// Why the frame at `start` was rejected.
    pub reason: String,
    /// True for an incomplete write at the end of the file (a crash during
    /// an append): only uncommitted data is lost.
    pub torn: bool,
    /// Messages whose loss is determinable from the sequence gap between the
    /// valid frames of the same channel around this range.
    pub lost: Vec<LostMsgs>,
}

impl Damage {
    /// Number of skipped bytes.
    pub fn skipped(&self) -> u64 {
        self.end - self.start
    }
}

/// The outcome of scanning a journal file.
#[derive(Debug)]
pub(super) struct Scan {
    /// Every valid record, in order.
    pub records: Vec<Record>,
    /// File offset just after the last valid frame.
    pub valid_len: u64,
    /// File offset just after the last snapshot-end marker (or the header).
    pub snapshot_end: u64,
    /// The skipped byte ranges, in file order; at most the last one is torn.
    pub damage: Vec<Damage>,
}

impl Scan {
    /// True if some damage other than a torn tail was found.
    pub fn corrupt(&self) -> bool {
        self.damage.iter().any(|d| !d.torn)
    }
}

/// Reads and checks the version-2 frame of `frame_len` bytes at `off`.
pub(super) fn read_frame_at(file: &File, off: u64, frame_len: u32) -> io::Result<Entry> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("journal frame at offset {off}: {why}"));
    let mut buf = vec![0u8; frame_len as usize];
    if buf.len() < FRAME_HEADER_LEN {
        return Err(bad("too short"));
    }
    file.read_exact_at(&mut buf, off)?;
    let len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let crc = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let payload = &buf[FRAME_HEADER_LEN..];
    if buf[..4] != FRAME_MAGIC || len as usize != payload.len() || frame_crc(len, payload) != crc {
        return Err(bad("bad frame (marker, length or checksum)"));
    }
    codec::decode_entry(payload).map_err(|e| bad(&format!("undecodable record: {e}")))
}

/// What reading one frame at a position gave.
enum Read1 {
    Good {
        entry: Entry,
        end: u64,
    },
    /// Fewer bytes remain than the frame needs.
    Incomplete(&'static str),
    /// A complete frame that is wrong; `end` is where it claims to end.
    Bad {
        reason: String,
        end: u64,
    },
}

/// Scans the frames of `file` (whose length is `file_len`, format `version`),
/// starting just after the file header.
///
/// With `index`, message bodies are not kept: each message record is returned
/// with empty data and its frame location is added to `index`.
pub(super) fn scan(file: &File, file_len: u64, version: u32, mut index: Option<&mut Index>) -> io::Result<Scan> {
    let v2 = version >= 2;
    let fh_len = if v2 { FRAME_HEADER_LEN } else { FRAME_HEADER_LEN_V1 };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(HEADER_LEN))?;
    let mut out = Scan { records: Vec::new(), valid_len: HEADER_LEN, snapshot_end: HEADER_LEN, damage: Vec::new() };
    // Per channel: last valid message sequence and the number of damage
    // regions seen when it was read.
    let mut last_msg: HashMap<String, (u64, usize)> = HashMap::new();
    let mut payload = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < file_len {
        let got = read_frame(&mut reader, pos, file_len, fh_len, v2, &mut payload)?;
        let (reason, incomplete, claimed_end) = match got {
            Read1::Good { entry, end } => {
                match entry {
                    Entry::Record(mut rec) => {
                        note_msg(&rec, &mut last_msg, &mut out.damage);
                        if let (Some(ix), Record::ChannelDeleted { channel }) = (index.as_deref_mut(), &rec) {
                            ix.remove(channel);
                        }
                        if let (Some(ix), Record::Msg { channel, sequence, data, .. }) =
                            (index.as_deref_mut(), &mut rec)
                        {
                            let loc = Loc { off: pos, frame_len: (end - pos) as u32, data_len: data.len() as u32 };
                            ix.entry(channel.clone()).or_default().insert(*sequence, loc);
                            *data = bytes::Bytes::new();
                        }
                        out.records.push(rec);
                    }
                    Entry::SnapshotEnd => out.snapshot_end = end,
                }
                pos = end;
                out.valid_len = end;
                continue;
            }
            Read1::Incomplete(r) => (r.to_string(), true, file_len),
            Read1::Bad { reason, end } => (reason, false, end),
        };
        let next = if v2 { resync(file, pos + 1, file_len)? } else { None };
        let end = next.unwrap_or(file_len);
        let torn = next.is_none() && (incomplete || claimed_end == file_len || all_zero(file, pos, file_len)?);
        out.damage.push(Damage { start: pos, end, reason, torn, lost: Vec::new() });
        match next {
            Some(p) => {
                pos = p;
                reader.seek(SeekFrom::Start(p))?;
            }
            None => break,
        }
    }
    Ok(out)
}

/// Tracks the next message sequence expected on each channel (from its
/// creation, its messages and truncations) and, when a valid message comes
/// after a damaged range with a higher sequence, reports the ones in between.
fn note_msg(rec: &Record, next_seq: &mut HashMap<String, (u64, usize)>, damage: &mut [Damage]) {
    let seen = damage.len();
    match rec {
        Record::ChannelCreated { channel } => {
            next_seq.entry(channel.clone()).or_insert((1, seen));
        }
        Record::ChannelDeleted { channel } => {
            next_seq.remove(channel);
        }
        Record::MsgsTruncated { channel, first_seq } => {
            let e = next_seq.entry(channel.clone()).or_insert((*first_seq, seen));
            *e = (e.0.max(*first_seq), seen);
        }
        Record::Msg { channel, sequence, .. } => {
            if let Some(&(next, at)) = next_seq.get(channel) {
                if seen > at && *sequence > next {
                    if let Some(d) = damage.last_mut() {
                        d.lost.push(LostMsgs { channel: channel.clone(), first: next, last: sequence - 1 });
                    }
                }
            }
            next_seq.insert(channel.clone(), (sequence.saturating_add(1), seen));
        }
        _ => {}
    }
}

/// Reads the frame at `pos` (the reader is positioned there).
fn read_frame(
    reader: &mut BufReader<&File>,
    pos: u64,
    file_len: u64,
    fh_len: usize,
    v2: bool,
    payload: &mut Vec<u8>,
) -> io::Result<Read1> {
    if file_len - pos < fh_len as u64 {
        return Ok(Read1::Incomplete("incomplete frame header"));
    }
    let mut fh = [0u8; FRAME_HEADER_LEN];
    let fh = &mut fh[..fh_len];
    reader.read_exact(fh)?;
    let (magic_ok, rest) = if v2 { (fh[..4] == FRAME_MAGIC, &fh[4..]) } else { (true, &fh[..]) };
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let end = pos + fh_len as u64 + u64::from(len);
    if !magic_ok {
        return Ok(Read1::Bad { reason: "no frame marker".into(), end: end.min(file_len) });
    }
    if end > file_len {
        return Ok(Read1::Incomplete("frame overruns the end of the file"));
    }
    payload.resize(len as usize, 0);
    reader.read_exact(payload)?;
    let ok = if v2 { frame_crc(len, payload) == crc } else { crc32fast::hash(payload) == crc };
    if !ok {
        return Ok(Read1::Bad { reason: "checksum mismatch".into(), end });
    }
    match codec::decode_entry(payload) {
        Ok(entry) => Ok(Read1::Good { entry, end }),
        Err(e) => Ok(Read1::Bad { reason: format!("undecodable record: {e}"), end }),
    }
}

/// Finds the first offset at or after `from` holding a valid version-2 frame
/// (magic, a length within the file, matching checksum, decodable payload).
fn resync(file: &File, from: u64, file_len: u64) -> io::Result<Option<u64>> {
    let mut chunk = vec![0u8; RESYNC_CHUNK];
    let mut at = from;
    while at + FRAME_HEADER_LEN as u64 <= file_len {
        let n = (file_len - at).min(RESYNC_CHUNK as u64) as usize;
        file.read_exact_at(&mut chunk[..n], at)?;
        for i in 0..n.saturating_sub(3) {
            if chunk[i..i + 4] == FRAME_MAGIC && valid_frame_at(file, at + i as u64, file_len)? {
                return Ok(Some(at + i as u64));
            }
        }
        // Overlap by three bytes so a magic split across chunks is found.
        at += (n as u64).saturating_sub(3).max(1);
    }
    Ok(None)
}

/// True if a complete, valid version-2 frame starts at `pos`.
fn valid_frame_at(file: &File, pos: u64, file_len: u64) -> io::Result<bool> {
    if file_len - pos < FRAME_HEADER_LEN as u64 {
        return Ok(false);
    }
    let mut fh = [0u8; FRAME_HEADER_LEN];
    file.read_exact_at(&mut fh, pos)?;
    let len = u32::from_le_bytes([fh[4], fh[5], fh[6], fh[7]]);
    let crc = u32::from_le_bytes([fh[8], fh[9], fh[10], fh[11]]);
    if pos + FRAME_HEADER_LEN as u64 + u64::from(len) > file_len {
        return Ok(false);
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact_at(&mut payload, pos + FRAME_HEADER_LEN as u64)?;
    Ok(frame_crc(len, &payload) == crc && codec::decode_entry(&payload).is_ok())
}

/// True if every byte of `file` in `start..end` is zero (a tail the file
/// system extended but the crash left unwritten).
fn all_zero(file: &File, start: u64, end: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = start;
    while at < end {
        let n = (end - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}
