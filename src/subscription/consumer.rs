//! Opening the consumer: creating it (a push consumer for a listener's own
//! subscription, a pull consumer for a shared one, see [`super::delivery`]),
//! or joining the queue group or durable that already exists, if it is the
//! one asked for.

use super::*;

use async_nats::jetstream::consumer::Config as ConsumerConfig;

/// Finds or creates the consumer. A queue group or durable that already exists
/// is joined as it is: its position in the history was fixed when it was
/// first formed. A cluster that is electing leaders is waited for. A push
/// consumer sends to `inbox`; `connects` is the client's connect count.
pub(super) async fn open_consumer(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
    options: &SubscriptionOptions,
    inbox: &Subject,
    connects: u64,
    wait: &mut ClusterWait,
) -> anyhow::Result<Feed> {
    if options.pushed() {
        let mut wanted = options.push_config(inbox);
        wanted.num_replicas = stream.cached_info().config.num_replicas;
        loop {
            // Named after the client id, so a create that timed out but was
            // carried out all the same is created again as it is.
            match stream.create_consumer_strict(wanted.clone()).await {
                Ok(consumer) => {
                    return Ok(Feed::push(consumer.cached_info().clone(), wanted, connects));
                }
                Err(err) => {
                    let err = anyhow::Error::new(err)
                        .context(format!("could not subscribe the {}", options.describe()));
                    if !wait.retry_after(&err).await {
                        return Err(err);
                    }
                }
            }
        }
    }
    if options.reset
        && let Some(name) = options.consumer_name()
    {
        loop {
            match stream.delete_consumer(name).await {
                Ok(_) => {
                    wait.notes().say(format_args!(
                        "Deleted the {} to start over",
                        options.describe()
                    ));
                    break;
                }
                Err(err) if is_not_found(&err) => break,
                Err(err) => {
                    let err = anyhow::Error::new(err)
                        .context("could not delete the consumer to start over");
                    if !wait.retry_after(&err).await {
                        return Err(err);
                    }
                }
            }
        }
    }
    loop {
        match find_or_create_consumer(js, stream, options, wait.notes()).await {
            Err(err) if wait.retry_after(&err).await => {}
            result => return result.map(Feed::pull),
        }
    }
}

async fn find_or_create_consumer(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
    options: &SubscriptionOptions,
    notes: &Notes,
) -> anyhow::Result<PullConsumer> {
    let mut wanted = options.consumer_config();
    // As many copies as the stream has: a consumer on one node of a cluster
    // would die with that node, and its listeners with it.
    wanted.num_replicas = stream.cached_info().config.num_replicas;
    if let Some(name) = options.consumer_name()
        && let Some(existing) = get_consumer(stream, name).await?
    {
        let existing = join_existing(existing, options, notes)?;
        return resume_in_order(js, stream, existing, wanted, options).await;
    }
    // A create that timed out may have been carried out all the same: the
    // next try then finds a named consumer and joins it, and an unnamed one
    // is left to expire (its inactive threshold).
    match stream.create_consumer_strict(wanted.clone()).await {
        Ok(consumer) => Ok(consumer),
        Err(create_err) => {
            // Another member may have formed the group a moment ago.
            if let Some(name) = options.consumer_name()
                && let Some(existing) = get_consumer(stream, name).await?
            {
                let existing = join_existing(existing, options, notes)?;
                return resume_in_order(js, stream, existing, wanted, options).await;
            }
            Err(create_err)
                .with_context(|| format!("could not subscribe the {}", options.describe()))
        }
    }
}

/// A durable of its own that acks in order ([`SubscriptionOptions::acks_all`])
/// goes on from its ack floor. An ack covers every event delivered before
/// it, so the events a listener was sent and did not ack (it was killed, or
/// gave them back) must come again before any later one: such a consumer
/// is rewound to its ack floor (the server's consumer reset, 2.14; on an
/// older server, it is made anew from its ack floor). One that another
/// listener is reading (it has pull requests waiting) is refused: its acks
/// would cover ours, and ours its.
async fn resume_in_order(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
    existing: PullConsumer,
    wanted: pull::Config,
    options: &SubscriptionOptions,
) -> anyhow::Result<PullConsumer> {
    let info = existing.cached_info();
    if info.config.ack_policy != AckPolicy::All {
        return Ok(existing);
    }
    if info.num_waiting > 0 {
        return Err(Said::text(format!(
            "another listener is reading the {} on channel {}: a durable of its own acks in \
             order, so it has one listener at a time; stop the other one, or ",
            options.describe(),
            options.channel
        ))
        .mention(Mention::DurableName, "choose another durable name")
        .into());
    }
    if info.num_ack_pending == 0 {
        return Ok(existing);
    }
    let name = info.name.clone();
    let stream_name = info.stream_name.clone();
    let start_sequence = info.ack_floor.stream_sequence + 1;
    // In place: the consumer and its ack floor stay, whatever happens.
    if control::Control::Rewind
        .check(control::ServerVersion::of(&js.client()))
        .is_ok()
    {
        control::rewind(js, &stream_name, &name, None)
            .await
            .with_context(|| {
                format!(
                    "could not go on from the ack floor of the {}",
                    options.describe()
                )
            })?;
        return stream
            .get_consumer(&name)
            .await
            .map_err(|err| anyhow::anyhow!("could not open consumer '{name}': {err}"));
    }
    stream
        .delete_consumer(&name)
        .await
        .with_context(|| format!("could not restart the {}", options.describe()))?;
    let config = pull::Config {
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
        ..wanted
    };
    stream
        .create_consumer_strict(config)
        .await
        .with_context(|| format!("could not restart the {}", options.describe()))
}

async fn get_consumer(
    stream: &jetstream::stream::Stream,
    name: &str,
) -> anyhow::Result<Option<PullConsumer>> {
    match stream.consumer_info(name).await {
        Ok(_) => {}
        Err(err) if err.kind() == ConsumerInfoErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("could not look up consumer '{name}'"));
        }
    }
    let consumer = stream
        .get_consumer::<pull::Config>(name)
        .await
        .map_err(|err| anyhow::anyhow!("could not open consumer '{name}': {err}"))?;
    Ok(Some(consumer))
}

fn is_not_found(err: &async_nats::jetstream::stream::ConsumerError) -> bool {
    matches!(err.kind(), ConsumerErrorKind::JetStream(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}

/// Checks that an existing consumer is the one this listener asks for, and
/// says when a start flag cannot apply to it.
fn join_existing(
    existing: PullConsumer,
    options: &SubscriptionOptions,
    notes: &Notes,
) -> anyhow::Result<PullConsumer> {
    let wanted: ConsumerConfig = options.consumer_config().into_consumer_config();
    let differences = differences(&existing.cached_info().config, &wanted);
    let name = options.consumer_name().unwrap_or_default();
    if !differences.is_empty() {
        let (other_name, words) = match options.durable {
            Some(_) => (Mention::DurableName, "durable name"),
            None => (Mention::QueueGroupName, "queue group name"),
        };
        return Err(Said::text(format!(
            "consumer '{name}' already exists on channel {} with a different configuration: {}. \
             To start over, ",
            options.channel,
            differences.join("; "),
        ))
        .mention(
            Mention::StartOver,
            "delete its subscription and subscribe again",
        )
        .and(" (this forgets what it acked), or choose another ")
        .mention(other_name, words)
        .into());
    }
    if let Some(start) = options.start.filter(|s| *s != StartPosition::New) {
        notes.tell(|| {
            let said = Said::text(format!(
                "Note: the {} already exists, so it resumes where it left off and ",
                options.describe()
            ))
            .mention(Mention::Start, start.describe())
            .and(
                " does not apply (a start position applies only when a group or durable is \
                 first formed)",
            );
            match options.queue_group {
                Some(_) => said.and("; to replay the whole history, ").mention(
                    Mention::ListenAlone,
                    "listen on your own, without a queue group",
                ),
                None => said,
            }
        });
    }
    if options.report_acks && existing.cached_info().config.sample_frequency == 0 {
        notes.tell(|| {
            Said::text(format!(
                "Note: the {} already exists without ack reports, so ",
                options.describe()
            ))
            .mention(Mention::ReportAcks, "asking for ack reports")
            .and(
                " does not apply (it applies only when a group or durable is first formed); \
                 to turn them on, ",
            )
            .mention(Mention::StartOver, "start it over")
            .and(" (this forgets what it acked)")
        });
    }
    Ok(existing)
}

/// What differs between the consumer there is and the one asked for, in
/// the words of the error that lists it: durability, queue group, ack wait,
/// max deliver, max in flight (when asked for), channel. Empty when it can be
/// joined as it is.
fn differences(have: &ConsumerConfig, wanted: &ConsumerConfig) -> Vec<String> {
    let mut differences = Vec::new();
    if have.durable_name.is_some() != wanted.durable_name.is_some() {
        let kind = |durable: bool| if durable { "durable" } else { "not durable" };
        differences.push(format!(
            "it is {}, you asked for {}",
            kind(have.durable_name.is_some()),
            kind(wanted.durable_name.is_some())
        ));
    }
    // A listener that settles events one by one cannot share a consumer
    // whose acks cover those before them; the other way round is fine.
    if have.ack_policy == AckPolicy::All && wanted.ack_policy != AckPolicy::All {
        differences.push(
            "it acks in order (an ack covers the events before it), you asked for a settle \
             per event"
                .to_owned(),
        );
    }
    let group = |c: &ConsumerConfig| c.metadata.get(QUEUE_GROUP_KEY).cloned();
    if group(have) != group(wanted) {
        let show = |g: Option<String>| {
            g.map_or("no queue group".to_owned(), |g| {
                format!("queue group '{g}'")
            })
        };
        differences.push(format!(
            "it has {}, you asked for {}",
            show(group(have)),
            show(group(wanted))
        ));
    }
    if have.ack_wait != wanted.ack_wait {
        differences.push(format!(
            "its ack wait is {}, you asked for {}",
            duration::format(have.ack_wait),
            duration::format(wanted.ack_wait)
        ));
    }
    if have.backoff != wanted.backoff {
        let show = |steps: &[Duration]| {
            if steps.is_empty() {
                "none".to_owned()
            } else {
                steps
                    .iter()
                    .map(|s| duration::format(*s))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        differences.push(format!(
            "its backoff is {}, you asked for {}",
            show(&have.backoff),
            show(&wanted.backoff)
        ));
    }
    if have.max_deliver != wanted.max_deliver {
        let show = |n: i64| {
            if n < 0 {
                "no limit".to_owned()
            } else {
                n.to_string()
            }
        };
        differences.push(format!(
            "its max deliver is {}, you asked for {}",
            show(have.max_deliver),
            show(wanted.max_deliver)
        ));
    }
    // Without --max-in-flight a listener takes the limit the group has.
    if wanted.max_ack_pending > 0 && have.max_ack_pending != wanted.max_ack_pending {
        differences.push(format!(
            "its max in flight is {}, you asked for {}",
            have.max_ack_pending, wanted.max_ack_pending
        ));
    }
    if have.filter_subject != wanted.filter_subject {
        differences.push(format!(
            "it listens on '{}', you asked for '{}'",
            have.filter_subject, wanted.filter_subject
        ));
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(options: &SubscriptionOptions) -> ConsumerConfig {
        options.consumer_config().into_consumer_config()
    }

    #[test]
    fn the_same_options_differ_in_nothing_and_a_start_flag_is_no_difference() {
        let channel = Channel::new("ticket:created").unwrap();
        let group = SubscriptionOptions {
            queue_group: Some("orders".into()),
            ..SubscriptionOptions::new(channel)
        };
        let replay = SubscriptionOptions {
            start: Some(StartPosition::All),
            ..group.clone()
        };
        assert!(differences(&config(&group), &config(&replay)).is_empty());
    }

    #[test]
    fn each_setting_that_differs_is_said_in_words() {
        let channel = Channel::new("ticket:created").unwrap();
        let have = SubscriptionOptions {
            queue_group: Some("orders".into()),
            // What the server reports for a consumer created without a limit.
            max_in_flight: Some(1000),
            ..SubscriptionOptions::new(channel.clone())
        };
        let wanted = SubscriptionOptions {
            queue_group: None,
            durable: Some("accounting".into()),
            ack_wait: Duration::from_secs(10),
            max_deliver: Some(3),
            max_in_flight: Some(1),
            channel: Channel::new("order:created").unwrap(),
            ..SubscriptionOptions::new(channel)
        };
        assert_eq!(
            differences(&config(&have), &config(&wanted)),
            [
                "it is not durable, you asked for durable",
                "it has queue group 'orders', you asked for no queue group",
                "its ack wait is 30s, you asked for 10s",
                "its max deliver is no limit, you asked for 3",
                "its max in flight is 1000, you asked for 1",
                "it listens on 'ticket:created', you asked for 'order:created'",
            ]
        );
    }
}
