//! Core events as plain JS objects `{ type, ... }`, the records of the batch
//! handed to the facade's one callback.

use stan_core::{Error, Event, SubOp};
use wasm_bindgen::JsValue;

use crate::js::Obj;

fn with_error(o: Obj, e: &Error) -> Obj {
    o.set("code", e.code()).set("message", e.to_string())
}

fn op_name(op: SubOp) -> &'static str {
    match op {
        SubOp::Subscribe => "subscribe",
        SubOp::Unsubscribe => "unsubscribe",
        SubOp::Close => "close",
        SubOp::Deliver => "deliver",
    }
}

/// One record.
pub fn to_js(ev: Event) -> JsValue {
    let t = |name: &str| Obj::new().set("type", name);
    let o = match ev {
        Event::Connected => t("connected"),
        Event::ConnectFailed(e) => with_error(t("connect_failed"), &e),
        Event::PubAck { guid, result } => {
            let o = t("pub_ack").set("guid", guid);
            match result {
                Ok(()) => o,
                Err(e) => with_error(o, &e),
            }
        }
        Event::SubReady { sub } => t("sub_ready").set("sub", sub.0 as f64),
        Event::Message { sub, msg } => t("message")
            .set("sub", sub.0 as f64)
            .set("subject", msg.subject)
            .set("seq", msg.sequence as f64)
            .set("ts", msg.timestamp as f64)
            .set("redelivered", msg.redelivered)
            .set("redeliveryCount", msg.redelivery_count)
            .set("crc32", msg.crc32)
            .set("data", js_sys::Uint8Array::from(&msg.data[..])),
        Event::SubError { sub, op, error } => {
            with_error(t("sub_error"), &error).set("sub", sub.0 as f64).set("op", op_name(op))
        }
        Event::SubTimeout { sub, op, error } => {
            with_error(t("sub_timeout"), &error).set("sub", sub.0 as f64).set("op", op_name(op))
        }
        Event::Unsubscribed { sub } => t("unsubscribed").set("sub", sub.0 as f64),
        Event::SubClosed { sub } => t("sub_closed").set("sub", sub.0 as f64),
        Event::SubEnded { sub } => t("sub_ended").set("sub", sub.0 as f64),
        Event::Disconnected => t("disconnected"),
        Event::Reconnected => t("reconnected"),
        Event::ConnectionLost(e) => with_error(t("connection_lost"), &e),
        Event::Closed(Ok(())) => t("closed"),
        Event::Closed(Err(e)) => {
            t("closed").set("code", stan_core::js::close_error_code(&e)).set("message", e.to_string())
        }
    };
    o.into_js()
}
