//! Session and subscription settings with the reference defaults, and the
//! client-side checks that reject them before anything is sent.

use std::time::Duration;

use crate::Error;

/// Settings of one STAN session (node-nats-streaming names in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectConfig {
    /// The streaming server's cluster ID (`clusterID`).
    pub cluster_id: String,
    /// This client's ID (`clientID`); the server checks its characters.
    pub client_id: String,
    /// Connect requests go to `<discover_prefix>.<cluster_id>` (`discoverPrefix`).
    pub discover_prefix: String,
    /// Timeout of every request: connect, subscribe, unsubscribe, close (`connectTimeout`).
    pub connect_timeout: Duration,
    /// Per-publish wait for the PubAck (`ackTimeout`).
    pub ack_timeout: Duration,
    /// Most publishes waiting for acks at once (`maxPubAcksInflight`).
    pub max_pub_acks_inflight: usize,
    /// Client→server ping period, sent rounded up to whole seconds (`stanPingInterval`).
    pub ping_interval: Duration,
    /// Unanswered pings tolerated before the session is lost (`stanMaxPingOut`).
    pub ping_max_out: i32,
}

impl ConnectConfig {
    /// Defaults of node-nats-streaming 0.3.2: connect timeout 2 s, ack timeout
    /// 30 s, 16384 publishes in flight, pings every 5 s with 3 allowed out.
    pub fn new(cluster_id: impl Into<String>, client_id: impl Into<String>) -> Self {
        ConnectConfig {
            cluster_id: cluster_id.into(),
            client_id: client_id.into(),
            discover_prefix: stan_proto::DEFAULT_DISCOVER_PREFIX.to_string(),
            connect_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(30),
            max_pub_acks_inflight: 16384,
            ping_interval: Duration::from_secs(5),
            ping_max_out: 3,
        }
    }

    /// The checks node-nats-streaming makes in `connect()`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.cluster_id.is_empty() {
            return Err(Error::BadClusterId);
        }
        if self.client_id.is_empty() {
            return Err(Error::BadClientId);
        }
        Ok(())
    }

    /// The ping interval as sent in ConnectRequest: `ceil(ms / 1000)` seconds.
    pub fn ping_interval_secs(&self) -> i32 {
        let ms = self.ping_interval.as_millis();
        i32::try_from(ms.div_ceil(1000)).unwrap_or(i32::MAX)
    }
}

/// Where a new subscription starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartAt {
    /// Only messages published from now on (the default).
    #[default]
    NewOnly,
    /// The last stored message, then new ones.
    LastReceived,
    /// Messages stored at most this long ago.
    TimeDelta(Duration),
    /// From this sequence (clamped by the server to the stored range).
    Sequence(u64),
    /// Every stored message.
    First,
}

/// Settings of one subscription, with builder-style setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Queue group; `None` or an empty name means no group.
    pub queue_group: Option<String>,
    /// Durable name; `None` or an empty name means not durable.
    pub durable_name: Option<String>,
    /// Most unacknowledged messages the server sends (default 16384).
    pub max_in_flight: i32,
    /// Redelivery delay for unacknowledged messages, whole seconds (default 30 s).
    pub ack_wait: Duration,
    /// Start position (default [`StartAt::NewOnly`]).
    pub start: StartAt,
    /// When false (default) every message is acked as it reaches the session.
    pub manual_acks: bool,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            queue_group: None,
            durable_name: None,
            max_in_flight: 16384,
            ack_wait: Duration::from_secs(30),
            start: StartAt::NewOnly,
            manual_acks: false,
        }
    }
}

impl SubscriptionOptions {
    /// Join the queue group `name`.
    pub fn queue_group(mut self, name: impl Into<String>) -> Self {
        self.queue_group = Some(name.into());
        self
    }
    /// Make the subscription durable under `name`.
    pub fn durable_name(mut self, name: impl Into<String>) -> Self {
        self.durable_name = Some(name.into());
        self
    }
    /// Set the server-side in-flight limit.
    pub fn max_in_flight(mut self, n: i32) -> Self {
        self.max_in_flight = n;
        self
    }
    /// Set the ack wait (whole seconds, at least one).
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }
    /// Set the start position.
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }
    /// Start with every stored message.
    pub fn deliver_all_available(self) -> Self {
        self.start_at(StartAt::First)
    }
    /// Start with the last stored message.
    pub fn start_with_last_received(self) -> Self {
        self.start_at(StartAt::LastReceived)
    }
    /// Start at a sequence number.
    pub fn start_at_sequence(self, seq: u64) -> Self {
        self.start_at(StartAt::Sequence(seq))
    }
    /// Start with messages at most `delta` old.
    pub fn start_at_time_delta(self, delta: Duration) -> Self {
        self.start_at(StartAt::TimeDelta(delta))
    }
    /// Ack messages by hand with `ack`.
    pub fn manual_ack_mode(mut self, manual: bool) -> Self {
        self.manual_acks = manual;
        self
    }

    /// The client-side checks: in-flight ≥ 1, ack wait whole seconds ≥ 1 s.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_in_flight < 1 {
            return Err(Error::InvalidMaxInFlight);
        }
        if self.ack_wait.subsec_nanos() != 0 {
            return Err(Error::AckWaitNotWholeSeconds);
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Err(Error::InvalidAckWait);
        }
        Ok(())
    }

    /// The wire form of the start position: (enum, startSequence, startTimeDelta ns).
    pub(crate) fn wire_start(&self) -> (stan_proto::StartPosition, u64, i64) {
        use stan_proto::StartPosition as P;
        match self.start {
            StartAt::NewOnly => (P::NewOnly, 0, 0),
            StartAt::LastReceived => (P::LastReceived, 0, 0),
            StartAt::TimeDelta(d) => (P::TimeDeltaStart, 0, i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            StartAt::Sequence(s) => (P::SequenceStart, s, 0),
            StartAt::First => (P::First, 0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_config_checks_ids() {
        assert_eq!(ConnectConfig::new("", "a").validate(), Err(Error::BadClusterId));
        assert_eq!(ConnectConfig::new("c", "").validate(), Err(Error::BadClientId));
        assert_eq!(ConnectConfig::new("c", "a").validate(), Ok(()));
    }

    #[test]
    fn ping_interval_rounds_up_to_seconds() {
        let mut c = ConnectConfig::new("c", "a");
        c.ping_interval = Duration::from_millis(1500);
        assert_eq!(c.ping_interval_secs(), 2);
        c.ping_interval = Duration::from_millis(1000);
        assert_eq!(c.ping_interval_secs(), 1);
        c.ping_interval = Duration::from_millis(1);
        assert_eq!(c.ping_interval_secs(), 1);
    }

    #[test]
    fn subscription_checks() {
        let o = SubscriptionOptions::default();
        assert_eq!(o.clone().validate(), Ok(()));
        assert_eq!(o.clone().max_in_flight(0).validate(), Err(Error::InvalidMaxInFlight));
        assert_eq!(o.clone().ack_wait(Duration::from_millis(1500)).validate(), Err(Error::AckWaitNotWholeSeconds));
        assert_eq!(o.clone().ack_wait(Duration::ZERO).validate(), Err(Error::InvalidAckWait));
        assert_eq!(o.ack_wait(Duration::from_secs(1)).validate(), Ok(()));
    }

    #[test]
    fn wire_start_positions() {
        use stan_proto::StartPosition as P;
        let o = SubscriptionOptions::default();
        assert_eq!(o.wire_start(), (P::NewOnly, 0, 0));
        assert_eq!(o.clone().deliver_all_available().wire_start(), (P::First, 0, 0));
        assert_eq!(o.clone().start_with_last_received().wire_start(), (P::LastReceived, 0, 0));
        assert_eq!(o.clone().start_at_sequence(7).wire_start(), (P::SequenceStart, 7, 0));
        assert_eq!(o.start_at_time_delta(Duration::from_millis(3)).wire_start(), (P::TimeDeltaStart, 0, 3_000_000));
    }
}
