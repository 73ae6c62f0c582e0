//! One live connection. The reader hands every chunk it reads to the
//! driver over an unbounded channel, so the socket is read on even while
//! the driver commits (nats-server disconnects a consumer that stops
//! reading). The writer writes the driver's output buffers in the order
//! they were queued, and sends a `PING` every [`PING_INTERVAL`]; too many
//! unanswered while nothing waits to be decoded means the connection is stale.

use super::handshake::Io;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

/// How often our own `PING` goes out (async-nats' default is 60 s as well).
pub const PING_INTERVAL: Duration = Duration::from_secs(60);

/// Unanswered `PING`s after which the connection is given up.
pub const MAX_PINGS_OUT: u64 = 2;

/// Reads are made into blocks of this size (one allocation per block, not per read).
const READ_BLOCK: usize = 64 * 1024;

/// From the connection task to the driver, in the order things happened.
#[derive(Debug)]
pub enum Event {
    /// A new connection (the first one too): forget any partial op of the
    /// previous one, then decode `leftover`.
    Connected { generation: u64, server: String, max_payload: usize, leftover: Bytes },
    /// Bytes read from the socket, as read.
    Chunk(Bytes),
}

/// Counters and signals shared by the driver and the connection task.
#[derive(Default)]
pub struct Shared {
    /// Bytes read from sockets (by the reader).
    pub received: AtomicU64,
    /// Bytes of those the driver has taken off the channel.
    pub taken: AtomicU64,
    /// Output bytes queued but not yet written.
    pub out_queued: AtomicU64,
    /// A connection is up.
    pub connected: AtomicBool,
    /// `PONG`s the driver decoded.
    pub pongs: AtomicU64,
    /// The current connection's generation.
    pub generation: AtomicU64,
    /// The driver asks to drop connection `kick_generation` (it sent bytes we cannot decode).
    pub kick_generation: AtomicU64,
    pub kick: Notify,
    /// `connect_urls` the servers advertised (`host:port`).
    pub advertised: Mutex<Vec<String>>,
}

impl Shared {
    /// Drop connection `generation` (if it is still the current one).
    pub fn kick(&self, generation: u64) {
        self.kick_generation.store(generation, Ordering::Relaxed);
        self.kick.notify_one();
    }

    /// Remember servers a server advertised.
    pub fn advertise(&self, urls: &[String]) {
        if let Ok(mut a) = self.advertised.lock() {
            for u in urls {
                if !a.contains(u) {
                    a.push(u.clone());
                }
            }
        }
    }
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Lost(String),
    /// The driver dropped its side: stop.
    DriverGone,
}

/// Output bytes taken off the queue, subtracted from `Shared::out_queued` when dropped.
struct Dequeued<'a>(&'a AtomicU64, u64);

impl Drop for Dequeued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::Relaxed);
    }
}

/// Run connection `generation` until it ends.
pub async fn run(
    io: Box<dyn Io>,
    generation: u64,
    events: &mpsc::UnboundedSender<Event>,
    out: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    shared: &Shared,
) -> End {
    let (mut r, mut w) = tokio::io::split(io);
    let reading = async {
        let mut buf = BytesMut::with_capacity(READ_BLOCK);
        loop {
            if buf.capacity() - buf.len() < READ_BLOCK / 16 {
                buf.reserve(READ_BLOCK);
            }
            match r.read_buf(&mut buf).await {
                Ok(0) => return End::Lost("connection closed by the server".into()),
                Ok(n) => {
                    shared.received.fetch_add(n as u64, Ordering::Relaxed);
                    if events.send(Event::Chunk(buf.split().freeze())).is_err() {
                        return End::DriverGone;
                    }
                }
                Err(e) => return End::Lost(format!("read failed: {e}")),
            }
        }
    };
    let writing = async {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let pongs_before = shared.pongs.load(Ordering::Relaxed);
        let mut pings = 0u64;
        loop {
            tokio::select! {
                b = out.recv() => {
                    let Some(b) = b else { return End::DriverGone };
                    // This buffer, everything else queued meanwhile, then one flush (TLS buffers).
                    // Written or lost with the connection (even if this future is
                    // dropped mid-write): no longer queued either way.
                    let mut taken = Dequeued(&shared.out_queued, b.len() as u64);
                    let mut r = w.write_all(&b).await;
                    while r.is_ok() {
                        let Ok(b) = out.try_recv() else { break };
                        taken.1 += b.len() as u64;
                        r = w.write_all(&b).await;
                    }
                    if r.is_ok() {
                        r = w.flush().await;
                    }
                    drop(taken);
                    if let Err(e) = r {
                        return End::Lost(format!("write failed: {e}"));
                    }
                }
                _ = ticks.tick() => {
                    let answered = shared.pongs.load(Ordering::Relaxed) - pongs_before;
                    let undecoded = shared.received.load(Ordering::Relaxed) > shared.taken.load(Ordering::Relaxed);
                    if pings.saturating_sub(answered) >= MAX_PINGS_OUT && !undecoded {
                        return End::Lost(format!("{MAX_PINGS_OUT} PINGs unanswered"));
                    }
                    pings += 1;
                    if let Err(e) = async { w.write_all(b"PING\r\n").await?; w.flush().await }.await {
                        return End::Lost(format!("write failed: {e}"));
                    }
                }
            }
        }
    };
    let kicked = async {
        loop {
            shared.kick.notified().await;
            if shared.kick_generation.load(Ordering::Relaxed) == generation {
                return End::Lost("protocol error".into());
            }
        }
    };
    tokio::select! {
        e = reading => e,
        e = writing => e,
        e = kicked => e,
    }
}
