//! Sending a batch: events pipelined in the [`Window`], each ack matched to
//! its event by the index its reply subject ends in, and everything not
//! confirmed sent again, with the same `Nats-Msg-Id`, after a lost ack.

use std::future::Future;
use std::time::Instant;

use anyhow::{Context as _, bail};
use async_nats::client::PublishErrorKind;
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::{Client, StatusCode, Subject};
use futures_util::StreamExt;
use serde::Deserialize;

use super::*;

/// The stream's answer to one publish. Only what is read is parsed, and
/// nothing is copied: acks arrive once per event.
#[derive(Debug, Deserialize)]
struct Ack<'a> {
    /// For a duplicate (`"duplicate":true`), the sequence of the copy
    /// stored earlier: either way, the event is stored once.
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    duplicate: bool,
    #[serde(borrow, default)]
    error: Option<AckError<'a>>,
}

#[derive(Debug, Deserialize)]
struct AckError<'a> {
    #[serde(borrow, default)]
    description: &'a str,
}

/// The clock of one publish: when an event was last confirmed, when events
/// were last sent again, and what the client's connect count was then.
struct Timing {
    last_progress: Instant,
    last_resend: Instant,
    connects_seen: u64,
    said_not_ready: bool,
}

impl Timing {
    /// When publishing gives up if no event is confirmed before.
    fn give_up_at(&self) -> Instant {
        self.last_progress + GIVE_UP_AFTER
    }
}

/// One publish of a batch under way: the connection, the window and the
/// clock.
struct Run<'a> {
    batch: &'a Batch,
    client: &'a Client,
    notes: &'a Notes,
    subject: Subject,
    inbox: String,
    window: Window,
    timing: Timing,
    /// Whether this run already made the channel's missing stream.
    stream_made: bool,
}

impl Run<'_> {
    /// Sends event `i`, failing as [`Batch::gave_up`] when the client
    /// cannot take it before the deadline (while the connection is down,
    /// the client buffers only so much).
    async fn send(&self, i: u64) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::from_std(self.timing.give_up_at());
        let send = self.batch.send(self.client, &self.subject, &self.inbox, i);
        match tokio::time::timeout_at(deadline, send).await {
            Ok(sent) => sent,
            Err(_) => Err(self.batch.gave_up(&self.window)),
        }
    }

    /// Takes one message of the ack inbox: an event stored (reported in
    /// order through `on_stored`), a refusal, or no stream to answer.
    async fn on_ack<E>(
        &mut self,
        message: async_nats::Message,
        on_stored: &mut impl FnMut(Stored) -> Result<(), E>,
    ) -> anyhow::Result<()>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let Some(i) = index_of(&message.subject) else {
            return Ok(());
        };
        if !self.window.holds(i) {
            return Ok(()); // a late ack of an event already stored
        }
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            // No stream captures the channel: make it once, and send the
            // event again. (While a server starts, the stream may just not
            // be loaded yet: it is sent again when acks stop coming.)
            if !self.stream_made {
                prepare(
                    self.client,
                    &self.batch.channel,
                    self.batch.replicas,
                    self.notes,
                )
                .await?;
                self.stream_made = true;
                self.send(i).await?;
            }
            return Ok(());
        }
        let ack: Ack = serde_json::from_slice(&message.payload)
            .with_context(|| format!("unreadable ack from the server: {:?}", message.payload))?;
        if let Some(error) = ack.error {
            // A copy sent again while the first is still being stored (a
            // cluster without a majority): not an answer yet, the first
            // copy's is still to come.
            if error.description.contains("in process") {
                return Ok(());
            }
            return Err(Refused(format!(
                "the server refused event {} of {} on {}: {}; {}",
                i + 1,
                self.batch.count,
                self.batch.channel,
                error.description,
                self.window.published().describe()
            ))
            .into());
        }
        let stored = Stored {
            sequence: ack.seq,
            duplicate: ack.duplicate,
        };
        self.window.record_ack(i, stored);
        // Report in order, and slide the window past what is stored.
        while let Some(stored) = self.window.pop_stored() {
            on_stored(stored)?;
            self.timing.last_progress = Instant::now();
        }
        Ok(())
    }
}

impl Batch {
    /// Publishes the batch, pipelined, and waits until every event is
    /// stored; `on_stored` hears each event's sequence, in order. Publishing
    /// the same batch again (after an error) stores only what is missing.
    ///
    /// Every wait ends: without any event confirmed for [`GIVE_UP_AFTER`]
    /// (the server is gone and does not come back) it fails, saying how
    /// many are stored. When `stop` resolves (Ctrl-C), nothing more is sent,
    /// the events in flight get up to [`STOP_WAIT`] to be confirmed, and it
    /// fails saying how many are stored. A stream that is missing (no stream
    /// captures the channel yet) is created on the way.
    pub async fn publish<E>(
        &self,
        client: &Client,
        notes: &Notes,
        stop: impl Future<Output = ()>,
        mut on_stored: impl FnMut(u64) -> Result<(), E>,
    ) -> anyhow::Result<Published>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.publish_each(client, notes, stop, |stored| on_stored(stored.sequence))
            .await
    }

    /// [`publish`](Batch::publish), telling `on_stored` for each event, in
    /// order, whether the stream had it already ([`Stored::duplicate`]).
    pub async fn publish_each<E>(
        &self,
        client: &Client,
        notes: &Notes,
        stop: impl Future<Output = ()>,
        mut on_stored: impl FnMut(Stored) -> Result<(), E>,
    ) -> anyhow::Result<Published>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        tokio::pin!(stop);
        // Every ack of this batch arrives on `{inbox}.{index}`.
        let inbox = client.new_inbox();
        let mut acks = client
            .subscribe(format!("{inbox}.*"))
            .await
            .context("could not subscribe to the publish acks")?;
        let mut run = Run {
            batch: self,
            client,
            notes,
            subject: Subject::from(self.channel.as_str()),
            inbox,
            window: Window::new(),
            timing: Timing {
                last_progress: Instant::now(),
                last_resend: Instant::now(),
                connects_seen: connect_count(client),
                said_not_ready: false,
            },
            stream_made: false,
        };
        // Set when `stop` resolved: the end of the wait for events in flight.
        let mut stop_by: Option<Instant> = None;
        while run.window.base() < self.count {
            if let Some(stop_by) = stop_by
                && (run.window.in_flight() == 0 || Instant::now() >= stop_by)
            {
                return Err(self.interrupted(&run.window));
            }
            // Fill the window. While the client cannot take an event (the
            // connection is down, its buffer full), acks are read meanwhile.
            while stop_by.is_none()
                && run.window.sent() < self.count
                && run.window.in_flight() < WINDOW
            {
                let i = run.window.sent();
                tokio::select! {
                    biased;
                    () = &mut stop => stop_by = Some(Instant::now() + STOP_WAIT),
                    sent = run.send(i) => {
                        sent?;
                        run.window.push();
                    }
                    Some(message) = acks.next() => run.on_ack(message, &mut on_stored).await?,
                }
            }
            let received = tokio::select! {
                biased;
                () = &mut stop, if stop_by.is_none() => {
                    stop_by = Some(Instant::now() + STOP_WAIT);
                    continue;
                }
                received = tokio::time::timeout(RECONNECT_CHECK, acks.next()) => received,
            };
            match received {
                Ok(Some(message)) => run.on_ack(message, &mut on_stored).await?,
                Ok(None) => bail!(
                    "the connection to NATS was closed; {}",
                    run.window.published().describe()
                ),
                Err(_) => {
                    let reconnected = run.timing.connects_seen != connect_count(client);
                    let quiet = run
                        .timing
                        .last_progress
                        .elapsed()
                        .min(run.timing.last_resend.elapsed());
                    if !reconnected && quiet < ACK_TIMEOUT {
                        continue;
                    }
                    if Instant::now() >= run.timing.give_up_at() {
                        return Err(self.gave_up(&run.window));
                    }
                    if stop_by.is_some() {
                        continue; // stopping: nothing is sent again
                    }
                    if !reconnected && !run.timing.said_not_ready {
                        notes.say(format_args!(
                            "JetStream is not ready yet (no event confirmed for {}s: a cluster that \
                             lost the majority of its nodes, or a server that is starting); \
                             trying again for up to {}s...",
                            ACK_TIMEOUT.as_secs(),
                            GIVE_UP_AFTER.as_secs()
                        ));
                        run.timing.said_not_ready = true;
                    }
                    // Acks stopped coming: send again whatever is not stored.
                    run.timing.connects_seen = connect_count(client);
                    for i in run.window.to_resend() {
                        tokio::select! {
                            biased;
                            () = &mut stop => {
                                stop_by = Some(Instant::now() + STOP_WAIT);
                                break;
                            }
                            sent = run.send(i) => sent?,
                        }
                    }
                    run.timing.last_resend = Instant::now();
                }
            }
        }
        acks.unsubscribe().await.ok();
        Ok(run.window.published())
    }

    /// The error when no event was confirmed for [`GIVE_UP_AFTER`]: a
    /// [`GaveUp`]. The events in flight were handed to the connection, and
    /// a server that comes back may still read and store them: they are
    /// counted as such.
    fn gave_up(&self, window: &Window) -> anyhow::Error {
        let mut line = format!(
            "the server did not confirm event {} of {} on {} within {}s; {}",
            window.base() + 1,
            self.count,
            self.channel,
            GIVE_UP_AFTER.as_secs(),
            window.published().describe()
        );
        if window.in_flight() > 0 {
            line.push_str(&format!(
                "; {} more were sent but not confirmed, and may be stored",
                window.in_flight()
            ));
        }
        line.push_str(". Check the connection to NATS and publish again");
        anyhow::Error::new(GaveUp(line))
    }

    /// The error after a stop (Ctrl-C) once the events in flight are
    /// confirmed, or [`STOP_WAIT`] is over.
    fn interrupted(&self, window: &Window) -> anyhow::Error {
        let mut line = format!(
            "interrupted before all {} events were stored on {}; {}",
            self.count,
            self.channel,
            window.published().describe()
        );
        if window.in_flight() > 0 {
            line.push_str(&format!(
                "; {} more were sent but not confirmed within {}s, and may be stored",
                window.in_flight(),
                STOP_WAIT.as_secs()
            ));
        }
        anyhow::anyhow!(line)
    }

    /// Sends event `i`, asking for its ack on `{inbox}.{i}`.
    async fn send(
        &self,
        client: &Client,
        subject: &Subject,
        inbox: &str,
        i: u64,
    ) -> anyhow::Result<()> {
        let mut headers = if self.headers.is_empty() {
            HeaderMap::new()
        } else {
            self.headers.clone()
        };
        headers.insert(NATS_MESSAGE_ID, format!("{}-{i}", self.id_prefix));
        // Bytes and Subject are reference counted: every event shares them.
        client
            .publish_with_reply_and_headers(
                subject.clone(),
                format!("{inbox}.{i}"),
                headers,
                self.payload(i),
            )
            .await
            .map_err(|err| {
                if err.kind() == PublishErrorKind::MaxPayloadExceeded {
                    // Too large with its headers: sent again, it still is.
                    Refused(format!("could not send the event: {err}")).into()
                } else {
                    anyhow::Error::new(err).context("could not send the event")
                }
            })
    }
}

/// The index at the end of an ack's subject, `{inbox}.{index}`.
fn index_of(subject: &str) -> Option<u64> {
    subject.rsplit('.').next()?.parse().ok()
}
