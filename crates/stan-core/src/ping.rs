//! `PingTimer`: the client→server STAN ping schedule and outstanding count.

use std::time::Duration;

/// What a ping tick asks the session to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PingTick {
    /// Send a Ping.
    Send,
    /// Too many pings went unanswered.
    Lost,
}

/// Ping state, active once the server echoed a non-zero interval.
#[derive(Debug)]
pub(crate) struct PingTimer {
    interval: Duration,
    max_out: i32,
    out: i32,
    next: Duration,
}

impl PingTimer {
    pub(crate) fn new(now: Duration, interval: Duration, max_out: i32) -> Self {
        PingTimer { interval, max_out, out: 0, next: now + interval }
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    pub(crate) fn max_out(&self) -> i32 {
        self.max_out
    }

    pub(crate) fn outstanding(&self) -> i32 {
        self.out
    }

    pub(crate) fn deadline(&self) -> Duration {
        self.next
    }

    /// Any successful reply.
    pub(crate) fn reset(&mut self) {
        self.out = 0;
    }

    /// Called when the deadline passed: count the ping and re-arm.
    pub(crate) fn tick(&mut self, now: Duration) -> Option<PingTick> {
        if now < self.next {
            return None;
        }
        self.next += self.interval;
        if self.next <= now {
            self.next = now + self.interval;
        }
        self.out += 1;
        Some(if self.out > self.max_out { PingTick::Lost } else { PingTick::Send })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_loses_after_max_out() {
        let s = Duration::from_secs;
        let mut p = PingTimer::new(s(0), s(1), 2);
        assert_eq!(p.tick(Duration::from_millis(999)), None);
        assert_eq!(p.tick(s(1)), Some(PingTick::Send));
        assert_eq!(p.deadline(), s(2));
        assert_eq!(p.tick(s(2)), Some(PingTick::Send));
        p.reset();
        assert_eq!(p.outstanding(), 0);
        assert_eq!(p.tick(s(3)), Some(PingTick::Send));
        assert_eq!(p.tick(s(4)), Some(PingTick::Send));
        assert_eq!(p.tick(s(10)), Some(PingTick::Lost));
        assert_eq!(p.deadline(), s(11));
    }
}
