//! The `CONNECT` of one NATS connection: the fixed settings, the per-server
//! URL credentials, and the NKey signature of the server's nonce (`userCreds`).

use nats_wire::ConnectInfo;

/// A NATS credentials file's parts: the user JWT and the NKey seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub jwt: String,
    pub seed: String,
}

impl Creds {
    /// Parse a `.creds` file (the JWT and seed blocks between `-----BEGIN`
    /// and `------END` lines). Errors name what is missing.
    pub fn parse(text: &str) -> Result<Creds, String> {
        let blocks: Vec<String> = text
            .split("-----")
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.contains("BEGIN") && !s.contains("END") && !s.starts_with('*'))
            .map(|s| s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let jwt = blocks.iter().find(|b| b.starts_with("eyJ")).cloned();
        let seed = blocks.iter().find(|b| b.starts_with("SU")).cloned();
        match (jwt, seed) {
            (Some(jwt), Some(seed)) => Ok(Creds { jwt, seed }),
            (None, _) => Err("credentials file has no user JWT".to_string()),
            (_, None) => Err("credentials file has no user NKey seed".to_string()),
        }
    }
}

/// Authentication for `CONNECT`.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// Credentials from the options (they win over the URL's).
    pub user: Option<(String, String)>,
    pub token: Option<String>,
    pub creds: Option<Creds>,
}

/// The base `CONNECT` plus the per-connection parts.
#[derive(Clone, Debug)]
pub struct ConnectBuilder {
    base: ConnectInfo,
    auth: Auth,
}

impl ConnectBuilder {
    pub fn new(base: ConnectInfo, auth: Auth) -> Self {
        ConnectBuilder { base, auth }
    }

    /// The `CONNECT` for a server that sent `nonce`, reached through a URL
    /// with `url_auth` (`user:pass@` or a lone `token@`).
    pub fn build(&self, nonce: Option<&str>, url_auth: Option<&(String, Option<String>)>) -> Result<Vec<u8>, String> {
        let mut c = self.base.clone();
        match (&self.auth.user, &self.auth.token, url_auth) {
            (Some((u, p)), _, _) => {
                c.user = Some(u.clone());
                c.pass = Some(p.clone());
            }
            (None, Some(t), _) => c.auth_token = Some(t.clone()),
            (None, None, Some((u, Some(p)))) => {
                c.user = Some(u.clone());
                c.pass = Some(p.clone());
            }
            (None, None, Some((t, None))) => c.auth_token = Some(t.clone()),
            (None, None, None) => {}
        }
        let mut jwt = None;
        if let Some(creds) = &self.auth.creds {
            let nonce = nonce.ok_or("the server sent no nonce to sign (userCreds)")?;
            c.sig = Some(sign(&creds.seed, nonce)?);
            jwt = Some(creds.jwt.clone());
        }
        encode(&c, jwt)
    }
}

/// `CONNECT {json}\r\n`, with the `jwt` field nats-wire's `ConnectInfo` lacks.
fn encode(c: &ConnectInfo, jwt: Option<String>) -> Result<Vec<u8>, String> {
    let mut v = serde_json::to_value(c).map_err(|e| e.to_string())?;
    if let (Some(jwt), Some(obj)) = (jwt, v.as_object_mut()) {
        obj.insert("jwt".to_string(), serde_json::Value::String(jwt));
    }
    let mut out = b"CONNECT ".to_vec();
    serde_json::to_writer(&mut out, &v).map_err(|e| e.to_string())?;
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

#[cfg(feature = "nkeys")]
fn sign(seed: &str, nonce: &str) -> Result<String, String> {
    let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| format!("bad NKey seed: {e}"))?;
    let sig = kp.sign(nonce.as_bytes()).map_err(|e| format!("NKey signing failed: {e}"))?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&sig))
}

#[cfg(not(feature = "nkeys"))]
fn sign(_seed: &str, _nonce: &str) -> Result<String, String> {
    Err("NKey signing is not built in (stan-session feature `nkeys`)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "-----BEGIN NATS USER JWT-----\neyJhbGc.payload.sig\n------END NATS USER JWT------\n\n\
        ************************* IMPORTANT *************************\nNKEY Seed printed below\n\n\
        -----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n------END USER NKEY SEED------\n";

    fn json(line: Vec<u8>) -> serde_json::Value {
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("CONNECT ") && s.ends_with("\r\n"));
        serde_json::from_str(&s[8..s.len() - 2]).unwrap()
    }

    #[test]
    fn creds_file_parts() {
        let c = Creds::parse(CREDS).unwrap();
        assert_eq!(c.jwt, "eyJhbGc.payload.sig");
        assert!(c.seed.starts_with("SUAIB"));
        assert!(Creds::parse("nothing").unwrap_err().contains("JWT"));
    }

    #[test]
    fn options_win_over_the_url() {
        let b = ConnectBuilder::new(
            ConnectInfo::new("l", "v"),
            Auth { user: Some(("a".into(), "b".into())), ..Default::default() },
        );
        let c = json(b.build(None, Some(&("x".into(), Some("y".into())))).unwrap());
        assert_eq!((c["user"].as_str(), c["pass"].as_str()), (Some("a"), Some("b")));
        let b = ConnectBuilder::new(ConnectInfo::new("l", "v"), Auth::default());
        let c = json(b.build(None, Some(&("tok".into(), None))).unwrap());
        assert_eq!(c["auth_token"].as_str(), Some("tok"));
        let c = json(b.build(None, Some(&("x".into(), Some("y".into())))).unwrap());
        assert_eq!((c["user"].as_str(), c["pass"].as_str()), (Some("x"), Some("y")));
        assert_eq!((c["verbose"].as_bool(), c["protocol"].as_u64()), (Some(false), Some(1)));
    }

    #[cfg(feature = "nkeys")]
    #[test]
    fn nonce_is_signed() {
        let b = ConnectBuilder::new(
            ConnectInfo::new("l", "v"),
            Auth { creds: Some(Creds::parse(CREDS).unwrap()), ..Default::default() },
        );
        let c = json(b.build(Some("abc"), None).unwrap());
        assert_eq!(c["jwt"].as_str(), Some("eyJhbGc.payload.sig"));
        assert_eq!(c["sig"].as_str().map(str::len), Some(86));
        assert!(b.build(None, None).is_err());
    }
}
