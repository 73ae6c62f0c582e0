//! Option values as the JS facade passes them (already defaulted there, see
//! `npm/wasm/lib/options.js`) and their conversion into core settings.

use nats_wire::ConnectInfo;
use stan_core::js::{defaults, JsSessionOptions};
use stan_core::ConnectConfig;

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
            connect_timeout: defaults::CONNECT_TIMEOUT_MS,
            ack_timeout: defaults::ACK_TIMEOUT_MS,
            discover_prefix: defaults::DISCOVER_PREFIX.into(),
            max_pub_acks_inflight: defaults::MAX_PUB_ACKS_INFLIGHT,
            stan_ping_interval: defaults::STAN_PING_INTERVAL_MS,
            stan_max_ping_out: defaults::STAN_MAX_PING_OUT,
        }
    }
}

impl DriverOptions {
    /// The core session settings.
    pub fn connect_config(&self, cluster_id: &str, client_id: &str) -> ConnectConfig {
        let mut c = ConnectConfig::new(cluster_id, client_id);
        self.session().apply(&mut c);
        c
    }

    /// The STAN settings, for the rules shared with the Node addon.
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

/// One subscription's options (the rules are stan-core's, shared with the Node addon).
pub use stan_core::js::JsSubOptions as SubOptionsInput;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_settings() {
        let o = DriverOptions { user: Some("u".into()), pass: Some("p".into()), ..Default::default() };
        let c = o.connect_config("c", "me");
        assert_eq!((c.cluster_id.as_str(), c.client_id.as_str()), ("c", "me"));
        assert_eq!(c.max_pub_acks_inflight, 16385);
        assert_eq!(c.connect_timeout, std::time::Duration::from_secs(2));
        let info = o.connect_info();
        assert_eq!((info.user.as_deref(), info.pass.as_deref(), info.tls_required), (Some("u"), Some("p"), false));
        let wss = DriverOptions { url: "WSS://h:1".into(), ..Default::default() };
        assert!(wss.connect_info().tls_required);
    }
}
