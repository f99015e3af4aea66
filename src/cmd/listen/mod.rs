//! The `listen` command: the course's `listener.ts`.
//!
//! It subscribes (see [`crate::subscription`] for how each option becomes a
//! JetStream setting), prints every event as
//! `Received event #<seq>, with data: <data>`, acks it (`msg.ack()`), or
//! with `--nak`/`--term` naks or terminates it, and on Ctrl-C, SIGTERM,
//! `--count` or `--until-caught-up` closes the connection cleanly, as the
//! course's `stan.on('close')` handler did.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::cmd::color::{self, ColorChoice};
use crate::cmd::pipe::{is_broken_pipe, stdout_closed};
use crate::cmd::progress::Progress;
use crate::connection::ConnectConfig;
use crate::subscription::{
    Delivery, GiveUpNotices, GivenUp, Subscription, SubscriptionOptions, unconfirmed_acks_note,
};

mod catch_up;
mod print;

use catch_up::CatchUp;
use print::Printer;

/// Everything `listen` needs, checked.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Server, client id, timeout.
    pub connect: ConnectConfig,
    /// Channel, queue group, start position, durable name, ack wait, count.
    pub subscription: SubscriptionOptions,
    /// What to tell the server about each event once its line is out.
    pub settle: Settle,
    /// Wait this long before acking each event (a slow service).
    pub delay: Option<Duration>,
    /// Print one JSON object per event.
    pub json: bool,
    /// Start each line with the event's publish time.
    pub timestamp: bool,
    /// Exit once the events stored at the start have been handled.
    pub until_caught_up: bool,
    /// When to colour the lines.
    pub color: ColorChoice,
}

/// What the listener tells the server about each event, once the event's
/// line is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Ack it (`msg.ack()`): handled, never sent again.
    Ack,
    /// Nothing (`--skip-ack`): the server sends it again after the ack wait.
    Skip,
    /// Nak it (`--nak [DELAY]`): the server sends it again at once or after DELAY.
    Nak(Option<Duration>),
    /// Terminate it (`--term`): the server never sends it again.
    Term,
}

/// The `listen` binary's command, once its flags are a config: [`run`]
/// on stdout and stderr, through the masking writers.
pub async fn start(
    config: ListenConfig,
    signal: crate::cmd::shutdown::Signal,
) -> anyhow::Result<()> {
    // For the `Error:` line too.
    color::choose(config.color);
    // Every line goes through the masking writers: no secret is printed.
    // Buffered: a replay prints thousands of lines, and the listener
    // writes them out whenever it waits, and before it acks them.
    let mut out = crate::mask::Masked::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut notes = crate::mask::Masked::line_buffered(std::io::stderr());
    run(config, signal, &mut out, &mut notes).await
}

/// Connects, subscribes, prints events until `shutdown` or `--count`, then
/// closes the connection cleanly.
pub async fn run(
    config: ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let client = config.connect.connect().await?;
    let mut subscription =
        Subscription::open(&client, &config.subscription, &config.connect.notes).await?;
    // The client id tells terminals apart: a listener of its own names its
    // subscription after it (see `make status`).
    let connected = status(
        &config,
        out,
        notes,
        &format!("Listener connected to NATS as {}", config.connect.client_id),
    );

    let result = match connected {
        Ok(()) => receive(&mut subscription, &config, shutdown, out, notes).await,
        // `listen | true`: closed all the same.
        Err(err) => Err(err.into()),
    };

    // Close cleanly: stop receiving, delete what only this listener used, and
    // drain so every ack reaches the server before the connection closes.
    let skipped = subscription.skipped_duplicates();
    let unconfirmed = subscription.close().await;
    crate::connection::close(client).await;
    // Whoever read the output has gone (`listen | head -3`): the acks sent
    // are confirmed, the lines not written out were not acked, and there is
    // nobody left to tell; `main` exits quietly (see `pipe`).
    if result.as_ref().is_err_and(is_broken_pipe) {
        return result;
    }
    if unconfirmed > 0 {
        writeln!(notes, "{}", unconfirmed_acks_note(unconfirmed))?;
    }
    status(&config, out, notes, "NATS connection closed!")?;
    if skipped.after_reconnect > 0 {
        writeln!(
            notes,
            "{} events came back after a server restart although they had been acked; \
             they were acked again and not shown twice",
            skipped.after_reconnect
        )?;
    }
    if skipped.after_ack_wait > 0 {
        writeln!(
            notes,
            "{} events came back (redelivered after the ack wait) although they had been acked \
             late; they were acked again and not shown twice",
            skipped.after_ack_wait
        )?;
    }
    result
}

/// How often `--until-caught-up` asks for the ack floor while it has
/// nothing to write out.
const CAUGHT_UP_CHECK: Duration = Duration::from_millis(500);

/// At most this many events are printed before their lines are written out
/// and acked.
const ACK_AFTER: usize = 256;

/// Prints and acks events until `shutdown` or the subscription's count.
///
/// An event is acked only once its line has been written out: a listener
/// killed at any moment may have printed an event it had not acked yet (the
/// server sends it again), never acked one it had not printed. Lines are
/// buffered, so the events printed since the last write wait in `printed`
/// and are acked together right after the write. Whatever the listener
/// holds and did not write out (or, with `--delay`, did not finish) when it
/// stops is nak'd, so the server sends it on at once.
async fn receive(
    subscription: &mut Subscription,
    config: &ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let mut printed = Vec::with_capacity(ACK_AFTER);
    let result = print_events(subscription, config, shutdown, out, notes, &mut printed).await;
    // Whatever ended the loop, the events already printed are written out
    // and acked, unless writing failed.
    let acked = write_out_and_ack(subscription, config, out, &mut printed).await;
    // Left over: lines that could not be written out (the reader has gone).
    for event in printed.drain(..) {
        subscription.nak(&event, None).await.ok();
    }
    result.and(acked)
}

async fn print_events(
    subscription: &mut Subscription,
    config: &ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
    notes: &mut impl Write,
    printed: &mut Vec<Delivery>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    // `listen | head -3`: the reader may go away while the listener waits.
    let stdout_closed = stdout_closed();
    tokio::pin!(stdout_closed);
    let printer = Printer::new(config);
    let mut give_ups = subscription.take_give_ups();
    // --until-caught-up: the channel's last event at the start; done at
    // once if there was nothing to deliver.
    let mut catch_up = if config.until_caught_up {
        match subscription.backlog_end().await? {
            Some(end) => Some(CatchUp::new(end)),
            None => return Ok(()),
        }
    } else {
        None
    };
    // While this listener has nothing to write out, it asks the ack floor
    // now and then: a queue group's other members may handle the last
    // events, and a stopped listener's may come back.
    let mut check_floor = tokio::time::interval(CAUGHT_UP_CHECK);
    check_floor.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // With stdout on the terminal, the event lines are the progress.
    let progress = match config.subscription.count {
        Some(count) => Progress::new(count, !std::io::stdout().is_terminal()),
        None => Progress::none(),
    };
    loop {
        let event = tokio::select! {
            biased;
            () = &mut shutdown => {
                progress.finish();
                return Ok(());
            }
            () = &mut stdout_closed => {
                progress.finish();
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
            }
            Some(given_up) = next_give_up(&mut give_ups) => {
                printer.print_given_up(out, given_up)?;
                out.flush()?;
                continue;
            }
            _ = check_floor.tick(), if catch_up.is_some() && printed.is_empty() => {
                if let Some(catch_up) = catch_up.as_mut()
                    && catch_up.check(subscription, notes).await?
                {
                    progress.finish();
                    return Ok(());
                }
                continue;
            }
            event = subscription.next() => event?,
        };
        let Some(event) = event else {
            progress.finish();
            return Ok(());
        };
        // A copy the server sent again after the ack wait, while the first
        // one waits to be acked here (the listener was paused, say): acked
        // with it, not shown twice.
        if event.delivered > 1 && printed.iter().any(|e| e.sequence == event.sequence) {
            subscription.skipped_copy();
        } else {
            printer.print(out, &event)?;
            progress.inc();
        }
        // The last event of the start: once its line is out and it is
        // acked, the ack floor tells whether every event before it is too.
        let reached_end = catch_up
            .as_mut()
            .is_some_and(|catch_up| catch_up.handled(event.sequence));
        printed.push(event);
        // A slow service: its line is out, its ack comes after the delay.
        // Stopped meanwhile, it gives back what it had not finished.
        if let Some(delay) = config.delay {
            out.flush()?;
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    for event in printed.drain(..) {
                        subscription.nak(&event, None).await?;
                    }
                    progress.finish();
                    return Ok(());
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
        // Events that already arrived are written in one go; the output
        // is written out whenever the listener is about to wait.
        if reached_end
            || config.delay.is_some()
            || printed.len() >= ACK_AFTER
            || !subscription.event_waiting()
        {
            write_out_and_ack(subscription, config, out, printed).await?;
        }
        if reached_end
            && let Some(catch_up) = catch_up.as_mut()
            && catch_up.check(subscription, notes).await?
        {
            progress.finish();
            return Ok(());
        }
    }
}

/// Writes out the buffered lines, then acks the events they show (or naks
/// or terminates them: also only once their lines are out).
async fn write_out_and_ack(
    subscription: &mut Subscription,
    config: &ListenConfig,
    out: &mut impl Write,
    printed: &mut Vec<Delivery>,
) -> anyhow::Result<()> {
    out.flush()?;
    match config.settle {
        Settle::Ack => subscription.ack_all(printed.drain(..)).await,
        Settle::Skip => {
            printed.clear();
            Ok(())
        }
        Settle::Nak(delay) => {
            for event in printed.drain(..) {
                subscription.nak(&event, delay).await?;
            }
            Ok(())
        }
        Settle::Term => {
            for event in printed.drain(..) {
                subscription.term(&event).await?;
            }
            Ok(())
        }
    }
}

/// The next give-up notice, or never when there is no delivery limit.
async fn next_give_up(give_ups: &mut Option<GiveUpNotices>) -> Option<GivenUp> {
    match give_ups {
        Some(give_ups) => give_ups.next().await,
        None => std::future::pending().await,
    }
}

/// Prints a status line: on stdout with the events, or on stderr with
/// `--json`, so that stdout stays one JSON object per line.
fn status(
    config: &ListenConfig,
    out: &mut impl Write,
    notes: &mut impl Write,
    line: &str,
) -> std::io::Result<()> {
    let to: &mut dyn Write = if config.json { notes } else { out };
    writeln!(to, "{line}")?;
    to.flush()
}
