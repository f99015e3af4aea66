//! Delivery: how events reach the listener, and reading what arrives.
//!
//! The server sends a subscription its events in one of two ways, chosen by
//! [`SubscriptionOptions::pushed`]:
//!
//! - **Push**, for a listener's own consumer (no queue group, no durable):
//!   the consumer has a deliver subject, the listener's inbox, and the server
//!   sends events there unasked, up to the ack window (`max_ack_pending`,
//!   1000 by default). Now and then it asks the listener to answer (flow
//!   control) and waits for the answer, so a listener that falls behind
//!   slows the server down. With nothing to deliver, it sends an idle
//!   heartbeat every [`IDLE_HEARTBEAT`]; silence for two of them makes the
//!   listener check that its consumer still exists. After a reconnect the
//!   client subscribes again and the server goes on, unless a restart made
//!   it lose or forget part of the consumer: then the listener makes it anew
//!   ([`Subscription::recover_after_reconnect`]).
//! - **Pull**, for a consumer that members share (a queue group, a durable):
//!   each member asks for [`PULL_BATCH`] events at a time, and for the next
//!   batch when half of one has arrived, so the server never waits. A member
//!   asks for no more than it still wants (`--count`), so it never holds
//!   events another member could handle. A request the server lost (a
//!   reconnect, or no answer past its expiry) is asked again.
//!
//! Why both: push costs the server less per event (about a tenth less CPU
//! in a replay, measured in docs/performance.md), and a listener's own
//! consumer is deleted when it closes, so events pushed past `--count` go
//! with it. In a queue group those events would be held by a member that
//! will not handle them until the ack wait ran out, and the server would
//! give each heartbeat to one member only; so a shared consumer is pulled.

use super::*;

/// How the server sends this subscription its events (see the module doc).
pub(super) enum Feed {
    /// A listener's own consumer pushes to the inbox.
    Push {
        consumer: Box<jetstream::consumer::Info>,
        /// The configuration it was created with, to create it again.
        config: Box<jetstream::consumer::Config>,
        /// When the last message (event, heartbeat or flow control) came.
        heard_at: Instant,
        /// How many times the client had connected when the consumer was
        /// last known to be where the listener is.
        connects: u64,
        /// The first and the highest sequence received.
        first: Option<u64>,
        highest: u64,
    },
    /// A shared consumer is asked for events.
    Pull {
        consumer: Box<PullConsumer>,
        /// Events the pull requests in flight may still bring.
        outstanding: u64,
        /// When the latest pull request was sent, and how many times the
        /// client had connected by then.
        requested_at: Instant,
        connects_at_request: u64,
    },
}

impl Feed {
    pub(super) fn pull(consumer: PullConsumer) -> Feed {
        Feed::Pull {
            consumer: Box::new(consumer),
            outstanding: 0,
            requested_at: Instant::now(),
            connects_at_request: 0,
        }
    }

    pub(super) fn push(
        consumer: jetstream::consumer::Info,
        config: jetstream::consumer::Config,
        connects: u64,
    ) -> Feed {
        Feed::Push {
            consumer: Box::new(consumer),
            config: Box::new(config),
            heard_at: Instant::now(),
            connects,
            first: None,
            highest: 0,
        }
    }

    /// The consumer as it was when it was created or joined.
    pub(super) fn info(&self) -> &jetstream::consumer::Info {
        match self {
            Feed::Push { consumer, .. } => consumer,
            Feed::Pull { consumer, .. } => consumer.cached_info(),
        }
    }

    /// Whether events may arrive without asking for more.
    fn expecting(&self) -> bool {
        match self {
            Feed::Push { .. } => true,
            Feed::Pull { outstanding, .. } => *outstanding > 0,
        }
    }
}

/// What the server says when the consumer of a running subscription is
/// deleted, and what to do about it.
fn consumer_deleted() -> anyhow::Error {
    Said::text("the server deleted this listener's subscription (someone ")
        .mention(
            Mention::StartedOver,
            "started its queue group or durable over",
        )
        .and(
            ", or deleted its consumer, or the server restarted and lost it); start the \
             listener again",
        )
        .into()
}

impl Subscription {
    /// On a pull subscription, asks for up to [`PULL_BATCH`] more events
    /// when half of the last request has arrived (pipelined), and no more
    /// than `--count` still wants.
    pub(super) async fn ask_for_more(&mut self) -> anyhow::Result<()> {
        let Feed::Pull {
            consumer,
            outstanding,
            requested_at,
            connects_at_request,
        } = &mut self.feed
        else {
            return Ok(());
        };
        if *outstanding > self.pull_batch / 2 || self.remaining <= *outstanding {
            return Ok(());
        }
        // Ask for no more than we still want, so `--count N` leaves the
        // events after the Nth to the next listener instead of holding
        // them until their ack wait runs out.
        let batch = (self.remaining - *outstanding).min(self.pull_batch);
        let request = pull::BatchConfig {
            batch: batch as usize,
            expires: Some(PULL_EXPIRES),
            ..Default::default()
        };
        // Counted before it is sent, so a caller that stops waiting
        // half-way (a shutdown) never sends a second request.
        *outstanding += batch;
        *requested_at = Instant::now();
        *connects_at_request = connection::connect_count(&self.client);
        consumer
            .request_batch(request, self.inbox.clone())
            .await
            .context("could not ask the server for events")
    }

    /// Nothing arrived for [`LOST_REQUEST_CHECK`]. A pull subscription asks
    /// again if its request was lost: after a reconnect (the server
    /// restarted, or we came back through another node), or when it went
    /// unanswered past its expiry. A push subscription that has not heard
    /// from the server for two heartbeats checks that its consumer exists.
    pub(super) async fn quiet(&mut self) -> anyhow::Result<()> {
        match &mut self.feed {
            Feed::Pull {
                outstanding,
                requested_at,
                connects_at_request,
                ..
            } => {
                if connection::connect_count(&self.client) != *connects_at_request
                    || requested_at.elapsed() > PULL_EXPIRES + PULL_GRACE
                {
                    *outstanding = 0;
                }
            }
            Feed::Push {
                consumer, heard_at, ..
            } => {
                if heard_at.elapsed() > 2 * IDLE_HEARTBEAT {
                    // Asked again two heartbeats later, whatever the answer:
                    // a reconnect may be under way.
                    *heard_at = Instant::now();
                    match self.stream.consumer_info(&consumer.name).await {
                        Err(err) if err.kind() == ConsumerInfoErrorKind::NotFound => {
                            return Err(consumer_deleted());
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// After a reconnect, a push subscription checks where its consumer is.
    /// A server restarted after a crash may have lost the consumer, or may
    /// have gone back to an older record of it: it would then send again
    /// what the listener has handled, and, with as many events recorded as
    /// delivered and unacked as the ack window holds, send nothing until
    /// their ack wait ran out. Either way the listener makes its consumer
    /// anew, from the first event it has not acked, on a new inbox (so that
    /// nothing the old one still sends is shown). Nothing is lost: every
    /// later event comes from the new consumer, and one it had acked is
    /// recognised and not shown again.
    pub(super) async fn recover_after_reconnect(&mut self) -> anyhow::Result<()> {
        let Feed::Push {
            consumer,
            config,
            connects,
            first,
            highest,
            ..
        } = &mut self.feed
        else {
            return Ok(());
        };
        let now = connection::connect_count(&self.client);
        if now == *connects {
            return Ok(());
        }
        let exists = match self.stream.consumer_info(&consumer.name).await {
            Ok(info) if info.delivered.stream_sequence >= *highest => {
                *connects = now;
                return Ok(());
            }
            Ok(_) => true,
            Err(err) if err.kind() == ConsumerInfoErrorKind::NotFound => false,
            // Not ready yet (a restarting server): asked again at the next wait.
            Err(_) => return Ok(()),
        };
        let resume = match *first {
            Some(first) => self.acks.acked.first_missing_from(first),
            // Nothing received yet: a consumer still there goes on as it is;
            // a lost one is made anew where it started (the server records
            // the sequence before its first event as delivered).
            None if exists => {
                *connects = now;
                return Ok(());
            }
            None => consumer.delivered.stream_sequence + 1,
        };
        let inbox = Subject::from(self.client.new_inbox());
        let Ok(mut events) = self.client.subscribe(inbox.clone()).await else {
            return Ok(());
        };
        let config = jetstream::consumer::Config {
            deliver_subject: Some(inbox.to_string()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: resume,
            },
            ..(**config).clone()
        };
        // A server still starting may refuse: asked again at the next wait
        // (and a consumer that stays gone ends the listener, see `quiet`).
        let created = if exists && self.stream.delete_consumer(&consumer.name).await.is_err() {
            None
        } else {
            self.stream.create_consumer_strict(config).await.ok()
        };
        let Some(created) = created else {
            events.unsubscribe().await.ok();
            return Ok(());
        };
        **consumer = created.cached_info().clone();
        *connects = now;
        let mut old = std::mem::replace(&mut self.events, events);
        old.unsubscribe().await.ok();
        self.inbox = inbox;
        self.arrived.clear();
        Ok(())
    }

    /// Whether an event has already arrived, so that [`Subscription::next`]
    /// will not wait. Cheap; the listener flushes its output when it is not.
    pub fn event_waiting(&mut self) -> bool {
        if self.arrived.is_empty()
            && self.feed.expecting()
            && let Some(message) = self.events.next().now_or_never().flatten()
        {
            self.arrived.push_back(message);
        }
        !self.arrived.is_empty()
    }

    /// Turns one message from the inbox into an event, or `None` for a
    /// status message or an event this subscription already acked.
    pub(super) async fn handle(
        &mut self,
        message: async_nats::Message,
    ) -> anyhow::Result<Option<Delivery>> {
        match &mut self.feed {
            Feed::Push { heard_at, .. } => *heard_at = Instant::now(),
            Feed::Pull { outstanding, .. } => {
                if matches!(message.status, None | Some(StatusCode::OK)) {
                    *outstanding = outstanding.saturating_sub(1);
                }
            }
        }
        match message.status {
            None | Some(StatusCode::OK) => {}
            // A push consumer's idle heartbeat, or its flow control: the
            // server waits for an answer on the reply subject (or, when it
            // stalled waiting for one, on the subject a heartbeat names).
            Some(StatusCode::IDLE_HEARTBEAT) => {
                let stalled = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get("Nats-Consumer-Stalled"))
                    .map(|subject| Subject::from(subject.as_str()));
                if let Some(answer_to) = message.reply.or(stalled) {
                    self.client
                        .publish(answer_to, Bytes::new())
                        .await
                        .context("could not answer the server's flow control")?;
                }
                return Ok(None);
            }
            // 408: a request expired with nothing (more) to deliver; 409:
            // the server ended it (a leadership change, say). The events it
            // will no longer bring are asked for again, unless the consumer
            // itself is gone.
            Some(_) => {
                let description = message.description.as_deref().unwrap_or_default();
                if description.eq_ignore_ascii_case("consumer deleted") {
                    return Err(consumer_deleted());
                }
                if let Feed::Pull { outstanding, .. } = &mut self.feed {
                    let void = message
                        .headers
                        .as_ref()
                        .and_then(|headers| headers.get("Nats-Pending-Messages"))
                        .and_then(|pending| pending.as_str().parse().ok())
                        // Without the count, every request in flight is taken as void.
                        .unwrap_or(*outstanding);
                    *outstanding = outstanding.saturating_sub(void);
                }
                return Ok(None);
            }
        }
        let Some(reply) = message.reply else {
            return Ok(None);
        };
        let meta = AckSubject::parse(&reply)
            .with_context(|| format!("unexpected reply subject on an event: {reply}"))?;
        if let Feed::Push { first, highest, .. } = &mut self.feed {
            first.get_or_insert(meta.sequence);
            *highest = (*highest).max(meta.sequence);
        }
        self.notice_rewind(meta.consumer_sequence);
        let event = Delivery {
            sequence: meta.sequence,
            delivered: meta.delivered,
            published: meta.published(),
            pending: meta.pending,
            data: message.payload,
            headers: message.headers.filter(|headers| !headers.is_empty()),
            reply,
        };
        if self.acks.acked.contains(event.sequence) {
            // A server that crashed can forget acks it had confirmed and
            // deliver those events again. They were handled: ack them
            // again and move on, so nothing is handled twice.
            self.ack(&event).await?;
            if connection::connect_count(&self.client) == self.connects_at_open {
                self.acks.skipped.after_ack_wait += 1;
            } else {
                self.acks.skipped.after_reconnect += 1;
            }
            return Ok(None);
        }
        self.remaining -= 1;
        Ok(Some(event))
    }
}

impl Subscription {
    /// Forgets what it acked when the consumer was rewound (a reset starts
    /// its delivery numbers over at 1, without a reconnect): the events
    /// sent again are meant to be handled again, not taken for copies a
    /// crashed server resent (see `RecentlyAcked`). Numbers that only go
    /// back (a cluster's new consumer leader that had not heard of the
    /// last deliveries) are no rewind: what it resends was acked.
    fn notice_rewind(&mut self, consumer_sequence: u64) {
        let connects = connection::connect_count(&self.client);
        let (last_connects, last) = self.last_delivery;
        if connects == last_connects && consumer_sequence == 1 && last > 1 {
            self.acks.acked = RecentlyAcked::default();
        }
        self.last_delivery = (connects, consumer_sequence);
    }
}

/// What a JetStream event's reply subject tells: its sequence in the channel
/// (`msg.getSequence()`), how many times it has been delivered, when it was
/// stored (`msg.getTimestamp()`) and how many events wait behind it.
///
/// The subject is `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or the longer form with a domain and an account hash after `$JS.ACK.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSubject {
    /// The event's sequence in the channel, from 1.
    pub sequence: u64,
    /// 1 for the first delivery, 2 for the first redelivery, and so on.
    pub delivered: u64,
    /// The delivery's number in the consumer (each delivery, first or
    /// again, gets the next one; a rewind starts them over at 1).
    pub consumer_sequence: u64,
    /// When the server stored the event, in nanoseconds since 1970.
    pub timestamp_ns: u64,
    /// How many events of the consumer were not delivered yet when this one was sent.
    pub pending: u64,
}

impl AckSubject {
    /// Reads the sequence, delivery count, time and pending count out of a
    /// `$JS.ACK.` subject.
    pub fn parse(reply: &str) -> Option<AckSubject> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        // Counted, then walked again: no allocation on the per-event path.
        let delivered_at = match rest.split('.').count() {
            7 => 2,
            n if n >= 9 => 4,
            _ => return None,
        };
        let mut tokens = rest.split('.').skip(delivered_at);
        let mut number = || tokens.next()?.parse::<u64>().ok();
        let delivered = number()?;
        let sequence = number()?;
        let consumer_sequence = number()?;
        let timestamp_ns = number()?;
        let pending = number()?;
        Some(AckSubject {
            sequence,
            delivered,
            consumer_sequence,
            timestamp_ns,
            pending,
        })
    }

    /// When the server stored the event.
    pub fn published(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.timestamp_ns))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sequence_and_delivery_from_both_ack_subject_forms() {
        let v1 = "$JS.ACK.TICKET_CREATED.orders.2.17.5.1700000000000000000.0";
        assert_eq!(
            AckSubject::parse(v1),
            Some(AckSubject {
                sequence: 17,
                delivered: 2,
                consumer_sequence: 5,
                timestamp_ns: 1_700_000_000_000_000_000,
                pending: 0,
            })
        );
        let v2 = "$JS.ACK.hub.ACCHASH.TICKET_CREATED.orders.1.42.9.1700000000000000000.3.token";
        assert_eq!(
            AckSubject::parse(v2),
            Some(AckSubject {
                sequence: 42,
                delivered: 1,
                consumer_sequence: 9,
                timestamp_ns: 1_700_000_000_000_000_000,
                pending: 3,
            })
        );
        assert_eq!(AckSubject::parse("_INBOX.x"), None);
        assert_eq!(
            AckSubject::parse(v1).unwrap().published(),
            time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
        );
    }
}
