//! A queue of deadlines with lazy removal: entries whose key is no longer
//! live are skipped when they reach the front.

use std::collections::VecDeque;
use std::time::Duration;

/// Deadlines in ascending order with their keys.
#[derive(Debug)]
pub(crate) struct DeadlineQueue<K> {
    items: VecDeque<(Duration, K)>,
}

impl<K> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue { items: VecDeque::new() }
    }
}

impl<K> DeadlineQueue<K> {
    /// Insert keeping the order; O(1) when deadlines arrive in order, as they
    /// do for a fixed timeout and a non-decreasing clock.
    pub(crate) fn push(&mut self, at: Duration, key: K) {
        if self.items.back().is_none_or(|(d, _)| *d <= at) {
            self.items.push_back((at, key));
            return;
        }
        let pos = self.items.iter().rposition(|(d, _)| *d <= at).map_or(0, |p| p + 1);
        self.items.insert(pos, (at, key));
    }

    /// The earliest deadline whose key is live, dropping dead ones on the way.
    pub(crate) fn next(&mut self, live: impl Fn(&K) -> bool) -> Option<Duration> {
        while let Some((at, k)) = self.items.front() {
            if live(k) {
                return Some(*at);
            }
            self.items.pop_front();
        }
        None
    }

    /// Pop the first live key whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Duration, live: impl Fn(&K) -> bool) -> Option<K> {
        while let Some(at) = self.next(&live) {
            if at > now {
                return None;
            }
            if let Some((_, k)) = self.items.pop_front() {
                return Some(k);
            }
        }
        None
    }

    /// Take every entry, in deadline order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = K> + '_ {
        self.items.drain(..).map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn orders_and_skips_dead_keys() {
        let mut q = DeadlineQueue::default();
        q.push(ms(30), 3);
        q.push(ms(10), 1);
        q.push(ms(20), 2);
        assert_eq!(q.next(|_| true), Some(ms(10)));
        assert_eq!(q.next(|k| *k != 1), Some(ms(20)));
        assert_eq!(q.pop_expired(ms(25), |_| true), Some(2));
        assert_eq!(q.pop_expired(ms(25), |_| true), None);
        assert_eq!(q.pop_expired(ms(30), |_| true), Some(3));
        assert_eq!(q.next(|_| true), None);
    }

    #[test]
    fn drain_keeps_order() {
        let mut q = DeadlineQueue::default();
        q.push(ms(2), 'b');
        q.push(ms(1), 'a');
        assert_eq!(q.drain().collect::<String>(), "ab");
    }
}
