//! The command line of `status`.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser, ValueHint};

use super::{Show, StatusConfig, SvgTo};
use crate::cli::{ConnectArgs, MAX_COUNT, random_client_id};
use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::history::EventRange;

/// Show what the NATS server keeps: each channel's event history, and where every
/// subscription stands in it. Reads JetStream over the client port; needs no
/// monitoring port, and changes nothing.
#[derive(Debug, Parser)]
#[command(name = "status", version, long_about = None)]
pub struct StatusArgs {
    /// Only this channel (e.g. ticket:created). Without it, every channel.
    #[arg(value_name = "CHANNEL", value_parser = Channel::new)]
    pub channel: Option<Channel>,

    /// Print one JSON document (with --events: one JSON object per event).
    #[arg(long, conflicts_with = "live")]
    pub json: bool,

    /// List the channel's stored events, one line each: #SEQ, the time it was stored, and its data.
    /// Creates no subscription, so looking changes nothing. Needs CHANNEL.
    #[arg(long, conflicts_with = "live")]
    pub events: bool,

    /// With --events: start at this event number (1 or more).
    #[arg(long, value_name = "SEQ", requires = "events", conflicts_with = "last", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub from: Option<u64>,

    /// With --events: only the last N events (1 to 1000000000).
    #[arg(long, value_name = "N", requires = "events", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub last: Option<u64>,

    /// A live, full-screen view of the history as a tape of event numbers, with
    /// one lane per subscription: acked, waiting for an ack, redelivered, given
    /// up, not yet delivered. q quits; on the selected lane (↑/↓), P pauses its subscription, R resumes it, X rewinds it. Needs a terminal.
    #[arg(long)]
    pub live: bool,

    /// Write the tape as a picture: the channel's events and one lane per subscription, as --live
    /// draws them, at this moment, into FILE as an SVG (`-`: stdout). Needs CHANNEL.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, conflicts_with_all = ["live", "json", "events"])]
    pub svg: Option<PathBuf>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl StatusArgs {
    /// Turns the flags into a [`StatusConfig`].
    pub fn into_config(self) -> Result<StatusConfig, clap::Error> {
        let show = if self.live {
            use std::io::IsTerminal as _;
            if !std::io::stdout().is_terminal() {
                return Err(StatusArgs::command().error(
                    ErrorKind::ArgumentConflict,
                    "--live draws on a terminal, and stdout is not one; for scripts, use --json",
                ));
            }
            Show::Live
        } else if let Some(file) = self.svg {
            if self.channel.is_none() {
                return Err(StatusArgs::command().error(
                    ErrorKind::MissingRequiredArgument,
                    "--svg draws one channel: name it, e.g. status ticket:created --svg tape.svg",
                ));
            }
            Show::Svg(if file.as_os_str() == "-" {
                SvgTo::Stdout
            } else {
                SvgTo::File(file)
            })
        } else if self.events {
            if self.channel.is_none() {
                return Err(StatusArgs::command().error(
                    ErrorKind::MissingRequiredArgument,
                    "--events lists one channel's events: name it, e.g. status ticket:created --events",
                ));
            }
            Show::Events(match (self.from, self.last) {
                (Some(seq), _) => EventRange::From(seq),
                (_, Some(n)) => EventRange::Last(n),
                _ => EventRange::All,
            })
        } else {
            Show::Table
        };
        Ok(StatusConfig {
            channel: self.channel,
            show,
            json: self.json,
            connect: self
                .connect
                .into_config(|| format!("status-{}", random_client_id())),
        })
    }
}
