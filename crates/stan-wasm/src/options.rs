//! Option values as the JS facade passes them (already defaulted there, see
//! `npm/wasm/lib/options.js`) and their conversion into core settings.

use std::time::Duration;

use nats_wire::ConnectInfo;
use stan_core::{ConnectConfig, Error, StartAt, SubscriptionOptions};

/// One connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverOptions {
    /// `ws://` or `wss://` URL of the nats-server WebSocket listener.
    pub url: String,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    pub name: Option<String>,
    /// STAN request timeout, ms.
    pub connect_timeout: f64,
    /// Publish ack timeout, ms.
    pub ack_timeout: f64,
    pub discover_prefix: String,
    pub max_pub_acks_inflight: f64,
    /// STAN ping interval, ms.
    pub stan_ping_interval: f64,
    pub stan_max_ping_out: i32,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            url: "ws://localhost:8080".into(),
            user: None,
            pass: None,
            token: None,
            name: None,
            connect_timeout: 2000.0,
            ack_timeout: 30000.0,
            discover_prefix: "_STAN.discover".into(),
            max_pub_acks_inflight: 16384.0,
            stan_ping_interval: 5000.0,
            stan_max_ping_out: 3,
        }
    }
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v / 1000.0 } else { 0.0 })
}

impl DriverOptions {
    /// The core session settings.
    pub fn connect_config(&self, cluster_id: &str, client_id: &str) -> ConnectConfig {
        let mut c = ConnectConfig::new(cluster_id, client_id);
        c.discover_prefix = self.discover_prefix.clone();
        c.connect_timeout = ms(self.connect_timeout);
        c.ack_timeout = ms(self.ack_timeout);
        // node-nats-streaming refuses a publish only when *more than*
        // maxPubAcksInflight are outstanding: max + 1 may be in flight.
        c.max_pub_acks_inflight = self.max_pub_acks_inflight.max(0.0) as usize + 1;
        c.ping_interval = ms(self.stan_ping_interval);
        c.ping_max_out = self.stan_max_ping_out;
        c
    }

    /// The NATS CONNECT body (credentials included).
    pub fn connect_info(&self) -> ConnectInfo {
        let mut info = ConnectInfo::new("rust-wasm", env!("CARGO_PKG_VERSION"));
        info.tls_required = self.url.to_ascii_lowercase().starts_with("wss:");
        info.user = self.user.clone();
        info.pass = self.pass.clone();
        info.auth_token = self.token.clone();
        info.name = self.name.clone();
        info
    }
}

/// One subscription's options: node-nats-streaming's SubscriptionOptions
/// fields plus the queue group.
#[derive(Clone, Debug, PartialEq)]
pub struct SubOptionsInput {
    pub queue_group: Option<String>,
    pub durable_name: Option<String>,
    pub max_in_flight: i32,
    /// ms; must be whole seconds.
    pub ack_wait: f64,
    /// StartPosition value 0..4.
    pub start_position: i32,
    pub start_sequence: Option<f64>,
    /// ns before now (TIME_DELTA_START).
    pub start_time: Option<f64>,
}

impl Default for SubOptionsInput {
    fn default() -> Self {
        SubOptionsInput {
            queue_group: None,
            durable_name: None,
            max_in_flight: 16384,
            ack_wait: 30000.0,
            start_position: 0,
            start_sequence: None,
            start_time: None,
        }
    }
}

impl SubOptionsInput {
    /// The core options, always in manual-ack mode: the JS facade acks after
    /// the `message` listeners returned. Errors carry the texts the reference
    /// client or server would report.
    pub fn to_core(&self) -> Result<SubscriptionOptions, Error> {
        if !(self.ack_wait.is_finite() && self.ack_wait.fract() == 0.0 && (self.ack_wait / 1000.0).fract() == 0.0) {
            return Err(Error::AckWaitNotWholeSeconds);
        }
        let start = match self.start_position {
            0 => StartAt::NewOnly,
            1 => StartAt::LastReceived,
            2 => StartAt::TimeDelta(Duration::from_nanos(self.start_time.unwrap_or(0.0).max(0.0) as u64)),
            3 => StartAt::Sequence(self.start_sequence.unwrap_or(0.0).max(0.0) as u64),
            4 => StartAt::First,
            _ => return Err(Error::Server(stan_proto::errors::SRV_INVALID_START.to_string())),
        };
        let mut o = SubscriptionOptions::default()
            .max_in_flight(self.max_in_flight)
            .ack_wait(Duration::from_millis(self.ack_wait.max(0.0) as u64))
            .start_at(start)
            .manual_ack_mode(true);
        if let Some(q) = self.queue_group.as_ref().filter(|q| !q.is_empty()) {
            o = o.queue_group(q.clone());
        }
        if let Some(d) = self.durable_name.as_ref().filter(|d| !d.is_empty()) {
            o = o.durable_name(d.clone());
        }
        o.validate()?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_settings() {
        let o = DriverOptions { user: Some("u".into()), pass: Some("p".into()), ..Default::default() };
        let c = o.connect_config("c", "me");
        assert_eq!((c.cluster_id.as_str(), c.client_id.as_str()), ("c", "me"));
        assert_eq!(c.max_pub_acks_inflight, 16385);
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        let info = o.connect_info();
        assert_eq!((info.user.as_deref(), info.pass.as_deref(), info.tls_required), (Some("u"), Some("p"), false));
        let wss = DriverOptions { url: "WSS://h:1".into(), ..Default::default() };
        assert!(wss.connect_info().tls_required);
    }

    #[test]
    fn sub_options_checks() {
        let s = |ack_wait, start_position, max_in_flight| SubOptionsInput {
            ack_wait,
            start_position,
            max_in_flight,
            ..Default::default()
        };
        assert_eq!(s(1500.0, 0, 1).to_core(), Err(Error::AckWaitNotWholeSeconds));
        assert_eq!(s(0.0, 0, 1).to_core(), Err(Error::InvalidAckWait));
        assert_eq!(s(1000.0, 0, 0).to_core(), Err(Error::InvalidMaxInFlight));
        assert_eq!(s(1000.0, 9, 1).to_core().unwrap_err().to_string(), "stan: invalid start position");
        let o = s(1000.0, 4, 1).to_core().unwrap();
        assert_eq!((o.start, o.manual_acks), (StartAt::First, true));
    }

    #[test]
    fn sub_options_names_and_positions() {
        let o = SubOptionsInput {
            queue_group: Some(String::new()),
            durable_name: Some("d".into()),
            start_position: 3,
            start_sequence: Some(7.0),
            ..Default::default()
        }
        .to_core()
        .unwrap();
        assert_eq!((o.queue_group, o.durable_name.as_deref(), o.start), (None, Some("d"), StartAt::Sequence(7)));
    }
}
