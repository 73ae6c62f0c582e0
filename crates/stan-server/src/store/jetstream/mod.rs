//! The JetStream store (`--store jetstream`): a [`Journal`] kept in a
//! JetStream cluster, so that the state outlives any one machine.
//!
//! - Each channel is a stream `STAN_<cluster>_<channel>` with the one
//!   subject `_STAN_CH.<cluster>.<channel>`; a message's stream sequence is
//!   its STAN sequence, its payload is the body and its STAN metadata are
//!   headers (`Stan-Sequence`, `Stan-Timestamp`, `Stan-Reply`). Every write
//!   carries `Nats-Msg-Id` (so a retried write is stored once) and
//!   `Nats-Expected-Last-Sequence` (so a second writer is refused).
//! - Every other record (clients, channels, subscriptions, sent/acked
//!   sequences) goes, in journal order, to the stream `STAN_<cluster>_META`:
//!   one message per commit, holding the records in the file store's
//!   encoding (see [`super::file`]), each prefixed by its u32 LE length.
//! - One server writes at a time: see [`lease`].
//!
//! The [`Journal`] methods block on this module's own runtime; the driver
//! calls them off its runtime's thread (`commit_blocks` is true).
//! Design and failure cases: `docs/jetstream.md`.

mod consumers;
pub mod lease;
mod recover;

use super::file::codec;
use super::{Journal, Record};
use crate::log;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Meta records per JetStream message, at most (bytes).
const META_CHUNK: usize = 512 * 1024;
/// How long one write may be retried (node loss, leader election) before
/// the commit fails and the server stops.
const WRITE_RETRY_FOR: Duration = Duration::from_secs(30);

/// What the JetStream store is configured with.
#[derive(Clone, Debug)]
pub struct JsConfig {
    pub cluster_id: String,
    pub replicas: usize,
    pub lease: Duration,
    pub max_msgs: u64,
    pub max_age: Duration,
}

/// Stream and subject names derived from the cluster ID.
#[derive(Clone, Debug)]
pub struct Names {
    pub cluster_tok: String,
}

impl Names {
    pub fn new(cluster_id: &str) -> Names {
        Names { cluster_tok: token(cluster_id) }
    }
    pub fn meta_stream(&self) -> String {
        format!("STAN_{}_META", self.cluster_tok)
    }
    pub fn meta_subject(&self, kind: &str) -> String {
        format!("_STAN_META.{}.{kind}", self.cluster_tok)
    }
    /// The stream of `channel`.
    pub fn channel_stream(&self, channel: &str) -> String {
        format!("STAN_{}_{}", self.cluster_tok, token(channel))
    }
    /// The one subject of `channel`'s stream.
    pub fn channel_subject(&self, channel: &str) -> String {
        format!("_STAN_CH.{}.{channel}", self.cluster_tok)
    }
}

/// Longest token kept whole (JetStream stream names have at most 255 bytes).
const MAX_TOKEN: usize = 100;

/// `s` as a stream-name token: `[A-Za-z0-9-]` kept, anything else `_`;
/// when anything was replaced, `s` holds a `_` or is longer than
/// [`MAX_TOKEN`] (then cut), a hash of `s` is appended so that distinct
/// names stay distinct.
pub fn token(s: &str) -> String {
    let mut t: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if t == s && !s.is_empty() && !s.contains('_') && s.len() <= MAX_TOKEN {
        return t;
    }
    t.truncate(MAX_TOKEN);
    // FNV-1a, 32 bits: stable across versions and platforms.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    format!("{t}_{h:08x}")
}

/// The JetStream journal.
pub struct JsJournal {
    rt: Option<tokio::runtime::Runtime>,
    w: Writer,
    pending: Vec<Record>,
    since_rewrite: u64,
    failed: Option<String>,
}

/// The async part: everything that talks to JetStream.
struct Writer {
    js: jetstream::Context,
    names: Names,
    cfg: JsConfig,
    streams: HashMap<String, stream::Stream>,
    meta: stream::Stream,
    /// Sequence of our last meta message (the fence for the next one).
    meta_last: u64,
    writer_id: String,
    meta_count: u64,
    lease: Arc<lease::Lease>,
    /// Publish GUIDs of the messages of the pending batch: (channel, seq) → GUID.
    guids: HashMap<(String, u64), String>,
    /// (channel, seq, GUID, timestamp) of the messages read at recovery.
    recovered_guids: Vec<(String, u64, String, i64)>,
    /// The durables' JetStream consumers, kept in step by a background task.
    consumers: Arc<consumers::Shared>,
}

impl JsJournal {
    /// (channel, seq, GUID, timestamp) of the recovered messages that carry
    /// a `Stan-Guid` header, for publish de-duplication.
    pub fn take_recovered_guids(&mut self) -> Vec<(String, u64, String, i64)> {
        std::mem::take(&mut self.w.recovered_guids)
    }

    /// Connect, wait until this server holds the active lease (a standby
    /// waits here), fence out any previous writer, and return the journal
    /// with every record recovered from JetStream.
    pub fn open(
        url: &str,
        security: &crate::nats_conn::Security,
        cfg: JsConfig,
        server_id: &str,
    ) -> Result<(JsJournal, Vec<Record>), String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("jetstream-store")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the JetStream store runtime: {e}"))?;
        let names = Names::new(&cfg.cluster_id);
        let (w, records) = rt.block_on(async {
            let name = format!("_NSS-{}-jetstream", cfg.cluster_id);
            let client = crate::driver::connect_nats(url, &name, security).await?;
            let js = jetstream::new(client);
            let store = lease::bucket(&js, &names.cluster_tok, cfg.lease, cfg.replicas).await?;
            let lease = lease::acquire(store, server_id, cfg.lease).await?;
            let meta = ensure_stream(&js, meta_config(&names, &cfg)).await?;
            let mut w = Writer {
                js,
                names,
                cfg,
                streams: HashMap::new(),
                meta,
                meta_last: 0,
                writer_id: server_id.to_string(),
                meta_count: 0,
                lease,
                guids: HashMap::new(),
                recovered_guids: Vec::new(),
                consumers: Arc::new(consumers::Shared::default()),
            };
            let records = recover::recover(&mut w).await?;
            Ok::<_, String>((w, records))
        })?;
        w.consumers.reset(&records);
        rt.spawn(consumers::sync_task(w.js.clone(), w.names.clone(), w.consumers.clone()));
        Ok((JsJournal { rt: Some(rt), w, pending: Vec::new(), since_rewrite: 0, failed: None }, records))
    }

    fn check_usable(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!("JetStream store unusable after an earlier error ({why})"))),
        }
    }
}

impl Drop for JsJournal {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside the driver's runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Journal for JsJournal {
    fn append(&mut self, rec: &Record) -> io::Result<()> {
        self.check_usable()?;
        self.pending.push(rec.clone());
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        self.check_usable()?;
        let recs = std::mem::take(&mut self.pending);
        if recs.is_empty() {
            return Ok(());
        }
        // The consumers follow the batch (their task runs between commits).
        self.w.consumers.committed(&recs);
        let rt = self.rt.take().expect("runtime");
        let r = rt.block_on(self.w.commit(recs));
        self.rt = Some(rt);
        match r {
            Ok(n) => {
                self.since_rewrite += n;
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(io::Error::other(e))
            }
        }
    }

    fn rewrite(&mut self, snapshot: &[Record]) -> io::Result<()> {
        self.check_usable()?;
        self.w.consumers.reset(snapshot);
        let rt = self.rt.take().expect("runtime");
        let r = rt.block_on(self.w.rewrite(snapshot));
        self.rt = Some(rt);
        match r {
            Ok(()) => {
                self.since_rewrite = 0;
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(io::Error::other(e))
            }
        }
    }

    fn bytes_since_rewrite(&self) -> u64 {
        self.since_rewrite
    }

    fn commit_blocks(&self) -> bool {
        true
    }

    fn msg_guid(&mut self, channel: &str, seq: u64, guid: &str) {
        self.w.guids.insert((channel.to_string(), seq), guid.to_string());
    }
}

fn meta_config(names: &Names, cfg: &JsConfig) -> stream::Config {
    stream::Config {
        name: names.meta_stream(),
        subjects: vec![names.meta_subject("*")],
        num_replicas: cfg.replicas,
        storage: stream::StorageType::File,
        description: Some(format!("NATS Streaming state of cluster {:?} (stan-server)", cfg.cluster_id)),
        ..Default::default()
    }
}

fn channel_config(names: &Names, cfg: &JsConfig, channel: &str) -> stream::Config {
    let lim = |v: u64| if v == 0 { -1 } else { v as i64 };
    stream::Config {
        name: names.channel_stream(channel),
        subjects: vec![names.channel_subject(channel)],
        num_replicas: cfg.replicas,
        storage: stream::StorageType::File,
        max_messages: lim(cfg.max_msgs),
        // `-mb` is enforced by stan-server (it purges the stream's oldest
        // messages), not as the stream's max_bytes: JetStream reserves a
        // file stream's max_bytes against the server's storage when the
        // stream is created, so STAN's default of 1 GB per channel would
        // let a server with 8 GB of JetStream storage hold only 8 channels.
        max_bytes: -1,
        max_age: cfg.max_age,
        discard: stream::DiscardPolicy::Old,
        allow_direct: true,
        description: Some(format!("NATS Streaming channel {channel:?} of cluster {:?}", cfg.cluster_id)),
        ..Default::default()
    }
}

/// Get the stream, or create it with `config`. Transient failures (no
/// leader, timeouts) are retried for [`WRITE_RETRY_FOR`]; a refusal by
/// JetStream (see [`refused`]) fails at once.
async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> Result<stream::Stream, String> {
    let name = config.name.clone();
    let deadline = Instant::now() + WRITE_RETRY_FOR;
    loop {
        let r = match js.get_stream(&name).await {
            Ok(s) => Ok(s),
            Err(_) => match js.create_stream(config.clone()).await {
                Ok(s) => Ok(s),
                Err(e) if refused(&e) => {
                    return Err(format!(
                        "JetStream refused to create the stream {name} (subjects {}): {e}",
                        config.subjects.join(", ")
                    ))
                }
                Err(e) => Err(e.to_string()),
            },
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline => {
                log::debug(format_args!("Cannot open stream {name}: {e}; retrying"));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(format!("cannot create the JetStream stream {name}: {e}")),
        }
    }
}

/// Whether JetStream refused a stream for good (a bad request such as
/// subjects overlapping another stream, or account/server limits), so
/// retrying cannot help.
fn refused(e: &async_nats::jetstream::context::CreateStreamError) -> bool {
    use async_nats::jetstream::{context::CreateStreamErrorKind, ErrorCode};
    match e.kind() {
        CreateStreamErrorKind::JetStream(api) => {
            let code = api.error_code();
            // A stream created meanwhile by another server: get it on the next round.
            code != ErrorCode::STREAM_NAME_EXIST
                && (api.code() == 400
                    || [
                        ErrorCode::ACCOUNT_RESOURCES_EXCEEDED,
                        ErrorCode::INSUFFICIENT_RESOURCES,
                        ErrorCode::STORAGE_RESOURCES_EXCEEDED,
                        ErrorCode::MEMORY_RESOURCES_EXCEEDED,
                        ErrorCode::MAXIMUM_STREAMS_LIMIT,
                    ]
                    .contains(&code))
        }
        _ => false,
    }
}

/// Header value as a string.
pub(crate) fn header<'a>(h: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    h.and_then(|h| h.get(name)).map(|v| v.as_str())
}

/// Encode records as one meta message body.
fn encode_meta(recs: &[&Record]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut one = Vec::new();
    for r in recs {
        one.clear();
        codec::encode_record(r, &mut one);
        out.extend_from_slice(&(one.len() as u32).to_le_bytes());
        out.extend_from_slice(&one);
    }
    out
}

/// Decode a meta message body.
pub(crate) fn decode_meta(mut b: &[u8]) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return Err("truncated meta message".into());
        }
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        b = &b[4..];
        if b.len() < n {
            return Err("truncated meta record".into());
        }
        match codec::decode_entry(&b[..n]) {
            Ok(codec::Entry::Record(r)) => out.push(r),
            Ok(codec::Entry::SnapshotEnd) => {}
            Err(e) => return Err(format!("undecodable meta record: {e}")),
        }
        b = &b[n..];
    }
    Ok(out)
}

/// One JetStream write with its de-duplication id and fence.
struct Write {
    stream: String,
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
    msg_id: String,
    expected_seq: u64,
}

impl Writer {
    /// Write one batch: new channels' records, then messages, then
    /// truncations, then the other records. Returns the meta bytes written.
    async fn commit(&mut self, recs: Vec<Record>) -> Result<u64, String> {
        self.lease.wait_valid(WRITE_RETRY_FOR).await?;
        let created: Vec<&Record> = recs.iter().filter(|r| matches!(r, Record::ChannelCreated { .. })).collect();
        let mut meta_bytes = 0;
        if !created.is_empty() {
            for r in &created {
                if let Record::ChannelCreated { channel } = r {
                    self.channel_stream(channel).await?;
                }
            }
            meta_bytes += self.write_meta("rec", &created).await?;
        }
        // Messages: pipelined, then any failed one retried alone.
        let mut writes = Vec::new();
        for r in &recs {
            if let Record::Msg { channel, sequence, timestamp, reply, data } = r {
                self.channel_stream(channel).await?;
                let mut h = HeaderMap::new();
                h.insert("Nats-Msg-Id", sequence.to_string());
                h.insert("Nats-Expected-Last-Sequence", (sequence - 1).to_string());
                h.insert("Stan-Sequence", sequence.to_string());
                h.insert("Stan-Timestamp", timestamp.to_string());
                if !reply.is_empty() {
                    h.insert("Stan-Reply", reply.as_str());
                }
                if let Some(guid) = self.guids.remove(&(channel.clone(), *sequence)) {
                    h.insert("Stan-Guid", guid.as_str());
                }
                writes.push(Write {
                    stream: self.names.channel_stream(channel),
                    subject: self.names.channel_subject(channel),
                    headers: h,
                    payload: data.clone(),
                    msg_id: sequence.to_string(),
                    expected_seq: *sequence,
                });
            }
        }
        let mut futs = Vec::with_capacity(writes.len());
        for w in &writes {
            futs.push(self.js.publish_with_headers(w.subject.clone(), w.headers.clone(), w.payload.clone()).await);
        }
        for (w, f) in writes.iter().zip(futs) {
            let first = match f {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match first {
                Ok(ack) if ack.sequence == w.expected_seq => {}
                _ => self.write_retrying(w).await?,
            }
        }
        for r in &recs {
            if let Record::MsgsTruncated { channel, first_seq } = r {
                let s = self.channel_stream(channel).await?;
                if let Err(e) = s.purge().sequence(*first_seq).await {
                    // Not fatal: the stream's own limits drop them too.
                    log::debug(format_args!("Purge of {channel} below {first_seq} failed: {e}"));
                }
            }
        }
        let rest: Vec<&Record> = recs
            .iter()
            .filter(|r| !matches!(r, Record::ChannelCreated { .. } | Record::Msg { .. } | Record::MsgsTruncated { .. }))
            .collect();
        // A deleted channel's stream goes before the deletion is recorded:
        // stopping in between recovers the channel empty (to be deleted
        // again), never leaves a stream no record points to.
        for r in &recs {
            if let Record::ChannelDeleted { channel } = r {
                self.delete_channel_stream(channel).await?;
            }
        }
        for chunk in chunks(&rest) {
            meta_bytes += self.write_meta("rec", chunk).await?;
        }
        Ok(meta_bytes)
    }

    /// Delete the stream of a deleted channel (already gone is fine).
    async fn delete_channel_stream(&mut self, channel: &str) -> Result<(), String> {
        self.streams.remove(channel);
        let name = self.names.channel_stream(channel);
        use async_nats::jetstream::{context::DeleteStreamErrorKind, ErrorCode};
        match self.js.delete_stream(&name).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind(), DeleteStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
                Ok(())
            }
            Err(e) => Err(format!("cannot delete stream {name} of deleted channel {channel}: {e}")),
        }
    }

    /// Replace the meta stream's content by `snapshot` (messages excluded:
    /// they stay in the channel streams).
    async fn rewrite(&mut self, snapshot: &[Record]) -> Result<(), String> {
        self.lease.wait_valid(WRITE_RETRY_FOR).await?;
        let recs: Vec<&Record> =
            snapshot.iter().filter(|r| !matches!(r, Record::Msg { .. } | Record::MsgsTruncated { .. })).collect();
        let mut first = None;
        for chunk in chunks(&recs) {
            self.write_meta("snap", chunk).await?;
            first.get_or_insert(self.meta_last);
        }
        let first = first.unwrap_or(self.meta_last + 1);
        self.write_meta("end", &[]).await?;
        self.meta.purge().sequence(first).await.map_err(|e| format!("cannot purge the meta stream: {e}"))?;
        Ok(())
    }

    async fn channel_stream(&mut self, channel: &str) -> Result<stream::Stream, String> {
        if let Some(s) = self.streams.get(channel) {
            return Ok(s.clone());
        }
        let s = ensure_stream(&self.js, channel_config(&self.names, &self.cfg, channel)).await?;
        self.streams.insert(channel.to_string(), s.clone());
        Ok(s)
    }

    /// Append one meta message (`kind`: `rec`, `snap` or `end`), fenced on
    /// our previous one. Returns its size.
    async fn write_meta(&mut self, kind: &str, recs: &[&Record]) -> Result<u64, String> {
        let body = Bytes::from(encode_meta(recs));
        self.meta_count += 1;
        let msg_id = format!("{}-{}", self.writer_id, self.meta_count);
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", msg_id.as_str());
        h.insert("Nats-Expected-Last-Sequence", self.meta_last.to_string());
        let w = Write {
            stream: self.names.meta_stream(),
            subject: self.names.meta_subject(kind),
            headers: h,
            payload: body,
            msg_id,
            expected_seq: self.meta_last + 1,
        };
        self.write_retrying(&w).await?;
        self.meta_last = w.expected_seq;
        Ok(w.payload.len() as u64)
    }

    /// Write `w` until JetStream stores it at `w.expected_seq` (a retry of
    /// a write that was stored is recognised by its `Nats-Msg-Id`).
    async fn write_retrying(&self, w: &Write) -> Result<(), String> {
        let deadline = Instant::now() + WRITE_RETRY_FOR;
        loop {
            self.lease.wait_valid(WRITE_RETRY_FOR).await?;
            let r = match self.js.publish_with_headers(w.subject.clone(), w.headers.clone(), w.payload.clone()).await {
                Ok(f) => f.await,
                Err(e) => Err(e),
            };
            let why = match r {
                Ok(ack) if ack.sequence == w.expected_seq => return Ok(()),
                Ok(ack) => format!("stored at sequence {} instead of {}", ack.sequence, w.expected_seq),
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => match self.stored_as(w).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {
                        return Err(format!(
                            "stream {} was written by another server (sequence {} is not ours): \
                             another stan-server is active for this cluster ID",
                            w.stream, w.expected_seq
                        ))
                    }
                    Err(e) => format!("wrong last sequence, and the stored message cannot be read: {e}"),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(format!("JetStream write to {} failed: {why}", w.stream));
            }
            log::debug(format_args!("JetStream write to {} failed: {why}; retrying", w.stream));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether `w.expected_seq` of its stream holds `w` (by its msg id):
    /// false only when another message is stored there; an error when that
    /// cannot be told now. "No message at that sequence" is such an error:
    /// right after a partition heals, a replica that still believes it leads
    /// the stream (it has not yet seen the higher term) answers from its
    /// stale store — wrong last sequence, no such message — for a moment.
    async fn stored_as(&self, w: &Write) -> Result<bool, String> {
        let s = self.js.get_stream_no_info(&w.stream).await.map_err(|e| e.to_string())?;
        match s.get_raw_message(w.expected_seq).await {
            Ok(m) => Ok(header(Some(&m.headers), "Nats-Msg-Id") == Some(w.msg_id.as_str())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Split records into meta messages of at most about [`META_CHUNK`] bytes.
fn chunks<'a>(recs: &'a [&'a Record]) -> Vec<&'a [&'a Record]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0usize);
    let mut buf = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        buf.clear();
        codec::encode_record(r, &mut buf);
        if size > 0 && size + buf.len() + 4 > META_CHUNK {
            out.push(&recs[start..i]);
            start = i;
            size = 0;
        }
        size += buf.len() + 4;
    }
    if start < recs.len() {
        out.push(&recs[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_valid_and_distinct() {
        assert_eq!(token("foo"), "foo");
        assert_ne!(token("a.b"), token("a_b"));
        assert!(token("a.b").starts_with("a_b_"));
        assert!(token("a_b").starts_with("a_b_"));
        assert!(token("x y/z*").chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        let long = "a".repeat(1000);
        assert_eq!(token(&long).len(), MAX_TOKEN + 9);
        assert_ne!(token(&long), token(&"a".repeat(999)));
    }

    #[test]
    fn meta_roundtrip_and_chunks() {
        let recs = [
            Record::ServerInfo { cluster_id: "c".into() },
            Record::ClientAdded {
                client_id: "me".into(),
                hb_inbox: "hb".into(),
                conn_id: Bytes::from_static(b"id"),
                protocol: 1,
                ping_interval: 5,
                ping_max_out: 3,
            },
            Record::Acked { channel: "foo".into(), sub_id: 3, sequence: 9 },
        ];
        let refs: Vec<&Record> = recs.iter().collect();
        assert_eq!(decode_meta(&encode_meta(&refs)).unwrap(), recs.to_vec());
        assert!(decode_meta(&[1, 0, 0]).is_err());
        let big = Record::Msg {
            channel: "c".into(),
            sequence: 1,
            timestamp: 0,
            reply: String::new(),
            data: Bytes::from(vec![0u8; 300 * 1024]),
        };
        let many: Vec<&Record> = vec![&big, &big, &big];
        let c = chunks(&many);
        assert_eq!(c.len(), 3);
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 3);
    }
}
