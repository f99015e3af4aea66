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
/// characters escaped, then masked by [`crate::mask`], the step every line
/// the commands write goes through (a URL's password, this run's secrets).
/// Everything the view draws that it did not write itself passes here.
pub(super) fn masked(text: &str) -> String {
    crate::mask::mask_str(&escape_control(text)).into_owned()
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

/// A lane's first line: what the subscription is (its role and name),
/// whether a listener is there now, where it started, its settings, and
/// what its marks cannot show. Settings that do not fit are left out, the
/// last first.
pub(super) fn name_line<'a>(s: &SubscriptionStatus, lane: &Lane<'_>, width: u16) -> Line<'a> {
    let name = masked(&s.name);
    let role = match (&s.queue_group, s.durable) {
        (Some(group), true) if *group == s.name => "durable queue group ".to_owned(),
        (Some(group), false) if *group == s.name => "queue group ".to_owned(),
        (Some(group), true) => format!("queue group {}, durable ", masked(group)),
        (Some(group), false) => format!("queue group {}, subscription ", masked(group)),
        (None, true) => "durable ".to_owned(),
        (None, false) => "own listener ".to_owned(),
    };
    let mut about = vec![listeners(s)];
    if let Some(until) = &s.paused_until {
        about.insert(0, format!("paused until {}", masked(until)));
    }
    about.push(start_text(s, lane));
    about.push(format!("ack wait {}", duration::format(s.ack_wait())));
    if let Some(n) = s.max_deliver {
        about.push(format!("max deliver {n}"));
    }
    let mut note = String::new();
    if let Some(floor) = lane.unknown_start() {
        note.push_str(&format!("  ░ to #{floor}: acked or before start"));
    }
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
    // What the marks cannot show comes before the settings.
    let len = |text: &str| text.chars().count();
    let text = |about: &[String]| format!(" ({})", about.join(", "));
    while !about.is_empty()
        && len(&role) + len(&name) + len(&text(&about)) + len(&note) > usize::from(width)
    {
        about.pop();
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        text(&about)
    };
    Line::from(vec![
        Span::raw(role),
        Span::styled(name, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(about),
        Span::raw(note),
    ])
}

/// Whether a listener is there now, as far as the server says: a pushed
/// subscription (a listener's own, named after its client id) is bound to
/// a listener or not; a pulled one (queue group, durable) has pull
/// requests waiting, from its listeners, which the server does not name
/// (each `listen` keeps one waiting while it runs).
fn listeners(s: &SubscriptionStatus) -> String {
    match (s.pushed, s.push_bound, s.waiting) {
        (true, true, _) => "connected".to_owned(),
        (true, false, _) => "not connected".to_owned(),
        (false, _, 0) => "pull requests 0: no listener".to_owned(),
        (false, _, n) => format!("pull requests {n}"),
    }
}

/// Where it started: its start position, and the event that is, where
/// known and not plain.
fn start_text(s: &SubscriptionStatus, lane: &Lane<'_>) -> String {
    let start = masked(&s.start);
    match lane.start() {
        Some(seq) if s.start != "all" && !s.start.starts_with('#') => {
            format!("start {start}: #{seq}")
        }
        _ => format!("start {start}"),
    }
}

pub(super) fn counts_line<'a>(s: &SubscriptionStatus, palette: &Palette) -> Line<'a> {
    let seq = |n: u64| {
        if n == 0 {
            "-".to_owned()
        } else {
            format!("#{n}")
        }
    };
    // Before its first delivery and its first ack, the delivered position
    // and the floor stand for its start, not for a delivery or an ack (see
    // `history::start`).
    let delivered = if s.deliveries > 0 { s.delivered } else { 0 };
    let floor = if s.has_acked() { s.ack_floor } else { 0 };
    Line::styled(
        format!(
            "{}delivered {}  ack floor {}  ack pending {}  redelivered {}  pending {}",
            " ".repeat(usize::from(MARGIN)),
            seq(delivered),
            seq(floor),
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
        (Mark::Unsure, "unsure"),
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
    // What `P`, `R` or `X` asks, or what it did, in place of the keys.
    if let Some(prompt) = &state.prompt {
        return Line::from(masked(&prompt.line()));
    }
    if let Some(said) = &state.said {
        return Line::from(masked(said));
    }
    let lanes = state.current().map_or(0, |c| c.subscriptions.len());
    let mut keys = vec!["←/→ select", "End newest", "Enter data"];
    if lanes > 1 {
        keys.push("↑/↓ lane");
    }
    if lanes > 0 {
        keys.push("P/R/X pause/resume/rewind");
    }
    if !state.one_channel && state.watch.channels().len() > 1 {
        keys.push("Tab channel");
    }
    keys.push("q quit");
    // The longest go first where the terminal is narrow.
    let width = usize::from(state.width);
    let fits = |keys: &[&str]| keys.join("  ").chars().count() <= width;
    for (long, short) in [("P/R/X pause/resume/rewind", "P/R/X"), ("End newest", "")] {
        if !fits(&keys) {
            keys.retain(|key| *key != long || !short.is_empty());
            keys.iter_mut()
                .filter(|key| **key == long)
                .for_each(|key| *key = short);
        }
    }
    let mut text = keys.join("  ");
    if let Some(seq) = state.selected() {
        let newest = if state.follow { " (newest)" } else { "" };
        let selected = format!("   selected #{seq}{newest}");
        if text.chars().count() + selected.chars().count() <= width {
            text.push_str(&selected);
        }
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
