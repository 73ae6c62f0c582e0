//! The NATS core client protocol (the text protocol spoken over TCP and
//! WebSocket) as a sans-IO codec.
//!
//! - [`Decoder`]: feed it bytes as they arrive, in chunks of any size, and
//!   take [`ServerOp`]s (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`,
//!   `-ERR`). An op may be split across chunks and a chunk may hold several
//!   ops. The buffer is bounded: a control line longer than
//!   [`MAX_CONTROL_LINE`] or a payload larger than the server's `max_payload`
//!   is an error, never an allocation without limit.
//!   [`Decoder::next_ref`] is the same without allocating per message: a
//!   `MSG` comes out as a [`MsgRef`] whose subject, reply and payload borrow
//!   the decoder's buffer until the next call.
//! - [`ClientOp::encode`]: `CONNECT`, `PUB`, `SUB`, `UNSUB`, `PING`, `PONG`
//!   into bytes.
//!
//! What it does not do: open sockets, keep time, answer `PING`s, or decide
//! anything; the driver does all that.

mod decode;
mod encode;
mod error;
mod headers;
mod server_op;
mod text;

pub use decode::{Decoder, MsgRef, OpRef, DEFAULT_MAX_PAYLOAD, MAX_CONTROL_LINE};
pub use encode::{encode_pub_with, ClientOp, ConnectInfo};
pub use error::{DecodeError, EncodeError};
pub use headers::Headers;
pub use server_op::{Msg, ServerInfo, ServerOp};
pub use text::utf8;
