//! `Options`: NATS connection settings (servers, auth, TLS, reconnects) and
//! STAN session settings, with the node-nats-streaming defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::url::{self, UrlAuth};
use crate::Error;

/// Connection options, built with chained setters.
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) servers: Vec<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) tls_required: bool,
    pub(crate) tls_root_certificates: Vec<PathBuf>,
    pub(crate) tls_client_cert: Option<(PathBuf, PathBuf)>,
    pub(crate) max_reconnect_attempts: Option<usize>,
    pub(crate) reconnect_time_wait: Duration,
    pub(crate) nats_connect_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_max_out: i32,
    pub(crate) max_pub_acks_inflight: usize,
    pub(crate) discover_prefix: String,
    pub(crate) reconnect: bool,
    pub(crate) wait_on_first_connect: bool,
    pub(crate) nats_ping_interval: Option<Duration>,
    pub(crate) user_creds: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        let stan = stan_core::ConnectConfig::new("", "");
        Options {
            servers: vec!["nats://localhost:4222".to_string()],
            user: None,
            password: None,
            token: None,
            name: None,
            tls_required: false,
            tls_root_certificates: Vec::new(),
            tls_client_cert: None,
            max_reconnect_attempts: None,
            reconnect_time_wait: Duration::from_secs(2),
            nats_connect_timeout: Duration::from_secs(5),
            connect_timeout: stan.connect_timeout,
            ack_timeout: stan.ack_timeout,
            ping_interval: stan.ping_interval,
            ping_max_out: stan.ping_max_out,
            max_pub_acks_inflight: stan.max_pub_acks_inflight,
            discover_prefix: stan.discover_prefix,
            reconnect: true,
            wait_on_first_connect: false,
            nats_ping_interval: None,
            user_creds: None,
        }
    }
}

impl Options {
    /// Defaults: `nats://localhost:4222`, infinite reconnects every 2 s, STAN
    /// connect timeout 2 s, ack timeout 30 s, pings every 5 s with 3 out,
    /// 16384 publishes in flight, discover prefix `_STAN.discover`.
    pub fn new() -> Self {
        Self::default()
    }
    /// One server URL (`nats://`, `http://`, `tls://`, `host:port`, `host`;
    /// credentials may be inside).
    pub fn url(self, url: impl Into<String>) -> Self {
        self.servers([url.into()])
    }
    /// Several server URLs, tried in order.
    pub fn servers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, urls: I) -> Self {
        self.servers = urls.into_iter().map(Into::into).collect();
        self
    }
    /// User and password.
    pub fn user_and_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self.password = Some(password.into());
        self
    }
    /// Authentication token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
    /// NATS connection name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Require TLS on every server (a `tls://` URL requires it for that server).
    pub fn tls_required(mut self, required: bool) -> Self {
        self.tls_required = required;
        self
    }
    /// Trust the CA certificates in this PEM file.
    pub fn tls_root_certificates(mut self, pem: impl Into<PathBuf>) -> Self {
        self.tls_root_certificates.push(pem.into());
        self
    }
    /// Present this client certificate and key (PEM files).
    pub fn tls_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_client_cert = Some((cert.into(), key.into()));
        self
    }
    /// NATS reconnect attempts; `None` (the default) retries forever.
    pub fn max_reconnect_attempts(mut self, attempts: Option<usize>) -> Self {
        self.max_reconnect_attempts = attempts;
        self
    }
    /// Wait between NATS reconnect attempts.
    pub fn reconnect_time_wait(mut self, wait: Duration) -> Self {
        self.reconnect_time_wait = wait;
        self
    }
    /// TCP/TLS connect timeout of the NATS connection.
    pub fn nats_connect_timeout(mut self, timeout: Duration) -> Self {
        self.nats_connect_timeout = timeout;
        self
    }
    /// Timeout of every STAN request (connect, subscribe, unsubscribe, close).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Per-publish wait for the server's ack.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }
    /// STAN ping interval (sent rounded up to whole seconds).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }
    /// Unanswered STAN pings tolerated before the connection is lost.
    pub fn ping_max_out(mut self, max_out: i32) -> Self {
        self.ping_max_out = max_out;
        self
    }
    /// Most publishes awaiting acks at once.
    pub fn max_pub_acks_inflight(mut self, max: usize) -> Self {
        self.max_pub_acks_inflight = max;
        self
    }
    /// Prefix of the connect subject (`<prefix>.<clusterID>`).
    pub fn discover_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.discover_prefix = prefix.into();
        self
    }

    /// Reconnect NATS after a disconnect (default true). When false, a
    /// disconnect ends the session ([`crate::shared::SharedSession`] only).
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect;
        self
    }
    /// Keep trying the first NATS connection instead of failing at once
    /// ([`crate::shared::SharedSession`] only).
    pub fn wait_on_first_connect(mut self, wait: bool) -> Self {
        self.wait_on_first_connect = wait;
        self
    }
    /// NATS-level ping interval (async-nats' default when unset).
    pub fn nats_ping_interval(mut self, interval: Duration) -> Self {
        self.nats_ping_interval = Some(interval);
        self
    }
    /// Authenticate with this NATS credentials file (JWT + nkey seed).
    pub fn user_creds(mut self, path: impl Into<PathBuf>) -> Self {
        self.user_creds = Some(path.into());
        self
    }

    pub(crate) fn stan_config(&self, cluster_id: &str, client_id: &str) -> stan_core::ConnectConfig {
        let mut c = stan_core::ConnectConfig::new(cluster_id, client_id);
        c.discover_prefix = self.discover_prefix.clone();
        c.connect_timeout = self.connect_timeout;
        c.ack_timeout = self.ack_timeout;
        c.max_pub_acks_inflight = self.max_pub_acks_inflight;
        c.ping_interval = self.ping_interval;
        c.ping_max_out = self.ping_max_out;
        c
    }

    /// The server addresses for async-nats and the options around them.
    pub(crate) fn nats(&self) -> Result<(Vec<async_nats::ServerAddr>, async_nats::ConnectOptions), Error> {
        let mut addrs = Vec::new();
        let mut url_auth = None;
        for s in &self.servers {
            let u = url::parse(s)?;
            url_auth = url_auth.or(u.auth);
            addrs.push(u.addr.parse::<async_nats::ServerAddr>().map_err(|_| Error::InvalidUrl(s.clone()))?);
        }
        if addrs.is_empty() {
            return Err(Error::InvalidUrl(String::new()));
        }
        let wait = self.reconnect_time_wait;
        let mut o = async_nats::ConnectOptions::new()
            .max_reconnects(self.max_reconnect_attempts)
            .reconnect_delay_callback(move |attempts| if attempts <= 1 { Duration::ZERO } else { wait })
            .connection_timeout(self.nats_connect_timeout)
            .retain_servers_order()
            .require_tls(self.tls_required);
        match (&self.user, &self.password, &self.token, url_auth) {
            (Some(u), p, _, _) => o = o.user_and_password(u.clone(), p.clone().unwrap_or_default()),
            (None, _, Some(t), _) => o = o.token(t.clone()),
            (None, _, None, Some(UrlAuth::UserPass(u, p))) => o = o.user_and_password(u, p),
            (None, _, None, Some(UrlAuth::Token(t))) => o = o.token(t),
            (None, _, None, None) => {}
        }
        if let Some(n) = &self.name {
            o = o.name(n);
        }
        if let Some(i) = self.nats_ping_interval {
            o = o.ping_interval(i);
        }
        if let Some(path) = &self.user_creds {
            let creds = std::fs::read_to_string(path).map_err(|e| Error::Nats(format!("{}: {e}", path.display())))?;
            o = o.credentials(&creds).map_err(|e| Error::Nats(e.to_string()))?;
        }
        for ca in &self.tls_root_certificates {
            o = o.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client_cert {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        Ok((addrs, o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stan_settings_reach_the_core_config() {
        let o = Options::new()
            .ack_timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_millis(700))
            .ping_interval(Duration::from_secs(1))
            .ping_max_out(2)
            .max_pub_acks_inflight(9)
            .discover_prefix("p");
        let c = o.stan_config("c", "id");
        assert_eq!((c.cluster_id.as_str(), c.client_id.as_str()), ("c", "id"));
        assert_eq!(c.ack_timeout, Duration::from_secs(3));
        assert_eq!(c.connect_timeout, Duration::from_millis(700));
        assert_eq!((c.ping_interval_secs(), c.ping_max_out), (1, 2));
        assert_eq!((c.max_pub_acks_inflight, c.discover_prefix.as_str()), (9, "p"));
    }

    #[test]
    fn urls_become_server_addresses() {
        let (addrs, _) = Options::new().servers(["http://localhost:4222", "tls://h:1", "u:p@h2"]).nats().unwrap();
        let got: Vec<String> = addrs.iter().map(|a| format!("{}:{}:{}", a.scheme(), a.host(), a.port())).collect();
        assert_eq!(got, ["nats:localhost:4222", "tls:h:1", "nats:h2:4222"]);
        assert!(Options::new().url("h:bad").nats().is_err());
        assert!(Options::new().servers(Vec::<String>::new()).nats().is_err());
    }
}
