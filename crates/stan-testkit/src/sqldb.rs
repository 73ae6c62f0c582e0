//! `SqlDb`: a throw-away PostgreSQL or MariaDB server for tests, in a
//! temporary directory, on a free loopback port, loaded with
//! nats-streaming-server's SQL schema; stopped by PID (and its directory
//! removed) on `Drop`.
//!
//! PostgreSQL refuses to run as root: when the test runs as root, `initdb`
//! and `postgres` run as the `postgres` user (Debian's package creates it),
//! else `nobody`. MariaDB runs as the current user (`--user=root` when root).
//! Binaries: `PG_BIN_DIR` (default: the newest `/usr/lib/postgresql/*/bin`,
//! then `PATH`); `mariadbd`, `mariadb-install-db` and `mariadb` from `PATH`
//! or `/usr/sbin`. [`SqlDb::available`] tells whether they are installed.

use crate::ports::free_port;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nats-streaming-server 0.25's `scripts/postgres.db.sql`, with the one
/// statement PostgreSQL rejects (a prefix index, `name(256)`) written as a
/// plain index; one statement a line (the Jest harness reads it too).
pub const POSTGRES_SCHEMA: &str = include_str!("../sql/postgres.db.sql");

/// nats-streaming-server 0.25's `scripts/mysql.db.sql`.
pub const MYSQL_SCHEMA: &str = include_str!("../sql/mysql.db.sql");

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    Postgres,
    MariaDb,
}

/// A running database server with an `nss_db` database holding the schema.
#[derive(Debug)]
pub struct SqlDb {
    kind: SqlKind,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn pg_bin(name: &str) -> PathBuf {
    if let Ok(d) = std::env::var("PG_BIN_DIR") {
        return Path::new(&d).join(name);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join(name).exists()).collect())
        .unwrap_or_default();
    dirs.sort_by_key(|p| p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    dirs.pop().map(|d| d.join(name)).unwrap_or_else(|| PathBuf::from(name))
}

fn sbin(name: &str) -> PathBuf {
    for d in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(d).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// uid and gid of `user` from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user) && f.len() > 3).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl SqlDb {
    /// Whether the binaries for `kind` are installed.
    pub fn available(kind: SqlKind) -> bool {
        match kind {
            SqlKind::Postgres => pg_bin("postgres").exists() && pg_bin("initdb").exists(),
            SqlKind::MariaDb => sbin("mariadbd").exists() && sbin("mariadb-install-db").exists(),
        }
    }

    /// Start a fresh server of `kind` with the schema loaded.
    pub fn start(kind: SqlKind) -> SqlDb {
        let dir = std::env::temp_dir().join(format!("stan-sqldb-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("db dir");
        let mut db = SqlDb { kind, port: free_port(), dir, child: None };
        match kind {
            SqlKind::Postgres => db.start_postgres(),
            SqlKind::MariaDb => db.start_mariadb(),
        }
        db.create_schema();
        db
    }

    fn pg_user(&self) -> Option<(u32, u32)> {
        if !is_root() {
            return None;
        }
        Some(user_ids("postgres").or_else(|| user_ids("nobody")).expect("a postgres or nobody user"))
    }

    fn as_pg_user(&self, cmd: &mut Command) {
        if let Some((uid, gid)) = self.pg_user() {
            cmd.uid(uid).gid(gid).env("HOME", &self.dir);
        }
    }

    fn start_postgres(&mut self) {
        if let Some((uid, gid)) = self.pg_user() {
            run_ok(Command::new("chown").arg(format!("{uid}:{gid}")).arg(&self.dir), "chown");
        }
        let data = self.dir.join("data");
        let mut init = Command::new(pg_bin("initdb"));
        init.args(["-A", "trust", "-U", "nss", "--no-sync", "-E", "UTF8", "-D"]).arg(&data).current_dir(&self.dir);
        self.as_pg_user(&mut init);
        run_ok(&mut init, "initdb");
        let log = std::fs::File::create(self.dir.join("postgres.log")).expect("log");
        let mut cmd = Command::new(pg_bin("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.as_pg_user(&mut cmd);
        self.child = Some(cmd.spawn().expect("start postgres"));
        self.wait_ready(|db| db.psql("postgres", "SELECT 1").is_ok());
        self.psql("postgres", "CREATE DATABASE nss_db").expect("create database");
    }

    fn start_mariadb(&mut self) {
        let data = self.dir.join("data");
        // A temp dir of its own: bootstraps running at once must not share /tmp's
        // `#sql-temptable-*` files (seen: "Could not remove temporary table").
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("mariadb tmpdir");
        let mut install = Command::new(sbin("mariadb-install-db"));
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--skip-test-db")
            .arg(format!("--tmpdir={}", tmp.display()));
        if is_root() {
            install.arg("--user=root");
        }
        run_ok(&mut install, "mariadb-install-db");
        let log = std::fs::File::create(self.dir.join("mariadb.log")).expect("log");
        let mut cmd = Command::new(sbin("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", self.dir.join("mariadb.pid").display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--port={}", self.port))
            .args(["--bind-address=127.0.0.1", "--skip-log-bin", "--innodb-buffer-pool-size=32M"])
            .args(["--innodb-flush-log-at-trx-commit=2", "--skip-name-resolve"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if is_root() {
            cmd.arg("--user=root");
        }
        self.child = Some(cmd.spawn().expect("start mariadbd"));
        self.wait_ready(|db| db.mysql_root("SELECT 1").is_ok());
        self.mysql_root(
            "CREATE DATABASE nss_db; CREATE USER 'nss'@'%' IDENTIFIED BY 'nss'; \
             GRANT ALL ON nss_db.* TO 'nss'@'%'; FLUSH PRIVILEGES;",
        )
        .expect("create database");
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("mariadb.sock")
    }

    fn wait_ready(&mut self, ok: impl Fn(&SqlDb) -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ok(self) {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("{:?} exited ({st}):\n{}", self.kind, self.server_log());
            }
            if Instant::now() > deadline {
                panic!("{:?} not ready within {START_TIMEOUT:?}:\n{}", self.kind, self.server_log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The database server's log.
    pub fn server_log(&self) -> String {
        let name = if self.kind == SqlKind::Postgres { "postgres.log" } else { "mariadb.log" };
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(pg_bin("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .args(["-U", "nss", "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn mysql_client(&self, user: &[&str], db: &[&str], sql: &str) -> Result<String, String> {
        let out = Command::new(sbin("mariadb"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(user)
            .args(["-N", "-B"])
            .args(db)
            .args(["-e", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn mysql_root(&self, sql: &str) -> Result<String, String> {
        self.mysql_client(&["-u", "root"], &[], sql)
    }

    fn create_schema(&self) {
        match self.kind {
            SqlKind::Postgres => {
                for stmt in POSTGRES_SCHEMA.lines().filter(|l| !l.trim().is_empty()) {
                    self.psql("nss_db", stmt).unwrap_or_else(|e| panic!("schema {stmt}: {e}"));
                }
            }
            SqlKind::MariaDb => {
                self.mysql_client(&["-u", "root"], &["nss_db"], MYSQL_SCHEMA).unwrap_or_else(|e| panic!("schema: {e}"));
            }
        }
    }

    /// Runs `sql` on `nss_db` and returns its output (tab-separated, one line per row).
    pub fn query(&self, sql: &str) -> String {
        let r = match self.kind {
            SqlKind::Postgres => self.psql("nss_db", sql),
            SqlKind::MariaDb => self.mysql_client(&["-u", "root"], &["nss_db"], sql),
        };
        r.unwrap_or_else(|e| panic!("query {sql}: {e}"))
    }

    /// `--sql_driver` for this database.
    pub fn driver(&self) -> &'static str {
        match self.kind {
            SqlKind::Postgres => "postgres",
            SqlKind::MariaDb => "mysql",
        }
    }

    /// `--sql_source` for this database, in the form nats-streaming-server takes.
    pub fn source(&self) -> String {
        match self.kind {
            SqlKind::Postgres => format!("host=127.0.0.1 port={} user=nss dbname=nss_db sslmode=disable", self.port),
            SqlKind::MariaDb => format!("nss:nss@tcp(127.0.0.1:{})/nss_db", self.port),
        }
    }

    /// The STAN server flags selecting this database.
    pub fn stan_args(&self) -> Vec<String> {
        ["-st", "SQL", "--sql_driver", self.driver(), "--sql_source", &self.source()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Stops the server: SIGTERM by PID, SIGKILL after 15 s.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for SqlDb {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
