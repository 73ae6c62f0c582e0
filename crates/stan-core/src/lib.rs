//! Sans-IO NATS Streaming (STAN) client session.
//!
//! [`Connection`] holds one STAN session's protocol state: the connect
//! handshake, publishes and their acks, subscriptions and their acks,
//! heartbeats, pings and close. It performs no I/O, runs no async runtime and
//! reads no clock: the driver feeds it NATS messages and the current time, and
//! polls it for NATS operations ([`NatsOp`]), the next deadline and
//! application [`Event`]s. The tokio client (`stan-client`) and the browser
//! client both only pump it.
//!
//! What it does not do: open sockets, speak the NATS text protocol, reconnect
//! NATS (the driver does, and reports it), or generate randomness (the driver
//! passes a seed).

mod config;
mod connection;
mod deadlines;
mod error;
mod guid;
mod io;
mod pending;
mod ping;
mod pub_acks;
mod requests;
mod subscriptions;

pub mod js;

pub use config::{ConnectConfig, StartAt, SubscriptionOptions};
pub use connection::{AckFrame, Connection, PubFrame};
pub use error::Error;
pub use guid::Guid;
pub use io::{Event, IncomingMessage, Message, NatsOp, ServerSubjects, Sid, State, SubId, SubOp};
pub use pending::PendingRing;
pub use subscriptions::SubscriptionInfo;
