//! Ending a subscription for good: the course's durable `unsubscribe()`,
//! which makes the server forget what the subscription acked, as against
//! `close()`, which keeps it for the next listener. In JetStream that is
//! deleting the consumer.

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, ErrorCode, stream::ConsumerErrorKind};
use futures_util::TryStreamExt as _;

use super::{SubscriptionStatus, stream_of};
use crate::channel::Channel;

/// The subscription `name` of `channel` (a durable, or a queue group's), as
/// `status` shows it; an error that names the channel's subscriptions when
/// it has none of that name.
pub async fn find_subscription(
    js: &jetstream::Context,
    channel: &Channel,
    name: &str,
) -> anyhow::Result<SubscriptionStatus> {
    let stream = stream_of(js, channel).await?;
    match stream.consumer_info(name).await {
        Ok(info) => Ok(SubscriptionStatus::new(&info)),
        Err(err) if err.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound => {
            let names: Vec<String> = stream
                .consumer_names()
                .try_collect()
                .await
                .with_context(|| format!("could not list the subscriptions of {channel}"))?;
            let mut names = names;
            names.sort();
            let names = crate::notes::escape_control(&names.join(", ")).into_owned();
            if names.is_empty() {
                bail!("channel {channel} has no subscription {name}, and no other either");
            }
            bail!("channel {channel} has no subscription {name}; its subscriptions are: {names}")
        }
        Err(err) => {
            Err(err).with_context(|| format!("could not look up subscription {name} of {channel}"))
        }
    }
}

/// Deletes the subscription `name` of `channel`: the server forgets what it
/// acked, and its listeners still running lose it and stop.
pub async fn delete_subscription(
    js: &jetstream::Context,
    channel: &Channel,
    name: &str,
) -> anyhow::Result<()> {
    let stream = stream_of(js, channel).await?;
    match stream.delete_consumer(name).await {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.kind(), ConsumerErrorKind::JetStream(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND) =>
        {
            bail!("channel {channel} has no subscription {name} (any more)")
        }
        Err(err) => {
            Err(err).with_context(|| format!("could not delete subscription {name} of {channel}"))
        }
    }
}
