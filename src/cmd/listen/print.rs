//! How `listen` prints an event: in the course's words
//! (`Received event #<seq>, with data: <data>`), or as one JSON object per
//! line with `--json`; and the line for an event the server gave up.

use std::io::{IsTerminal, Write};

use super::{ListenConfig, Settle};
use crate::color;
use nats_course_toolkit::notes::{write_escaped, write_rfc3339};
use nats_course_toolkit::subscription::{Delivery, GivenUp};

/// Prints events in the course's words, or as JSON lines with `--json`.
pub(super) struct Printer {
    json: bool,
    channel_json: String,
    timestamp: bool,
    /// Colour the lines (never with `--json`).
    color: bool,
    settle: Settle,
    /// The subscription's waits before redeliveries (`--backoff`, `--ack-wait`)
    /// and its `--max-deliver`, for the redelivered and failed lines.
    subscription: nats_course_toolkit::subscription::SubscriptionOptions,
}

impl Printer {
    pub(super) fn new(config: &ListenConfig) -> Printer {
        Printer {
            json: config.json,
            channel_json: serde_json::to_string(config.subscription.channel.as_str())
                .expect("a string serialises"),
            timestamp: config.timestamp,
            color: !config.json && config.color.enabled(std::io::stdout().is_terminal()),
            settle: config.settle,
            subscription: config.subscription.clone(),
        }
    }

    /// `style` when colouring, else no style at all (it prints nothing).
    fn style(&self, style: anstyle::Style) -> anstyle::Style {
        if self.color {
            style
        } else {
            anstyle::Style::new()
        }
    }

    /// The colour of an event's line, if it has one: none for a plain first
    /// delivery that is acked, nor without colour (the common case costs
    /// no formatting).
    fn line_style(&self, event: &Delivery) -> Option<anstyle::Style> {
        if !self.color {
            return None;
        }
        match self.settle {
            Settle::Nak(_) | Settle::Term => Some(color::NOT_ACKED),
            _ if event.redelivered() => Some(color::REDELIVERED),
            _ => None,
        }
    }

    pub(super) fn print_given_up(
        &self,
        out: &mut impl Write,
        given_up: GivenUp,
    ) -> std::io::Result<()> {
        let dead_letter = given_up
            .dead_letter
            .zip(self.subscription.dead_letter.as_ref());
        if self.json {
            write!(
                out,
                "{{\"seq\":{},\"channel\":{},\"given_up_after\":{}",
                given_up.sequence, self.channel_json, given_up.deliveries
            )?;
            if let Some((letter, channel)) = dead_letter {
                let channel = serde_json::to_string(channel.as_str()).expect("a string serialises");
                write!(
                    out,
                    ",\"dead_letter\":{{\"channel\":{channel},\"seq\":{},\"duplicate\":{}}}",
                    letter.sequence, letter.duplicate
                )?;
            }
            out.write_all(b"}\n")
        } else {
            let style = self.style(color::NOT_ACKED);
            write!(
                out,
                "{style}Event #{} was given up after {} deliveries without an ack (--max-deliver)",
                given_up.sequence, given_up.deliveries
            )?;
            if let Some((letter, channel)) = dead_letter {
                let already = if letter.duplicate {
                    ", where it was already"
                } else {
                    ""
                };
                write!(
                    out,
                    "; sent to the dead-letter channel {channel} as event #{}{already}",
                    letter.sequence
                )?;
            }
            writeln!(out, "{style:#}")
        }
    }

    pub(super) fn print(
        &self,
        out: &mut impl Write,
        event: &Delivery,
        failed: bool,
    ) -> std::io::Result<()> {
        if self.json {
            return self.print_json(out, event, failed);
        }
        // Colour goes around the whole line; the masking writer takes the
        // line whole, codes and all, so nothing it hides is split.
        let style = match failed {
            true if self.color => Some(color::NOT_ACKED),
            _ => self.line_style(event),
        };
        if let Some(style) = style {
            write!(out, "{style}")?;
        }
        if self.timestamp {
            write_rfc3339(out, event.published)?;
            out.write_all(b" ")?;
        }
        write!(out, "Received event #{}, with data: ", event.sequence)?;
        write_escaped(out, &String::from_utf8_lossy(&event.data))?;
        let mut open = false;
        let mut say = |out: &mut dyn Write, what: std::fmt::Arguments<'_>| {
            let sep = if open { "; " } else { " (" };
            open = true;
            write!(out, "{sep}{what}")
        };
        let format = nats_course_toolkit::duration::format;
        if event.redelivered() {
            // With --backoff, the wait it came back after (a nak'd event
            // comes back at once or after its delay instead).
            match self.subscription.wait_before(event.delivered) {
                Some(wait)
                    if !self.subscription.backoff.is_empty()
                        && !matches!(self.settle, Settle::Nak(_)) =>
                {
                    say(
                        out,
                        format_args!(
                            "redelivered, delivery #{}, after {}",
                            event.delivered,
                            format(wait)
                        ),
                    )?
                }
                _ => say(
                    out,
                    format_args!("redelivered, delivery #{}", event.delivered),
                )?,
            }
        }
        if failed {
            let wait = self
                .subscription
                .wait_before(event.delivered.saturating_add(1))
                .map_or_else(String::new, format);
            let last = self
                .subscription
                .max_deliver
                .is_some_and(|max| event.delivered >= u64::from(max));
            if last {
                say(
                    out,
                    format_args!(
                        "failed: not acked; its last delivery (--max-deliver), so the server \
                         gives it up after {wait}"
                    ),
                )?;
            } else {
                say(
                    out,
                    format_args!("failed: not acked, so it comes back after {wait}"),
                )?;
            }
            if open {
                out.write_all(b")")?;
            }
            return match style {
                Some(style) => writeln!(out, "{style:#}"),
                None => out.write_all(b"\n"),
            };
        }
        match self.settle {
            Settle::Nak(None) => say(
                out,
                format_args!("nak'd: the server sends it again at once"),
            )?,
            Settle::Nak(Some(delay)) => say(
                out,
                format_args!(
                    "nak'd: the server sends it again after {}",
                    nats_course_toolkit::duration::format(delay)
                ),
            )?,
            Settle::Term => say(
                out,
                format_args!("terminated: the server never sends it again"),
            )?,
            Settle::Ack | Settle::Later | Settle::Progress => {}
        }
        if open {
            out.write_all(b")")?;
        }
        match style {
            Some(style) => writeln!(out, "{style:#}"),
            None => out.write_all(b"\n"),
        }
    }

    /// One JSON object: seq, channel, delivery, redelivered, published,
    /// pending, headers (when there are any), data.
    fn print_json(
        &self,
        out: &mut impl Write,
        event: &Delivery,
        failed: bool,
    ) -> std::io::Result<()> {
        write!(
            out,
            "{{\"seq\":{},\"channel\":{},\"delivery\":{},\"redelivered\":{},\"published\":\"",
            event.sequence,
            self.channel_json,
            event.delivered,
            event.redelivered()
        )?;
        write_rfc3339(out, event.published)?;
        write!(out, "\",\"pending\":{}", event.pending)?;
        if failed {
            out.write_all(b",\"failed\":true")?;
        }
        if let Some(headers) = event
            .headers
            .as_ref()
            .and_then(nats_course_toolkit::history::user_headers)
        {
            nats_course_toolkit::notes::write_headers_json(out, &headers)?;
        }
        out.write_all(b",\"data\":")?;
        nats_course_toolkit::notes::write_data_json(out, &event.data)?;
        out.write_all(b"}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_times_have_milliseconds_in_utc() {
        let mut out = Vec::new();
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        write_rfc3339(&mut out, at).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "2023-11-14T22:13:20.120Z");
    }

    #[test]
    fn a_coloured_line_is_still_masked_whole() {
        // A URL's password in an event's data, on a line in colour.
        let mut out = Vec::new();
        {
            let mut masked = crate::mask::Masked::line_buffered(&mut out);
            let style = color::REDELIVERED;
            write!(masked, "{style}Received event #1, with data: nats://ana:").unwrap();
            writeln!(masked, "Pw9x@host:4222 (redelivered, delivery #2){style:#}").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[33mReceived event #1, with data: nats://ana:***@host:4222 \
             (redelivered, delivery #2)\x1b[0m\n"
        );
    }
}
