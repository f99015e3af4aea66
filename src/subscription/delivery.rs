//! Delivery: asking the server for events (pipelined pull requests, asked
//! again when a reconnect lost them) and reading what arrives.

use super::*;

impl Subscription {
    /// Asks the server for up to [`PULL_BATCH`] more events.
    pub(super) async fn request_more(&mut self) -> anyhow::Result<()> {
        // Confirmations are collected now and then, not per batch, so
        // replay never stalls on them; close() collects the rest.
        self.collect_confirmations();
        if self.confirmations.len() as u64 >= MAX_UNCONFIRMED {
            self.confirm_acks().await;
        }
        // Ask for no more than we still want, so `--count N` leaves the
        // events after the Nth to the next listener instead of holding
        // them until their ack wait runs out.
        let batch = (self.remaining - self.outstanding).min(PULL_BATCH);
        let request = pull::BatchConfig {
            batch: batch as usize,
            expires: Some(PULL_EXPIRES),
            ..Default::default()
        };
        // Counted before it is sent, so a caller that stops waiting
        // half-way (a shutdown) never sends a second request.
        self.outstanding += batch;
        self.requested_at = Instant::now();
        self.connects_at_request = connection::connect_count(&self.client);
        self.consumer
            .request_batch(request, self.inbox.clone())
            .await
            .context("could not ask the server for events")
    }

    /// Whether an event has already arrived, so that [`Subscription::next`]
    /// will not wait. Cheap; the listener flushes its output when it is not.
    pub fn event_waiting(&mut self) -> bool {
        if self.ready.is_none() && self.outstanding > 0 {
            self.ready = self.events.next().now_or_never().flatten();
        }
        self.ready.is_some()
    }

    /// Turns one message from the inbox into an event, or `None` for a
    /// status message or an event this subscription already acked.
    pub(super) async fn handle(
        &mut self,
        message: async_nats::Message,
    ) -> anyhow::Result<Option<Delivery>> {
        match message.status {
            None | Some(StatusCode::OK) => {}
            Some(StatusCode::IDLE_HEARTBEAT) => return Ok(None),
            // 408: a request expired with nothing (more) to deliver; 409:
            // the server ended it (a leadership change, say). The events it
            // will no longer bring are asked for again, unless the consumer
            // itself is gone.
            Some(_) => {
                let description = message.description.as_deref().unwrap_or_default();
                if description.eq_ignore_ascii_case("consumer deleted") {
                    bail!(
                        "the server deleted this listener's subscription (someone ran listen --reset \
                         for its queue group or durable, or deleted its consumer); start the listener again"
                    );
                }
                let void = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get("Nats-Pending-Messages"))
                    .and_then(|pending| pending.as_str().parse().ok())
                    // Without the count, every request in flight is taken as void.
                    .unwrap_or(self.outstanding);
                self.outstanding = self.outstanding.saturating_sub(void);
                return Ok(None);
            }
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        let Some(reply) = message.reply else {
            return Ok(None);
        };
        let meta = AckSubject::parse(&reply)
            .with_context(|| format!("unexpected reply subject on an event: {reply}"))?;
        let event = Delivery {
            sequence: meta.sequence,
            delivered: meta.delivered,
            published: meta.published(),
            pending: meta.pending,
            data: message.payload,
            headers: message.headers.filter(|headers| !headers.is_empty()),
            reply,
        };
        if self.acked.contains(event.sequence) {
            // A server that crashed can forget acks it had confirmed and
            // deliver those events again. They were handled: ack them
            // again and move on, so nothing is handled twice.
            self.ack(&event).await?;
            if connection::connect_count(&self.client) == self.connects_at_open {
                self.skipped.after_ack_wait += 1;
            } else {
                self.skipped.after_reconnect += 1;
            }
            return Ok(None);
        }
        self.remaining -= 1;
        Ok(Some(event))
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
        let _consumer_sequence = number()?;
        let timestamp_ns = number()?;
        let pending = number()?;
        Some(AckSubject {
            sequence,
            delivered,
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
