//! STAN (NATS Streaming) wire vocabulary shared by the client and the server.
//!
//! This crate owns the protobuf messages (field numbers as in the reference
//! `protocol.proto`), the [`StartPosition`] enum, the rules for client IDs and
//! channel names, the NUID generator used for GUIDs and inboxes, and the exact
//! error texts that node-nats-streaming and nats-streaming-server emit.
//!
//! It does no I/O and has no async runtime, so it builds for `wasm32`.

pub mod borrowed;
pub mod errors;
pub mod messages;
pub mod nuid;
pub mod subjects;

pub use messages::*;
pub use nuid::Nuid;
pub use subjects::{is_valid_channel, is_valid_client_id, is_valid_subject_token};

/// Protocol version spoken by current clients and servers (ConnectRequest.protocol).
pub const PROTOCOL_ONE: i32 = 1;

/// Default prefix of the discovery subject (`<prefix>.<clusterID>`).
pub const DEFAULT_DISCOVER_PREFIX: &str = "_STAN.discover";
