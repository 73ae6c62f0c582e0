//! The course's listener: a durable queue subscription to `ticket:created`
//! (group `order-service-queue-group`, durable `accounting-service`, all
//! available messages, manual acks) that closes gracefully on Ctrl-C or SIGTERM.
//!
//! Run: `cargo run -p stan-client --example listener [-- <url>]`

use futures::StreamExt;
use stan_client::{connect, Options, SubscriptionOptions};

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> Result<(), stan_client::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://localhost:4222".to_string());
    let client_id = format!("{:08x}", rand::random::<u32>());
    let stan = connect("ticketing", &client_id, Options::new().url(url)).await?;
    println!("Listener connected to NATS");

    let options = SubscriptionOptions::default()
        .queue_group("order-service-queue-group")
        .manual_ack_mode(true)
        .deliver_all_available()
        .durable_name("accounting-service");
    let mut subscription = stan.subscribe("ticket:created", options).await?;

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            msg = subscription.next() => {
                let Some(msg) = msg else { break };
                println!("Received event #{}, with data: {}", msg.sequence(), msg.data_str());
                msg.ack()?;
            }
            _ = &mut shutdown => break,
        }
    }
    stan.close().await?;
    println!("NATS connection closed!");
    Ok(())
}
