//! The option objects the JS facade hands over (already normalised and
//! defaulted there), turned into `stan_client::Options` and
//! `stan_core::SubscriptionOptions`.

use napi_derive::napi;
use stan_core::js::{ms, JsSessionOptions, JsSubOptions};

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

impl NativeOptions {
    /// The STAN settings, for the rules shared with the browser build.
    pub fn session(&self) -> JsSessionOptions {
        JsSessionOptions {
            connect_timeout: self.connect_timeout,
            ack_timeout: self.ack_timeout,
            discover_prefix: self.discover_prefix.clone(),
            max_pub_acks_inflight: self.max_pub_acks_inflight,
            stan_ping_interval: self.stan_ping_interval,
            stan_max_ping_out: self.stan_max_ping_out,
        }
    }

    pub fn to_client(&self) -> stan_client::Options {
        let stan = self.session();
        let mut o = stan_client::Options::new()
            .servers(self.servers.clone())
            .connect_timeout(stan.connect_timeout())
            .ack_timeout(stan.ack_timeout())
            .discover_prefix(stan.discover_prefix.clone())
            .max_pub_acks_inflight(stan.max_pub_acks_inflight())
            .ping_interval(stan.ping_interval())
            .ping_max_out(stan.ping_max_out())
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

impl NativeSubOptions {
    /// The core options, by the rules shared with the browser build
    /// (`stan_core::js`): `BAD_ACK_WAIT` for an ack wait that is not whole
    /// seconds, `SERVER_ERROR` with the server's text for what it would refuse.
    pub fn to_core(&self) -> Result<stan_core::SubscriptionOptions, stan_core::Error> {
        JsSubOptions {
            queue_group: self.queue_group.clone(),
            durable_name: self.durable_name.clone(),
            max_in_flight: self.max_in_flight,
            ack_wait: self.ack_wait,
            start_position: self.start_position,
            start_sequence: self.start_sequence,
            start_time: self.start_time,
        }
        .to_core()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sub_options_use_the_shared_rules() {
        let o = NativeSubOptions { max_in_flight: 16384, ack_wait: 1500.0, ..Default::default() };
        assert_eq!(o.to_core().unwrap_err().code(), "BAD_ACK_WAIT");
        let o = NativeSubOptions { max_in_flight: 16384, ack_wait: 1000.0, start_position: 9, ..Default::default() };
        assert_eq!(o.to_core().unwrap_err().to_string(), "stan: invalid start position");
        let o = NativeSubOptions { max_in_flight: 1, ack_wait: 2000.0, start_position: 4, ..Default::default() };
        let c = o.to_core().unwrap();
        assert_eq!((c.start, c.ack_wait, c.manual_acks), (stan_core::StartAt::First, Duration::from_secs(2), true));
    }

    #[test]
    fn session_options_use_the_shared_rules() {
        let o = NativeOptions { max_pub_acks_inflight: 10.0, connect_timeout: 1500.0, ..Default::default() };
        assert_eq!(o.session().max_pub_acks_inflight(), 11);
        assert_eq!(o.session().connect_timeout(), Duration::from_millis(1500));
    }
}
