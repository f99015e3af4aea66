//! The minimal async-nats programs the commands are compared with.

use crate::*;

/// The stream for `subject`, configured as the toolkit does (file storage,
/// `replicas` copies on a cluster).
pub fn stream_config(subject: &str, replicas: usize) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: subject.replace(['.', ':'], "_").to_uppercase(),
        subjects: vec![subject.to_owned()],
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Publishes `count` events, pipelined, and awaits every ack: core NATS
/// publishes with a reply subject `{inbox}.{i}` each, at most
/// [`BASELINE_WINDOW`] unacked, every ack read and checked. With
/// `msg_id`, each event also carries a `Nats-Msg-Id` header, as `publish`
/// sends (the row that shows what the server's duplicate check costs).
/// The stream is created with `replicas` copies, as `publish --replicas`.
pub fn publish(
    url: &str,
    subject: &str,
    count: &str,
    msg_id: bool,
    replicas: &str,
) -> anyhow::Result<()> {
    let count: u64 = count.parse().context("count")?;
    let replicas: usize = replicas.parse().context("replicas")?;
    runtime()?.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(stream_config(subject, replicas))
            .await?;
        leader_elected(&stream, None).await?;
        let subject = async_nats::Subject::from(subject);
        let payload = Bytes::from_static(SEED);
        let inbox = client.new_inbox();
        let mut acks = client.subscribe(format!("{inbox}.*")).await?;
        let (mut sent, mut acked, mut last) = (0u64, 0u64, 0u64);
        while acked < count {
            while sent < count && sent - acked < BASELINE_WINDOW {
                let reply = format!("{inbox}.{sent}");
                if msg_id {
                    let mut headers = async_nats::HeaderMap::new();
                    // `{16 random characters}-{i}`, as long as `publish`'s ids.
                    let id = format!("{}-{sent}", &inbox[inbox.len() - 16..]);
                    headers.insert("Nats-Msg-Id", id.as_str());
                    client
                        .publish_with_reply_and_headers(
                            subject.clone(),
                            reply,
                            headers,
                            payload.clone(),
                        )
                        .await?;
                } else {
                    client
                        .publish_with_reply(subject.clone(), reply, payload.clone())
                        .await?;
                }
                sent += 1;
            }
            let message = acks.next().await.context("the connection closed")?;
            let ack: PublishAck = serde_json::from_slice(&message.payload)
                .with_context(|| format!("bad ack {:?}", message.payload))?;
            if let Some(error) = ack.error {
                bail!("the server refused an event: {error}");
            }
            last = last.max(ack.seq);
            acked += 1;
        }
        println!("Published {count} events to {subject}, last #{last}");
        client.drain().await?;
        anyhow::Ok(())
    })
}

#[derive(serde::Deserialize)]
struct PublishAck {
    #[serde(default)]
    seq: u64,
    error: Option<serde_json::Value>,
}

/// Replays the channel's history with an ephemeral pull consumer,
/// printing and acking each event, until `count` events.
pub fn replay(url: &str, subject: &str, count: &str) -> anyhow::Result<()> {
    let count: usize = count.parse().context("count")?;
    runtime()?.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        let stream_name = js.stream_by_subject(subject).await?;
        let stream = js.get_stream(&stream_name).await?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                filter_subject: subject.to_owned(),
                inactive_threshold: Duration::from_secs(5),
                // As many copies as the stream has, as `listen` makes.
                num_replicas: stream.cached_info().config.num_replicas,
                ..Default::default()
            })
            .await?;
        let name = consumer.cached_info().name.clone();
        leader_elected(&stream, Some(&name)).await?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(BASELINE_PULL_BATCH)
            .messages()
            .await?
            .take(count);
        print_and_ack(&mut messages).await?;
        drop(messages);
        stream.delete_consumer(&name).await?;
        client.drain().await?;
        anyhow::Ok(())
    })
}

/// Replays the channel's history with an ephemeral push consumer (deliver
/// all, explicit ack, flow control and an idle heartbeat, as async-nats
/// wants for push delivery: its `Messages` answers both), on a deliver
/// subject of its own (an inbox): the server sends without being asked, up
/// to the consumer's ack window. Prints and acks each event as
/// [`replay`] does, until `count` events; then deletes the consumer.
pub fn push_replay(url: &str, subject: &str, count: &str) -> anyhow::Result<()> {
    let count: usize = count.parse().context("count")?;
    runtime()?.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        let stream_name = js.stream_by_subject(subject).await?;
        let stream = js.get_stream(&stream_name).await?;
        let consumer: jetstream::consumer::PushConsumer = stream
            .create_consumer(push::Config {
                deliver_subject: client.new_inbox(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                filter_subject: subject.to_owned(),
                flow_control: true,
                idle_heartbeat: Duration::from_secs(5),
                inactive_threshold: Duration::from_secs(5),
                num_replicas: stream.cached_info().config.num_replicas,
                ..Default::default()
            })
            .await?;
        let name = consumer.cached_info().name.clone();
        leader_elected(&stream, Some(&name)).await?;
        let mut messages = consumer.messages().await?.take(count);
        print_and_ack(&mut messages).await?;
        drop(messages);
        stream.delete_consumer(&name).await?;
        client.drain().await?;
        anyhow::Ok(())
    })
}

/// On a cluster, waits until the new stream, or its new consumer, has
/// elected a leader: before that, publishes get no answer, and pull
/// requests are answered "no responders" (503), which async-nats's pull
/// stream gives up on (`publish` and `listen` wait or ask again).
async fn leader_elected(
    stream: &jetstream::stream::Stream,
    consumer: Option<&str>,
) -> anyhow::Result<()> {
    if stream.cached_info().config.num_replicas <= 1 {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let cluster = match consumer {
            Some(name) => stream.consumer_info(name).await?.cluster,
            None => stream.get_info().await?.cluster,
        };
        if cluster.and_then(|c| c.leader).is_some() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} elected no leader in 30 s",
            consumer.unwrap_or(&stream.cached_info().config.name)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What both raw consumers do with each event: print the line `listen`
/// prints, through a `BufWriter`, and `ack()` it.
async fn print_and_ack<E>(
    messages: &mut (impl futures_util::Stream<Item = Result<jetstream::Message, E>> + Unpin),
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut out = BufWriter::new(std::io::stdout().lock());
    while let Some(message) = messages.next().await {
        let message = message?;
        let info = message.info().map_err(|e| anyhow::anyhow!(e))?;
        writeln!(
            out,
            "Received event #{}, with data: {}",
            info.stream_sequence,
            String::from_utf8_lossy(&message.payload)
        )?;
        message.ack().await.map_err(|e| anyhow::anyhow!(e))?;
    }
    out.flush()?;
    Ok(())
}

/// Publishes one event and awaits its ack.
pub fn one_shot(url: &str, subject: &str) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        let ack = js
            .publish(subject.to_owned(), Bytes::from_static(SEED))
            .await?
            .await?;
        println!("Event published to {subject} as event #{}", ack.sequence);
        client.drain().await?;
        anyhow::Ok(())
    })
}
