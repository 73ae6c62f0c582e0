//! Command-line flags, compatible with `nats-streaming-server` for the flags
//! users pass (Go flag syntax: `-f v`, `--f v`, `-f=v`, `--f=v`).

use std::time::Duration;

/// The store type (`-st`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreType {
    Memory,
    File,
    Sql,
    /// `--store jetstream`: channels and state in JetStream (`-ns`, or an embedded `-js` child).
    JetStream,
}

/// The SQL store's flags (`--sql_*`), as in nats-streaming-server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SqlFlags {
    /// `--sql_driver`: `postgres` or `mysql`.
    pub driver: Option<String>,
    /// `--sql_source`: the driver's data source (DSN).
    pub source: Option<String>,
    /// `--sql_no_caching`: stan-server always writes every change before
    /// replying, so both values give the no-caching guarantee.
    pub no_caching: bool,
    /// `--sql_max_open_conns`: at most this many connections (0: no limit).
    pub max_open_conns: i64,
}

/// Everything the command line configures.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub cluster_id: String,
    pub addr: String,
    pub port: u16,
    pub http_port: Option<u16>,
    pub hb_interval: Duration,
    pub hb_timeout: Duration,
    pub hb_fail_count: u32,
    pub store: StoreType,
    pub dir: Option<String>,
    pub file_sync: bool,
    pub sql: SqlFlags,
    /// `--js_replicas`: replicas of each JetStream stream (JETSTREAM store).
    pub js_replicas: Option<usize>,
    /// `--js_lease`: the active server's lease time (JETSTREAM store).
    pub js_lease: Option<Duration>,
    pub nats_server: Option<String>,
    /// 0 errors, 1 info, 2 debug, 3 trace.
    pub stan_log_level: u8,
    pub nats_debug: bool,
    pub nats_trace: bool,
    pub log_file: Option<String>,
    pub nats_config: Option<String>,
    pub max_channels: usize,
    pub max_subs: usize,
    pub max_msgs: u64,
    pub max_bytes: u64,
    pub max_age: Duration,
    pub max_inactivity: Duration,
    pub replace_durable: bool,
    pub ws_port: Option<u16>,
    pub user: Option<String>,
    pub pass: Option<String>,
    /// `--auth`: the token clients must present.
    pub auth: Option<String>,
    /// `--nats_user/--nats_pass/--nats_token`: stan-server's own connection
    /// only (e.g. a user of a `-c` file's users list). Not in the original.
    pub nats_user: Option<String>,
    pub nats_pass: Option<String>,
    pub nats_token: Option<String>,
    /// `--nats_nkey FILE`: the NKey seed of stan-server's own connection (a `-c` file's `nkey` user).
    pub nats_nkey: Option<String>,
    pub nats_server_bin: Option<String>,
    /// Embedded NATS TLS (`--tls`, `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify`).
    pub tls: TlsServer,
    /// Streaming server's own connection (`-secure`, `-tls_client_*`).
    pub client_tls: TlsClient,
    /// Embedded NATS clustering (`--cluster`, `--routes`, ...).
    pub cluster: NatsCluster,
    /// `--ft_group`: the fault-tolerance group this server is a member of.
    pub ft_group: Option<String>,
}

/// TLS of the embedded nats-server's client port.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsServer {
    pub enabled: bool,
    pub verify: bool,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub ca_cert: Option<String>,
}

impl TlsServer {
    /// Whether the embedded server's client port uses TLS (any TLS flag turns it on, as in nats-server).
    pub fn is_on(&self) -> bool {
        self.enabled || self.verify || self.cert.is_some() || self.key.is_some() || self.ca_cert.is_some()
    }
}

/// TLS of stan-server's own NATS connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsClient {
    /// `-secure`: TLS without verifying the server's certificate.
    pub secure: bool,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub ca_cert: Option<String>,
}

/// Route clustering of the embedded nats-server (NATS layer only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NatsCluster {
    pub listen: Option<String>,
    pub routes: Option<String>,
    pub name: Option<String>,
    pub no_advertise: Option<bool>,
    pub connect_retries: Option<u32>,
}

impl NatsCluster {
    pub fn is_set(&self) -> bool {
        self != &NatsCluster::default()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cluster_id: "test-cluster".into(),
            addr: "0.0.0.0".into(),
            port: 4222,
            http_port: None,
            hb_interval: Duration::from_secs(30),
            hb_timeout: Duration::from_secs(10),
            hb_fail_count: 10,
            store: StoreType::Memory,
            dir: None,
            file_sync: true,
            sql: SqlFlags::default(),
            js_replicas: None,
            js_lease: None,
            nats_server: None,
            stan_log_level: 1,
            nats_debug: false,
            nats_trace: false,
            log_file: None,
            nats_config: None,
            max_channels: 100,
            max_subs: 1000,
            max_msgs: 1_000_000,
            max_bytes: 1_024_000_000,
            max_age: Duration::ZERO,
            max_inactivity: Duration::ZERO,
            replace_durable: false,
            ws_port: None,
            user: None,
            pass: None,
            auth: None,
            nats_user: None,
            nats_pass: None,
            nats_token: None,
            nats_nkey: None,
            nats_server_bin: None,
            tls: TlsServer::default(),
            client_tls: TlsClient::default(),
            cluster: NatsCluster::default(),
            ft_group: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(Box<Options>),
    Help,
    Version,
}

pub const USAGE: &str = "\
Usage: stan-server [options]
       stan-server migrate --from <dir> --to <dir>   (convert nats-streaming-server's file store; see migrate --help)

Streaming Server Options:
    -cid, --cluster_id  <string>     Cluster ID (default: test-cluster)
    -st,  --store <string>           Store type: MEMORY|FILE|SQL|JETSTREAM (default: MEMORY)
          --dir <string>             For FILE store type, this is the root directory
                                     (JETSTREAM store without -ns: the embedded nats-server's JetStream
                                     store directory; default: <tmp>/stan-server-js-<cluster_id>-<port>)
          --file_sync <bool>         FILE store: fsync each batch before PubAcks (default: true)
          --sql_driver <string>      SQL store: postgres or mysql
          --sql_source <string>      SQL store: data source, e.g. \"host=127.0.0.1 user=nss dbname=nss_db sslmode=disable\"
                                     or \"nss:pwd@tcp(127.0.0.1:3306)/nss_db\" (the original's schema must exist)
          --sql_no_caching <bool>    SQL store: accepted; every change is always written before the reply
          --sql_max_open_conns <int> SQL store: max connections to the database (stan-server uses 1)
          --js_replicas <int>        JETSTREAM store: replicas of each stream, 1..5 (default: 1)
          --js_lease <duration>      JETSTREAM store: lease time of the active server (default: 5s)
    -mc,  --max_channels <int>       Max number of channels (0 for unlimited, default 100)
    -msu, --max_subs <int>           Max number of subscriptions per channel (0 for unlimited, default 1000)
    -mm,  --max_msgs <int>           Max number of messages per channel (0 for unlimited, default 1000000)
    -mb,  --max_bytes <size>         Max messages total size per channel (0 for unlimited, default 1024000000)
    -ma,  --max_age <duration>       Max duration a message can be stored (\"0s\" for unlimited)
    -mi,  --max_inactivity <duration> Max inactivity (no new message, no subscription) after which a channel
                                     and its messages are deleted (0 for unlimited, the default)
    -ns,  --nats_server <string>     Connect to this external NATS Server URL (embedded otherwise)
    -hbi, --hb_interval <duration>   Interval at which server sends heartbeat to a client (default 30s)
    -hbt, --hb_timeout <duration>    How long server waits for a heartbeat response (default 10s)
    -hbf, --hb_fail_count <int>      Number of failed heartbeats before server closes the client connection (default 10)
          --replace_durable <bool>   Replace the existing durable subscription instead of reporting a duplicate durable error
          --ft_group <string>        Name of the FT group: one active server, the others standby, sharing
                                     the FILE store directory (--dir) through its exclusive lock

Streaming Server TLS Options (stan-server's own NATS connection):
    -secure <bool>                   Use TLS to the NATS server without verifying its certificate
    -tls_client_key <string>         Client key for the streaming server
    -tls_client_cert <string>        Client certificate for the streaming server
    -tls_client_cacert <string>      CA that signed the NATS server's certificate
          --nats_user <string>       User for stan-server's own NATS connection only (e.g. one of a
          --nats_pass <string>       -c file's users); default: --user/--pass
          --nats_token <string>      Token for stan-server's own NATS connection only; default: --auth
          --nats_nkey <file>         NKey seed file for stan-server's own NATS connection only

Streaming Server Logging Options:
    -SD,  --stan_debug=<bool>        Enable STAN debugging output
    -SV,  --stan_trace=<bool>        Trace the raw STAN protocol
    -SDV                             Debug and trace STAN
    -l,   --log <string>             File to redirect log output

Embedded NATS Server Options (ignored with -ns):
    -a,   --addr <string>            Bind to host address (default: 0.0.0.0)
    -p,   --port <int>               Use port for clients (default: 4222)
    -m,   --http_port <int>          Use port for http monitoring (also serves /streaming)
    -c,   --config <string>          NATS server configuration file
          --ws_port <int>            Also accept NATS over WebSocket (no TLS) on this port, for browsers
          --nats_server_bin <path>   nats-server binary to run (default: $NATS_SERVER_BIN, then PATH)
    -D,   --debug=<bool>             Enable NATS debugging output
    -V,   --trace=<bool>             Trace the raw NATS protocol
    -DV                              Debug and trace NATS

Authorization Options (required from every client of the embedded NATS server;
stan-server's own connection uses them too, also with -ns):
          --user <string>            User required for connections
          --pass <string>            Password required for connections
          --auth <string>            Authorization token required for connections

TLS Options (embedded NATS server):
          --tls=<bool>               Enable TLS, do not verify clients (default: false)
          --tlscert <string>         Server certificate file
          --tlskey <string>          Private key for server certificate
          --tlsverify=<bool>         Enable TLS, verify client certificates
          --tlscacert <string>       Client certificate CA for verification
                                     (with -ns: --tls and --tlscacert apply to stan-server's own connection)

NATS Clustering Options (embedded NATS server; STAN state stays per server):
          --routes <string, ...>     Routes to solicit and connect
          --cluster <string>         Cluster URL for solicited routes
          --cluster_name <string>    Cluster name
          --no_advertise=<bool>      Do not advertise known cluster information to clients
          --connect_retries <int>    For implicit routes, number of connect retries

Common Options:
    -h,   --help                     Show this message
    -v,   --version                  Show version
";

const BOOL_FLAGS: &[&str] = &[
    "SD",
    "stan_debug",
    "SV",
    "stan_trace",
    "SDV",
    "D",
    "debug",
    "V",
    "trace",
    "DV",
    "replace_durable",
    "file_sync",
    "sql_no_caching",
    "tls",
    "tlsverify",
    "secure",
    "no_advertise",
    "h",
    "help",
    "v",
    "version",
];

const VALUE_FLAGS: &[&str] = &[
    "cid",
    "cluster_id",
    "a",
    "addr",
    "net",
    "p",
    "port",
    "m",
    "http_port",
    "hbi",
    "hb_interval",
    "hbt",
    "hb_timeout",
    "hbf",
    "hb_fail_count",
    "st",
    "store",
    "dir",
    "sql_driver",
    "sql_source",
    "sql_max_open_conns",
    "sql_bulk_insert_limit",
    "js_replicas",
    "js_lease",
    "ns",
    "nats_server",
    "l",
    "log",
    "c",
    "config",
    "mc",
    "max_channels",
    "msu",
    "max_subs",
    "mm",
    "max_msgs",
    "mb",
    "max_bytes",
    "ma",
    "max_age",
    "mi",
    "max_inactivity",
    "ws_port",
    "user",
    "pass",
    "auth",
    "nats_user",
    "nats_pass",
    "nats_token",
    "nats_nkey",
    "nats_server_bin",
    "tlscert",
    "tlskey",
    "tlscacert",
    "tls_client_key",
    "tls_client_cert",
    "tls_client_cacert",
    "cluster",
    "routes",
    "cluster_name",
    "connect_retries",
    "ft_group",
];

/// Parse the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument: {arg}"));
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (stripped.to_string(), None),
        };
        if BOOL_FLAGS.contains(&name.as_str()) {
            let on = match inline.as_deref() {
                None => true,
                Some(v) => parse_bool(v).ok_or_else(|| format!("invalid boolean value {v:?} for -{name}"))?,
            };
            match name.as_str() {
                "h" | "help" => return Ok(Command::Help),
                "v" | "version" => return Ok(Command::Version),
                "SD" | "stan_debug" => o.stan_log_level = if on { o.stan_log_level.max(2) } else { 1 },
                "SV" | "stan_trace" | "SDV" => o.stan_log_level = if on { 3 } else { 1 },
                "D" | "debug" => o.nats_debug = on,
                "V" | "trace" => o.nats_trace = on,
                "DV" => (o.nats_debug, o.nats_trace) = (on, on),
                "replace_durable" => o.replace_durable = on,
                "file_sync" => o.file_sync = on,
                "sql_no_caching" => o.sql.no_caching = on,
                "tls" => o.tls.enabled = on,
                "tlsverify" => o.tls.verify = on,
                "secure" => o.client_tls.secure = on,
                "no_advertise" => o.cluster.no_advertise = Some(on),
                _ => unreachable!("listed in BOOL_FLAGS"),
            }
            continue;
        }
        if !VALUE_FLAGS.contains(&name.as_str()) {
            return Err(format!("flag provided but not defined: -{name}"));
        }
        let v = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("flag needs an argument: -{name}"))?,
        };
        match name.as_str() {
            "cid" | "cluster_id" => o.cluster_id = v,
            "a" | "addr" | "net" => o.addr = v,
            "p" | "port" => o.port = parse_num(&name, &v)?,
            "m" | "http_port" => o.http_port = Some(parse_num(&name, &v)?),
            "hbi" | "hb_interval" => o.hb_interval = parse_duration(&v).ok_or_else(|| bad(&name, &v))?,
            "hbt" | "hb_timeout" => o.hb_timeout = parse_duration(&v).ok_or_else(|| bad(&name, &v))?,
            "hbf" | "hb_fail_count" => o.hb_fail_count = parse_num(&name, &v)?,
            "st" | "store" => {
                o.store = match v.to_ascii_uppercase().as_str() {
                    "MEMORY" => StoreType::Memory,
                    "FILE" => StoreType::File,
                    "SQL" => StoreType::Sql,
                    "JETSTREAM" => StoreType::JetStream,
                    _ => return Err(format!("unknown store type: {v}")),
                }
            }
            "dir" => o.dir = Some(v),
            "sql_driver" => o.sql.driver = Some(v),
            "sql_source" => o.sql.source = Some(v),
            "sql_max_open_conns" => o.sql.max_open_conns = parse_num(&name, &v)?,
            "sql_bulk_insert_limit" => {
                let n: i64 = parse_num(&name, &v)?;
                if n != 0 {
                    return Err(format!(
                        "-{name} {v}: not supported by stan-server (each commit already uses multi-row inserts); remove the flag or pass 0"
                    ));
                }
            }
            "js_replicas" => {
                let n: usize = parse_num(&name, &v)?;
                if !(1..=5).contains(&n) {
                    return Err(format!("-{name} {v}: the number of JetStream replicas must be 1 to 5"));
                }
                o.js_replicas = Some(n);
            }
            "js_lease" => {
                let d = parse_duration(&v).ok_or_else(|| bad(&name, &v))?;
                if d < Duration::from_secs(1) {
                    return Err(format!("-{name} {v}: the lease time must be at least 1s"));
                }
                o.js_lease = Some(d);
            }
            "ns" | "nats_server" => o.nats_server = Some(v),
            "l" | "log" => o.log_file = Some(v),
            "c" | "config" => o.nats_config = Some(v),
            "mc" | "max_channels" => o.max_channels = parse_num(&name, &v)?,
            "msu" | "max_subs" => o.max_subs = parse_num(&name, &v)?,
            "mm" | "max_msgs" => o.max_msgs = parse_num(&name, &v)?,
            "mb" | "max_bytes" => o.max_bytes = parse_size(&v).ok_or_else(|| bad(&name, &v))?,
            "ma" | "max_age" => o.max_age = parse_duration(&v).ok_or_else(|| bad(&name, &v))?,
            "mi" | "max_inactivity" => o.max_inactivity = parse_duration(&v).ok_or_else(|| bad(&name, &v))?,
            "ws_port" => o.ws_port = Some(parse_num(&name, &v)?),
            "user" => o.user = Some(v),
            "pass" => o.pass = Some(v),
            "auth" => o.auth = Some(v),
            "nats_user" => o.nats_user = Some(v),
            "nats_pass" => o.nats_pass = Some(v),
            "nats_token" => o.nats_token = Some(v),
            "nats_nkey" => o.nats_nkey = Some(v),
            "nats_server_bin" => o.nats_server_bin = Some(v),
            "tlscert" => o.tls.cert = Some(v),
            "tlskey" => o.tls.key = Some(v),
            "tlscacert" => o.tls.ca_cert = Some(v),
            "tls_client_key" => o.client_tls.key = Some(v),
            "tls_client_cert" => o.client_tls.cert = Some(v),
            "tls_client_cacert" => o.client_tls.ca_cert = Some(v),
            "cluster" => o.cluster.listen = Some(v),
            "routes" => o.cluster.routes = Some(v),
            "cluster_name" => o.cluster.name = Some(v),
            "connect_retries" => o.cluster.connect_retries = Some(parse_num(&name, &v)?),
            "ft_group" => o.ft_group = Some(v),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    if o.store == StoreType::File && o.dir.is_none() {
        return Err("for FILE store type, the directory must be specified with --dir".into());
    }
    if o.ft_group.is_some() && !matches!(o.store, StoreType::File | StoreType::Sql) {
        return Err("ft: only FILE or SQL stores supported in FT mode".into());
    }
    if o.ft_group.as_deref() == Some("") {
        return Err("ft: the --ft_group name must not be empty".into());
    }
    if o.store == StoreType::Sql {
        match o.sql.driver.as_deref() {
            None | Some("") => return Err("for SQL store type, the driver must be specified with --sql_driver".into()),
            Some("postgres" | "mysql") => {}
            Some(d) => return Err(format!("unsupported SQL driver {d:?} (use postgres or mysql)")),
        }
        if o.sql.source.as_deref().unwrap_or("").is_empty() {
            return Err("for SQL store type, the data source must be specified with --sql_source".into());
        }
    }
    check_jetstream(&o)?;
    if o.hb_interval.is_zero() || o.hb_timeout.is_zero() {
        return Err("heartbeat interval and timeout must be positive".into());
    }
    check_security(&o)?;
    Ok(Command::Run(Box::new(o)))
}

/// The JETSTREAM store's flags, and what it cannot be combined with.
fn check_jetstream(o: &Options) -> Result<(), String> {
    if o.store != StoreType::JetStream {
        if o.js_replicas.is_some() || o.js_lease.is_some() {
            return Err("--js_replicas and --js_lease are for the JETSTREAM store (--store jetstream)".into());
        }
        return Ok(());
    }
    if o.nats_server.is_some() {
        if o.dir.is_some() {
            return Err("--dir is for the FILE store or an embedded JetStream; with -ns the JETSTREAM store \
                        keeps everything in the JetStream server(s) it connects to"
                .into());
        }
        return Ok(());
    }
    // Embedded: the nats-server child runs with JetStream, one node.
    if o.js_replicas.is_some_and(|n| n > 1) {
        return Err(
            "--js_replicas above 1 needs a JetStream cluster (-ns): the embedded nats-server is one node".into()
        );
    }
    if o.cluster.is_set() {
        return Err("the JETSTREAM store with an embedded nats-server cannot use the NATS clustering flags \
                    (--cluster, --routes, ...): run a JetStream cluster and pass it with -ns"
            .into());
    }
    Ok(())
}

/// Where the embedded nats-server keeps JetStream data (`--store jetstream`
/// without `-ns`): `--dir`, else a directory in the temporary directory
/// named for the cluster ID and port (so a restart finds it again).
pub fn embedded_js_dir(o: &Options) -> Option<std::path::PathBuf> {
    if o.store != StoreType::JetStream || o.nats_server.is_some() {
        return None;
    }
    Some(match &o.dir {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let cid: String =
                o.cluster_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            std::env::temp_dir().join(format!("stan-server-js-{cid}-{}", o.port))
        }
    })
}

/// Refuse combinations that would be accepted and then not honoured.
fn check_security(o: &Options) -> Result<(), String> {
    let external = o.nats_server.is_some();
    for (name, v) in [
        ("user", &o.user),
        ("pass", &o.pass),
        ("auth", &o.auth),
        ("nats_user", &o.nats_user),
        ("nats_pass", &o.nats_pass),
        ("nats_token", &o.nats_token),
    ] {
        if v.as_deref().is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(format!("--{name} must not contain control characters"));
        }
    }
    if o.pass.is_some() && o.user.is_none() {
        return Err("--pass needs --user".into());
    }
    if o.auth.is_some() && o.user.is_some() {
        return Err("--auth (token) and --user/--pass cannot be used together".into());
    }
    if o.nats_pass.is_some() && o.nats_user.is_none() {
        return Err("--nats_pass needs --nats_user".into());
    }
    if [o.nats_token.is_some(), o.nats_user.is_some(), o.nats_nkey.is_some()].iter().filter(|b| **b).count() > 1 {
        return Err("--nats_user/--nats_pass, --nats_token and --nats_nkey cannot be used together".into());
    }
    let t = &o.tls;
    if external {
        if t.verify || t.cert.is_some() || t.key.is_some() {
            return Err("--tlscert, --tlskey and --tlsverify configure the embedded NATS server and cannot be used \
                        with -ns; use -tls_client_cert/-tls_client_key for stan-server's own connection"
                .into());
        }
        if o.cluster.is_set() {
            return Err("--cluster, --routes, --cluster_name, --no_advertise and --connect_retries configure the \
                        embedded NATS server and cannot be used with -ns"
                .into());
        }
    } else if t.is_on() {
        // Like nats-server: any TLS flag turns TLS on, and then a certificate and key are required.
        if t.cert.is_none() || t.key.is_none() {
            return Err("TLS requires --tlscert and --tlskey".into());
        }
        if t.verify && t.ca_cert.is_none() {
            return Err("--tlsverify requires --tlscacert".into());
        }
        if t.verify && o.client_tls.cert.is_none() {
            return Err("--tlsverify requires a certificate for stan-server's own connection: \
                        give -tls_client_cert and -tls_client_key"
                .into());
        }
    }
    let c = &o.client_tls;
    if c.cert.is_some() != c.key.is_some() {
        return Err("-tls_client_cert and -tls_client_key go together".into());
    }
    for (name, v) in [
        ("cluster", &o.cluster.listen),
        ("routes", &o.cluster.routes),
        ("cluster_name", &o.cluster.name),
        ("tlscert", &t.cert),
        ("tlskey", &t.key),
        ("tlscacert", &t.ca_cert),
    ] {
        if v.as_deref().is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(format!("--{name} must not contain control characters"));
        }
    }
    Ok(())
}

fn bad(name: &str, v: &str) -> String {
    format!("invalid value {v:?} for flag -{name}")
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| bad(name, v))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Go duration syntax: `300ms`, `1.5h`, `2h45m`, `10s`, `0`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    // Like Go's time.ParseDuration: a duration beyond i64 nanoseconds (about
    // 292 years) is invalid, never a panic or a wrapped value.
    let d = Duration::try_from_secs_f64(total).ok()?;
    (d.as_nanos() <= i64::MAX as u128).then_some(d)
}

/// A byte size: plain number or with a KB/MB/GB (powers of 1024) suffix.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = s.strip_suffix("GB").or_else(|| s.strip_suffix('G')) {
        (n, 1u64 << 30)
    } else if let Some(n) = s.strip_suffix("MB").or_else(|| s.strip_suffix('M')) {
        (n, 1 << 20)
    } else if let Some(n) = s.strip_suffix("KB").or_else(|| s.strip_suffix('K')) {
        (n, 1 << 10)
    } else {
        (s.strip_suffix('B').unwrap_or(&s), 1)
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Command::Run(o) => *o,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn max_inactivity_is_a_duration() {
        assert!(run(&["-mi", "0"]).max_inactivity.is_zero());
        assert_eq!(run(&["-mi", "10m"]).max_inactivity, Duration::from_secs(600));
        assert_eq!(run(&["--max_inactivity=1h"]).max_inactivity, Duration::from_secs(3600));
        assert_eq!(run(&["-mi", "1500ms"]).max_inactivity, Duration::from_millis(1500));
        let e = parse(["-mi", "-1s"].iter().map(|s| s.to_string())).unwrap_err();
        assert!(e.contains("-1s"), "{e}");
        assert!(parse(["-mi", "soon"].iter().map(|s| s.to_string())).is_err());
    }

    #[test]
    fn ft_group_needs_a_shared_store() {
        let o = run(&["--ft_group", "g", "-st", "FILE", "--dir", "/tmp/d"]);
        assert_eq!(o.ft_group.as_deref(), Some("g"));
        let e = parse(["--ft_group", "g"].iter().map(|s| s.to_string())).unwrap_err();
        assert_eq!(e, "ft: only FILE or SQL stores supported in FT mode");
        let o = run(&["--ft_group", "g", "-st", "SQL", "--sql_driver", "postgres", "--sql_source", "host=h"]);
        assert_eq!((o.ft_group.as_deref(), o.store), (Some("g"), StoreType::Sql));
        let e = parse(["--ft_group", "g", "-st", "MEMORY"].iter().map(|s| s.to_string())).unwrap_err();
        assert_eq!(e, "ft: only FILE or SQL stores supported in FT mode");
        let e = parse(["--ft_group=", "-st", "FILE", "--dir", "d"].iter().map(|s| s.to_string())).unwrap_err();
        assert!(e.contains("must not be empty"), "{e}");
    }

    #[test]
    fn seed_deployment_args() {
        let o = run(&["-p", "4222", "-m", "8222", "-hbi", "5s", "-hbt", "5s", "-hbf", "2", "-SD", "-cid", "ticketing"]);
        assert_eq!(o.port, 4222);
        assert_eq!(o.http_port, Some(8222));
        assert_eq!(o.hb_interval, Duration::from_secs(5));
        assert_eq!(o.hb_timeout, Duration::from_secs(5));
        assert_eq!(o.hb_fail_count, 2);
        assert_eq!(o.stan_log_level, 2);
        assert_eq!(o.cluster_id, "ticketing");
    }

    #[test]
    fn long_forms_and_equals() {
        let o = run(&["--cluster_id=x", "--store", "file", "--dir", "/tmp/d", "--hb_interval=500ms", "-SDV"]);
        assert_eq!(o.cluster_id, "x");
        assert_eq!(o.store, StoreType::File);
        assert_eq!(o.hb_interval, Duration::from_millis(500));
        assert_eq!(o.stan_log_level, 3);
        let o = run(&[
            "-mc",
            "5",
            "-msu",
            "6",
            "-mm",
            "7",
            "-mb",
            "1KB",
            "-ma",
            "1h2m",
            "--replace_durable",
            "-ns",
            "nats://h:1",
        ]);
        assert_eq!((o.max_channels, o.max_subs, o.max_msgs, o.max_bytes), (5, 6, 7, 1024));
        assert_eq!(o.max_age, Duration::from_secs(3720));
        assert!(o.replace_durable);
        assert_eq!(o.nats_server.as_deref(), Some("nats://h:1"));
    }

    #[test]
    fn jetstream_store_flags() {
        let o = run(&["-st", "jetstream", "-ns", "nats://a:4222,nats://b:4222", "--js_replicas", "3", "--js_lease=2s"]);
        assert_eq!((o.store, o.js_replicas, o.js_lease), (StoreType::JetStream, Some(3), Some(Duration::from_secs(2))));
        let err = |a: &[&str]| parse(a.iter().map(|s| s.to_string())).unwrap_err();
        let embedded = run(&["-st", "jetstream", "--dir", "/tmp/x", "-p", "4333"]);
        assert_eq!(embedded_js_dir(&embedded), Some(std::path::PathBuf::from("/tmp/x")));
        let default = embedded_js_dir(&run(&["-st", "jetstream", "-cid", "a.b", "-p", "4333"])).unwrap();
        assert!(default.ends_with("stan-server-js-a_b-4333"), "{default:?}");
        assert_eq!(embedded_js_dir(&run(&["-st", "jetstream", "-ns", "nats://a:1"])), None);
        assert!(err(&["-st", "jetstream", "--js_replicas", "3"]).contains("needs a JetStream cluster (-ns)"));
        assert!(err(&["-st", "jetstream", "--routes", "nats://a:6222"]).contains("cannot use the NATS clustering"));
        assert!(
            err(&["-st", "jetstream", "-ns", "nats://a:1", "--dir", "/tmp/x"]).contains("with -ns the JETSTREAM store")
        );
        assert!(err(&["-st", "jetstream", "-ns", "nats://a:1", "--js_replicas", "7"]).contains("1 to 5"));
        assert!(err(&["-st", "jetstream", "-ns", "nats://a:1", "--js_lease", "100ms"]).contains("at least 1s"));
        assert!(err(&["--js_replicas", "3"]).contains("for the JETSTREAM store"));
        assert!(err(&["-st", "file", "--dir", "/tmp/x", "--js_lease", "3s"]).contains("for the JETSTREAM store"));
    }

    #[test]
    fn errors() {
        assert!(parse(["-bogus".to_string()]).unwrap_err().contains("not defined"));
        assert!(parse(["-p".to_string()]).unwrap_err().contains("needs an argument"));
        assert!(parse(["-st".to_string(), "FILE".to_string()]).unwrap_err().contains("--dir"));
        assert!(parse(["-hbi".to_string(), "5x".to_string()]).is_err());
        assert_eq!(parse(["-h".to_string()]).unwrap(), Command::Help);
    }

    #[test]
    fn security_flags() {
        let o = run(&[
            "--user",
            "u",
            "--pass",
            "p",
            "--tls",
            "--tlscert",
            "c",
            "--tlskey",
            "k",
            "-tls_client_cacert",
            "ca",
        ]);
        assert_eq!((o.user.as_deref(), o.pass.as_deref()), (Some("u"), Some("p")));
        assert!(o.tls.enabled && !o.tls.verify);
        assert_eq!(o.client_tls.ca_cert.as_deref(), Some("ca"));
        let o = run(&[
            "--auth=tok",
            "--tlsverify=true",
            "--tlscert",
            "c",
            "--tlskey",
            "k",
            "--tlscacert",
            "ca",
            "-tls_client_cert",
            "cc",
            "-tls_client_key",
            "ck",
        ]);
        assert_eq!(o.auth.as_deref(), Some("tok"));
        assert!(o.tls.verify);
        let o =
            run(&["--cluster", "nats://127.0.0.1:6222", "--routes", "nats://a:1,nats://b:2", "--cluster_name", "c"]);
        assert_eq!(o.cluster.listen.as_deref(), Some("nats://127.0.0.1:6222"));
        assert_eq!(o.cluster.routes.as_deref(), Some("nats://a:1,nats://b:2"));
        let o = run(&["--no_advertise", "--connect_retries", "3"]);
        assert_eq!((o.cluster.no_advertise, o.cluster.connect_retries), (Some(true), Some(3)));
        let err = |a: &[&str]| parse(a.iter().map(|s| s.to_string())).unwrap_err();
        assert!(err(&["--tls"]).contains("--tlscert"));
        assert!(err(&["--tlscert", "c"]).contains("--tlskey"));
        assert!(run(&["--tlscert", "c", "--tlskey", "k"]).tls.is_on());
        assert!(err(&["--tlsverify", "--tlscert", "c", "--tlskey", "k"]).contains("--tlscacert"));
        assert!(
            err(&["--tlsverify", "--tlscert", "c", "--tlskey", "k", "--tlscacert", "ca"]).contains("-tls_client_cert")
        );
        assert!(err(&["--pass", "p"]).contains("needs --user"));
        assert!(err(&["--auth", "t", "--user", "u"]).contains("together"));
        assert!(err(&["-ns", "nats://h:1", "--tlscert", "c"]).contains("-ns"));
        assert!(err(&["-ns", "nats://h:1", "--routes", "nats://a:1"]).contains("-ns"));
        assert!(err(&["-tls_client_cert", "c"]).contains("together"));
        assert!(err(&["--nats_nkey", "f", "--nats_token", "t"]).contains("cannot be used together"));
        assert!(err(&["--user", "a\nb"]).contains("control"));
        // With -ns, --tls and --tlscacert configure stan-server's own connection.
        let o = run(&["-ns", "tls://h:1", "--tls", "--tlscacert", "ca", "--auth", "t"]);
        assert!(o.tls.enabled);
    }

    #[test]
    fn sql_flags() {
        let o = run(&[
            "-st",
            "SQL",
            "--sql_driver",
            "postgres",
            "--sql_source",
            "dbname=x",
            "--sql_no_caching",
            "--sql_max_open_conns=3",
        ]);
        assert_eq!(o.store, StoreType::Sql);
        assert_eq!(o.sql.driver.as_deref(), Some("postgres"));
        assert_eq!(o.sql.source.as_deref(), Some("dbname=x"));
        assert!(o.sql.no_caching);
        assert_eq!(o.sql.max_open_conns, 3);
        let err = |a: &[&str]| parse(a.iter().map(|s| s.to_string())).unwrap_err();
        assert!(err(&["-st", "sql"]).contains("--sql_driver"));
        assert!(err(&["-st", "sql", "--sql_driver", "sqlite", "--sql_source", "x"]).contains("unsupported SQL driver"));
        assert!(err(&["-st", "sql", "--sql_driver", "mysql"]).contains("--sql_source"));
        assert!(err(&["--sql_bulk_insert_limit", "10"]).contains("not supported"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h45m"), Some(Duration::from_secs(9900)));
        assert_eq!(parse_duration("100us"), Some(Duration::from_micros(100)));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("s"), None);
    }
}
