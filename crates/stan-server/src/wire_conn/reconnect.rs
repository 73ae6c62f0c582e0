//! The connection task: runs one connection after the other for as long as
//! the driver lives. When a connection ends it tries the servers it knows
//! (the `-ns` list, then the ones the cluster advertised; the last good one
//! first) with a short capped backoff, without limit, as async-nats did with
//! `max_reconnects(None)`. Each new connection is subscribed to the same
//! subjects before the driver hears of it; output queued meanwhile is
//! written after the subscriptions, in order.

use super::addr::ServerAddr;
use super::handshake::{self, Connected, Params};
use super::pump::{self, End, Event, Shared};
use crate::log;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a reconnect that keeps failing is reported as an error.
const REPORT_EVERY: Duration = Duration::from_secs(10);

pub struct Task {
    pub addrs: Vec<ServerAddr>,
    /// Index in `addrs` of the server last connected.
    pub current: usize,
    pub params: Params,
    pub events: mpsc::UnboundedSender<Event>,
    pub out: mpsc::UnboundedReceiver<Vec<u8>>,
    pub shared: Arc<Shared>,
}

impl Task {
    /// Serve `first`, then every reconnection, until the driver is gone.
    pub async fn run(mut self, first: Connected) {
        let mut conn = first;
        let mut generation = 0;
        loop {
            generation += 1;
            self.shared.advertise(&conn.info.connect_urls);
            self.shared.generation.store(generation, Ordering::Relaxed);
            self.shared.connected.store(true, Ordering::Relaxed);
            let server = self.addrs[self.current].to_string();
            let leftover = Bytes::from(conn.leftover);
            let max_payload = conn.info.max_payload;
            if self.events.send(Event::Connected { generation, server, max_payload, leftover }).is_err() {
                return;
            }
            let end = pump::run(conn.io, generation, &self.events, &mut self.out, &self.shared).await;
            self.shared.connected.store(false, Ordering::Relaxed);
            let End::Lost(why) = end else { return };
            log::info(format_args!("NATS connection event: disconnected from {} ({why})", self.addrs[self.current]));
            let Some(c) = self.reconnect().await else { return };
            log::info(format_args!("NATS connection event: connected to {}", self.addrs[self.current]));
            conn = c;
        }
    }

    /// Add the servers the cluster advertised.
    fn learn(&mut self) {
        let advertised = self.shared.advertised.lock().map(|a| a.clone()).unwrap_or_default();
        for u in advertised {
            if let Some(a) = self.addrs[0].advertised(&u) {
                if !self.addrs.iter().any(|b| b.same_server(&a)) {
                    self.addrs.push(a);
                }
            }
        }
    }

    /// Try every known server, again and again; `None` once the driver is gone.
    async fn reconnect(&mut self) -> Option<Connected> {
        let started = Instant::now();
        let mut reported = Instant::now();
        let mut attempt = 0usize;
        loop {
            attempt += 1;
            self.learn();
            let mut last = String::new();
            for k in 0..self.addrs.len() {
                if self.events.is_closed() {
                    return None;
                }
                let i = (self.current + k) % self.addrs.len();
                match handshake::connect(&self.addrs[i], &self.params).await {
                    Ok(c) => {
                        self.current = i;
                        return Some(c);
                    }
                    Err(e) => {
                        log::debug(format_args!("Reconnecting to NATS at {} failed: {e}", self.addrs[i]));
                        last = format!("{}: {e}", self.addrs[i]);
                    }
                }
            }
            if reported.elapsed() >= REPORT_EVERY {
                reported = Instant::now();
                log::error(format_args!(
                    "Not connected to NATS for {:.0?} ({attempt} attempts); last error: {last}; still trying",
                    started.elapsed()
                ));
            }
            tokio::time::sleep(crate::nats_conn::reconnect_delay(attempt)).await;
        }
    }
}
