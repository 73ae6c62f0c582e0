//! `Connection`: the cheap `Clone` handle, and `connect()` which starts the
//! session on the one driver ([`crate::shared::SharedSession`], the same the
//! Node addon uses). Commands run on the caller's thread against the session
//! core; replies come back through the driver's event sink ([`Router`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use stan_core::{SubId, SubOp, SubscriptionOptions};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::events::{ConnectionEvent, EventStream};
use crate::router::{self, Router, RouterSink, SubRoute};
use crate::shared::SharedSession;
use crate::{Error, Options, Subscription};

/// A connection to a NATS Streaming cluster. Clones share one session; the
/// session closes when `close()` is called or every handle, subscription and
/// message is dropped.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

/// What handles, subscriptions and messages share.
pub(crate) struct Inner {
    session: SharedSession,
    router: Arc<Mutex<Router>>,
    events: broadcast::Sender<ConnectionEvent>,
    cluster_id: String,
    client_id: String,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("cluster_id", &self.cluster_id).field("client_id", &self.client_id).finish()
    }
}

impl Drop for Inner {
    /// The last handle is gone: close the session politely (synchronous, no spawn).
    fn drop(&mut self) {
        self.session.with(|c, now| c.close(now));
    }
}

impl Inner {
    /// Ack `sequence` of `sub` (dropped once the subscription is gone).
    pub(crate) fn ack(&self, sub: SubId, sequence: u64) -> Result<(), Error> {
        self.session.with(|c, _| {
            if c.is_closed() {
                return Err(Error::closed());
            }
            let _ = c.ack(sub, sequence);
            Ok(())
        })
    }

    /// Unsubscribe or close `sub`, once the server answered.
    pub(crate) async fn end_sub(&self, sub: SubId, op: SubOp) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.session.with(|c, now| {
            match op {
                SubOp::Close => c.close_subscription(now, sub),
                _ => c.unsubscribe(now, sub),
            }?;
            let mut r = router::lock(&self.router);
            match r.subs.get_mut(&sub) {
                Some(route) => route.ending = Some(tx),
                None => {
                    let _ = tx.send(Ok(()));
                }
            }
            Ok::<(), Error>(())
        })?;
        rx.await.unwrap_or_else(|_| Err(Error::closed()))
    }
}

/// Connect to cluster `cluster_id` as `client_id`: open the NATS connection,
/// then perform the STAN handshake. Returns once the server accepted the client.
///
/// Errors: `stan: cluster ID must be supplied` / `stan: client ID must be
/// supplied`, a NATS connection error, `stan: connect request timeout`, or
/// the server's refusal text (e.g. `stan: clientID already registered`).
pub async fn connect(cluster_id: &str, client_id: &str, options: Options) -> Result<Connection, Error> {
    let (connected_tx, connected_rx) = oneshot::channel();
    let (events, _) = broadcast::channel(256);
    let router = Arc::new(Mutex::new(Router::new(connected_tx, events.clone())));
    let session = SharedSession::start(cluster_id, client_id, &options, RouterSink(router.clone()), rand::random())?;
    let inner = Arc::new(Inner {
        session,
        router: router.clone(),
        events,
        cluster_id: cluster_id.to_string(),
        client_id: client_id.to_string(),
    });
    router::lock(&router).inner = Arc::downgrade(&inner);
    connected_rx.await.unwrap_or_else(|_| Err(Error::closed()))?;
    Ok(Connection { inner })
}

/// The pending ack of one [`Connection::publish_async`]: resolves to the
/// guid once the server stored the message, or to the error.
#[derive(Debug)]
pub struct PubAckFuture {
    guid: String,
    rx: oneshot::Receiver<Result<(), Error>>,
}

impl PubAckFuture {
    /// The guid of the published message.
    pub fn guid(&self) -> &str {
        &self.guid
    }
}

impl Future for PubAckFuture {
    type Output = Result<String, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(Ok(()))) => Poll::Ready(Ok(self.guid.clone())),
            Poll::Ready(Ok(Err(e))) => Poll::Ready(Err(e)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::closed())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Connection {
    /// The cluster ID.
    pub fn cluster_id(&self) -> &str {
        &self.inner.cluster_id
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Publish and wait for the server's ack; returns the guid.
    pub async fn publish(&self, subject: &str, data: impl Into<Bytes>) -> Result<String, Error> {
        self.publish_async(subject, data).await?.await
    }

    /// Publish without waiting for the ack: returns once the message is
    /// handed to the session, with a future for its ack. Fails at once with
    /// `stan: max in flight reached.` when too many acks are outstanding.
    pub async fn publish_async(&self, subject: &str, data: impl Into<Bytes>) -> Result<PubAckFuture, Error> {
        let data: Bytes = data.into();
        let (tx, rx) = oneshot::channel();
        let inner = &self.inner;
        let guid = inner.session.with(|c, now| {
            let guid = c.publish(now, subject, &data)?;
            router::lock(&inner.router).pubs.insert(guid.clone(), tx);
            Ok::<String, Error>(guid)
        })?;
        Ok(PubAckFuture { guid, rx })
    }

    /// Subscribe to channel `subject`; returns once the server accepted it.
    pub async fn subscribe(&self, subject: &str, opts: SubscriptionOptions) -> Result<Subscription, Error> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let manual_acks = opts.manual_acks;
        let inner = &self.inner;
        let id = inner.session.with(|c, now| {
            let id = c.subscribe(now, subject, opts)?;
            let route = SubRoute { messages: messages_tx, manual_acks, ready: Some(ready_tx), ending: None };
            router::lock(&inner.router).subs.insert(id, route);
            Ok::<SubId, Error>(id)
        })?;
        ready_rx.await.unwrap_or_else(|_| Err(Error::closed()))?;
        Ok(Subscription::new(id, subject.to_string(), messages, self.inner.clone()))
    }

    /// Close the session: pending publishes fail with `stan: Connection
    /// closed`, subscriptions end, the server is told, NATS is closed.
    /// Calling it again (or after the connection was lost) returns `Ok`.
    pub async fn close(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        let inner = &self.inner;
        let waiting = inner.session.with(|c, now| {
            if c.is_closed() {
                return false;
            }
            router::lock(&inner.router).closing.push(tx);
            c.close(now);
            true
        });
        if !waiting {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// Connection events from now on (disconnect, reconnect, connection
    /// lost, closed).
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.events.subscribe())
    }
}
