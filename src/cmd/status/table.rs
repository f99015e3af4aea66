//! `status`'s table: per channel, what it stores, then one row per
//! subscription with its place in the history.
//!
//! Names come from the server, and anyone who can create a stream or a
//! consumer chooses them: their control characters are escaped as event
//! data's are, so that none reaches the terminal and no newline forges a row.

use std::io::{self, Write};

use nats_course_toolkit::connection::size;
use nats_course_toolkit::duration;
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};
use nats_course_toolkit::notes::escape_control;

/// The columns, in the course's words. JetStream's names, where they
/// differ: DELIVERED is `delivered.stream_seq`, ACK FLOOR `ack_floor.stream_seq`,
/// ACK PENDING `num_ack_pending`, REDELIVERED `num_redelivered`, PENDING
/// `num_pending` and WAITING `num_waiting` (pull requests).
const HEADERS: [&str; 12] = [
    "SUBSCRIPTION",
    "QUEUE GROUP",
    "DURABLE",
    "START",
    "ACK WAIT",
    "MAX DELIVER",
    "DELIVERED",
    "ACK FLOOR",
    "ACK PENDING",
    "REDELIVERED",
    "PENDING",
    "WAITING",
];

/// Writes one block per channel. With no channel at all, says how to get
/// one; `asked_for_one` is whether a channel was named.
pub fn write(
    channels: &[ChannelStatus],
    asked_for_one: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    if channels.is_empty() && !asked_for_one {
        return writeln!(
            out,
            "No channels yet: publish an event first (make publish)."
        );
    }
    for channel in channels {
        writeln!(out)?;
        write_channel(channel, out)?;
    }
    Ok(())
}

fn write_channel(channel: &ChannelStatus, out: &mut impl Write) -> io::Result<()> {
    write!(
        out,
        "Channel {} (stream {}): ",
        escape_control(&channel.channel),
        escape_control(&channel.stream)
    )?;
    match channel.events {
        0 => writeln!(out, "no events stored")?,
        1 => writeln!(
            out,
            "1 event, #{}, {}",
            channel.first_seq,
            size(channel.bytes)
        )?,
        n => writeln!(
            out,
            "{n} events, #{} to #{}, {}",
            channel.first_seq,
            channel.last_seq,
            size(channel.bytes)
        )?,
    }
    if channel.subscriptions.is_empty() {
        return writeln!(out, "  no subscriptions");
    }
    let rows: Vec<[String; 12]> = channel.subscriptions.iter().map(row).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headers = HEADERS.map(str::to_owned);
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::from("  ");
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            // Names on the left, numbers on the right.
            if i < 6 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("{cell:>width$}"));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    // The events given up: kept aside by the server, for a dead-letter
    // listener (`listen --max-deliver N --dead-letter CHANNEL`).
    for s in channel.subscriptions.iter().filter(|s| s.given_up > 0) {
        let events = if s.given_up == 1 { "event" } else { "events" };
        writeln!(
            out,
            "  {}: {} {events} given up after {} deliveries (notices kept in stream {})",
            escape_control(&s.name),
            s.given_up,
            s.max_deliver.map_or("its".into(), |n| n.to_string()),
            nats_course_toolkit::subscription::record_stream_name(&channel.stream),
        )?;
    }
    Ok(())
}

fn row(s: &SubscriptionStatus) -> [String; 12] {
    let seq = |n: u64| {
        if n == 0 {
            "-".to_owned()
        } else {
            format!("#{n}")
        }
    };
    [
        escape_control(&s.name).into_owned(),
        s.queue_group
            .as_deref()
            .map_or("-".into(), |group| escape_control(group).into_owned()),
        if s.durable { "yes" } else { "no" }.into(),
        s.start.clone(),
        duration::format(s.ack_wait()),
        s.max_deliver.map_or("-".into(), |n| n.to_string()),
        seq(s.delivered),
        seq(s.ack_floor),
        s.ack_pending.to_string(),
        s.redelivered.to_string(),
        s.pending.to_string(),
        s.waiting.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(name: &str) -> SubscriptionStatus {
        SubscriptionStatus {
            name: name.into(),
            queue_group: None,
            durable: false,
            start: "all".into(),
            ack_wait_ms: 30_000,
            max_deliver: None,
            delivered: 5,
            ack_floor: 5,
            ack_pending: 0,
            redelivered: 0,
            pending: 0,
            waiting: 1,
            deliveries: 5,
            floor_delivery: 5,
            pushed: false,
            push_bound: false,
            given_up: 0,
            paused_until: None,
        }
    }

    fn render(channels: &[ChannelStatus], one: bool) -> String {
        let mut out = Vec::new();
        write(channels, one, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The table of the manual-ack lesson: a queue group with 3 events
    /// waiting for their acks, redelivered once, next to a listener of its
    /// own that acked everything.
    #[test]
    fn a_channel_shows_one_row_per_subscription() {
        let group = SubscriptionStatus {
            queue_group: Some("orders-microservice-queue-group".into()),
            start: "new".into(),
            delivered: 5,
            ack_floor: 2,
            ack_pending: 3,
            redelivered: 3,
            ack_wait_ms: 5_000,
            max_deliver: Some(10),
            ..subscription("orders-microservice-queue-group")
        };
        let channels = [ChannelStatus {
            channel: "ticket:created".into(),
            stream: "TICKET_CREATED".into(),
            events: 5,
            first_seq: 1,
            last_seq: 5,
            bytes: 610,
            subscriptions: vec![group, subscription("3f9a01bc")],
        }];
        insta::assert_snapshot!(render(&channels, false), @r"

        Channel ticket:created (stream TICKET_CREATED): 5 events, #1 to #5, 610 bytes
          SUBSCRIPTION                     QUEUE GROUP                      DURABLE  START  ACK WAIT  MAX DELIVER  DELIVERED  ACK FLOOR  ACK PENDING  REDELIVERED  PENDING  WAITING
          orders-microservice-queue-group  orders-microservice-queue-group  no       new    5s        10                  #5         #2            3            3        0        1
          3f9a01bc                         -                                no       all    30s       -                   #5         #5            0            0        0        1
        ");
    }

    /// No channel yet: the table says how to make one.
    #[test]
    fn no_channels_says_how_to_get_one() {
        assert_eq!(
            render(&[], false),
            "No channels yet: publish an event first (make publish).\n"
        );
    }

    /// A channel without events or subscriptions says so in words.
    #[test]
    fn an_empty_channel_says_so() {
        let channels = [ChannelStatus {
            channel: "order:created".into(),
            stream: "ORDER_CREATED".into(),
            events: 0,
            first_seq: 0,
            last_seq: 0,
            bytes: 0,
            subscriptions: vec![],
        }];
        assert_eq!(
            render(&channels, true),
            "\nChannel order:created (stream ORDER_CREATED): no events stored\n  no subscriptions\n"
        );
    }
}
