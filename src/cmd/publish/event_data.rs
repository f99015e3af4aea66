//! An event's data as the flags give it (`--data`, `--data-file`): one JSON
//! object, at most [`MAX_EVENT_BYTES`], compacted
//! the way `JSON.stringify` sends it. With `--lines`, a file (or standard
//! input) of such objects, one per line, as `jq -c` writes them.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;

use super::read_within::read_within;
use nats_course_toolkit::connection;
use nats_course_toolkit::publish::{self, Packed};

pub use crate::cli::MAX_COUNT;

/// The largest event, in bytes: nats-server's default `max_payload` (1 MiB).
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// The most `--lines` reads, in bytes: the events are all checked before
/// the first is published, so they are all held at once.
pub const MAX_LINES_BYTES: u64 = 256 * 1024 * 1024;

/// Why an event may not be larger, for errors.
const EVENT_LIMIT: &str = "the most an event may be (nats-server's default max_payload)";

/// Where `--data-file` reads: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataFile {
    /// `--data-file -`.
    Stdin,
    /// `--data-file PATH`.
    Path(PathBuf),
}

impl DataFile {
    /// The file, if it is one (standard input is not: it cannot be read twice).
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataFile::Stdin => None,
            DataFile::Path(path) => Some(path),
        }
    }

    /// The flag's value as given: `-` or the path.
    pub fn shown(&self) -> String {
        match self {
            DataFile::Stdin => "-".to_owned(),
            DataFile::Path(path) => path.display().to_string(),
        }
    }

    /// Reads it whole, at most `limit` bytes: what a read gets, not what the
    /// file system says (`/dev/zero` says 0). A pipe, a FIFO or standard
    /// input (not a terminal, where a person types) is read within
    /// `idle` of its last bytes ([`read_within`]).
    fn read(&self, limit: u64, why: &str, idle: Duration) -> Result<Vec<u8>, String> {
        match self {
            DataFile::Path(path) if std::fs::metadata(path).is_ok_and(|m| m.is_file()) => {
                connection::read_at_most(path, limit, why)
            }
            DataFile::Path(path) => {
                let shown = path.display().to_string();
                let (file, name) = (path.clone(), shown.clone());
                let open = move || {
                    std::fs::File::open(&file).map_err(|err| format!("cannot read {name}: {err}"))
                };
                read_within(open, &shown, limit, why, idle)
            }
            DataFile::Stdin => {
                let stdin = std::io::stdin();
                if stdin.is_terminal() {
                    // Nothing to read until the learner types it.
                    let mut stderr = crate::mask::Masked::line_buffered(std::io::stderr());
                    let _ = writeln!(stderr, "Reading from standard input; end with Ctrl-D");
                    return connection::read_bounded(stdin.lock(), "standard input", limit, why);
                }
                read_within(|| Ok(std::io::stdin()), "standard input", limit, why, idle)
            }
        }
    }

    /// Reads one event: a JSON object of at most 1 MiB, returned compacted;
    /// a pipe or FIFO within `idle` of its last bytes.
    pub fn read_event(&self, idle: Duration) -> Result<EventData, String> {
        let bytes = self.read(MAX_EVENT_BYTES, EVENT_LIMIT, idle)?;
        match self {
            DataFile::Path(path) => event_of_file(&path.to_string_lossy(), bytes),
            DataFile::Stdin => {
                let text = String::from_utf8(without_bom(bytes))
                    .map_err(|_| "standard input is not UTF-8 text".to_owned())?;
                if text.trim().is_empty() {
                    return Err("standard input is empty: pipe the event into it, \
                                e.g. echo '{\"id\":\"7\"}' | publish --data-file -"
                        .to_owned());
                }
                let json = check_event_json(&text)?;
                Ok(EventData { json, path: None })
            }
        }
    }

    /// Reads one event per non-empty line (`--lines`): each a JSON object of
    /// at most 1 MiB, at most [`MAX_LINES_BYTES`] in all. Every line is
    /// checked before any is returned; a bad one is named by its number.
    /// The events are compacted into one buffer and share it.
    /// `headers` are those every event carries (`-H`): an event counts
    /// with them, and its `Nats-Msg-Id`, against [`MAX_EVENT_BYTES`].
    pub fn read_lines(&self, headers: &HeaderMap, idle: Duration) -> Result<Packed, String> {
        let bytes = self.read(
            MAX_LINES_BYTES,
            "the most --lines reads (its events are all checked before the first is published)",
            idle,
        )?;
        event_lines(without_bom(bytes), headers)
    }
}

/// The UTF-8 byte order mark that Windows editors write at the start of a
/// file: not part of the JSON, so it is skipped.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text without a leading byte order mark ([`BOM`]).
fn without_bom(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    bytes
}

pub(super) fn parse_data_file(text: &str) -> Result<DataFile, String> {
    match text {
        "" => Err("give a file, or - for standard input".to_owned()),
        "-" => Ok(DataFile::Stdin),
        path => Ok(DataFile::Path(PathBuf::from(path))),
    }
}

/// Checks that event `index` of a publish, `len` bytes of compact JSON, fits
/// in [`MAX_EVENT_BYTES`] with its headers: the `Nats-Msg-Id` that makes
/// publishing exactly once, and `headers` (`-H`).
pub fn check_event_size(len: usize, headers: &HeaderMap, index: u64) -> Result<(), String> {
    let total = len + publish::headers_size(headers, index);
    if total as u64 <= MAX_EVENT_BYTES {
        return Ok(());
    }
    let whose = if headers.is_empty() {
        "its Nats-Msg-Id, which makes publishing exactly once"
    } else {
        "its Nats-Msg-Id, which makes publishing exactly once, and -H's"
    };
    Err(format!(
        "the event is {len} bytes, and {total} bytes with its headers ({whose}): more than {}, \
         {EVENT_LIMIT}; make it smaller",
        connection::size(MAX_EVENT_BYTES)
    ))
}

/// The events of `--lines`: one per non-empty line, each checked, then
/// compacted where it stands in `bytes` (compacting only shortens), which
/// becomes their shared buffer: the memory of the file, and 4 bytes per
/// event. Each fits in [`MAX_EVENT_BYTES`] with its headers
/// ([`check_event_size`]).
pub fn event_lines(mut bytes: Vec<u8>, headers: &HeaderMap) -> Result<Packed, String> {
    // The most any event's headers take: only an event near the limit
    // needs its own, exact, count.
    let most_headers = publish::headers_size(headers, u64::MAX);
    let mut ends: Vec<u32> = Vec::new();
    // Compacted events are written at `write`, lines read from `read`.
    let (mut read, mut write) = (0, 0);
    let mut number = 0;
    while read <= bytes.len() {
        number += 1;
        let end = bytes[read..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |at| read + at);
        let next = end + 1;
        let line = &bytes[read..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            read = next;
            continue;
        }
        if line.len() as u64 > MAX_EVENT_BYTES {
            return Err(format!(
                "line {number} is larger than {}, {EVENT_LIMIT}",
                connection::size(MAX_EVENT_BYTES)
            ));
        }
        let text =
            std::str::from_utf8(line).map_err(|_| format!("line {number} is not UTF-8 text"))?;
        check_event_line(text).map_err(|err| format!("line {number}: {err}"))?;
        if ends.len() as u64 == MAX_COUNT {
            return Err(format!(
                "more than {MAX_COUNT} events, the most one publish may send"
            ));
        }
        let line = read..read + line.len();
        let start = write;
        write = compact_within(&mut bytes, line, write);
        let len = write - start;
        if (len + most_headers) as u64 > MAX_EVENT_BYTES {
            check_event_size(len, headers, ends.len() as u64)
                .map_err(|err| format!("line {number}: {err}"))?;
        }
        // At most MAX_LINES_BYTES (256 MiB): an end fits in a u32.
        ends.push(u32::try_from(write).map_err(|_| "the lines are larger than 4 GiB".to_owned())?);
        read = next;
    }
    if ends.is_empty() {
        return Err("no events: every line is empty".to_owned());
    }
    bytes.truncate(write);
    Ok(Packed::new(Bytes::from(bytes), ends).expect("ends in order, within the buffer"))
}

/// [`compact_into`] within one buffer: the valid JSON at `from` is written
/// compacted at `to` (at most `from.start`), returning where it ends. Bytes
/// of multi-byte characters are never a quote, backslash or ASCII space.
fn compact_within(buf: &mut [u8], from: std::ops::Range<usize>, to: usize) -> usize {
    let (mut in_string, mut escaped) = (false, false);
    let mut write = to;
    for read in from {
        let b = buf[read];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b.is_ascii_whitespace() {
            continue;
        } else {
            in_string = b == b'"';
        }
        buf[write] = b;
        write += 1;
    }
    write
}

/// Checks that one line is a JSON object, without building it: a line of
/// `jq -c` output is checked at the speed of reading it.
fn check_event_line(text: &str) -> Result<(), String> {
    let error = |err: serde_json::Error| {
        json_error(text, &err).replace(" at line 1 column ", " at column ")
    };
    if !text.trim_start().starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).map_err(error)?;
        return Err(format!(
            "an event's data must be a JSON object like {{\"id\":\"123\"}}, not {}",
            kind_of(&value)
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(error)?;
    Ok(())
}

/// An event's data: a JSON object, compacted, and the file it came from.
#[derive(Debug, Clone)]
pub struct EventData {
    /// The compact JSON text.
    pub json: String,
    /// The file it was read from, if any.
    pub path: Option<PathBuf>,
}

pub(super) fn parse_event_data(text: &str) -> Result<EventData, String> {
    if text.len() as u64 > MAX_EVENT_BYTES {
        return Err(format!(
            "the data is larger than {}, the most an event may be (nats-server's default max_payload)",
            connection::size(MAX_EVENT_BYTES)
        ));
    }
    let json = check_event_json(text)?;
    Ok(EventData { json, path: None })
}

/// Reads an event's data from a JSON file: one JSON object of at most 1 MiB
/// ([`MAX_EVENT_BYTES`]), returned compacted.
pub fn read_event_file(path: &str) -> Result<EventData, String> {
    let bytes = connection::read_at_most(Path::new(path), MAX_EVENT_BYTES, EVENT_LIMIT)?;
    event_of_file(path, bytes)
}

/// The event in the bytes read from the file `path`.
fn event_of_file(path: &str, bytes: Vec<u8>) -> Result<EventData, String> {
    let text = String::from_utf8(without_bom(bytes))
        .map_err(|_| format!("cannot read {path}: it is not UTF-8 text"))?;
    let json = check_event_json(&text).map_err(|err| format!("{path}: {err}"))?;
    Ok(EventData {
        json,
        path: Some(PathBuf::from(path)),
    })
}

/// Checks that `text` is one JSON object and returns it compacted, keys in
/// their original order, as `JSON.stringify` would send it.
pub fn check_event_json(text: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| json_error(text, &err))?;
    if !value.is_object() {
        return Err(format!(
            "an event's data must be a JSON object like {{\"id\":\"123\"}}, not {}",
            kind_of(&value)
        ));
    }
    Ok(compact_json(text))
}

/// A JSON error with its line and column. serde_json finds a trailing comma
/// only at the `}` or `]` after it, often on the next line: the error names
/// the comma's own place instead, where an editor shows the mistake.
pub(super) fn json_error(text: &str, err: &serde_json::Error) -> String {
    let message = err.to_string();
    if message.starts_with("trailing comma") && err.line() > 0 {
        // The byte offset of the error's line and column (columns count from 1).
        let line_start: usize = text
            .split_inclusive('\n')
            .take(err.line() - 1)
            .map(str::len)
            .sum();
        let at = (line_start + err.column().saturating_sub(1)).min(text.len());
        if let Some(comma) = text[..at].rfind(|c: char| !c.is_whitespace())
            && text[comma..].starts_with(',')
        {
            let line = text[..comma].matches('\n').count() + 1;
            let column = comma - text[..comma].rfind('\n').map_or(0, |i| i + 1) + 1;
            return format!("not valid JSON: trailing comma at line {line} column {column}");
        }
    }
    format!("not valid JSON: {message}")
}

pub(super) fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Drops the whitespace between JSON tokens of already valid JSON.
pub(super) fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    compact_into(&mut out, text);
    out
}

/// [`compact_json`], appending to `out`.
fn compact_into(out: &mut String, text: &str) {
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_lines_(bytes: &[u8]) -> Result<Vec<Bytes>, String> {
        let packed = event_lines(bytes.to_vec(), &HeaderMap::new())?;
        Ok((0..packed.len()).map(|i| packed.get(i)).collect())
    }

    #[test]
    fn compacts_json_keeping_key_order_and_strings() {
        assert_eq!(
            check_event_json("{ \"title\" : \"a b\\\" c\",\n \"id\": 1 }").unwrap(),
            r#"{"title":"a b\" c","id":1}"#
        );
    }

    #[test]
    fn rejects_json_that_is_not_an_object_with_line_and_column() {
        assert!(check_event_json("[1]").unwrap_err().contains("an array"));
        let err = check_event_json("{\"id\":\n}").unwrap_err();
        assert!(err.contains("line 2 column 1"), "{err}");
    }

    #[test]
    fn lines_are_events_sharing_one_buffer_blank_lines_skipped() {
        let events = event_lines_(b"{ \"a\": 1 }\r\n\n  \n{\"b\":[2, 3]}").unwrap();
        assert_eq!(events, [&br#"{"a":1}"#[..], br#"{"b":[2,3]}"#]);
        let events =
            event_lines_("{ \"s\": \"a \\\" b\", \"é\" : \"\\\\\" }\n{}\n".as_bytes()).unwrap();
        assert_eq!(
            events,
            ["{\"s\":\"a \\\" b\",\"é\":\"\\\\\"}".as_bytes(), b"{}"]
        );
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let err = event_lines_(b"{}\n\n[1]\n").unwrap_err();
        assert_eq!(
            err,
            r#"line 3: an event's data must be a JSON object like {"id":"123"}, not an array"#
        );
        let err = event_lines_(b"{}\n{\"a\":}\n").unwrap_err();
        assert!(err.starts_with("line 2: not valid JSON: "), "{err}");
        assert!(err.ends_with("at column 6"), "{err}");
        assert_eq!(
            event_lines_(b"\n \n").unwrap_err(),
            "no events: every line is empty"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(without_bom(b"\xEF\xBB\xBF{}\n".to_vec()), b"{}\n");
        assert_eq!(without_bom(b"{}".to_vec()), b"{}");
    }

    #[test]
    fn a_trailing_comma_is_reported_where_it_stands() {
        let text = "{\n  \"id\": \"123\",\n  \"price\": 20,\n}\n";
        assert_eq!(
            check_event_json(text).unwrap_err(),
            "not valid JSON: trailing comma at line 3 column 14"
        );
    }
}
