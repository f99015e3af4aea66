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
use crate::notes::{write_escaped, write_rfc3339};
use crate::subscription::{
    Delivery, GiveUpNotices, GivenUp, Subscription, SubscriptionOptions, unconfirmed_acks_note,
};

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

/// The `listen` binary: flags, then [`run`].
pub fn main() -> std::process::ExitCode {
    super::main(
        crate::cmd::cli::ListenArgs::into_config,
        |config: ListenConfig, signal| async move {
            // For the `Error:` line too.
            color::choose(config.color);
            // Every line goes through the masking writers: no secret is printed.
            // Buffered: a replay prints thousands of lines, and the listener
            // writes them out whenever it waits, and before it acks them.
            let mut out = crate::mask::Masked::with_capacity(64 * 1024, std::io::stdout().lock());
            let mut notes = crate::mask::Masked::line_buffered(std::io::stderr());
            run(config, signal, &mut out, &mut notes).await
        },
    )
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
        Ok(()) => receive(&mut subscription, &config, shutdown, out).await,
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
/// and are acked together right after the write.
async fn receive(
    subscription: &mut Subscription,
    config: &ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut printed = Vec::with_capacity(ACK_AFTER);
    let result = print_events(subscription, config, shutdown, out, &mut printed).await;
    // Whatever ended the loop, the events already printed are written out
    // and acked, unless writing failed.
    let acked = write_out_and_ack(subscription, config, out, &mut printed).await;
    result.and(acked)
}

async fn print_events(
    subscription: &mut Subscription,
    config: &ListenConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
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
    let backlog_end = if config.until_caught_up {
        match subscription.backlog_end().await? {
            Some(end) => Some(end),
            None => return Ok(()),
        }
    } else {
        None
    };
    let mut caught_up = false;
    // A queue group's other members may handle the last events: while this
    // one has nothing to write out, it asks the group's ack floor now and then.
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
            _ = check_floor.tick(), if backlog_end.is_some() && printed.is_empty() => {
                let floor = subscription.ack_floor().await?;
                if backlog_end.is_some_and(|end| floor >= end) {
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
        // acked, the listener has caught up (when a queue group's other
        // member gets it, the ack floor tells, above).
        caught_up |= backlog_end.is_some_and(|end| event.sequence >= end);
        printed.push(event);
        // A slow service: its line is out, its ack comes after the delay.
        // Stopped meanwhile, it does not ack what it had not finished.
        if let Some(delay) = config.delay {
            out.flush()?;
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    printed.clear();
                    progress.finish();
                    return Ok(());
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
        // Events that already arrived are written in one go; the output
        // is written out whenever the listener is about to wait.
        if caught_up
            || config.delay.is_some()
            || printed.len() >= ACK_AFTER
            || !subscription.event_waiting()
        {
            write_out_and_ack(subscription, config, out, printed).await?;
        }
        if caught_up {
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

/// Prints events in the course's words, or as JSON lines with `--json`.
struct Printer {
    json: bool,
    channel_json: String,
    timestamp: bool,
    /// Colour the lines (never with `--json`).
    color: bool,
    settle: Settle,
}

impl Printer {
    fn new(config: &ListenConfig) -> Printer {
        Printer {
            json: config.json,
            channel_json: serde_json::to_string(config.subscription.channel.as_str())
                .expect("a string serialises"),
            timestamp: config.timestamp,
            color: !config.json && config.color.enabled(std::io::stdout().is_terminal()),
            settle: config.settle,
        }
    }

    /// `style` when colouring, else no style at all (it prints nothing).
    fn style(&self, style: anstyle::Style) -> anstyle::Style {
        if self.color {
            style
        } else {
            anstyle::Style::new()
        }
    }

    /// The colour of an event's line, if it has one: none for a plain first
    /// delivery that is acked, nor without colour (the common case costs
    /// no formatting).
    fn line_style(&self, event: &Delivery) -> Option<anstyle::Style> {
        if !self.color {
            return None;
        }
        match self.settle {
            Settle::Nak(_) | Settle::Term => Some(color::NOT_ACKED),
            _ if event.redelivered() => Some(color::REDELIVERED),
            _ => None,
        }
    }

    fn print_given_up(&self, out: &mut impl Write, given_up: GivenUp) -> std::io::Result<()> {
        if self.json {
            writeln!(
                out,
                "{{\"seq\":{},\"channel\":{},\"given_up_after\":{}}}",
                given_up.sequence, self.channel_json, given_up.deliveries
            )
        } else {
            let style = self.style(color::NOT_ACKED);
            writeln!(
                out,
                "{style}Event #{} was given up after {} deliveries without an ack (--max-deliver){style:#}",
                given_up.sequence, given_up.deliveries
            )
        }
    }

    fn print(&self, out: &mut impl Write, event: &Delivery) -> std::io::Result<()> {
        if self.json {
            return self.print_json(out, event);
        }
        // Colour goes around the whole line; the masking writer takes the
        // line whole, codes and all, so nothing it hides is split.
        let style = self.line_style(event);
        if let Some(style) = style {
            write!(out, "{style}")?;
        }
        if self.timestamp {
            write_rfc3339(out, event.published)?;
            out.write_all(b" ")?;
        }
        write!(out, "Received event #{}, with data: ", event.sequence)?;
        write_escaped(out, &String::from_utf8_lossy(&event.data))?;
        let mut open = false;
        let mut say = |out: &mut dyn Write, what: std::fmt::Arguments<'_>| {
            let sep = if open { "; " } else { " (" };
            open = true;
            write!(out, "{sep}{what}")
        };
        if event.redelivered() {
            say(
                out,
                format_args!("redelivered, delivery #{}", event.delivered),
            )?;
        }
        match self.settle {
            Settle::Nak(None) => say(
                out,
                format_args!("nak'd: the server sends it again at once"),
            )?,
            Settle::Nak(Some(delay)) => say(
                out,
                format_args!(
                    "nak'd: the server sends it again after {}",
                    crate::duration::format(delay)
                ),
            )?,
            Settle::Term => say(
                out,
                format_args!("terminated: the server never sends it again"),
            )?,
            Settle::Ack | Settle::Skip => {}
        }
        if open {
            out.write_all(b")")?;
        }
        match style {
            Some(style) => writeln!(out, "{style:#}"),
            None => out.write_all(b"\n"),
        }
    }

    /// One JSON object: seq, channel, delivery, redelivered, published,
    /// pending, headers (when there are any), data.
    fn print_json(&self, out: &mut impl Write, event: &Delivery) -> std::io::Result<()> {
        write!(
            out,
            "{{\"seq\":{},\"channel\":{},\"delivery\":{},\"redelivered\":{},\"published\":\"",
            event.sequence,
            self.channel_json,
            event.delivered,
            event.redelivered()
        )?;
        write_rfc3339(out, event.published)?;
        write!(out, "\",\"pending\":{}", event.pending)?;
        if let Some(headers) = event
            .headers
            .as_ref()
            .and_then(crate::history::user_headers)
        {
            crate::notes::write_headers_json(out, &headers)?;
        }
        out.write_all(b",\"data\":")?;
        crate::notes::write_data_json(out, &event.data)?;
        out.write_all(b"}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_times_have_milliseconds_in_utc() {
        let mut out = Vec::new();
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        write_rfc3339(&mut out, at).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "2023-11-14T22:13:20.120Z");
    }

    #[test]
    fn a_coloured_line_is_still_masked_whole() {
        // A URL's password in an event's data, on a line in colour.
        let mut out = Vec::new();
        {
            let mut masked = crate::mask::Masked::line_buffered(&mut out);
            let style = color::REDELIVERED;
            write!(masked, "{style}Received event #1, with data: nats://ana:").unwrap();
            writeln!(masked, "Pw9x@host:4222 (redelivered, delivery #2){style:#}").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[33mReceived event #1, with data: nats://ana:***@host:4222 \
             (redelivered, delivery #2)\x1b[0m\n"
        );
    }
}
