//! The `status` command: what the server keeps, and where every
//! subscription stands in it.
//!
//! The course looked at `http://localhost:8222/streaming/channelsz?subs=1`.
//! `status` asks JetStream over the client port instead (see
//! [`nats_course_toolkit::history`]), in four forms:
//! - `status [CHANNEL]`: a table per channel ([`table`]);
//! - `status --json [CHANNEL]`: the same as one JSON document;
//! - `status CHANNEL --events`: the stored events themselves;
//! - `status [CHANNEL] --live`: a full-screen view of the history as a tape
//!   ([`live`]);
//! - `status CHANNEL --svg FILE`: that tape at one moment, as a picture
//!   ([`svg`]); both lay it out with [`tape`].

use std::io::{self, Write};
use std::path::PathBuf;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::mask::Masked;
use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::connection::ConnectConfig;
use nats_course_toolkit::history::{self, ChannelStatus, EventRange, StoredEvent};
use nats_course_toolkit::notes::write_escaped;

mod args;
pub mod live;
pub mod svg;
pub mod table;
pub mod tape;
#[cfg(test)]
mod test_data;

pub use args::StatusArgs;

/// Everything `status` needs, checked.
#[derive(Debug, Clone)]
pub struct StatusConfig {
    /// Only this channel, or every one.
    pub channel: Option<Channel>,
    /// Which form.
    pub show: Show,
    /// JSON instead of text.
    pub json: bool,
    /// Server, client id, timeout.
    pub connect: ConnectConfig,
}

/// The forms of `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// A table per channel.
    Table,
    /// The stored events of one channel.
    Events(EventRange),
    /// The full-screen live view.
    Live,
    /// The tape as a picture.
    Svg(SvgTo),
}

/// Where `--svg` writes its picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvgTo {
    /// `-`.
    Stdout,
    /// A file, made or replaced.
    File(PathBuf),
}

/// The `status` binary's command, once its flags are a config: [`run`]
/// on stdout, or the live view.
pub async fn start(config: StatusConfig, signal: crate::shutdown::Signal) -> anyhow::Result<()> {
    if config.show == Show::Live {
        return live::run(config, signal).await;
    }
    if let Show::Svg(to) = &config.show {
        return write_svg(&config, to).await;
    }
    // `status --events | head`: when the reader goes, the write that fails
    // ends the command, and `run` exits quietly.
    let mut out = Masked::with_capacity(64 * 1024, io::stdout().lock());
    run(&config, &mut out).await
}

/// Connects, prints the table, the JSON document or the events, and closes
/// the connection.
pub async fn run(config: &StatusConfig, out: &mut impl Write) -> anyhow::Result<()> {
    let client = config.connect.connect().await?;
    let js = async_nats::jetstream::new(client.clone());
    let result = match &config.show {
        &Show::Events(range) => {
            let channel = config
                .channel
                .as_ref()
                .expect("--events requires a channel");
            print_events(&js, channel, range, config.json, out).await
        }
        _ => {
            let channels = history::read(&js, config.channel.as_ref()).await?;
            if config.json {
                print_json(&channels, out)
            } else {
                let server = client.server_info();
                writeln!(
                    out,
                    "NATS server {} at {}",
                    nats_course_toolkit::notes::escape_control(&server.version),
                    config.connect.display_servers()
                )?;
                table::write(&channels, config.channel.is_some(), out)?;
                Ok(())
            }
        }
    };
    let flushed = out.flush();
    nats_course_toolkit::connection::close(client).await;
    result?;
    Ok(flushed?)
}

/// `status CHANNEL --svg FILE`: reads the channel once and writes its
/// tape as an SVG. A file whose folder is missing is an error before
/// connecting; the file is written whole, once the picture is made.
async fn write_svg(config: &StatusConfig, to: &SvgTo) -> anyhow::Result<()> {
    if let SvgTo::File(file) = to {
        let folder = match file.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => std::path::Path::new("."),
        };
        if !folder.is_dir() {
            anyhow::bail!(
                "cannot write {}: there is no folder {}",
                crate::mask::mask_str(&file.display().to_string()),
                crate::mask::mask_str(&folder.display().to_string())
            );
        }
    }
    let channel = config.channel.as_ref().expect("--svg requires a channel");
    let client = config.connect.connect().await?;
    let js = async_nats::jetstream::new(client.clone());
    let read = history::read(&js, Some(channel)).await;
    // The events given up, where the table counts some: marked as such.
    let given_up = match &read {
        Ok(channels) => match channels.first() {
            Some(c) if c.subscriptions.iter().any(|s| s.given_up > 0) => {
                history::watch::given_up(&js, &c.stream).await
            }
            _ => Ok(Vec::new()),
        },
        Err(_) => Ok(Vec::new()),
    };
    nats_course_toolkit::connection::close(client).await;
    let mut state = live::state::State::new(read?, true, config.connect.display_servers());
    for notice in given_up? {
        state.watch.notice(notice);
    }
    let picture = svg::picture(&state, time::OffsetDateTime::now_utc())
        .ok_or_else(|| anyhow::anyhow!("no channel {} on this server", channel.as_str()))?;
    // Not through the `Masked` writer: every text in the picture was
    // masked on its own (`tape::text::masked`) before it was escaped, and
    // masking the markup itself would break it (a short secret `2` is
    // masked as a word between quotes: `x="2"`).
    match to {
        SvgTo::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(picture.as_bytes())?;
            out.flush()?;
        }
        SvgTo::File(file) => std::fs::write(file, picture).map_err(|err| {
            anyhow::anyhow!(
                "cannot write {}: {err}",
                crate::mask::mask_str(&file.display().to_string())
            )
        })?,
    }
    Ok(())
}

/// `status --json`: `{"channels":[...]}`, with the keys of [`ChannelStatus`].
fn print_json(channels: &[ChannelStatus], out: &mut impl Write) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        channels: &'a [ChannelStatus],
    }
    serde_json::to_writer(&mut *out, &Document { channels })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// `status CHANNEL --events`: one line per stored event.
async fn print_events(
    js: &async_nats::jetstream::Context,
    channel: &Channel,
    range: EventRange,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let stream = history::stream_of(js, channel).await?;
    let events = history::events(js, stream, range);
    futures_util::pin_mut!(events);
    while let Some(event) = events.next().await {
        let event = event?;
        if json {
            write_event_json(&event, out)?;
        } else {
            write_event_line(&event, out)?;
        }
    }
    Ok(())
}

/// `#<seq> <RFC 3339 time> <data>`, the data as published (control
/// characters escaped, as `listen` shows them).
pub fn write_event_line(event: &StoredEvent, out: &mut impl Write) -> io::Result<()> {
    write!(out, "#{} ", event.seq)?;
    nats_course_toolkit::notes::write_rfc3339(out, event.time)?;
    out.write_all(b" ")?;
    write_escaped(out, &String::from_utf8_lossy(&event.data))?;
    out.write_all(b"\n")
}

/// `{"seq":..,"time":..,"data":..,"headers":{..}}`: the data as it is when
/// it is one line of JSON, else as a JSON string.
pub fn write_event_json(event: &StoredEvent, out: &mut impl Write) -> io::Result<()> {
    write!(out, "{{\"seq\":{},\"time\":\"", event.seq)?;
    nats_course_toolkit::notes::write_rfc3339(out, event.time)?;
    out.write_all(b"\",\"data\":")?;
    nats_course_toolkit::notes::write_data_json(out, &event.data)?;
    if let Some(headers) = &event.headers {
        nats_course_toolkit::notes::write_headers_json(out, headers)?;
    }
    out.write_all(b"}\n")
}
