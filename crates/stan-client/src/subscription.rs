//! `Subscription`: a `Stream` of [`Message`]s plus unsubscribe/close.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use stan_core::{SubId, SubOp};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::connection::Inner;
use crate::{Error, Message};

/// A live subscription. It yields messages until it is unsubscribed or
/// closed, or the connection ends. Dropping it without `close()` leaves the
/// server-side subscription in place until the connection closes.
#[derive(Debug)]
pub struct Subscription {
    id: SubId,
    subject: String,
    messages: mpsc::UnboundedReceiver<Message>,
    session: Arc<Inner>,
}

impl Subscription {
    pub(crate) fn new(
        id: SubId,
        subject: String,
        messages: mpsc::UnboundedReceiver<Message>,
        session: Arc<Inner>,
    ) -> Self {
        Subscription { id, subject, messages, session }
    }

    /// The channel.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Remove the subscription on the server (a durable is deleted). Local
    /// delivery stops at once. A second call fails with `stan: invalid subscription`.
    pub async fn unsubscribe(&self) -> Result<(), Error> {
        self.end(SubOp::Unsubscribe).await
    }

    /// Close the subscription (a durable stays on the server, offline).
    /// A second call fails with `stan: invalid subscription`.
    pub async fn close(&self) -> Result<(), Error> {
        self.end(SubOp::Close).await
    }

    async fn end(&self, op: SubOp) -> Result<(), Error> {
        self.session.end_sub(self.id, op).await
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.messages.poll_recv(cx)
    }
}
