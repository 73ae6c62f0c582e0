//! [`Router`]: the Rust handle's side of the one session driver
//! ([`crate::shared`]). It is the driver's event sink: each batch of session
//! events completes the callers' pending replies (connect, PubAcks,
//! subscription ready/ended, close) and feeds subscription streams and the
//! connection-event broadcast. Handles register a reply while they hold the
//! session core, so no event can overtake its registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use stan_core::{Event, SubId, SubOp};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::connection::Inner;
use crate::events::ConnectionEvent;
use crate::message::Message;
use crate::shared::{EventSink, NatsErrorKind, SessionEvent};
use crate::Error;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// Per-subscription routing.
pub(crate) struct SubRoute {
    pub(crate) messages: mpsc::UnboundedSender<Message>,
    pub(crate) manual_acks: bool,
    pub(crate) ready: Option<Reply<()>>,
    pub(crate) ending: Option<Reply<()>>,
}

/// Pending replies and routes of one session.
pub(crate) struct Router {
    pub(crate) connected: Option<Reply<()>>,
    pub(crate) pubs: HashMap<String, Reply<()>>,
    pub(crate) subs: HashMap<SubId, SubRoute>,
    pub(crate) closing: Vec<Reply<()>>,
    events: broadcast::Sender<ConnectionEvent>,
    /// The handles' shared state, for the messages' acks (set once made).
    pub(crate) inner: Weak<Inner>,
}

impl Router {
    pub(crate) fn new(connected: Reply<()>, events: broadcast::Sender<ConnectionEvent>) -> Self {
        Router {
            connected: Some(connected),
            pubs: HashMap::new(),
            subs: HashMap::new(),
            closing: Vec::new(),
            events,
            inner: Weak::new(),
        }
    }

    /// The session is over: every reply still waiting (and every
    /// subscription stream) ends; callers see "Connection closed".
    fn end(&mut self) {
        self.connected = None;
        self.pubs.clear();
        self.subs.clear();
        self.closing.clear();
    }

    fn event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Core(ev) => self.core(ev),
            SessionEvent::Nats { kind: NatsErrorKind::ConnectFailed, text } => {
                if let Some(tx) = self.connected.take() {
                    let _ = tx.send(Err(Error::Nats(text)));
                }
            }
            SessionEvent::Nats { text, .. } => tracing::warn!(%text, "NATS error"),
            SessionEvent::Reconnecting | SessionEvent::Plain { .. } | SessionEvent::Flushed { .. } => {}
        }
    }

    fn core(&mut self, ev: Event) {
        match ev {
            Event::Connected => {
                if let Some(tx) = self.connected.take() {
                    let _ = tx.send(Ok(()));
                }
            }
            Event::ConnectFailed(e) => {
                if let Some(tx) = self.connected.take() {
                    let _ = tx.send(Err(e.into()));
                }
            }
            Event::PubAck { guid, result } => {
                if let Some(tx) = self.pubs.remove(&guid) {
                    let _ = tx.send(result.map_err(Error::from));
                }
            }
            Event::SubReady { sub } => {
                if let Some(tx) = self.subs.get_mut(&sub).and_then(|r| r.ready.take()) {
                    let _ = tx.send(Ok(()));
                }
            }
            Event::Message { sub, msg } => {
                let Some(route) = self.subs.get(&sub) else { return };
                let Some(inner) = self.inner.upgrade() else { return };
                let _ = route.messages.send(Message::new(msg, sub, route.manual_acks, inner));
            }
            Event::SubError { sub, op, error } | Event::SubTimeout { sub, op, error } => {
                let Some(route) = self.subs.get_mut(&sub) else { return };
                let tx = match op {
                    SubOp::Subscribe => route.ready.take(),
                    SubOp::Unsubscribe | SubOp::Close => route.ending.take(),
                    SubOp::Deliver => {
                        tracing::warn!(%error, "undecodable message dropped");
                        None
                    }
                };
                if let Some(tx) = tx {
                    let _ = tx.send(Err(error.into()));
                }
            }
            Event::Unsubscribed { sub } | Event::SubClosed { sub } => {
                if let Some(tx) = self.subs.get_mut(&sub).and_then(|r| r.ending.take()) {
                    let _ = tx.send(Ok(()));
                }
            }
            // Dropping the route ends the message stream; a reply still
            // waiting is dropped too and its caller sees "Connection closed".
            Event::SubEnded { sub } => {
                self.subs.remove(&sub);
            }
            Event::Disconnected => {
                let _ = self.events.send(ConnectionEvent::Disconnected);
            }
            Event::Reconnected => {
                let _ = self.events.send(ConnectionEvent::Reconnected);
            }
            Event::ConnectionLost(e) => {
                let _ = self.events.send(ConnectionEvent::ConnectionLost(e.into()));
            }
            Event::Closed(result) => {
                let result = result.map_err(Error::from);
                for tx in self.closing.drain(..) {
                    let _ = tx.send(result.clone());
                }
                let _ = self.events.send(ConnectionEvent::Closed(result));
                self.end();
            }
        }
    }
}

/// Lock `router` (a panic elsewhere does not poison the session).
pub(crate) fn lock(router: &Mutex<Router>) -> MutexGuard<'_, Router> {
    router.lock().unwrap_or_else(|e| e.into_inner())
}

/// The driver's sink: routes each batch; ends everything when dropped (the
/// driver drops it once the session is over, or if its task is cancelled).
pub(crate) struct RouterSink(pub(crate) Arc<Mutex<Router>>);

impl EventSink for RouterSink {
    fn deliver(&mut self, events: &mut Vec<SessionEvent>) {
        let mut router = lock(&self.0);
        for ev in events.drain(..) {
            router.event(ev);
        }
    }
}

impl Drop for RouterSink {
    fn drop(&mut self) {
        lock(&self.0).end();
    }
}
