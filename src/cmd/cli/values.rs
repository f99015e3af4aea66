//! The value parsers of single flags: server lists, durations within their
//! range, names the server takes. Each returns the one-line message clap
//! shows for a bad value.

use super::*;

/// One or more server addresses, as `--server` gives them.
#[derive(Debug, Clone)]
pub struct Servers(pub Vec<ServerAddr>);

pub(crate) fn parse_servers(text: &str) -> Result<Servers, String> {
    connection::parse_servers(text).map(Servers)
}

/// A duration flag's parser, taking `min..=max`.
pub(crate) fn duration_in(
    (min, max): (Duration, Duration),
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value = duration::parse(text)?;
        if value < min || value > max {
            return Err(format!(
                "must be from {} to {}",
                duration::format(min),
                duration::format(max)
            ));
        }
        Ok(value)
    }
}

/// The most steps `--backoff` takes (the server takes fewer steps than
/// `--max-deliver`, itself at most 10000; a lesson needs a handful).
pub const MAX_BACKOFF_STEPS: usize = 100;

/// `--backoff`: waits separated by commas, each within `ACK_WAIT_RANGE`,
/// none shorter than the one before.
pub(crate) fn parse_backoff(text: &str) -> Result<Backoff, String> {
    if text.trim().is_empty() {
        return Err("give at least one wait, e.g. 1s,5s,30s".into());
    }
    let steps = text
        .split(',')
        .map(|step| duration_in(ACK_WAIT_RANGE)(step.trim()).map_err(|e| format!("{step:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if steps.len() > MAX_BACKOFF_STEPS {
        return Err(format!(
            "{} waits; at most {MAX_BACKOFF_STEPS}",
            steps.len()
        ));
    }
    if let Some(pair) = steps.windows(2).find(|pair| pair[1] < pair[0]) {
        return Err(format!(
            "the waits must not get shorter: {} comes after {}",
            duration::format(pair[1]),
            duration::format(pair[0])
        ));
    }
    Ok(Backoff(steps))
}

/// The waits of `--backoff`, one value for clap.
#[derive(Debug, Clone)]
pub struct Backoff(pub Vec<Duration>);

/// Checks `--client-id`: the server refuses a CONNECT longer than its
/// max_control_line (4 KiB), which also carries the credentials.
pub(crate) fn parse_client_id(id: &str) -> Result<String, String> {
    if id.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the client id is {} bytes long; it may have at most {MAX_NAME_BYTES}",
            id.len()
        ));
    }
    Ok(id.to_owned())
}

/// A file can be watched when its folder exists (the file itself may come later).
pub(crate) fn watchable(path: &std::path::Path) -> bool {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.is_dir(),
        _ => true,
    }
}

/// Checks a queue group or durable name: JetStream uses it as a consumer name.
pub(crate) fn parse_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the name is {} bytes long; it may have at most {MAX_NAME_BYTES}, \
             the longest consumer name nats-server takes",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Err(format!(
            "'{name}' contains {c:?}; use letters, digits, '-', '_' or ':'"
        ));
    }
    Ok(name.to_owned())
}

/// A client id as a consumer name: at most 32 characters, anything but
/// letters, digits, `-` and `_` as `_`.
pub(crate) fn consumer_safe(id: &str) -> String {
    id.chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks `--start-time`: an RFC 3339 time with its offset, such as
/// `2024-05-01T12:00:00Z`, within the times nats-server takes
/// ([`StartPosition::TIME_RANGE`](nats_course_toolkit::StartPosition::TIME_RANGE)); kept
/// in UTC. (`9999-12-31T23:59:59-23:59` is the year 10000 in UTC, which
/// `time` cannot even hold.)
pub(crate) fn parse_start_time(text: &str) -> Result<time::OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    let start = time::OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|err| {
        format!(
            "'{text}' is not an RFC 3339 time ({err}): write a date, a time and an offset, \
             e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00"
        )
    })?;
    let range = nats_course_toolkit::StartPosition::TIME_RANGE;
    let nanos = |seconds: i64| i128::from(seconds) * 1_000_000_000;
    if !(nanos(*range.start())..=nanos(*range.end())).contains(&start.unix_timestamp_nanos()) {
        let show = |seconds: i64| {
            time::OffsetDateTime::from_unix_timestamp(seconds)
                .ok()
                .and_then(|at| at.format(&Rfc3339).ok())
                .unwrap_or_default()
        };
        return Err(format!(
            "'{text}' is out of range: nats-server takes times from {} to {} \
             (nanoseconds since 1970 in 64 bits)",
            show(*range.start()),
            show(*range.end())
        ));
    }
    // In range, its time in UTC is one `time` can hold.
    Ok(start.to_offset(time::UtcOffset::UTC))
}
