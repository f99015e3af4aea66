//! The words of the tape, with no style: the title, each lane's name and
//! counts, the legend. The live view styles them ([`super::super::live`]'s
//! lines), the picture places them ([`super::super::svg`]); both say the
//! same.

use nats_course_toolkit::duration;
use nats_course_toolkit::history::watch::{Lane, Mark};
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};
use nats_course_toolkit::notes::escape_control;

/// Text from the server or the user, as the tape may show it: control
/// characters escaped, then masked by [`crate::mask`], the step every line
/// the commands write goes through (a URL's password, this run's secrets).
/// Everything shown that the tape did not write itself passes here.
pub fn masked(text: &str) -> String {
    crate::mask::mask_str(&escape_control(text)).into_owned()
}

/// What the channel stores: "12 events, #1 to #12".
pub fn events(c: &ChannelStatus) -> String {
    match c.events {
        0 => "no events stored".to_owned(),
        1 => format!("1 event, #{}", c.first_seq),
        n => format!("{n} events, #{} to #{}", c.first_seq, c.last_seq),
    }
}

/// The title after the channel's name: " (stream X): 12 events, #1 to #12".
pub fn about_channel(c: &ChannelStatus) -> String {
    format!(" (stream {}): {}", masked(&c.stream), events(c))
}

/// A lane's first line, in four parts: what the subscription is (`role`),
/// its `name` (masked), what is known `about` it in brackets, and a `note`
/// of what its marks cannot show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameLine {
    pub role: String,
    pub name: String,
    pub about: String,
    pub note: String,
}

impl NameLine {
    /// The whole line.
    pub fn text(&self) -> String {
        format!("{}{}{}{}", self.role, self.name, self.about, self.note)
    }
}

/// A lane's first line: what the subscription is (its role and name),
/// whether a listener is there now, where it started, its settings, and
/// what its marks cannot show. Settings that do not fit in `width`
/// characters are left out, the last first.
pub fn name_line(s: &SubscriptionStatus, lane: &Lane<'_>, width: usize) -> NameLine {
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
    while !about.is_empty() && len(&role) + len(&name) + len(&text(&about)) + len(&note) > width {
        about.pop();
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        text(&about)
    };
    NameLine {
        role,
        name,
        about,
        note,
    }
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

/// A lane's last line: its delivered position, ack floor and counts.
pub fn counts(s: &SubscriptionStatus) -> String {
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
    format!(
        "delivered {}  ack floor {}  ack pending {}  redelivered {}  pending {}",
        seq(delivered),
        seq(floor),
        s.ack_pending,
        s.redelivered,
        s.pending,
    )
}

/// The legend: each mark a cell may have, and its word, in order. A new
/// kind of mark is one more entry here (both views draw the list).
pub const LEGEND: [(Mark, &str); 6] = [
    (Mark::Acked, "acked"),
    (Mark::Waiting, "waiting"),
    (Mark::Redelivered(Some(2)), "redelivered"),
    (Mark::GivenUp(1), "given up"),
    (Mark::Unsure, "unsure"),
    (Mark::NotDelivered, "pending"),
];

/// The short text a redelivered or given-up cell carries, to be read
/// without colours: `R2` (sent twice), `R` (how often not told), `x`.
/// `room` is how many characters fit; a count that does not fit is left
/// out.
pub fn label(mark: Mark, room: usize) -> Option<String> {
    match mark {
        Mark::Redelivered(Some(n)) if n.to_string().len() < room => Some(format!("R{n}")),
        Mark::Redelivered(_) => Some("R".to_owned()),
        Mark::GivenUp(_) => Some("x".to_owned()),
        _ => None,
    }
}
