//! A full disk under the file store: stan-server stops at once with the
//! write error (no PubAck for what it could not store), and starts again on
//! the same full disk (no compaction, no extra space needed at start) with
//! every acknowledged message, which it serves once space is freed. The
//! store lives on a 4 MiB tmpfs mounted by the test, so it needs root (CI
//! runs as root); without it the test says so and returns.

mod support;

use futures::StreamExt;
use stan_client::SubscriptionOptions;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;
use support::{opts, within, Stan};

/// A tmpfs of `size` mounted on a fresh temp dir; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], dir.path()).then_some(Tmpfs { dir })
    }

    /// Resizes the mounted tmpfs in place to `size` (its files stay).
    fn grow(&self, size: &str) {
        assert!(
            mount(&["-o", &format!("remount,size={size}")], self.dir.path()),
            "remounting the tmpfs with size={size} failed"
        );
    }
}

/// `mount <args> <dir>`, quietly: whether it succeeded.
fn mount(args: &[&str], dir: &std::path::Path) -> bool {
    Command::new("mount").args(args).arg(dir).stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_server_loudly_and_it_restarts_with_every_acked_message() {
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!("disk_full: SKIPPED, mounting a tmpfs needs root");
        return;
    };
    let store = fs.dir.path().join("store");
    let store = store.to_str().unwrap();
    let mut s = Stan::start("disk-full", &["-st", "FILE", "--dir", store]);
    let port = s.port;
    let sc = within(15, stan_client::connect("disk-full", "filler", opts(&s.url()))).await.unwrap();
    // 16 KiB messages until the store refuses: bounded at 1,000 (16 MB > 4 MiB).
    let mut acked = BTreeSet::new();
    let mut first_failure = None;
    for i in 0..1000u32 {
        let mut body = format!("m{i:04}:").into_bytes();
        body.resize(16 * 1024, b'x');
        match tokio::time::timeout(Duration::from_secs(10), sc.publish("fill", body)).await {
            Ok(Ok(_)) => {
                acked.insert(i);
            }
            Ok(Err(e)) => {
                first_failure = Some(e.to_string());
                break;
            }
            Err(_) => {
                first_failure = Some("no PubAck within 10 s".into());
                break;
            }
        }
    }
    let failure = first_failure.unwrap_or_else(|| panic!("1,000 × 16 KiB stored on a 4 MiB disk:\n{}", s.log()));
    let code = s.wait_exit(Duration::from_secs(10));
    let log = s.log();
    assert_eq!(code, Some(1), "server did not stop on the full disk ({failure}):\n{log}");
    assert!(log.contains("store write failed") || log.contains("store commit failed"), "{log}");
    assert!(log.contains("No space left on device"), "the log does not say why:\n{log}");
    assert!(acked.len() > 50, "only {} acked before the disk was full:\n{log}", acked.len());
    drop(sc);
    drop(s);

    // Same full disk: the server starts (recovery writes nothing).
    let mut s = Stan::start_on(port, "disk-full", &["-st", "FILE", "--dir", store])
        .unwrap_or_else(|log| panic!("no restart on the full disk:\n{log}"));
    // Reading journals each delivery and ack (as the original's file store
    // does), which a full disk would refuse, stopping the server loudly
    // again: the operator frees space first. The tmpfs grows in place.
    fs.grow("16m");
    let sc = within(15, stan_client::connect("disk-full", "reader", opts(&s.url()))).await.unwrap();
    let mut sub =
        within(10, sc.subscribe("fill", SubscriptionOptions::default().deliver_all_available())).await.unwrap();
    let mut stored = BTreeSet::new();
    let mut last = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        assert_eq!(m.sequence(), last + 1, "gap in the stored sequence");
        last = m.sequence();
        stored.insert(m.data_str()[1..5].parse::<u32>().unwrap());
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    eprintln!("disk_full: acked {}, stored {}, first failure: {failure}", acked.len(), stored.len());
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost, e.g. {:?}; the restarted server's log:\n{}",
        lost.len(),
        &lost[..lost.len().min(5)],
        s.log()
    );
    assert_eq!(s.wait_exit(Duration::from_millis(300)), None, "the restarted server stopped:\n{}", s.log());
    within(10, sc.close()).await.unwrap();
}
