//! `stan-server`: a NATS Streaming (STAN) compatible server. It runs (or
//! attaches to, with `-ns`) a real `nats-server` and speaks the STAN
//! protocol over it, with a memory or file store and the reference
//! monitoring endpoints.

mod config;
mod driver;
mod ft;
mod inbound;
mod log;
mod migrate;
mod monitor;
mod nats_child;
mod nats_conn;
mod nats_supervisor;
mod state;
mod store;
mod wire_conn;

use config::{Command, Options, StoreType};
use state::channel::ChannelLimits;
use std::process::ExitCode;
use std::time::SystemTime;
use store::jetstream::{JsConfig, JsJournal};
use store::sql::{self, SqlJournal};
use store::{file::FileJournal, Journal, NoJournal, Record, SyncPolicy};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("migrate") {
        return run_migrate(&args[1..]);
    }
    let opts = match config::parse(args) {
        Ok(Command::Run(o)) => *o,
        Ok(Command::Help) => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "stan-server version {VERSION} (NATS Streaming protocol compatible with nats-streaming-server 0.25)"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("stan-server: {e}\n\n{}", config::USAGE);
            return ExitCode::from(1);
        }
    };
    log::set_level(opts.stan_log_level);
    if let Some(f) = &opts.log_file {
        if let Err(e) = log::set_file(f) {
            eprintln!("stan-server: cannot open log file {f}: {e}");
            return ExitCode::from(1);
        }
    }
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format_args!("{e}"));
            ExitCode::from(1)
        }
    }
}

/// `stan-server migrate ...` (see [`migrate`]).
fn run_migrate(args: &[String]) -> ExitCode {
    match migrate::parse(args) {
        Ok(None) => {
            print!("{}", migrate::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Some(o)) => match migrate::run(&o) {
            Ok(summary) => {
                log::info(format_args!("{summary}"));
                ExitCode::SUCCESS
            }
            Err(e) => {
                log::error(format_args!("migrate: {e}"));
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("stan-server migrate: {e}\n\n{}", migrate::USAGE);
            ExitCode::from(2)
        }
    }
}

fn run(opts: Options) -> Result<(), String> {
    log::info(format_args!("Starting stan-server[{}] version {VERSION}", opts.cluster_id));
    // The child is started from the main thread, whose exit (or death) takes it down.
    let mut child = match &opts.nats_server {
        Some(url) => {
            log::info(format_args!("Connecting to external NATS Server at {url}"));
            None
        }
        None => {
            let c = nats_child::NatsChild::start(&opts).map_err(|e| e.to_string())?;
            log::info(format_args!(
                "Started nats-server (pid {}) listening for clients on {}:{}",
                c.pid(),
                opts.addr,
                opts.port
            ));
            if let Some(dir) = config::embedded_js_dir(&opts) {
                log::info(format_args!("nats-server runs JetStream with its store in {}", dir.display()));
            }
            if let Some(ws) = opts.ws_port {
                log::info(format_args!("Listening for WebSocket clients on ws://{}:{ws}", opts.addr));
            }
            Some(c)
        }
    };
    let url = opts.nats_server.clone().unwrap_or_else(|| child.as_ref().map(|c| c.url.clone()).unwrap_or_default());
    let server_id = stan_proto::nuid::next();
    // The JetStream store blocks on its own runtime: open it (and, as a
    // standby, wait for the active lease) before ours starts.
    let js = match opts.store {
        StoreType::JetStream => Some(open_jetstream(&opts, &url, &server_id)?),
        _ => None,
    };
    // One thread: the NATS connection and the protocol core hand messages to
    // each other without cross-thread wake-ups (see driver.rs).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // A dead child is restarted on the same ports; after too many fast failures
    // the supervisor gives up and `gave_up` shuts us down with its error.
    let (gave_up_tx, gave_up_rx) = tokio::sync::oneshot::channel::<String>();
    let supervisor = child.take().map(|c| nats_supervisor::Supervisor::spawn(c, opts.clone(), gave_up_tx));
    let result = rt.block_on(serve(&opts, &url, gave_up_rx, server_id, js));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Some(s) = supervisor {
        s.stop();
    }
    result
}

fn open_jetstream(opts: &Options, url: &str, server_id: &str) -> Result<(JsJournal, Vec<Record>), String> {
    let cfg = JsConfig {
        cluster_id: opts.cluster_id.clone(),
        replicas: opts.js_replicas.unwrap_or(1),
        lease: opts.js_lease.unwrap_or(std::time::Duration::from_secs(5)),
        max_msgs: opts.max_msgs,
        max_age: opts.max_age,
    };
    log::info(format_args!("JetStream store at {url}: {} replica(s), lease time {:?}", cfg.replicas, cfg.lease));
    let security = nats_conn::Security::from_options(opts);
    JsJournal::open(url, &security, cfg, server_id).map_err(|e| format!("cannot open the JetStream store: {e}"))
}

async fn serve(
    opts: &Options,
    url: &str,
    died_rx: tokio::sync::oneshot::Receiver<String>,
    server_id: String,
    js: Option<(JsJournal, Vec<Record>)>,
) -> Result<(), String> {
    // Install the handlers first: until then SIGTERM would kill us without cleanup.
    let signal = shutdown_signal()?;
    let child_died = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let died = child_died.clone();
    // An FT member that finds another active one aborts through this.
    let (ft_abort_tx, mut ft_abort_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let shutdown = async move {
        tokio::select! {
            _ = signal => {}
            Ok(why) = died_rx => {
                log::error(format_args!("{why}"));
                *died.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            }
            Some(why) = ft_abort_rx.recv() => {
                log::error(format_args!("{why}"));
                *died.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            }
        }
    };
    let mut shutdown = Box::pin(shutdown);
    let mut cfg = state::Config::new(&opts.cluster_id);
    cfg.hb_interval_ms = opts.hb_interval.as_millis() as u64;
    cfg.hb_timeout_ms = opts.hb_timeout.as_millis() as u64;
    cfg.hb_fail_count = opts.hb_fail_count;
    cfg.max_channels = opts.max_channels;
    cfg.max_subs = opts.max_subs;
    cfg.replace_durable = opts.replace_durable;
    cfg.max_inactivity_ms = opts.max_inactivity.as_millis() as u64;
    cfg.limits = ChannelLimits {
        max_msgs: opts.max_msgs,
        max_bytes: opts.max_bytes,
        max_age_ns: opts.max_age.as_nanos() as i64,
    };
    let started = SystemTime::now();
    let security = nats_conn::Security::from_options(opts);
    // An FT member waits in standby (monitoring up, no STAN service) until
    // it holds the store lock; only then does it open the store.
    let mut monitor_rx = None;
    let mut ft_release = None;
    if opts.ft_group.is_some() {
        monitor_rx = bind_monitor(opts).await?;
        let standby = state::State::new(cfg.clone());
        let kind = if opts.store == StoreType::Sql { "SQL" } else { "FILE" };
        let facts = facts(opts, &server_id, started, kind, Vec::new(), "FT_STANDBY");
        let active = ft::standby(opts, url, &security, &standby, &facts, monitor_rx.as_mut(), &mut shutdown).await?;
        let Some(active) = active else {
            log::info(format_args!("Streaming Server is shutting down (was in standby)"));
            return Ok(());
        };
        ft_release = Some(active.start(&server_id, ft_abort_tx));
    }
    let mut store_recovery = Vec::new();
    let mut recovered_guids = None;
    let mut sql_max_sub_id = 0;
    let mut file_bodies = None;
    let (mut journal, records, store_type): (Box<dyn Journal>, _, _) = match opts.store {
        StoreType::Memory => (Box::new(NoJournal), Vec::new(), "MEMORY"),
        StoreType::File => {
            let dir = opts.dir.as_deref().unwrap_or(".");
            let policy = if opts.file_sync { SyncPolicy::Fsync } else { SyncPolicy::OsBuffer };
            store::orig::refuse_original_dir(std::path::Path::new(dir))?;
            // Message bodies stay on disk, read on demand (bounded cache).
            let (j, recs) = FileJournal::open_with(std::path::Path::new(dir), policy, true)
                .map_err(|e| format!("cannot open the file store in {dir}: {e}"))?;
            log::info(format_args!("File store in {dir}: {}", store::file::describe_policy(policy)));
            cfg.persist = true;
            store_recovery = j.recovery_report();
            file_bodies = j.bodies();
            (Box::new(j) as Box<dyn Journal>, recs, "FILE")
        }
        StoreType::Sql => {
            let (j, recs) = open_sql(opts, &cfg)?;
            cfg.persist = true;
            sql_max_sub_id = j.max_sub_id();
            cfg.max_stored_msg = j.max_stored_msg().unwrap_or(0);
            (Box::new(j) as Box<dyn Journal>, recs, "SQL")
        }
        StoreType::JetStream => {
            let (mut j, recs) = js.ok_or("the JetStream store was not opened")?;
            cfg.persist = true;
            recovered_guids = Some(j.take_recovered_guids());
            (Box::new(j) as Box<dyn Journal>, recs, "JETSTREAM")
        }
    };
    let mut st = state::State::new(cfg);
    if let Some(b) = file_bodies {
        st.set_bodies(std::sync::Arc::new(b));
    }
    if opts.store != StoreType::Memory {
        let fresh = records.len() <= 1;
        let rec = st.replay(records, 0)?;
        if let Some(guids) = recovered_guids {
            // De-duplication of publishes by GUID (JetStream store): a retry after a failover is stored once.
            let mut w = state::guids::GuidWindow::default();
            let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
            for (channel, seq, guid, ts) in guids {
                w.remember(&channel, &guid, seq, ts, now);
            }
            st.guids = Some(w);
        }
        st.reserve_sub_ids(sql_max_sub_id);
        if !fresh {
            log::info(format_args!(
                "Recovered {} client(s), {} channel(s), {} message(s), {} subscription(s)",
                rec.clients, rec.channels, rec.msgs, rec.subs
            ));
        }
        // No compaction on start (it would need free disk the size of the
        // journal): the driver compacts once enough garbage has accumulated.
        // (The JetStream store's methods block: it is compacted off this thread, later.)
        // The SQL store rewrites only its client, subscription and pending rows
        // from the recovered state (messages are never rewritten).
        if opts.store == StoreType::Sql {
            journal.rewrite(&st.snapshot()).map_err(|e| format!("cannot tidy the SQL store: {e}"))?;
        }
    }
    log::info(format_args!("ServerID: {server_id}"));
    log::info(format_args!("Store type: {store_type}"));
    log_limits(opts);
    if opts.ft_group.is_none() {
        monitor_rx = bind_monitor(opts).await?;
    }
    // The data connection (subscribed to every server subject once this returns),
    // then async-nats for heartbeat probes.
    let subs = inbound::subscriptions(&st.subjects, st.foreign_ack_inboxes());
    let name = format!("_NSS-{}-general", opts.cluster_id);
    let conn = wire_conn::WireConn::connect(url, &name, &security, subs).await?;
    let client = driver::connect_nats(url, &format!("_NSS-{}-probes", opts.cluster_id), &security).await?;
    log::info(format_args!("Connected to NATS Server at {url}"));
    let state = if opts.ft_group.is_some() { "FT_ACTIVE" } else { "STANDALONE" };
    let facts = facts(opts, &server_id, started, store_type, store_recovery, state);
    let d = driver::Driver { conn, client, journal, facts, monitor_rx, out_hint: 0 };
    // The driver runs as a task of its own, not as this `block_on` future: the
    // connection task waking a task queues it on this thread and it runs next,
    // while waking the `block_on` future first polls the I/O driver once more
    // (one extra `epoll_wait` per wake-up, i.e. per lone request).
    tokio::spawn(d.run(st, shutdown)).await.map_err(|e| format!("the driver task failed: {e}"))??;
    let why = child_died.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let (None, Some(r)) = (&why, ft_release) {
        // The store is closed: a standby may take over at once.
        r.release(std::time::Duration::from_secs(3)).await;
    }
    why.map_or(Ok(()), Err)
}

/// Starts the monitoring listener (`-m`), if asked.
async fn bind_monitor(opts: &Options) -> Result<Option<tokio::sync::mpsc::Receiver<monitor::http::Request>>, String> {
    let Some(p) = opts.http_port else { return Ok(None) };
    let addr = format!("{}:{p}", opts.addr);
    let l = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen for monitoring on {addr}: {e}"))?;
    log::info(format_args!("Starting http monitor on http://{addr}/streaming"));
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(monitor::http::serve(l, tx));
    Ok(Some(rx))
}

fn facts(
    opts: &Options,
    server_id: &str,
    start: SystemTime,
    store_type: &'static str,
    store_recovery: Vec<String>,
    state: &'static str,
) -> monitor::json::ServerFacts {
    monitor::json::ServerFacts {
        server_id: server_id.to_string(),
        version: VERSION.to_string(),
        start,
        store_type,
        max_inactivity_ns: opts.max_inactivity.as_nanos() as i64,
        store_recovery,
        state,
    }
}

/// Connects to the SQL store and reads it.
fn open_sql(opts: &Options, cfg: &state::Config) -> Result<(SqlJournal, Vec<store::Record>), String> {
    let driver = sql::Driver::parse(opts.sql.driver.as_deref().unwrap_or(""))?;
    let subjects = state::Subjects::new(cfg);
    let info = store::spb::ServerInfo {
        cluster_id: opts.cluster_id.clone(),
        discovery: subjects.discover.clone(),
        publish: subjects.pub_prefix.clone(),
        subscribe: subjects.sub.clone(),
        unsubscribe: subjects.unsub.clone(),
        close: subjects.close.clone(),
        sub_close: subjects.sub_close.clone(),
        acks_subs: subjects.ack_prefix.clone(),
        node_id: String::new(),
    };
    let o = sql::SqlOptions {
        driver,
        source: opts.sql.source.clone().unwrap_or_default(),
        max_msgs: opts.max_msgs as i64,
        max_bytes: opts.max_bytes as i64,
        max_age_ns: opts.max_age.as_nanos() as i64,
        info,
    };
    let (j, recs) = SqlJournal::open(&o).map_err(|e| format!("cannot open the SQL store: {e}"))?;
    log::info(format_args!(
        "SQL store ({}): every change is committed in one transaction per batch before the replies",
        opts.sql.driver.as_deref().unwrap_or("")
    ));
    Ok((j, recs))
}

fn log_limits(o: &Options) {
    let show = |v: u64| if v == 0 { "unlimited".to_string() } else { v.to_string() };
    log::info(format_args!(
        "Limits: channels={} subscriptions={} msgs={} bytes={} age={:?} inactivity={:?}",
        show(o.max_channels as u64),
        show(o.max_subs as u64),
        show(o.max_msgs),
        show(o.max_bytes),
        o.max_age,
        o.max_inactivity
    ));
    log::info(format_args!(
        "Heartbeats: interval={:?} timeout={:?} fail count={}",
        o.hb_interval, o.hb_timeout, o.hb_fail_count
    ));
}

/// A future that resolves on SIGINT or SIGTERM; the handlers are installed now.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}
