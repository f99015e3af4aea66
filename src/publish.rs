//! Publishing events, each one confirmed by the server.
//!
//! In the course, `stan.publish('ticket:created', data, () => console.log('Event published'))`
//! sent an event and called back once NATS Streaming had stored it. A
//! JetStream publish works the same way: the server answers each publish with
//! an ack naming the stream and the event's sequence. Here many publishes are
//! in flight at once (pipelined) and their acks are awaited in order, so
//! `--count 100000` does not wait one round trip per event.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, context::PublishAckFuture};
use bytes::Bytes;

use crate::channel::{Channel, jetstream_error};
use crate::connection::ConnectConfig;

/// Up to this many events print one `Event published` line each; more print a summary.
pub const MAX_LINES: u64 = 10;

/// How many publishes may wait for their ack at once.
const IN_FLIGHT: usize = 4096;

/// Everything `publish` needs, checked.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Server, client id, timeout.
    pub connect: ConnectConfig,
    /// The channel to publish on.
    pub channel: Channel,
    /// The event's data: compact JSON.
    pub payload: Bytes,
    /// How many copies of the event to publish.
    pub count: u64,
}

/// Where the published events went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Sequence of the first event stored.
    pub first: u64,
    /// Sequence of the last event stored.
    pub last: u64,
    /// How many events were stored.
    pub count: u64,
}

/// Connects, publishes `count` events and closes; stops early on `shutdown`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    let js = jetstream::new(client.clone());
    config.channel.ensure_stream(&js).await?;

    let result = tokio::select! {
        result = publish_events(&js, &config, out) => result,
        () = shutdown => Err(anyhow::anyhow!("interrupted before every event was stored")),
    };
    client.drain().await.ok();
    let published = result?;
    if config.count > MAX_LINES {
        writeln!(
            out,
            "Published {} events to {} (events #{} to #{})",
            published.count, config.channel, published.first, published.last
        )?;
    }
    Ok(())
}

/// Publishes the event `count` times, pipelined, and waits for every ack.
pub async fn publish_events(
    js: &jetstream::Context,
    config: &PublishConfig,
    out: &mut impl Write,
) -> anyhow::Result<Published> {
    let subject = config.channel.as_str().to_owned();
    let mut in_flight: VecDeque<PublishAckFuture> = VecDeque::with_capacity(IN_FLIGHT);
    let mut published = Published {
        first: 0,
        last: 0,
        count: 0,
    };
    let print_each = config.count <= MAX_LINES;
    for _ in 0..config.count {
        if in_flight.len() == IN_FLIGHT {
            let ack = in_flight.pop_front().expect("queue is full");
            confirm(ack, config, &mut published, print_each, out).await?;
        }
        // Bytes is reference counted: every publish shares the one payload.
        let ack = js
            .publish(subject.clone(), config.payload.clone())
            .await
            .map_err(|err| jetstream_error(js, err))?;
        in_flight.push_back(ack);
    }
    while let Some(ack) = in_flight.pop_front() {
        confirm(ack, config, &mut published, print_each, out).await?;
    }
    Ok(published)
}

async fn confirm(
    ack: PublishAckFuture,
    config: &PublishConfig,
    published: &mut Published,
    print_each: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let ack = ack.await.with_context(|| {
        format!(
            "the server did not confirm event {} of {} on {}; {} were stored",
            published.count + 1,
            config.count,
            config.channel,
            published.count
        )
    })?;
    if ack.duplicate {
        bail!("the server dropped event #{} as a duplicate", ack.sequence);
    }
    if published.count == 0 {
        published.first = ack.sequence;
    }
    published.last = ack.sequence;
    published.count += 1;
    if print_each {
        writeln!(
            out,
            "Event published to {} as event #{}",
            config.channel, ack.sequence
        )?;
    }
    Ok(())
}
