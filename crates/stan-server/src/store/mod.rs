//! Persistence of the server state: a write-ahead journal of [`Record`]s.
//!
//! The server keeps its whole working state (clients, channels, messages,
//! subscriptions) in memory; a [`Journal`] only makes that state durable.
//! The memory store uses [`NoJournal`]; the file store uses
//! [`file::FileJournal`]; the SQL store uses [`sql::SqlJournal`]. On start
//! the server replays the records the journal recovered, in order, to
//! rebuild its state.

pub mod file;
pub mod jetstream;
pub mod orig;
pub mod spb;
pub mod sql;

use bytes::Bytes;
use std::io;
use std::sync::Arc;

/// One durable change to the server state. Replaying all records of a
/// journal, in order, rebuilds the state the server had when it stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The server's identity, written once when a store is created.
    ServerInfo { cluster_id: String },
    /// A client registered (or replaced an older registration of the same ID).
    ClientAdded {
        client_id: String,
        hb_inbox: String,
        conn_id: Bytes,
        protocol: i32,
        ping_interval: i32,
        ping_max_out: i32,
    },
    /// A client closed or was expired; its non-durable subs are gone too.
    ClientRemoved { client_id: String },
    /// A channel was created.
    ChannelCreated { channel: String },
    /// A message was stored on a channel.
    Msg { channel: String, sequence: u64, timestamp: i64, reply: String, data: Bytes },
    /// Messages below `first_seq` were dropped by limits.
    MsgsTruncated { channel: String, first_seq: u64 },
    /// A subscription was created, or its persisted fields changed (same `sub_id`).
    SubUpsert { channel: String, sub: SubRecord },
    /// A subscription was removed for good.
    SubDeleted { channel: String, sub_id: u64 },
    /// Message `sequence` was sent to subscription `sub_id` and awaits an ack.
    Sent { channel: String, sub_id: u64, sequence: u64 },
    /// Subscription `sub_id` acknowledged `sequence`.
    Acked { channel: String, sub_id: u64, sequence: u64 },
    /// A channel was deleted (`-mi`) with its messages and subscriptions.
    ChannelDeleted { channel: String },
}

/// The persisted part of a subscription.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubRecord {
    pub sub_id: u64,
    /// Empty for an offline durable.
    pub client_id: String,
    pub inbox: String,
    pub ack_inbox: String,
    pub durable_name: String,
    /// For a durable queue group: `durable:queue`.
    pub queue_group: String,
    pub is_durable: bool,
    pub max_in_flight: i32,
    pub ack_wait_secs: i32,
    pub last_sent: u64,
}

/// How hard the journal works to make a write durable before a PubAck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `write(2)` to the OS before acknowledging: survives `kill -9` of the
    /// server, not a power loss.
    OsBuffer,
    /// `fsync(2)` after each batch of writes, before acknowledging.
    Fsync,
}

/// Durable storage of [`Record`]s.
pub trait Journal: Send {
    /// Append a record. It need not be durable until [`Journal::commit`].
    fn append(&mut self, rec: &Record) -> io::Result<()>;
    /// Make every appended record durable under the sync policy. The server
    /// calls this once per batch of work, before sending PubAcks.
    fn commit(&mut self) -> io::Result<()>;
    /// Replace the journal's content by `snapshot` (a compacted equivalent of
    /// everything appended so far), atomically.
    fn rewrite(&mut self, snapshot: &[Record]) -> io::Result<()>;
    /// Bytes written since the last rewrite (used to decide when to compact).
    fn bytes_since_rewrite(&self) -> u64;
    /// Whether [`Journal::commit`] waits for the disk (fsync), so the driver
    /// runs it off the thread that reads NATS.
    fn commit_blocks(&self) -> bool {
        false
    }
    /// Whether a blocking [`Journal::commit`] of a small batch may still run
    /// on the driver's thread when nothing else waits to be read (a lone
    /// request: no hand-off to the blocking pool and back). Only plain
    /// blocking I/O qualifies: a commit that drives an async runtime of its
    /// own (the JetStream store) must stay off the driver's runtime thread.
    fn commit_in_place_ok(&self) -> bool {
        false
    }
    /// The publish GUID of the message at `seq` of `channel`, given before
    /// its [`Record::Msg`] is appended (only when de-duplication by GUID is
    /// on, i.e. for the JetStream store). Journals that do not keep GUIDs
    /// ignore it.
    fn msg_guid(&mut self, _channel: &str, _seq: u64, _guid: &str) {}
}

/// Where message bodies live when a store keeps them out of memory (the
/// file store): the server keeps only an index entry per message and asks
/// this source for a body when it delivers the message.
pub trait BodySource: Send + Sync {
    /// The body of message `seq` of `channel`, read from disk if it is not
    /// cached; `Ok(None)` if the store has no such message.
    fn body(&self, channel: &str, seq: u64) -> io::Result<Option<Bytes>>;
    /// The body length of message `seq` of `channel`, if the store has it.
    fn data_len(&self, channel: &str, seq: u64) -> Option<u32>;
}

/// A shared [`BodySource`].
pub type Bodies = Arc<dyn BodySource>;

/// The memory store: nothing is persisted.
#[derive(Debug, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn append(&mut self, _rec: &Record) -> io::Result<()> {
        Ok(())
    }
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn rewrite(&mut self, _snapshot: &[Record]) -> io::Result<()> {
        Ok(())
    }
    fn bytes_since_rewrite(&self) -> u64 {
        0
    }
}
