//! Reading a whole nats-streaming-server file store directory into memory:
//! server info, clients, and per channel its messages and subscriptions
//! (with their pending acks), the way the original recovers them.

use super::format::{self as f, RecordReader};
use prost::Message;
use stan_proto::MsgProto;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What the original would recover from its directory.
#[derive(Debug, Default)]
pub struct OrigStore {
    pub info: f::ServerInfo,
    /// Registered clients, by client ID.
    pub clients: BTreeMap<String, f::ClientInfo>,
    /// Channels, by name.
    pub channels: BTreeMap<String, OrigChannel>,
    /// Problems that did not stop the read (a dropped torn tail, out-of-order records).
    pub warnings: Vec<String>,
}

/// One channel directory.
#[derive(Debug, Default)]
pub struct OrigChannel {
    /// Messages in sequence order.
    pub msgs: Vec<MsgProto>,
    /// Subscriptions by the original's (per-channel) subscription ID.
    pub subs: BTreeMap<u64, OrigSub>,
}

/// One subscription and the sequences sent to it and not yet acknowledged.
#[derive(Debug)]
pub struct OrigSub {
    pub state: f::SubState,
    pub pending: BTreeSet<u64>,
}

/// Options of the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Drop a torn last record (incomplete header or payload at the end of a
    /// file) with a warning instead of failing, like the original's
    /// `--file_truncate_bad_eof` (without changing the files).
    pub truncate_bad_eof: bool,
}

/// Name of the original's server file.
pub const SERVER_FILE: &str = "server.dat";
const CLIENTS_FILE: &str = "clients.dat";
const SUBS_FILE: &str = "subs.dat";

/// Whether `dir` holds a nats-streaming-server file store (a `server.dat`).
pub fn looks_like_original(dir: &Path) -> bool {
    dir.join(SERVER_FILE).is_file()
}

/// Reads the store in `dir`. Never changes a file.
pub fn read_store(dir: &Path, opts: ReadOptions) -> Result<OrigStore, String> {
    let mut store = OrigStore::default();
    let server = dir.join(SERVER_FILE);
    let channel_dirs = channel_dirs(dir)?;
    let buf = match fs::read(&server) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{} has no {SERVER_FILE}: not a nats-streaming-server file store", dir.display()));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", server.display())),
    };
    let mut r = RecordReader::new(&server, &buf, false, false)?;
    let Some(rec) = r.next_record()? else {
        return Err(format!(
            "{} holds no server information{}: nothing to read",
            server.display(),
            if channel_dirs.is_empty() { "" } else { " although channels are present" }
        ));
    };
    if r.position() != buf.len() {
        return Err(format!(
            "{}: incorrect file size, expected {} bytes, got {} bytes",
            server.display(),
            r.position(),
            buf.len()
        ));
    }
    store.info = decode(&server, rec.offset, rec.payload)?;
    read_clients(&dir.join(CLIENTS_FILE), opts, &mut store)?;
    for (name, path) in channel_dirs {
        let ch = read_channel(&path, &name, opts, &mut store.warnings)?;
        store.channels.insert(name, ch);
    }
    Ok(store)
}

fn decode<M: Message + Default>(path: &Path, offset: usize, payload: &[u8]) -> Result<M, String> {
    M::decode(payload).map_err(|e| format!("{}: undecodable record at offset {offset}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    match fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Subdirectories of the root: one per channel, named after it.
fn channel_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
        if !e.file_type().map_err(|er| format!("{}: {er}", e.path().display()))?.is_dir() {
            continue;
        }
        let name = e.file_name().into_string().map_err(|n| format!("channel directory {n:?} is not UTF-8"))?;
        out.push((name, e.path()));
    }
    out.sort();
    Ok(out)
}

fn read_clients(path: &Path, opts: ReadOptions, store: &mut OrigStore) -> Result<(), String> {
    let buf = read_file(path)?;
    let mut r = RecordReader::new(path, &buf, true, opts.truncate_bad_eof)?;
    while let Some(rec) = r.next_record()? {
        match rec.rec_type {
            f::ADD_CLIENT => {
                let c: f::ClientInfo = decode(path, rec.offset, rec.payload)?;
                store.clients.insert(c.id.clone(), c);
            }
            f::DEL_CLIENT => {
                let d: f::ClientDelete = decode(path, rec.offset, rec.payload)?;
                store.clients.remove(&d.id);
            }
            t => return Err(format!("{}: invalid client record type: {t} at offset {}", path.display(), rec.offset)),
        }
    }
    store.warnings.extend(r.dropped_tail.take());
    Ok(())
}

fn read_channel(dir: &Path, name: &str, opts: ReadOptions, warnings: &mut Vec<String>) -> Result<OrigChannel, String> {
    let mut ch = OrigChannel::default();
    // Message slices `msgs.<N>.dat`, oldest first (the `.idx` files only
    // index the data files and are not needed).
    let mut slices = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(n) = file.strip_prefix("msgs.").and_then(|s| s.strip_suffix(".dat")) else { continue };
        let n: i64 = n.parse().map_err(|_| format!("message log has an invalid name: {}", e.path().display()))?;
        slices.push((n, e.path()));
    }
    slices.sort();
    for (_, path) in slices {
        let buf = read_file(&path)?;
        let mut r = RecordReader::new(&path, &buf, false, opts.truncate_bad_eof)?;
        while let Some(rec) = r.next_record()? {
            let m: MsgProto = decode(&path, rec.offset, rec.payload)?;
            let last = ch.msgs.last().map_or(0, |l| l.sequence);
            if m.sequence <= last {
                warnings.push(format!(
                    "{}: message sequence {} at offset {} is not after {last}; skipped (the original ignores it too)",
                    path.display(),
                    m.sequence,
                    rec.offset
                ));
                continue;
            }
            ch.msgs.push(m);
        }
        warnings.extend(r.dropped_tail.take());
    }
    read_subs(&dir.join(SUBS_FILE), name, opts, &mut ch, warnings)?;
    Ok(ch)
}

fn read_subs(
    path: &Path,
    channel: &str,
    opts: ReadOptions,
    ch: &mut OrigChannel,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let buf = read_file(path)?;
    let mut r = RecordReader::new(path, &buf, true, opts.truncate_bad_eof)?;
    while let Some(rec) = r.next_record()? {
        match rec.rec_type {
            f::SUB_NEW | f::SUB_UPDATE => {
                let s: f::SubState = decode(path, rec.offset, rec.payload)?;
                match ch.subs.get_mut(&s.id) {
                    // An update replaces the state and keeps the pending acks.
                    Some(sub) => sub.state = s,
                    None => {
                        ch.subs.insert(s.id, OrigSub { state: s, pending: BTreeSet::new() });
                    }
                }
            }
            f::SUB_DEL => {
                let d: f::SubStateDelete = decode(path, rec.offset, rec.payload)?;
                ch.subs.remove(&d.id);
            }
            f::SUB_MSG => {
                let u: f::SubStateUpdate = decode(path, rec.offset, rec.payload)?;
                if let Some(sub) = ch.subs.get_mut(&u.id) {
                    sub.state.last_sent = sub.state.last_sent.max(u.seqno);
                    sub.pending.insert(u.seqno);
                }
            }
            f::SUB_ACK => {
                let u: f::SubStateUpdate = decode(path, rec.offset, rec.payload)?;
                if let Some(sub) = ch.subs.get_mut(&u.id) {
                    sub.pending.remove(&u.seqno);
                }
            }
            t => {
                return Err(format!(
                    "{}: unexpected record type: {t} at offset {} (channel {channel:?})",
                    path.display(),
                    rec.offset
                ))
            }
        }
    }
    warnings.extend(r.dropped_tail.take());
    Ok(())
}
