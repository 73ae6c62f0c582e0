//! Recovery from JetStream: fence out any previous writer, then read the
//! meta stream (the last complete snapshot and what follows it) and every
//! known channel's stream, in an order [`crate::state::State::replay`]
//! accepts.

use super::{decode_meta, header, Writer};
use crate::log;
use crate::store::Record;
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use std::time::Duration;

/// Longest wait for one message while reading a stream.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a failed or stalled read of a stream is retried.
const READ_RETRY_FOR: Duration = Duration::from_secs(30);

pub(super) async fn recover(w: &mut Writer) -> Result<Vec<Record>, String> {
    // The fence: a write expecting the stream's current last sequence. A
    // previous active still writing makes it fail; we then look again.
    let mut tries = 0;
    let deadline = std::time::Instant::now() + READ_RETRY_FOR;
    loop {
        let info = match w.meta.get_info().await {
            Ok(info) => info,
            // E.g. no leader yet (a takeover during elections): bounded retries.
            Err(e) if std::time::Instant::now() < deadline => {
                log::debug(format_args!("Cannot read the meta stream: {e}; retrying"));
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            Err(e) => return Err(format!("cannot read the meta stream: {e}")),
        };
        w.meta_last = info.state.last_sequence;
        let fence = Record::ServerInfo { cluster_id: w.cfg.cluster_id.clone() };
        match w.write_meta("rec", &[&fence]).await {
            Ok(_) => break,
            Err(e) if tries < 20 => {
                tries += 1;
                log::debug(format_args!("Fencing the meta stream failed: {e}; retrying"));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
    let meta_stream = w.names.meta_stream();
    let mut records: Vec<Record> = Vec::new();
    let mut snap: Option<Vec<Record>> = None;
    for (subject, _seq, _h, body) in read_stream(w, &meta_stream, w.meta_last).await? {
        let recs = decode_meta(&body).map_err(|e| format!("meta stream {meta_stream}: {e}"))?;
        match subject.rsplit('.').next().unwrap_or("") {
            "snap" => snap.get_or_insert_with(Vec::new).extend(recs),
            "end" => {
                if let Some(s) = snap.take() {
                    records = s;
                }
            }
            _ => {
                // A snapshot without its end marker was interrupted: ignore it.
                snap = None;
                records.extend(recs);
            }
        }
    }
    // The channels that exist: created and not deleted since.
    let mut channels: Vec<String> = Vec::new();
    let mut deleted: Vec<String> = Vec::new();
    for r in &records {
        match r {
            Record::ChannelCreated { channel } if !channels.contains(channel) => {
                channels.push(channel.clone());
                deleted.retain(|d| d != channel);
            }
            Record::ChannelDeleted { channel } => {
                channels.retain(|c| c != channel);
                if !deleted.contains(channel) {
                    deleted.push(channel.clone());
                }
            }
            _ => {}
        }
    }
    for ch in &deleted {
        w.delete_channel_stream(ch).await?;
    }
    let mut msgs = 0u64;
    for ch in channels {
        let mut s = w.channel_stream(&ch).await?;
        let info = s.info().await.map_err(|e| format!("cannot read stream of channel {ch}: {e}"))?;
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        if info.state.messages > 0 {
            let name = w.names.channel_stream(&ch);
            for (_, seq, h, body) in read_stream(w, &name, last).await? {
                let timestamp = header(h.as_ref(), "Stan-Timestamp").and_then(|v| v.parse().ok()).unwrap_or(0);
                let reply = header(h.as_ref(), "Stan-Reply").unwrap_or("").to_string();
                if let Some(guid) = header(h.as_ref(), "Stan-Guid") {
                    w.recovered_guids.push((ch.clone(), seq, guid.to_string(), timestamp));
                }
                records.push(Record::Msg { channel: ch.clone(), sequence: seq, timestamp, reply, data: body });
                msgs += 1;
            }
        }
        if first > 1 {
            records.push(Record::MsgsTruncated { channel: ch.clone(), first_seq: first });
        }
    }
    log::info(format_args!("JetStream store: recovered {} record(s) and {msgs} message(s)", records.len()));
    Ok(records)
}

type Read = (String, u64, Option<async_nats::HeaderMap>, bytes::Bytes);

/// Every message of `stream` up to sequence `last`, in order. A read that
/// fails or stalls (e.g. during leader elections at a takeover after a
/// partition) is started again, for up to [`READ_RETRY_FOR`].
async fn read_stream(w: &Writer, stream: &str, last: u64) -> Result<Vec<Read>, String> {
    let deadline = std::time::Instant::now() + READ_RETRY_FOR;
    loop {
        match read_stream_once(w, stream, last).await {
            Ok(out) => return Ok(out),
            Err(e) if std::time::Instant::now() < deadline => {
                log::debug(format_args!("{e}; reading {stream} again"));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt of [`read_stream`]: an ordered consumer, bounded by
/// [`READ_TIMEOUT`] per message.
async fn read_stream_once(w: &Writer, stream: &str, last: u64) -> Result<Vec<Read>, String> {
    let mut out = Vec::new();
    if last == 0 {
        return Ok(out);
    }
    let s = w.js.get_stream(stream).await.map_err(|e| format!("cannot open stream {stream}: {e}"))?;
    let c = s
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .map_err(|e| format!("cannot read stream {stream}: {e}"))?;
    let mut msgs = c.messages().await.map_err(|e| format!("cannot read stream {stream}: {e}"))?;
    loop {
        let m = match tokio::time::timeout(READ_TIMEOUT, msgs.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("reading stream {stream} failed: {e}")),
            Ok(None) => return Err(format!("reading stream {stream} ended early")),
            // Nothing for a while: done only if nothing up to `last` is
            // left (limits may have removed it); else the read stalled.
            Err(_) => {
                let info = s.get_info().await.map_err(|e| format!("cannot read stream {stream}: {e}"))?;
                let next = out.last().map(|(_, seq, _, _)| seq + 1).unwrap_or(1);
                if info.state.messages == 0 || info.state.last_sequence < next || info.state.first_sequence > last {
                    break;
                }
                return Err(format!("reading stream {stream} stalled before sequence {next} (of {last})"));
            }
        };
        let seq = m.info().map_err(|e| format!("stream {stream}: {e}"))?.stream_sequence;
        if seq > last {
            break;
        }
        let m = m.message;
        out.push((m.subject.to_string(), seq, m.headers, m.payload));
        if seq == last {
            break;
        }
    }
    Ok(out)
}
