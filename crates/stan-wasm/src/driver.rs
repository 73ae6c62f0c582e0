//! `WasmStan`: the wasm-bindgen class. It owns one WebSocket and one
//! [`NatsSession`], pumps the session after every input (socket bytes, timer,
//! command) and hands the core's events to one JS callback, batched per turn
//! (a microtask).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use stan_core::{Connection, SubId};
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::events;
use crate::js::{self, Obj};
use stan_session::NatsSession;

/// The closures the socket and timers call; dropped when the session ends.
struct Handlers {
    on_open: Closure<dyn FnMut()>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_close: Closure<dyn FnMut(CloseEvent)>,
    on_timer: Closure<dyn FnMut()>,
}

struct Inner {
    session: NatsSession,
    ws: WebSocket,
    callback: js_sys::Function,
    handlers: Option<Handlers>,
    /// Kept for the whole life of the session: the last batch (with
    /// `closed`) is flushed after the socket handlers are gone.
    on_flush: Option<Closure<dyn FnMut(JsValue)>>,
    /// The armed timer: its handle and deadline.
    timer: Option<(JsValue, Duration)>,
    batch: Vec<JsValue>,
    flush_scheduled: bool,
    opened: bool,
    ws_closed: bool,
}

type Shared = Rc<RefCell<Inner>>;

/// One STAN connection over a NATS WebSocket (see `npm/wasm/lib/stan.js`).
#[wasm_bindgen]
pub struct WasmStan {
    inner: Shared,
}

fn with(weak: &std::rc::Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    if let Some(rc) = weak.upgrade() {
        if let Ok(mut inner) = rc.try_borrow_mut() {
            f(&mut inner);
        }
    }
}

fn make_handlers(shared: &Shared) -> (Handlers, Closure<dyn FnMut(JsValue)>) {
    // The socket's handlers hold strong references (an open socket keeps the
    // client alive); they are dropped when the session ends, breaking the cycle.
    let s = shared.clone();
    let on_open = Closure::new(move || {
        s.borrow_mut().opened = true;
    });
    let s = shared.clone();
    let on_message = Closure::new(move |e: MessageEvent| {
        let mut inner = s.borrow_mut();
        let data = e.data();
        let bytes = match data.dyn_ref::<js_sys::ArrayBuffer>() {
            Some(buf) => js_sys::Uint8Array::new(buf).to_vec(),
            None => data.as_string().map(String::into_bytes).unwrap_or_default(),
        };
        if let Err(err) = inner.session.on_bytes(js::now(), &bytes) {
            inner.push(
                Obj::new()
                    .set("type", "nats_error")
                    .set("phase", 2)
                    .set("code", "NATS_PROTOCOL_ERROR")
                    .set("message", err.to_string())
                    .into_js(),
            );
            let _ = inner.ws.close();
        }
        while let Some(ev) = inner.session.poll_event() {
            // Plain core-NATS traffic and server discovery are Node-only.
            let stan_session::NatsEvent::Error { class, text } = ev else { continue };
            inner.push(
                Obj::new()
                    .set("type", "nats_error")
                    .set("phase", class.phase())
                    .set("code", class.code())
                    .set("message", text)
                    .into_js(),
            );
        }
        inner.pump();
    });
    let weak = Rc::downgrade(shared);
    let on_close = Closure::new(move |_e: CloseEvent| {
        let mut dead = None;
        with(&weak, |inner| {
            inner.ws_closed = true;
            if !inner.opened {
                let msg = format!("Could not connect to server: WebSocket connection to {} failed", inner.ws.url());
                inner.push(
                    Obj::new()
                        .set("type", "nats_error")
                        .set("phase", stan_core::js::NatsErrorClass::ConnectFailed.phase())
                        .set("code", stan_core::js::NatsErrorClass::ConnectFailed.code())
                        .set("message", msg)
                        .into_js(),
                );
            } else {
                inner.session.core_mut().handle_nats_disconnected();
            }
            inner.session.core_mut().handle_nats_closed();
            inner.pump();
            dead = inner.retire();
        });
        drop(dead);
    });
    let weak = Rc::downgrade(shared);
    let on_timer = Closure::new(move || {
        with(&weak, |inner| {
            inner.timer = None;
            inner.session.core_mut().handle_timeout(js::now());
            inner.pump();
        })
    });
    let weak = Rc::downgrade(shared);
    let on_flush = Closure::new(move |_: JsValue| {
        let Some(rc) = weak.upgrade() else { return };
        let (batch, callback) = {
            let mut inner = rc.borrow_mut();
            inner.flush_scheduled = false;
            (std::mem::take(&mut inner.batch), inner.callback.clone())
        };
        if !batch.is_empty() {
            let arr: js_sys::Array = batch.into_iter().collect();
            // Listener exceptions are the facade's business; keep pumping.
            let _ = callback.call1(&JsValue::NULL, &arr);
        }
    });
    (Handlers { on_open, on_message, on_close, on_timer }, on_flush)
}

impl Inner {
    fn push(&mut self, record: JsValue) {
        self.batch.push(record);
        if !self.flush_scheduled {
            if let Some(f) = &self.on_flush {
                self.flush_scheduled = true;
                let _ = js_sys::Promise::resolve(&JsValue::UNDEFINED).then(f);
            }
        }
    }

    /// Move the core's events to the batch, its ops to the socket, and re-arm the timer.
    fn pump(&mut self) {
        while let Some(ev) = self.session.core_mut().poll_event() {
            self.push(events::to_js(ev));
        }
        let out = self.session.take_output();
        if !out.is_empty() && !self.ws_closed && self.ws.ready_state() == WebSocket::OPEN {
            let _ = self.ws.send_with_u8_array(&out);
        }
        let deadline = self.session.core_mut().poll_timeout();
        if self.timer.as_ref().map(|t| t.1) != deadline {
            if let Some((id, _)) = self.timer.take() {
                js::clear_timeout(&id);
            }
            if let (Some(d), Some(h)) = (deadline, &self.handlers) {
                let ms = d.saturating_sub(js::now()).as_secs_f64() * 1000.0;
                let id = js::set_timeout(h.on_timer.as_ref().unchecked_ref(), ms.ceil());
                self.timer = Some((id, d));
            }
        }
        if self.session.core().is_closed() && !self.ws_closed {
            self.ws_closed = true;
            let _ = self.ws.close();
        }
    }

    /// The session is over: detach the socket handlers and hand the closures
    /// back to be dropped (after the borrow ends).
    fn retire(&mut self) -> Option<Handlers> {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        if let Some((id, _)) = self.timer.take() {
            js::clear_timeout(&id);
        }
        self.handlers.take()
    }
}

#[wasm_bindgen]
impl WasmStan {
    /// Open the WebSocket and start the session. `on_events` receives arrays
    /// of `{ type, ... }` records. Throws `BAD_CLUSTER_ID`/`BAD_CLIENT_ID` or
    /// `BAD_URL`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        cluster_id: String,
        client_id: String,
        options: JsValue,
        on_events: js_sys::Function,
    ) -> Result<WasmStan, JsValue> {
        let opts = js::driver_options(&options);
        let config = opts.connect_config(&cluster_id, &client_id);
        let core = Connection::new(config, js::seed(), js::now()).map_err(|e| js::stan_error(&e))?;
        let ws = WebSocket::new(&opts.url).map_err(|e| {
            let text = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_default();
            js::error("BAD_URL", &format!("stan: invalid WebSocket URL {:?}: {text}", opts.url))
        })?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let inner = Rc::new(RefCell::new(Inner {
            session: NatsSession::new(core, opts.connect_info()),
            ws: ws.clone(),
            callback: on_events,
            handlers: None,
            on_flush: None,
            timer: None,
            batch: Vec::new(),
            flush_scheduled: false,
            opened: false,
            ws_closed: false,
        }));
        let (h, on_flush) = make_handlers(&inner);
        ws.set_onopen(Some(h.on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(h.on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(h.on_close.as_ref().unchecked_ref()));
        inner.borrow_mut().handlers = Some(h);
        inner.borrow_mut().on_flush = Some(on_flush);
        inner.borrow_mut().pump();
        Ok(WasmStan { inner })
    }

    fn run<T>(&self, f: impl FnOnce(&mut Connection, Duration) -> Result<T, stan_core::Error>) -> Result<T, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let r = f(inner.session.core_mut(), js::now());
        inner.pump();
        r.map_err(|e| js::stan_error(&e))
    }

    /// Publish bytes; returns the guid.
    pub fn publish(&self, subject: &str, data: &[u8]) -> Result<String, JsValue> {
        self.run(|c, now| c.publish(now, subject, data))
    }

    /// Publish a string as UTF-8; returns the guid.
    #[wasm_bindgen(js_name = publishString)]
    pub fn publish_string(&self, subject: &str, data: &str) -> Result<String, JsValue> {
        self.run(|c, now| c.publish(now, subject, data.as_bytes()))
    }

    /// Subscribe; returns the subscription id.
    pub fn subscribe(&self, subject: &str, options: JsValue) -> Result<f64, JsValue> {
        let opts = js::sub_options(&options).to_core().map_err(|e| js::stan_error(&e))?;
        self.run(|c, now| c.subscribe(now, subject, opts)).map(|id| id.0 as f64)
    }

    /// Ack `(sub, seq)` pairs laid out flat.
    #[wasm_bindgen(js_name = ackMany)]
    pub fn ack_many(&self, pairs: &[f64]) {
        let _ = self.run(|c, _| {
            for p in pairs.chunks_exact(2) {
                c.ack(SubId(p[0] as u64), p[1] as u64)?;
            }
            Ok(())
        });
    }

    /// Unsubscribe (the durable is removed).
    pub fn unsubscribe(&self, sub: f64) -> Result<(), JsValue> {
        self.run(|c, now| c.unsubscribe(now, SubId(sub as u64)))
    }

    /// Close the subscription (a durable is kept).
    #[wasm_bindgen(js_name = closeSubscription)]
    pub fn close_subscription(&self, sub: f64) -> Result<(), JsValue> {
        self.run(|c, now| c.close_subscription(now, SubId(sub as u64)))
    }

    /// Close the session; `closed` follows.
    pub fn close(&self) {
        let _ = self.run(|c, now| {
            c.close(now);
            Ok(())
        });
    }

    /// Publishes waiting for their ack.
    #[wasm_bindgen(js_name = pendingPubAcks)]
    pub fn pending_pub_acks(&self) -> f64 {
        self.inner.borrow().session.core().pending_pub_acks() as f64
    }

    /// Session identity and, once connected, the server's subjects.
    pub fn info(&self) -> JsValue {
        let inner = self.inner.borrow();
        let c = inner.session.core();
        let mut o = Obj::new()
            .set("ackSubject", c.ack_subject())
            .set("connId", String::from_utf8_lossy(c.conn_id()).into_owned());
        if let Some(s) = c.server_subjects() {
            o = o
                .set("pubPrefix", s.pub_prefix.as_str())
                .set("subRequests", s.sub_requests.as_str())
                .set("unsubRequests", s.unsub_requests.as_str())
                .set("subCloseRequests", s.sub_close_requests.as_str())
                .set("closeRequests", s.close_requests.as_str())
                .set("pingRequests", s.ping_requests.as_str());
        }
        if let (Some(i), Some(m)) = (c.ping_interval(), c.ping_max_out()) {
            o = o.set("stanPingInterval", i.as_millis() as f64).set("stanMaxPingOut", m);
        }
        o.into_js()
    }

    /// The inbox and ack inbox of a live subscription, or `undefined`.
    #[wasm_bindgen(js_name = subInfo)]
    pub fn sub_info(&self, sub: f64) -> JsValue {
        let inner = self.inner.borrow();
        match inner.session.core().subscription(SubId(sub as u64)) {
            Some(i) => Obj::new().set("inbox", i.inbox).set("ackInbox", i.ack_inbox.unwrap_or_default()).into_js(),
            None => JsValue::UNDEFINED,
        }
    }
}
