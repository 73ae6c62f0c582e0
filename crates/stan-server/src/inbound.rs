//! The server's inbound path: every subject the server serves, read through
//! its NATS connection into one stream that never drops a message.
//!
//! async-nats hands each subscription's messages over a channel whose
//! capacity is set per connection; when that channel is full it drops the
//! message ("slow consumer"). The server's connection is therefore opened
//! with [`UNBOUNDED`] capacity (tokio's largest, allocated lazily in small
//! blocks), so the NATS reader always reads on and never drops: when the
//! protocol core lags, requests wait in memory instead. That memory is
//! bounded by what clients can have in flight: a STAN publisher stops at
//! its ack window (`MaxPubAcksInflight`), so the backlog is at most the sum
//! of the connected publishers' windows — the same reasoning that lets the
//! original server run its internal subscriptions with unlimited pending
//! limits. A client that floods without a window is not bounded by
//! anything but its own speed, as with the original.
//!
//! The backlog is measured (messages the connection received minus messages
//! the driver took) and logged loudly past [`HIGH_WATER_BYTES`], so an
//! overload shows up in the log instead of as lost publishes.

use crate::log;
use crate::state::Subjects;
use async_nats::{Client, Message, Statistics, Subscriber};
use futures::stream::{SelectAll, StreamExt};
use futures::FutureExt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Subscription capacity of the server's NATS connection: tokio's maximum,
/// i.e. a channel that never reports "full" (its memory grows by blocks).
pub const UNBOUNDED: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// Backlog size that is logged as an error (the server is not keeping up).
pub const HIGH_WATER_BYTES: u64 = 256 * 1024 * 1024;

/// How often an ongoing backlog above the high-water mark is logged again.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Which server subject a message arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Ping,
    Publish,
    Subscribe,
    Unsubscribe,
    SubClose,
    Close,
    Ack,
}

impl Kind {
    /// Unsubscribe, subscription close and connection close: requests whose
    /// effect would lose acks or publishes the client sent before them.
    pub fn ends_something(self) -> bool {
        matches!(self, Kind::Unsubscribe | Kind::SubClose | Kind::Close)
    }
}

type Tagged = Pin<Box<dyn futures::Stream<Item = (Kind, Message)> + Send>>;

/// The merged stream of every server subject, with its backlog gauge.
pub struct Inbound {
    merged: SelectAll<Tagged>,
    stats: Arc<Statistics>,
    gauge: Backlog,
    reported: Option<Instant>,
}

impl Inbound {
    /// Subscribe every subject the server serves on `client`.
    pub async fn subscribe(client: &Client, s: &Subjects) -> Result<Inbound, String> {
        let mut merged: SelectAll<Tagged> = SelectAll::new();
        for (subject, kind) in [
            (s.discover.clone(), Kind::Connect),
            (s.pings.clone(), Kind::Ping),
            (format!("{}.>", s.pub_prefix), Kind::Publish),
            (s.sub.clone(), Kind::Subscribe),
            (s.unsub.clone(), Kind::Unsubscribe),
            (s.sub_close.clone(), Kind::SubClose),
            (s.close.clone(), Kind::Close),
            (format!("{}.>", s.ack_prefix), Kind::Ack),
        ] {
            let sub: Subscriber = client.subscribe(subject).await.map_err(|e| e.to_string())?;
            merged.push(Box::pin(sub.map(move |m| (kind, m))));
        }
        let stats = client.statistics();
        let gauge = Backlog::new(&stats);
        Ok(Inbound { merged, stats, gauge, reported: None })
    }

    /// Also read acks sent to each of `inboxes` (ack inboxes that are not
    /// under our ack prefix, see `State::foreign_ack_inboxes`).
    pub async fn subscribe_acks(&mut self, client: &Client, inboxes: Vec<String>) -> Result<(), String> {
        for inbox in inboxes {
            let sub: Subscriber = client.subscribe(inbox).await.map_err(|e| e.to_string())?;
            self.merged.push(Box::pin(sub.map(|m| (Kind::Ack, m))));
        }
        Ok(())
    }

    /// The next message; `None` once every subscription ended.
    pub async fn next(&mut self) -> Option<(Kind, Message)> {
        let m = self.merged.next().await;
        if let Some((_, m)) = &m {
            self.gauge.took(m);
        }
        m
    }

    /// The next message if one is ready now. Outside tokio's cooperative
    /// budget (which would end every batch after 128 messages): the caller
    /// bounds its batches itself.
    pub fn try_next(&mut self) -> Option<(Kind, Message)> {
        match tokio::task::unconstrained(self.merged.next()).now_or_never() {
            Some(Some((k, m))) => {
                self.gauge.took(&m);
                Some((k, m))
            }
            Some(None) => None,
            None => {
                // Drained: whatever the counters still show is not ours (request replies).
                self.gauge.rebase(&self.stats);
                None
            }
        }
    }

    /// Messages and bytes received but not yet taken (approximate).
    pub fn backlog(&self) -> (u64, u64) {
        self.gauge.pending(&self.stats)
    }

    /// Log an error while the backlog is above the high-water mark.
    pub fn check_backlog(&mut self) {
        let (msgs, bytes) = self.backlog();
        if bytes >= HIGH_WATER_BYTES {
            if self.reported.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                self.reported = Some(Instant::now());
                log::error(format_args!(
                    "Inbound backlog of {msgs} requests ({} MiB) is above {} MiB: the server is not keeping up; \
                     nothing is dropped, publishers are slowed down by their ack windows",
                    bytes >> 20,
                    HIGH_WATER_BYTES >> 20
                ));
            }
        } else if self.reported.is_some() && bytes < HIGH_WATER_BYTES / 2 {
            self.reported = None;
            log::info(format_args!("Inbound backlog is back to {msgs} requests ({} MiB)", bytes >> 20));
        }
    }
}

/// Received-minus-taken counters. The connection's statistics also count
/// request replies and protocol bytes that never reach the merged stream;
/// [`Backlog::rebase`] absorbs that difference whenever the stream is seen
/// empty.
struct Backlog {
    taken_msgs: u64,
    taken_bytes: u64,
    base_msgs: u64,
    base_bytes: u64,
}

impl Backlog {
    fn new(stats: &Statistics) -> Self {
        let mut b = Backlog { taken_msgs: 0, taken_bytes: 0, base_msgs: 0, base_bytes: 0 };
        b.rebase(stats);
        b
    }

    fn took(&mut self, m: &Message) {
        self.taken_msgs += 1;
        self.taken_bytes += wire_size(m);
    }

    fn rebase(&mut self, stats: &Statistics) {
        self.base_msgs = stats.in_messages.load(Ordering::Relaxed).saturating_sub(self.taken_msgs);
        self.base_bytes = stats.in_bytes.load(Ordering::Relaxed).saturating_sub(self.taken_bytes);
    }

    fn pending(&self, stats: &Statistics) -> (u64, u64) {
        let msgs = stats.in_messages.load(Ordering::Relaxed).saturating_sub(self.base_msgs + self.taken_msgs);
        let bytes = stats.in_bytes.load(Ordering::Relaxed).saturating_sub(self.base_bytes + self.taken_bytes);
        (msgs, bytes)
    }
}

/// Bytes a message took on the wire (`MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, roughly).
fn wire_size(m: &Message) -> u64 {
    let reply = m.reply.as_ref().map_or(0, |r| r.len() + 1);
    (m.subject.len() + reply + m.payload.len() + 20) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_counts_received_minus_taken_and_rebases() {
        let stats = Statistics::default();
        stats.in_messages.store(3, Ordering::Relaxed);
        stats.in_bytes.store(300, Ordering::Relaxed);
        let mut b = Backlog::new(&stats);
        assert_eq!(b.pending(&stats), (0, 0));
        stats.in_messages.store(13, Ordering::Relaxed);
        stats.in_bytes.store(1300, Ordering::Relaxed);
        assert_eq!(b.pending(&stats), (10, 1000));
        b.taken_msgs += 4;
        b.taken_bytes += 400;
        assert_eq!(b.pending(&stats), (6, 600));
        b.rebase(&stats);
        assert_eq!(b.pending(&stats), (0, 0));
    }
}
