//! Message bodies kept out of memory by the store: fetched on delivery.

use super::channel::StoredMsg;
use super::State;
use crate::log;
use crate::store::{Bodies, Record};
use bytes::Bytes;
use std::borrow::Cow;

impl State {
    /// Keep message bodies in `bodies` instead of memory: published bodies
    /// are dropped once journaled and read back from there on delivery.
    /// Must be set before the journal is replayed.
    pub fn set_bodies(&mut self, bodies: Bodies) {
        self.bodies = Some(bodies);
    }

    /// The records are being handed to the journal: the bodies of the
    /// messages among them now live in the store, not in memory.
    pub(super) fn forget_journaled_bodies(&mut self, records: &[Record]) {
        if self.bodies.is_none() {
            return;
        }
        for r in records {
            if let Record::Msg { channel, sequence, .. } = r {
                if let Some(ch) = self.channels.get_mut(channel) {
                    ch.log.forget_body(*sequence);
                }
            }
        }
    }

    /// The body of `m` of `channel`: in memory (borrowed, not even a
    /// reference count touched), or read from the store. `None` (logged) if
    /// the store cannot produce it.
    pub(super) fn body_of<'m>(&self, channel: &str, m: &'m StoredMsg) -> Option<Cow<'m, Bytes>> {
        let b = match &self.bodies {
            Some(b) if m.data.is_empty() && m.data_len > 0 => b,
            _ => return Some(Cow::Borrowed(&m.data)),
        };
        match b.body(channel, m.sequence) {
            Ok(Some(d)) => Some(Cow::Owned(d)),
            Ok(None) => {
                log::error(format_args!("Message {} of channel {channel:?} is missing from the store", m.sequence));
                None
            }
            Err(e) => {
                log::error(format_args!("Cannot read message {} of channel {channel:?}: {e}", m.sequence));
                None
            }
        }
    }
}
