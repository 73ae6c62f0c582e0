//! `Message`: one delivered STAN message, with `ack()` for manual-ack mode.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use stan_core::SubId;
use std::sync::Arc;

use crate::connection::Inner;
use crate::Error;

/// A message delivered to a [`crate::Subscription`].
#[derive(Clone, Debug)]
pub struct Message {
    inner: stan_core::Message,
    sub: SubId,
    manual_acks: bool,
    session: Arc<Inner>,
}

impl Message {
    pub(crate) fn new(inner: stan_core::Message, sub: SubId, manual_acks: bool, session: Arc<Inner>) -> Self {
        Message { inner, sub, manual_acks, session }
    }

    /// The channel.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }
    /// The per-channel sequence number.
    pub fn sequence(&self) -> u64 {
        self.inner.sequence
    }
    /// The payload.
    pub fn data(&self) -> &Bytes {
        &self.inner.data
    }
    /// The payload as UTF-8 text (invalid sequences replaced).
    pub fn data_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.inner.data)
    }
    /// The server timestamp in Unix nanoseconds.
    pub fn timestamp_nanos(&self) -> i64 {
        self.inner.timestamp
    }
    /// The server timestamp.
    pub fn timestamp(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(u64::try_from(self.inner.timestamp).unwrap_or(0))
    }
    /// True if this is a redelivery.
    pub fn is_redelivered(&self) -> bool {
        self.inner.redelivered
    }
    /// How many times it was redelivered.
    pub fn redelivery_count(&self) -> u32 {
        self.inner.redelivery_count
    }
    /// The CRC32 field (never set by current servers, so 0).
    pub fn crc32(&self) -> u32 {
        self.inner.crc32
    }
    /// True if the subscription is in manual-ack mode.
    pub fn is_manual_ack(&self) -> bool {
        self.manual_acks
    }
    /// The underlying session message.
    pub fn as_core(&self) -> &stan_core::Message {
        &self.inner
    }

    /// Acknowledge the message. Harmless in auto-ack mode and after the
    /// subscription closed; fails only when the connection is gone.
    pub fn ack(&self) -> Result<(), Error> {
        self.session.ack(self.sub, self.inner.sequence)
    }
}
