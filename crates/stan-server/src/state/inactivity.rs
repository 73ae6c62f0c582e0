//! `-mi/--max_inactivity`: a channel without active subscriptions and
//! without new messages for that long is deleted with its messages, as the
//! original server does.
//!
//! Facts of the original (0.25.6) this follows:
//! - a channel's timer starts when the channel is created, when the server
//!   recovers it, and whenever a subscription ends (unsubscribe, close,
//!   client closed or expired) leaving no active subscription;
//! - a subscription request on the channel stops the timer (one that fails
//!   starts it again, from the start);
//! - a new message only moves the channel's last activity: when the timer
//!   fires early it is re-armed for the rest of the period;
//! - "active" subscriptions are the online ones (plain, durable or queue
//!   members): offline durables and offline durable queue groups do not
//!   keep a channel, and are deleted with it;
//! - once deleted, the channel is gone from the store and from monitoring;
//!   a later publish or subscription creates it anew from sequence 1.

use super::{Channel, State, Timer};
use crate::log;
use crate::store::Record;

/// The inactivity watch of one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Idle {
    /// Last activity (ms) while the channel has no active subscription;
    /// `None` while the timer is stopped.
    since: Option<u64>,
    /// Deadline of this channel's [`Timer::ChannelIdle`], if one is armed.
    armed: Option<u64>,
}

impl Channel {
    /// Whether an online subscription uses the channel.
    pub fn has_active_subs(&self, subs: &super::SubMap<super::Sub>) -> bool {
        self.plain.iter().any(|sid| subs.get(sid).is_some_and(|s| !s.offline))
            || self.queues.values().any(|q| !q.members.is_empty())
    }
}

impl State {
    fn max_inactivity_ms(&self) -> Option<u64> {
        (self.cfg.max_inactivity_ms > 0).then_some(self.cfg.max_inactivity_ms)
    }

    /// Something happened on `channel` (created, recovered, a message, a
    /// subscription ended or failed): without an active subscription, its
    /// inactivity period starts again now; with one, the timer is stopped.
    pub(super) fn channel_activity(&mut self, channel: &str, now: u64) {
        let Some(max) = self.max_inactivity_ms() else { return };
        let Some(ch) = self.channels.get(channel) else { return };
        if ch.has_active_subs(&self.subs) {
            return self.stop_idle_timer(channel);
        }
        let ch = self.channels.get_mut(channel).expect("looked up");
        ch.idle.since = Some(now);
        if ch.idle.armed.is_none() {
            ch.idle.armed = Some(now + max);
            self.timers.insert((now + max, Timer::ChannelIdle(channel.to_string())));
        }
    }

    /// A subscription is being created on `channel`: the timer stops.
    pub(super) fn stop_idle_timer(&mut self, channel: &str) {
        let Some(ch) = self.channels.get_mut(channel) else { return };
        ch.idle.since = None;
        if let Some(d) = ch.idle.armed.take() {
            self.timers.remove(&(d, Timer::ChannelIdle(channel.to_string())));
        }
    }

    /// A channel's inactivity timer fired.
    pub(super) fn channel_idle_due(&mut self, channel: &str, deadline: u64, now: u64) {
        let Some(max) = self.max_inactivity_ms() else { return };
        let Some(ch) = self.channels.get_mut(channel) else { return };
        if ch.idle.armed != Some(deadline) {
            return;
        }
        ch.idle.armed = None;
        let Some(since) = ch.idle.since else { return };
        if ch.has_active_subs(&self.subs) {
            ch.idle.since = None;
            return;
        }
        let due = since + max;
        if now < due {
            // A message came in since the timer was armed: wait for the rest.
            ch.idle.armed = Some(due);
            self.timers.insert((due, Timer::ChannelIdle(channel.to_string())));
            return;
        }
        self.delete_channel(channel);
    }

    /// Delete a channel without active subscriptions: its messages, its
    /// offline durables and queue groups, and its stored state.
    fn delete_channel(&mut self, name: &str) {
        let Some(ch) = self.channels.remove(name) else { return };
        let offline: Vec<super::SubId> =
            ch.plain.iter().copied().chain(ch.queues.values().flat_map(|q| q.shadow)).collect();
        for sid in offline {
            self.disarm_all(sid);
            if let Some(s) = self.subs.remove(&sid) {
                self.ack_inboxes.remove(&s.ack_inbox);
            }
        }
        if let Some(g) = self.guids.as_mut() {
            g.forget_channel(name);
        }
        self.record(|| Record::ChannelDeleted { channel: name.to_string() });
        log::info(format_args!("Channel {name:?} has been deleted"));
    }
}
