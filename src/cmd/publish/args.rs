//! The command line of `publish`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueHint};

use super::event_data::{DataFile, EventData, check_event_size, parse_data_file, parse_event_data};
use super::headers::{Header, header_map, parse_header};
use super::{Output, PublishConfig};
use crate::cli::*;
use nats_course_toolkit::notes::Notes;

/// Publish a `ticket:created` event to NATS JetStream, as the course's publisher does.
#[derive(Debug, Parser)]
#[command(name = "publish", version, long_about = None)]
pub struct PublishArgs {
    #[command(flatten)]
    pub channel: ChannelArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The event's data as a JSON object, at most 1 MiB. Default: {"id":"123","title":"concert","price":20}
    #[arg(long, value_name = "JSON", value_parser = parse_event_data, conflicts_with = "data_file")]
    pub data: Option<EventData>,

    /// Read the event's data from a JSON file, or from standard input with
    /// `-`; at most 1 MiB.
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath, value_parser = parse_data_file)]
    pub data_file: Option<DataFile>,

    /// With --data-file from a pipe, a FIFO or standard input: give up when
    /// nothing more comes for this long and the writer has not closed its
    /// end (100ms to 1h).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration_in(READ_TIMEOUT_RANGE), requires = "data_file")]
    pub read_timeout: Duration,

    /// With --data-file: each non-empty line is one event, a JSON object of
    /// at most 1 MiB, as `jq -c` writes them; published in order, each
    /// once. Every line is checked before the first is published. At most
    /// 256 MiB in all. Not with --count or --watch.
    #[arg(long, requires = "data_file", conflicts_with_all = ["count", "watch"])]
    pub lines: bool,

    /// Publish again every time one of these files is saved, as the course's
    /// ts-node-dev did on each save of publisher.ts. With no PATH, watches --data-file.
    #[arg(long, num_args = 0.., value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub watch: Option<Vec<PathBuf>>,

    /// How many events to publish (1 to 1000000000). They are pipelined and
    /// each is confirmed by the server.
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub count: u64,

    /// Add a NATS header to every event, e.g. -H 'Trace-Id: 42'. Repeat it
    /// for more (at most 64, 16 KiB in all). Names starting with Nats- are
    /// JetStream's own and not taken.
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,

    /// Print one JSON object per confirmed event on stdout, for scripts:
    /// {"seq":7,"channel":"ticket:created","duplicate":false}. The other
    /// lines go to stderr. With --watch, each save's events.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,

    /// Print only errors: no status or event lines, no progress bar, no
    /// warnings.
    #[arg(long)]
    pub quiet: bool,
}

impl PublishArgs {
    /// Turns the flags into a [`PublishConfig`].
    pub fn into_config(self) -> Result<PublishConfig, clap::Error> {
        let data_file = self
            .data_file
            .as_ref()
            .and_then(|d| d.path().map(Path::to_path_buf));
        let watch = match self.watch {
            None => Vec::new(),
            Some(paths) if !paths.is_empty() => paths,
            Some(_) => {
                match &data_file {
                    Some(path) => vec![path.clone()],
                    None => {
                        let why = if self.data_file.is_some() {
                            "--watch has no file to watch with --data-file - (standard input)"
                        } else {
                            "--watch needs files to watch"
                        };
                        return Err(PublishArgs::command().error(
                        ErrorKind::MissingRequiredArgument,
                        format!("{why}: give them (--watch src/publisher.rs), or give --data-file PATH"),
                    ));
                    }
                }
            }
        };
        if let Some(path) = watch.iter().find(|path| !watchable(path)) {
            return Err(PublishArgs::command().error(
                ErrorKind::ValueValidation,
                format!("--watch: the folder of {} does not exist", path.display()),
            ));
        }
        let headers = header_map(&self.headers).map_err(|err| {
            PublishArgs::command().error(ErrorKind::ValueValidation, format!("--header: {err}"))
        })?;
        // --data-file is read here, once it is known whether it holds one
        // event or one per line; its errors read as a value parser's.
        let bad_file = |file: &DataFile, err: String| {
            PublishArgs::command().error(
                ErrorKind::ValueValidation,
                format!(
                    "invalid value '{}' for '--data-file <PATH>': {err}",
                    file.shown()
                ),
            )
        };
        // An event counts with its headers against the 1 MiB an event may
        // be: the last of --count's has the longest Nats-Msg-Id.
        let fits = |json: &str| check_event_size(json.len(), &headers, self.count - 1);
        let (json, lines, source) = match (self.data, &self.data_file) {
            (Some(data), _) => {
                fits(&data.json).map_err(|err| {
                    PublishArgs::command()
                        .error(ErrorKind::ValueValidation, format!("--data: {err}"))
                })?;
                (data.json, None, "--data".to_owned())
            }
            (None, Some(file)) if self.lines => {
                let lines = file
                    .read_lines(&headers, self.read_timeout)
                    .map_err(|err| bad_file(file, err))?;
                (
                    String::new(),
                    Some(lines),
                    format!("--data-file {}", file.shown()),
                )
            }
            (None, Some(file)) => {
                let json = file
                    .read_event(self.read_timeout)
                    .map_err(|err| bad_file(file, err))?
                    .json;
                fits(&json).map_err(|err| bad_file(file, err))?;
                (json, None, format!("--data-file {}", file.shown()))
            }
            (None, None) => (
                nats_course_toolkit::events::SEED.to_owned(),
                None,
                "-H".to_owned(),
            ),
        };
        let output = if self.json {
            Output::Json
        } else if self.quiet {
            Output::Quiet
        } else {
            Output::Human
        };
        let notes = match output {
            Output::Quiet => Notes::silent(),
            _ => stderr_notes(),
        };
        let connect = self.connect.into_config_with(|| "abc".into(), notes);
        Ok(PublishConfig {
            channel: self.channel.channel,
            replicas: usize::from(self.channel.replicas),
            connect,
            count: lines
                .as_ref()
                .map_or(self.count, |lines| lines.len() as u64),
            payload: Bytes::from(json),
            lines,
            headers,
            source,
            data_file,
            watch,
            output,
        })
    }
}
