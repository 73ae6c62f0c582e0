//! The NATS side of the driver: one writer task performs the session's NATS
//! operations in order (so the engine never blocks on a full or reconnecting
//! connection), and one reader task per NATS subscription forwards messages.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use stan_core::{IncomingMessage, NatsOp, Sid};
use tokio::sync::{mpsc, oneshot};

/// What the writer task is asked to do.
#[derive(Debug)]
pub(crate) enum WriterOp {
    Nats(NatsOp),
    /// Flush, stop every reader and drop the NATS client.
    Shutdown,
}

/// Run the writer until `Shutdown` or until the engine is gone.
pub(crate) async fn run_writer(
    client: async_nats::Client,
    mut ops: mpsc::UnboundedReceiver<WriterOp>,
    incoming: mpsc::Sender<IncomingMessage>,
) {
    let mut readers: HashMap<Sid, oneshot::Sender<()>> = HashMap::new();
    while let Some(op) = ops.recv().await {
        match op {
            WriterOp::Nats(NatsOp::Subscribe { sid, subject }) => match client.subscribe(subject.clone()).await {
                Ok(sub) => {
                    let (stop_tx, stop_rx) = oneshot::channel();
                    readers.insert(sid, stop_tx);
                    tokio::spawn(run_reader(sid, sub, stop_rx, incoming.clone()));
                }
                Err(e) => tracing::warn!(%subject, error = %e, "NATS subscribe failed"),
            },
            WriterOp::Nats(NatsOp::Unsubscribe { sid }) => {
                if let Some(stop) = readers.remove(&sid) {
                    let _ = stop.send(());
                }
            }
            WriterOp::Nats(NatsOp::Publish { subject, reply, payload }) => {
                let r = match reply {
                    Some(reply) => client.publish_with_reply(subject, reply, payload).await,
                    None => client.publish(subject, payload).await,
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "NATS publish failed");
                }
            }
            WriterOp::Shutdown => break,
        }
    }
    for (_, stop) in readers.drain() {
        let _ = stop.send(());
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
}

/// Forward one subscription's messages, tagged with its sid, until stopped.
/// NATS status messages (such as 503 "no responders") are not STAN messages
/// and are dropped here.
async fn run_reader(
    sid: Sid,
    mut sub: async_nats::Subscriber,
    mut stop: oneshot::Receiver<()>,
    incoming: mpsc::Sender<IncomingMessage>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => {
                let _ = sub.unsubscribe().await;
                return;
            }
            m = sub.next() => {
                let Some(m) = m else { return };
                if m.status.is_some() {
                    continue;
                }
                let msg = IncomingMessage {
                    sid,
                    subject: m.subject.to_string(),
                    reply: m.reply.map(|r| r.to_string()),
                    payload: m.payload,
                };
                if incoming.send(msg).await.is_err() {
                    return;
                }
            }
        }
    }
}
