//! NATS Streaming (STAN) client for tokio.
//!
//! [`connect`] opens a NATS connection with async-nats and performs the STAN
//! handshake. The returned [`Connection`] is a cheap `Clone` handle on one
//! session driver ([`shared`], the same the Node addon uses): commands run on
//! the caller's thread against the `stan_core::Connection` (all protocol
//! logic lives there) and hand their NATS operations straight to async-nats;
//! one task does the NATS I/O, the clock, and hands events out in batches.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stan_client::Error> {
//! use futures::StreamExt;
//! use stan_client::{connect, Options, SubscriptionOptions};
//!
//! let sc = connect("ticketing", "abc", Options::new().url("http://localhost:4222")).await?;
//! let mut sub = sc.subscribe("ticket:created", SubscriptionOptions::default().manual_ack_mode(true)).await?;
//! sc.publish("ticket:created", r#"{"id":"123"}"#).await?;
//! if let Some(msg) = sub.next().await {
//!     println!("#{}: {}", msg.sequence(), msg.data_str());
//!     msg.ack()?;
//! }
//! sc.close().await
//! # }
//! ```
//!
//! What it does not do: re-handshake after the STAN server lost the client
//! (you get [`ConnectionEvent::ConnectionLost`] and must reconnect), or
//! throttle publishers (over `max_pub_acks_inflight` a publish fails).

mod connection;
mod error;
mod events;
pub mod hop_trace;
mod message;
mod nats_link;
mod options;
mod router;
pub mod shared;
mod subscription;
mod url;

pub use connection::{connect, Connection, PubAckFuture};
pub use error::Error;
pub use events::{ConnectionEvent, EventStream};
pub use message::Message;
pub use options::Options;
pub use stan_core::{Error as StanError, StartAt, SubscriptionOptions};
pub use subscription::Subscription;
