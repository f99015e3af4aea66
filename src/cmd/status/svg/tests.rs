//! The picture, rendered: resvg draws it into pixels, and the tests look
//! where the layout says each lane's cells are; roxmltree reads it as XML.

use std::path::Path;

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, roxmltree};
use time::OffsetDateTime;

use super::*;
use crate::status::live::state::State;
use crate::status::test_data::{self, served, sub};
use nats_course_toolkit::history::watch::Notice;
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};

/// As the server reports them (see `test_data::served`).
fn channel(last: u64, subscriptions: Vec<SubscriptionStatus>) -> ChannelStatus {
    test_data::channel(last, subscriptions.into_iter().map(served).collect())
}

fn notice(kind: &str, consumer: &str, seq: u64, deliveries: u64) -> Notice {
    Notice::parse(format!(
        r#"{{"type":"io.nats.jetstream.{kind}","stream":"TICKET_CREATED","consumer":"{consumer}","stream_seq":{seq},"deliveries":{deliveries}}}"#
    ).as_bytes())
    .unwrap()
}

/// The live view's lesson: 12 events, six subscriptions, one per state
/// (acked; 3 waiting; acked out of order; one given up; a span the counts
/// cannot tell apart; a queue group with a NAKed event redelivered).
fn lesson() -> State {
    let subscriptions = vec![
        SubscriptionStatus {
            delivered: 12,
            ack_floor: 12,
            ..sub("a-acked-everything")
        },
        SubscriptionStatus {
            delivered: 12,
            ack_floor: 9,
            ack_pending: 3,
            ..sub("b-skip-ack")
        },
        SubscriptionStatus {
            delivered: 5,
            ack_floor: 2,
            ack_pending: 2,
            pending: 7,
            ..sub("c-out-of-order")
        },
        SubscriptionStatus {
            max_deliver: Some(3),
            delivered: 12,
            ack_floor: 12,
            ..sub("d-max-deliver")
        },
        SubscriptionStatus {
            delivered: 6,
            ack_floor: 4,
            ack_pending: 1,
            pending: 6,
            ..sub("e-slow")
        },
        SubscriptionStatus {
            queue_group: Some("orders-service".into()),
            durable: true,
            ack_wait_ms: 5_000,
            delivered: 3,
            ack_floor: 1,
            ack_pending: 2,
            redelivered: 2,
            pending: 9,
            ..sub("orders-service")
        },
    ];
    let mut state = State::new(
        vec![channel(12, subscriptions)],
        true,
        "nats://localhost:4222".into(),
    );
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

/// 200 events and 20 subscriptions, each at its own place: acked to a
/// floor, some waiting above it, the rest not delivered yet.
fn crowded() -> State {
    let subscriptions = (0..20u64)
        .map(|i| {
            let delivered = 200 - i * 7;
            let held = i % 4;
            SubscriptionStatus {
                delivered,
                ack_floor: delivered - held,
                ack_pending: held,
                pending: 200 - delivered,
                ..sub(&format!("listener-{:02}", i + 1))
            }
        })
        .collect();
    State::new(
        vec![channel(200, subscriptions)],
        true,
        "nats://localhost:4222".into(),
    )
}

/// A fixed moment, for pictures that do not change.
fn moment() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_796_030_497).unwrap()
}

/// The DejaVu fonts, where a Debian or Ubuntu machine has them (the
/// `fonts-dejavu-core` package): whether any was found.
fn load_fonts(db: &mut usvg::fontdb::Database) -> bool {
    let dir = Path::new("/usr/share/fonts/truetype/dejavu");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(data) = std::fs::read(entry.path()) {
            db.load_font_data(data);
        }
    }
    db.set_monospace_family("DejaVu Sans Mono");
    !db.is_empty()
}

/// The picture in pixels, and whether its text could be drawn (fonts found).
fn render(svg: &str) -> (Pixmap, bool) {
    let mut options = usvg::Options::default();
    let fonts = load_fonts(options.fontdb_mut());
    let tree = usvg::Tree::from_str(svg, &options).expect("a valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, Transform::default(), &mut pixmap.as_mut());
    (pixmap, fonts)
}

/// `#rrggbb` as its three bytes.
fn rgb(hex: &str) -> [u8; 3] {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    [byte(1), byte(3), byte(5)]
}

/// The pixels inside a rectangle (its edges left out: anti-aliased).
fn pixels(pixmap: &Pixmap, (x, y, w, h): (f64, f64, f64, f64)) -> Vec<[u8; 3]> {
    let mut out = Vec::new();
    for py in (y.ceil() as u32 + 2)..((y + h).floor() as u32 - 2) {
        for px in (x.ceil() as u32 + 2)..((x + w).floor() as u32 - 2) {
            let c = pixmap.pixel(px, py).expect("inside the picture");
            out.push([c.red(), c.green(), c.blue()]);
        }
    }
    out
}

/// The colour most pixels of a rectangle have.
fn main_colour(pixmap: &Pixmap, rect: (f64, f64, f64, f64)) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    for p in pixels(pixmap, rect) {
        *counts.entry(p).or_insert(0) += 1;
    }
    counts.into_iter().max_by_key(|&(_, n)| n).unwrap().0
}

/// A rectangle's mean grey (0 black, 1 white), as it prints in grey.
fn grey(pixmap: &Pixmap, rect: (f64, f64, f64, f64)) -> f64 {
    let pixels = pixels(pixmap, rect);
    let sum: f64 = pixels
        .iter()
        .map(|&[r, g, b]| {
            (0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)) / 255.0
        })
        .sum();
    sum / pixels.len() as f64
}

/// The fill a mark's cell shows most; white for pending and blank cells.
fn fill(mark: Mark) -> [u8; 3] {
    rgb(match mark {
        Mark::Acked => style::ACKED,
        Mark::Waiting => style::WAITING,
        Mark::Redelivered(_) => style::REDELIVERED,
        Mark::GivenUp(_) => style::GIVEN_UP,
        Mark::Unsure => style::UNSURE,
        Mark::NotDelivered | Mark::NotStored | Mark::BeforeStart => style::PENDING,
    })
}

/// Checks that every cell of every lane shows its mark's fill, where the
/// layout puts it; returns how many cells were checked.
fn assert_cells_drawn(layout: &Layout<'_>, pixmap: &Pixmap) -> usize {
    let mut checked = 0;
    for (i, lane) in layout.tape.lanes.iter().enumerate() {
        for (c, &mark) in lane.marks.iter().enumerate() {
            let got = main_colour(pixmap, layout.cell(i, c));
            let want = fill(mark);
            assert!(
                got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 2),
                "lane {} ({}), column {:?}: {mark:?} should be {want:?}, is {got:?}",
                i + 1,
                lane.subscription.name,
                layout.tape.columns[c],
            );
            checked += 1;
        }
    }
    checked
}

/// The lesson's picture, kept as it is: a change of the layout shows in
/// review as a change of this snapshot.
#[test]
fn the_lessons_picture_stays_as_it_is() {
    let state = lesson();
    insta::assert_snapshot!(picture(&state, moment()).unwrap());
}

/// Rendered, each lane's cells are where the layout says, in its marks'
/// fills: the held events of b-skip-ack waiting (yellow), #2 of the queue
/// group redelivered, #7 of d-max-deliver given up.
#[test]
fn each_lane_is_drawn_with_its_marks() {
    let state = lesson();
    let layout = Layout::new(&state).unwrap();
    let (pixmap, _) = render(&layout.svg(&state.server, moment()));
    assert_eq!(layout.tape.lanes.len(), 6, "a lane per subscription");
    assert_eq!(assert_cells_drawn(&layout, &pixmap), 6 * 12);
    let lane = |name: &str| {
        layout
            .tape
            .lanes
            .iter()
            .position(|l| l.subscription.name == name)
            .unwrap()
    };
    let at = |name: &str, seq: u64| main_colour(&pixmap, layout.cell(lane(name), seq as usize - 1));
    for seq in 10..=12 {
        assert_eq!(at("b-skip-ack", seq), rgb(style::WAITING), "#{seq} waits");
    }
    assert_eq!(at("b-skip-ack", 9), rgb(style::ACKED));
    assert_eq!(at("orders-service", 2), rgb(style::REDELIVERED));
    assert_eq!(at("d-max-deliver", 7), rgb(style::GIVEN_UP));
    assert_eq!(at("e-slow", 5), rgb(style::UNSURE));
}

/// The marks differ in grey, not in hue alone: printed without colour,
/// every legend swatch has a grey of its own.
#[test]
fn the_marks_read_in_grey() {
    let state = lesson();
    let layout = Layout::new(&state).unwrap();
    let (pixmap, _) = render(&layout.svg(&state.server, moment()));
    let greys: Vec<(String, f64)> = layout
        .legend
        .iter()
        .filter(|(mark, ..)| mark.is_some())
        .map(|(_, x, y, word)| (word.clone(), grey(&pixmap, (*x, *y, SWATCH_W, SWATCH_H))))
        .collect();
    for (i, (a, ga)) in greys.iter().enumerate() {
        for (b, gb) in &greys[i + 1..] {
            assert!(
                (ga - gb).abs() >= 0.05,
                "{a} ({ga:.2}) and {b} ({gb:.2}) print as the same grey: {greys:?}"
            );
        }
    }
}

/// The picture's text is text: `<text>` elements (searchable, selectable)
/// holding the title, each lane's name and counts, and the legend; no
/// script, no external font, image or link.
#[test]
fn the_text_is_real_text_and_nothing_is_external() {
    let state = lesson();
    let svg = picture(&state, moment()).unwrap();
    let document = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let texts: Vec<String> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect()
        })
        .collect();
    let all = texts.join("\n");
    for want in [
        "ticket:created (stream TICKET_CREATED): 12 events, #1 to #12",
        "NATS server nats://localhost:4222 · 2026-11-30 09:21:37 UTC",
        "durable queue group orders-service (pull requests 1, start all, ack wait 5s)",
        "own listener b-skip-ack (connected, start all, ack wait 30s)",
        "delivered #12  ack floor #9  ack pending 3  redelivered 0  pending 0",
        "R2",
        "acked",
        "given up",
    ] {
        assert!(all.contains(want), "no text {want:?} in:\n{all}");
    }
    let lanes = root
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .count();
    assert_eq!(lanes, 6);
    for node in root.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        assert!(
            !["script", "image", "style", "a", "foreignObject", "use"].contains(&name),
            "<{name}> in the picture"
        );
        for attribute in node.attributes() {
            assert!(
                !attribute.name().contains("href") && !attribute.name().starts_with("on"),
                "{} on <{name}>",
                attribute.name()
            );
        }
    }
}

/// With fonts, the text is drawn: the title's row has ink.
#[test]
fn the_title_is_drawn() {
    let state = lesson();
    let (pixmap, fonts) = render(&picture(&state, moment()).unwrap());
    if !fonts {
        eprintln!("no DejaVu fonts in /usr/share/fonts: the text's pixels are not checked");
        return;
    }
    let dark = pixels(&pixmap, (PAD, TITLE_Y - 14.0, 300.0, 18.0))
        .into_iter()
        .filter(|p| p.iter().all(|&c| c < 100))
        .count();
    assert!(dark > 200, "only {dark} dark pixels where the title is");
}

/// 200 events and 20 subscriptions: every lane, at most MAX_COLUMNS
/// columns with the long runs folded into gaps that say how many events
/// they hold, each lane's held events still in sight, and every cell
/// drawn as its mark.
#[test]
fn a_long_history_with_many_lanes_is_folded_and_readable() {
    let state = crowded();
    let layout = Layout::new(&state).unwrap();
    let tape = &layout.tape;
    assert_eq!(tape.lanes.len(), 20);
    assert!(tape.columns.len() <= MAX_COLUMNS, "{}", tape.columns.len());
    assert!(
        tape.columns.iter().any(|c| matches!(c, Column::Gap { .. })),
        "folded"
    );
    for lane in &tape.lanes {
        let s = lane.subscription;
        let waiting = lane.marks.iter().filter(|&&m| m == Mark::Waiting).count() as u64;
        assert!(
            waiting.min(2) == s.ack_pending.min(2),
            "{}: {waiting} waiting shown",
            s.name
        );
        assert!(lane.marks.contains(&Mark::Acked), "{}", s.name);
    }
    assert!(layout.width <= 2000.0, "{}", layout.width);
    let svg = layout.svg(&state.server, moment());
    assert!(svg.contains(">+"), "a gap's count");
    let (pixmap, _) = render(&svg);
    assert_eq!(
        assert_cells_drawn(&layout, &pixmap),
        20 * tape.columns.len()
    );
}

/// The picture and the live view lay the tape out alike: the same lanes
/// in the same order, with the same marks for the same events.
#[test]
fn the_picture_has_the_live_views_layout() {
    let mut state = lesson();
    state.height = 60;
    let live = crate::status::tape::Tape::live(&state, state.height).unwrap();
    let layout = Layout::new(&state).unwrap();
    let whole = &layout.tape;
    assert_eq!(live.lanes.len(), whole.lanes.len());
    for (l, w) in live.lanes.iter().zip(&whole.lanes) {
        assert_eq!(l.subscription.name, w.subscription.name);
        let events = whole.columns.len();
        assert_eq!(l.marks[..events], w.marks[..], "{}", w.subscription.name);
        assert_eq!(l.name_line(100), w.name_line(100));
    }
}

/// No password is drawn: not the server's, not one in a channel's or a
/// subscription's name; markup in a name stays text.
#[test]
fn no_password_is_drawn_and_names_are_escaped() {
    let mut state = lesson();
    state.server = "nats://ana:s3cret-pw@localhost:4222".into();
    let mut channel = state.current().unwrap().clone();
    channel.channel = "hooks.https://bob:hunter2@tickets.example/x".into();
    channel.subscriptions[0].name = "<script>alert(1)</script>&".into();
    state.update(vec![channel]);
    let svg = picture(&state, moment()).unwrap();
    assert!(
        !svg.contains("hunter2") && !svg.contains("s3cret-pw"),
        "{svg}"
    );
    assert!(svg.contains("https://bob:***@tickets.example/x"), "{svg}");
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;"));
    roxmltree::Document::parse(&svg).expect("well-formed XML");
}

/// A channel with no events and no subscriptions is a small picture that
/// says so.
#[test]
fn an_empty_channel_says_so() {
    let state = State::new(vec![channel(0, Vec::new())], true, String::new());
    let svg = picture(&state, moment()).unwrap();
    assert!(svg.contains("no events stored"), "{svg}");
    assert!(svg.contains("No subscriptions: start a listener"), "{svg}");
    render(&svg);
}
