//! Publish: validate a PubMsg, store it on its channel (created lazily under
//! the limits), answer the PubAck, and deliver to the channel's subscribers.

use super::{Channel, State};
use crate::log;
use crate::store::Record;
use bytes::Bytes;
use stan_proto::borrowed::{encode_pub_ack, pub_ack_len, PubMsgRef};
use stan_proto::errors as e;

impl State {
    /// A PubMsg arrived on `<pubPrefix>.<channel>` with NATS reply `reply`.
    pub fn handle_publish(&mut self, reply: &str, payload: &[u8], now: u64, wall_ns: i64) {
        // Borrowed from the request: only the stored body (and a reply, if any) is allocated.
        let Some(pm) = PubMsgRef::decode(payload) else {
            log::debug(format_args!("Invalid publish request ({} bytes)", payload.len()));
            return self.pub_ack(reply, "", e::SRV_INVALID_PUB_REQ);
        };
        // A channel that exists has a valid name (checked when it was created).
        let known = self.channels.contains_key(pm.subject);
        if pm.guid.is_empty() || !(known || stan_proto::is_valid_channel(pm.subject)) || !self.publisher_known(&pm) {
            log::debug(format_args!(
                "[Client:{}] Invalid publish request on {:?} (guid {:?})",
                pm.client_id, pm.subject, pm.guid
            ));
            return self.pub_ack(reply, pm.guid, e::SRV_INVALID_PUB_REQ);
        }
        // An upper bound of the stored MsgProto's size (fields and their tags).
        let stored = (pm.data.len() + pm.subject.len() + pm.reply.len() + 40) as u64;
        if self.cfg.max_stored_msg > 0 && stored > self.cfg.max_stored_msg {
            log::error(format_args!(
                "[Client:{}] Message of {} bytes on {:?} refused: the store holds messages of at most {} bytes",
                pm.client_id,
                pm.data.len(),
                pm.subject,
                self.cfg.max_stored_msg
            ));
            return self.pub_ack(reply, pm.guid, "stan: message too large for the store");
        }
        if !known {
            if let Err(text) = self.channel_or_create(pm.subject) {
                let text = if text == e::SRV_INVALID_SUBJECT { e::SRV_INVALID_PUB_REQ } else { text };
                return self.pub_ack(reply, pm.guid, text);
            }
        }
        if let Some(seq) = self.guids.as_ref().and_then(|g| g.seen(pm.subject, pm.guid)) {
            // A retry of a stored message (its PubAck was lost): stored once, acknowledged again.
            log::debug(format_args!(
                "[Client:{}] Duplicate publish of guid {} on {} (sequence {seq}): not stored again",
                pm.client_id, pm.guid, pm.subject
            ));
            return self.pub_ack(reply, pm.guid, "");
        }
        self.counters.in_msgs += 1;
        self.counters.in_bytes += pm.data.len() as u64;
        let limits = self.cfg.limits;
        let persist = self.cfg.persist;
        let ch = self.channels.get_mut(pm.subject).expect("created above");
        let m = ch.log.append(wall_ns, pm.reply.to_string(), Bytes::copy_from_slice(pm.data));
        if persist {
            self.records.push(Record::Msg {
                channel: pm.subject.to_string(),
                sequence: m.sequence,
                timestamp: m.timestamp,
                reply: m.reply.clone(),
                data: m.data.clone(),
            });
        }
        if let Some(g) = self.guids.as_mut() {
            g.published(pm.subject, pm.guid, m.sequence, wall_ns);
        }
        log::trace(format_args!("[Client:{}] Received message {} on {}", pm.client_id, m.sequence, pm.subject));
        if let Some(first) = ch.log.enforce(&limits, wall_ns) {
            self.record(|| Record::MsgsTruncated { channel: pm.subject.to_string(), first_seq: first });
        }
        self.channel_activity(pm.subject, now);
        self.pub_ack(reply, pm.guid, "");
        self.deliver_channel(pm.subject, now);
    }

    fn publisher_known(&self, pm: &PubMsgRef) -> bool {
        self.is_registered(pm.client_id, pm.conn_id)
    }

    /// Answer a PubAck (encoded in place, the bytes prost writes for `PubAck`).
    fn pub_ack(&mut self, reply: &str, guid: &str, error: &str) {
        if !reply.is_empty() {
            self.out.publish(reply, pub_ack_len(guid, error), |b| encode_pub_ack(guid, error, b));
        }
    }

    /// Look a channel up, creating it (and recording it) when allowed.
    pub(super) fn channel_or_create(&mut self, name: &str) -> Result<(), &'static str> {
        if self.channels.contains_key(name) {
            return Ok(());
        }
        if self.cfg.max_channels > 0 && self.channels.len() >= self.cfg.max_channels {
            log::error(format_args!("Unable to create channel {name:?}: {}", e::SRV_TOO_MANY_CHANNELS));
            return Err(e::SRV_TOO_MANY_CHANNELS);
        }
        // Names differing only in case are refused, as the reference does.
        if self.channels.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(e::SRV_INVALID_SUBJECT);
        }
        self.channels.insert(name.to_string(), Channel::new(name));
        self.record(|| Record::ChannelCreated { channel: name.to_string() });
        log::debug(format_args!("Channel {name:?} has been created"));
        Ok(())
    }
}
