//! The rustls client configuration of the data connection, by the same
//! rules as `Security::apply` gives async-nats: `-secure` accepts any
//! server certificate; otherwise the root CA file if given (else the
//! platform's roots), and the client certificate if given.

use crate::nats_conn::{insecure_config, Security};
use async_nats::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer, pki_types::PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Build the client configuration (reads the certificate files now).
pub fn client_config(s: &Security) -> Result<Arc<rustls::ClientConfig>, String> {
    if s.insecure {
        return insecure_config(s.client_cert.as_ref()).map(Arc::new);
    }
    let mut roots = rustls::RootCertStore::empty();
    match &s.root_ca {
        Some(ca) => {
            for cert in read_certs(ca)? {
                roots.add(cert).map_err(|e| format!("bad CA certificate in {}: {e}", ca.display()))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots);
    let cfg = match &s.client_cert {
        None => b.with_no_client_auth(),
        Some((cert, key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read the client key {}: {e}", key.display()))?;
            b.with_client_auth_cert(read_certs(cert)?, key).map_err(|e| format!("bad client certificate: {e}"))?
        }
    };
    Ok(Arc::new(cfg))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn missing_files_are_clear_errors() {
        let s = Security { root_ca: Some(PathBuf::from("/nonexistent/ca.pem")), ..Security::default() };
        assert!(client_config(&s).unwrap_err().contains("/nonexistent/ca.pem"));
        let s = Security {
            insecure: true,
            client_cert: Some((PathBuf::from("/nonexistent/c.pem"), PathBuf::from("/nonexistent/k.pem"))),
            ..Security::default()
        };
        assert!(client_config(&s).unwrap_err().contains("/nonexistent/c.pem"));
        assert!(client_config(&Security::default()).is_ok(), "platform roots");
    }
}
