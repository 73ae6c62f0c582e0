//! stan-server's own NATS connection: the credentials and TLS settings it
//! derives from the flags, applied to `async_nats::ConnectOptions`.
//!
//! Credentials: `--nats_user/--nats_pass`, `--nats_token` or `--nats_nkey` if given, else
//! `--user/--pass` or `--auth` (the ones the embedded child requires).
//! Embedded NATS:
//! TLS when the child's client port uses it, trusting `-tls_client_cacert`
//! (else `--tlscacert`), presenting `-tls_client_cert/-tls_client_key`
//! (required with `--tlsverify`).
//! External NATS (`-ns`): the same credentials; TLS when `--tls`, `-secure`,
//! a client certificate or a `tls://` URL asks for it.

use crate::config::Options;
use async_nats::rustls;
use async_nats::ConnectOptions;
use std::path::PathBuf;
use std::sync::Arc;

/// Credentials and TLS of our own connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Security {
    pub user: Option<(String, String)>,
    pub token: Option<String>,
    /// File holding the NKey seed.
    pub nkey_seed_file: Option<PathBuf>,
    pub tls_required: bool,
    /// `-secure`: TLS without verifying the server's certificate.
    pub insecure: bool,
    pub root_ca: Option<PathBuf>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Security {
    pub fn from_options(o: &Options) -> Security {
        let (user, token) = if o.nats_user.is_some() || o.nats_token.is_some() || o.nats_nkey.is_some() {
            (o.nats_user.clone().map(|u| (u, o.nats_pass.clone().unwrap_or_default())), o.nats_token.clone())
        } else {
            (o.user.clone().map(|u| (u, o.pass.clone().unwrap_or_default())), o.auth.clone())
        };
        let c = &o.client_tls;
        let external = o.nats_server.is_some();
        let client_cert = c.cert.clone().zip(c.key.clone()).map(|(c, k)| (c.into(), k.into()));
        let root_ca = c.ca_cert.clone().or_else(|| o.tls.ca_cert.clone()).map(PathBuf::from);
        let tls_required = c.secure || client_cert.is_some() || if external { o.tls.enabled } else { o.tls.is_on() };
        let nkey_seed_file = o.nats_nkey.clone().map(PathBuf::from);
        Security { user, token, nkey_seed_file, tls_required, insecure: c.secure, root_ca, client_cert }
    }

    /// Apply to the connect options (TLS files are read at connect time).
    pub fn apply(&self, mut o: ConnectOptions) -> Result<ConnectOptions, String> {
        if let Some((u, p)) = &self.user {
            o = o.user_and_password(u.clone(), p.clone());
        } else if let Some(t) = &self.token {
            o = o.token(t.clone());
        } else if let Some(path) = &self.nkey_seed_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the NKey seed file {}: {e}", path.display()))?;
            o = o.nkey(seed.trim().to_string());
        }
        if self.tls_required {
            o = o.require_tls(true);
        }
        if self.insecure {
            return Ok(o.tls_client_config(insecure_config(self.client_cert.as_ref())?));
        }
        if let Some(ca) = &self.root_ca {
            o = o.add_root_certificates(ca.clone());
        }
        if let Some((c, k)) = &self.client_cert {
            o = o.add_client_certificate(c.clone(), k.clone());
        }
        Ok(o)
    }
}

/// A rustls configuration that accepts any server certificate (`-secure`),
/// still checking the handshake signatures.
pub(crate) fn insecure_config(client_cert: Option<&(PathBuf, PathBuf)>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)));
    match client_cert {
        None => Ok(b.with_no_client_auth()),
        Some((cert, key)) => {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read the client certificate {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read the client key {}: {e}", key.display()))?;
            b.with_client_auth_cert(certs, key).map_err(|e| format!("bad client certificate: {e}"))
        }
    }
}

#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Delay before reconnect attempt `attempts` of our own connection: short
/// and capped at 250 ms (async-nats' default grows to 4 s), so that after
/// a restart of the embedded nats-server (about 0.1 s) we serve again at once.
pub fn reconnect_delay(attempts: usize) -> std::time::Duration {
    std::time::Duration::from_millis((attempts.saturating_sub(1) as u64 * 25).min(250))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Command};

    fn sec(args: &[&str]) -> Security {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Command::Run(o) => Security::from_options(&o),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn embedded_credentials_and_tls() {
        let s = sec(&["--user", "u", "--pass", "p"]);
        assert_eq!(s.user, Some(("u".into(), "p".into())));
        assert!(!s.tls_required);
        let s = sec(&["--auth", "t", "--tlscert", "c", "--tlskey", "k", "--tlscacert", "ca"]);
        assert_eq!(s.token.as_deref(), Some("t"));
        assert!(s.tls_required);
        assert_eq!(s.root_ca, Some(PathBuf::from("ca")));
        assert_eq!(s.client_cert, None);
        // --tlsverify: our connection presents its client certificate.
        let s = sec(&[
            "--tlsverify",
            "--tlscert",
            "c",
            "--tlskey",
            "k",
            "--tlscacert",
            "ca",
            "-tls_client_cert",
            "cc",
            "-tls_client_key",
            "ck",
        ]);
        assert_eq!(s.client_cert, Some(("cc".into(), "ck".into())));
        let s = sec(&["--tls", "--tlscert", "c", "--tlskey", "k", "-tls_client_cacert", "x"]);
        assert_eq!(s.root_ca, Some(PathBuf::from("x")));
    }

    #[test]
    fn external_nats() {
        let s = sec(&["-ns", "nats://h:1", "--user", "u", "--pass", "p"]);
        assert_eq!(s.user, Some(("u".into(), "p".into())));
        assert!(!s.tls_required);
        let s = sec(&["-ns", "nats://h:1", "--tls", "--tlscacert", "ca"]);
        assert!(s.tls_required);
        assert_eq!(s.root_ca, Some(PathBuf::from("ca")));
        let s = sec(&["-ns", "nats://h:1", "--nats_user", "a", "--nats_pass", "b", "--user", "u", "--pass", "p"]);
        assert_eq!(s.user, Some(("a".into(), "b".into())));
        let s = sec(&["--nats_token", "t", "--user", "u", "--pass", "p"]);
        assert_eq!((s.user, s.token.as_deref()), (None, Some("t")));
        let s = sec(&["-ns", "nats://h:1", "-secure"]);
        assert!(s.tls_required && s.insecure);
    }

    #[test]
    fn insecure_config_builds() {
        assert!(insecure_config(None).is_ok());
        let missing = (PathBuf::from("/nonexistent/c.pem"), PathBuf::from("/nonexistent/k.pem"));
        assert!(insecure_config(Some(&missing)).unwrap_err().contains("/nonexistent/c.pem"));
    }

    #[test]
    fn reconnect_delay_is_short_and_capped() {
        assert_eq!(reconnect_delay(1), std::time::Duration::ZERO);
        assert_eq!(reconnect_delay(2), std::time::Duration::from_millis(25));
        assert_eq!(reconnect_delay(1000), std::time::Duration::from_millis(250));
    }
}
