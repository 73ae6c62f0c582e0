//! Node.js addon behind the node-nats-streaming compatible JS facade.
//!
//! Two classes with the same command methods and event batches:
//! `JsStan` (module `js_stan`, the default) whose NATS socket the JS thread owns
//! (`lib/transport.js`; protocol work in `stan-session`, no thread hand-off),
//! and [`NativeStan`] (`STAN_RS_TRANSPORT=thread`), which wraps a
//! `stan_client::shared::SharedSession`:
//! commands (`publish`, `subscribe`, `ackMany`, ...) run synchronously on the
//! JS thread against the session core, so a publish returns its guid (or
//! throws) at once; the driver task on napi's tokio runtime does the NATS
//! I/O. Events travel the other way in batches: the driver packs them into
//! an [`batch::Outbox`] and calls the one JS callback (a threadsafe function)
//! only when no wake-up is pending; the callback then drains everything with
//! `takeEvents()`. While JS is busy, events pile up into one batch.
//!
//! Lifetime: the callback is a strong threadsafe function owned by the driver
//! task, so Node stays alive while the session runs; it is released when the
//! session ends (after the batch holding `close`), so Node can exit. No
//! async-nats object is ever held by the JS object.

#![deny(clippy::all)]

mod ack_slots;
mod batch;
mod errors;
mod js_stan;
mod options;

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{Buffer, Float64Array, Uint8ArraySlice};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use stan_client::hop_trace::{self, Hop};
use stan_client::shared::{PlainOp, SessionEvent, SharedSession};
use stan_core::SubId;

use batch::Outbox;
pub use js_stan::{js_publish_on, JsStan};
pub use options::{NativeOptions, NativeSubOptions};

/// The JS wake-up callback: called with no argument, returns nothing.
type WakeFn = ThreadsafeFunction<(), (), (), Status, false>;

/// One batch of events (layout in `batch.rs`).
#[napi(object)]
pub struct EventBatch {
    pub nums: Float64Array,
    pub data: Buffer,
    pub strs: Vec<String>,
    /// Publish guids back to back (records of kind 3 index into it).
    pub ids: String,
}

/// What the handshake told us, for the facade's compatibility properties.
#[napi(object)]
pub struct SessionInfo {
    pub conn_id: String,
    pub ack_subject: String,
    pub heartbeat_inbox: String,
    pub ping_inbox: String,
    pub pub_prefix: Option<String>,
    pub sub_requests: Option<String>,
    pub unsub_requests: Option<String>,
    pub sub_close_requests: Option<String>,
    pub close_requests: Option<String>,
    pub ping_requests: Option<String>,
    /// ms, as echoed by the server (absent when pings do not run).
    pub stan_ping_interval: Option<f64>,
    pub stan_max_ping_out: Option<i32>,
    pub pub_acks_outstanding: u32,
}

/// Subscription details once the server answered.
#[napi(object)]
pub struct SubInfo {
    pub inbox: String,
    pub ack_inbox: Option<String>,
}

fn lock(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handshake details and counters of `c`.
fn session_info(c: &stan_core::Connection) -> SessionInfo {
    let srv = c.server_subjects();
    let get = |f: fn(&stan_core::ServerSubjects) -> &String| srv.map(|s| f(s).clone());
    SessionInfo {
        conn_id: String::from_utf8_lossy(c.conn_id()).into_owned(),
        ack_subject: c.ack_subject().to_string(),
        heartbeat_inbox: c.heartbeat_inbox().to_string(),
        ping_inbox: c.ping_inbox().to_string(),
        pub_prefix: get(|s| &s.pub_prefix),
        sub_requests: get(|s| &s.sub_requests),
        unsub_requests: get(|s| &s.unsub_requests),
        sub_close_requests: get(|s| &s.sub_close_requests),
        close_requests: get(|s| &s.close_requests),
        ping_requests: get(|s| &s.ping_requests),
        stan_ping_interval: c.ping_interval().map(|d| d.as_millis() as f64),
        stan_max_ping_out: c.ping_max_out(),
        pub_acks_outstanding: u32::try_from(c.pending_pub_acks()).unwrap_or(u32::MAX),
    }
}

/// The driver side of the outbox: packs each batch and wakes JS if needed.
struct Sink {
    outbox: Arc<Mutex<Outbox>>,
    wake: WakeFn,
}

impl stan_client::shared::EventSink for Sink {
    fn deliver(&mut self, events: &mut Vec<SessionEvent>) {
        let delivery = cfg!(feature = "hop-trace")
            && events.iter().any(|e| matches!(e, SessionEvent::Core(stan_core::Event::Message { .. })));
        let call = {
            let mut o = lock(&self.outbox);
            for ev in events.drain(..) {
                o.push(ev);
            }
            let call = !o.scheduled && !o.is_empty();
            o.scheduled |= call;
            call
        };
        if delivery {
            hop_trace::mark(Hop::WakeCaller);
        }
        if call {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// The latest CLOCK_MONOTONIC ns of each round-trip hop (stan-client's
/// `hop_trace`; all zero unless built with the `hop-trace` feature).
#[napi]
pub fn hop_marks() -> Vec<f64> {
    hop_trace::marks().iter().map(|&ns| ns as f64).collect()
}

/// One STAN connection.
#[napi]
pub struct NativeStan {
    session: SharedSession,
    outbox: Arc<Mutex<Outbox>>,
    /// Channel names registered by `registerSubject`, by handle: a publish
    /// passes a small integer instead of converting the JS string each time.
    subjects: RefCell<Vec<String>>,
}

#[napi]
impl NativeStan {
    /// Start connecting. Throws on empty IDs or an unusable server URL.
    /// `onEvents` is called (with no argument) whenever `takeEvents()` has
    /// something; it is released once the session is over.
    #[napi(
        constructor,
        ts_args_type = "clusterId: string, clientId: string, options: NativeOptions, onEvents: () => void"
    )]
    pub fn new(
        cluster_id: String,
        client_id: String,
        options: NativeOptions,
        on_events: WakeFn,
    ) -> Result<Self, napi::Error<String>> {
        let outbox = Arc::new(Mutex::new(Outbox::default()));
        let sink = Sink { outbox: outbox.clone(), wake: on_events };
        let client_options = options.to_client();
        let session = napi::bindgen_prelude::within_runtime_if_available(|| {
            SharedSession::start(&cluster_id, &client_id, &client_options, sink, rand::random())
        })
        .map_err(|e| errors::throw_client(&e))?;
        Ok(NativeStan { session, outbox, subjects: RefCell::new(Vec::new()) })
    }

    /// Everything that happened since the last call.
    #[napi]
    pub fn take_events(&self) -> EventBatch {
        hop_trace::mark(Hop::EventsTaken);
        let (nums, data, strs, ids) = {
            let mut o = lock(&self.outbox);
            o.scheduled = false;
            (
                std::mem::take(&mut o.nums),
                std::mem::take(&mut o.data),
                std::mem::take(&mut o.strs),
                std::mem::take(&mut o.ids),
            )
        };
        EventBatch { nums: Float64Array::new(nums), data: Buffer::from(data), strs, ids }
    }

    /// Publish bytes; returns the guid. Throws `CONN_CLOSED`,
    /// `MAX_FLIGHT_LIMIT_REACHED` or `BAD_SUBJECT`.
    #[napi]
    pub fn publish(&self, subject: String, data: Uint8ArraySlice) -> Result<String, napi::Error<String>> {
        hop_trace::mark(Hop::PublishCall);
        let bytes: &[u8] = &data;
        let r = self
            .session
            .with(|c, now| {
                let r = c.publish(now, &subject, bytes);
                hop_trace::mark(Hop::PublishQueued);
                r
            })
            .map_err(|e| errors::throw(&e));
        hop_trace::mark(Hop::PublishReturned);
        r
    }

    /// A handle for channel `subject`, for `publishOn`. Not checked here:
    /// every publish checks its subject (a bad one throws `BAD_SUBJECT`).
    #[napi]
    pub fn register_subject(&self, subject: String) -> u32 {
        let mut subjects = self.subjects.borrow_mut();
        subjects.push(subject);
        u32::try_from(subjects.len() - 1).unwrap_or(u32::MAX)
    }

    /// `publish` on the channel of handle `subject` (from `registerSubject`).
    /// Throws as `publish`, or `STAN_ERROR` for an unknown handle.
    #[napi]
    pub fn publish_on(&self, subject: u32, data: Uint8ArraySlice) -> Result<String, napi::Error<String>> {
        hop_trace::mark(Hop::PublishCall);
        let subjects = self.subjects.borrow();
        let Some(subject) = subjects.get(subject as usize) else {
            return Err(napi::Error::new("STAN_ERROR".to_string(), "unknown subject handle".to_string()));
        };
        let bytes: &[u8] = &data;
        let r = self
            .session
            .with(|c, now| {
                let r = c.publish(now, subject, bytes);
                hop_trace::mark(Hop::PublishQueued);
                r
            })
            .map_err(|e| errors::throw(&e));
        hop_trace::mark(Hop::PublishReturned);
        r
    }

    /// Publish a string as UTF-8; returns the guid (errors as `publish`).
    #[napi]
    pub fn publish_string(&self, subject: String, data: String) -> Result<String, napi::Error<String>> {
        self.session.with(|c, now| c.publish(now, &subject, data.as_bytes())).map_err(|e| errors::throw(&e))
    }

    /// Subscribe; returns the subscription id used in events. Throws
    /// `CONN_CLOSED`, `BAD_SUBJECT`, `BAD_ACK_WAIT` (ack wait not whole
    /// seconds) or `SERVER_ERROR` (options the server would refuse, with its text).
    #[napi]
    pub fn subscribe(&self, subject: String, options: NativeSubOptions) -> Result<u32, napi::Error<String>> {
        let opts = options.to_core().map_err(|e| errors::throw(&e))?;
        let id = self.session.with(|c, now| c.subscribe(now, &subject, opts)).map_err(|e| errors::throw(&e))?;
        u32::try_from(id.0)
            .map_err(|_| napi::Error::new("STAN_ERROR".to_string(), "too many subscriptions".to_string()))
    }

    /// Ack messages: `pairs` is `[subId, sequence, subId, sequence, ...]`.
    /// Acks for closed subscriptions are dropped.
    #[napi]
    pub fn ack_many(&self, pairs: Float64Array) {
        let pairs: &[f64] = &pairs;
        self.session.with(|c, _| {
            for p in pairs.chunks_exact(2) {
                let _ = c.ack(SubId(p[0] as u64), p[1] as u64);
            }
        });
    }

    /// Unsubscribe (the durable is removed). Throws `BAD_SUBSCRIPTION` or `CONN_CLOSED`.
    #[napi]
    pub fn unsubscribe(&self, sub: u32) -> Result<(), napi::Error<String>> {
        self.session.with(|c, now| c.unsubscribe(now, SubId(sub.into()))).map_err(|e| errors::throw(&e))
    }

    /// Close the subscription (a durable stays). Throws `BAD_SUBSCRIPTION`,
    /// `CONN_CLOSED` or `NO_SERVER_SUPPORT`.
    #[napi]
    pub fn close_subscription(&self, sub: u32) -> Result<(), napi::Error<String>> {
        self.session.with(|c, now| c.close_subscription(now, SubId(sub.into()))).map_err(|e| errors::throw(&e))
    }

    /// Close the connection (no-op when closing or closed).
    #[napi]
    pub fn close(&self) {
        self.session.with(|c, now| c.close(now));
    }

    /// Core-NATS publish beside STAN (`sc.nc.publish`). Throws `CONN_CLOSED`,
    /// `BAD_SUBJECT` or `MAX_PAYLOAD_EXCEEDED`.
    #[napi]
    pub fn nc_publish(
        &self,
        subject: String,
        reply: Option<String>,
        data: Uint8ArraySlice,
    ) -> Result<(), napi::Error<String>> {
        let payload = bytes::Bytes::copy_from_slice(&data);
        self.session.plain(PlainOp::Publish { subject, reply, payload }).map_err(|e| errors::throw(&e))
    }

    /// Core-NATS subscription `id` (chosen by the caller, unique per session);
    /// its messages arrive as event records of kind 17.
    #[napi]
    pub fn nc_subscribe(&self, id: u32, subject: String, queue: Option<String>) -> Result<(), napi::Error<String>> {
        self.session.plain(PlainOp::Subscribe { id: id.into(), subject, queue }).map_err(|e| errors::throw(&e))
    }

    /// End core-NATS subscription `id`.
    #[napi]
    pub fn nc_unsubscribe(&self, id: u32) -> Result<(), napi::Error<String>> {
        self.session.plain(PlainOp::Unsubscribe { id: id.into() }).map_err(|e| errors::throw(&e))
    }

    /// Round trip to the NATS server; the outcome arrives as a record of kind 18.
    #[napi]
    pub fn nc_flush(&self, id: u32) -> Result<(), napi::Error<String>> {
        self.session.plain(PlainOp::Flush { id: id.into() }).map_err(|e| errors::throw(&e))
    }

    /// True once the session is over.
    #[napi]
    pub fn is_closed(&self) -> bool {
        self.session.with(|c, _| c.is_closed())
    }

    /// Publishes whose ack has not reached the session yet.
    #[napi]
    pub fn pending_pub_acks(&self) -> u32 {
        self.session.with(|c, _| u32::try_from(c.pending_pub_acks()).unwrap_or(u32::MAX))
    }

    /// Handshake details and counters.
    #[napi]
    pub fn info(&self) -> SessionInfo {
        self.session.with(|c, _| session_info(c))
    }

    /// A subscription's inboxes, while it exists.
    #[napi]
    pub fn sub_info(&self, sub: u32) -> Option<SubInfo> {
        self.session
            .with(|c, _| c.subscription(SubId(sub.into())))
            .map(|s| SubInfo { inbox: s.inbox, ack_inbox: s.ack_inbox })
    }
}
