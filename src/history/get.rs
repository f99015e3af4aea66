//! Reading one stored event without a consumer: a direct get where the
//! stream allows it (any server of a cluster answers), a stream get
//! (`$JS.API.STREAM.MSG.GET`, the stream's leader answers) otherwise.
//!
//! The stream get is asked here rather than through async-nats's
//! `get_raw_message`, whose header parser keeps one value of a header
//! named twice (`publish -H a:1 -H a:2`); [`parse_headers`] keeps each.

use anyhow::Context as _;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream::RawMessage};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{StoredEvent, user_headers};

/// The server's code for "no message found" in a stream get's answer.
const NO_MESSAGE_FOUND: u64 = 10037;

/// Event `seq` of `stream`, or `None` if it is not stored (deleted, or
/// not yet).
pub(super) async fn get(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
    seq: u64,
    direct: bool,
) -> anyhow::Result<Option<StoredEvent>> {
    use async_nats::jetstream::stream::DirectGetErrorKind;
    if !direct {
        let name = &stream.cached_info().config.name;
        return stream_get(js, name, seq).await;
    }
    let message = match stream.direct_get(seq).await {
        Ok(message) => message,
        Err(err) if err.kind() == DirectGetErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("could not read event #{seq}")),
    };
    Ok(Some(StoredEvent {
        seq: message.sequence,
        time: message.time,
        data: message.payload,
        headers: user_headers(&message.headers),
    }))
}

/// The answer to a stream get: the event, or an error.
#[derive(Deserialize)]
struct Answer {
    message: Option<RawMessage>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

async fn stream_get(
    js: &jetstream::Context,
    stream: &str,
    seq: u64,
) -> anyhow::Result<Option<StoredEvent>> {
    let answer: Answer = js
        .request(
            format!("STREAM.MSG.GET.{stream}"),
            &serde_json::json!({ "seq": seq }),
        )
        .await
        .with_context(|| format!("could not read event #{seq}"))?;
    let message = match (answer.message, answer.error) {
        (Some(message), _) => message,
        (None, Some(error)) if error.err_code == NO_MESSAGE_FOUND => return Ok(None),
        (None, error) => anyhow::bail!(
            "could not read event #{seq}: {}",
            error.map_or_else(|| "the server sent no event".to_owned(), |e| e.description)
        ),
    };
    let data = STANDARD
        .decode(&message.payload)
        .with_context(|| format!("event #{seq} came with data that is not base64"))?;
    let headers = match &message.headers {
        Some(encoded) => {
            let block = STANDARD
                .decode(encoded)
                .with_context(|| format!("event #{seq} came with headers that are not base64"))?;
            user_headers(&parse_headers(&block))
        }
        None => None,
    };
    Ok(Some(StoredEvent {
        seq: message.sequence,
        time: message.time,
        data: data.into(),
        headers,
    }))
}

/// A header block (`NATS/1.0\r\nName: value\r\n...`) as a map that keeps
/// every value of a name given more than once, in order. Lines that are
/// not `name: value` are left out.
pub(super) fn parse_headers(block: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let text = String::from_utf8_lossy(block);
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        headers.append(name, value.trim());
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_named_twice_keeps_both_values() {
        let headers =
            parse_headers(b"NATS/1.0\r\na: 1\r\nNats-Msg-Id: x-1\r\na: 2\r\nB: x\r\n\r\n");
        let values: Vec<&str> = headers.get_all("a").map(|v| v.as_str()).collect();
        assert_eq!(values, ["1", "2"]);
        let users = user_headers(&headers).expect("the application's headers");
        assert_eq!(users["a"], ["1", "2"]);
        assert_eq!(users["B"], ["x"]);
        assert!(!users.contains_key("Nats-Msg-Id"));
    }
}
