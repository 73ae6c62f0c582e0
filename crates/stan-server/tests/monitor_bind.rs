//! The monitoring endpoint binds where `-a` says, like the original (which
//! has no `--http_host`): `-a 127.0.0.1 -m P` listens on 127.0.0.1:P only.
//! (Without `-a` both listen on 0.0.0.0; not tested here: tests stay on loopback.)

mod support;

use support::{free_port, Stan};

/// The local addresses (hex, as in /proc/net/tcp) listening on `port`.
fn listeners(port: u16) -> Vec<String> {
    let want = format!(":{port:04X}");
    let mut out = Vec::new();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(f).unwrap_or_default().lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 3 && cols[3] == "0A" && cols[1].ends_with(&want) {
                out.push(cols[1].to_string());
            }
        }
    }
    out
}

#[test]
fn monitoring_binds_to_the_addr_flag() {
    let m = free_port();
    let _s = Stan::start("mon-bind", &["-m", &m.to_string()]);
    assert_eq!(listeners(m), [format!("0100007F:{m:04X}")], "monitoring not bound to 127.0.0.1 only");
}
