//! Durations as learners type them: `500ms`, `30s`, `10m`, `1h`, `1d`, and
//! sums of them such as `1m30s` or `1d3h`, as natscli takes them.
//!
//! NATS Streaming's `setAckWait(30 * 1000)` took milliseconds; the flags here
//! take a number with a unit, so `--ack-wait 30s` reads the way it is meant.
//!
//! A hand parser rather than `humantime` or `jiff`: mixed units were already
//! read here, and days are one more unit. `humantime` would be one more crate
//! for the same grammar plus units nobody needs for an ack wait (months,
//! years, nanoseconds), and its errors list every unit it knows instead of
//! showing an example; `jiff` is a whole date-time library (time zones,
//! calendars) for what is one `match` here. Each error below says what to
//! type instead.

use std::time::Duration;

/// Parses `500ms`, `30s`, `10m`, `1h`, `1d` (24 hours) or a sum such as
/// `1m30s` or `1d3h`.
/// A unit is required: a bare `30` is ambiguous and rejected. The total is
/// at most `u64::MAX` milliseconds; each flag has a narrower range of its own.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: use a number and a unit, e.g. 30s".into());
    }
    let too_large = || format!("'{text}' is too large");
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "'{text}' is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m"
            ));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        if rest.starts_with(['.', ',']) {
            return Err(format!(
                "'{text}' has a fraction: use whole numbers and a smaller unit, e.g. 1h30m for 1.5h"
            ));
        }
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "'{text}' has no unit: add one of ms, s, m, h, d, e.g. {number}s"
                ));
            }
            other => {
                return Err(format!(
                    "'{text}' has an unknown unit '{other}': use ms, s, m, h or d"
                ));
            }
        };
        rest = &rest[unit_len..];
        total_ms = number
            .checked_mul(unit_ms)
            .and_then(|part| total_ms.checked_add(part))
            .ok_or_else(too_large)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration the way [`parse`] reads it: `30s`, `1m30s`, `500ms`.
/// Hours are the largest unit shown (`36h`, not `1d12h`), as in the flags'
/// ranges (`876000h`).
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let mut secs = duration.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_sums() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("1d3h"), Ok(Duration::from_secs(97_200)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn rejects_a_number_without_unit() {
        let err = parse("30").unwrap_err();
        assert!(err.contains("no unit"), "{err}");
    }

    #[test]
    fn rejects_unknown_units_negative_and_huge_values() {
        assert!(parse("3w").is_err());
        assert!(parse("1.5h").unwrap_err().contains("fraction"));
        assert!(parse("-5s").is_err());
        assert!(parse("99999999999999999999s").is_err());
        assert!(parse("18446744073709551615ms1ms").is_err());
        assert_eq!(parse("4294967296s"), Ok(Duration::from_secs(4_294_967_296)));
        assert!(parse("").is_err());
    }

    #[test]
    fn format_round_trips() {
        for text in ["500ms", "30s", "1m30s", "1h", "2h5m"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
