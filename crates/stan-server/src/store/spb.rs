//! The protobuf records of nats-streaming-server's stores (package `spb` of
//! its `spb/protocol.proto`): written in its file store's `server.dat`,
//! `clients.dat` and `subs.dat` and in its SQL tables. Messages themselves
//! are `pb.MsgProto` ([`stan_proto::MsgProto`]). Shared by the SQL store and
//! the reader of the original's file store (`migrate`).

/// `spb.ServerInfo`: the server's identity and subjects (`server.dat`, the `ServerInfo` table).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerInfo {
    #[prost(string, tag = "1")]
    pub cluster_id: String,
    #[prost(string, tag = "2")]
    pub discovery: String,
    #[prost(string, tag = "3")]
    pub publish: String,
    #[prost(string, tag = "4")]
    pub subscribe: String,
    #[prost(string, tag = "5")]
    pub unsubscribe: String,
    #[prost(string, tag = "6")]
    pub close: String,
    #[prost(string, tag = "7")]
    pub sub_close: String,
    #[prost(string, tag = "8")]
    pub acks_subs: String,
    #[prost(string, tag = "9")]
    pub node_id: String,
}

/// `spb.ClientInfo`: a registered client (an `ADD_CLIENT` record, a `Clients` row).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientInfo {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub hb_inbox: String,
    #[prost(bytes = "bytes", tag = "3")]
    pub conn_id: bytes::Bytes,
    #[prost(int32, tag = "4")]
    pub protocol: i32,
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

/// `spb.ClientDelete`: a `DEL_CLIENT` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientDelete {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `spb.SubState`: a subscription's persisted state (`SUB_NEW`/`SUB_UPDATE` records, a `Subscriptions` row).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubState {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub client_id: String,
    #[prost(string, tag = "3")]
    pub q_group: String,
    #[prost(string, tag = "4")]
    pub inbox: String,
    #[prost(string, tag = "5")]
    pub ack_inbox: String,
    #[prost(int32, tag = "6")]
    pub max_in_flight: i32,
    #[prost(int32, tag = "7")]
    pub ack_wait_in_secs: i32,
    #[prost(string, tag = "8")]
    pub durable_name: String,
    #[prost(uint64, tag = "9")]
    pub last_sent: u64,
    #[prost(bool, tag = "10")]
    pub is_durable: bool,
    #[prost(bool, tag = "11")]
    pub is_closed: bool,
}

/// `spb.SubStateDelete`: a `SUB_DEL` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubStateDelete {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// `spb.SubStateUpdate`: a `SUB_MSG` (sent, awaiting ack) or `SUB_ACK` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubStateUpdate {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub seqno: u64,
}
