//! Authentication enforced end to end: `--user/--pass`, `--auth` (token) and
//! a `-c` file with a users list configure the embedded nats-server, so a
//! raw NATS client and `stan-client` without (or with wrong) credentials are
//! refused with `Authorization Violation`, and the right ones get a STAN
//! round trip (stan-server's own connection uses the credentials too).

mod support;

use async_nats::ConnectErrorKind;
use support::{opts, refused, round_trip, within, Stan};

/// A raw NATS connect that must be refused for its credentials.
async fn raw_refused(o: async_nats::ConnectOptions, url: &str) {
    let r = within(10, o.connection_timeout(std::time::Duration::from_secs(3)).connect(url)).await;
    let Err(e) = r else { panic!("raw NATS connected without the right credentials") };
    assert_eq!(e.kind(), ConnectErrorKind::AuthorizationViolation, "{e}");
    assert!(e.to_string().to_lowercase().contains("authorization violation"), "{e}");
}

async fn raw_accepted(o: async_nats::ConnectOptions, url: &str) {
    let c = within(10, o.connect(url)).await.expect("raw NATS with the right credentials");
    within(5, c.flush()).await.unwrap();
}

fn assert_auth_error(text: &str) {
    assert!(text.contains("Authorization Violation"), "unclear error: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_are_required() {
    let s = Stan::start("auth-up", &["--user", "alice", "--pass", "s3cret"]);
    let url = s.url();
    raw_refused(async_nats::ConnectOptions::new(), &url).await;
    raw_refused(async_nats::ConnectOptions::new().user_and_password("alice".into(), "wrong".into()), &url).await;
    raw_refused(async_nats::ConnectOptions::new().token("s3cret".into()), &url).await;
    raw_accepted(async_nats::ConnectOptions::new().user_and_password("alice".into(), "s3cret".into()), &url).await;

    assert_auth_error(&refused("auth-up", "no-creds", opts(&url)).await);
    assert_auth_error(&refused("auth-up", "bad-pass", opts(&url).user_and_password("alice", "nope")).await);
    let bad_url = format!("nats://alice:nope@127.0.0.1:{}", s.port);
    assert_auth_error(&refused("auth-up", "bad-url-creds", opts(&bad_url)).await);

    round_trip("auth-up", "good-opts", opts(&url).user_and_password("alice", "s3cret")).await;
    let good_url = format!("nats://alice:s3cret@127.0.0.1:{}", s.port);
    round_trip("auth-up", "good-url", opts(&good_url)).await;
    // The password never reaches the command line of the child.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", s.nats_pid)).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required() {
    let s = Stan::start("auth-tok", &["--auth", "t0ken"]);
    let url = s.url();
    raw_refused(async_nats::ConnectOptions::new(), &url).await;
    raw_refused(async_nats::ConnectOptions::new().token("other".into()), &url).await;
    raw_accepted(async_nats::ConnectOptions::new().token("t0ken".into()), &url).await;

    assert_auth_error(&refused("auth-tok", "no-token", opts(&url)).await);
    assert_auth_error(&refused("auth-tok", "bad-token", opts(&url).token("other")).await);
    round_trip("auth-tok", "good-token", opts(&url).token("t0ken")).await;
    round_trip("auth-tok", "good-url-token", opts(&format!("nats://t0ken@127.0.0.1:{}", s.port))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_users_list() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        "authorization {\n  users = [\n    { user: app, password: apppw }\n    { user: stan, password: stanpw }\n  ]\n}\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    // Without its own credentials stan-server cannot connect: a clear error, exit 1.
    let Err(log) = Stan::try_start("auth-conf", &["-c", c]) else { panic!("started without credentials") };
    assert!(
        log.contains("cannot connect to NATS at nats://127.0.0.1:") && log.contains(": Authorization Violation"),
        "{log}"
    );
    assert!(conf.exists(), "the user's configuration file was removed");

    let s = Stan::start("auth-conf", &["-c", c, "--nats_user", "stan", "--nats_pass", "stanpw"]);
    let url = s.url();
    raw_refused(async_nats::ConnectOptions::new(), &url).await;
    assert_auth_error(&refused("auth-conf", "no-creds", opts(&url)).await);
    assert_auth_error(&refused("auth-conf", "bad", opts(&url).user_and_password("app", "x")).await);
    round_trip("auth-conf", "app-user", opts(&url).user_and_password("app", "apppw")).await;
}

#[test]
fn flag_errors_are_clear() {
    for (args, want) in [
        (&["--pass", "x"][..], "--pass needs --user"),
        (&["--auth", "t", "--user", "u"][..], "cannot be used together"),
        (&["--tls"][..], "TLS requires --tlscert and --tlskey"),
        (&["-ns", "nats://127.0.0.1:1", "--routes", "nats://127.0.0.1:2"][..], "cannot be used with -ns"),
        (&["--http_host", "127.0.0.1"][..], "flag provided but not defined: -http_host"),
    ] {
        let out = std::process::Command::new(support::bin()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A plain nats-server requiring a user, killed by PID on drop.
struct ExternalNats(std::process::Child);

impl Drop for ExternalNats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_external_nats_the_credentials_are_stan_servers_own() {
    let port = support::free_port();
    let nats = ExternalNats(
        std::process::Command::new(stan_testkit::binaries::nats_server())
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--user", "ext", "--pass", "extpw"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Err(log) = Stan::try_start("auth-ext", &["-ns", &url]) else { panic!("connected without credentials") };
    assert!(log.contains("Authorization Violation"), "{log}");
    let s = Stan::try_start("auth-ext", &["-ns", &url, "--user", "ext", "--pass", "extpw"])
        .unwrap_or_else(|log| panic!("{log}"));
    assert_eq!(s.nats_pid, 0, "no child with -ns");
    round_trip("auth-ext", "ext-client", opts(&url).user_and_password("ext", "extpw")).await;
    drop(s);
    drop(nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_with_an_nkey_user_for_stan_server() {
    let dir = tempfile::tempdir().unwrap();
    let kp = nkeys::KeyPair::new_user();
    let seed = dir.path().join("stan.nk");
    std::fs::write(&seed, kp.seed().unwrap()).unwrap();
    let conf = dir.path().join("nats.conf");
    let text = format!(
        "authorization {{\n  users = [\n    {{ nkey: {} }}\n    {{ user: app, password: apppw }}\n  ]\n}}\n",
        kp.public_key()
    );
    std::fs::write(&conf, text).unwrap();
    let (c, sf) = (conf.to_str().unwrap(), seed.to_str().unwrap());
    let s = Stan::start("auth-nkey", &["-c", c, "--nats_nkey", sf]);
    let url = s.url();
    raw_refused(async_nats::ConnectOptions::new(), &url).await;
    round_trip("auth-nkey", "app-user", opts(&url).user_and_password("app", "apppw")).await;
    // Another key is refused.
    let other = nkeys::KeyPair::new_user();
    std::fs::write(&seed, other.seed().unwrap()).unwrap();
    let Err(log) = Stan::try_start("auth-nkey", &["-c", c, "--nats_nkey", sf]) else {
        panic!("started with a foreign key")
    };
    assert!(log.contains("cannot connect to NATS"), "{log}");
}
