//! `Connection`: the cheap `Clone` handle, and `connect()` which starts the
//! NATS connection and the engine task.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use stan_core::SubscriptionOptions;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::{Command, Engine, EngineInputs, NatsStatus};
use crate::events::{ConnectionEvent, EventStream};
use crate::{Error, Options, Subscription};

/// A connection to a NATS Streaming cluster. Clones share one session; the
/// session closes when `close()` is called or every handle, subscription and
/// message is dropped.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<ConnectionEvent>,
    cluster_id: String,
    client_id: String,
}

/// Connect to cluster `cluster_id` as `client_id`: open the NATS connection,
/// then perform the STAN handshake. Returns once the server accepted the client.
///
/// Errors: `stan: cluster ID must be supplied` / `stan: client ID must be
/// supplied`, a NATS connection error, `stan: connect request timeout`, or
/// the server's refusal text (e.g. `stan: clientID already registered`).
pub async fn connect(cluster_id: &str, client_id: &str, options: Options) -> Result<Connection, Error> {
    let config = options.stan_config(cluster_id, client_id);
    config.validate()?;
    let (servers, nats_opts) = options.nats()?;
    let (status_tx, status_rx) = mpsc::unbounded_channel();
    let nats_opts = nats_opts.event_callback(move |e| {
        let status = match e {
            async_nats::Event::Connected => Some(NatsStatus::Connected),
            async_nats::Event::Disconnected => Some(NatsStatus::Disconnected),
            _ => None,
        };
        if let Some(s) = status {
            let _ = status_tx.send(s);
        }
        async {}
    });
    let client = nats_opts.connect(servers).await.map_err(|e| Error::Nats(crate::shared::connect_error_text(&e)))?;

    let epoch = tokio::time::Instant::now();
    let mut core = stan_core::Connection::new(config, rand::random(), std::time::Duration::ZERO)?;
    core.set_max_payload(client.server_info().max_payload);
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (events_tx, _) = broadcast::channel(256);
    let (connected_tx, connected_rx) = oneshot::channel();
    let engine = Engine::new(core, epoch, commands_tx.downgrade(), events_tx.clone(), connected_tx);
    let inputs = EngineInputs { commands: commands_rx, nats: client, status: status_rx };
    tokio::spawn(engine.run(inputs));

    connected_rx.await.unwrap_or_else(|_| Err(Error::closed()))?;
    let inner = Inner {
        commands: commands_tx,
        events: events_tx,
        cluster_id: cluster_id.to_string(),
        client_id: client_id.to_string(),
    };
    Ok(Connection { inner: Arc::new(inner) })
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

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.inner.commands.send(make(tx)).map_err(|_| Error::closed())?;
        rx.await.unwrap_or_else(|_| Err(Error::closed()))
    }

    /// Publish and wait for the server's ack; returns the guid.
    pub async fn publish(&self, subject: &str, data: impl Into<Bytes>) -> Result<String, Error> {
        self.publish_async(subject, data).await?.await
    }

    /// Publish without waiting for the ack: returns once the message is
    /// handed to the session, with a future for its ack. Fails at once with
    /// `stan: max in flight reached.` when too many acks are outstanding.
    pub async fn publish_async(&self, subject: &str, data: impl Into<Bytes>) -> Result<PubAckFuture, Error> {
        let (subject, data) = (subject.to_string(), data.into());
        let (guid, rx) = self.call(|reply| Command::Publish { subject, data, reply }).await?;
        Ok(PubAckFuture { guid, rx })
    }

    /// Subscribe to channel `subject`; returns once the server accepted it.
    pub async fn subscribe(&self, subject: &str, opts: SubscriptionOptions) -> Result<Subscription, Error> {
        let s = subject.to_string();
        let (id, messages) = self.call(|reply| Command::Subscribe { subject: s, opts, reply }).await?;
        Ok(Subscription::new(id, subject.to_string(), messages, self.inner.commands.clone()))
    }

    /// Close the session: pending publishes fail with `stan: Connection
    /// closed`, subscriptions end, the server is told, NATS is closed.
    /// Calling it again (or after the connection was lost) returns `Ok`.
    pub async fn close(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Close { reply: tx }).is_err() {
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
