//! Steering a subscription from outside: pausing it until a time, resuming
//! it, and rewinding it to its ack floor or to an event. What `status
//! --live` does on a lane; any program with a connection can do it too.
//!
//! | What | JetStream API | Since |
//! |---|---|---|
//! | pause until a time | `$JS.API.CONSUMER.PAUSE.<stream>.<consumer>` `{"pause_until": RFC 3339}` | nats-server 2.11 |
//! | resume | the same, with no time | nats-server 2.11 |
//! | rewind to the ack floor | `$JS.API.CONSUMER.RESET.<stream>.<consumer>` (empty, or `{}`) | nats-server 2.14 |
//! | rewind to event N | the same, `{"seq": N}` | nats-server 2.14 |
//!
//! A paused consumer keeps its listeners and its place; the server just
//! delivers nothing until the time comes (or it is resumed). A rewound
//! consumer forgets what it delivered: every event from the ack floor on
//! (or from event N on, the events before N counting as acked) is
//! delivered again, as a first delivery. Rewinding to an event is for a
//! subscription that started at the first event, an event number or a time
//! (and not before that start); one for new or last events can be rewound
//! to its ack floor only.
//!
//! An older server lacks these requests: [`Control::check`] says so from
//! the version the server gave when the connection was made, before
//! anything is sent.

use std::fmt;
use std::time::Duration;

use anyhow::anyhow;
use async_nats::jetstream::{self, response::Response};
use serde::{Deserialize, Serialize};

/// A nats-server version, as its greeting (`INFO`) gives it: `2.14.6`,
/// `2.11.0-RC.1` (read as 2.11.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// 2 in 2.14.6.
    pub major: u32,
    /// 14 in 2.14.6.
    pub minor: u32,
    /// 6 in 2.14.6.
    pub patch: u32,
}

impl ServerVersion {
    /// Reads `2.14.6`, with or without a leading `v` and a `-RC.1` after.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let text = text.trim().trim_start_matches('v');
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let mut number = || parts.next()?.parse::<u32>().ok();
        let (major, minor) = (number()?, number()?);
        let patch = number().unwrap_or(0);
        Some(ServerVersion {
            major,
            minor,
            patch,
        })
    }

    /// The version of the server `client` is connected to, as it said when
    /// the connection was made; `None` when it did not say.
    pub fn of(client: &async_nats::Client) -> Option<ServerVersion> {
        ServerVersion::parse(&client.server_info().version)
    }

    const fn new(major: u32, minor: u32) -> ServerVersion {
        ServerVersion {
            major,
            minor,
            patch: 0,
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What can be done to a subscription from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Deliver nothing until a time.
    Pause,
    /// Deliver again, before the pause's time.
    Resume,
    /// Deliver again from the ack floor, or from an event.
    Rewind,
}

impl Control {
    /// The oldest nats-server that does it.
    pub fn needs(self) -> ServerVersion {
        match self {
            Control::Pause | Control::Resume => ServerVersion::new(2, 11),
            Control::Rewind => ServerVersion::new(2, 14),
        }
    }

    /// What it is, in words: "pausing a subscription".
    pub fn doing(self) -> &'static str {
        match self {
            Control::Pause => "pausing a subscription",
            Control::Resume => "resuming a paused subscription",
            Control::Rewind => "rewinding a subscription",
        }
    }

    /// Whether a server of version `server` does it (`None`: it did not
    /// say its version; then the request is tried). The error says what
    /// this server lacks and which version has it.
    pub fn check(self, server: Option<ServerVersion>) -> anyhow::Result<()> {
        match server {
            Some(version) if version < self.needs() => Err(anyhow!(
                "{} needs nats-server {}.{} or newer; this server is {version}, which lacks it \
                 (the consumer {} request came in {}.{})",
                self.doing(),
                self.needs().major,
                self.needs().minor,
                match self {
                    Control::Pause | Control::Resume => "pause",
                    Control::Rewind => "reset",
                },
                self.needs().major,
                self.needs().minor,
            )),
            _ => Ok(()),
        }
    }
}

/// A subscription's pause, as the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paused {
    /// Whether it is paused now.
    pub paused: bool,
    /// Until when (when paused).
    pub until: Option<time::OffsetDateTime>,
    /// How long that is from now, by the server's clock (when paused).
    pub remaining: Option<Duration>,
}

/// A subscription rewound, as the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewound {
    /// The first event it delivers next (or the first stored after it).
    pub from: u64,
    /// Its ack floor now: every event up to it counts as acked.
    pub ack_floor: u64,
    /// Events it has to deliver from there.
    pub pending: u64,
}

/// `pause_until` in RFC 3339, as the server reads it.
#[derive(Serialize)]
struct PauseRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_until: Option<String>,
}

impl PauseRequest {
    fn until(until: Option<time::OffsetDateTime>) -> PauseRequest {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        PauseRequest {
            pause_until: until.and_then(|until| until.format(rfc3339).ok()),
        }
    }
}

#[derive(Deserialize)]
struct PauseResponse {
    paused: bool,
    #[serde(default)]
    pause_until: Option<String>,
    #[serde(default)]
    pause_remaining: Option<u64>,
}

#[derive(Serialize)]
struct ResetRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

#[derive(Deserialize)]
struct ResetResponse {
    reset_seq: u64,
    #[serde(default)]
    ack_floor: Option<SequencePair>,
    #[serde(default)]
    num_pending: u64,
}

#[derive(Deserialize)]
struct SequencePair {
    #[serde(default)]
    stream_seq: u64,
}

/// Pauses subscription `name` of `stream` until `until`: the server
/// delivers none of its events before then. A time already past resumes it.
pub async fn pause(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    until: time::OffsetDateTime,
) -> anyhow::Result<Paused> {
    Control::Pause.check(ServerVersion::of(&js.client()))?;
    pause_request(js, stream, name, Some(until), Control::Pause).await
}

/// Resumes subscription `name` of `stream`: it delivers again at once.
pub async fn resume(js: &jetstream::Context, stream: &str, name: &str) -> anyhow::Result<Paused> {
    Control::Resume.check(ServerVersion::of(&js.client()))?;
    pause_request(js, stream, name, None, Control::Resume).await
}

async fn pause_request(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    until: Option<time::OffsetDateTime>,
    control: Control,
) -> anyhow::Result<Paused> {
    let subject = format!("CONSUMER.PAUSE.{stream}.{name}");
    let request = PauseRequest::until(until);
    let answer: PauseResponse = api(js, subject, &request, control).await?;
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    Ok(Paused {
        paused: answer.paused,
        until: answer
            .pause_until
            .filter(|_| answer.paused)
            .and_then(|until| time::OffsetDateTime::parse(&until, rfc3339).ok()),
        remaining: answer
            .pause_remaining
            .filter(|_| answer.paused)
            .map(Duration::from_nanos),
    })
}

/// Rewinds subscription `name` of `stream`: to its ack floor (`to` is
/// `None`: every event after it that waits for an ack, or was sent and
/// not acked, is sent again), or to event `to` (sent next; the events
/// before it count as acked).
pub async fn rewind(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    to: Option<u64>,
) -> anyhow::Result<Rewound> {
    Control::Rewind.check(ServerVersion::of(&js.client()))?;
    let subject = format!("CONSUMER.RESET.{stream}.{name}");
    let request = ResetRequest { seq: to };
    let answer: ResetResponse = api(js, subject, &request, Control::Rewind).await?;
    Ok(Rewound {
        from: answer.reset_seq,
        ack_floor: answer.ack_floor.map_or(0, |floor| floor.stream_seq),
        pending: answer.num_pending,
    })
}

/// One JetStream API request; the server's refusal in its own words.
async fn api<T: serde::de::DeserializeOwned>(
    js: &jetstream::Context,
    subject: String,
    request: &impl Serialize,
    control: Control,
) -> anyhow::Result<T> {
    let answer: Response<T> = js.request(subject, request).await.map_err(|err| {
        anyhow!(
            "{} failed: the server did not answer ({err})",
            control.doing()
        )
    })?;
    match answer {
        Response::Ok(answer) => Ok(answer),
        Response::Err { error } => Err(anyhow!(
            "{} failed: the server said {}",
            control.doing(),
            error.to_string().split(" (code").next().unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions as servers give them, and ones that are not.
    #[test]
    fn reads_server_versions() {
        let v = |major, minor, patch| ServerVersion {
            major,
            minor,
            patch,
        };
        assert_eq!(ServerVersion::parse("2.14.6"), Some(v(2, 14, 6)));
        assert_eq!(ServerVersion::parse("v2.11.0-RC.1"), Some(v(2, 11, 0)));
        assert_eq!(ServerVersion::parse("2.10"), Some(v(2, 10, 0)));
        assert_eq!(ServerVersion::parse(""), None);
        assert_eq!(ServerVersion::parse("nats"), None);
        assert!(v(2, 9, 30) < v(2, 10, 0));
        assert!(v(2, 14, 0) > v(2, 11, 11));
    }

    /// The gate: pause and resume from 2.11, rewind from 2.14; an older
    /// server gets a sentence naming what it lacks; an unknown version is
    /// tried.
    #[test]
    fn each_control_says_what_an_older_server_lacks() {
        let at = |text| ServerVersion::parse(text);
        assert!(Control::Pause.check(at("2.11.0")).is_ok());
        assert!(Control::Resume.check(at("2.14.6")).is_ok());
        assert!(Control::Rewind.check(at("2.14.0")).is_ok());
        assert!(Control::Rewind.check(None).is_ok());
        let err = Control::Pause.check(at("2.10.24")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pausing a subscription needs nats-server 2.11 or newer; this server is 2.10.24, \
             which lacks it (the consumer pause request came in 2.11)"
        );
        let err = Control::Rewind.check(at("2.12.8")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rewinding a subscription needs nats-server 2.14 or newer; this server is 2.12.8, \
             which lacks it (the consumer reset request came in 2.14)"
        );
    }

    /// The requests' bodies: a pause's time in RFC 3339, none to resume; a
    /// rewind's event number, none for the ack floor.
    #[test]
    fn request_bodies() {
        let until = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let body = |r: &dyn erased::Body| r.json();
        assert_eq!(
            body(&PauseRequest::until(Some(until))),
            r#"{"pause_until":"2023-11-14T22:13:20Z"}"#
        );
        assert_eq!(body(&PauseRequest::until(None)), "{}");
        assert_eq!(body(&ResetRequest { seq: Some(4) }), r#"{"seq":4}"#);
        assert_eq!(body(&ResetRequest { seq: None }), "{}");
    }

    mod erased {
        pub trait Body {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Body for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
