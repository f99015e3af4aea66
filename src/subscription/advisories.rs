//! The server's notices of events it gave up (`--max-deliver`).

use super::*;

/// An event the server stopped delivering: it was delivered `max_deliver`
/// times and never acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct GivenUp {
    /// The event's number in its channel.
    #[serde(rename = "stream_seq")]
    pub sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
}

/// The stream of [`GivenUp`] notices of one subscription.
#[derive(Debug)]
pub struct GiveUpNotices {
    advisories: Subscriber,
}

impl GiveUpNotices {
    /// Subscribes to the advisory subject on which the server announces
    /// each event of `consumer` it gives up.
    pub(super) async fn subscribe(
        client: &Client,
        consumer: &jetstream::consumer::Info,
    ) -> anyhow::Result<GiveUpNotices> {
        let advisories = client
            .subscribe(format!(
                "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}",
                consumer.stream_name, consumer.name
            ))
            .await
            .context("could not subscribe to the max-deliveries advisory")?;
        Ok(GiveUpNotices { advisories })
    }

    /// The next event the server gave up, or `None` when the connection closed.
    pub async fn next(&mut self) -> Option<GivenUp> {
        loop {
            let advisory = self.advisories.next().await?;
            if let Ok(given_up) = serde_json::from_slice(&advisory.payload) {
                return Some(given_up);
            }
        }
    }
}
