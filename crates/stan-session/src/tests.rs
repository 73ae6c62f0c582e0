//! Unit tests of the session: bytes in, bytes and events out.

use super::*;
use stan_core::{ConnectConfig, Event};

fn session() -> NatsSession {
    let core = Connection::new(ConnectConfig::new("test-cluster", "me"), 7, Duration::ZERO).unwrap();
    NatsSession::new(core, ConnectInfo::new("test", "0"))
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn nothing_before_info_then_connect_and_the_cores_ops() {
    let mut s = session();
    assert!(s.take_output().is_empty());
    s.on_bytes(Duration::ZERO, b"INFO {\"max_payload\":1048576}\r\n").unwrap();
    let out = text(s.take_output());
    assert!(out.starts_with("CONNECT {"), "{out}");
    assert!(out.contains("\r\nPING\r\n"), "{out}");
    assert!(out.contains("\r\nSUB _INBOX."), "{out}");
    assert!(out.contains("PUB _STAN.discover.test-cluster _INBOX."), "{out}");
    assert!(s.take_output().is_empty());
    assert_eq!(s.core().max_payload(), Some(1048576));
}

#[test]
fn ping_is_answered_in_any_chunking() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {}\r\nPI").unwrap();
    let _ = s.take_output();
    s.on_bytes(Duration::ZERO, b"NG\r\n").unwrap();
    assert_eq!(text(s.take_output()), "PONG\r\n");
}

#[test]
fn errors_are_classified_and_garbage_is_an_error() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {}\r\n-ERR 'Authorization Violation'\r\n").unwrap();
    let ev = s.poll_event();
    assert_eq!(
        ev,
        Some(NatsEvent::Error { class: NatsErrorClass::ConnectFailed, text: "Authorization Violation".into() })
    );
    s.on_bytes(Duration::ZERO, b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n").unwrap();
    assert!(matches!(s.poll_event(), Some(NatsEvent::Error { class: NatsErrorClass::Permission, .. })));
    assert!(s.on_bytes(Duration::ZERO, b"BOGUS\r\n").is_err());
}

#[test]
fn status_messages_are_dropped_and_connect_timeout_still_fires() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {}\r\nHMSG _INBOX.x.1 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n").unwrap();
    assert_eq!(s.core_mut().poll_event(), None);
    let deadline = s.core_mut().poll_timeout().unwrap();
    s.core_mut().handle_timeout(deadline);
    assert!(matches!(s.core_mut().poll_event(), Some(Event::ConnectFailed(_))));
}

#[test]
fn tls_is_asked_for_before_connect() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {\"tls_required\":true}\r\n").unwrap();
    assert!(s.wants_tls());
    assert!(s.take_output().is_empty());
    s.tls_upgraded(Duration::ZERO);
    assert!(text(s.take_output()).starts_with("CONNECT {"));
    assert!(s.is_connected());
}

#[test]
fn a_client_requiring_tls_refuses_a_plain_server() {
    let core = Connection::new(ConnectConfig::new("c", "me"), 7, Duration::ZERO).unwrap();
    let mut cfg = SessionConfig::new(ConnectInfo::new("t", "0"));
    cfg.tls_required = true;
    let mut s = NatsSession::with_config(core, cfg);
    s.on_bytes(Duration::ZERO, b"INFO {}\r\n").unwrap();
    assert!(s.take_drop_request().is_some());
    assert!(matches!(s.poll_event(), Some(NatsEvent::Error { class: NatsErrorClass::ConnectFailed, .. })));
    assert!(!s.is_connected());
}

#[test]
fn reconnect_resubscribes_and_sends_what_was_buffered() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {}\r\nPONG\r\n").unwrap();
    assert!(s.ever_up());
    s.plain_subscribe(3, "plain.sub", Some("grp")).unwrap();
    let first = text(s.take_output());
    assert!(first.contains(&format!("SUB plain.sub grp {}\r\n", PLAIN_SID_BASE + 3)), "{first}");
    s.transport_closed();
    assert_eq!(s.core_mut().poll_event(), Some(Event::Disconnected));
    s.plain_publish("while.down", None, b"hi").unwrap();
    s.plain_flush(9).unwrap();
    assert!(s.take_output().is_empty());
    s.transport_opened(None, false);
    s.on_bytes(Duration::from_secs(1), b"INFO {\"connect_urls\":[\"10.0.0.2:4222\"]}\r\n").unwrap();
    assert_eq!(s.poll_event(), Some(NatsEvent::ServersDiscovered(vec!["10.0.0.2:4222".into()])));
    let out = text(s.take_output());
    let connect = out.find("CONNECT").unwrap();
    let resub = out.find(&format!("SUB plain.sub grp {}", PLAIN_SID_BASE + 3)).unwrap();
    let inbox = out.find("SUB _INBOX.").unwrap();
    let publish = out.find("PUB while.down 2\r\nhi\r\n").unwrap();
    assert!(connect < resub && connect < inbox && resub < publish, "{out}");
    assert_eq!(out.matches("PING\r\n").count(), 2, "{out}");
    // The handshake PONG confirms the reconnect, the next one the flush.
    s.on_bytes(Duration::from_secs(1), b"PONG\r\nPONG\r\n").unwrap();
    assert_eq!(s.core_mut().poll_event(), Some(Event::Reconnected));
    assert_eq!(s.poll_event(), Some(NatsEvent::Flushed { id: 9, ok: true }));
}

#[test]
fn the_disconnected_buffer_is_bounded() {
    let core = Connection::new(ConnectConfig::new("c", "me"), 7, Duration::ZERO).unwrap();
    let mut cfg = SessionConfig::new(ConnectInfo::new("t", "0"));
    cfg.max_buffered = 64;
    let mut s = NatsSession::with_config(core, cfg);
    s.transport_closed();
    s.plain_publish("a", None, &[0; 40]).unwrap();
    let e = s.plain_publish("a", None, &[0; 40]).unwrap_err();
    assert_eq!((e.code(), e.to_string().contains("64 bytes")), ("NATS_ERROR", true));
    assert_eq!(s.plain_publish("", None, b"").unwrap_err().code(), "BAD_SUBJECT");
}

#[test]
fn keep_alive_pings_then_stale() {
    let core = Connection::new(ConnectConfig::new("c", "me"), 7, Duration::ZERO).unwrap();
    let mut cfg = SessionConfig::new(ConnectInfo::new("t", "0"));
    cfg.ping_interval = Some(Duration::from_millis(100));
    cfg.max_pings_out = 1;
    let mut s = NatsSession::with_config(core, cfg);
    s.on_bytes(Duration::ZERO, b"INFO {}\r\nPONG\r\n").unwrap();
    let _ = s.take_output();
    assert!(s.deadline().unwrap() <= Duration::from_millis(100));
    s.tick(Duration::from_millis(100));
    assert_eq!(text(s.take_output()), "PING\r\n");
    assert!(s.take_drop_request().is_none());
    s.tick(Duration::from_millis(200));
    assert_eq!(s.take_drop_request().as_deref(), Some("Stale connection"));
}

#[test]
fn give_up_ends_the_core_and_fails_waiting_flushes() {
    let mut s = session();
    s.on_bytes(Duration::ZERO, b"INFO {}\r\nPONG\r\n").unwrap();
    s.transport_closed();
    s.plain_flush(4).unwrap();
    s.give_up();
    assert_eq!(s.poll_event(), Some(NatsEvent::Flushed { id: 4, ok: false }));
    assert!(s.core().is_closed());
    assert_eq!(s.plain_publish("a", None, b"").unwrap_err().code(), "CONN_CLOSED");
}
