//! `RequestTable`: the session's outstanding request/reply exchanges, keyed
//! by the token in their reply subject `<response prefix>.<token>`.

use std::collections::HashMap;
use std::time::Duration;

use crate::deadlines::DeadlineQueue;
use crate::io::SubId;

/// What a reply token answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Connect,
    Subscribe(SubId),
    Unsubscribe(SubId),
    SubClose(SubId),
    Close,
}

/// Outstanding requests with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct RequestTable {
    next_token: u64,
    pending: HashMap<u64, RequestKind>,
    deadlines: DeadlineQueue<u64>,
}

impl RequestTable {
    /// Register a request due by `deadline`; returns its token.
    pub(crate) fn start(&mut self, kind: RequestKind, deadline: Duration) -> u64 {
        self.next_token += 1;
        let t = self.next_token;
        self.pending.insert(t, kind);
        self.deadlines.push(deadline, t);
        t
    }

    /// Settle the request answered by `token`.
    pub(crate) fn finish(&mut self, token: u64) -> Option<RequestKind> {
        self.pending.remove(&token)
    }

    /// Forget every request that concerns `sub`.
    pub(crate) fn forget_sub(&mut self, sub: SubId) {
        self.pending.retain(|_, k| !matches!(k, RequestKind::Subscribe(s) | RequestKind::Unsubscribe(s) | RequestKind::SubClose(s) if *s == sub));
    }

    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.deadlines.drain().for_each(drop);
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        let p = &self.pending;
        self.deadlines.next(|t| p.contains_key(t))
    }

    /// The next request overdue at `now`, now settled.
    pub(crate) fn pop_expired(&mut self, now: Duration) -> Option<RequestKind> {
        let p = &self.pending;
        let t = self.deadlines.pop_expired(now, |t| p.contains_key(t))?;
        self.pending.remove(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_settle_once() {
        let s = Duration::from_secs;
        let mut r = RequestTable::default();
        let a = r.start(RequestKind::Connect, s(2));
        let b = r.start(RequestKind::Subscribe(SubId(1)), s(3));
        assert_ne!(a, b);
        assert_eq!(r.finish(a), Some(RequestKind::Connect));
        assert_eq!(r.finish(a), None);
        assert_eq!(r.next_deadline(), Some(s(3)));
        r.forget_sub(SubId(1));
        assert_eq!(r.next_deadline(), None);
        let c = r.start(RequestKind::Close, s(4));
        assert_eq!(r.pop_expired(s(3)), None);
        assert_eq!(r.pop_expired(s(4)), Some(RequestKind::Close));
        assert_eq!(r.finish(c), None);
    }
}
