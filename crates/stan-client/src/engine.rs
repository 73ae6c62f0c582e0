//! The task that owns the `stan_core::Connection`: it feeds it commands,
//! NATS messages, NATS status changes and the clock, and routes what the
//! core emits. It makes no protocol decisions of its own.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use stan_core::{Event, SubId, SubOp, SubscriptionOptions};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::events::ConnectionEvent;
use crate::message::Message;
use crate::nats_link::{Inbound, Outbound};
use crate::Error;

/// Most NATS messages handled before the engine looks at its other inputs.
const MAX_MESSAGES_PER_TURN: usize = 512;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// What handles ask the engine to do.
#[derive(Debug)]
pub(crate) enum Command {
    Publish { subject: String, data: Bytes, reply: Reply<(String, oneshot::Receiver<Result<(), Error>>)> },
    Subscribe { subject: String, opts: SubscriptionOptions, reply: Reply<(SubId, mpsc::UnboundedReceiver<Message>)> },
    Ack { sub: SubId, sequence: u64 },
    EndSub { sub: SubId, op: SubOp, reply: Reply<()> },
    Close { reply: Reply<()> },
}

/// NATS connection status, from async-nats' event callback.
#[derive(Debug)]
pub(crate) enum NatsStatus {
    Connected,
    Disconnected,
}

/// Per-subscription routing.
struct SubRoute {
    messages: mpsc::UnboundedSender<Message>,
    manual_acks: bool,
    ready: Option<Reply<(SubId, mpsc::UnboundedReceiver<Message>)>>,
    /// The receiver handed out with `ready`.
    receiver: Option<mpsc::UnboundedReceiver<Message>>,
    ending: Option<Reply<()>>,
}

pub(crate) struct Engine {
    core: stan_core::Connection,
    epoch: Instant,
    commands_weak: mpsc::WeakUnboundedSender<Command>,
    events: broadcast::Sender<ConnectionEvent>,
    connected: Option<Reply<()>>,
    pubs: HashMap<String, oneshot::Sender<Result<(), Error>>>,
    subs: HashMap<SubId, SubRoute>,
    closing: Vec<Reply<()>>,
    seen_first_nats_connect: bool,
}

/// The inputs of one engine task.
pub(crate) struct EngineInputs {
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) nats: async_nats::Client,
    pub(crate) status: mpsc::UnboundedReceiver<NatsStatus>,
}

impl Engine {
    pub(crate) fn new(
        core: stan_core::Connection,
        epoch: Instant,
        commands_weak: mpsc::WeakUnboundedSender<Command>,
        events: broadcast::Sender<ConnectionEvent>,
        connected: Reply<()>,
    ) -> Self {
        Engine {
            core,
            epoch,
            commands_weak,
            events,
            connected: Some(connected),
            pubs: HashMap::new(),
            subs: HashMap::new(),
            closing: Vec::new(),
            seen_first_nats_connect: false,
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Pump until the session is closed.
    pub(crate) async fn run(mut self, mut inputs: EngineInputs) {
        let mut commands_open = true;
        let mut out = Outbound::new(inputs.nats.clone());
        let mut inbound = Inbound::default();
        loop {
            self.flush(&mut out, &mut inbound);
            if self.core.is_closed() {
                break;
            }
            let deadline = self.core.poll_timeout().map(|d| self.epoch + d);
            tokio::select! {
                cmd = inputs.commands.recv(), if commands_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        // Every handle is gone: close the session politely.
                        commands_open = false;
                        let now = self.now();
                        self.core.close(now);
                    }
                },
                msg = inbound.next() => {
                    let now = self.now();
                    self.core.handle_message(now, msg);
                    for _ in 1..MAX_MESSAGES_PER_TURN {
                        match inbound.try_next() {
                            Some(m) => self.core.handle_message(now, m),
                            None => break,
                        }
                    }
                }
                effect = out.unparked() => {
                    if let Some(e) = effect {
                        e.apply(&mut inbound);
                    }
                }
                Some(status) = inputs.status.recv() => match status {
                    NatsStatus::Connected if !self.seen_first_nats_connect => self.seen_first_nats_connect = true,
                    NatsStatus::Connected => {
                        self.core.set_max_payload(out.client().server_info().max_payload);
                        self.core.handle_nats_reconnected()
                    }
                    NatsStatus::Disconnected => {
                        self.seen_first_nats_connect = true;
                        self.core.handle_nats_disconnected();
                    }
                },
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
            }
        }
        // Refuse commands from now on, and answer the ones already queued
        // ("Connection closed", their reply senders are dropped) before
        // the bounded wait for NATS below, not after it.
        inputs.commands.close();
        while inputs.commands.try_recv().is_ok() {}
        drop(inbound);
        out.finish(Duration::from_secs(2)).await;
    }

    fn command(&mut self, cmd: Command) {
        let now = self.now();
        match cmd {
            Command::Publish { subject, data, reply } => match self.core.publish(now, &subject, data) {
                Ok(guid) => {
                    let (tx, rx) = oneshot::channel();
                    self.pubs.insert(guid.clone(), tx);
                    let _ = reply.send(Ok((guid, rx)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Subscribe { subject, opts, reply } => {
                let manual_acks = opts.manual_acks;
                match self.core.subscribe(now, &subject, opts) {
                    Ok(sub) => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        let route = SubRoute {
                            messages: tx,
                            manual_acks,
                            ready: Some(reply),
                            receiver: Some(rx),
                            ending: None,
                        };
                        self.subs.insert(sub, route);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Ack { sub, sequence } => {
                let _ = self.core.ack(sub, sequence);
            }
            Command::EndSub { sub, op, reply } => {
                let r = match op {
                    SubOp::Close => self.core.close_subscription(now, sub),
                    _ => self.core.unsubscribe(now, sub),
                };
                match (r, self.subs.get_mut(&sub)) {
                    (Ok(()), Some(route)) => route.ending = Some(reply),
                    (Ok(()), None) => {
                        let _ = reply.send(Ok(()));
                    }
                    (Err(e), _) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Close { reply } => {
                if self.core.is_closed() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.closing.push(reply);
                    self.core.close(now);
                }
            }
        }
    }

    /// Hand NATS operations to async-nats and route events.
    fn flush(&mut self, out: &mut Outbound, inbound: &mut Inbound) {
        loop {
            let mut progressed = false;
            while let Some(op) = self.core.poll_transmit() {
                progressed = true;
                out.push(op);
            }
            out.pump(inbound);
            while let Some(ev) = self.core.poll_event() {
                progressed = true;
                self.event(ev);
            }
            if !progressed {
                break;
            }
        }
    }

    fn event(&mut self, ev: Event) {
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
                if let Some(route) = self.subs.get_mut(&sub) {
                    if let (Some(tx), Some(rx)) = (route.ready.take(), route.receiver.take()) {
                        let _ = tx.send(Ok((sub, rx)));
                    }
                }
            }
            Event::Message { sub, msg } => {
                let Some(route) = self.subs.get(&sub) else { return };
                let Some(commands) = self.commands_weak.upgrade() else { return };
                let _ = route.messages.send(Message::new(msg, sub, route.manual_acks, commands));
            }
            Event::SubError { sub, op, error } | Event::SubTimeout { sub, op, error } => {
                let Some(route) = self.subs.get_mut(&sub) else { return };
                match op {
                    SubOp::Subscribe => {
                        if let Some(tx) = route.ready.take() {
                            let _ = tx.send(Err(error.into()));
                        }
                    }
                    SubOp::Unsubscribe | SubOp::Close => {
                        if let Some(tx) = route.ending.take() {
                            let _ = tx.send(Err(error.into()));
                        }
                    }
                    SubOp::Deliver => tracing::warn!(%error, "undecodable message dropped"),
                }
            }
            Event::Unsubscribed { sub } | Event::SubClosed { sub } => {
                if let Some(tx) = self.subs.get_mut(&sub).and_then(|r| r.ending.take()) {
                    let _ = tx.send(Ok(()));
                }
            }
            Event::SubEnded { sub } => {
                // Dropping the route ends the message stream; any reply still
                // waiting is dropped too and its caller sees "Connection closed".
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
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
