//! The live view's lines of text: the title, the banner, each lane's name
//! and counts, the legend and the keys, in the [`Palette`]'s styles.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::state::{MARGIN, State};
use crate::status::tape::{TapeLane, text};
use nats_course_toolkit::history::ChannelStatus;
use nats_course_toolkit::history::watch::Mark;

/// Text from the server or the user, as the view may draw it (see
/// [`text::masked`]).
pub(super) use crate::status::tape::text::masked;

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
        Some(c) => Line::from(vec![
            Span::styled(
                masked(&c.channel),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(text::about_channel(c)),
        ]),
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

/// A lane's first line ([`text::name_line`]), its name in bold.
pub(super) fn name_line<'a>(lane: &TapeLane<'_>, width: u16) -> Line<'a> {
    let line = lane.name_line(usize::from(width));
    Line::from(vec![
        Span::raw(line.role),
        Span::styled(line.name, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(line.about),
        Span::raw(line.note),
    ])
}

pub(super) fn counts_line<'a>(lane: &TapeLane<'_>, palette: &Palette) -> Line<'a> {
    Line::styled(
        format!("{}{}", " ".repeat(usize::from(MARGIN)), lane.counts()),
        palette.dim(),
    )
}

pub(super) fn legend<'a>(palette: &Palette) -> Line<'a> {
    let mut spans = Vec::new();
    for (i, (mark, text)) in text::LEGEND.into_iter().enumerate() {
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
        Mark::Redelivered(_) => {
            let text = text::label(mark, width).unwrap_or_default();
            format!("{}{text}", "▒".repeat(width - text.len()))
        }
    }
}
