//! The command line of `listen`.

use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use super::ListenConfig;
use crate::cli::*;
use nats_course_toolkit::subscription::{DEFAULT_QUEUE_GROUP, StartPosition, SubscriptionOptions};

/// `--ack-wait`'s default as the flag reads it: NATS Streaming's 30 s, the
/// library's [`nats_course_toolkit::subscription::DEFAULT_ACK_WAIT`] (a
/// unit test keeps the two one value).
const DEFAULT_ACK_WAIT: &str = "30s";

/// Listen to a channel on NATS JetStream and print every event, as the course's listener does.
#[derive(Debug, Parser)]
#[command(name = "listen", version, long_about = None)]
pub struct ListenArgs {
    #[command(flatten)]
    pub channel: ChannelArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Queue group: listeners in the same group share the events, each event
    /// going to one of them. At most 255 bytes.
    #[arg(short = 'q', long, default_value = DEFAULT_QUEUE_GROUP, value_name = "NAME", value_parser = parse_name)]
    pub queue_group: String,

    /// Listen on your own: get every event, whatever other listeners do.
    /// Needed to see --deliver-all replay the history.
    #[arg(long, conflicts_with = "queue_group")]
    pub no_queue_group: bool,

    /// Start with the channel's whole event history (setDeliverAllAvailable()).
    #[arg(long, group = "start")]
    pub deliver_all: bool,

    /// Start with the last event of the channel (setStartWithLastReceived()).
    #[arg(long, group = "start")]
    pub deliver_last: bool,

    /// Start at this event number, 1 or more (setStartAtSequence()).
    #[arg(long, group = "start", value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub start_seq: Option<u64>,

    /// Start with the events of this recent span, e.g. 10m, 1h30m, 1d or 1d3h
    /// (setStartAtTimeDelta()); 1ms to 876000h (100 years).
    #[arg(long, group = "start", value_name = "DURATION", value_parser = duration_in(SINCE_RANGE))]
    pub since: Option<Duration>,

    /// Start with the first event stored at or after this time, in RFC 3339:
    /// 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00 (setStartTime()).
    #[arg(long, group = "start", value_name = "TIME", value_parser = values::parse_start_time)]
    pub start_time: Option<time::OffsetDateTime>,

    /// Durable name: the server remembers what this subscription acked, so a
    /// restarted listener gets only what it missed (setDurableName()). It is
    /// the queue group's, as in the course; add --no-queue-group for a durable
    /// of this listener's own. At most 255 bytes.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub durable: Option<String>,

    /// How long the server waits for an ack before delivering an event again
    /// (setAckWait()); 100ms to 24h.
    #[arg(long, default_value = DEFAULT_ACK_WAIT, value_name = "DURATION", value_parser = duration_in(ACK_WAIT_RANGE))]
    pub ack_wait: Duration,

    /// Receive events but never ack them, to watch the server deliver them again.
    #[arg(long)]
    pub skip_ack: bool,

    /// Negatively acknowledge each event instead of acking it (nak): the
    /// server sends it again at once, or after DELAY (1ms to 24h), without
    /// waiting for the ack wait. Add --max-deliver to end the loop.
    #[arg(long, value_name = "DELAY", num_args = 0..=1, value_parser = duration_in(DELAY_RANGE), conflicts_with_all = ["skip_ack", "delay", "term"])]
    pub nak: Option<Option<Duration>>,

    /// Terminate each event instead of acking it: the server never sends it
    /// again, to this listener or any other, as for an event nobody can handle.
    #[arg(long, conflicts_with_all = ["skip_ack", "delay"])]
    pub term: bool,

    /// Ask the server to report every ack, so that `status --live` shows exactly
    /// which events were acked even out of order (a queue group). Costs about a
    /// fifth of a replay's speed.
    #[arg(long)]
    pub report_acks: bool,

    /// At most N events delivered and not acked yet at a time (setMaxInFlight()),
    /// 1 to 10000: the server waits for acks before it sends more. A queue
    /// group's members share it. Default: the server's, 1000.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_in_flight: Option<u32>,

    /// Deliver an event at most N times (1 to 10000); after that the server
    /// gives it up, and the listener says so. Ends the redelivery loop of --skip-ack.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_deliver: Option<u32>,

    /// Redeliver with backoff: the waits before each redelivery of an event
    /// not acked, e.g. 1s,5s,30s (the last repeats; each 100ms to 24h, none
    /// shorter than the one before, fewer than --max-deliver). Takes the
    /// place of --ack-wait.
    #[arg(long, value_name = "WAITS", value_parser = values::parse_backoff, conflicts_with_all = ["ack_wait", "nak"])]
    pub backoff: Option<values::Backoff>,

    /// Fail on the events with these numbers, e.g. 2 or 2,5: print them and
    /// do not ack them, as a service that cannot handle them, so they come
    /// back after the ack wait (or each --backoff step) until --max-deliver
    /// gives them up (a poison event).
    #[arg(long, value_name = "SEQ", value_delimiter = ',', num_args = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub fail_on: Vec<u64>,

    /// Send each event --max-deliver gives up to this channel (a dead-letter
    /// channel), once, with headers naming the channel, sequence, delivery
    /// count and subscription it came from: another listener can handle or
    /// inspect it there.
    #[arg(long, value_name = "CHANNEL", value_parser = nats_course_toolkit::channel::Channel::new, requires = "max_deliver")]
    pub dead_letter: Option<nats_course_toolkit::channel::Channel>,

    /// Wait this long before acking each event, as a slow service would
    /// (1ms to 24h). Meanwhile the listener tells the server, within each
    /// ack wait, that its events are in progress (+WPI), so none goes to
    /// another member while it lives. Kill it to see its events go to
    /// another member after the ack wait.
    #[arg(long, value_name = "DURATION", value_parser = duration_in(DELAY_RANGE), conflicts_with = "skip_ack")]
    pub delay: Option<Duration>,

    /// Exit after this many deliveries (1 to 1000000000). A redelivered
    /// event counts again.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub count: Option<u64>,

    /// Print one JSON object per event: seq, channel, delivery, redelivered,
    /// published, pending, headers (if any), data.
    #[arg(long)]
    pub json: bool,

    /// Start each line with the time the event was published (RFC 3339, UTC,
    /// milliseconds). --json has it always, as "published".
    #[arg(short = 't', long, conflicts_with = "json")]
    pub timestamp: bool,

    /// Exit (status 0) once every event stored when the listener started has
    /// been printed and acked; at once if there is none.
    #[arg(long, conflicts_with_all = ["skip_ack", "nak"])]
    pub until_caught_up: bool,

    /// Colour redelivered events (yellow), nak'd, terminated or given-up ones
    /// (magenta) and `Error:` (red). auto: on a terminal, unless NO_COLOR is set.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_enum)]
    pub color: crate::color::ColorChoice,

    /// Delete the durable or queue group's subscription first and start over,
    /// forgetting what it acked. Members of the group still running lose
    /// their subscription and stop.
    #[arg(long)]
    pub reset: bool,

    /// Delete the subscription NAME (a durable, or a queue group's) of the
    /// channel and exit, without listening: the server forgets what it acked
    /// (the course's durable unsubscribe()). Says what it holds and asks
    /// first; --yes skips the question.
    #[arg(long, value_name = "NAME", value_parser = parse_name, conflicts_with_all = [
        "no_queue_group", "deliver_all", "deliver_last", "start_seq", "since", "start_time",
        "durable", "skip_ack", "nak", "term", "delay", "max_deliver", "max_in_flight", "backoff",
        "fail_on", "dead_letter",
        "report_acks", "count", "timestamp", "until_caught_up", "reset",
    ])]
    pub delete_durable: Option<String>,

    /// With --delete-durable: delete without asking (for scripts).
    #[arg(long, requires = "delete_durable")]
    pub yes: bool,

    /// Decide each event's fate by key: a ack, n nak, N nak after a delay,
    /// t term, p in progress (the ack wait starts over), s skip (no answer:
    /// it comes back after the ack wait). One event at a time. Needs a
    /// terminal on stdin and stdout.
    #[arg(long, conflicts_with_all = [
        "skip_ack", "nak", "term", "delay", "json", "until_caught_up", "max_in_flight", "delete_durable",
        "fail_on",
    ])]
    pub interactive: bool,
}

impl ListenArgs {
    /// Turns the flags into a [`ListenConfig`].
    pub fn into_config(self) -> Result<ListenConfig, clap::Error> {
        use crate::listen::Settle;
        use crate::listen::unsubscribe::Unsubscribe;

        let start = if self.deliver_all {
            Some(StartPosition::All)
        } else if self.deliver_last {
            Some(StartPosition::Last)
        } else if let Some(n) = self.start_seq {
            Some(StartPosition::Sequence(n))
        } else if let Some(span) = self.since {
            Some(StartPosition::Since(span))
        } else {
            self.start_time.map(StartPosition::Time)
        };
        let settle = match (self.skip_ack, self.nak, self.term) {
            (true, _, _) => Settle::Later,
            (_, Some(delay), _) => Settle::Nak(delay),
            (_, _, true) => Settle::Term,
            _ => Settle::Ack,
        };
        let unsubscribe = match self.delete_durable {
            Some(name) => {
                use std::io::IsTerminal as _;
                if !self.yes && !std::io::stdin().is_terminal() {
                    return Err(ListenArgs::command().error(
                        ErrorKind::MissingRequiredArgument,
                        "--delete-durable asks before it deletes, and stdin is not a terminal to \
                         ask on: add --yes",
                    ));
                }
                Some(Unsubscribe {
                    name,
                    confirmed: self.yes,
                })
            }
            None => None,
        };
        let backoff = self.backoff.map(|b| b.0).unwrap_or_default();
        if let Some(max_deliver) = self.max_deliver
            && backoff.len() >= max_deliver as usize
        {
            return Err(ListenArgs::command().error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--backoff has {} waits and --max-deliver allows {max_deliver} deliveries: \
                     give fewer waits than deliveries (the server's rule)",
                    backoff.len()
                ),
            ));
        }
        if self.dead_letter.as_ref() == Some(&self.channel.channel) {
            return Err(ListenArgs::command().error(
                ErrorKind::ArgumentConflict,
                "--dead-letter names the channel this listener listens to: its given-up events \
                 would come back to it; name another channel, e.g. --dead-letter ticket:dead",
            ));
        }
        if self.interactive {
            use std::io::IsTerminal as _;
            if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
                return Err(ListenArgs::command().error(
                    ErrorKind::ArgumentConflict,
                    "--interactive reads a key for each event: it needs a terminal on stdin and \
                     stdout, and one of them is not",
                ));
            }
        }
        let queue_group = (!self.no_queue_group).then_some(self.queue_group);
        let connect_channel = self.channel.channel;
        let replicas = usize::from(self.channel.replicas);
        if self.reset && queue_group.is_none() && self.durable.is_none() {
            return Err(ListenArgs::command().error(
                ErrorKind::ArgumentConflict,
                "--reset starts a durable or a queue group over; give --durable NAME or a --queue-group",
            ));
        }
        // A listener of its own names its consumer after its client id, so
        // `make status` shows which terminal a subscription is. A client id
        // given by hand may be given twice: it gets a random suffix.
        let client_id = self.connect.client_id.clone();
        let mut connect = self.connect.into_config(random_client_id);
        // Its notes say the start flag it was given, where one does not apply.
        connect.notes = stderr_notes_for(start);
        let own_name = match client_id {
            Some(id) => format!(
                "{}-{}",
                consumer_safe(&id),
                hex::encode(rand::random::<[u8; 2]>())
            ),
            None => connect.client_id.clone(),
        };
        Ok(ListenConfig {
            subscription: SubscriptionOptions {
                channel: connect_channel,
                own_name: Some(own_name),
                replicas,
                max_deliver: self.max_deliver,
                dead_letter: self.dead_letter,
                // --interactive: a listener's own subscription (pushed) has
                // one event in flight; a pulled one asks for one at a time.
                max_in_flight: match (self.interactive, &queue_group, &self.durable) {
                    (true, None, None) => Some(1),
                    _ => self.max_in_flight,
                },
                report_acks: self.report_acks,
                one_at_a_time: self.interactive,
                // Every event acked once its line is out, in order: the
                // library can then ack each batch with one ack.
                acks_in_order: settle == Settle::Ack
                    && self.fail_on.is_empty()
                    && self.delay.is_none()
                    && !self.interactive,
                queue_group,
                start,
                durable: self.durable,
                ack_wait: self.ack_wait,
                backoff,
                count: self.count,
                reset: self.reset,
            },
            connect,
            settle,
            fail_on: self.fail_on,
            delay: self.delay,
            json: self.json,
            timestamp: self.timestamp,
            until_caught_up: self.until_caught_up,
            color: self.color,
            unsubscribe,
            interactive: self.interactive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_wait_flags_default_is_the_librarys() {
        assert_eq!(
            nats_course_toolkit::duration::parse(DEFAULT_ACK_WAIT),
            Ok(nats_course_toolkit::subscription::DEFAULT_ACK_WAIT)
        );
    }
}
