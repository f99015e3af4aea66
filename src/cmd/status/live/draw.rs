//! Drawing the live view: a pure function of its [`State`].
//!
//! ```text
//! ticket:created (stream TICKET_CREATED): 3 events, #1 to #3      channel 1 of 2, Tab
//! NATS server nats://localhost:4222
//!   1  2  3                                 ← the tape: event numbers, newest at the right
//! ─────▲───────────────────────────────────
//! queue group orders-service (pull requests 1, start new: #1)  ← one lane per subscription
//!  ██ R2 ▒▒                                 ← each event's state
//!  delivered #3  ack floor #1  ack pending 2  redelivered 1  pending 0
//! █ acked  ▒ waiting  R2 redelivered  x given up  ░ unsure  · pending
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
use crate::status::tape::Tape;
use nats_course_toolkit::history::watch::Mark;

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
        let line = match &state.named {
            Some(named) => format!(
                "waiting for the first event on {}: publish one",
                masked(named)
            ),
            None => "No channels yet: publish an event first (make publish).".to_owned(),
        };
        frame.render_widget(Paragraph::new(line).centered(), row(area.height / 2));
        frame.render_widget(keys_line(state), row(area.height - 1));
        return;
    };
    frame.render_widget(title_line(state, Some(channel)), row(0));
    frame.render_widget(banner(state, &palette), row(1));
    // The layout, shared with `status --svg`: which events, which lanes,
    // which marks.
    let Some(tape) = Tape::live(state, area.height) else {
        return;
    };
    let width = state.cell_width();
    let selected = tape.selected;
    // The tape: each event's number, newest at the right, the selected one
    // reversed and pointed at.
    let mut numbers = vec![Span::raw(" ".repeat(usize::from(MARGIN)))];
    let mut rule = "─".repeat(usize::from(MARGIN));
    for column in &tape.columns {
        let seq = column.first();
        let text = if tape.is_stored(column) {
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

    if tape.total_lanes == 0 {
        let line = "No subscriptions: start a listener (make listen) to see its lane here.";
        frame.render_widget(Paragraph::new(line), row(TOP + 1));
    }
    let (first, shown) = (tape.first_lane, tape.lanes.len());
    for (i, lane) in tape.lanes.iter().enumerate() {
        let y = TOP + LANE * i as u16;
        frame.render_widget(name_line(lane, area.width), row(y));
        let mut cells = vec![Span::raw(" ".repeat(usize::from(MARGIN)))];
        for (column, &mark) in tape.columns.iter().zip(&lane.marks) {
            let mut style = palette.mark(mark);
            if Some(column.first()) == selected && mark != Mark::NotStored {
                style = style.add_modifier(Modifier::REVERSED);
            }
            cells.push(Span::styled(cell(mark, usize::from(width - 1)), style));
            cells.push(Span::raw(" "));
        }
        frame.render_widget(Line::from(cells), row(y + 1));
        // The selected lane, which P, R and X act on.
        let marker = Rect::new(area.x, area.y + y + 1, 1, 1);
        if first + i == state.lane && tape.total_lanes > 1 {
            frame.render_widget(
                Span::styled("▸", Style::new().add_modifier(Modifier::BOLD)),
                marker,
            );
        }
        frame.render_widget(counts_line(lane, &palette), row(y + 2));
    }
    let subscriptions = &channel.subscriptions;
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
                nats_course_toolkit::history::rfc3339(event.time)
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
mod tests;
