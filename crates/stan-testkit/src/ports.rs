//! Free loopback TCP ports, never handed out twice by one test process.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static SET: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A port on 127.0.0.1 that was free a moment ago and that this process has
/// not handed out before.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind 127.0.0.1:0");
        let mut set = handed_out().lock().unwrap_or_else(|e| e.into_inner());
        if set.insert(port) {
            return port;
        }
    }
    panic!("no free loopback port after 1000 tries");
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_distinct() {
        let a = super::free_port();
        let b = super::free_port();
        assert_ne!(a, b);
        assert!(a > 0 && b > 0);
    }
}
