//! `status CHANNEL --svg FILE`: the tape as a picture, one moment of what
//! `status --live` draws, for a README, a slide or a lesson's notes.
//!
//! ```text
//! ticket:created (stream TICKET_CREATED): 12 events, #1 to #12      ← title
//! NATS server nats://localhost:4222 · 2026-05-01 12:00:00 UTC
//!   1  2  3 +146 150 151 …                                           ← the tape, folded
//! own listener quick-fox (connected, start all, ack wait 30s)       ← a lane per subscription
//!  ███ ███ ▧▧▧ R2 …                                                  ← a cell per column
//!  delivered #3  ack floor #1  ack pending 2  redelivered 1  pending 0
//! ■ acked  ▧ waiting  R2 redelivered  ☒ given up  ░ unsure  □ pending  ← the legend
//! ```
//!
//! The layout is the live view's, made by the same code ([`Tape::whole`]):
//! the same lanes in the same order, the same marks, the same words. What
//! differs is only what a picture needs: every lane and every stored
//! event at once, a long history folded where nothing changes (a visible
//! gap that says how many events it holds), and no cursor.
//!
//! Written by hand: a standalone SVG 1.1 with its text as `<text>`
//! (searchable, selectable), no external font (the generic `monospace`,
//! after a few common ones), no script, no image. Every text from the
//! server or the user passes [`text::masked`], the masking every line the
//! commands print goes through, before it is XML-escaped.

use std::fmt::Write as _;

use nats_course_toolkit::history::watch::Mark;
use time::OffsetDateTime;

use super::live::state::State;
use super::tape::{Column, Tape, text};

pub mod style;
#[cfg(test)]
mod tests;
pub mod xml;

use xml::{escape, px};

/// At most this many columns: 64 cells of a 3-digit history are about
/// 1800 pixels wide.
pub const MAX_COLUMNS: usize = 64;

/// Margins all round.
pub const PAD: f64 = 16.0;
/// The font's size, and the width of its characters (a monospace font's
/// advance is 0.6 of its size).
pub const FONT: f64 = 13.0;
pub const CHAR: f64 = FONT * 0.602;
/// The numbers' font, and its characters' width.
const SMALL: f64 = 11.0;
const SMALL_CHAR: f64 = SMALL * 0.602;

/// Baselines of the title, the server line and the tape's numbers; the
/// rule under them; the top of the first lane.
const TITLE_Y: f64 = 28.0;
const SERVER_Y: f64 = 48.0;
const NUMBERS_Y: f64 = 78.0;
const RULE_Y: f64 = 85.0;
const LANES_Y: f64 = 92.0;
/// A lane: its name's baseline, its cells' top and height, its counts'
/// baseline, from the lane's top; its whole height.
const NAME_DY: f64 = 16.0;
const CELLS_DY: f64 = 23.0;
pub const CELL_H: f64 = 20.0;
const COUNTS_DY: f64 = 57.0;
const LANE_H: f64 = 66.0;
/// The legend's rows, and its swatches.
const LEGEND_ROW: f64 = 26.0;
const SWATCH_W: f64 = 28.0;
const SWATCH_H: f64 = 18.0;
/// The narrowest picture.
const MIN_WIDTH: f64 = 760.0;

/// The font families, the first found used.
const FONTS: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";

/// Where everything goes, in pixels.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// What is drawn.
    pub tape: Tape<'a>,
    /// The picture's size.
    pub width: f64,
    pub height: f64,
    /// Each column's left edge and width.
    pub columns: Vec<(f64, f64)>,
    /// How many characters a line holds.
    pub chars: usize,
    /// The legend's entries: the mark (`None`: the gap), its swatch's left
    /// and top, its word.
    pub legend: Vec<(Option<Mark>, f64, f64, String)>,
}

impl<'a> Layout<'a> {
    /// The layout of the channel shown in `state`; `None` when there is
    /// none.
    pub fn new(state: &'a State) -> Option<Layout<'a>> {
        let tape = Tape::whole(state, MAX_COLUMNS)?;
        let cell = (tape.digits() as f64 * SMALL_CHAR + 8.0).max(26.0).round();
        let mut columns = Vec::with_capacity(tape.columns.len());
        let mut x = PAD;
        for column in &tape.columns {
            let w = match column {
                Column::Event(_) => cell,
                Column::Gap { .. } => {
                    (gap_label(column).chars().count() as f64 * SMALL_CHAR + 10.0).max(cell)
                }
            };
            columns.push((x, w));
            x += w;
        }
        let width = (x + PAD).max(MIN_WIDTH).ceil();
        let chars = ((width - 2.0 * PAD) / CHAR) as usize;
        let mut legend = Vec::new();
        let entries = text::LEGEND
            .iter()
            .map(|&(mark, word)| (Some(mark), word.to_owned()));
        let gaps = tape.columns.iter().any(|c| matches!(c, Column::Gap { .. }));
        let gap = gaps.then(|| {
            (
                None,
                "+N: N events folded, the same in each lane".to_owned(),
            )
        });
        let lanes = tape.lanes.len().max(1) as f64;
        let (mut lx, mut ly) = (PAD, LANES_Y + lanes * LANE_H + 8.0);
        for (mark, word) in entries.chain(gap) {
            let w = SWATCH_W + 6.0 + word.chars().count() as f64 * CHAR + 20.0;
            if lx + w > width - PAD && lx > PAD {
                (lx, ly) = (PAD, ly + LEGEND_ROW);
            }
            legend.push((mark, lx, ly, word));
            lx += w;
        }
        let height = (ly + SWATCH_H + PAD).ceil();
        Some(Layout {
            tape,
            width,
            height,
            columns,
            chars,
            legend,
        })
    }

    /// The cell of lane `lane` (0 first) in column `column`: left, top,
    /// width, height.
    pub fn cell(&self, lane: usize, column: usize) -> (f64, f64, f64, f64) {
        let (x, w) = self.columns[column];
        let y = LANES_Y + lane as f64 * LANE_H + CELLS_DY;
        (x + 1.0, y, w - 2.0, CELL_H)
    }

    /// The picture.
    pub fn svg(&self, server: &str, at: OffsetDateTime) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let tape = &self.tape;
        let channel = text::masked(&tape.channel.channel);
        let about = text::about_channel(tape.channel);
        let when = moment(at);
        let server = text::masked(server);
        let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONTS}" font-size="{f}" fill="{ink}" xml:space="preserve">"#,
            w = px(self.width),
            h = px(self.height),
            f = px(FONT),
            ink = style::INK,
        );
        let _ = writeln!(
            out,
            "<title>{}</title>\n<desc>{}</desc>",
            escape(&format!("{channel}{about}, at {when}")),
            escape(&format!(
                "The stored events of {channel} as a tape, and one lane per subscription \
                 with each event's state, from status --svg on NATS server {server} at {when}."
            )),
        );
        let _ = writeln!(
            out,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        );
        style::defs(&mut out);
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{y}" font-size="15"><tspan font-weight="bold">{channel}</tspan>{about}</text>"#,
            x = px(PAD),
            y = px(TITLE_Y),
            channel = escape(&channel),
            about = escape(&about),
        );
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{y}" fill="{dim}">NATS server {server} · {when}</text>"#,
            x = px(PAD),
            y = px(SERVER_Y),
            dim = style::DIM,
            server = escape(&server),
        );
        self.tape_row(&mut out);
        self.lanes(&mut out);
        self.legend(&mut out);
        out.push_str("</svg>\n");
        out
    }

    /// The numbers above the cells, and the rule under them, broken at
    /// each gap.
    fn tape_row(&self, out: &mut String) {
        out.push_str(r#"<g id="tape" font-size="11" text-anchor="middle">"#);
        out.push('\n');
        for (column, &(x, w)) in self.tape.columns.iter().zip(&self.columns) {
            let (label, fill) = match column {
                Column::Event(seq) => (seq.to_string(), style::INK),
                Column::Gap { .. } => (gap_label(column), style::DIM),
            };
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" fill="{fill}">{}</text>"#,
                px(x + w / 2.0),
                px(NUMBERS_Y),
                escape(&label)
            );
        }
        out.push_str("</g>\n");
        let end = self.columns.last().map_or(PAD, |&(x, w)| x + w);
        let _ = writeln!(
            out,
            r#"<path d="M{} {y}H{}" stroke="{}" stroke-width="1"/>"#,
            px(PAD),
            px(end.max(self.width - PAD)),
            style::DIM,
            y = px(RULE_Y),
        );
    }

    /// Each lane: its name, its cells, its counts.
    fn lanes(&self, out: &mut String) {
        if self.tape.lanes.is_empty() {
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}">No subscriptions: start a listener (make listen) to see its lane here.</text>"#,
                px(PAD),
                px(LANES_Y + NAME_DY + 8.0)
            );
        }
        let room = self.tape.digits() + 1;
        for (i, lane) in self.tape.lanes.iter().enumerate() {
            let top = LANES_Y + i as f64 * LANE_H;
            let name = lane.name_line(self.chars);
            let _ = writeln!(out, r#"<g class="lane" id="lane-{n}">"#, n = i + 1);
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}">{}<tspan font-weight="bold">{}</tspan>{}{}</text>"#,
                px(PAD),
                px(top + NAME_DY),
                escape(&name.role),
                escape(&name.name),
                escape(&name.about),
                escape(&name.note),
            );
            for (c, (column, &mark)) in self.tape.columns.iter().zip(&lane.marks).enumerate() {
                let (x, y, w, h) = self.cell(i, c);
                style::cell(out, mark, x, y, w, h, room);
                if let Column::Gap { .. } = column {
                    tear(out, x, y, w, h, style::class(mark).is_some());
                }
            }
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" fill="{}" font-size="12">{}</text>"#,
                px(PAD),
                px(top + COUNTS_DY),
                style::DIM,
                escape(&lane.counts()),
            );
            out.push_str("</g>\n");
        }
    }

    /// The legend: a swatch and a word per mark, and the gap's.
    fn legend(&self, out: &mut String) {
        out.push_str("<g id=\"legend\">\n");
        for (mark, x, y, word) in &self.legend {
            match mark {
                Some(mark) => style::cell(out, *mark, *x, *y, SWATCH_W, SWATCH_H, 3),
                None => {
                    style::cell(out, Mark::Acked, *x, *y, SWATCH_W, SWATCH_H, 3);
                    tear(out, *x, *y, SWATCH_W, SWATCH_H, true);
                }
            }
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                px(x + SWATCH_W + 6.0),
                px(y + SWATCH_H - 5.0),
                escape(word)
            );
        }
        out.push_str("</g>\n");
    }
}

/// A gap's label: how many events it holds, `+146`.
fn gap_label(column: &Column) -> String {
    match *column {
        Column::Gap { from, to, .. } => format!("+{}", to - from + 1),
        Column::Event(seq) => seq.to_string(),
    }
}

/// A gap's mark over its cell: a zigzag tear, white edged with grey (it
/// shows on every fill), across a cell of one mark (`over`); else a dotted
/// ellipsis on nothing.
fn tear(out: &mut String, x: f64, y: f64, w: f64, h: f64, over: bool) {
    let mid = x + w / 2.0;
    if over {
        let d = format!(
            "M{} {}L{} {}L{} {}L{} {}",
            px(mid),
            px(y),
            px(mid - 3.0),
            px(y + h / 3.0),
            px(mid + 3.0),
            px(y + 2.0 * h / 3.0),
            px(mid),
            px(y + h),
        );
        let _ = writeln!(
            out,
            r##"<path class="gap" d="{d}" fill="none" stroke="{}" stroke-width="5"/><path d="{d}" fill="none" stroke="#ffffff" stroke-width="3"/>"##,
            style::DIM
        );
    } else {
        for dx in [-6.0, 0.0, 6.0] {
            let _ = write!(
                out,
                r#"<circle class="gap" cx="{}" cy="{}" r="1.5" fill="{}"/>"#,
                px(mid + dx),
                px(y + h / 2.0),
                style::DIM
            );
        }
        out.push('\n');
    }
}

/// `2026-05-01 12:00:00 UTC`.
fn moment(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The picture of the channel shown in `state` at `at`; `None` when there
/// is no channel.
pub fn picture(state: &State, at: OffsetDateTime) -> Option<String> {
    Some(Layout::new(state)?.svg(&state.server, at))
}
