//! The core's timer set, ordered by deadline, counting its per-message
//! redelivery timers so that an ack can skip looking for one when none exist.

use super::Timer;
use std::collections::BTreeSet;

/// Every armed timer of the core.
#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(u64, Timer)>,
    /// How many entries are [`Timer::Redeliver`].
    redeliveries: usize,
}

impl Timers {
    pub fn insert(&mut self, t: (u64, Timer)) -> bool {
        let is_redelivery = matches!(t.1, Timer::Redeliver(..));
        let added = self.set.insert(t);
        if added && is_redelivery {
            self.redeliveries += 1;
        }
        added
    }

    pub fn remove(&mut self, t: &(u64, Timer)) -> bool {
        if matches!(t.1, Timer::Redeliver(..)) && self.redeliveries == 0 {
            // The common case on an ack: the message had no timer of its own.
            return false;
        }
        let removed = self.set.remove(t);
        if removed && matches!(t.1, Timer::Redeliver(..)) {
            self.redeliveries -= 1;
        }
        removed
    }

    pub fn first(&self) -> Option<&(u64, Timer)> {
        self.set.first()
    }

    pub fn pop_first(&mut self) -> Option<(u64, Timer)> {
        let t = self.set.pop_first()?;
        if matches!(t.1, Timer::Redeliver(..)) {
            self.redeliveries -= 1;
        }
        Some(t)
    }

    #[cfg(test)]
    pub fn contains(&self, t: &(u64, Timer)) -> bool {
        self.set.contains(t)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_redelivery_timers() {
        let mut t = Timers::default();
        assert!(t.insert((5, Timer::Redeliver(1, 7))));
        assert!(!t.insert((5, Timer::Redeliver(1, 7))), "already there");
        assert!(t.insert((3, Timer::AckWait(1))));
        assert_eq!(t.redeliveries, 1);
        assert!(!t.remove(&(4, Timer::Redeliver(1, 7))), "other deadline");
        assert!(t.remove(&(5, Timer::Redeliver(1, 7))));
        assert_eq!(t.redeliveries, 0);
        assert!(!t.remove(&(5, Timer::Redeliver(1, 7))));
        assert!(t.insert((9, Timer::Redeliver(2, 1))));
        assert_eq!(t.pop_first(), Some((3, Timer::AckWait(1))));
        assert_eq!(t.pop_first(), Some((9, Timer::Redeliver(2, 1))));
        assert_eq!((t.redeliveries, t.len()), (0, 0));
    }
}
