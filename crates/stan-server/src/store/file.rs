//! The file store: a [`Journal`] kept in one append-only file of a directory.
//!
//! # Directory layout
//!
//! - `LOCK`: held with an exclusive `flock(2)` while a [`FileJournal`] is
//!   open, so a second server on the same directory fails to start.
//! - `journal.dat`: the journal.
//! - `journal.dat.tmp`: a rewrite in progress (deleted on open if left over).
//! - `journal.dat.corrupt-<UTC time>`: a copy of a journal found corrupt,
//!   saved (and synced) before recovery rewrote it, kept for the operator.
//!
//! # Journal file format (version 2)
//!
//! The file starts with a 12-byte header: the magic `STANRSJ\0` and the
//! format version as a u32 little-endian. Frames follow, back to back:
//!
//! ```text
//! magic: F3 5A 4E C7 | len: u32 LE | crc: u32 LE (CRC-32 of len then payload) | payload: len bytes
//! ```
//!
//! Version 1 (no frame magic, CRC of the payload only) is still read and is
//! migrated to version 2 by a rewrite on open.
//!
//! A payload is one entry: a tag byte then the fields in declaration order
//! (tag 0 is the snapshot-end marker; tags 1..=10 are the [`Record`] variants
//! in declaration order). Unsigned integers are LEB128 varints, signed ones
//! zigzag varints, booleans one byte, strings and bytes a varint length then
//! the bytes. A rewrite writes the snapshot records followed by the
//! snapshot-end marker, which tells a later open where the snapshot ends so
//! that [`Journal::bytes_since_rewrite`] survives restarts.
//!
//! # Recovery
//!
//! [`FileJournal::open`] replays every valid frame. A bad frame (wrong magic,
//! checksum mismatch, undecodable payload, length overrunning the file) is
//! skipped by searching for the next offset that holds a valid frame (magic,
//! a length within the file, matching checksum, decodable payload), and the
//! replay resumes there. A bad range at the very end with no valid frame
//! after it that is incomplete (or all zeros) is a torn write: it only loses
//! uncommitted data, is logged as a warning and truncated. Any other bad
//! range is corruption: the whole file is first copied aside, each range is
//! logged at error level (byte range, bytes skipped, and the channel
//! sequences lost where the surrounding frames of that channel tell), and
//! the journal is rewritten with every valid record. A file that is not a
//! journal (wrong magic or version) is an error, never overwritten.
//!
//! # Durability
//!
//! [`Journal::append`] only encodes into a memory buffer (written out early
//! past 1 MiB). [`Journal::commit`] writes the buffer with `pwrite(2)` and,
//! under [`SyncPolicy::Fsync`], `fdatasync(2)`s it. After a failed write or
//! sync the journal refuses further work until a successful rewrite.

mod bodies;
pub(crate) mod codec;
mod frame;
#[cfg(test)]
mod fuzz_tests;
mod lock;
#[cfg(test)]
mod tests;

use super::{Journal, Record, SyncPolicy};
pub use bodies::FileBodies;
use frame::HEADER_LEN;
use lock::DirLock;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Name of the journal file inside the store directory.
pub const JOURNAL_FILE: &str = "journal.dat";
/// Name of the temporary file a rewrite writes before renaming it.
const TMP_FILE: &str = "journal.dat.tmp";
/// Pending bytes past which `append` writes the buffer out early.
const FLUSH_AT: usize = 1 << 20;

/// A short description of a sync policy, for logs.
pub fn describe_policy(p: SyncPolicy) -> &'static str {
    match p {
        SyncPolicy::OsBuffer => "write(2) before ack: survives a server crash, not a power loss",
        SyncPolicy::Fsync => "fsync(2) before ack: survives a power loss",
    }
}

/// A [`Journal`] stored in `journal.dat` of a locked directory.
pub struct FileJournal {
    dir: PathBuf,
    policy: SyncPolicy,
    file: File,
    /// End of the data written to `file`.
    len: u64,
    /// Encoded frames not yet written.
    buf: Vec<u8>,
    /// Written but not yet synced (only tracked under `SyncPolicy::Fsync`).
    unsynced: bool,
    since_rewrite: u64,
    /// Set after a failed write or sync: the file content is uncertain.
    failed: Option<String>,
    /// Damage found by the recovery on open.
    damage: Vec<frame::Damage>,
    /// With bodies kept out of memory: the index of message frames and the
    /// body cache, shared with the server state.
    bodies: Option<FileBodies>,
    /// Dropped last, so the lock outlives every use of the file.
    _lock: DirLock,
}

impl FileJournal {
    /// Opens (creating if needed) the store in `dir`, locks it, and returns
    /// the journal with every record recovered from it, in order.
    pub fn open(dir: &Path, policy: SyncPolicy) -> io::Result<(FileJournal, Vec<Record>)> {
        Self::open_with(dir, policy, false)
    }

    /// Like [`FileJournal::open`]; with `lazy_bodies`, the recovered message
    /// records come without their bodies (empty data), which stay on disk and
    /// are read on demand through [`FileJournal::bodies`].
    pub fn open_with(dir: &Path, policy: SyncPolicy, lazy_bodies: bool) -> io::Result<(FileJournal, Vec<Record>)> {
        fs::create_dir_all(dir)?;
        let lock = DirLock::acquire(dir)?;
        match fs::remove_file(dir.join(TMP_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let file_len = file.metadata()?.len();
        let mut journal = FileJournal {
            dir: dir.to_path_buf(),
            policy,
            file,
            len: HEADER_LEN,
            buf: Vec::with_capacity(64 * 1024),
            unsynced: false,
            since_rewrite: 0,
            failed: None,
            damage: Vec::new(),
            bodies: None,
            _lock: lock,
        };
        if lazy_bodies {
            journal.bodies = Some(FileBodies::new(journal.file.try_clone()?, bodies::Index::new()));
        }
        let Some(version) = check_header(&journal.file, file_len, &path)? else {
            journal.file.set_len(0)?;
            journal.file.write_all_at(&frame::header(), 0)?;
            journal.file.sync_all()?;
            sync_dir(dir)?;
            return Ok((journal, Vec::new()));
        };
        // Bodies of an older format stay in memory until its migration below.
        let mut index = (lazy_bodies && version == frame::VERSION).then(bodies::Index::new);
        let scan = frame::scan(&journal.file, file_len, version, index.as_mut())?;
        if let (Some(b), Some(index)) = (&journal.bodies, index) {
            b.replace(journal.file.try_clone()?, index);
        }
        let saved = if scan.corrupt() { Some(journal.save_aside(&path)?) } else { None };
        report_damage(&path, &scan, saved.as_deref());
        journal.damage = scan.damage.clone();
        if scan.corrupt() || version != frame::VERSION {
            // Keep every valid record and drop the damaged ranges (or migrate
            // an older format): write them as a fresh snapshot.
            journal.rewrite(&scan.records)?;
        } else {
            if scan.valid_len < file_len {
                journal.file.set_len(scan.valid_len)?;
                journal.file.sync_all()?;
            }
            journal.len = scan.valid_len;
            journal.since_rewrite = scan.valid_len - scan.snapshot_end;
        }
        Ok((journal, scan.records))
    }

    /// The on-demand body store (only when opened with `lazy_bodies`).
    pub fn bodies(&self) -> Option<FileBodies> {
        self.bodies.clone()
    }

    /// What [`FileJournal::open`] had to skip, one line per damaged range
    /// (torn tails included; empty for a clean journal), for the
    /// monitoring endpoint.
    pub fn recovery_report(&self) -> Vec<String> {
        self.recovery_damage().iter().map(damage_text).collect()
    }

    /// The damaged byte ranges found by [`FileJournal::open`] (empty for a
    /// clean journal).
    fn recovery_damage(&self) -> &[frame::Damage] {
        &self.damage
    }

    /// Copies the whole journal file to `journal.dat.corrupt-<UTC time>`
    /// (synced) before anything in it is changed; returns the copy's path.
    fn save_aside(&self, path: &Path) -> io::Result<PathBuf> {
        let secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let (y, mo, d) = crate::log::civil_from_days(secs.div_euclid(86_400));
        let t = secs.rem_euclid(86_400);
        let stamp = format!("{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z", t / 3600, t / 60 % 60, t % 60);
        let mut saved = self.dir.join(format!("{JOURNAL_FILE}.corrupt-{stamp}"));
        let mut n = 1;
        while saved.exists() {
            n += 1;
            saved = self.dir.join(format!("{JOURNAL_FILE}.corrupt-{stamp}-{n}"));
        }
        let mut src = File::open(path)?;
        let mut dst = OpenOptions::new().write(true).create_new(true).open(&saved)?;
        io::copy(&mut src, &mut dst)?;
        dst.sync_all()?;
        sync_dir(&self.dir)?;
        Ok(saved)
    }

    fn check_usable(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!(
                "journal unusable after an earlier I/O error ({why}); a rewrite is needed"
            ))),
        }
    }

    /// Writes the pending buffer at the end of the file.
    fn write_out(&mut self) -> io::Result<()> {
        if let Err(e) = self.file.write_all_at(&self.buf, self.len) {
            self.failed = Some(format!("write failed: {e}"));
            // Best effort: do not leave a partial frame before later ones.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += self.buf.len() as u64;
        self.buf.clear();
        if let Some(b) = &self.bodies {
            b.written();
        }
        if self.buf.capacity() > 4 * FLUSH_AT {
            self.buf = Vec::with_capacity(FLUSH_AT);
        }
        self.unsynced = self.policy == SyncPolicy::Fsync;
        Ok(())
    }

    /// Writes `snapshot` to a new synced temporary file; returns it, its
    /// length and (with lazy bodies) the index of its message frames. A
    /// message record with empty data takes its body from the body store.
    fn write_snapshot(&self, tmp: &Path, snapshot: &[Record]) -> io::Result<(File, u64, bodies::Index)> {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(tmp)?;
        let mut chunk = Vec::with_capacity(FLUSH_AT + 64 * 1024);
        chunk.extend_from_slice(&frame::header());
        let mut len = 0u64;
        let mut index = bodies::Index::new();
        for rec in snapshot {
            let start = chunk.len();
            let filled;
            let rec = match (&self.bodies, rec) {
                (Some(b), Record::Msg { channel, sequence, timestamp, reply, data }) => {
                    let data =
                        if data.is_empty() { b.get(channel, *sequence)?.unwrap_or_default() } else { data.clone() };
                    filled = Record::Msg {
                        channel: channel.clone(),
                        sequence: *sequence,
                        timestamp: *timestamp,
                        reply: reply.clone(),
                        data,
                    };
                    &filled
                }
                _ => rec,
            };
            let n = frame::push_frame(&mut chunk, |out| codec::encode_record(rec, out))?;
            if let (Some(_), Record::Msg { channel, sequence, data, .. }) = (&self.bodies, rec) {
                let loc = bodies::Loc { off: len + start as u64, frame_len: n as u32, data_len: data.len() as u32 };
                index.entry(channel.clone()).or_default().insert(*sequence, loc);
            }
            if chunk.len() >= FLUSH_AT {
                file.write_all(&chunk)?;
                len += chunk.len() as u64;
                chunk.clear();
            }
        }
        frame::push_frame(&mut chunk, codec::encode_snapshot_end)?;
        file.write_all(&chunk)?;
        len += chunk.len() as u64;
        file.sync_all()?;
        Ok((file, len, index))
    }
}

impl Journal for FileJournal {
    fn append(&mut self, rec: &Record) -> io::Result<()> {
        self.check_usable()?;
        let start = self.buf.len();
        let n = frame::push_frame(&mut self.buf, |out| codec::encode_record(rec, out))?;
        if let (Some(b), Record::Msg { channel, sequence, data, .. }) = (&self.bodies, rec) {
            let loc = bodies::Loc { off: self.len + start as u64, frame_len: n as u32, data_len: data.len() as u32 };
            b.appended(channel, *sequence, loc, data);
        }
        if let (Some(b), Record::ChannelDeleted { channel }) = (&self.bodies, rec) {
            b.forget_channel(channel);
        }
        self.since_rewrite += n;
        if self.buf.len() >= FLUSH_AT {
            self.write_out()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() && !self.unsynced {
            return self.check_usable();
        }
        self.check_usable()?;
        if !self.buf.is_empty() {
            self.write_out()?;
        }
        if self.unsynced {
            if let Err(e) = self.file.sync_data() {
                self.failed = Some(format!("sync failed: {e}"));
                return Err(e);
            }
            self.unsynced = false;
        }
        Ok(())
    }

    fn rewrite(&mut self, snapshot: &[Record]) -> io::Result<()> {
        let tmp = self.dir.join(TMP_FILE);
        let renamed = self
            .write_snapshot(&tmp, snapshot)
            .and_then(|new| fs::rename(&tmp, self.dir.join(JOURNAL_FILE)).map(|()| new));
        let (file, len, index) = match renamed {
            Ok(new) => new,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // The snapshot replaces everything appended so far, pending or not.
        if let Some(b) = &self.bodies {
            b.replace(file.try_clone()?, index);
        }
        self.file = file;
        self.len = len;
        self.buf.clear();
        self.unsynced = false;
        self.since_rewrite = 0;
        self.failed = None;
        if let Err(e) = sync_dir(&self.dir) {
            self.failed = Some(format!("directory sync after rewrite failed: {e}"));
            return Err(e);
        }
        Ok(())
    }

    fn bytes_since_rewrite(&self) -> u64 {
        self.since_rewrite
    }
    fn commit_blocks(&self) -> bool {
        self.policy == SyncPolicy::Fsync
    }
    fn commit_in_place_ok(&self) -> bool {
        true
    }
}

impl Drop for FileJournal {
    /// Writes out (without syncing) what was appended but not committed, as
    /// a `BufWriter` would; durability was only promised by `commit`.
    fn drop(&mut self) {
        if self.failed.is_none() && !self.buf.is_empty() {
            let _ = self.write_out();
        }
    }
}

impl fmt::Debug for FileJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileJournal")
            .field("dir", &self.dir)
            .field("policy", &self.policy)
            .field("len", &self.len)
            .field("pending", &self.buf.len())
            .field("since_rewrite", &self.since_rewrite)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Checks the file header. Returns the format version of a valid header,
/// `None` for a file that must be (re)initialized (empty, or a torn header
/// write), and an error for a file that is not a journal this code reads.
fn check_header(file: &File, file_len: u64, path: &Path) -> io::Result<Option<u32>> {
    let expected = frame::header();
    let n = file_len.min(HEADER_LEN) as usize;
    let mut got = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut got[..n], 0)?;
    if got[..n] == expected[..n] {
        return Ok((n == expected.len()).then_some(frame::VERSION));
    }
    if n == expected.len() && got == frame::header_of(frame::VERSION_V1) {
        return Ok(Some(frame::VERSION_V1));
    }
    if n >= frame::MAGIC.len() && got[..8] == frame::MAGIC {
        let version = u32::from_le_bytes([got[8], got[9], got[10], got[11]]);
        if n == expected.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: unsupported journal format version {version} (this server reads versions {} and {})",
                    path.display(),
                    frame::VERSION_V1,
                    frame::VERSION
                ),
            ));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: not a stan-rs journal (bad file header)", path.display()),
    ))
}

/// Logs what a recovery scan skipped: a torn tail as a warning, corruption
/// at error level with the byte range, the skipped bytes and, where the
/// surrounding frames tell, the lost channel sequences.
/// One damaged range in words: where, why, and what was lost.
fn damage_text(d: &frame::Damage) -> String {
    if d.torn {
        return format!(
            "torn write at offset {} ({}): the last {} bytes (uncommitted data) were dropped",
            d.start,
            d.reason,
            d.skipped()
        );
    }
    let lost = if d.lost.is_empty() {
        "lost records not determinable".to_string()
    } else {
        let parts: Vec<String> = d
            .lost
            .iter()
            .map(|l| {
                if l.first == l.last {
                    format!("channel {:?} sequence {}", l.channel, l.first)
                } else {
                    format!("channel {:?} sequences {}..={}", l.channel, l.first, l.last)
                }
            })
            .collect();
        format!("lost messages: {}", parts.join(", "))
    };
    format!("corrupt bytes {}..{} ({} bytes skipped, {}); {}", d.start, d.end, d.skipped(), d.reason, lost)
}

fn report_damage(path: &Path, scan: &frame::Scan, saved: Option<&Path>) {
    for d in &scan.damage {
        if d.torn {
            crate::log::warn(format_args!("Journal {}: {}", path.display(), damage_text(d)));
            continue;
        }
        crate::log::error(format_args!(
            "Journal {} is corrupt: {}{}",
            path.display(),
            damage_text(d),
            if d.end < scan.valid_len { "; recovery resumed at the next valid frame" } else { "" }
        ));
    }
    if let Some(saved) = saved {
        crate::log::error(format_args!(
            "Journal {}: the damaged file was saved to {} before recovery rewrote the journal",
            path.display(),
            saved.display()
        ));
    }
}

/// Makes a directory's entries (a created or renamed file) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
