//! Message bodies of the file store read from the journal on demand: an
//! in-memory index (channel, sequence) → frame location, and a bounded FIFO
//! cache of recently published or read bodies.

use super::codec::Entry;
use super::frame;
use crate::store::{BodySource, Record};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// Default byte budget of the body cache.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Environment variable overriding the cache budget (used by tests).
pub const CACHE_ENV: &str = "STAN_FILE_BODY_CACHE_BYTES";

/// Where a message's frame sits in the journal file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Loc {
    pub off: u64,
    pub frame_len: u32,
    pub data_len: u32,
}

/// Per channel, the location of each message frame.
pub(super) type Index = HashMap<String, BTreeMap<u64, Loc>>;

/// The shared body store of one [`super::FileJournal`].
#[derive(Clone)]
pub struct FileBodies(Arc<Mutex<Inner>>);

struct Inner {
    /// A handle on the current journal file (read with `pread`).
    file: File,
    index: Index,
    /// Bodies appended but not yet written to the file.
    pinned: HashMap<(String, u64), Bytes>,
    cache: HashMap<(String, u64), Bytes>,
    order: VecDeque<(String, u64)>,
    cached_bytes: u64,
    budget: u64,
}

impl FileBodies {
    /// A body store over `file` with `index`; the cache budget comes from
    /// [`CACHE_ENV`] or defaults to [`DEFAULT_CACHE_BYTES`].
    pub(super) fn new(file: File, index: Index) -> FileBodies {
        let budget = std::env::var(CACHE_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CACHE_BYTES);
        FileBodies(Arc::new(Mutex::new(Inner {
            file,
            index,
            pinned: HashMap::new(),
            cache: HashMap::new(),
            order: VecDeque::new(),
            cached_bytes: 0,
            budget,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a message frame appended at `loc` whose body is not yet on disk.
    pub(super) fn appended(&self, channel: &str, seq: u64, loc: Loc, data: &Bytes) {
        let mut g = self.lock();
        g.index.entry(channel.to_string()).or_default().insert(seq, loc);
        g.pinned.insert((channel.to_string(), seq), data.clone());
    }

    /// The pending bodies were written to the file: they move to the cache.
    pub(super) fn written(&self) {
        let mut g = self.lock();
        let pinned = std::mem::take(&mut g.pinned);
        for (k, v) in pinned {
            g.insert_cache(k, v);
        }
    }

    /// A channel was deleted: its index, pending and cached bodies go (a
    /// channel created again under that name starts again at sequence 1).
    pub(super) fn forget_channel(&self, channel: &str) {
        let mut g = self.lock();
        g.index.remove(channel);
        g.pinned.retain(|k, _| k.0 != channel);
        let Inner { cache, order, .. } = &mut *g;
        cache.retain(|k, _| k.0 != channel);
        order.retain(|k| k.0 != channel);
        g.cached_bytes = g.cache.values().map(|b| b.len() as u64).sum();
    }

    /// After a rewrite: the new file and index replace the old ones.
    pub(super) fn replace(&self, file: File, index: Index) {
        let mut g = self.lock();
        g.file = file;
        g.pinned.clear();
        // Forget cached bodies of messages the new file no longer holds.
        g.cache.retain(|k, _| index.get(&k.0).is_some_and(|m| m.contains_key(&k.1)));
        let Inner { cache, order, .. } = &mut *g;
        order.retain(|k| cache.contains_key(k));
        g.cached_bytes = g.cache.values().map(|b| b.len() as u64).sum();
        g.index = index;
    }

    /// Body of a message, by lookup (pinned, cache, then disk).
    pub(super) fn get(&self, channel: &str, seq: u64) -> io::Result<Option<Bytes>> {
        let key = (channel.to_string(), seq);
        let mut g = self.lock();
        if let Some(b) = g.pinned.get(&key).or_else(|| g.cache.get(&key)) {
            return Ok(Some(b.clone()));
        }
        let Some(loc) = g.index.get(channel).and_then(|m| m.get(&seq)).copied() else { return Ok(None) };
        let data = read_body(&g.file, loc, channel, seq)?;
        g.insert_cache(key, data.clone());
        Ok(Some(data))
    }

    /// Number of messages indexed (for tests and logs).
    #[cfg(test)]
    pub(super) fn indexed(&self) -> usize {
        self.lock().index.values().map(|m| m.len()).sum()
    }
}

impl Inner {
    fn insert_cache(&mut self, key: (String, u64), data: Bytes) {
        let n = data.len() as u64;
        if n > self.budget || self.cache.contains_key(&key) {
            return;
        }
        while self.cached_bytes + n > self.budget {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(b) = self.cache.remove(&old) {
                self.cached_bytes -= b.len() as u64;
            }
        }
        self.cached_bytes += n;
        self.order.push_back(key.clone());
        self.cache.insert(key, data);
    }
}

/// Reads and checks the frame at `loc`: it must be a valid frame holding
/// message `seq` of `channel`.
fn read_body(file: &File, loc: Loc, channel: &str, seq: u64) -> io::Result<Bytes> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    match frame::read_frame_at(file, loc.off, loc.frame_len)? {
        Entry::Record(Record::Msg { channel: c, sequence, data, .. }) if c == channel && sequence == seq => Ok(data),
        _ => Err(bad(format!("journal frame at offset {} is not message {seq} of channel {channel:?}", loc.off))),
    }
}

impl BodySource for FileBodies {
    fn body(&self, channel: &str, seq: u64) -> io::Result<Option<Bytes>> {
        self.get(channel, seq)
    }
    fn data_len(&self, channel: &str, seq: u64) -> Option<u32> {
        self.lock().index.get(channel).and_then(|m| m.get(&seq)).map(|l| l.data_len)
    }
}
