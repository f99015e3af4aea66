//! What the library has to say while it works, for whoever uses it.
//!
//! The library prints nothing itself. Things a user may want to know, but
//! that are no error, go to a [`Notes`] handle the caller passes in: a lost
//! and a restored connection, a cluster that is not ready yet, a start flag
//! that cannot apply to a queue group that already exists. The commands
//! write each note as a line on stderr (masked, like every line they print);
//! a service that embeds the library sends them to its log, or drops them
//! with [`Notes::silent`].

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use crate::said::{Mention, Said};

/// What hears the notes: one at a time, each a line without its newline.
type Sink = dyn Fn(&Said) + Send + Sync;

/// Where the library's notes go.
#[derive(Clone, Default)]
pub struct Notes(Option<Arc<Sink>>);

impl Notes {
    /// Notes that go nowhere.
    pub fn silent() -> Notes {
        Notes(None)
    }

    /// Notes handed to `sink`, one line at a time, in the library's words.
    pub fn to(sink: impl Fn(&str) + Send + Sync + 'static) -> Notes {
        Notes(Some(Arc::new(move |said: &Said| sink(&said.to_string()))))
    }

    /// Notes handed to `sink` as they were said, for a caller that says
    /// their [`Mention`]s its own way ([`Said::render`]).
    pub fn to_said(sink: impl Fn(&Said) + Send + Sync + 'static) -> Notes {
        Notes(Some(Arc::new(sink)))
    }

    /// Says one line. The text is formatted only when someone listens.
    pub fn say(&self, line: fmt::Arguments<'_>) {
        if let Some(sink) = &self.0 {
            sink(&Said::text(line.to_string()));
        }
    }

    /// Says a line that mentions what the user can change.
    pub fn tell(&self, said: impl FnOnce() -> Said) {
        if let Some(sink) = &self.0 {
            sink(&said());
        }
    }
}

impl fmt::Debug for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Notes(..)"
        } else {
            "Notes(silent)"
        })
    }
}

/// An error and its causes on one line, `Error: ` as both binaries print it.
/// async-nats repeats each cause in its own message, so a cause already said
/// is left out: "request failed: timed out" rather than "request failed:
/// timed out: timed out". Control characters are escaped ([`escape_control`]):
/// an error may quote names the server gave (a stream's subjects, a
/// consumer's metadata), which anyone who can create a stream chooses.
pub fn error_line(err: &anyhow::Error) -> String {
    error_line_with(err, &|_, words| Cow::Borrowed(words))
}

/// [`error_line`], with the [`Mention`]s of each [`Said`] in the chain said
/// by `say` (the commands say their flags).
pub fn error_line_with(
    err: &anyhow::Error,
    say: &dyn for<'a> Fn(Mention, &'a str) -> Cow<'a, str>,
) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = match cause.downcast_ref::<Said>() {
            Some(said) => said.render(say),
            None => cause.to_string(),
        };
        let text = escape_control(&text).into_owned();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// An event's data as a JSON value: as it is when it is JSON on one line
/// (so that each event stays one line of output), else as a JSON string.
pub fn write_data_json(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    let one_line = !data.contains(&b'\n') && !data.contains(&b'\r');
    if one_line && serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        out.write_all(data)
    } else {
        serde_json::to_writer(&mut *out, &String::from_utf8_lossy(data)).map_err(Into::into)
    }
}

/// `,"headers":{"Trace-Id":"42","Tag":["a","b"]}`: headers as a JSON
/// object in name order, a name given once as a string, several times as a
/// list (see [`crate::history::user_headers`] for which are shown).
pub fn write_headers_json<K: AsRef<str>, V: AsRef<str>>(
    out: &mut impl Write,
    headers: &std::collections::BTreeMap<K, Vec<V>>,
) -> std::io::Result<()> {
    out.write_all(b",\"headers\":{")?;
    for (i, (name, values)) in headers.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, name.as_ref())?;
        out.write_all(b":")?;
        match values.as_slice() {
            [one] => serde_json::to_writer(&mut *out, one.as_ref())?,
            many => serde_json::to_writer(
                &mut *out,
                &many.iter().map(AsRef::as_ref).collect::<Vec<&str>>(),
            )?,
        }
    }
    out.write_all(b"}")
}

/// `2024-05-01T12:00:00.123Z`: a time as RFC 3339 in UTC, always with
/// milliseconds, so that timestamped lines line up. Writes straight to
/// `out`: no allocation per event.
pub fn write_rfc3339(out: &mut impl Write, at: time::OffsetDateTime) -> std::io::Result<()> {
    let at = at.to_offset(time::UtcOffset::UTC);
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Writes `text` with its control characters escaped as JSON escapes them
/// (`\n`, `\u001b`): an event's data comes from anyone who can publish, and
/// on a terminal a raw newline would forge a second `Received event` line
/// and an escape sequence would reach the terminal.
pub fn write_escaped(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    // Most data has no control character: written as it is.
    if !text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return out.write_all(text.as_bytes());
    }
    let mut plain = 0;
    for (i, c) in text.char_indices() {
        if !c.is_control() {
            continue;
        }
        out.write_all(&text.as_bytes()[plain..i])?;
        match c {
            '\n' => out.write_all(b"\\n")?,
            '\r' => out.write_all(b"\\r")?,
            '\t' => out.write_all(b"\\t")?,
            c => write!(out, "\\u{:04x}", u32::from(c))?,
        }
        plain = i + c.len_utf8();
    }
    out.write_all(&text.as_bytes()[plain..])
}

/// `text` with its control characters escaped, as [`write_escaped`] writes
/// it: for a note that quotes an event's data, a name the server gave.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len() + 8);
    write_escaped(&mut out, text).expect("a Vec takes every write");
    Cow::Owned(String::from_utf8(out).expect("escaping keeps UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn notes_reach_their_sink_and_silent_ones_go_nowhere() {
        let heard = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&heard);
        let notes = Notes::to(move |line| sink.lock().unwrap().push(line.to_owned()));
        notes.say(format_args!("reconnected to {}", "nats://a:4222"));
        notes.clone().say(format_args!("plain"));
        Notes::silent().say(format_args!("nobody hears this"));
        assert_eq!(
            *heard.lock().unwrap(),
            ["reconnected to nats://a:4222", "plain"]
        );
    }

    #[test]
    fn error_line_leaves_out_causes_already_said() {
        #[derive(Debug)]
        struct Repeating(&'static str, Option<Box<Repeating>>);
        impl std::fmt::Display for Repeating {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match &self.1 {
                    Some(source) => write!(f, "{}: {source}", self.0),
                    None => f.write_str(self.0),
                }
            }
        }
        impl std::error::Error for Repeating {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|s| s as _)
            }
        }
        let inner = Repeating("timed out", None);
        let outer = Repeating("request failed", Some(Box::new(inner)));
        let err = anyhow::Error::new(outer).context("could not subscribe the listener");
        assert_eq!(
            error_line(&err),
            "could not subscribe the listener: request failed: timed out"
        );
        let plain = anyhow::anyhow!("no server").context("could not connect");
        assert_eq!(error_line(&plain), "could not connect: no server");
    }

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, text).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn control_characters_are_escaped_as_json_escapes_them() {
        assert_eq!(escaped("plain {\"a\":1} é"), "plain {\"a\":1} é");
        assert_eq!(
            escaped("x\nReceived event #9\r\t\u{1b}[31mred\u{7f}\u{9b}"),
            "x\\nReceived event #9\\r\\t\\u001b[31mred\\u007f\\u009b"
        );
    }

    #[test]
    fn escape_control_borrows_plain_text() {
        assert!(matches!(escape_control("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_control("a\nb"), "a\\nb");
    }
}
