//! Client lifecycle: connect (with the duplicate-ID probe), close, pings,
//! heartbeats and their expiry.

use super::{Client, Probe, ProbeKind, State, Timer, WaitingConnect};
use crate::log;
use crate::store::Record;
use bytes::Bytes;
use stan_proto::{errors as e, ConnectRequest, ConnectResponse, PingResponse};

/// Delay of the duplicate-ID probe of the old client's heartbeat inbox.
const DUP_PROBE_MS: u64 = 500;

impl State {
    /// A ConnectRequest arrived on the discover subject.
    pub fn handle_connect(&mut self, reply: &str, payload: &[u8], now: u64) {
        let Some(req) = stan_proto::decode::<ConnectRequest>(payload) else {
            log::debug(format_args!("Invalid connect request (undecodable, {} bytes)", payload.len()));
            return self.connect_error(reply, e::SRV_INVALID_CONN_REQ);
        };
        if reply.is_empty() {
            log::debug(format_args!("Connect request without reply subject, ignored"));
            return;
        }
        if req.client_id.is_empty() || req.heartbeat_inbox.is_empty() {
            return self.connect_error(reply, e::SRV_INVALID_CONN_REQ);
        }
        if !stan_proto::is_valid_client_id(&req.client_id) {
            log::error(format_args!("[Client:{}] Connect failed; {}", req.client_id, e::SRV_INVALID_CLIENT_ID));
            return self.connect_error(reply, e::SRV_INVALID_CLIENT_ID);
        }
        if self.probing.contains_key(&req.client_id) {
            return self.connect_error(reply, e::SRV_CLIENT_ID_REGISTERED);
        }
        if let Some(old) = self.clients.get(&req.client_id) {
            // Ask the old connection whether it is still alive.
            let token = self.next_token;
            self.next_token += 1;
            let subject = old.hb_inbox.clone();
            self.probing.insert(req.client_id.clone(), token);
            self.waiting.insert(token, WaitingConnect { reply: reply.to_string(), req });
            self.out.probes.push(Probe { kind: ProbeKind::Duplicate { token }, subject, timeout_ms: DUP_PROBE_MS });
            return;
        }
        self.register(reply, req, now);
    }

    fn connect_error(&mut self, reply: &str, text: &str) {
        let resp = ConnectResponse { error: text.to_string(), ..Default::default() };
        self.reply(reply, &resp);
    }

    fn register(&mut self, reply: &str, req: ConnectRequest, now: u64) {
        let client = Client {
            id: req.client_id.clone(),
            hb_inbox: req.heartbeat_inbox.clone(),
            conn_id: req.conn_id.clone(),
            protocol: req.protocol,
            ping_interval: req.ping_interval,
            ping_max_out: req.ping_max_out,
            subs: Vec::new(),
            hb_fails: 0,
            next_hb: None,
        };
        self.insert_client(client, now);
        self.record(|| Record::ClientAdded {
            client_id: req.client_id.clone(),
            hb_inbox: req.heartbeat_inbox.clone(),
            conn_id: req.conn_id.clone(),
            protocol: req.protocol,
            ping_interval: req.ping_interval,
            ping_max_out: req.ping_max_out,
        });
        let s = &self.subjects;
        let resp = ConnectResponse {
            pub_prefix: s.pub_prefix.clone(),
            sub_requests: s.sub.clone(),
            unsub_requests: s.unsub.clone(),
            close_requests: s.close.clone(),
            sub_close_requests: s.sub_close.clone(),
            ping_requests: s.pings.clone(),
            ping_interval: req.ping_interval,
            ping_max_out: req.ping_max_out,
            protocol: stan_proto::PROTOCOL_ONE,
            ..Default::default()
        };
        log::debug(format_args!("[Client:{}] Connected (Inbox={})", req.client_id, req.heartbeat_inbox));
        self.reply(reply, &resp);
    }

    /// Add a client (new or recovered) and arm its heartbeat.
    pub(crate) fn insert_client(&mut self, mut client: Client, now: u64) {
        let due = now + self.cfg.hb_interval_ms;
        client.next_hb = Some(due);
        self.timers.insert((due, Timer::Heartbeat(client.id.clone())));
        if !client.conn_id.is_empty() {
            self.conn_ids.insert(client.conn_id.clone(), client.id.clone());
        }
        self.clients.insert(client.id.clone(), client);
    }

    /// The outcome of a probe the driver performed.
    pub fn handle_probe_result(&mut self, kind: ProbeKind, answered: bool, now: u64) {
        match kind {
            ProbeKind::Duplicate { token } => {
                let Some(w) = self.waiting.remove(&token) else { return };
                self.probing.remove(&w.req.client_id);
                if answered && self.clients.contains_key(&w.req.client_id) {
                    log::error(format_args!(
                        "[Client:{}] Connect failed; {}",
                        w.req.client_id,
                        e::SRV_CLIENT_ID_REGISTERED
                    ));
                    self.connect_error(&w.reply, e::SRV_CLIENT_ID_REGISTERED);
                } else {
                    if self.clients.contains_key(&w.req.client_id) {
                        log::debug(format_args!("[Client:{}] Replaced old client", w.req.client_id));
                        self.remove_client(&w.req.client_id, now);
                    }
                    self.register(&w.reply, w.req, now);
                }
            }
            ProbeKind::Heartbeat { client_id, conn_id } => {
                let hbi = self.cfg.hb_interval_ms;
                let limit = self.cfg.hb_fail_count;
                let Some(c) = self.clients.get_mut(&client_id) else { return };
                // Only the heartbeat in flight counts: a late outcome of a
                // probe sent to an earlier registration of the same client
                // (closed and registered again meanwhile) is ignored.
                if c.conn_id != conn_id || c.next_hb.is_some() {
                    return;
                }
                if answered {
                    if c.hb_fails > 0 {
                        log::debug(format_args!("[Client:{client_id}] Heartbeats recovered"));
                    }
                    c.hb_fails = 0;
                } else {
                    c.hb_fails += 1;
                    log::debug(format_args!(
                        "[Client:{client_id}] Timed out on heartbeats (fail count {})",
                        c.hb_fails
                    ));
                    if c.hb_fails > limit {
                        log::debug(format_args!("[Client:{client_id}] Closing (heartbeats expired)"));
                        self.remove_client(&client_id, now);
                        return;
                    }
                }
                let due = now + hbi;
                c.next_hb = Some(due);
                self.timers.insert((due, Timer::Heartbeat(client_id)));
                if answered {
                    // Plain subs of a recovered client may have skipped redeliveries.
                    self.kick_client_redeliveries(&conn_id, now);
                }
            }
        }
    }

    pub(super) fn heartbeat_due(&mut self, client_id: &str, deadline: u64) {
        let Some(c) = self.clients.get_mut(client_id) else { return };
        if c.next_hb != Some(deadline) {
            return;
        }
        c.next_hb = None;
        let kind = ProbeKind::Heartbeat { client_id: c.id.clone(), conn_id: c.conn_id.clone() };
        let subject = c.hb_inbox.clone();
        self.out.probes.push(Probe { kind, subject, timeout_ms: self.cfg.hb_timeout_ms });
    }

    fn kick_client_redeliveries(&mut self, conn_id: &Bytes, now: u64) {
        let Some(cid) = self.conn_ids.get(conn_id).cloned() else { return };
        let subs = self.clients.get(&cid).map(|c| c.subs.clone()).unwrap_or_default();
        for sid in subs {
            self.arm_overdue(sid, now);
        }
    }

    /// A CloseRequest arrived.
    pub fn handle_close(&mut self, reply: &str, payload: &[u8], now: u64) {
        let text = match stan_proto::decode::<stan_proto::CloseRequest>(payload) {
            None => e::SRV_INVALID_CLOSE_REQ,
            Some(r) if !self.clients.contains_key(&r.client_id) => e::SRV_UNKNOWN_CLIENT,
            Some(r) => {
                log::debug(format_args!("[Client:{}] Closing (close request)", r.client_id));
                self.remove_client(&r.client_id, now);
                ""
            }
        };
        if !text.is_empty() {
            log::debug(format_args!("Close request failed: {text}"));
        }
        let resp = stan_proto::CloseResponse { error: text.to_string() };
        self.reply(reply, &resp);
    }

    /// Remove a client: durables go offline, everything else is unsubscribed.
    pub(crate) fn remove_client(&mut self, client_id: &str, now: u64) {
        let Some(c) = self.clients.remove(client_id) else { return };
        // Its heartbeat ends with it (not one interval later).
        if let Some(due) = c.next_hb {
            self.timers.remove(&(due, Timer::Heartbeat(client_id.to_string())));
        }
        if self.conn_ids.get(&c.conn_id).is_some_and(|id| id == client_id) {
            self.conn_ids.remove(&c.conn_id);
        }
        for sid in c.subs {
            let durable = self.subs.get(&sid).is_some_and(|s| s.is_durable);
            self.end_sub(sid, durable, now);
        }
        self.record(|| Record::ClientRemoved { client_id: client_id.to_string() });
        log::debug(format_args!("[Client:{client_id}] Closed"));
    }

    /// A Ping from a client (protocol 1).
    pub fn handle_ping(&mut self, reply: &str, payload: &[u8], now: u64) {
        let Some(ping) = stan_proto::decode::<stan_proto::Ping>(payload) else {
            log::debug(format_args!("Invalid ping ({} bytes), ignored", payload.len()));
            return;
        };
        if ping.conn_id.is_empty() {
            // The original does not answer a Ping without a connection ID.
            log::debug(format_args!("Ping without connection ID, ignored"));
            return;
        }
        let known = self.conn_ids.get(&ping.conn_id).cloned();
        match known {
            Some(cid) => {
                if !reply.is_empty() {
                    self.out.publish(reply, 0, |_| {});
                }
                // A client with failing heartbeats gets a heartbeat right away.
                if let Some(c) = self.clients.get_mut(&cid) {
                    if c.hb_fails > 0 {
                        if let Some(d) = c.next_hb {
                            self.timers.remove(&(d, Timer::Heartbeat(cid.clone())));
                            c.next_hb = Some(now + 1);
                            self.timers.insert((now + 1, Timer::Heartbeat(cid)));
                        }
                    }
                }
            }
            None => {
                let resp = PingResponse { error: e::SRV_CLIENT_REPLACED.to_string() };
                self.reply(reply, &resp);
            }
        }
    }

    /// Whether a publisher is registered, checked as the original checks it:
    /// by its connection ID when it sends one (whichever client registered
    /// that ID last), else by its client ID. A newcomer reusing a connection
    /// ID, or probing for a registered client ID, therefore does not make the
    /// server refuse the registered client's publishes.
    pub(crate) fn is_registered(&self, client_id: &str, conn_id: &[u8]) -> bool {
        if conn_id.is_empty() {
            self.clients.contains_key(client_id)
        } else {
            self.conn_ids.get(conn_id).is_some_and(|id| self.clients.contains_key(id))
        }
    }
}
