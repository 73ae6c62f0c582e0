//! What can be wrong with the bytes a server sent.

/// A protocol violation found while decoding. After one, the decoder's
/// state is undefined: the driver must drop the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first word of a control line is no server op.
    #[error("nats: unknown protocol operation {0:?}")]
    UnknownOp(String),
    /// A control line with the wrong number or form of arguments.
    #[error("nats: malformed {op} line: {line:?}")]
    BadArguments { op: &'static str, line: String },
    /// No CRLF within the control line limit.
    #[error("nats: control line longer than {0} bytes")]
    ControlLineTooLong(usize),
    /// A message payload larger than the negotiated maximum.
    #[error("nats: payload of {size} bytes exceeds the maximum of {max}")]
    PayloadTooLarge { size: usize, max: usize },
    /// A payload not followed by CRLF.
    #[error("nats: payload not terminated by CRLF")]
    MissingPayloadTerminator,
    /// A header block that does not start with `NATS/1.0` or is not text.
    #[error("nats: malformed header block")]
    BadHeaders,
    /// An INFO line whose JSON does not parse.
    #[error("nats: bad INFO json: {0}")]
    BadInfo(String),
    /// A control line that is not UTF-8.
    #[error("nats: control line is not UTF-8")]
    NotUtf8,
}

/// A client op that cannot be put on the wire as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A subject, reply or queue group that is empty or contains whitespace
    /// (it would split or end the control line).
    #[error("nats: invalid subject {0:?}")]
    BadSubject(String),
    /// A payload written in place whose length is not the one declared in
    /// its control line (a bug of the caller; nothing was appended).
    #[error("nats: payload of {written} bytes written where {declared} were declared")]
    PayloadLength { declared: usize, written: usize },
}
