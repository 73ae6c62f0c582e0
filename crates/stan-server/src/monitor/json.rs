//! The monitoring JSON documents (serverz, storez, clientsz, channelsz),
//! built from the state with the reference server's field names and order.

use super::{Query, Reply};
use crate::state::{Channel, State, Sub};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Facts about this server process that are not protocol state.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub server_id: String,
    pub version: String,
    pub start: SystemTime,
    pub store_type: &'static str,
    pub max_inactivity_ns: i64,
    /// What the file store skipped when it recovered a damaged journal
    /// (one line per damaged range; empty normally).
    pub store_recovery: Vec<String>,
    /// `serverz` state: `STANDALONE`, or `FT_ACTIVE` / `FT_STANDBY` in an FT group.
    pub state: &'static str,
}

#[derive(Serialize)]
struct Serverz<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    version: &'a str,
    go: &'a str,
    state: &'a str,
    now: String,
    start_time: String,
    uptime: String,
    clients: usize,
    subscriptions: usize,
    channels: usize,
    total_msgs: u64,
    total_bytes: u64,
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    open_fds: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_fds: Option<u64>,
}

#[derive(Serialize)]
struct Limits {
    max_channels: usize,
    max_msgs: u64,
    max_bytes: u64,
    max_age: i64,
    max_subscriptions: usize,
    max_inactivity: i64,
}

#[derive(Serialize)]
struct Storez<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    now: String,
    #[serde(rename = "type")]
    kind: &'a str,
    limits: Limits,
    total_msgs: u64,
    total_bytes: u64,
    /// Ours only, and only after a damaged journal was recovered.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    recovery: &'a [String],
}

#[derive(Serialize)]
struct Subscriptionz {
    client_id: String,
    inbox: String,
    ack_inbox: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    durable_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    queue_name: String,
    is_durable: bool,
    is_offline: bool,
    max_inflight: u32,
    ack_wait: i32,
    last_sent: u64,
    pending_count: usize,
    is_stalled: bool,
}

#[derive(Serialize)]
struct Clientz {
    id: String,
    hb_inbox: String,
    subs_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions: Option<BTreeMap<String, Vec<Subscriptionz>>>,
}

#[derive(Serialize)]
struct Clientsz<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    now: String,
    offset: usize,
    limit: usize,
    count: usize,
    total: usize,
    clients: Vec<Clientz>,
}

#[derive(Serialize)]
struct Channelz {
    name: String,
    msgs: usize,
    bytes: u64,
    first_seq: u64,
    last_seq: u64,
    subs_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions: Option<Vec<Subscriptionz>>,
}

#[derive(Serialize)]
struct Channelsz<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    now: String,
    offset: usize,
    limit: usize,
    count: usize,
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<Vec<Channelz>>,
}

/// Answer one monitoring query.
pub fn respond(st: &State, f: &ServerFacts, q: &Query) -> Reply {
    match q.path.as_str() {
        "/streaming" => html(INDEX),
        "/streaming/serverz" => ok(&serverz(st, f)),
        "/streaming/storez" => ok(&storez(st, f)),
        "/streaming/clientsz" => clientsz(st, f, q),
        "/streaming/channelsz" => channelsz(st, f, q),
        // Like the reference: 204 unless this server is the active member of an FT group.
        "/streaming/isFTActive" => {
            let status = if f.state == "FT_ACTIVE" { 200 } else { 204 };
            Reply { status, content_type: "text/plain; charset=utf-8", body: String::new() }
        }
        _ => not_found("404 page not found"),
    }
}

const INDEX: &str = "<html><body>\n<a href=\"/streaming/serverz\">serverz</a><br/>\n<a href=\"/streaming/storez\">storez</a><br/>\n<a href=\"/streaming/clientsz\">clientsz</a><br/>\n<a href=\"/streaming/channelsz\">channelsz</a><br/>\n</body></html>\n";

fn html(body: &str) -> Reply {
    Reply { status: 200, content_type: "text/html; charset=utf-8", body: body.to_string() }
}

fn ok<T: Serialize>(v: &T) -> Reply {
    let body = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()));
    Reply { status: 200, content_type: "application/json", body }
}

fn not_found(text: &str) -> Reply {
    Reply { status: 404, content_type: "text/plain; charset=utf-8", body: format!("{text}\n") }
}

fn serverz<'a>(st: &'a State, f: &'a ServerFacts) -> Serverz<'a> {
    let (total_msgs, total_bytes) = st.totals();
    let now = SystemTime::now();
    let c = st.counters;
    Serverz {
        cluster_id: &st.cfg.cluster_id,
        server_id: &f.server_id,
        version: &f.version,
        go: concat!("rust (stan-server ", env!("CARGO_PKG_VERSION"), ")"),
        state: f.state,
        now: rfc3339(now),
        start_time: rfc3339(f.start),
        uptime: uptime(now.duration_since(f.start).unwrap_or_default()),
        clients: st.clients.len(),
        subscriptions: st.total_subs(),
        channels: st.channels.len(),
        total_msgs,
        total_bytes,
        in_msgs: c.in_msgs,
        in_bytes: c.in_bytes,
        out_msgs: c.out_msgs,
        out_bytes: c.out_bytes,
        open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count()),
        max_fds: max_fds(),
    }
}

fn max_fds() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn storez<'a>(st: &'a State, f: &'a ServerFacts) -> Storez<'a> {
    let (total_msgs, total_bytes) = st.totals();
    let l = &st.cfg.limits;
    Storez {
        cluster_id: &st.cfg.cluster_id,
        server_id: &f.server_id,
        now: rfc3339(SystemTime::now()),
        kind: f.store_type,
        limits: Limits {
            max_channels: st.cfg.max_channels,
            max_msgs: l.max_msgs,
            max_bytes: l.max_bytes,
            max_age: l.max_age_ns,
            max_subscriptions: st.cfg.max_subs,
            max_inactivity: f.max_inactivity_ns,
        },
        total_msgs,
        total_bytes,
        recovery: &f.store_recovery,
    }
}

fn subz(s: &Sub) -> Subscriptionz {
    Subscriptionz {
        client_id: s.client_id.clone(),
        inbox: s.inbox.clone(),
        ack_inbox: s.ack_inbox.clone(),
        // Like the reference: a durable queue member shows only `queue_name` (`durable:queue`).
        durable_name: if s.queue.is_empty() { s.durable_name.clone() } else { String::new() },
        queue_name: s.queue.clone(),
        is_durable: s.is_durable,
        is_offline: s.offline,
        max_inflight: s.max_in_flight,
        ack_wait: s.ack_wait_secs,
        last_sent: s.last_sent,
        pending_count: s.pending.len(),
        is_stalled: s.is_stalled(),
    }
}

fn page(q: &Query) -> (usize, usize) {
    let offset = q.param("offset").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).max(0) as usize;
    let limit = q.param("limit").and_then(|v| v.parse::<i64>().ok()).filter(|l| *l > 0).unwrap_or(1024) as usize;
    (offset, limit)
}

fn wants_subs(q: &Query) -> bool {
    matches!(q.param("subs"), Some("1") | Some("true"))
}

fn clientz(st: &State, id: &str, with_subs: bool) -> Option<Clientz> {
    let c = st.clients.get(id)?;
    let subscriptions = with_subs.then(|| {
        let mut m: BTreeMap<String, Vec<Subscriptionz>> = BTreeMap::new();
        for sid in &c.subs {
            if let Some(s) = st.subs.get(sid) {
                m.entry(s.channel.clone()).or_default().push(subz(s));
            }
        }
        m
    });
    Some(Clientz { id: c.id.clone(), hb_inbox: c.hb_inbox.clone(), subs_count: c.subs.len(), subscriptions })
}

fn clientsz(st: &State, f: &ServerFacts, q: &Query) -> Reply {
    let subs = wants_subs(q);
    if let Some(id) = q.param("client") {
        return match clientz(st, id, subs) {
            Some(c) => ok(&c),
            None => not_found(&format!("Client {id} not found")),
        };
    }
    let (offset, limit) = page(q);
    let clients: Vec<Clientz> =
        st.clients.keys().skip(offset).take(limit).filter_map(|id| clientz(st, id, subs)).collect();
    ok(&Clientsz {
        cluster_id: &st.cfg.cluster_id,
        server_id: &f.server_id,
        now: rfc3339(SystemTime::now()),
        offset,
        limit,
        count: clients.len(),
        total: st.clients.len(),
        clients,
    })
}

fn channelz(st: &State, ch: &Channel, with_subs: bool) -> Channelz {
    let subscriptions = with_subs.then(|| {
        let ids = ch.plain.iter().chain(ch.queues.values().flat_map(|q| q.members.iter().chain(q.shadow.iter())));
        ids.filter_map(|sid| st.subs.get(sid)).map(subz).collect()
    });
    Channelz {
        name: ch.name.clone(),
        msgs: ch.log.len(),
        bytes: ch.log.bytes(),
        first_seq: ch.log.first_seq(),
        last_seq: ch.log.last_seq(),
        subs_count: ch.subs_count(),
        subscriptions,
    }
}

fn channelsz(st: &State, f: &ServerFacts, q: &Query) -> Reply {
    let subs = wants_subs(q);
    if let Some(name) = q.param("channel") {
        return match st.channels.get(name) {
            Some(ch) => ok(&channelz(st, ch, subs)),
            None => not_found(&format!("Channel {name} not found")),
        };
    }
    let (offset, limit) = page(q);
    let page: Vec<&Channel> = st.channels.values().skip(offset).take(limit).collect();
    let count = page.len();
    let (names, channels) = if subs {
        (None, Some(page.into_iter().map(|c| channelz(st, c, true)).collect::<Vec<_>>()).filter(|v| !v.is_empty()))
    } else {
        (Some(page.into_iter().map(|c| c.name.clone()).collect::<Vec<_>>()).filter(|v| !v.is_empty()), None)
    };
    ok(&Channelsz {
        cluster_id: &st.cfg.cluster_id,
        server_id: &f.server_id,
        now: rfc3339(SystemTime::now()),
        offset,
        limit,
        count,
        total: st.channels.len(),
        names,
        channels,
    })
}

/// RFC 3339 in UTC with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, day) = crate::log::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{mo:02}-{day:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    let ns = d.subsec_nanos();
    if ns > 0 {
        let frac = format!("{ns:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Uptime as the reference prints it: `10s`, `1m2s`, `1h2m3s`, `2d1h0m5s`.
pub fn uptime(d: Duration) -> String {
    let mut s = d.as_secs();
    let days = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d{h}h{m}m{sec}s")
    } else if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1)), "1970-01-01T00:00:01Z");
        assert_eq!(uptime(Duration::from_secs(10)), "10s");
        assert_eq!(uptime(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(uptime(Duration::from_secs(86_400 + 5)), "1d0h0m5s");
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use crate::state::Config;
    use stan_proto::{encode, ConnectRequest, SubscriptionRequest};

    fn facts() -> ServerFacts {
        ServerFacts {
            server_id: "S".into(),
            version: "0".into(),
            start: SystemTime::now(),
            store_type: "MEMORY",
            max_inactivity_ns: 0,
            store_recovery: Vec::new(),
            state: "STANDALONE",
        }
    }

    fn query(path: &str, params: &[(&str, &str)]) -> Query {
        Query { path: path.into(), params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn durable_queue_member_has_queue_name_only() {
        let mut st = State::new(Config::new("c"));
        let cr = ConnectRequest { client_id: "a".into(), heartbeat_inbox: "hb".into(), ..Default::default() };
        st.handle_connect("r", &encode(&cr), 0);
        let sr = SubscriptionRequest {
            client_id: "a".into(),
            subject: "ch".into(),
            q_group: "grp".into(),
            durable_name: "dur".into(),
            inbox: "in".into(),
            max_in_flight: 1,
            ack_wait_in_secs: 1,
            ..Default::default()
        };
        st.handle_subscribe("r", &encode(&sr), 0, 1);
        let r = respond(&st, &facts(), &query("/streaming/channelsz", &[("channel", "ch"), ("subs", "1")]));
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let sub = &v["subscriptions"][0];
        assert_eq!(sub["queue_name"], "dur:grp");
        assert!(sub.get("durable_name").is_none(), "{sub}");
        assert_eq!(sub["is_durable"], true);
        let r = respond(&st, &facts(), &query("/streaming/channelsz", &[("channel", "nope")]));
        assert_eq!((r.status, r.body.as_str()), (404, "Channel nope not found\n"));
    }

    #[test]
    fn ft_state_shows_in_serverz_and_is_ft_active() {
        let st = State::new(Config::new("c"));
        let mut f = facts();
        let r = respond(&st, &f, &query("/streaming/isFTActive", &[]));
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        for (state, status) in [("FT_STANDBY", 204), ("FT_ACTIVE", 200)] {
            f.state = state;
            assert_eq!(respond(&st, &f, &query("/streaming/isFTActive", &[])).status, status);
            let r = respond(&st, &f, &query("/streaming/serverz", &[]));
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["state"], state);
        }
    }
}
