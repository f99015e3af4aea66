//! How each [`Mark`] looks in the picture. Told apart by shade, by pattern
//! and by text, not by hue alone, so that they read printed in grey:
//!
//! | Mark | Fill | Grey | Also |
//! |---|---|---|---|
//! | acked | dark green | darkest | solid |
//! | redelivered | purple | dark | `R2` (or `R`) in white |
//! | given up | light red | middle | a cross, corner to corner |
//! | waiting | yellow | light | dark diagonal hatching |
//! | unsure | pale blue | lighter | dots |
//! | pending | white | white | dashed outline, a dot |
//!
//! Blank: not stored, or before the subscription's start. A new kind of
//! mark takes a shade between these, or a pattern of its own.

use std::fmt::Write as _;

use nats_course_toolkit::history::watch::Mark;

use super::xml::{escape, px};
use crate::status::tape::text;

/// The fills, for the tests that look at the pixels.
pub const ACKED: &str = "#24592f";
pub const WAITING: &str = "#f7dc6f";
pub const REDELIVERED: &str = "#8e3f84";
pub const GIVEN_UP: &str = "#f2a49d";
pub const UNSURE: &str = "#dcedf2";
pub const PENDING: &str = "#ffffff";

/// Ink: text, outlines.
pub const INK: &str = "#1f1f1f";
/// Text of less weight: the counts, the server.
pub const DIM: &str = "#5c5c5c";

/// The patterns the fills refer to.
pub fn defs(out: &mut String) {
    out.push_str("<defs>\n");
    let _ = writeln!(
        out,
        r##"<pattern id="waiting" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="{WAITING}"/><rect width="1.5" height="6" fill="#7a5a00"/></pattern>"##
    );
    let _ = writeln!(
        out,
        r##"<pattern id="unsure" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="{UNSURE}"/><circle cx="3" cy="3" r="1" fill="#2b6f80"/></pattern>"##
    );
    out.push_str("</defs>\n");
}

/// The class of a mark's cell, for whoever reads the SVG.
pub fn class(mark: Mark) -> Option<&'static str> {
    Some(match mark {
        Mark::NotStored | Mark::BeforeStart => return None,
        Mark::Acked => "acked",
        Mark::Waiting => "waiting",
        Mark::Redelivered(_) => "redelivered",
        Mark::GivenUp(_) => "given-up",
        Mark::Unsure => "unsure",
        Mark::NotDelivered => "pending",
    })
}

/// A cell of `mark` at `x`, `y`, `w` × `h` pixels, with its label (`R2`)
/// where it has one and `room` characters fit.
pub fn cell(out: &mut String, mark: Mark, x: f64, y: f64, w: f64, h: f64, room: usize) {
    let Some(class) = class(mark) else {
        return;
    };
    let (fill, extra) = match mark {
        Mark::Acked => (ACKED, ""),
        Mark::Waiting => ("url(#waiting)", ""),
        Mark::Redelivered(_) => (REDELIVERED, ""),
        Mark::GivenUp(_) => (GIVEN_UP, ""),
        Mark::Unsure => ("url(#unsure)", ""),
        _ => (
            PENDING,
            r##" stroke="#8a8a8a" stroke-width="1" stroke-dasharray="3 2""##,
        ),
    };
    let (xs, ys, ws, hs) = (px(x), px(y), px(w), px(h));
    let _ = write!(
        out,
        r#"<rect class="{class}" x="{xs}" y="{ys}" width="{ws}" height="{hs}" fill="{fill}"{extra}/>"#
    );
    match mark {
        Mark::GivenUp(_) => {
            let _ = write!(
                out,
                r##"<path d="M{} {}L{} {}M{} {}L{} {}" stroke="#5a1410" stroke-width="2"/>"##,
                px(x + 3.0),
                px(y + 3.0),
                px(x + w - 3.0),
                px(y + h - 3.0),
                px(x + w - 3.0),
                px(y + 3.0),
                px(x + 3.0),
                px(y + h - 3.0)
            );
        }
        Mark::NotDelivered => {
            let _ = write!(
                out,
                r##"<circle cx="{}" cy="{}" r="1.5" fill="#8a8a8a"/>"##,
                px(x + w / 2.0),
                px(y + h / 2.0)
            );
        }
        _ => {}
    }
    if let (Mark::Redelivered(_), Some(label)) = (mark, text::label(mark, room)) {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" font-weight="bold" fill="#ffffff">{}</text>"##,
            px(x + w / 2.0),
            px(y + h / 2.0 + 4.0),
            escape(&label)
        );
    }
    out.push('\n');
}
