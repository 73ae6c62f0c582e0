//! Parsing of `--sql_source` in the forms nats-streaming-server accepts:
//! the Go `lib/pq` forms for PostgreSQL (`key=value ...` or a
//! `postgres://` URL) and the Go MySQL driver's DSN for MySQL
//! (`user:pass@tcp(host:port)/db?params`, or a `mysql://` URL).
//!
//! stan-server is built without TLS for its database connection, so a
//! source that asks for TLS is refused rather than silently downgraded.

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use std::str::FromStr;

/// Connect options for PostgreSQL from a `lib/pq` source.
pub fn postgres(source: &str) -> Result<PgConnectOptions, String> {
    let s = source.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let o = PgConnectOptions::from_str(s).map_err(|e| format!("invalid --sql_source URL: {e}"))?;
        let url_mode = s.split_once('?').map(|(_, q)| q).unwrap_or("");
        for kv in url_mode.split('&') {
            if let Some(("sslmode", v)) = kv.split_once('=') {
                check_pg_sslmode(v)?;
            }
        }
        return Ok(o.ssl_mode(PgSslMode::Disable));
    }
    let mut o = PgConnectOptions::new_without_pgpass().ssl_mode(PgSslMode::Disable);
    for (k, v) in pq_pairs(s)? {
        o = match k.as_str() {
            "host" => {
                if v.starts_with('/') {
                    o.socket(v)
                } else {
                    o.host(&v)
                }
            }
            "port" => o.port(v.parse().map_err(|_| format!("invalid port {v:?} in --sql_source"))?),
            "user" => o.username(&v),
            "password" => o.password(&v),
            "dbname" => o.database(&v),
            "sslmode" => {
                check_pg_sslmode(&v)?;
                o
            }
            "application_name" => o.application_name(&v),
            "connect_timeout" => o,
            _ => return Err(format!("unsupported parameter {k:?} in --sql_source")),
        };
    }
    Ok(o)
}

fn check_pg_sslmode(v: &str) -> Result<(), String> {
    match v {
        "disable" | "allow" | "prefer" => Ok(()),
        _ => Err(format!(
            "--sql_source sslmode={v}: stan-server connects to the database without TLS; use sslmode=disable"
        )),
    }
}

/// Splits `key=value key2='quoted value'` (lib/pq's syntax).
fn pq_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("invalid --sql_source: missing \"=\" after {key:?}"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("invalid --sql_source: unterminated quoted value".into()),
                    Some('\\') => val.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    val.extend(chars.next());
                    continue;
                }
                val.push(c);
                chars.next();
            }
        }
        out.push((key, val));
    }
}

/// Connect options for MySQL/MariaDB from a Go MySQL driver DSN.
pub fn mysql(source: &str) -> Result<MySqlConnectOptions, String> {
    let s = source.trim();
    if s.starts_with("mysql://") || s.starts_with("mariadb://") {
        let o = MySqlConnectOptions::from_str(s).map_err(|e| format!("invalid --sql_source URL: {e}"))?;
        return Ok(o.ssl_mode(MySqlSslMode::Disabled));
    }
    let bad = || format!("invalid --sql_source {s:?}: expected [user[:password]@][tcp(host:port)|unix(path)]/dbname");
    // The user info ends at the last '@' before the database slash.
    let slash = s.rfind('/').ok_or_else(bad)?;
    let (head, tail) = (&s[..slash], &s[slash + 1..]);
    let (db, params) = match tail.split_once('?') {
        Some((d, p)) => (d, p),
        None => (tail, ""),
    };
    let (user_info, addr) = match head.rfind('@') {
        Some(i) => (Some(&head[..i]), &head[i + 1..]),
        None => (None, head),
    };
    let mut o = MySqlConnectOptions::new().ssl_mode(MySqlSslMode::Disabled);
    if let Some(ui) = user_info {
        let (u, p) = match ui.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (ui, None),
        };
        o = o.username(u);
        if let Some(p) = p {
            o = o.password(p);
        }
    }
    if !addr.is_empty() {
        let (net, a) = match addr.split_once('(') {
            Some((n, rest)) => (n, rest.strip_suffix(')').ok_or_else(bad)?),
            None => (addr, ""),
        };
        match net {
            "tcp" | "tcp4" | "tcp6" => {
                if !a.is_empty() {
                    let (h, p) = match a.rsplit_once(':') {
                        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
                        None => (a, 3306),
                    };
                    o = o.host(h.trim_start_matches('[').trim_end_matches(']')).port(p);
                }
            }
            "unix" => o = o.socket(a),
            _ => return Err(bad()),
        }
    }
    if !db.is_empty() {
        o = o.database(db);
    }
    for kv in params.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "tls" if v == "false" => {}
            "tls" => {
                return Err(format!(
                    "--sql_source tls={v}: stan-server connects to the database without TLS; remove the parameter"
                ))
            }
            "charset"
            | "collation"
            | "parseTime"
            | "loc"
            | "timeout"
            | "readTimeout"
            | "writeTimeout"
            | "allowNativePasswords" => {}
            _ => return Err(format!("unsupported parameter {k:?} in --sql_source")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pq_key_values() {
        let p = pq_pairs("host=127.0.0.1 port=5433  user=nss password='a b\\'c' dbname=x sslmode=disable").unwrap();
        assert_eq!(p[0], ("host".into(), "127.0.0.1".into()));
        assert_eq!(p[3], ("password".into(), "a b'c".into()));
        assert_eq!(p.len(), 6);
        let o = postgres("host=127.0.0.1 port=5433 user=nss dbname=x sslmode=disable").unwrap();
        assert_eq!(o.get_port(), 5433);
        assert_eq!(o.get_database(), Some("x"));
        assert!(postgres("host=h sslmode=require").unwrap_err().contains("without TLS"));
        assert!(postgres("host=h bogus=1").unwrap_err().contains("bogus"));
        assert!(postgres("host").is_err());
        assert!(postgres("postgres://u:p@127.0.0.1:5999/db?sslmode=disable").is_ok());
    }

    #[test]
    fn go_mysql_dsn() {
        assert!(mysql("nss:pw@tcp(127.0.0.1:3307)/nss_db?charset=utf8").is_ok());
        assert!(mysql("root@unix(/tmp/m.sock)/nss_db").is_ok());
        assert!(mysql("/nss_db").is_ok());
        assert!(mysql("u@tcp(h:1)/d?tls=true").unwrap_err().contains("without TLS"));
        assert!(mysql("u@tcp(h:1)/d?x=1").unwrap_err().contains("\"x\""));
        assert!(mysql("nodb").is_err());
        assert!(mysql("u@bogus(h)/d").is_err());
    }
}
