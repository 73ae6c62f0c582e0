//! Framing of journal entries and the recovery scan of a journal file.
//!
//! A frame is `len: u32 LE`, `crc32(payload): u32 LE`, then `len` payload
//! bytes. The scan reads frames until the end of the file or the first frame
//! that is incomplete, fails its checksum or does not decode; it reports where
//! the valid prefix ends and why it stopped.

use super::codec::{self, Entry};
use crate::store::Record;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Magic bytes at the start of every journal file.
pub(super) const MAGIC: [u8; 8] = *b"STANRSJ\0";
/// Version of the format written by this code.
pub(super) const VERSION: u32 = 1;
/// Length of the file header: magic then version (u32 LE).
pub(super) const HEADER_LEN: u64 = 12;
/// Length of a frame header: payload length then checksum.
pub(super) const FRAME_HEADER_LEN: usize = 8;

/// The file header of the current format.
pub(super) fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
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
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok((out.len() - start) as u64)
}

/// Why a scan stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Damage {
    /// The last frame is incomplete or fails its checksum: an interrupted
    /// write. Only uncommitted data is lost.
    TornTail { reason: &'static str },
    /// A complete frame in the middle of the file is bad: the frames after it
    /// are lost.
    Corrupt { reason: String },
}

/// The outcome of scanning a journal file.
#[derive(Debug)]
pub(super) struct Scan {
    /// Every record of the valid prefix, in order.
    pub records: Vec<Record>,
    /// File offset where the valid prefix ends.
    pub valid_len: u64,
    /// File offset just after the last snapshot-end marker (or the header).
    pub snapshot_end: u64,
    /// Set if the scan stopped before the end of the file.
    pub damage: Option<Damage>,
}

/// Scans the frames of `file` (whose length is `file_len`), starting just
/// after the file header.
pub(super) fn scan(file: &File, file_len: u64) -> io::Result<Scan> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(HEADER_LEN))?;
    let mut out = Scan { records: Vec::new(), valid_len: HEADER_LEN, snapshot_end: HEADER_LEN, damage: None };
    let mut payload = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < file_len {
        let remaining = file_len - pos;
        if remaining < FRAME_HEADER_LEN as u64 {
            out.damage = Some(Damage::TornTail { reason: "incomplete frame header" });
            break;
        }
        let mut fh = [0u8; FRAME_HEADER_LEN];
        reader.read_exact(&mut fh)?;
        let len = u32::from_le_bytes([fh[0], fh[1], fh[2], fh[3]]);
        let crc = u32::from_le_bytes([fh[4], fh[5], fh[6], fh[7]]);
        let frame_end = pos + FRAME_HEADER_LEN as u64 + u64::from(len);
        if frame_end > file_len {
            out.damage = Some(Damage::TornTail { reason: "frame overruns the end of the file" });
            break;
        }
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload)?;
        if crc32fast::hash(&payload) != crc {
            out.damage = Some(if frame_end == file_len {
                Damage::TornTail { reason: "checksum mismatch in the last frame" }
            } else {
                Damage::Corrupt { reason: "checksum mismatch".into() }
            });
            break;
        }
        match codec::decode_entry(&payload) {
            Ok(Entry::Record(rec)) => out.records.push(rec),
            Ok(Entry::SnapshotEnd) => out.snapshot_end = frame_end,
            Err(e) => {
                out.damage = Some(Damage::Corrupt { reason: format!("undecodable record: {e}") });
                break;
            }
        }
        pos = frame_end;
        out.valid_len = pos;
    }
    Ok(out)
}
