//! Channels and their event history.
//!
//! NATS Streaming had *channels*: a named log that kept every event published
//! on it. JetStream splits that idea in two: the *subject* an event is
//! published on, and a *stream* that captures the subject and stores its
//! events. Here each channel is a subject of the same name, captured by a
//! stream of its own, so event sequences count from 1 per channel as they did
//! in NATS Streaming.
//!
//! **Stream name rule:** a stream that already captures the channel (one you
//! made yourself, say) is used as it is, whatever its name. Otherwise the
//! stream is created, named after the channel in upper case with every
//! character other than `A-Z`, `0-9`, `_` and `-` replaced by `_`:
//! `ticket:created` is stored in the stream `TICKET_CREATED`. Different
//! channels can share that name (`ticket.created`, `Ticket:Created` and
//! `TICKET_CREATED` all give `TICKET_CREATED`), so when a stream of another
//! channel already has it, the name gets `_` and 8 hex digits of a hash of
//! the channel (FNV-1a, 32 bits): `ticket.created` is then stored in
//! `TICKET_CREATED_6C582D9F`, and the command says which channel holds
//! `TICKET_CREATED`. Two channels never share a stream.
//!
//! **Limits:** a channel is at most [`MAX_CHANNEL_BYTES`] (255) bytes, since
//! its stream's name is as long and nats-server takes stream names of at most
//! 255 bytes.

use std::fmt;
use std::time::{Duration, Instant};

use crate::notes::Notes;
use crate::said::{Mention, Said};
use anyhow::Context as _;
use async_nats::jetstream::{self, context::GetStreamByNameErrorKind, stream};

/// The longest channel name, in bytes: nats-server's longest stream name
/// (`JSMaxNameLen`), since the stream is named after the channel.
pub const MAX_CHANNEL_BYTES: usize = 255;

/// A NATS Streaming channel name, checked to be a plain JetStream subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel(String);

impl Channel {
    /// Checks a channel name: not empty, at most [`MAX_CHANNEL_BYTES`], no
    /// whitespace, no wildcard (`*`, `>`), and no empty token (a leading,
    /// trailing or doubled `.`).
    pub fn new(name: &str) -> Result<Channel, String> {
        if name.is_empty() {
            return Err("the channel name is empty; the course uses ticket:created".into());
        }
        if name.len() > MAX_CHANNEL_BYTES {
            return Err(format!(
                "the channel name is {} bytes long; it may have at most {MAX_CHANNEL_BYTES}, \
                 the longest stream name nats-server takes",
                name.len()
            ));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "'{name}' contains whitespace; channel names are one word, like ticket:created"
            ));
        }
        if name.contains(['*', '>']) {
            return Err(format!(
                "'{name}' contains a wildcard (* or >); events are published to, and listened on, one exact channel"
            ));
        }
        if name.split('.').any(str::is_empty) {
            return Err(format!(
                "'{name}' has an empty part: a channel may not start or end with '.', or contain '..'"
            ));
        }
        Ok(Channel(name.to_owned()))
    }

    /// The channel as a subject.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the stream this toolkit creates for the channel: the
    /// channel in upper case, other characters than `A-Z`, `0-9`, `_`, `-`
    /// replaced by `_`. When a stream of another channel has that name,
    /// [`Channel::unique_stream_name`] is used instead.
    pub fn stream_name(&self) -> String {
        self.0
            .chars()
            .map(|c| match c.to_ascii_uppercase() {
                c @ ('A'..='Z' | '0'..='9' | '_' | '-') => c,
                _ => '_',
            })
            .collect()
    }

    /// The stream name for a channel whose [`Channel::stream_name`] is taken:
    /// that name (cut to fit) with `_` and 8 hex digits of the channel's
    /// FNV-1a hash, which tells apart the channels that map to the same name.
    pub fn unique_stream_name(&self) -> String {
        let hash = self.0.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        let mut name = self.stream_name();
        name.truncate(MAX_CHANNEL_BYTES - 9);
        format!("{name}_{hash:08X}")
    }

    /// The stream this toolkit creates when no stream captures the channel yet:
    /// the event history kept on disk, with no limit on its size or age, on
    /// `replicas` servers of a cluster.
    pub fn stream_config(&self, replicas: usize) -> stream::Config {
        stream::Config {
            name: self.stream_name(),
            subjects: vec![self.0.clone()],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        }
    }

    /// Finds the stream that keeps this channel's history, creating it on
    /// first use with `replicas` copies (`--replicas 3` on a 3-node
    /// cluster), and returns its name. A cluster that is electing leaders
    /// is waited for, within `wait`.
    pub async fn find_or_create_stream(
        &self,
        js: &jetstream::Context,
        replicas: usize,
        wait: &mut ClusterWait,
    ) -> anyhow::Result<String> {
        loop {
            match self
                .try_find_or_create_stream(js, replicas, &wait.notes)
                .await
            {
                Err(err) if wait.retry_after(&err).await => {}
                result => return result,
            }
        }
    }

    async fn try_find_or_create_stream(
        &self,
        js: &jetstream::Context,
        replicas: usize,
        notes: &Notes,
    ) -> anyhow::Result<String> {
        match js.stream_by_subject(self.as_str()).await {
            Ok(name) => return Ok(name),
            Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => {}
            Err(err) => return Err(jetstream_error(js, err)),
        }
        let (preferred, unique) = (self.stream_name(), self.unique_stream_name());
        let mut taken: Vec<(String, String)> = Vec::new();
        for name in [&preferred, &unique] {
            let config = stream::Config {
                name: name.clone(),
                ..self.stream_config(replicas)
            };
            let create_err = match js.create_stream(config).await {
                Ok(stream) => {
                    if let Some((name, holder)) = taken.first() {
                        notes.say(format_args!(
                            "Note: the stream name {name} is taken by {holder}, \
                             so channel {self} is stored in the stream {unique}"
                        ));
                    }
                    return Ok(stream.cached_info().config.name.clone());
                }
                Err(err) => err,
            };
            // Another publisher or listener may have created it a moment ago.
            if let Ok(name) = js.stream_by_subject(self.as_str()).await {
                return Ok(name);
            }
            match js.get_stream(name).await {
                // The name is another channel's: try the next one.
                Ok(stream) => taken.push((name.clone(), holder(&stream.cached_info().config))),
                Err(_) => {
                    return Err(anyhow::Error::new(create_err)).with_context(|| {
                        format!("could not create the stream {name} for channel {self}")
                    });
                }
            }
        }
        let taken: Vec<String> = taken
            .iter()
            .map(|(name, holder)| format!("{name} is taken by {holder}"))
            .collect();
        Err(Said::text(format!(
            "could not create a stream for channel {self}: {}; delete one of those streams, \
             or choose another ",
            taken.join(", and ")
        ))
        .mention(Mention::Channel, "channel")
        .into())
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long to wait for a cluster to settle (elect leaders, see its peers).
const CLUSTER_SETTLE: Duration = Duration::from_secs(30);

/// Waiting for a JetStream cluster to settle. A cluster that just lost a node
/// answers requests with timeouts or "no suitable peers" until it has
/// elected new leaders; a request that failed so is tried again, every
/// 0.5 s for up to 30 s in all, and the notes say so once. One `ClusterWait`
/// serves all the requests of a command's start, so the 30 s are for them
/// all; its notes are where those requests' notes go.
#[derive(Debug)]
pub struct ClusterWait {
    started: Instant,
    said: bool,
    notes: Notes,
}

impl ClusterWait {
    /// A wait starting now, saying what it waits for in `notes`.
    pub fn new(notes: Notes) -> ClusterWait {
        ClusterWait {
            started: Instant::now(),
            said: false,
            notes,
        }
    }

    /// Where the notes of the requests within this wait go.
    pub(crate) fn notes(&self) -> &Notes {
        &self.notes
    }

    /// Whether `err` is one a settling cluster gives and there is time left;
    /// if so, says so (the first time) and waits before the next try. Used
    /// as `Err(err) if wait.retry_after(&err).await => {}` in a loop.
    pub(crate) async fn retry_after(&mut self, err: &anyhow::Error) -> bool {
        let Some(reason) = transient_reason(err) else {
            return false;
        };
        if self.started.elapsed() >= CLUSTER_SETTLE {
            return false;
        }
        if !self.said {
            self.notes.say(format_args!(
                "JetStream is not ready yet (a request {reason}: a cluster electing leaders, or \
                 one that lost the majority of its nodes); trying again for up to {}s...",
                CLUSTER_SETTLE.as_secs()
            ));
            self.said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        true
    }
}

/// Errors a cluster gives while it elects leaders after losing a node, as
/// a few words for the user ("timed out"), or `None` for any other error.
fn transient_reason(err: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{err:#}").to_ascii_lowercase();
    [
        ("timed out", "timed out"),
        ("no suitable peers", "found no suitable peers"),
        ("peer offline", "found a peer offline"),
        ("leader not known", "found no leader"),
        ("jetstream not ready", "found JetStream not ready"),
        (
            "temporarily unavailable",
            "found JetStream temporarily unavailable",
        ),
    ]
    .into_iter()
    .find_map(|(marker, reason)| text.contains(marker).then_some(reason))
}

/// Explains a failed JetStream request: most often the server runs without
/// JetStream (a plain `nats-server`, or the course's `nats-streaming` image).
pub fn jetstream_error(
    js: &jetstream::Context,
    err: impl std::error::Error + Send + Sync + 'static,
) -> anyhow::Error {
    let info = js.client().server_info();
    if !info.jetstream {
        // A server listening on all interfaces calls itself 0.0.0.0: its name says more.
        let unspecified = info
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        return no_jetstream(&if unspecified {
            format!("'{}' (port {})", info.server_name, info.port)
        } else {
            format!("{}:{}", info.host, info.port)
        });
    }
    anyhow::Error::new(err).context("a JetStream request failed")
}

/// The server at `at` (a URL as the user gave it) runs without JetStream:
/// what that means and how to turn it on.
pub fn no_jetstream(at: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the NATS server at {at} does not have JetStream enabled, and this toolkit needs it to store events. \
         Start nats-server with -js (make server does this), or in Kubernetes run the nats image with --jetstream \
         (see docs/kubernetes.md); the course's nats-streaming image is NATS Streaming, which is end-of-life"
    )
}

/// Who holds a stream, for a message: the channels it captures.
fn holder(config: &stream::Config) -> String {
    match config.subjects.as_slice() {
        [] => "a stream that captures no channel".into(),
        [one] => format!("the stream of channel {one}"),
        many => format!("the stream of channels {}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_name_follows_the_documented_rule() {
        let channel = Channel::new("ticket:created").unwrap();
        assert_eq!(channel.stream_name(), "TICKET_CREATED");
        assert_eq!(
            Channel::new("orders.v1-x").unwrap().stream_name(),
            "ORDERS_V1-X"
        );
    }

    #[test]
    fn channels_that_share_a_stream_name_get_unique_names() {
        let names: Vec<String> = [
            "ticket:created",
            "ticket.created",
            "Ticket:Created",
            "TICKET_CREATED",
        ]
        .iter()
        .map(|c| Channel::new(c).unwrap().unique_stream_name())
        .collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("TICKET_CREATED_") && n.len() == 23)
        );
        for (i, a) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(a), "{names:?}");
        }
        // Stable: the hash is written down in the module docs.
        assert_eq!(
            Channel::new("ticket.created").unwrap().unique_stream_name(),
            "TICKET_CREATED_6C582D9F"
        );
        let long = Channel::new(&"a".repeat(MAX_CHANNEL_BYTES)).unwrap();
        assert_eq!(long.unique_stream_name().len(), MAX_CHANNEL_BYTES);
    }

    #[test]
    fn rejects_names_longer_than_a_stream_name() {
        assert!(Channel::new(&"a".repeat(MAX_CHANNEL_BYTES)).is_ok());
        let err = Channel::new(&"a".repeat(MAX_CHANNEL_BYTES + 1)).unwrap_err();
        assert!(err.contains("at most 255"), "{err}");
    }

    #[test]
    fn rejects_empty_whitespace_wildcards_and_empty_tokens() {
        for bad in [
            "",
            " ",
            "ticket created",
            "ticket:*",
            "ticket.>",
            ".ticket",
            "ticket.",
            "a..b",
        ] {
            assert!(Channel::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
