//! The option objects the JS facade hands over (already normalised and
//! defaulted there), turned into `stan_client::Options` and
//! `stan_core::SubscriptionOptions`.

use std::time::Duration;

use napi_derive::napi;
use stan_core::StartAt;

/// Connection options (see `lib/options.js` for where each comes from).
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct NativeOptions {
    /// NATS server URLs, in the order to try.
    pub servers: Vec<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    pub name: Option<String>,
    /// Require TLS on every server.
    pub tls: Option<bool>,
    /// Path of a NATS credentials file.
    pub user_creds: Option<String>,
    /// -1 (or absent) = forever.
    pub max_reconnect_attempts: Option<i32>,
    pub reconnect: Option<bool>,
    /// ms
    pub reconnect_time_wait: Option<f64>,
    pub wait_on_first_connect: Option<bool>,
    /// NATS-level ping interval, ms.
    pub ping_interval: Option<f64>,
    /// NATS TCP connect timeout, ms.
    pub timeout: Option<f64>,
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

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v / 1000.0 } else { 0.0 })
}

impl NativeOptions {
    pub fn to_client(&self) -> stan_client::Options {
        let mut o = stan_client::Options::new()
            .servers(self.servers.clone())
            .connect_timeout(ms(self.connect_timeout))
            .ack_timeout(ms(self.ack_timeout))
            .discover_prefix(self.discover_prefix.clone())
            // node-nats-streaming refuses a publish only when *more than*
            // maxPubAcksInflight are outstanding: max + 1 may be in flight.
            .max_pub_acks_inflight(self.max_pub_acks_inflight.max(0.0) as usize + 1)
            .ping_interval(ms(self.stan_ping_interval))
            .ping_max_out(self.stan_max_ping_out)
            .reconnect(self.reconnect.unwrap_or(true))
            .wait_on_first_connect(self.wait_on_first_connect.unwrap_or(false))
            .tls_required(self.tls.unwrap_or(false));
        o = match self.max_reconnect_attempts {
            Some(n) if n >= 0 => o.max_reconnect_attempts(Some((n as usize).max(1))),
            _ => o.max_reconnect_attempts(None),
        };
        if let Some(u) = &self.user {
            o = o.user_and_password(u.clone(), self.pass.clone().unwrap_or_default());
        }
        if let Some(t) = &self.token {
            o = o.token(t.clone());
        }
        if let Some(n) = &self.name {
            o = o.name(n.clone());
        }
        if let Some(p) = &self.user_creds {
            o = o.user_creds(p.clone());
        }
        if let Some(w) = self.reconnect_time_wait {
            o = o.reconnect_time_wait(ms(w));
        }
        if let Some(p) = self.ping_interval.filter(|p| *p > 0.0) {
            o = o.nats_ping_interval(ms(p));
        }
        if let Some(t) = self.timeout.filter(|t| *t > 0.0) {
            o = o.nats_connect_timeout(ms(t));
        }
        o
    }
}

/// One subscription's options, as node-nats-streaming's SubscriptionOptions
/// fields (plus the queue group).
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct NativeSubOptions {
    pub queue_group: Option<String>,
    pub durable_name: Option<String>,
    pub max_in_flight: i32,
    /// ms; must be whole seconds.
    pub ack_wait: f64,
    /// StartPosition value (0..4; others are sent as is and refused by the server).
    pub start_position: i32,
    pub start_sequence: Option<f64>,
    /// ns before now (TIME_DELTA_START).
    pub start_time: Option<f64>,
}

/// Why a subscription's options cannot be sent.
#[derive(Debug, PartialEq, Eq)]
pub enum SubOptionsError {
    /// Not a whole number of seconds (the reference throws `Assertion failed`).
    AckWaitNotWholeSeconds,
}

impl NativeSubOptions {
    pub fn to_core(&self) -> Result<(stan_core::SubscriptionOptions, Option<i32>), SubOptionsError> {
        if !(self.ack_wait.is_finite() && self.ack_wait.fract() == 0.0 && (self.ack_wait / 1000.0).fract() == 0.0) {
            return Err(SubOptionsError::AckWaitNotWholeSeconds);
        }
        let start = match self.start_position {
            1 => StartAt::LastReceived,
            2 => StartAt::TimeDelta(Duration::from_nanos(self.start_time.unwrap_or(0.0).max(0.0) as u64)),
            3 => StartAt::Sequence(self.start_sequence.unwrap_or(0.0).max(0.0) as u64),
            4 => StartAt::First,
            _ => StartAt::NewOnly,
        };
        // Out-of-range start positions are not representable in the core:
        // the caller reports the server's refusal text itself.
        let bad_start = (!(0..=4).contains(&self.start_position)).then_some(self.start_position);
        let mut o = stan_core::SubscriptionOptions::default()
            .max_in_flight(self.max_in_flight)
            .ack_wait(Duration::from_millis(self.ack_wait.max(0.0) as u64))
            .start_at(start)
            // Acks are sent by the JS facade after the listeners returned.
            .manual_ack_mode(true);
        if let Some(q) = self.queue_group.as_ref().filter(|q| !q.is_empty()) {
            o = o.queue_group(q.clone());
        }
        if let Some(d) = self.durable_name.as_ref().filter(|d| !d.is_empty()) {
            o = o.durable_name(d.clone());
        }
        Ok((o, bad_start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(ack_wait: f64, start_position: i32) -> NativeSubOptions {
        NativeSubOptions { max_in_flight: 16384, ack_wait, start_position, ..Default::default() }
    }

    #[test]
    fn ack_wait_must_be_whole_seconds() {
        assert_eq!(sub(1500.0, 0).to_core().unwrap_err(), SubOptionsError::AckWaitNotWholeSeconds);
        assert_eq!(sub(500.0, 0).to_core().unwrap_err(), SubOptionsError::AckWaitNotWholeSeconds);
        let (o, bad) = sub(30000.0, 0).to_core().unwrap();
        assert_eq!((o.ack_wait, bad, o.manual_acks), (Duration::from_secs(30), None, true));
    }

    #[test]
    fn start_positions_map() {
        let mut s = sub(1000.0, 3);
        s.start_sequence = Some(7.0);
        assert_eq!(s.to_core().unwrap().0.start, StartAt::Sequence(7));
        let mut s = sub(1000.0, 2);
        s.start_time = Some(5e9);
        assert_eq!(s.to_core().unwrap().0.start, StartAt::TimeDelta(Duration::from_secs(5)));
        assert_eq!(sub(1000.0, 9).to_core().unwrap().1, Some(9));
        let mut s = sub(1000.0, 4);
        s.queue_group = Some(String::new());
        s.durable_name = Some("d".into());
        let o = s.to_core().unwrap().0;
        assert_eq!((o.start, o.queue_group, o.durable_name.as_deref()), (StartAt::First, None, Some("d")));
    }
}
