//! An event's data as the flags give it (`--data`, `--data-file`): one JSON
//! object, at most [`MAX_EVENT_BYTES`](super::MAX_EVENT_BYTES), compacted
//! the way `JSON.stringify` sends it.

use std::path::{Path, PathBuf};

use super::MAX_EVENT_BYTES;
use crate::connection;

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
    let bytes = connection::read_at_most(
        Path::new(path),
        MAX_EVENT_BYTES,
        "the most an event may be (nats-server's default max_payload)",
    )?;
    let text = String::from_utf8(bytes)
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_trailing_comma_is_reported_where_it_stands() {
        let text = "{\n  \"id\": \"123\",\n  \"price\": 20,\n}\n";
        assert_eq!(
            check_event_json(text).unwrap_err(),
            "not valid JSON: trailing comma at line 3 column 14"
        );
    }
}
