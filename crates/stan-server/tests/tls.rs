//! TLS enforced end to end with a test CA made here (rcgen): with `--tls`
//! the embedded nats-server only speaks TLS, a plaintext client and a client
//! that does not trust the CA are refused, a client trusting the CA gets a
//! STAN round trip; with `--tlsverify` a client certificate is required too.
//! stan-server's own connection trusts `--tlscacert` / `-tls_client_cacert`
//! and presents `-tls_client_cert`.

mod support;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{opts, refused, round_trip, Stan};

struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn write(dir: &Path, name: &str, text: String) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "stan-server test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = write(dir.path(), "ca.pem", ca_cert.pem());
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (sc, sk) =
        leaf(vec!["localhost".into(), "127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth, "stan test server");
    let (cc, ck) = leaf(vec!["stan-client".into()], ExtendedKeyUsagePurpose::ClientAuth, "stan test client");
    Pki {
        ca,
        server_cert: write(dir.path(), "server.pem", sc),
        server_key: write(dir.path(), "server-key.pem", sk),
        client_cert: write(dir.path(), "client.pem", cc),
        client_key: write(dir.path(), "client-key.pem", ck),
        _dir: dir,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A plaintext NATS client: the server announces TLS and never lets a plain CONNECT through.
fn plaintext_refused(port: u16) {
    let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = t.read(&mut buf).unwrap();
    let info = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(info.starts_with("INFO ") && info.contains("\"tls_required\":true"), "{info}");
    let _ = t.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    let mut rest = Vec::new();
    let _ = t.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("PONG"), "a plaintext client got a PONG: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_only_clients_trusting_the_ca() {
    let k = pki();
    let srv = Stan::start(
        "tls-test",
        &["--tls", "--tlscert", s(&k.server_cert), "--tlskey", s(&k.server_key), "--tlscacert", s(&k.ca)],
    );
    plaintext_refused(srv.port);
    // async-nats upgrades to TLS (the server requires it) but does not trust the test CA.
    let r = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(3)).connect(srv.url()).await;
    let Err(e) = r else { panic!("connected without trusting the CA") };
    assert!(e.to_string().contains("invalid peer certificate: UnknownIssuer"), "{e}");
    let text = refused("tls-test", "untrusting", opts(&srv.url())).await;
    assert!(text.to_lowercase().contains("tls") || text.contains("certificate"), "unclear error: {text}");

    round_trip("tls-test", "trusting", opts(&srv.url()).tls_root_certificates(&k.ca)).await;
    let tls_url = format!("tls://localhost:{}", srv.port);
    round_trip("tls-test", "trusting-tls-url", opts(&tls_url).tls_root_certificates(&k.ca)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tlsverify_requires_a_client_certificate() {
    let k = pki();
    let srv = Stan::start(
        "tlsv-test",
        &[
            "--tlsverify",
            "--tlscert",
            s(&k.server_cert),
            "--tlskey",
            s(&k.server_key),
            "--tlscacert",
            s(&k.ca),
            "-tls_client_cert",
            s(&k.client_cert),
            "-tls_client_key",
            s(&k.client_key),
            "-tls_client_cacert",
            s(&k.ca),
        ],
    );
    let text = refused("tlsv-test", "no-cert", opts(&srv.url()).tls_root_certificates(&k.ca)).await;
    assert!(!text.is_empty());
    round_trip(
        "tlsv-test",
        "with-cert",
        opts(&srv.url()).tls_root_certificates(&k.ca).tls_client_cert(&k.client_cert, &k.client_key),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_flag_skips_verification_of_our_own_connection() {
    // -secure: stan-server's own connection accepts the certificate without the CA.
    let k = pki();
    let srv =
        Stan::start("tls-secure", &["--tls", "--tlscert", s(&k.server_cert), "--tlskey", s(&k.server_key), "-secure"]);
    round_trip("tls-secure", "trusting", opts(&srv.url()).tls_root_certificates(&k.ca)).await;
}

#[test]
fn missing_certificate_file_is_a_clear_error() {
    let r =
        Stan::try_start("tls-missing", &["--tls", "--tlscert", "/nonexistent/c.pem", "--tlskey", "/nonexistent/k.pem"]);
    let Err(err) = r else { panic!("started with missing certificate files") };
    assert!(err.contains("cannot read TLS certificate /nonexistent/c.pem"), "{err}");
}
