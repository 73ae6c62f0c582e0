//! Opt-in timestamps at each hop of a publish→message round trip (cargo
//! feature `hop-trace`; without it every call here compiles to nothing).
//! Times are `CLOCK_MONOTONIC` nanoseconds, the clock of Node's
//! `process.hrtime`, so a JS harness can line them up with its own marks.
//! Each hop keeps only its latest time: the harness reads them once per
//! round trip, one round trip at a time (`docs/performance.md`, "Where the
//! microseconds of one round trip go").

/// The hops, in the order a round trip passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Hop {
    /// A binding entered its publish call (caller's thread).
    PublishCall = 0,
    /// The session core queued the publish (guid made, message encoded).
    PublishQueued = 1,
    /// The binding's publish call returned (on the fast lane, async-nats
    /// has the message).
    PublishReturned = 2,
    /// The driver took a STAN message delivery off the inbound stream.
    DeliveryIn = 3,
    /// The driver took a PubAck off the inbound stream.
    PubAckIn = 4,
    /// The driver passed a batch holding a delivery to the event sink.
    DeliveryToSink = 5,
    /// The sink asked the binding's thread to wake up (a batch with a delivery).
    WakeCaller = 6,
    /// The binding's thread took the pending events.
    EventsTaken = 7,
}

/// How many hops there are.
pub const HOPS: usize = 8;

#[cfg(feature = "hop-trace")]
mod imp {
    use super::{Hop, HOPS};
    use std::sync::atomic::{AtomicU64, Ordering};

    static MARKS: [AtomicU64; HOPS] = [const { AtomicU64::new(0) }; HOPS];

    fn now_ns() -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    pub fn mark(hop: Hop) {
        MARKS[hop as usize].store(now_ns(), Ordering::Relaxed);
    }

    pub fn marks() -> [u64; HOPS] {
        std::array::from_fn(|i| MARKS[i].load(Ordering::Relaxed))
    }
}

#[cfg(not(feature = "hop-trace"))]
mod imp {
    use super::{Hop, HOPS};

    #[inline(always)]
    pub fn mark(_: Hop) {}

    pub fn marks() -> [u64; HOPS] {
        [0; HOPS]
    }
}

/// Record that the current round trip passed `hop` now.
#[inline(always)]
pub fn mark(hop: Hop) {
    imp::mark(hop)
}

/// The latest time of each hop (all zero without the `hop-trace` feature).
pub fn marks() -> [u64; HOPS] {
    imp::marks()
}
