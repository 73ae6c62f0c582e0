//! Server URL forms accepted like node-nats-streaming: `nats://h:p`,
//! `http://h:p` (scheme ignored), `tls://h:p` (forces TLS), `h:p`, `h`
//! (port 4222), and credentials inside the URL (`u:p@` or `token@`).

use crate::Error;

/// Credentials found in a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UrlAuth {
    UserPass(String, String),
    Token(String),
}

/// A server address as async-nats accepts it, plus what the URL carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerUrl {
    /// `nats://host:port` or `tls://host:port`.
    pub(crate) addr: String,
    pub(crate) auth: Option<UrlAuth>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one server URL.
pub(crate) fn parse(input: &str) -> Result<ServerUrl, Error> {
    let bad = || Error::InvalidUrl(input.to_string());
    let s = input.trim();
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("nats".to_string(), s),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if hostport.is_empty() || hostport.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let has_port = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (_, after) = v6.split_once(']').ok_or_else(bad)?;
            after.starts_with(':')
        }
        None => hostport.contains(':'),
    };
    if has_port {
        let port = hostport.rsplit(':').next().unwrap_or_default();
        port.parse::<u16>().map_err(|_| bad())?;
    }
    let hostport = if has_port { hostport.to_string() } else { format!("{hostport}:4222") };
    let tls = scheme == "tls";
    let auth = userinfo.filter(|u| !u.is_empty()).map(|u| match u.split_once(':') {
        Some((user, pass)) => UrlAuth::UserPass(percent_decode(user), percent_decode(pass)),
        None => UrlAuth::Token(percent_decode(u)),
    });
    Ok(ServerUrl { addr: format!("{}://{hostport}", if tls { "tls" } else { "nats" }), auth })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> String {
        parse(s).unwrap().addr
    }

    #[test]
    fn schemes_and_ports() {
        assert_eq!(addr("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(addr("http://localhost:4222"), "nats://localhost:4222");
        assert_eq!(addr("HTTP://localhost:5000/"), "nats://localhost:5000");
        assert_eq!(addr("tls://example.test:4443"), "tls://example.test:4443");
        assert_eq!(addr("localhost:4223"), "nats://localhost:4223");
        assert_eq!(addr("localhost"), "nats://localhost:4222");
        assert_eq!(addr("nats://h"), "nats://h:4222");
        assert_eq!(addr("[::1]:4222"), "nats://[::1]:4222");
        assert_eq!(addr("nats://[::1]"), "nats://[::1]:4222");
    }

    #[test]
    fn credentials_in_the_url() {
        let u = parse("nats://al%40ice:p%3Ass@host:4222").unwrap();
        assert_eq!(u.auth, Some(UrlAuth::UserPass("al@ice".into(), "p:ss".into())));
        assert_eq!(u.addr, "nats://host:4222");
        let u = parse("nats://s3cret@host").unwrap();
        assert_eq!(u.auth, Some(UrlAuth::Token("s3cret".into())));
        assert_eq!(parse("nats://host:1").unwrap().auth, None);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "nats://", "host:notaport", "host:70000", "a b:1", "[::1"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
