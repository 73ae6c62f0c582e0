//! The node-nats-streaming option rules both JS bindings (the Node addon
//! and the browser build) apply, written once: milliseconds to durations,
//! the `maxPubAcksInflight` off-by-one, subscription option checks and
//! their error texts. The bindings only marshal JS values into these types.

use std::time::Duration;

use crate::{Error, StartAt, SubscriptionOptions};

/// node-nats-streaming's defaults.
pub mod defaults {
    /// `connectTimeout`, ms.
    pub const CONNECT_TIMEOUT_MS: f64 = 2000.0;
    /// `ackTimeout`, ms.
    pub const ACK_TIMEOUT_MS: f64 = 30000.0;
    /// `discoverPrefix`.
    pub const DISCOVER_PREFIX: &str = "_STAN.discover";
    /// `maxPubAcksInflight`.
    pub const MAX_PUB_ACKS_INFLIGHT: f64 = 16384.0;
    /// `stanMaxPingOut`.
    pub const STAN_MAX_PING_OUT: i32 = 3;
    /// `stanPingInterval`, ms.
    pub const STAN_PING_INTERVAL_MS: f64 = 5000.0;
    /// SubscriptionOptions `maxInFlight`.
    pub const MAX_IN_FLIGHT: i32 = 16384;
    /// SubscriptionOptions `ackWait`, ms.
    pub const ACK_WAIT_MS: f64 = 30000.0;
}

/// The class of a NATS-level error, as both facades report it (`nats_error`
/// records: `phase` is the number, `code` the nats.js v1 code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatsErrorClass {
    /// The first NATS connection failed (nothing follows: no `close`).
    ConnectFailed = 0,
    /// The server refused an operation (`permission_error`).
    Permission = 1,
    /// Any other NATS error once connected (`error`).
    Other = 2,
}

impl NatsErrorClass {
    /// Classify a NATS `-ERR` text; `established`: the STAN session was
    /// connected (before that, any refusal means the connect failed).
    pub fn of_text(text: &str, established: bool) -> Self {
        if text.to_ascii_lowercase().contains("permissions violation") {
            NatsErrorClass::Permission
        } else if !established {
            NatsErrorClass::ConnectFailed
        } else {
            NatsErrorClass::Other
        }
    }

    /// The `phase` number of the `nats_error` record.
    pub fn phase(self) -> u8 {
        self as u8
    }

    /// The error's stable `code` (nats.js v1 names).
    pub fn code(self) -> &'static str {
        match self {
            NatsErrorClass::ConnectFailed => "CONN_ERR",
            NatsErrorClass::Permission => "PERMISSIONS_VIOLATION",
            NatsErrorClass::Other => "NATS_ERROR",
        }
    }
}

/// The `code` of the `close` event's error: node-nats-streaming reports a
/// timed-out connection close as a NatsError `REQ_TIMEOUT`.
pub fn close_error_code(e: &Error) -> &'static str {
    match e {
        Error::CloseRequestTimeout => "REQ_TIMEOUT",
        e => e.code(),
    }
}

/// The JS module both facades load for the defaults and error texts
/// (`lib/shared/generated.js`; the browser copy is made from it). A test
/// fails when the committed file differs; `STAN_WRITE_GENERATED=1 cargo
/// test -p stan-core` rewrites it.
pub fn generated_js_module() -> String {
    use stan_proto::errors as t;
    let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let texts = [
        ("BAD_CLUSTER_ID", t::BAD_CLUSTER_ID),
        ("BAD_CLIENT_ID", t::BAD_CLIENT_ID),
        ("BINARY_ENCODING_REQUIRED", t::BINARY_ENCODING_REQUIRED),
        ("BAD_SUBJECT", t::BAD_SUBJECT),
        ("CONN_CLOSED", t::CONN_CLOSED),
        ("MAX_FLIGHT_LIMIT_REACHED", t::MAX_FLIGHT_LIMIT_REACHED),
        ("BAD_SUBSCRIPTION", t::BAD_SUBSCRIPTION),
        ("NO_SERVER_SUPPORT", t::NO_SERVER_SUPPORT),
    ];
    let mut out = String::from(
        "'use strict'\n// Generated from crates/stan-core/src/js.rs (generated_js_module): do not edit.\n\
         // node-nats-streaming's defaults and error texts, as the Rust side uses them.\n\n",
    );
    out += "const DEFAULTS = Object.freeze({\n";
    out += &format!("  ackTimeout: {},\n", defaults::ACK_TIMEOUT_MS);
    out += &format!("  connectTimeout: {},\n", defaults::CONNECT_TIMEOUT_MS);
    out += &format!("  discoverPrefix: {},\n", q(defaults::DISCOVER_PREFIX));
    out += &format!("  maxPubAcksInflight: {},\n", defaults::MAX_PUB_ACKS_INFLIGHT);
    out += &format!("  stanMaxPingOut: {},\n", defaults::STAN_MAX_PING_OUT);
    out += &format!("  stanPingInterval: {},\n", defaults::STAN_PING_INTERVAL_MS);
    out += &format!("  maxInFlight: {},\n", defaults::MAX_IN_FLIGHT);
    out += &format!("  ackWait: {}\n", defaults::ACK_WAIT_MS);
    out += "})\n\nconst TEXT = Object.freeze({\n";
    let lines: Vec<String> = texts.iter().map(|(k, v)| format!("  {k}: {}", q(v))).collect();
    out += &lines.join(",\n");
    out += "\n})\n\nmodule.exports = { DEFAULTS, TEXT }\n";
    out
}

/// A JS millisecond value as a duration (negative, NaN and infinite are 0).
pub fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v / 1000.0 } else { 0.0 })
}

/// The STAN settings of a JS connection's options.
#[derive(Clone, Debug, PartialEq)]
pub struct JsSessionOptions {
    /// ms
    pub connect_timeout: f64,
    /// ms
    pub ack_timeout: f64,
    pub discover_prefix: String,
    pub max_pub_acks_inflight: f64,
    /// ms
    pub stan_ping_interval: f64,
    pub stan_max_ping_out: i32,
}

impl Default for JsSessionOptions {
    fn default() -> Self {
        JsSessionOptions {
            connect_timeout: defaults::CONNECT_TIMEOUT_MS,
            ack_timeout: defaults::ACK_TIMEOUT_MS,
            discover_prefix: defaults::DISCOVER_PREFIX.to_string(),
            max_pub_acks_inflight: defaults::MAX_PUB_ACKS_INFLIGHT,
            stan_ping_interval: defaults::STAN_PING_INTERVAL_MS,
            stan_max_ping_out: defaults::STAN_MAX_PING_OUT,
        }
    }
}

impl JsSessionOptions {
    pub fn connect_timeout(&self) -> Duration {
        ms(self.connect_timeout)
    }

    pub fn ack_timeout(&self) -> Duration {
        ms(self.ack_timeout)
    }

    /// node-nats-streaming refuses a publish only when *more than*
    /// `maxPubAcksInflight` are outstanding: max + 1 may be in flight.
    pub fn max_pub_acks_inflight(&self) -> usize {
        self.max_pub_acks_inflight.max(0.0) as usize + 1
    }

    pub fn ping_interval(&self) -> Duration {
        ms(self.stan_ping_interval)
    }

    pub fn ping_max_out(&self) -> i32 {
        self.stan_max_ping_out
    }

    /// Apply to a session config.
    pub fn apply(&self, c: &mut crate::ConnectConfig) {
        c.discover_prefix = self.discover_prefix.clone();
        c.connect_timeout = self.connect_timeout();
        c.ack_timeout = self.ack_timeout();
        c.max_pub_acks_inflight = self.max_pub_acks_inflight();
        c.ping_interval = self.ping_interval();
        c.ping_max_out = self.ping_max_out();
    }
}

/// One subscription's options: node-nats-streaming's SubscriptionOptions
/// fields plus the queue group (as the facades pass them, defaults filled in).
#[derive(Clone, Debug, PartialEq)]
pub struct JsSubOptions {
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

impl Default for JsSubOptions {
    fn default() -> Self {
        JsSubOptions {
            queue_group: None,
            durable_name: None,
            max_in_flight: defaults::MAX_IN_FLIGHT,
            ack_wait: defaults::ACK_WAIT_MS,
            start_position: 0,
            start_sequence: None,
            start_time: None,
        }
    }
}

impl JsSubOptions {
    /// The core options, always in manual-ack mode (the facades ack after the
    /// `message` listeners returned). Errors: [`Error::AckWaitNotWholeSeconds`]
    /// (thrown by the facades), and what the server would refuse with its
    /// texts: an invalid start position, max in flight or ack wait
    /// (`SERVER_ERROR`, reported as a refused subscription).
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

    fn s(ack_wait: f64, start_position: i32, max_in_flight: i32) -> JsSubOptions {
        JsSubOptions { ack_wait, start_position, max_in_flight, ..Default::default() }
    }

    #[test]
    fn nats_errors_are_classified_once() {
        let c = NatsErrorClass::of_text("Authorization Violation", false);
        assert_eq!((c, c.phase(), c.code()), (NatsErrorClass::ConnectFailed, 0, "CONN_ERR"));
        let c = NatsErrorClass::of_text("Authorization Violation", true);
        assert_eq!((c.phase(), c.code()), (2, "NATS_ERROR"));
        let c = NatsErrorClass::of_text("Permissions Violation for Publish to \"x\"", true);
        assert_eq!((c.phase(), c.code()), (1, "PERMISSIONS_VIOLATION"));
        assert_eq!(close_error_code(&Error::CloseRequestTimeout), "REQ_TIMEOUT");
        assert_eq!(close_error_code(&Error::ConnectionClosed), "CONN_CLOSED");
    }

    #[test]
    fn generated_js_module_is_committed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lib/shared/generated.js");
        let want = generated_js_module();
        if std::env::var_os("STAN_WRITE_GENERATED").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `STAN_WRITE_GENERATED=1 cargo test -p stan-core generated`",
            path.display()
        );
        assert!(want.contains("maxPubAcksInflight: 16384,"), "{want}");
        assert!(
            want.contains("BINARY_ENCODING_REQUIRED: 'stan: NATS connection encoding must be \\'binary\\'.'"),
            "{want}"
        );
    }

    #[test]
    fn session_settings() {
        let o = JsSessionOptions::default();
        assert_eq!(o.max_pub_acks_inflight(), 16385);
        assert_eq!(o.connect_timeout(), Duration::from_secs(2));
        let mut c = crate::ConnectConfig::new("c", "me");
        JsSessionOptions { ack_timeout: -5.0, stan_max_ping_out: 7, ..Default::default() }.apply(&mut c);
        assert_eq!((c.ack_timeout, c.ping_max_out, c.max_pub_acks_inflight), (Duration::ZERO, 7, 16385));
        assert_eq!(ms(f64::NAN), Duration::ZERO);
    }

    #[test]
    fn sub_option_checks_have_the_reference_texts() {
        assert_eq!(s(1500.0, 0, 1).to_core(), Err(Error::AckWaitNotWholeSeconds));
        assert_eq!(s(500.0, 0, 1).to_core(), Err(Error::AckWaitNotWholeSeconds));
        assert_eq!(s(0.0, 0, 1).to_core(), Err(Error::InvalidAckWait));
        assert_eq!(s(1000.0, 0, 0).to_core(), Err(Error::InvalidMaxInFlight));
        let bad = s(1000.0, 9, 1).to_core().unwrap_err();
        assert_eq!((bad.to_string().as_str(), bad.code()), ("stan: invalid start position", "SERVER_ERROR"));
        let o = s(30000.0, 4, 1).to_core().unwrap();
        assert_eq!((o.start, o.manual_acks, o.ack_wait), (StartAt::First, true, Duration::from_secs(30)));
    }

    #[test]
    fn sub_option_names_and_positions() {
        let o = JsSubOptions {
            queue_group: Some(String::new()),
            durable_name: Some("d".into()),
            start_position: 3,
            start_sequence: Some(7.0),
            ..Default::default()
        }
        .to_core()
        .unwrap();
        assert_eq!((o.queue_group, o.durable_name.as_deref(), o.start), (None, Some("d"), StartAt::Sequence(7)));
        let o = JsSubOptions { start_position: 2, start_time: Some(5e9), ..Default::default() }.to_core().unwrap();
        assert_eq!(o.start, StartAt::TimeDelta(Duration::from_secs(5)));
    }
}
