//! The NATS side of a driver, run inside the driver's own task (no writer or
//! reader tasks, so no extra thread hop either way):
//!
//! - [`Outbound`] hands the session's NATS operations to async-nats in order.
//!   An operation async-nats accepts at once (the common case) costs one poll;
//!   when its command channel is full (a slow or reconnecting connection) the
//!   operation is parked as the one in-flight future and everything after it
//!   waits in a queue, so the driver never blocks and nothing is dropped.
//! - [`Inbound`] multiplexes every NATS subscription of the session into one
//!   stream, tagged with the session's [`Sid`]s; NATS status messages (such as
//!   503 "no responders") are not STAN messages and are skipped.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_nats::{Client, Subject, Subscriber};
use futures::FutureExt;
use stan_core::{IncomingMessage, NatsOp, Sid};

/// Sids from here up are core-NATS subscriptions beside the session (`sc.nc`).
pub(crate) const PLAIN_SID_BASE: u64 = 1 << 52;
use tokio_stream::{StreamExt, StreamMap};

/// What a handed-over operation means for [`Inbound`] (apply in order).
pub(crate) enum Effect {
    /// A NATS subscription was made: add it.
    Subscribed(Sid, Subscriber),
    /// Stop delivering this one.
    Unsubscribed(Sid),
}

impl Effect {
    /// Apply to `inbound`.
    pub(crate) fn apply(self, inbound: &mut Inbound) {
        match self {
            Effect::Subscribed(sid, sub) => inbound.insert(sid, sub),
            Effect::Unsubscribed(sid) => inbound.remove(sid),
        }
    }
}

type Parked = Pin<Box<dyn Future<Output = Option<Effect>> + Send>>;

/// One operation for async-nats: the session's, or core-NATS traffic beside it.
#[derive(Debug)]
pub(crate) enum Op {
    Publish {
        subject: String,
        reply: Option<String>,
        payload: bytes::Bytes,
    },
    Subscribe {
        sid: Sid,
        subject: String,
        queue: Option<String>,
    },
    Unsubscribe {
        sid: Sid,
    },
    /// Round trip to the server once everything before it was handed over;
    /// the outcome goes to `done`.
    Flush {
        id: u64,
        done: tokio::sync::mpsc::UnboundedSender<(u64, bool)>,
    },
}

impl From<NatsOp> for Op {
    fn from(op: NatsOp) -> Self {
        match op {
            NatsOp::Publish { subject, reply, payload } => Op::Publish { subject, reply, payload },
            NatsOp::Subscribe { sid, subject } => Op::Subscribe { sid, subject, queue: None },
            NatsOp::Unsubscribe { sid } => Op::Unsubscribe { sid },
        }
    }
}

/// Outgoing NATS operations, in order, without ever blocking the caller.
pub(crate) struct Outbound {
    client: Client,
    queue: VecDeque<Op>,
    parked: Option<Parked>,
}

/// What one attempt to hand an operation over gave.
enum Try {
    /// Accepted (or failed for good, logged).
    Done(Option<Effect>),
    /// async-nats is full: wait for this.
    Parked(Parked),
}

impl Outbound {
    pub(crate) fn new(client: Client) -> Self {
        Outbound { client, queue: VecDeque::new(), parked: None }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// True when nothing waits to be handed over.
    pub(crate) fn is_idle(&self) -> bool {
        self.parked.is_none() && self.queue.is_empty()
    }

    /// Queue `op` behind the ones not yet handed over.
    pub(crate) fn push(&mut self, op: impl Into<Op>) {
        self.queue.push_back(op.into());
    }

    /// Hand over queued operations until async-nats is full, applying their
    /// effects to `inbound` in order.
    pub(crate) fn pump(&mut self, inbound: &mut Inbound) {
        while self.parked.is_none() {
            let Some(op) = self.queue.pop_front() else { return };
            match self.attempt(op) {
                Try::Done(Some(e)) => e.apply(inbound),
                Try::Done(None) => {}
                Try::Parked(p) => self.parked = Some(p),
            }
        }
    }

    /// Resolves when the parked operation completed (never while none is parked).
    pub(crate) async fn unparked(&mut self) -> Option<Effect> {
        match self.parked.as_mut() {
            Some(p) => {
                let r = p.await;
                self.parked = None;
                r
            }
            None => std::future::pending().await,
        }
    }

    /// Send what is queued (waiting for room as long as `within` allows)
    /// and flush.
    pub(crate) async fn finish(mut self, within: Duration) {
        let work = async {
            loop {
                if let Some(p) = self.parked.as_mut() {
                    p.await;
                    self.parked = None;
                }
                self.pump(&mut Inbound::default());
                if self.parked.is_none() {
                    break;
                }
            }
            let _ = self.client.flush().await;
        };
        let _ = tokio::time::timeout(within, work).await;
    }

    fn attempt(&self, op: Op) -> Try {
        match op {
            Op::Publish { subject, reply, payload } => {
                let subject = Subject::from(subject);
                let reply = reply.map(Subject::from);
                let first = match &reply {
                    Some(r) => {
                        self.client.publish_with_reply(subject.clone(), r.clone(), payload.clone()).now_or_never()
                    }
                    None => self.client.publish(subject.clone(), payload.clone()).now_or_never(),
                };
                match first {
                    Some(r) => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "NATS publish failed");
                        }
                        Try::Done(None)
                    }
                    // Not sent (a cancelled send sends nothing): wait for room.
                    None => {
                        let c = self.client.clone();
                        Try::Parked(Box::pin(async move {
                            let r = match reply {
                                Some(r) => c.publish_with_reply(subject, r, payload).await,
                                None => c.publish(subject, payload).await,
                            };
                            if let Err(e) = r {
                                tracing::warn!(error = %e, "NATS publish failed");
                            }
                            None
                        }))
                    }
                }
            }
            Op::Subscribe { sid, subject, queue } => {
                let c = self.client.clone();
                let mut fut = Box::pin(async move {
                    let made = match queue {
                        Some(q) => c.queue_subscribe(Subject::from(subject.clone()), q).await,
                        None => c.subscribe(Subject::from(subject.clone())).await,
                    };
                    match made {
                        Ok(sub) => Some(Effect::Subscribed(sid, sub)),
                        Err(e) => {
                            tracing::warn!(%subject, error = %e, "NATS subscribe failed");
                            None
                        }
                    }
                });
                match (&mut fut).now_or_never() {
                    Some(r) => Try::Done(r),
                    None => Try::Parked(fut),
                }
            }
            // Dropping the subscriber (Inbound::remove) sends the UNSUB.
            Op::Unsubscribe { sid } => Try::Done(Some(Effect::Unsubscribed(sid))),
            // async-nats' flush queues behind what was handed over before it.
            Op::Flush { id, done } => {
                let c = self.client.clone();
                tokio::spawn(async move {
                    let ok = matches!(tokio::time::timeout(Duration::from_secs(10), c.flush()).await, Ok(Ok(())));
                    let _ = done.send((id, ok));
                });
                Try::Done(None)
            }
        }
    }
}

/// Every NATS subscription of the session, as one stream.
#[derive(Default)]
pub(crate) struct Inbound {
    subs: StreamMap<Sid, Subscriber>,
}

impl Inbound {
    pub(crate) fn insert(&mut self, sid: Sid, sub: Subscriber) {
        self.subs.insert(sid, sub);
    }

    /// Stop delivering `sid` (dropping the subscriber unsubscribes it).
    pub(crate) fn remove(&mut self, sid: Sid) {
        self.subs.remove(&sid);
    }

    /// The next message (never resolves while there is no subscription).
    pub(crate) async fn next(&mut self) -> IncomingMessage {
        loop {
            if self.subs.is_empty() {
                std::future::pending::<()>().await;
            }
            match self.subs.next().await {
                Some((sid, m)) => {
                    if let Some(msg) = to_incoming(sid, m) {
                        return msg;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// A message that is ready now, if any.
    pub(crate) fn try_next(&mut self) -> Option<IncomingMessage> {
        loop {
            match self.subs.next().now_or_never() {
                Some(Some((sid, m))) => {
                    if let Some(msg) = to_incoming(sid, m) {
                        return Some(msg);
                    }
                }
                _ => return None,
            }
        }
    }
}

fn to_incoming(sid: Sid, m: async_nats::Message) -> Option<IncomingMessage> {
    if m.status.is_some() {
        return None;
    }
    Some(IncomingMessage {
        sid,
        subject: m.subject.to_string(),
        reply: m.reply.map(|r| r.to_string()),
        payload: m.payload,
    })
}

/// Hand one publish to async-nats if its command channel has room now
/// (any thread, no runtime needed). Gives the operation back when it is full.
pub(crate) fn try_publish(client: &Client, op: Op) -> Result<(), Op> {
    match op {
        Op::Publish { subject, reply, payload } => {
            let s = Subject::from(subject);
            let r = reply.map(Subject::from);
            let sent = match &r {
                Some(r) => client.publish_with_reply(s.clone(), r.clone(), payload.clone()).now_or_never(),
                None => client.publish(s.clone(), payload.clone()).now_or_never(),
            };
            match sent {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "NATS publish failed");
                    Ok(())
                }
                None => Err(Op::Publish { subject: s.to_string(), reply: r.map(|r| r.to_string()), payload }),
            }
        }
        other => Err(other),
    }
}
