//! [`FtPair`]: a plain nats-server (with monitoring) and two FT members of
//! one group on it, the first one active and the second one in standby.

use crate::monitor::{accepts, http_status};
use crate::ports::free_port;
use crate::{binaries, ServerProcess};
use std::time::{Duration, Instant};

/// Two members of one FT group on a shared nats-server. Fields are public:
/// tests kill, stop or restart the members themselves.
pub struct FtPair {
    pub nats: ServerProcess,
    pub nats_port: u16,
    pub nats_mon: u16,
    /// The active member and its monitoring port.
    pub a: ServerProcess,
    pub ma: u16,
    /// The standby member and its monitoring port.
    pub b: ServerProcess,
    pub mb: u16,
}

/// `/streaming/isFTActive` of the member monitored on `port`: 200 active,
/// 204 standby, `None` unreachable.
pub fn ft_active(port: u16) -> Option<u16> {
    http_status(port, "/streaming/isFTActive")
}

/// Polls `ok` every 50 ms for at most `secs` (blocking); true if it held.
fn wait(secs: u64, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl FtPair {
    /// Starts nats-server, then `member(nats_port, monitoring_port)` twice:
    /// waits (bounded) until the first is active and the second in standby,
    /// and panics with the member's log otherwise. Blocking: call it from
    /// `tokio::task::block_in_place` in async tests.
    pub fn start(member: impl Fn(u16, u16) -> ServerProcess) -> FtPair {
        let (nats_port, nats_mon) = (free_port(), free_port());
        let nats = ServerProcess::start(
            "nats-server",
            &binaries::nats_server(),
            ["-a", "127.0.0.1", "-p", &nats_port.to_string(), "-m", &nats_mon.to_string()].map(String::from).to_vec(),
        );
        assert!(wait(20, || accepts(nats_port) && accepts(nats_mon)), "nats-server did not start");
        let (ma, mb) = (free_port(), free_port());
        let a = member(nats_port, ma);
        assert!(wait(20, || ft_active(ma) == Some(200)), "first member not active:\n{}", a.log());
        let b = member(nats_port, mb);
        assert!(wait(20, || ft_active(mb) == Some(204)), "second member not in standby:\n{}", b.log());
        FtPair { nats, nats_port, nats_mon, a, ma, b, mb }
    }
}
