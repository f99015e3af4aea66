//! Drawing the live view: a pure function of its [`State`].
//!
//! ```text
//! ticket:created (stream TICKET_CREATED): 3 events, #1 to #3      channel 1 of 2, Tab
//! NATS server nats://localhost:4222
//!   1  2  3                                 ← the tape: event numbers, newest at the right
//! ─────▲───────────────────────────────────
//! orders-service (queue group, ack wait 5s)  ← one lane per subscription
//!  ██ R2 ▒▒                                 ← each event's state
//!  delivered #3  ack floor #1  ack pending 2  redelivered 1  pending 0  waiting 1
//! █ acked  ▒ waiting  R2 redelivered (2nd delivery)  x given up  ░ acked or waiting  · not delivered
//! ←/→ select  End newest  Enter event data  Tab channel  q quit
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub use super::lines::cell;
use super::lines::{
    Palette, banner, counts_line, keys_line, legend, masked, name_line, title_line,
};
use super::state::{LANE, MARGIN, MIN_HEIGHT, MIN_WIDTH, Popup, State, TOP};
use crate::history::watch::Mark;

/// Draws `state` on the whole frame.
pub fn draw(frame: &mut Frame, state: &State) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        super::small::draw(frame);
        return;
    }
    let palette = Palette::new(state.no_color);
    let row = |y: u16| Rect::new(area.x, area.y + y, area.width, 1);
    let Some(channel) = state.current() else {
        frame.render_widget(title_line(state, None), row(0));
        frame.render_widget(banner(state, &palette), row(1));
        let line = "No channels yet: publish an event first (make publish).";
        frame.render_widget(Paragraph::new(line).centered(), row(area.height / 2));
        frame.render_widget(keys_line(state), row(area.height - 1));
        return;
    };
    frame.render_widget(title_line(state, Some(channel)), row(0));
    frame.render_widget(banner(state, &palette), row(1));
    let window = state.window();
    let width = state.cell_width();
    let selected = state.selected();
    let stored = state.stored();
    // The tape: each event's number, newest at the right, the selected one
    // reversed and pointed at.
    let mut numbers = vec![Span::raw(" ".repeat(usize::from(MARGIN)))];
    let mut rule = "─".repeat(usize::from(MARGIN));
    for seq in window.clone() {
        let text = if stored.contains(&seq) {
            format!("{seq:>w$}", w = usize::from(width - 1))
        } else {
            " ".repeat(usize::from(width - 1))
        };
        let style = if Some(seq) == selected {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new()
        };
        numbers.push(Span::styled(text, style));
        numbers.push(Span::raw(" "));
        rule.push_str(&"─".repeat(usize::from(width - 2)));
        rule.push_str(if Some(seq) == selected { "▲" } else { "─" });
        rule.push('─');
    }
    frame.render_widget(Line::from(numbers), row(2));
    frame.render_widget(Paragraph::new(rule), row(3));

    let subscriptions = &channel.subscriptions;
    if subscriptions.is_empty() {
        let line = "No subscriptions: start a listener (make listen) to see its lane here.";
        frame.render_widget(Paragraph::new(line), row(TOP + 1));
    }
    let (first, shown) = state.lanes(area.height);
    for (i, subscription) in subscriptions.iter().skip(first).take(shown).enumerate() {
        let y = TOP + LANE * i as u16;
        let lane = state.watch.lane(channel, subscription);
        frame.render_widget(name_line(subscription, &lane, area.width), row(y));
        let mut cells = vec![Span::raw(" ".repeat(usize::from(MARGIN)))];
        for seq in window.clone() {
            let mark = lane.mark(seq);
            let mut style = palette.mark(mark);
            if Some(seq) == selected && mark != Mark::NotStored {
                style = style.add_modifier(Modifier::REVERSED);
            }
            cells.push(Span::styled(cell(mark, usize::from(width - 1)), style));
            cells.push(Span::raw(" "));
        }
        frame.render_widget(Line::from(cells), row(y + 1));
        frame.render_widget(counts_line(subscription, &palette), row(y + 2));
    }
    if shown < subscriptions.len() {
        let (above, below) = (first, subscriptions.len() - first - shown);
        let line = format!(
            "lanes {} to {} of {}: {above} above, {below} below (↑/↓ to scroll)",
            first + 1,
            first + shown,
            subscriptions.len()
        );
        frame.render_widget(Paragraph::new(line), row(TOP + LANE * shown as u16));
    }
    frame.render_widget(legend(&palette), row(area.height - 2));
    frame.render_widget(keys_line(state), row(area.height - 1));
    if let Some(popup) = &state.popup {
        draw_popup(frame, popup);
    }
}

fn draw_popup(frame: &mut Frame, popup: &Popup) {
    let area = frame.area();
    let (width, height) = (area.width.min(72), area.height.min(16));
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let (title, lines) = match popup {
        Popup::Loading(seq) => (format!(" event #{seq} "), vec![Line::from("reading…")]),
        Popup::Failed(seq, why) => (format!(" event #{seq} "), vec![Line::from(masked(why))]),
        Popup::Event(event) => {
            let mut lines = vec![Line::from(format!(
                "stored {}",
                crate::history::rfc3339(event.time)
            ))];
            for (name, values) in event.headers.iter().flatten() {
                for value in values {
                    lines.push(Line::from(format!("{}: {}", masked(name), masked(value))));
                }
            }
            lines.push(Line::from(""));
            let data = String::from_utf8_lossy(&event.data);
            lines.push(Line::from(masked(&data)));
            (format!(" event #{} ", event.seq), lines)
        }
    };
    let block = Block::bordered()
        .title(title)
        .title_bottom(Line::from(" Esc closes ").right_aligned());
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::history::watch::Notice;
    use crate::history::{ChannelStatus, SubscriptionStatus};
    use ratatui::style::Color;

    fn sub(name: &str) -> SubscriptionStatus {
        SubscriptionStatus {
            name: name.into(),
            queue_group: None,
            durable: false,
            start: "all".into(),
            ack_wait_ms: 30_000,
            max_deliver: None,
            delivered: 0,
            ack_floor: 0,
            ack_pending: 0,
            redelivered: 0,
            pending: 0,
            waiting: 1,
            deliveries: 0,
            floor_delivery: 0,
            pushed: false,
            push_bound: false,
        }
    }

    /// A channel of 12 events and six subscriptions, one per state: all
    /// acked; 3 waiting; acked out of order (told by an ack report); one
    /// given up (told by an advisory); a span the counts cannot tell
    /// apart; a queue group with a NAKed event and one redelivered.
    fn lesson() -> State {
        let acked = SubscriptionStatus {
            delivered: 12,
            ack_floor: 12,
            ..sub("a-acked-everything")
        };
        let waiting = SubscriptionStatus {
            delivered: 12,
            ack_floor: 9,
            ack_pending: 3,
            ..sub("b-skip-ack")
        };
        let out_of_order = SubscriptionStatus {
            delivered: 5,
            ack_floor: 2,
            ack_pending: 2,
            pending: 7,
            ..sub("c-out-of-order")
        };
        let redelivered = SubscriptionStatus {
            queue_group: Some("orders-service".into()),
            durable: true,
            ack_wait_ms: 5_000,
            delivered: 3,
            ack_floor: 1,
            ack_pending: 2,
            redelivered: 2,
            pending: 9,
            ..sub("orders-service")
        };
        let given_up = SubscriptionStatus {
            max_deliver: Some(3),
            delivered: 12,
            ack_floor: 12,
            ..sub("d-max-deliver")
        };
        let behind = SubscriptionStatus {
            delivered: 6,
            ack_floor: 4,
            ack_pending: 1,
            pending: 6,
            ..sub("e-slow")
        };
        let channel = ChannelStatus {
            channel: "ticket:created".into(),
            stream: "TICKET_CREATED".into(),
            events: 12,
            first_seq: 1,
            last_seq: 12,
            bytes: 1_200,
            subscriptions: vec![acked, waiting, out_of_order, given_up, behind, redelivered],
        };
        let mut state = State::new(vec![channel], true, "nats://localhost:4222".into());
        let notice = |kind: &str, consumer: &str, seq: u64, deliveries: u64| {
            Notice::parse(format!(
                r#"{{"type":"io.nats.jetstream.{kind}","stream":"TICKET_CREATED","consumer":"{consumer}","stream_seq":{seq},"deliveries":{deliveries}}}"#
            ).as_bytes())
            .unwrap()
        };
        state
            .watch
            .notice(notice("advisory.v1.max_deliver", "d-max-deliver", 7, 3));
        state
            .watch
            .notice(notice("advisory.v1.nak", "orders-service", 2, 1));
        state
            .watch
            .notice(notice("metric.v1.consumer_ack", "c-out-of-order", 4, 1));
        state
    }

    fn render(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, state)).unwrap();
        terminal
    }

    /// Every state in one view: acked, waiting, redelivered (with its
    /// count where an advisory told it), given up, unsure, not delivered.
    #[test]
    fn lanes_show_each_state() {
        let state = lesson();
        insta::assert_snapshot!(render(&state, 80, 24).backend());
    }

    /// The screen's text, row by row.
    fn screen(terminal: &Terminal<TestBackend>) -> String {
        let buffer = terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        let symbols: Vec<&str> = buffer.content().iter().map(|cell| cell.symbol()).collect();
        symbols
            .chunks(width)
            .map(|row| row.concat() + "\n")
            .collect()
    }

    /// More lanes than fit (9 at 80×24, where 5 show): the row under them
    /// says which are shown and how many are above and below, and ↓
    /// scrolls down to the last one (no further), ↑ back up.
    #[test]
    fn lanes_past_the_screen_scroll_and_say_how_many_are_off_screen() {
        let subscriptions = (1..=9).map(|i| sub(&format!("lane-{i}"))).collect();
        let channel = ChannelStatus {
            channel: "ticket:created".into(),
            stream: "TICKET_CREATED".into(),
            events: 0,
            first_seq: 0,
            last_seq: 0,
            bytes: 0,
            subscriptions,
        };
        let mut state = State::new(vec![channel], true, "nats://localhost:4222".into());
        let text = screen(&render(&state, 80, 24));
        assert!(
            text.contains("lanes 1 to 5 of 9: 0 above, 4 below (↑/↓ to scroll)"),
            "{text}"
        );
        assert!(
            text.contains("lane-5") && !text.contains("lane-6"),
            "{text}"
        );
        assert!(text.contains("↑/↓ lanes"), "{text}");
        for _ in 0..10 {
            state.scroll_lanes(1);
        }
        let text = screen(&render(&state, 80, 24));
        assert!(
            text.contains("lanes 5 to 9 of 9: 4 above, 0 below"),
            "{text}"
        );
        assert!(
            text.contains("lane-9") && !text.contains("lane-4 "),
            "{text}"
        );
        state.scroll_lanes(-1);
        let text = screen(&render(&state, 80, 24));
        assert!(
            text.contains("lanes 4 to 8 of 9: 3 above, 1 below"),
            "{text}"
        );
    }

    /// A terminal under 80×24 gets one line that says so.
    #[test]
    fn a_small_terminal_says_so() {
        let state = lesson();
        insta::assert_snapshot!(render(&state, 60, 20).backend());
    }

    /// With NO_COLOR no cell has a colour, and the states still read by
    /// their characters.
    #[test]
    fn no_color_draws_without_colours() {
        let mut state = lesson();
        state.no_color = true;
        let terminal = render(&state, 80, 24);
        let buffer = terminal.backend().buffer();
        assert!(
            buffer
                .content()
                .iter()
                .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset),
            "no colour with NO_COLOR"
        );
        insta::assert_snapshot!(terminal.backend());
        // With colours, the same characters.
        let coloured = render(&lesson(), 80, 24);
        assert_eq!(
            format!("{}", coloured.backend()),
            format!("{}", terminal.backend())
        );
    }

    /// The banner says the connection is being restored; the popup shows
    /// the selected event's data over the tape.
    #[test]
    fn banner_and_popup() {
        let mut state = lesson();
        state.banner = Some("connection lost: reconnecting to nats://localhost:4222 …".into());
        state.popup = Some(Popup::Event(crate::history::StoredEvent {
            seq: 12,
            time: time::OffsetDateTime::from_unix_timestamp(1_796_030_497).unwrap(),
            data: bytes::Bytes::from_static(br#"{"id":"123","title":"concert","price":20}"#),
            headers: None,
        }));
        insta::assert_snapshot!(render(&state, 80, 24).backend());
    }

    /// Nothing drawn shows a password: not the event's data or headers in
    /// the popup, not the banner's error, not a channel's name (the same
    /// masking as every line `listen` writes).
    #[test]
    fn no_password_is_drawn() {
        let url = "https://bob:hunter2@tickets.example/x";
        let mut state = lesson();
        state.banner = Some(format!("could not reach {url}"));
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("Origin".to_owned(), vec![url.to_owned()]);
        state.popup = Some(Popup::Event(crate::history::StoredEvent {
            seq: 12,
            time: time::OffsetDateTime::from_unix_timestamp(1_796_030_497).unwrap(),
            data: bytes::Bytes::from(format!(r#"{{"callback":"{url}"}}"#)),
            headers: Some(headers),
        }));
        let text = screen(&render(&state, 80, 24));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("https://bob:***@tickets.example/x"), "{text}");
        // The error of a popup, a title and the banner's server line.
        state.popup = Some(Popup::Failed(12, format!("no answer from {url}")));
        state.banner = None;
        state.server = "nats://ana:s3cret-pw@localhost:4222".into();
        let mut channel = state.current().unwrap().clone();
        channel.channel = format!("hooks.{url}");
        state.update(vec![channel]);
        let text = screen(&render(&state, 80, 24));
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret-pw"),
            "{text}"
        );
    }

    /// A channel of many events: the tape scrolls, the newest at the right.
    #[test]
    fn a_long_history_scrolls() {
        let channel = ChannelStatus {
            channel: "ticket:created".into(),
            stream: "TICKET_CREATED".into(),
            events: 1_000,
            first_seq: 1,
            last_seq: 1_000,
            bytes: 100_000,
            subscriptions: vec![SubscriptionStatus {
                delivered: 996,
                ack_floor: 990,
                ack_pending: 6,
                pending: 4,
                ..sub("listener")
            }],
        };
        let state = State::new(vec![channel], true, "nats://localhost:4222".into());
        insta::assert_snapshot!(render(&state, 80, 24).backend());
    }
}
