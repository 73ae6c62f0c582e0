//! `ServerProcess`: one child process with its output in a log file, killed
//! by PID on `Drop`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A running server.
#[derive(Debug)]
pub struct ServerProcess {
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    /// Start `bin args`, sending stdout and stderr to a fresh log file.
    pub fn start(name: &str, bin: &Path, args: Vec<String>) -> ServerProcess {
        let mut p = Self::start_later(name, bin, args);
        p.spawn();
        p
    }

    /// Prepare `bin args` without starting it; [`ServerProcess::restart`] starts it.
    pub fn start_later(name: &str, bin: &Path, args: Vec<String>) -> ServerProcess {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stan-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("log dir");
        let log = dir.join(format!("{n:03}-{name}.log"));
        ServerProcess { bin: bin.to_path_buf(), args, log, child: None }
    }

    fn spawn(&mut self) {
        let out = File::options().create(true).append(true).open(&self.log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// The child's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log file of this process.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait (bounded by `limit`) until `what` is in the log `n` times.
    /// Panics with the log if the process exits first or time runs out.
    pub fn wait_for_log(&mut self, what: &str, n: usize, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let log = self.log();
            if log.matches(what).count() >= n {
                return;
            }
            assert!(!self.has_exited(), "{} exited before {what:?}:\n{log}", self.bin.display());
            assert!(std::time::Instant::now() < deadline, "no {what:?} within {limit:?}:\n{log}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// True if the child exited.
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Kill the child (by its PID) and reap it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A clean stop: SIGTERM by PID, then wait up to `limit` for the exit
    /// (SIGKILL after that). Returns whether it exited by itself in time.
    pub fn terminate(&mut self, limit: std::time::Duration) -> bool {
        let Some(mut c) = self.child.take() else { return true };
        let _ = std::process::Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if !matches!(c.try_wait(), Ok(None)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Start the same command again (after [`ServerProcess::stop`]).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
