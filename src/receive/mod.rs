//! Receiving: the one loop both listeners run, the `listen` command and the
//! course's [`Listener`](crate::typed::Listener) trait.
//!
//! A [`Subscription`] hands out events; this loop hands each to a
//! [`Handler`], and tells the server what the handler decided (its
//! [`Settle`]: ack, nak, term, or nothing yet). What it keeps true, for the
//! command and the library alike:
//!
//! - **Settled only once handled.** An event is acked (or nak'd, or
//!   terminated) only after its handler returned and
//!   [`Handler::write_out`] made the work last (for `listen`: its line is
//!   written out). A listener killed at any moment may have handled an event
//!   it had not acked yet (the server sends it again), never acked one it
//!   had not handled. Handled events wait in a short list and are settled
//!   together, right after one write-out, whenever the loop is about to wait.
//! - **One copy at a time.** A copy the server sent again after the ack
//!   wait, while the first one is still held here (not settled yet), is
//!   settled with it and not handed over twice.
//! - **Give-ups reported.** An event the server gave up after `max_deliver`
//!   deliveries reaches [`Handler::given_up`].
//! - **Nothing held back on stop.** When `stop` resolves, what was handled is
//!   written out and settled; an event whose handling was cut short is given
//!   back (nak'd) at once, as [`Subscription::close`] gives back the events
//!   still on their way.
//! - **Caught up** ([`ReceiveOptions::until_caught_up`], in `catch_up.rs`):
//!   it returns once the server's ack floor covers the events stored when it
//!   started, and fails when the floor stays put for the ack wait plus
//!   [`catch_up::GRACE`].

use std::future::Future;
use std::time::Duration;

use crate::notes::Notes;
use crate::subscription::{Delivery, GiveUpNotices, GivenUp, Subscription};

pub mod catch_up;

use catch_up::CatchUp;

/// What to tell the server about an event once it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Ack it (`msg.ack()`): handled, never sent again.
    Ack,
    /// Nothing: the server sends it again once the ack wait has passed (for
    /// an event that came too early, say).
    Later,
    /// Nak it: the server sends it again at once, or after the delay.
    Nak(Option<Duration>),
    /// Terminate it: the server never sends it again, to anyone.
    Term,
    /// Not decided yet: tell the server the event is still being worked on
    /// (`+WPI`: its ack wait starts over), and hand it to the handler again
    /// (`listen --interactive`'s `p`).
    Progress,
}

/// What the loop hands events to.
pub trait Handler {
    /// Handles one event and says how to settle it. An error ends the loop
    /// (the event is given back). May take its time: a stop meanwhile cuts
    /// it short at its next `.await`.
    fn handle(&mut self, event: &Delivery) -> impl Future<Output = anyhow::Result<Settle>>;

    /// Makes the work of the events handled so far last (writes their lines
    /// out); their settles are sent right after. Nothing by default.
    fn write_out(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    /// The server gave up an event after its deliveries (`max_deliver`).
    fn given_up(&mut self, given_up: GivenUp) -> anyhow::Result<()>;

    /// Whether to stop before the next event; checked before each.
    fn is_done(&self) -> bool {
        false
    }
}

/// How the loop runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// Return once the events stored at the start are acked (by this
    /// listener or another member of its queue group).
    pub until_caught_up: bool,
    /// Write out and settle each event as soon as it is handled, instead of
    /// together when the loop is about to wait: for a slow handler, whose
    /// held events would otherwise wait for each other.
    pub settle_each: bool,
    /// While a handler is at work on an event, tell the server every third
    /// of the ack wait that it and the events that arrived behind it are in
    /// progress ([`Subscription::keep_alive`]): a slow service that is
    /// alive keeps its events; only once it dies do they go to another
    /// member, one ack wait later.
    pub keep_alive: bool,
}

/// At most this many handled events wait to be written out and settled.
const SETTLE_AFTER: usize = 256;

/// The shortest time between two in-progress acks of one event.
const MIN_KEEP_ALIVE: Duration = Duration::from_millis(100);

/// How often a caught-up check asks for the ack floor while nothing is held.
const CAUGHT_UP_CHECK: Duration = Duration::from_millis(500);

/// Hands every event of `subscription` to `handler` until `stop` resolves
/// (with its result), the subscription's count is reached, the handler is
/// done, or (with `until_caught_up`) the backlog is acked. See the module
/// docs for what it keeps true. The caller closes the subscription after.
pub async fn receive(
    subscription: &mut Subscription,
    handler: &mut impl Handler,
    options: ReceiveOptions,
    stop: impl Future<Output = anyhow::Result<()>>,
    notes: &Notes,
) -> anyhow::Result<()> {
    let mut held = Vec::with_capacity(SETTLE_AFTER);
    let result = handle_events(subscription, handler, options, stop, notes, &mut held).await;
    // Whatever ended the loop, the events handled are written out and
    // settled, unless writing out failed.
    let settled = write_out_and_settle(subscription, handler, &mut held).await;
    // Left over: work that could not be written out (the reader has gone).
    for (event, _) in held.drain(..) {
        subscription.nak(&event, None).await.ok();
    }
    result.and(settled)
}

/// What one wait of the loop brought.
enum Woken {
    Stop(anyhow::Result<()>),
    GivenUp(anyhow::Result<GivenUp>),
    CheckFloor,
    Event(Option<Delivery>),
}

async fn handle_events(
    subscription: &mut Subscription,
    handler: &mut impl Handler,
    options: ReceiveOptions,
    stop: impl Future<Output = anyhow::Result<()>>,
    notes: &Notes,
    held: &mut Vec<(Delivery, Settle)>,
) -> anyhow::Result<()> {
    tokio::pin!(stop);
    let mut give_ups = subscription.take_give_ups();
    // The channel's last event at the start; done at once if there was
    // nothing to deliver.
    let mut catch_up = if options.until_caught_up {
        match subscription.backlog_end().await? {
            Some(end) => Some(CatchUp::new(end)),
            None => return Ok(()),
        }
    } else {
        None
    };
    // While nothing is held, the ack floor is asked now and then: a queue
    // group's other members may handle the last events, and a stopped
    // listener's may come back.
    let mut check_floor = tokio::time::interval(CAUGHT_UP_CHECK);
    check_floor.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !handler.is_done() {
        let woken = tokio::select! {
            biased;
            result = &mut stop => Woken::Stop(result),
            Some(given_up) = next_give_up(&mut give_ups) => Woken::GivenUp(given_up),
            _ = check_floor.tick(), if catch_up.is_some() && held.is_empty() => Woken::CheckFloor,
            event = subscription.next() => Woken::Event(event?),
        };
        let event = match woken {
            Woken::Stop(result) => return result,
            Woken::GivenUp(Ok(given_up)) => {
                handler.given_up(given_up)?;
                // Reported: its notice is not read again.
                if let Some(give_ups) = give_ups.as_mut() {
                    give_ups.done().await?;
                }
                continue;
            }
            Woken::GivenUp(Err(err)) => {
                // Its notice comes again; the events go on meanwhile.
                notes.say(format_args!("Note: {err:#}; trying again"));
                continue;
            }
            Woken::CheckFloor => {
                if let Some(catch_up) = catch_up.as_mut()
                    && catch_up.check(subscription, notes).await?
                {
                    return Ok(());
                }
                continue;
            }
            Woken::Event(None) => return Ok(()),
            Woken::Event(Some(event)) => event,
        };
        // The last event of the start: once it is settled, the ack floor
        // tells whether every event before it is too.
        let reached_end = catch_up
            .as_mut()
            .is_some_and(|catch_up| catch_up.handled(event.sequence));
        let copy_of = (event.delivered > 1)
            .then(|| held.iter().find(|(e, _)| e.sequence == event.sequence))
            .flatten()
            .map(|(_, settle)| *settle);
        if let Some(settle) = copy_of {
            // A copy the server sent again after the ack wait, while the
            // first one waits here (the listener was paused, say).
            subscription.skipped_copy();
            held.push((event, settle));
        } else {
            let handled = handle(subscription, handler, &event, options, &mut stop).await;
            match handled {
                Ok(settle) => held.push((event, settle?)),
                Err(result) => {
                    // Cut short: given back, for the next listener at once.
                    subscription.nak(&event, None).await?;
                    return result;
                }
            }
        }
        if reached_end
            || options.settle_each
            || held.len() >= SETTLE_AFTER
            || !subscription.event_waiting()
        {
            write_out_and_settle(subscription, handler, held).await?;
        }
        if reached_end
            && let Some(catch_up) = catch_up.as_mut()
            && catch_up.check(subscription, notes).await?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// How often [`ReceiveOptions::keep_alive`] speaks for the events held: a
/// third of the ack wait, so that a late word still comes in time.
pub fn keep_alive_every(ack_wait: Duration) -> Duration {
    (ack_wait / 3).max(MIN_KEEP_ALIVE)
}

/// Hands `event` to the handler: its settle, or the stop's result when the
/// stop came first. With `keep_alive`, the server is told meanwhile that
/// the event, and those behind it, are in progress.
async fn handle<H: Handler>(
    subscription: &mut Subscription,
    handler: &mut H,
    event: &Delivery,
    options: ReceiveOptions,
    stop: &mut std::pin::Pin<&mut impl Future<Output = anyhow::Result<()>>>,
) -> Result<anyhow::Result<Settle>, anyhow::Result<()>> {
    loop {
        match handle_once(subscription, handler, event, options, stop).await? {
            // In progress: the server is told, and the handler has it again.
            Ok(Settle::Progress) => {
                if let Err(err) = subscription.in_progress(event).await {
                    return Ok(Err(err));
                }
            }
            settle => return Ok(settle),
        }
    }
}

/// One turn of [`handle`]: the handler's settle, or the stop's result.
async fn handle_once<H: Handler>(
    subscription: &mut Subscription,
    handler: &mut H,
    event: &Delivery,
    options: ReceiveOptions,
    stop: &mut std::pin::Pin<&mut impl Future<Output = anyhow::Result<()>>>,
) -> Result<anyhow::Result<Settle>, anyhow::Result<()>> {
    let handling = handler.handle(event);
    tokio::pin!(handling);
    if !options.keep_alive {
        // The common case, on the per-event path: no timer to make.
        return tokio::select! {
            biased;
            result = stop.as_mut() => Err(result),
            settle = &mut handling => Ok(settle),
        };
    }
    let every = keep_alive_every(subscription.ack_wait());
    let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            result = stop.as_mut() => return Err(result),
            settle = &mut handling => return Ok(settle),
            _ = keep_alive.tick() => {
                if let Err(err) = subscription.keep_alive(Some(event)).await {
                    return Ok(Err(err));
                }
            }
        }
    }
}

/// Writes out the work of the events held, then settles them: the acks
/// together, in order.
async fn write_out_and_settle(
    subscription: &mut Subscription,
    handler: &mut impl Handler,
    held: &mut Vec<(Delivery, Settle)>,
) -> anyhow::Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    let all_acks = held.iter().all(|(_, settle)| *settle == Settle::Ack);
    if !all_acks && subscription.acks_in_order() {
        // An ack would cover the events left unacked before it.
        anyhow::bail!(
            "a subscription that acks in order settles every event with an ack, and the \
             handler asked for another settle"
        );
    }
    handler.write_out()?;
    if all_acks {
        return subscription
            .ack_all(held.drain(..).map(|(event, _)| event))
            .await;
    }
    for (event, settle) in held.drain(..) {
        match settle {
            Settle::Ack => subscription.ack(&event).await?,
            Settle::Later | Settle::Progress => {}
            Settle::Nak(delay) => subscription.nak(&event, delay).await?,
            Settle::Term => subscription.term(&event).await?,
        }
    }
    Ok(())
}

/// The next give-up notice, or never when there is no delivery limit.
async fn next_give_up(give_ups: &mut Option<GiveUpNotices>) -> Option<anyhow::Result<GivenUp>> {
    match give_ups {
        Some(give_ups) => give_ups.next().await,
        None => std::future::pending().await,
    }
}
