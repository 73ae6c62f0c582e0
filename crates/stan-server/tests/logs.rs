//! Log injection: what a client chooses (client ID, heartbeat inbox) is
//! written to the `-SD` log escaped, so CR/LF cannot forge log lines.

mod support;

use stan_proto::{encode, ConnectRequest};
use std::time::Duration;
use support::{within, Stan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_chosen_text_cannot_forge_log_lines() {
    let s = Stan::start("log-test", &["-SD"]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let forged = "\r\n[1] 2026/01/01 00:00:00.000000 [ERR] STREAM: FORGED";
    for (client_id, inbox) in [("good-id", format!("_INBOX.hb{forged}")), (&*format!("bad{forged}"), "_INBOX.x".into())]
    {
        let req = ConnectRequest {
            client_id: client_id.to_string(),
            heartbeat_inbox: inbox,
            protocol: 1,
            conn_id: "c1".into(),
            ping_interval: 5,
            ping_max_out: 3,
        };
        let r = within(10, nc.request("_STAN.discover.log-test", encode(&req).into())).await;
        assert!(r.is_ok(), "{r:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = s.log();
    assert!(log.contains("good-id") && log.contains("\\r\\n[1] 2026/01/01"), "escaped text missing:\n{log}");
    for line in log.lines() {
        assert!(!line.starts_with("[1] 2026/01/01"), "forged log line: {line}\n{log}");
    }
}
