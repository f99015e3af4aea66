//! The ack ledger: acks, naks and terms sent, plain while more events are
//! coming with a confirmation asked for now and then and on close, and the
//! record of what was acked lately, to recognise an event a crashed server
//! sends again. The transport (`mod.rs`, `delivery.rs`) moves events; this
//! file keeps the account of how each was settled.

use super::*;

use async_nats::jetstream::AckKind;

/// What a subscription sent back for its events, and what the server
/// confirmed of it.
pub(super) struct AckLedger {
    client: Client,
    /// Where the server confirms our acks: `<ack inbox>.<connects>`, the
    /// client's connect count when the confirmation was asked for, so
    /// that each answer names its connection.
    ack_inbox: String,
    ack_confirmations: Subscriber,
    /// The reply subject of confirmations asked on this connection, and
    /// the connect count it names.
    confirm_reply: (u64, Subject),
    /// How many acks were sent, and how many of them the server confirmed.
    acks_sent: u64,
    acks_confirmed: u64,
    /// For each confirmation asked for and not yet come, in order: how
    /// many acks had been sent when it was asked for (it covers them all),
    /// and on which connection (the connect count then).
    confirmations: VecDeque<(u64, u64)>,
    /// Acks sent without asking for a confirmation since the last one that
    /// asked, and the reply subject of the latest of them.
    plain_acks: u32,
    last_plain_ack: Option<Subject>,
    /// The events acked (or terminated) lately, to recognise one that comes back.
    pub(super) acked: RecentlyAcked,
    /// Events that came back although acked, and were not shown again.
    pub(super) skipped: Skipped,
}

impl AckLedger {
    /// A ledger with its own inbox for the server's confirmations.
    pub(super) async fn open(client: &Client) -> anyhow::Result<AckLedger> {
        let ack_inbox = client.new_inbox();
        let ack_confirmations = client
            .subscribe(format!("{ack_inbox}.*"))
            .await
            .context("could not subscribe to the listener's ack inbox")?;
        Ok(AckLedger {
            client: client.clone(),
            confirm_reply: (0, Subject::from(format!("{ack_inbox}.0"))),
            ack_inbox,
            ack_confirmations,
            acks_sent: 0,
            acks_confirmed: 0,
            confirmations: VecDeque::new(),
            plain_acks: 0,
            last_plain_ack: None,
            acked: RecentlyAcked::default(),
            skipped: Skipped::default(),
        })
    }

    /// Acks `event`; while more events are coming, without asking for a
    /// confirmation (at most [`CONFIRM_EVERY`] times in a row): it would
    /// only be one more message each way.
    pub(super) async fn send_ack(
        &mut self,
        event: &Delivery,
        more_coming: bool,
    ) -> anyhow::Result<()> {
        self.acked.insert(event.sequence);
        self.send_ack_covering(event, 1, more_coming).await
    }

    /// On a consumer that acks in order (`ack_policy: all`): acks a batch
    /// of events written out, in the order they arrived, with one ack, that
    /// of the highest sequence. It covers every event delivered before it:
    /// those of the batch, and those of earlier batches (written out
    /// before). A copy sent again is never the highest, as its first
    /// delivery came before the events behind it.
    pub(super) async fn send_acks_in_order(
        &mut self,
        events: impl IntoIterator<Item = Delivery>,
        more_coming: bool,
    ) -> anyhow::Result<()> {
        let mut highest: Option<Delivery> = None;
        let mut covers = 0;
        for event in events {
            self.acked.insert(event.sequence);
            covers += 1;
            if highest.as_ref().is_none_or(|h| event.sequence > h.sequence) {
                highest = Some(event);
            }
        }
        match highest {
            Some(event) => self.send_ack_covering(&event, covers, more_coming).await,
            None => Ok(()),
        }
    }

    /// Sends one `+ACK` that settles `covers` events (more than 1 on a
    /// consumer that acks in order), plain or asking for a confirmation.
    async fn send_ack_covering(
        &mut self,
        event: &Delivery,
        covers: u64,
        more_coming: bool,
    ) -> anyhow::Result<()> {
        if more_coming && self.plain_acks < CONFIRM_EVERY {
            self.client
                .publish(event.reply.clone(), Bytes::from_static(b"+ACK"))
                .await
                .context("could not send the ack")?;
            self.plain_acks += 1;
            self.acks_sent += covers;
            self.last_plain_ack = Some(event.reply.clone());
            return Ok(());
        }
        self.acks_sent += covers;
        self.send_confirmed_ack(event.reply.clone()).await?;
        // Confirmations are collected now and then, not per event, so
        // replay never stalls on them; close() collects the rest.
        self.collect_confirmations();
        if self.confirmations.len() as u64 >= MAX_UNCONFIRMED {
            self.confirm_acks().await;
        }
        Ok(())
    }

    /// Sends `+ACK` to `reply`, asking for a confirmation on the ack inbox,
    /// on the subject of this connection.
    pub(super) async fn send_confirmed_ack(&mut self, reply: Subject) -> anyhow::Result<()> {
        let connects = connection::connect_count(&self.client);
        if self.confirm_reply.0 != connects {
            let subject = Subject::from(format!("{}.{connects}", self.ack_inbox));
            self.confirm_reply = (connects, subject);
        }
        self.client
            .publish_with_reply(
                reply,
                self.confirm_reply.1.clone(),
                Bytes::from_static(b"+ACK"),
            )
            .await
            .context("could not send the ack")?;
        self.confirmations.push_back((self.acks_sent, connects));
        self.plain_acks = 0;
        self.last_plain_ack = None;
        Ok(())
    }

    /// Terminates an event (`+TERM`): the server will never deliver it again,
    /// as for an event no listener can handle.
    pub(super) async fn term(&mut self, event: &Delivery) -> anyhow::Result<()> {
        // Settled for good, as an acked one: never shown again.
        self.acked.insert(event.sequence);
        self.client
            .publish(event.reply.clone(), AckKind::Term.into())
            .await
            .context("could not terminate the event")
    }

    /// Negatively acknowledges an event (`-NAK`): the server delivers it
    /// again at once, or after `delay`, instead of waiting out the ack wait.
    /// Its delivery count goes up each time, so `max_deliver` ends the loop.
    pub(super) async fn nak(
        &mut self,
        event: &Delivery,
        delay: Option<Duration>,
    ) -> anyhow::Result<()> {
        self.client
            .publish(event.reply.clone(), AckKind::Nak(delay).into())
            .await
            .context("could not send the nak")
    }

    /// [`AckLedger::nak`], waiting until the server has applied it: a
    /// listener that asks for one event at a time then gets the nak'd one
    /// back before the next (the server applies acks apart from requests).
    pub(super) async fn nak_applied(
        &mut self,
        event: &Delivery,
        delay: Option<Duration>,
    ) -> anyhow::Result<()> {
        let nak = self
            .client
            .request(event.reply.clone(), AckKind::Nak(delay).into());
        match tokio::time::timeout(ACK_CONFIRM_TIMEOUT, nak).await {
            Ok(answer) => answer.map(drop).context("could not send the nak"),
            Err(_) => anyhow::bail!(
                "the server did not confirm the nak within {}",
                duration::format(ACK_CONFIRM_TIMEOUT)
            ),
        }
    }

    /// Counts the confirmations that have arrived, without waiting.
    pub(super) fn collect_confirmations(&mut self) {
        while !self.confirmations.is_empty() {
            match self.ack_confirmations.next().now_or_never() {
                Some(Some(answer)) => self.confirmed(&answer.subject),
                _ => return,
            }
        }
    }

    /// A confirmation came, on the subject of the connection it was asked
    /// on: it covers every ack sent before it was asked for.
    pub(super) fn confirmed(&mut self, subject: &str) {
        let Some(connects) = subject
            .rsplit('.')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return;
        };
        while let Some(&(covered, asked_on)) = self.confirmations.front() {
            if asked_on > connects {
                return;
            }
            self.confirmations.pop_front();
            // Asked on an older connection: its answer went with it.
            self.acks_confirmed = self.acks_confirmed.max(covered);
            if asked_on == connects {
                return;
            }
        }
    }

    /// Forgets the confirmations asked on a connection that has since
    /// dropped: their answers will never come. The acks they cover went
    /// out; if a restarted server lost them, their events come again and
    /// are recognised as acked ([`RecentlyAcked`]).
    fn forget_lost_confirmations(&mut self) {
        let connects = connection::connect_count(&self.client);
        while let Some(&(covered, asked_on)) = self.confirmations.front() {
            if asked_on == connects {
                return;
            }
            self.confirmations.pop_front();
            self.acks_confirmed = self.acks_confirmed.max(covered);
        }
    }

    /// Waits until the server has confirmed every ack sent so far, and
    /// returns how many acks it did not confirm. An ack whose confirmation
    /// does not come (the server is gone) may have been lost, and then the
    /// server delivers its event again: at least once. Confirmations asked
    /// on a connection that dropped are not waited for.
    pub(super) async fn confirm_acks(&mut self) -> u64 {
        // Acking the latest plain-acked event again, asking for a
        // confirmation, confirms it and every ack before it.
        if let Some(reply) = self.last_plain_ack.take()
            && self.send_confirmed_ack(reply).await.is_err()
        {
            return self.acks_sent - self.acks_confirmed;
        }
        let started = Instant::now();
        loop {
            self.forget_lost_confirmations();
            if self.confirmations.is_empty() {
                break;
            }
            match tokio::time::timeout(LOST_REQUEST_CHECK, self.ack_confirmations.next()).await {
                Ok(Some(answer)) => self.confirmed(&answer.subject),
                Ok(None) => break,
                Err(_) if started.elapsed() > ACK_CONFIRM_TIMEOUT => break,
                Err(_) => {}
            }
        }
        self.confirmations.clear();
        let unconfirmed = self.acks_sent - self.acks_confirmed;
        // Given up on: not waited for again.
        self.acks_confirmed = self.acks_sent;
        unconfirmed
    }
}

impl Subscription {
    /// Tells the server that `handling` (the event the caller is at work on)
    /// and every event that has arrived behind it are in progress (`+WPI`,
    /// JetStream's in-progress ack): the ack wait of each starts over, so
    /// the server hands none of them to another member while this listener
    /// lives. Once it dies they come back one ack wait after the last word.
    /// Returns how many events it spoke for.
    pub async fn keep_alive(&mut self, handling: Option<&Delivery>) -> anyhow::Result<usize> {
        // What has arrived is taken out of the inbox, so it can be named;
        // `next` hands it over in order, as it came.
        while let Some(message) = self.events.next().now_or_never().flatten() {
            self.arrived.push_back(message);
        }
        let waiting = self
            .arrived
            .iter()
            .filter(|message| matches!(message.status, None | Some(StatusCode::OK)))
            .filter_map(|message| message.reply.as_ref())
            .filter(|reply| reply.starts_with("$JS.ACK."));
        let mut replies: Vec<Subject> = handling
            .map(|event| event.reply.clone())
            .into_iter()
            .collect();
        replies.extend(waiting.cloned());
        for reply in &replies {
            self.client
                .publish(reply.clone(), AckKind::Progress.into())
                .await
                .context("could not tell the server an event is in progress")?;
        }
        Ok(replies.len())
    }

    /// Tells the server that `event` alone is still being worked on
    /// (`+WPI`): its ack wait starts over.
    pub async fn in_progress(&mut self, event: &Delivery) -> anyhow::Result<()> {
        self.client
            .publish(event.reply.clone(), AckKind::Progress.into())
            .await
            .context("could not tell the server the event is in progress")
    }

    /// How long the server waits for an ack before it sends an event again:
    /// with a backoff, its shortest step (what an in-progress ack must beat).
    pub fn ack_wait(&self) -> Duration {
        let config = &self.feed.info().config;
        config
            .backoff
            .iter()
            .copied()
            .fold(config.ack_wait, Duration::min)
    }

    /// Gives back every event this subscription was delivered and did not
    /// hand to its caller: those already taken from the inbox
    /// ([`Subscription::event_waiting`], [`Subscription::keep_alive`]), and
    /// those still on their way to it. Each is nak'd without delay,
    /// so the server sends it at once to another member of the queue group,
    /// or to the durable's next listener, instead of holding it for this
    /// closed listener until the ack wait runs out.
    ///
    /// The inbox is drained first: the server drops this listener's
    /// interest, so its pull requests take no more events (nor the nak'd
    /// ones back), and every event it sent before that still arrives and is
    /// given back. Bounded by [`GIVE_BACK_WAIT`].
    pub(super) async fn give_back(&mut self) -> u64 {
        // Without a connection nothing more arrives, and no nak would go out.
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return 0;
        }
        let mut given_back = 0;
        let mut waiting = std::mem::take(&mut self.arrived);
        if self.events.drain().await.is_err() {
            waiting.clear();
        }
        let deadline = tokio::time::Instant::now() + GIVE_BACK_WAIT;
        loop {
            let message = match waiting.pop_front() {
                Some(message) => message,
                None => match tokio::time::timeout_at(deadline, self.events.next()).await {
                    Ok(Some(message)) => message,
                    // Drained (the server's answer to the drain came), or
                    // the time is up.
                    Ok(None) | Err(_) => break,
                },
            };
            if !matches!(message.status, None | Some(StatusCode::OK)) {
                continue;
            }
            let Some(reply) = message.reply else { continue };
            let handled = AckSubject::parse(&reply)
                .is_none_or(|meta| self.acks.acked.contains(meta.sequence));
            if handled {
                continue;
            }
            if self
                .client
                .publish(reply, AckKind::Nak(None).into())
                .await
                .is_err()
            {
                break;
            }
            given_back += 1;
        }
        // Sent before the connection closes: a nak has no confirmation.
        self.client.flush().await.ok();
        given_back
    }
}
