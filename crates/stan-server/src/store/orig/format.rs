//! The on-disk framing and record types of nats-streaming-server's file
//! store (0.25.x), as documented by its `stores/filestore.go` and
//! `spb/protocol.proto`: our own reader of those facts.
//!
//! Every file starts with the file version as a u32 little-endian (only
//! version 1 exists). Records follow, each with an 8-byte header: a u32 LE
//! that is the payload size (untyped files: `server.dat`, `msgs.N.dat`) or
//! the record type in the high byte and the size in the low 24 bits (typed
//! files: `clients.dat`, `subs.dat`), then the CRC-32 (IEEE) of the payload
//! as a u32 LE. A header of eight zero bytes marks the end of the data (the
//! original pads preallocated space with zeros and truncates there).

use std::path::Path;

/// The only file version the original writes.
pub const FILE_VERSION: u32 = 1;
/// Size of a record header: size (and type) + CRC-32.
pub const HEADER_LEN: usize = 8;

/// Record types of `clients.dat`.
pub const ADD_CLIENT: u8 = 1;
pub const DEL_CLIENT: u8 = 2;

/// Record types of a channel's `subs.dat`.
pub const SUB_NEW: u8 = 1;
pub const SUB_UPDATE: u8 = 2;
pub const SUB_DEL: u8 = 3;
pub const SUB_ACK: u8 = 4;
pub const SUB_MSG: u8 = 5;

pub use crate::store::spb::{ClientDelete, ClientInfo, ServerInfo, SubState, SubStateDelete, SubStateUpdate};

/// One record read from a file.
#[derive(Debug, PartialEq)]
pub struct RawRecord<'a> {
    /// 0 in untyped files.
    pub rec_type: u8,
    pub payload: &'a [u8],
    /// Offset of the record header in the file.
    pub offset: usize,
}

/// Reads the records of one file held in memory.
pub struct RecordReader<'a> {
    path: String,
    buf: &'a [u8],
    pos: usize,
    typed: bool,
    truncate_bad_eof: bool,
    /// Set when a torn last record was dropped (with `truncate_bad_eof`).
    pub dropped_tail: Option<String>,
}

impl<'a> RecordReader<'a> {
    /// Checks the file version of `buf` (the whole content of `path`). An
    /// empty file has no records.
    pub fn new(path: &Path, buf: &'a [u8], typed: bool, truncate_bad_eof: bool) -> Result<Self, String> {
        let path = path.display().to_string();
        let mut r = RecordReader { path, buf, pos: 0, typed, truncate_bad_eof, dropped_tail: None };
        if buf.is_empty() {
            return Ok(r);
        }
        if buf.len() < 4 {
            return Err(format!("{}: unable to verify file version: unexpected EOF", r.path));
        }
        let v = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
        if v == 0 || v > FILE_VERSION {
            return Err(format!("{}: unsupported file version: {v} (supports [1..{FILE_VERSION}])", r.path));
        }
        r.pos = 4;
        Ok(r)
    }

    /// The next record; `None` at the end of the data.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'a>>, String> {
        let off = self.pos;
        let rest = &self.buf[off..];
        if rest.is_empty() {
            return Ok(None);
        }
        if rest.len() < HEADER_LEN {
            return self.torn(off, "record header", HEADER_LEN, rest.len());
        }
        let first = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let (rec_type, size) =
            if self.typed { ((first >> 24) as u8, (first & 0xFF_FFFF) as usize) } else { (0, first as usize) };
        if size == 0 && rec_type == 0 && crc == 0 {
            // Zero padding: the end of the data.
            self.pos = self.buf.len();
            return Ok(None);
        }
        let avail = rest.len() - HEADER_LEN;
        if avail < size {
            return self.torn(off, "record payload", size, avail);
        }
        let payload = &rest[HEADER_LEN..HEADER_LEN + size];
        let actual = crc32fast::hash(payload);
        if actual != crc {
            return Err(format!(
                "{}: corrupted record at offset {off}: expected crc to be 0x{crc:08x}, got 0x{actual:08x}",
                self.path
            ));
        }
        self.pos = off + HEADER_LEN + size;
        Ok(Some(RawRecord { rec_type, payload, offset: off }))
    }

    /// Offset just past the last record read.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn torn(&mut self, off: usize, part: &str, expected: usize, read: usize) -> Result<Option<RawRecord<'a>>, String> {
        let what = format!(
            "{}: unexpected end of file at offset {off}: {part} expected to be {expected} bytes, only read {read}",
            self.path
        );
        if self.truncate_bad_eof {
            self.dropped_tail = Some(what);
            self.pos = self.buf.len();
            return Ok(None);
        }
        Err(format!("{what} (a torn last record: pass --file_truncate_bad_eof to drop it, as the original would)"))
    }
}

/// Appends one record with the original's framing (used by tests to build
/// files, and to document the format by example).
#[cfg(test)]
pub fn push_record(out: &mut Vec<u8>, rec_type: u8, payload: &[u8]) {
    let first = if rec_type == 0 { payload.len() as u32 } else { (rec_type as u32) << 24 | payload.len() as u32 };
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}
