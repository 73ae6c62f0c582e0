//! The core's output of one batch: every PUB (replies, PubAcks, deliveries)
//! written as it is produced straight into one buffer of wire bytes, its
//! protobuf encoded in place (no subject, reply or payload allocated per
//! message), and the probes for the driver to perform. The driver takes
//! both only after the batch's journal commit.

use super::ProbeKind;
use crate::log;

/// A NATS request the driver performs on the core's behalf; its outcome comes
/// back through [`super::State::handle_probe_result`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub kind: ProbeKind,
    pub subject: String,
    pub timeout_ms: u64,
}

/// Output waiting for the driver.
#[derive(Debug, Default)]
pub struct Output {
    /// `PUB` ops, in the order they were produced.
    pub(super) wire: Vec<u8>,
    pub(super) probes: Vec<Probe>,
}

impl Output {
    /// Append a `PUB` to `subject` whose `len` bytes `body` writes.
    pub fn publish(&mut self, subject: &str, len: usize, body: impl FnOnce(&mut Vec<u8>)) {
        if let Err(e) = nats_wire::encode_pub_with(&mut self.wire, subject, None, len, body) {
            // A client's inbox the NATS protocol cannot carry (its requests are answered nowhere).
            log::debug(format_args!("NATS publish failed: {e}"));
        }
    }

    /// Append a `PUB` of protobuf message `msg`.
    pub fn publish_msg<M: prost::Message>(&mut self, subject: &str, msg: &M) {
        self.publish(subject, msg.encoded_len(), |b| msg.encode_raw(b));
    }

    pub fn is_empty(&self) -> bool {
        self.wire.is_empty() && self.probes.is_empty()
    }
}

/// The output as a list, for tests: probes first, then each `PUB` decoded.
#[cfg(test)]
#[derive(Clone, Debug)]
pub enum Out {
    Publish { subject: String, reply: Option<String>, payload: bytes::Bytes },
    Probe { kind: ProbeKind, subject: String, timeout_ms: u64 },
}

#[cfg(test)]
impl Output {
    /// Take everything, probes first.
    pub fn take_list(&mut self) -> Vec<Out> {
        let mut list: Vec<Out> = std::mem::take(&mut self.probes)
            .into_iter()
            .map(|p| Out::Probe { kind: p.kind, subject: p.subject, timeout_ms: p.timeout_ms })
            .collect();
        let wire = std::mem::take(&mut self.wire);
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let eol = rest.windows(2).position(|w| w == b"\r\n").expect("control line");
            let line = std::str::from_utf8(&rest[..eol]).expect("utf-8");
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words[0], "PUB", "{line}");
            let len: usize = words.last().expect("length").parse().expect("length");
            let (subject, reply) = match words.len() {
                3 => (words[1].to_string(), None),
                4 => (words[1].to_string(), Some(words[2].to_string())),
                _ => panic!("malformed {line}"),
            };
            let body = &rest[eol + 2..];
            assert_eq!(&body[len..len + 2], b"\r\n", "{line}");
            list.push(Out::Publish { subject, reply, payload: bytes::Bytes::copy_from_slice(&body[..len]) });
            rest = &body[len + 2..];
        }
        list
    }

    /// Put output back (publishes and probes, in this order).
    pub fn put_back(&mut self, list: Vec<Out>) {
        for o in list {
            match o {
                Out::Publish { subject, reply, payload } => {
                    nats_wire::ClientOp::Pub { subject: &subject, reply: reply.as_deref(), payload: &payload }
                        .encode(&mut self.wire)
                        .expect("valid publish");
                }
                Out::Probe { kind, subject, timeout_ms } => self.probes.push(Probe { kind, subject, timeout_ms }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stan_proto::PubAck;

    #[test]
    fn publishes_are_written_in_order_and_read_back() {
        let mut o = Output::default();
        assert!(o.is_empty());
        let ack = PubAck { guid: "g".into(), error: String::new() };
        o.publish_msg("r.1", &ack);
        o.publish("r.2", 0, |_| {});
        o.publish("in box", 1, |b| b.push(b'x'));
        o.publish("in.3", 3, |b| b.extend_from_slice(b"abc"));
        assert!(!o.is_empty());
        let list = o.take_list();
        assert!(o.is_empty());
        let got: Vec<(String, Vec<u8>)> = list
            .into_iter()
            .map(|x| match x {
                Out::Publish { subject, payload, .. } => (subject, payload.to_vec()),
                Out::Probe { .. } => panic!("no probe"),
            })
            .collect();
        let want = vec![
            ("r.1".to_string(), prost::Message::encode_to_vec(&ack)),
            ("r.2".to_string(), vec![]),
            ("in.3".to_string(), b"abc".to_vec()),
        ];
        assert_eq!(got, want, "the unencodable subject is left out, the rest in order");
    }
}
