//! Small JS helpers: globals (timers, clock, randomness), property access on
//! plain objects, and JS errors with a `code`.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::options::{DriverOptions, SubOptionsInput};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(cb: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Monotonic time since page load.
pub fn now() -> std::time::Duration {
    std::time::Duration::from_secs_f64(performance_now().max(0.0) / 1000.0)
}

/// 64 random bits from `crypto.getRandomValues`.
pub fn seed() -> u64 {
    let mut b = [0u8; 8];
    get_random_values(&mut b);
    u64::from_le_bytes(b)
}

/// A plain object under construction.
pub struct Obj(pub Object);

impl Obj {
    pub fn new() -> Self {
        Obj(Object::new())
    }
    pub fn set(self, key: &str, v: impl Into<JsValue>) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &v.into());
        self
    }
    pub fn into_js(self) -> JsValue {
        self.0.into()
    }
}

/// An `Error` with `code`.
pub fn error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

/// The JS error of a session error.
pub fn stan_error(e: &stan_core::Error) -> JsValue {
    error(e.code(), &e.to_string())
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn string(o: &JsValue, key: &str) -> Option<String> {
    get(o, key).as_string()
}

fn number(o: &JsValue, key: &str) -> Option<f64> {
    get(o, key).as_f64().filter(|n| n.is_finite())
}

/// Connection options from the facade's plain object.
pub fn driver_options(o: &JsValue) -> DriverOptions {
    let d = DriverOptions::default();
    DriverOptions {
        url: string(o, "url").unwrap_or(d.url),
        user: string(o, "user"),
        pass: string(o, "pass"),
        token: string(o, "token"),
        name: string(o, "name"),
        connect_timeout: number(o, "connectTimeout").unwrap_or(d.connect_timeout),
        ack_timeout: number(o, "ackTimeout").unwrap_or(d.ack_timeout),
        discover_prefix: string(o, "discoverPrefix").unwrap_or(d.discover_prefix),
        max_pub_acks_inflight: number(o, "maxPubAcksInflight").unwrap_or(d.max_pub_acks_inflight),
        stan_ping_interval: number(o, "stanPingInterval").unwrap_or(d.stan_ping_interval),
        stan_max_ping_out: number(o, "stanMaxPingOut").map_or(d.stan_max_ping_out, |n| n as i32),
    }
}

/// Subscription options from the facade's plain object.
pub fn sub_options(o: &JsValue) -> SubOptionsInput {
    let d = SubOptionsInput::default();
    SubOptionsInput {
        queue_group: string(o, "queueGroup"),
        durable_name: string(o, "durableName"),
        max_in_flight: number(o, "maxInFlight").map_or(d.max_in_flight, |n| n as i32),
        ack_wait: get(o, "ackWait").as_f64().unwrap_or(d.ack_wait),
        start_position: number(o, "startPosition").map_or(d.start_position, |n| n as i32),
        start_sequence: number(o, "startSequence"),
        start_time: number(o, "startTime"),
    }
}
