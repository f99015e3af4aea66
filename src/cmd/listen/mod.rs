//! The `listen` command: the course's `listener.ts`.
//!
//! It subscribes (see [`nats_course_toolkit::subscription`] for how each option becomes a
//! JetStream setting), prints every event as
//! `Received event #<seq>, with data: <data>`, acks it (`msg.ack()`), or
//! with `--nak`/`--term` naks or terminates it, and on Ctrl-C, SIGTERM,
//! `--count` or `--until-caught-up` closes the connection cleanly, as the
//! course's `stan.on('close')` handler did.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::color::{self, ColorChoice};
use crate::pipe::{is_broken_pipe, stdout_closed};
use crate::progress::Progress;
use nats_course_toolkit::connection::ConnectConfig;
pub use nats_course_toolkit::receive::Settle;
use nats_course_toolkit::receive::{self, Handler, ReceiveOptions};
use nats_course_toolkit::subscription::{
    Delivery, GivenUp, Subscription, SubscriptionOptions, unconfirmed_acks_note,
};

mod args;
pub mod interactive;
mod print;
pub mod unsubscribe;

pub use args::ListenArgs;
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
    /// `--fail-on`: the events not acked, as a service that cannot handle them.
    pub fail_on: Vec<u64>,
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
    /// `--delete-durable NAME`: delete that subscription instead of listening.
    pub unsubscribe: Option<unsubscribe::Unsubscribe>,
    /// `--interactive`: each event waits for a key that settles it.
    pub interactive: bool,
}

/// The `listen` binary's command, once its flags are a config: [`run`]
/// on stdout and stderr, through the masking writers.
pub async fn start(config: ListenConfig, signal: crate::shutdown::Signal) -> anyhow::Result<()> {
    // For the `Error:` line too.
    color::choose(config.color);
    // Every line goes through the masking writers: no secret is printed.
    // Buffered: a replay prints thousands of lines, and the listener
    // writes them out whenever it waits, and before it acks them.
    let mut out = crate::mask::Masked::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut notes = crate::mask::Masked::line_buffered(std::io::stderr());
    if let Some(unsubscribe) = &config.unsubscribe {
        let channel = &config.subscription.channel;
        return unsubscribe::run(&config.connect, channel, unsubscribe, &mut out, &mut notes).await;
    }
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
        // The pid, for `kill -9 <pid>` in the crash lessons.
        &format!(
            "Listener connected to NATS as {} (pid {})",
            config.connect.client_id,
            std::process::id()
        ),
    );

    let connected = connected.and_then(|()| match config.delay {
        Some(delay) => writeln!(
            notes,
            "Working on each event for {} (--delay); meanwhile the server is told every {} that \
             it and the events waiting behind it are in progress (+WPI), so none goes to another \
             member while this listener lives",
            nats_course_toolkit::duration::format(delay),
            nats_course_toolkit::duration::format(receive::keep_alive_every(
                subscription.ack_wait()
            )),
        ),
        None => Ok(()),
    });
    let result = match connected {
        Ok(()) => receive(&mut subscription, &config, shutdown, out).await,
        // `listen | true`: closed all the same.
        Err(err) => Err(err.into()),
    };

    // Close cleanly: stop receiving, delete what only this listener used, and
    // drain so every ack reaches the server before the connection closes.
    let skipped = subscription.skipped_duplicates();
    let unconfirmed = subscription.close().await;
    nats_course_toolkit::connection::close(client).await;
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

/// Prints events until `shutdown` or the subscription's count, through
/// the receive loop ([`nats_course_toolkit::receive`]): an event is acked (or nak'd, or
/// terminated) only once its line has been written out. Lines are buffered
/// and written out whenever the loop is about to wait; with `--delay`, each
/// line is written out before its delay, and its event settled after it.
async fn receive(
    subscription: &mut Subscription,
    config: &ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    // Ctrl-C at an interactive prompt, where the terminal sends no SIGINT.
    let stop_key = std::sync::Arc::new(tokio::sync::Notify::new());
    // `listen | head -3`: the reader may go away while the listener waits.
    let stop = async {
        tokio::select! {
            () = shutdown => Ok(()),
            () = stop_key.notified() => Ok(()),
            () = stdout_closed() => {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
            }
        }
    };
    if config.interactive {
        // One event at a time, settled as soon as its key is pressed.
        let options = ReceiveOptions {
            settle_each: true,
            ..ReceiveOptions::default()
        };
        let ack_wait = subscription.ack_wait();
        let mut asking =
            interactive::Interactive::new(Printer::new(config), out, stop_key.clone(), ack_wait);
        return receive::receive(
            subscription,
            &mut asking,
            options,
            stop,
            &config.connect.notes,
        )
        .await;
    }
    // With stdout on the terminal, the event lines are the progress.
    let progress = match config.subscription.count {
        Some(count) => Progress::new(count, !std::io::stdout().is_terminal()),
        None => Progress::none(),
    };
    let mut printing = Printing {
        printer: Printer::new(config),
        out,
        progress: &progress,
        settle: config.settle,
        fail_on: &config.fail_on,
        delay: config.delay,
    };
    // A slow service (`--delay`) settles each event after its work, and
    // tells the server meanwhile that it is still at it.
    let options = ReceiveOptions {
        until_caught_up: config.until_caught_up,
        settle_each: config.delay.is_some(),
        keep_alive: config.delay.is_some(),
    };
    let result = receive::receive(
        subscription,
        &mut printing,
        options,
        stop,
        &config.connect.notes,
    )
    .await;
    progress.finish();
    result
}

/// `listen`'s handler: prints each event's line; writing out is flushing.
struct Printing<'a, W: Write> {
    printer: Printer,
    out: &'a mut W,
    progress: &'a Progress,
    settle: Settle,
    fail_on: &'a [u64],
    delay: Option<Duration>,
}

impl<W: Write> Handler for Printing<'_, W> {
    async fn handle(&mut self, event: &Delivery) -> anyhow::Result<Settle> {
        let failed = self.fail_on.contains(&event.sequence);
        self.printer.print(self.out, event, failed)?;
        self.progress.inc();
        // A slow service: its line is out, its settle comes after the delay.
        if let Some(delay) = self.delay {
            self.out.flush()?;
            tokio::time::sleep(delay).await;
        }
        // A poison event: its handler failed, so it is not acked.
        Ok(if failed { Settle::Later } else { self.settle })
    }

    fn write_out(&mut self) -> anyhow::Result<()> {
        Ok(self.out.flush()?)
    }

    fn given_up(&mut self, given_up: GivenUp) -> anyhow::Result<()> {
        self.printer.print_given_up(self.out, given_up)?;
        Ok(self.out.flush()?)
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
