//! NATS-level keep-alive: a `PING` every interval; more than `max_out`
//! unanswered means the connection is stale (the transport must drop it).
//! Also the queue matching each `PONG` to the `PING` it answers (flushes).

use std::collections::VecDeque;
use std::time::Duration;

/// Who sent a `PING`: the handshake, the keep-alive, or a flush (its id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingOwner {
    Handshake,
    KeepAlive,
    Flush(u64),
}

/// What the keep-alive timer says at a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing due.
    Idle,
    /// Send a keep-alive `PING` now (it is recorded as sent).
    Ping,
    /// More than `max_out` went unanswered: the connection is stale.
    Stale,
}

/// Outstanding `PING`s in send order, and the keep-alive timer.
#[derive(Debug)]
pub struct Pings {
    interval: Option<Duration>,
    max_out: u32,
    next: Option<Duration>,
    unanswered: u32,
    owners: VecDeque<PingOwner>,
}

impl Pings {
    /// `interval`: none = no keep-alive pings.
    pub fn new(interval: Option<Duration>, max_out: u32) -> Self {
        Pings {
            interval: interval.filter(|d| !d.is_zero()),
            max_out,
            next: None,
            unanswered: 0,
            owners: VecDeque::new(),
        }
    }

    /// A new connection is up at `now`: start the keep-alive clock.
    pub fn start(&mut self, now: Duration) {
        self.owners.clear();
        self.unanswered = 0;
        self.next = self.interval.map(|i| now + i);
    }

    /// The connection is gone: stop; the flushes in flight are handed back.
    pub fn stop(&mut self) -> Vec<u64> {
        self.next = None;
        self.unanswered = 0;
        self.owners
            .drain(..)
            .filter_map(|o| match o {
                PingOwner::Flush(id) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// A `PING` was sent for `owner`.
    pub fn sent(&mut self, owner: PingOwner) {
        self.owners.push_back(owner);
    }

    /// A `PONG` arrived: whose `PING` it answers.
    pub fn pong(&mut self) -> Option<PingOwner> {
        self.unanswered = 0;
        self.owners.pop_front()
    }

    pub fn deadline(&self) -> Option<Duration> {
        self.next
    }

    /// The keep-alive at `now`.
    pub fn tick(&mut self, now: Duration) -> Tick {
        let (Some(next), Some(interval)) = (self.next, self.interval) else { return Tick::Idle };
        if now < next {
            return Tick::Idle;
        }
        if self.unanswered >= self.max_out {
            self.next = None;
            return Tick::Stale;
        }
        self.unanswered += 1;
        self.next = Some(now + interval);
        self.sent(PingOwner::KeepAlive);
        Tick::Ping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_max_out_unanswered() {
        let s = Duration::from_secs;
        let mut p = Pings::new(Some(s(1)), 2);
        p.start(s(0));
        assert_eq!(p.tick(s(0)), Tick::Idle);
        assert_eq!(p.tick(s(1)), Tick::Ping);
        assert_eq!(p.tick(s(2)), Tick::Ping);
        assert_eq!(p.tick(s(3)), Tick::Stale);
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn pongs_match_pings_in_order_and_reset_the_count() {
        let s = Duration::from_secs;
        let mut p = Pings::new(Some(s(1)), 1);
        p.start(s(0));
        p.sent(PingOwner::Handshake);
        p.sent(PingOwner::Flush(7));
        assert_eq!(p.tick(s(1)), Tick::Ping);
        assert_eq!(p.pong(), Some(PingOwner::Handshake));
        assert_eq!(p.tick(s(2)), Tick::Ping);
        assert_eq!(p.stop(), vec![7]);
    }
}
