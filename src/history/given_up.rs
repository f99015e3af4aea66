//! The events each subscription gave up after its deliveries, as `status`
//! counts them: from the stream that keeps the server's give-up notices
//! ([`crate::subscription::record_stream_name`]), which is no channel.

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use futures_util::TryStreamExt as _;

use super::SubscriptionStatus;
use crate::subscription::{record_stream_name, record_subject};

/// Whether a stream keeps give-up notices rather than a channel's events.
pub(super) fn is_record(info: &stream::Info) -> bool {
    info.config.name.starts_with("GIVEN_UP_")
        && info
            .config
            .subjects
            .iter()
            .all(|s| s.starts_with("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."))
}

/// Fills in each subscription's count of events given up, from the stream
/// that keeps the notices of `stream`'s consumers (none yet: nothing given up).
pub(super) async fn count_given_up(
    js: &jetstream::Context,
    stream: &str,
    subscriptions: &mut [SubscriptionStatus],
) -> anyhow::Result<()> {
    let record = match js.get_stream(record_stream_name(stream)).await {
        Ok(record) => record,
        Err(err)
            if matches!(err.kind(), jetstream::context::GetStreamErrorKind::JetStream(e)
                if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(());
        }
        Err(err) => return Err(err).context("could not read the events given up"),
    };
    let counts: Vec<(String, usize)> = record
        .info_with_subjects(record_subject(stream, "*"))
        .await
        .context("could not read the events given up")?
        .try_collect()
        .await
        .context("could not read the events given up")?;
    for (subject, count) in counts {
        let consumer = subject.rsplit('.').next().unwrap_or_default();
        if let Some(s) = subscriptions.iter_mut().find(|s| s.name == consumer) {
            s.given_up = count as u64;
        }
    }
    Ok(())
}
