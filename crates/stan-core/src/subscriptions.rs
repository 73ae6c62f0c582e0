//! `SubTable`: the session's STAN subscriptions and where each one is in its
//! life (waiting for the handshake, requested, ready, closing).

use std::collections::BTreeMap;

use crate::config::SubscriptionOptions;
use crate::io::{Message, Sid, SubId, SubOp};

/// Where one subscription is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the session handshake before sending its request.
    Held,
    /// SubscriptionRequest in flight.
    Requested,
    /// Accepted by the server.
    Ready,
    /// Unsubscribe or sub-close request in flight.
    Closing(SubOp),
}

/// One STAN subscription.
#[derive(Debug)]
pub(crate) struct Sub {
    pub(crate) sid: Sid,
    pub(crate) channel: String,
    pub(crate) inbox: String,
    pub(crate) opts: SubscriptionOptions,
    pub(crate) ack_inbox: Option<String>,
    pub(crate) phase: Phase,
    /// unsubscribe()/close() was called before the subscription was ready.
    pub(crate) deferred: Option<SubOp>,
    /// Local delivery stopped (unsubscribe()/close() was called).
    pub(crate) detached: bool,
    /// Messages that arrived before the SubscriptionResponse.
    pub(crate) early: Vec<Message>,
}

/// Public view of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionInfo {
    /// The channel.
    pub subject: String,
    /// The queue group, if any.
    pub queue_group: Option<String>,
    /// The durable name, if any.
    pub durable_name: Option<String>,
    /// The delivery inbox (`_INBOX.<nuid>`).
    pub inbox: String,
    /// The server's ack inbox, once ready.
    pub ack_inbox: Option<String>,
    /// True once unsubscribe()/close() was called.
    pub is_closed: bool,
    /// True once the server accepted it.
    pub is_ready: bool,
    /// Manual ack mode.
    pub manual_acks: bool,
}

/// All live subscriptions, by id and by NATS sid.
#[derive(Debug, Default)]
pub(crate) struct SubTable {
    next_id: u64,
    by_id: BTreeMap<SubId, Sub>,
    by_sid: BTreeMap<Sid, SubId>,
}

impl SubTable {
    pub(crate) fn add(&mut self, sub: Sub) -> SubId {
        self.next_id += 1;
        let id = SubId(self.next_id);
        self.by_sid.insert(sub.sid, id);
        self.by_id.insert(id, sub);
        id
    }

    pub(crate) fn get(&self, id: SubId) -> Option<&Sub> {
        self.by_id.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: SubId) -> Option<&mut Sub> {
        self.by_id.get_mut(&id)
    }

    pub(crate) fn by_sid(&self, sid: Sid) -> Option<SubId> {
        self.by_sid.get(&sid).copied()
    }

    pub(crate) fn remove(&mut self, id: SubId) -> Option<Sub> {
        let s = self.by_id.remove(&id)?;
        self.by_sid.remove(&s.sid);
        Some(s)
    }

    /// Ids of every subscription, in creation order.
    pub(crate) fn ids(&self) -> Vec<SubId> {
        self.by_id.keys().copied().collect()
    }

    /// Ids of the subscriptions waiting for the handshake.
    pub(crate) fn held(&self) -> Vec<SubId> {
        self.by_id.iter().filter(|(_, s)| s.phase == Phase::Held).map(|(id, _)| *id).collect()
    }

    pub(crate) fn info(&self, id: SubId) -> Option<SubscriptionInfo> {
        let s = self.by_id.get(&id)?;
        Some(SubscriptionInfo {
            subject: s.channel.clone(),
            queue_group: s.opts.queue_group.clone(),
            durable_name: s.opts.durable_name.clone(),
            inbox: s.inbox.clone(),
            ack_inbox: s.ack_inbox.clone(),
            is_closed: s.detached,
            is_ready: s.ack_inbox.is_some(),
            manual_acks: s.opts.manual_acks,
        })
    }
}
