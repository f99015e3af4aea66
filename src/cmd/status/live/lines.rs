//! The live view's lines of text: the title, the banner, each lane's name
//! and counts, the legend and the keys, in the [`Palette`]'s styles.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::state::{MARGIN, State};
use nats_course_toolkit::duration;
use nats_course_toolkit::history::watch::{Lane, Mark};
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};
use nats_course_toolkit::notes::escape_control;

/// Text from the server or the user, as the view may draw it: control
/// characters escaped, then masked by [`nats_course_toolkit::mask`], the step every line
/// the commands write goes through (a URL's password, this run's secrets).
/// Everything the view draws that it did not write itself passes here.
pub(super) fn masked(text: &str) -> String {
    nats_course_toolkit::mask::mask_str(&escape_control(text)).into_owned()
}

/// The styles of the states; none with `NO_COLOR`.
pub(super) struct Palette {
    no_color: bool,
}

impl Palette {
    pub(super) fn new(no_color: bool) -> Palette {
        Palette { no_color }
    }

    pub(super) fn color(&self, color: Color) -> Style {
        if self.no_color {
            Style::new()
        } else {
            Style::new().fg(color)
        }
    }

    pub(super) fn mark(&self, mark: Mark) -> Style {
        match mark {
            Mark::NotStored | Mark::BeforeStart => Style::new(),
            Mark::Acked => self.color(Color::Green),
            Mark::Waiting => self.color(Color::Yellow),
            Mark::Redelivered(_) => self.color(Color::Magenta),
            Mark::GivenUp(_) => self.color(Color::Red),
            Mark::Unsure => self.color(Color::Cyan),
            Mark::NotDelivered => self.color(Color::DarkGray),
        }
    }

    pub(super) fn banner(&self) -> Style {
        if self.no_color {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(Color::White).bg(Color::Red)
        }
    }

    pub(super) fn dim(&self) -> Style {
        self.color(Color::DarkGray)
    }
}

pub(super) fn title_line<'a>(state: &State, channel: Option<&ChannelStatus>) -> Line<'a> {
    let mut line = match channel {
        None => Line::from("status --live"),
        Some(c) => {
            let events = match c.events {
                0 => "no events stored".to_owned(),
                1 => format!("1 event, #{}", c.first_seq),
                n => format!("{n} events, #{} to #{}", c.first_seq, c.last_seq),
            };
            Line::from(vec![
                Span::styled(
                    masked(&c.channel),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(" (stream {}): {events}", masked(&c.stream))),
            ])
        }
    };
    let n = state.watch.channels().len();
    if n > 1 && !state.one_channel {
        line.push_span(Span::raw(format!(
            "   channel {} of {n}, Tab for the next",
            state.channel + 1
        )));
    }
    line
}

pub(super) fn banner<'a>(state: &State, palette: &Palette) -> Paragraph<'a> {
    match &state.banner {
        Some(text) => Paragraph::new(format!(" {}", masked(text))).style(palette.banner()),
        None => {
            Paragraph::new(format!("NATS server {}", masked(&state.server))).style(palette.dim())
        }
    }
}

pub(super) fn name_line<'a>(s: &SubscriptionStatus, lane: &Lane<'_>, width: u16) -> Line<'a> {
    let mut about = Vec::new();
    if let Some(group) = &s.queue_group {
        about.push(if *group == s.name {
            "queue group".to_owned()
        } else {
            format!("queue group {}", masked(group))
        });
    }
    if s.durable {
        about.push("durable".to_owned());
    }
    about.push(format!("ack wait {}", duration::format(s.ack_wait())));
    if let Some(n) = s.max_deliver {
        about.push(format!("max deliver {n}"));
    }
    about.push(format!("waiting {}", s.waiting));
    let mut note = String::new();
    if let Some((n, of)) = lane.redelivered_among_waiting() {
        note.push_str(&format!(
            "  ▒ {n} of these {of} redelivered (which: unknown)"
        ));
    }
    if let Some(span) = lane.span() {
        note.push_str(&format!(
            "  ░ #{}–#{}: {} of {} wait (which: unknown)",
            span.from, span.to, span.waiting, span.unknown
        ));
    }
    let mut about = format!(" ({})", about.join(", "));
    // What the marks cannot show comes before the settings.
    let len = |text: &str| text.chars().count();
    if len(&s.name) + len(&about) + len(&note) > usize::from(width) {
        about.clear();
    }
    Line::from(vec![
        Span::styled(masked(&s.name), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(about),
        Span::raw(note),
    ])
}

pub(super) fn counts_line<'a>(s: &SubscriptionStatus, palette: &Palette) -> Line<'a> {
    let seq = |n: u64| {
        if n == 0 {
            "-".to_owned()
        } else {
            format!("#{n}")
        }
    };
    Line::styled(
        format!(
            "{}delivered {}  ack floor {}  ack pending {}  redelivered {}  pending {}",
            " ".repeat(usize::from(MARGIN)),
            seq(s.delivered),
            seq(s.ack_floor),
            s.ack_pending,
            s.redelivered,
            s.pending,
        ),
        palette.dim(),
    )
}

pub(super) fn legend<'a>(palette: &Palette) -> Line<'a> {
    let entries = [
        (Mark::Acked, "acked"),
        (Mark::Waiting, "waiting"),
        (Mark::Redelivered(Some(2)), "redelivered"),
        (Mark::GivenUp(1), "given up"),
        (Mark::Unsure, "acked or waiting"),
        (Mark::NotDelivered, "pending"),
    ];
    let mut spans = Vec::new();
    for (i, (mark, text)) in entries.into_iter().enumerate() {
        let glyph = match mark {
            Mark::Redelivered(_) => "R2".to_owned(),
            _ => cell(mark, 1),
        };
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(glyph, palette.mark(mark)));
        spans.push(Span::raw(format!(" {text}")));
    }
    Line::from(spans)
}

pub(super) fn keys_line<'a>(state: &State) -> Line<'a> {
    let mut text = String::from("←/→ select  End newest  Enter event data");
    if state
        .current()
        .is_some_and(|c| state.lanes(state.height).1 < c.subscriptions.len())
    {
        text.push_str("  ↑/↓ lanes");
    }
    if !state.one_channel && state.watch.channels().len() > 1 {
        text.push_str("  Tab channel");
    }
    text.push_str("  q quit");
    if let Some(seq) = state.selected() {
        let newest = if state.follow { " (newest)" } else { "" };
        text.push_str(&format!("   selected #{seq}{newest}"));
    }
    Line::from(text)
}

/// A lane's cell for `mark`, `width` characters: the state's character
/// repeated, so that it reads without colours too.
pub fn cell(mark: Mark, width: usize) -> String {
    let fill = |c: char| c.to_string().repeat(width);
    match mark {
        Mark::NotStored | Mark::BeforeStart => fill(' '),
        Mark::Acked => fill('█'),
        Mark::Waiting => fill('▒'),
        Mark::Unsure => fill('░'),
        Mark::NotDelivered => fill('·'),
        Mark::GivenUp(_) => fill('x'),
        Mark::Redelivered(count) => {
            let text = match count {
                Some(n) if n.to_string().len() < width => format!("R{n}"),
                _ => "R".to_owned(),
            };
            format!("{}{text}", "▒".repeat(width - text.len()))
        }
    }
}
