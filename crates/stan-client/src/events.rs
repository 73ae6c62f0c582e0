//! Connection-level events the application can listen to.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio_stream::wrappers::BroadcastStream;

use crate::Error;

/// Something that happened to the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The NATS connection dropped; it is reconnecting.
    Disconnected,
    /// The NATS connection is back (no STAN re-handshake; pings check it).
    Reconnected,
    /// Pings failed or the server disowned this client; the connection is
    /// over and must be rebuilt, subscriptions included.
    ConnectionLost(Error),
    /// The connection is closed (`Err` only if `close()` itself failed).
    Closed(Result<(), Error>),
}

/// A stream of [`ConnectionEvent`]s from [`crate::Connection::events`].
/// Events sent before it was created are not seen; a listener that falls
/// more than 256 events behind skips the oldest.
pub struct EventStream {
    inner: BroadcastStream<ConnectionEvent>,
}

impl EventStream {
    pub(crate) fn new(rx: tokio::sync::broadcast::Receiver<ConnectionEvent>) -> Self {
        EventStream { inner: BroadcastStream::new(rx) }
    }
}

impl Stream for EventStream {
    type Item = ConnectionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnectionEvent>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(e))) => return Poll::Ready(Some(e)),
                Poll::Ready(Some(Err(_lagged))) => continue,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
