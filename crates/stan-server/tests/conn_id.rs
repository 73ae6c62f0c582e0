//! Connection-ID reuse, against both servers (ours and the original): a
//! second client registering with the connection ID of a registered one (a
//! raw STAN session over NATS) does not make the server refuse the first
//! client's publishes; once the second closes, the original refuses them
//! (its publisher check looks the connection ID up), and so do we. While a
//! duplicate client ID is being probed, the registered client's publishes
//! are accepted.

use stan_proto::{decode, encode, CloseRequest, ConnectRequest, ConnectResponse, PubAck, PubMsg};
use stan_testkit::{StanEnv, StanImpl};
use std::time::Duration;

struct Raw {
    nc: async_nats::Client,
    cid: String,
}

impl Raw {
    async fn connect(&self, client_id: &str, conn_id: &str, hb: &str) -> ConnectResponse {
        let req = ConnectRequest {
            client_id: client_id.into(),
            heartbeat_inbox: hb.into(),
            protocol: 1,
            conn_id: conn_id.to_string().into(),
            ping_interval: 5,
            ping_max_out: 3,
        };
        let subject = format!("_STAN.discover.{}", self.cid);
        let m = tokio::time::timeout(Duration::from_secs(10), self.nc.request(subject, encode(&req).into()))
            .await
            .expect("connect timed out")
            .unwrap();
        decode(&m.payload).unwrap()
    }

    async fn publish(&self, r: &ConnectResponse, client_id: &str, conn_id: &str, guid: &str) -> String {
        let pm = PubMsg {
            client_id: client_id.into(),
            guid: guid.into(),
            subject: "reuse".into(),
            data: "x".into(),
            conn_id: conn_id.to_string().into(),
            ..Default::default()
        };
        let subject = format!("{}.reuse", r.pub_prefix);
        let m = tokio::time::timeout(Duration::from_secs(10), self.nc.request(subject, encode(&pm).into()))
            .await
            .expect("publish timed out")
            .unwrap();
        decode::<PubAck>(&m.payload).unwrap().error
    }

    async fn close(&self, r: &ConnectResponse, client_id: &str) -> String {
        let req = CloseRequest { client_id: client_id.into() };
        let m = self.nc.request(r.close_requests.clone(), encode(&req).into()).await.unwrap();
        decode::<stan_proto::CloseResponse>(&m.payload).unwrap().error
    }
}

async fn scenario(which: StanImpl) {
    let env = tokio::task::block_in_place(|| StanEnv::start_with(which, "reuse", &[]));
    let nc = async_nats::connect(env.nats_url()).await.unwrap();
    // Heartbeat inboxes that answer, so the sessions stay alive.
    let mut hb = nc.subscribe("hb.>").await.unwrap();
    let responder = nc.clone();
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(m) = hb.next().await {
            if let Some(r) = m.reply {
                let _ = responder.publish(r, "".into()).await;
            }
        }
    });
    let raw = Raw { nc, cid: "reuse".into() };
    let a = raw.connect("client-a", "conn-1", "hb.a").await;
    assert_eq!(a.error, "", "{which:?}");
    assert_eq!(raw.publish(&a, "client-a", "conn-1", "g1").await, "", "{which:?}");
    // A second client with another ID reuses conn-1.
    let b = raw.connect("client-b", "conn-1", "hb.b").await;
    assert_eq!(b.error, "", "{which:?}");
    assert_eq!(raw.publish(&a, "client-a", "conn-1", "g2").await, "", "{which:?}: first client refused");
    // A duplicate of client-a's ID is probed (client-a answers) and refused; client-a goes on.
    let dup = raw.connect("client-a", "conn-2", "hb.a2").await;
    assert_eq!(dup.error, "stan: clientID already registered", "{which:?}");
    assert_eq!(raw.publish(&a, "client-a", "conn-1", "g3").await, "", "{which:?}");
    // The second closes: conn-1 is no longer registered.
    assert_eq!(raw.close(&b, "client-b").await, "", "{which:?}");
    assert_eq!(raw.publish(&a, "client-a", "conn-1", "g4").await, "stan: invalid publish request", "{which:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_id_reuse_ours() {
    scenario(StanImpl::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_id_reuse_reference() {
    scenario(StanImpl::Reference).await;
}
