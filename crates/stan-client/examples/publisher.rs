//! The course's publisher: connect to cluster `ticketing` with a random hex
//! client ID, publish one `ticket:created` event, and close.
//!
//! Run: `cargo run -p stan-client --example publisher [-- <url>]`
//! (default url `http://localhost:4222`; the scheme is ignored like in
//! node-nats-streaming).

use stan_client::{connect, Options};

#[tokio::main]
async fn main() -> Result<(), stan_client::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://localhost:4222".to_string());
    let client_id = format!("{:08x}", rand::random::<u32>());
    let stan = connect("ticketing", &client_id, Options::new().url(url)).await?;
    println!("Publisher connected to NATS");

    let data = r#"{"id":"123","title":"concert","price":20}"#;
    let guid = stan.publish("ticket:created", data).await?;
    println!("Event published ({guid})");

    stan.close().await
}
