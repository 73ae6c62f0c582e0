//! The active/standby lease: one stan-server per cluster ID writes to
//! JetStream at a time, the one holding the key `active` of a KV bucket
//! whose entries expire after the lease time.
//!
//! The holder renews the key with a revision compare-and-set four times per
//! lease time. A standby polls `create` (which succeeds only once the key
//! is gone, i.e. one lease time after the holder's last renewal). The holder
//! treats its lease as valid until 3/4 of the lease time after it *sent* its
//! last successful renewal, so it stops writing before a standby can take
//! over (this assumes clock rates, not clocks, agree). A renewal refused
//! with a wrong revision: if the key holds another server's ID, that server
//! holds the lease and this process exits at once (fail-stop); if it holds
//! our own ID (a renewal that timed out was applied after all, e.g. across
//! a JetStream leader election) we continue from it; if it is gone
//! (expired) and nothing was written to the bucket since our revision, we
//! take it again, otherwise we exit.

use crate::log;
use async_nats::jetstream::{self, kv};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The key holding the active server's ID.
const KEY: &str = "active";

/// The locally known validity of our lease.
#[derive(Debug)]
pub struct Lease {
    epoch: Instant,
    /// Milliseconds since `epoch` until which we may write.
    valid_until_ms: AtomicU64,
    pub ttl: Duration,
}

impl Lease {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn renewed(&self, sent_at: Instant) {
        let until = sent_at.duration_since(self.epoch) + self.ttl * 3 / 4;
        self.valid_until_ms.fetch_max(until.as_millis() as u64, Ordering::SeqCst);
    }

    /// Whether we may write now.
    pub fn is_valid(&self) -> bool {
        self.now_ms() < self.valid_until_ms.load(Ordering::SeqCst)
    }

    /// Wait (bounded by `max`) until the lease is valid. It lapses when
    /// JetStream cannot renew it, e.g. for the seconds a stream leader
    /// election takes after a node loss; writes wait meanwhile (no PubAck).
    pub async fn wait_valid(&self, max: Duration) -> Result<(), String> {
        let deadline = Instant::now() + max;
        while !self.is_valid() {
            if Instant::now() >= deadline {
                return Err(format!("the active lease could not be renewed within {max:?}; refusing to write"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// Open (creating if needed) the lease bucket of `cluster_tok`.
pub async fn bucket(
    js: &jetstream::Context,
    cluster_tok: &str,
    ttl: Duration,
    replicas: usize,
) -> Result<kv::Store, String> {
    let name = format!("STAN_{cluster_tok}_LEASE");
    // Bounded retries: JetStream may still be starting (or electing a leader).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = js.get_key_value(&name).await {
            return Ok(s);
        }
        let cfg =
            kv::Config { bucket: name.clone(), history: 1, max_age: ttl, num_replicas: replicas, ..Default::default() };
        match js.create_key_value(cfg).await {
            Ok(s) => return Ok(s),
            // (Another server may have created it meanwhile: the next get finds it.)
            Err(e) if Instant::now() >= deadline => return Err(format!("cannot create the lease bucket {name}: {e}")),
            Err(e) => log::debug(format_args!("Cannot create the lease bucket {name}: {e}; retrying")),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Wait (unbounded: a standby waits as long as the active lives) until we
/// hold the lease, then keep renewing it in a background task of the
/// current runtime. Returns the shared validity.
pub async fn acquire(store: kv::Store, server_id: &str, ttl: Duration) -> Result<Arc<Lease>, String> {
    let lease = Arc::new(Lease { epoch: Instant::now(), valid_until_ms: AtomicU64::new(0), ttl });
    let mut announced = false;
    let revision = loop {
        let sent_at = Instant::now();
        match store.create(KEY, server_id.to_string().into()).await {
            Ok(rev) => {
                lease.renewed(sent_at);
                break rev;
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                if !announced {
                    let holder = store.get(KEY).await.ok().flatten().unwrap_or_default();
                    log::info(format_args!(
                        "Standby: another stan-server ({}) is active for this cluster ID; waiting to take over",
                        String::from_utf8_lossy(&holder)
                    ));
                    announced = true;
                }
            }
            Err(e) => log::debug(format_args!("Lease create failed: {e}; retrying")),
        }
        tokio::time::sleep(ttl / 10).await;
    };
    log::info(format_args!("Active: this stan-server holds the lease (lease time {ttl:?})"));
    let l = lease.clone();
    let id = server_id.to_string();
    tokio::spawn(async move { renew(store, id, revision, l).await });
    Ok(lease)
}

async fn renew(store: kv::Store, id: String, mut revision: u64, lease: Arc<Lease>) {
    loop {
        tokio::time::sleep(lease.ttl / 4).await;
        let sent_at = Instant::now();
        match tokio::time::timeout(lease.ttl / 2, store.update(KEY, id.clone().into(), revision)).await {
            Ok(Ok(rev)) => {
                revision = rev;
                lease.renewed(sent_at);
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                // Our revision is stale. Who wrote last decides (our ID is
                // unique to this process, so a value holding it is ours).
                match store.entry(KEY).await {
                    // A renewal of ours that timed out here was applied after
                    // all (e.g. across a JetStream leader election): go on
                    // from it; the next renewal restores the validity.
                    Ok(Some(en)) if en.operation == kv::Operation::Put && en.value == id.as_bytes() => {
                        log::debug(format_args!("The lease holds a late renewal of ours; continuing from it"));
                        revision = en.revision;
                    }
                    Ok(Some(en)) if en.operation == kv::Operation::Put => {
                        log::error(format_args!(
                            "Lost the active lease (another stan-server, {}, took over); exiting so that only \
                             one server writes",
                            String::from_utf8_lossy(&en.value)
                        ));
                        std::process::exit(1);
                    }
                    // The key expired (e.g. NATS was unreachable for a lease
                    // time). Revisions are the bucket stream's sequences: if
                    // nothing was written since our revision, nobody took the
                    // lease meanwhile (so nobody wrote): take it again.
                    Ok(_) => match store.stream.get_info().await {
                        Ok(info) if info.state.last_sequence == revision => {
                            match store.create(KEY, id.clone().into()).await {
                                Ok(rev) => {
                                    log::info(format_args!("The active lease had expired; re-acquired it"));
                                    revision = rev;
                                    lease.renewed(sent_at);
                                }
                                // Taken meanwhile (the next round reads by whom), or
                                // a transient failure: retry; writes wait meanwhile.
                                Err(e) => log::debug(format_args!("Lease re-acquisition failed: {e}; retrying")),
                            }
                        }
                        Ok(info) => {
                            log::error(format_args!(
                                "Lost the active lease (it expired and was written since, revision {} after ours \
                                 {revision}); exiting so that only one server writes",
                                info.state.last_sequence
                            ));
                            std::process::exit(1);
                        }
                        Err(e) => log::debug(format_args!("Cannot read the lease bucket: {e}; retrying")),
                    },
                    Err(e) => log::debug(format_args!("Cannot read the lease: {e}; retrying")),
                }
            }
            Ok(Err(e)) => log::debug(format_args!("Lease renewal failed: {e}; retrying")),
            Err(_) => log::debug(format_args!("Lease renewal timed out; retrying")),
        }
    }
}
