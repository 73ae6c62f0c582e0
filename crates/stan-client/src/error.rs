//! The client's error type: session errors keep the reference's exact texts.

/// Everything the client can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A STAN session error (validation, timeouts, server texts, closed
    /// connection, ...); its text is the reference's.
    #[error(transparent)]
    Stan(#[from] stan_core::Error),
    /// The NATS connection could not be made (or failed), with async-nats' text.
    #[error("{0}")]
    Nats(String),
    /// A server URL that cannot be used.
    #[error("invalid NATS server URL {0:?}")]
    InvalidUrl(String),
}

impl Error {
    /// The session error, if this is one.
    pub fn stan(&self) -> Option<&stan_core::Error> {
        match self {
            Error::Stan(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn closed() -> Error {
        Error::Stan(stan_core::Error::ConnectionClosed)
    }
}
