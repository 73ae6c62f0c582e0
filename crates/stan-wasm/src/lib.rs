//! NATS Streaming in the browser: a thin wasm-bindgen driver that pumps the
//! sans-IO `stan-core` session over a `WebSocket`, speaking the NATS text
//! protocol with `nats-wire`.
//!
//! Layout:
//! - NATS connection glue: the `stan-session` crate (shared with the Node
//!   addon; CONNECT on INFO, PONG on PING, MSG into the core, the core's ops
//!   out as bytes), re-exported as [`session`];
//! - [`options`]: option values (as the JS facade passes them) into core settings;
//! - `driver` (wasm32 only): the `WasmStan` class, WebSocket callbacks,
//!   timers and the batched event callback.
//!
//! What it does not do: reconnect (a closed WebSocket ends the session),
//! TLS options (use a `wss://` URL), or any STAN protocol logic (the core
//! does it). The JS API lives in `npm/wasm/` over the generated binding.

pub mod options;
pub use stan_session as session;

#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod events;
#[cfg(target_arch = "wasm32")]
mod js;
