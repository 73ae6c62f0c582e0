//! Server addresses as `-ns` gives them: `nats://[user[:pass]@]host[:port]`,
//! `tls://...`, `host:port` or `host` (port 4222), comma-separated.

/// One server to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
    /// `tls://`: TLS even if the server does not ask for it.
    pub tls: bool,
    /// Credentials written in the URL (they win over the flags, as with async-nats).
    pub user: Option<(String, String)>,
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "tls" } else { "nats" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl ServerAddr {
    /// Parse one URL.
    pub fn parse(url: &str) -> Result<ServerAddr, String> {
        let bad = |why: &str| format!("invalid NATS URL {url}: {why}");
        let u = url.trim();
        let (tls, rest) = match u.split_once("://") {
            Some((s, r)) if s.eq_ignore_ascii_case("nats") => (false, r),
            Some((s, r)) if s.eq_ignore_ascii_case("tls") => (true, r),
            Some((s, _)) => return Err(bad(&format!("unsupported scheme {s}"))),
            None => (false, u),
        };
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((cred, hp)) => {
                let (n, p) = cred.split_once(':').unwrap_or((cred, ""));
                (Some((n.to_string(), p.to_string())), hp)
            }
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
            None => 4222,
        };
        Ok(ServerAddr { host: host.to_string(), port, tls, user })
    }

    /// Parse a comma-separated list (at least one).
    pub fn parse_list(urls: &str) -> Result<Vec<ServerAddr>, String> {
        let v =
            urls.split(',').filter(|u| !u.trim().is_empty()).map(ServerAddr::parse).collect::<Result<Vec<_>, _>>()?;
        if v.is_empty() {
            return Err(format!("invalid NATS URL {urls:?}: empty"));
        }
        Ok(v)
    }

    /// A server another one advertised (`connect_urls`: `host:port`), with
    /// this address's scheme and credentials.
    pub fn advertised(&self, host_port: &str) -> Option<ServerAddr> {
        let mut a = ServerAddr::parse(host_port).ok()?;
        a.tls = self.tls;
        a.user = self.user.clone();
        Some(a)
    }

    /// Same server (host and port).
    pub fn same_server(&self, o: &ServerAddr) -> bool {
        self.host.eq_ignore_ascii_case(&o.host) && self.port == o.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = ServerAddr::parse("nats://127.0.0.1:4333").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.tls, a.user), ("127.0.0.1", 4333, false, None));
        let a = ServerAddr::parse("tls://u:p@h").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.tls), ("h", 4222, true));
        assert_eq!(a.user, Some(("u".into(), "p".into())));
        let a = ServerAddr::parse("localhost:5").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("localhost", 5));
        let a = ServerAddr::parse("nats://[::1]:7").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 7));
        assert_eq!(a.to_string(), "nats://[::1]:7");
        for bad in ["http://h:1", "nats://h:x", "nats://:1", "nats://h:70000"] {
            assert!(ServerAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_and_advertised() {
        let v = ServerAddr::parse_list("nats://a:1, nats://b:2").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].host, "b");
        assert!(ServerAddr::parse_list(" , ").is_err());
        let adv = ServerAddr::parse("tls://u:p@a:1").unwrap().advertised("10.0.0.2:4223").unwrap();
        assert_eq!((adv.host.as_str(), adv.port, adv.tls), ("10.0.0.2", 4223, true));
        assert!(adv.same_server(&ServerAddr::parse("10.0.0.2:4223").unwrap()));
    }
}
