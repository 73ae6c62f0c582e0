//! The server's inbound path: which subjects it serves (and as what), and
//! the backlog report. The bytes themselves arrive through the data
//! connection ([`crate::wire_conn`]), whose reader always reads on and
//! never drops: when the protocol core lags, requests wait in memory
//! instead. That memory is bounded by what clients can have in flight: a
//! STAN publisher stops at its ack window (`MaxPubAcksInflight`), so the
//! backlog is at most the sum of the connected publishers' windows — the
//! same reasoning that lets the original server run its internal
//! subscriptions with unlimited pending limits. A client that floods
//! without a window is not bounded by anything but its own speed, as with
//! the original.
//!
//! The backlog (bytes read from the socket but not yet decoded) is logged
//! loudly past [`HIGH_WATER_BYTES`], so an overload shows up in the log
//! instead of as lost publishes.

use crate::log;
use crate::state::Subjects;
use std::time::{Duration, Instant};

/// Subscription capacity of the async-nats connections (probes, FT, JetStream
/// store): tokio's maximum, i.e. a channel that never reports "full".
pub const UNBOUNDED: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// Backlog size that is logged as an error (the server is not keeping up).
pub const HIGH_WATER_BYTES: u64 = 256 * 1024 * 1024;

/// How often an ongoing condition (backlog, dropped output) is logged again.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Which server subject a message arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Ping,
    Publish,
    Subscribe,
    Unsubscribe,
    SubClose,
    Close,
    Ack,
}

/// Every subject the server serves, and the exact ack inboxes of
/// subscriptions recovered from the original server's store (`_INBOX.<nuid>`,
/// which the `<ack prefix>.>` wildcard does not cover).
pub fn subscriptions(s: &Subjects, foreign_ack_inboxes: Vec<String>) -> Vec<(String, Kind)> {
    let mut v = vec![
        (s.discover.clone(), Kind::Connect),
        (s.pings.clone(), Kind::Ping),
        (format!("{}.>", s.pub_prefix), Kind::Publish),
        (s.sub.clone(), Kind::Subscribe),
        (s.unsub.clone(), Kind::Unsubscribe),
        (s.sub_close.clone(), Kind::SubClose),
        (s.close.clone(), Kind::Close),
        (format!("{}.>", s.ack_prefix), Kind::Ack),
    ];
    v.extend(foreign_ack_inboxes.into_iter().map(|i| (i, Kind::Ack)));
    v
}

/// Log an error while `bytes` of backlog are above the high-water mark
/// (again every [`REPORT_EVERY`]), and once when it is back below half.
pub fn report_backlog(bytes: u64, reported: &mut Option<Instant>) {
    if bytes >= HIGH_WATER_BYTES {
        if reported.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            *reported = Some(Instant::now());
            log::error(format_args!(
                "Inbound backlog of {} MiB is above {} MiB: the server is not keeping up; \
                 nothing is dropped, publishers are slowed down by their ack windows",
                bytes >> 20,
                HIGH_WATER_BYTES >> 20
            ));
        }
    } else if reported.is_some() && bytes < HIGH_WATER_BYTES / 2 {
        *reported = None;
        log::info(format_args!("Inbound backlog is back to {} MiB", bytes >> 20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_reports_above_high_water_and_resets_below_half() {
        let mut r = None;
        report_backlog(HIGH_WATER_BYTES - 1, &mut r);
        assert!(r.is_none());
        report_backlog(HIGH_WATER_BYTES, &mut r);
        let first = r.expect("reported");
        report_backlog(HIGH_WATER_BYTES * 2, &mut r);
        assert_eq!(r, Some(first), "not again within REPORT_EVERY");
        report_backlog(HIGH_WATER_BYTES / 2, &mut r);
        assert!(r.is_some(), "still above half");
        report_backlog(HIGH_WATER_BYTES / 2 - 1, &mut r);
        assert!(r.is_none());
    }

    #[test]
    fn subscriptions_cover_every_kind_and_the_foreign_inboxes() {
        let s = Subjects::new(&crate::state::Config::new("c"));
        let v = subscriptions(&s, vec!["_INBOX.x".into()]);
        assert_eq!(v.len(), 9);
        assert_eq!(v[8], ("_INBOX.x".to_string(), Kind::Ack));
        assert!(v.iter().any(|(subj, k)| *k == Kind::Publish && subj.ends_with(".>")));
    }
}
