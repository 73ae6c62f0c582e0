//! Command-line flags, compatible with `nats-streaming-server` for the flags
//! users pass (Go flag syntax: `-f v`, `--f v`, `-f=v`, `--f=v`).

use std::time::Duration;

/// The store type (`-st`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreType {
    Memory,
    File,
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
    pub nats_server_bin: Option<String>,
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
            nats_server_bin: None,
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

Streaming Server Options:
    -cid, --cluster_id  <string>     Cluster ID (default: test-cluster)
    -st,  --store <string>           Store type: MEMORY|FILE (default: MEMORY)
          --dir <string>             For FILE store type, this is the root directory
          --file_sync <bool>         FILE store: fsync each batch before PubAcks (default: true)
    -mc,  --max_channels <int>       Max number of channels (0 for unlimited, default 100)
    -msu, --max_subs <int>           Max number of subscriptions per channel (0 for unlimited, default 1000)
    -mm,  --max_msgs <int>           Max number of messages per channel (0 for unlimited, default 1000000)
    -mb,  --max_bytes <size>         Max messages total size per channel (0 for unlimited, default 1024000000)
    -ma,  --max_age <duration>       Max duration a message can be stored (\"0s\" for unlimited)
    -mi,  --max_inactivity <duration> Accepted for compatibility; not enforced
    -ns,  --nats_server <string>     Connect to this external NATS Server URL (embedded otherwise)
    -hbi, --hb_interval <duration>   Interval at which server sends heartbeat to a client (default 30s)
    -hbt, --hb_timeout <duration>    How long server waits for a heartbeat response (default 10s)
    -hbf, --hb_fail_count <int>      Number of failed heartbeats before server closes the client connection (default 10)
          --replace_durable <bool>   Replace the existing durable subscription instead of reporting a duplicate durable error
          --user <string>            User name to connect to the NATS server
          --pass <string>            Password to connect to the NATS server

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
    "nats_server_bin",
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
                    "SQL" => return Err("the SQL store is not supported by stan-server (use MEMORY or FILE)".into()),
                    _ => return Err(format!("unknown store type: {v}")),
                }
            }
            "dir" => o.dir = Some(v),
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
            "nats_server_bin" => o.nats_server_bin = Some(v),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    if o.store == StoreType::File && o.dir.is_none() {
        return Err("for FILE store type, the directory must be specified with --dir".into());
    }
    if o.hb_interval.is_zero() || o.hb_timeout.is_zero() {
        return Err("heartbeat interval and timeout must be positive".into());
    }
    Ok(Command::Run(Box::new(o)))
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
    Some(Duration::from_secs_f64(total))
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
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Command::Run(o) => *o,
            c => panic!("{c:?}"),
        }
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
    fn errors() {
        assert!(parse(["-bogus".to_string()]).unwrap_err().contains("not defined"));
        assert!(parse(["-p".to_string()]).unwrap_err().contains("needs an argument"));
        assert!(parse(["-st".to_string(), "FILE".to_string()]).unwrap_err().contains("--dir"));
        assert!(parse(["-hbi".to_string(), "5x".to_string()]).is_err());
        assert_eq!(parse(["-h".to_string()]).unwrap(), Command::Help);
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
