//! The FT heartbeat the active member publishes on `_STAN.ft.<cluster>.<group>`:
//! the original's `spb.CtrlMsg` (type `FTHeartbeat`), carrying the server ID
//! and the activation time in Go's `time.Time.MarshalBinary` layout, so
//! members of both implementations understand each other.

use prost::Message;
use std::time::{SystemTime, UNIX_EPOCH};

/// `spb.CtrlMsg_FTHeartbeat`.
pub const FT_HEARTBEAT: i32 = 3;

/// `spb.CtrlMsg`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CtrlMsg {
    #[prost(int32, tag = "1")]
    pub msg_type: i32,
    #[prost(string, tag = "2")]
    pub server_id: String,
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
    #[prost(string, tag = "4")]
    pub ref_id: String,
}

/// Seconds from 0001-01-01 (Go's time origin) to the Unix epoch.
const UNIX_TO_GO: i64 = 62_135_596_800;

/// A time as Go's `MarshalBinary` writes a UTC time (version 1).
pub fn go_time(t: SystemTime) -> Vec<u8> {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = vec![1u8];
    out.extend_from_slice(&(d.as_secs() as i64 + UNIX_TO_GO).to_be_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// (seconds since Go's origin, nanoseconds) of a `MarshalBinary` time.
pub fn parse_go_time(b: &[u8]) -> Option<(i64, u32)> {
    if !matches!(b.first(), Some(1) | Some(2)) || b.len() < 15 {
        return None;
    }
    let sec = i64::from_be_bytes(b[1..9].try_into().ok()?);
    let nsec = u32::from_be_bytes(b[9..13].try_into().ok()?);
    Some((sec, nsec))
}

/// The heartbeat of `server_id`, active since `activated`.
pub fn encode(server_id: &str, activated: SystemTime) -> Vec<u8> {
    CtrlMsg {
        msg_type: FT_HEARTBEAT,
        server_id: server_id.to_string(),
        data: go_time(activated),
        ref_id: String::new(),
    }
    .encode_to_vec()
}

/// A heartbeat from another server: its ID and activation time.
pub fn decode_peer(payload: &[u8], own_id: &str) -> Option<(String, Option<(i64, u32)>)> {
    let m = CtrlMsg::decode(payload).ok()?;
    (m.msg_type == FT_HEARTBEAT && m.server_id != own_id).then(|| (m.server_id, parse_go_time(&m.data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_time_round_trips_and_orders() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let b = go_time(t);
        assert_eq!(b.len(), 15);
        assert_eq!(parse_go_time(&b), Some((1_700_000_000 + UNIX_TO_GO, 123_456_789)));
        assert!(parse_go_time(&go_time(t + Duration::from_nanos(1))) > parse_go_time(&b));
        assert_eq!(parse_go_time(&b[..10]), None);
        let hb = encode("me", t);
        assert_eq!(decode_peer(&hb, "me"), None, "own heartbeat");
        assert_eq!(decode_peer(&hb, "other"), Some(("me".to_string(), parse_go_time(&b))));
        assert_eq!(decode_peer(b"\xff\xff", "x"), None);
    }
}
