//! The protobuf messages nats-streaming-server keeps in its SQL tables
//! (package `spb`): `ServerInfo`, `ClientInfo` and `SubState`. Messages are
//! stored as `pb.MsgProto` ([`stan_proto::messages::MsgProto`]).

/// `ServerInfo.proto`: the server's identity and subjects.
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

/// `Clients.proto`: a registered client.
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

/// `Subscriptions.proto`: a subscription's persisted state.
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
