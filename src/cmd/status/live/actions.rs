//! The live view's actions on the selected lane (↑/↓ select it, `▸` marks
//! it): `P` pauses its subscription until a time or for a while, `R`
//! resumes it, `X` rewinds it to its ack floor or to an event. Each asks on
//! the bottom line first (Enter does it, Esc cancels), and the line then
//! says what the server answered. A server too old for one is told at the
//! key, before anything is asked or sent
//! ([`nats_course_toolkit::subscription::control`]).

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keys::Action;
use super::state::State;
use nats_course_toolkit::duration;
use nats_course_toolkit::history::rfc3339;
use nats_course_toolkit::notes::error_line;
use nats_course_toolkit::subscription::control::{self, Control, ServerVersion};

/// A question on the bottom line, about one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What Enter does.
    pub control: Control,
    /// The subscription's stream.
    pub stream: String,
    /// The subscription.
    pub name: String,
    /// What was typed so far.
    pub typed: String,
}

/// What Enter asks the server for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Pause `name` until a time.
    Pause {
        stream: String,
        name: String,
        until: time::OffsetDateTime,
    },
    /// Resume `name`.
    Resume { stream: String, name: String },
    /// Rewind `name` to its ack floor (`None`) or to an event.
    Rewind {
        stream: String,
        name: String,
        to: Option<u64>,
    },
}

impl Prompt {
    /// The bottom line while it asks.
    pub fn line(&self) -> String {
        let name = &self.name;
        let typed = &self.typed;
        match self.control {
            Control::Pause => format!(
                "Pause {name} for (30s, 5m) or until (2025-05-01T12:00:00Z): {typed}▏ Enter pauses, Esc cancels"
            ),
            Control::Resume => {
                format!("Resume {name} now? Enter resumes, Esc cancels")
            }
            Control::Rewind => format!(
                "Rewind {name} to event # (empty: its ack floor): {typed}▏ Enter rewinds, Esc cancels"
            ),
        }
    }
}

/// The selected lane's subscription: its stream and name.
fn selected_lane(state: &State) -> Option<(String, String)> {
    let channel = state.current()?;
    let subscription = channel.subscriptions.get(state.lane)?;
    Some((channel.stream.clone(), subscription.name.clone()))
}

/// `P`, `R` or `X`: asks about the selected lane, or says why not.
pub fn start(state: &mut State, control: Control) {
    if let Err(err) = control.check(state.server_version) {
        state.said = Some(error_line(&err));
        return;
    }
    let Some((stream, name)) = selected_lane(state) else {
        state.said = Some(format!(
            "no subscription here: {} works on the selected lane (↑/↓)",
            control.doing()
        ));
        return;
    };
    state.prompt = Some(Prompt {
        control,
        stream,
        name,
        typed: String::new(),
    });
}

/// A key while a prompt is up: typing, Enter, Esc.
pub fn on_prompt_key(state: &mut State, key: KeyEvent) -> Action {
    let Some(prompt) = state.prompt.as_mut() else {
        return Action::None;
    };
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Esc => {
            state.prompt = None;
            Action::None
        }
        KeyCode::Backspace => {
            prompt.typed.pop();
            Action::None
        }
        KeyCode::Char(c) if prompt.typed.chars().count() < 40 && !c.is_control() => {
            prompt.typed.push(c);
            Action::None
        }
        KeyCode::Enter => match request(prompt, time::OffsetDateTime::now_utc()) {
            Ok(request) => {
                state.prompt = None;
                state.said = Some("asking the server…".to_owned());
                Action::Control(request)
            }
            Err(why) => {
                state.said = Some(why);
                prompt.typed.clear();
                Action::None
            }
        },
        _ => Action::None,
    }
}

/// What the prompt's answer asks for, or why it cannot be done.
pub fn request(prompt: &Prompt, now: time::OffsetDateTime) -> Result<Request, String> {
    let (stream, name) = (prompt.stream.clone(), prompt.name.clone());
    let typed = prompt.typed.trim();
    match prompt.control {
        Control::Pause => {
            let until = match duration::parse(typed) {
                Ok(span) if span > Duration::ZERO => now + span,
                _ => crate::cli::values::parse_start_time(typed).map_err(|_| {
                    format!(
                        "'{typed}' is neither a duration (30s, 5m, 1h) nor an RFC 3339 time \
                         (2025-05-01T12:00:00Z): nothing paused"
                    )
                })?,
            };
            if until <= now {
                return Err(format!(
                    "{} is past: nothing paused (R resumes)",
                    rfc3339(until)
                ));
            }
            Ok(Request::Pause {
                stream,
                name,
                until,
            })
        }
        Control::Resume => Ok(Request::Resume { stream, name }),
        Control::Rewind => {
            let to = match typed.trim_start_matches('#') {
                "" => None,
                text => match text.parse::<u64>() {
                    Ok(seq) if seq > 0 => Some(seq),
                    _ => {
                        return Err(format!(
                            "'{typed}' is not an event number (1 or more): nothing rewound"
                        ));
                    }
                },
            };
            Ok(Request::Rewind { stream, name, to })
        }
    }
}

/// Sends `request`; the line that says what the server answered.
pub async fn send(js: &async_nats::jetstream::Context, request: Request) -> String {
    match request {
        Request::Pause {
            stream,
            name,
            until,
        } => match control::pause(js, &stream, &name, until).await {
            Ok(paused) if paused.paused => format!(
                "paused {name} until {}{} (R resumes)",
                paused.until.map_or_else(|| rfc3339(until), rfc3339),
                paused
                    .remaining
                    .map(|left| format!(", {} from now", duration::format(round(left))))
                    .unwrap_or_default()
            ),
            Ok(_) => format!("{name} is not paused: the time was past"),
            Err(err) => error_line(&err),
        },
        Request::Resume { stream, name } => match control::resume(js, &stream, &name).await {
            Ok(_) => format!("resumed {name}: the server delivers its events again"),
            Err(err) => error_line(&err),
        },
        Request::Rewind { stream, name, to } => {
            match control::rewind(js, &stream, &name, to).await {
                Ok(rewound) => format!(
                    "rewound {name}{}: delivers again from #{}; ack floor {}, {} to deliver",
                    match to {
                        None => " to its ack floor".to_owned(),
                        Some(seq) => format!(" to #{seq}"),
                    },
                    rewound.from,
                    match rewound.ack_floor {
                        0 => "-".to_owned(),
                        floor => format!("#{floor}"),
                    },
                    rewound.pending
                ),
                Err(err) => error_line(&err),
            }
        }
    }
}

/// A remaining time to the second, as people read it.
fn round(span: Duration) -> Duration {
    Duration::from_secs((span.as_millis() as u64).div_ceil(1000))
}

impl State {
    /// ↑/↓: selects the lane above or below, scrolling it into view.
    pub fn select_lane(&mut self, by: isize) {
        let total = self.current().map_or(0, |c| c.subscriptions.len());
        if total == 0 {
            self.lane = 0;
            return;
        }
        self.lane = self.lane.saturating_add_signed(by).min(total - 1);
        let (first, shown) = self.lanes(self.height);
        if self.lane < first {
            self.first_lane = self.lane;
        } else if self.lane >= first + shown {
            self.first_lane = self.lane + 1 - shown;
        }
    }
}

/// The server version the view was greeted with, for the gate.
pub fn server_version(client: &async_nats::Client) -> Option<ServerVersion> {
    ServerVersion::of(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};

    fn sub(name: &str) -> SubscriptionStatus {
        SubscriptionStatus {
            name: name.into(),
            queue_group: None,
            durable: true,
            start: "all".into(),
            ack_wait_ms: 30_000,
            max_deliver: None,
            delivered: 3,
            ack_floor: 3,
            ack_pending: 0,
            redelivered: 0,
            pending: 0,
            waiting: 0,
            deliveries: 3,
            floor_delivery: 3,
            pushed: false,
            push_bound: false,
            paused_until: None,
            given_up: 0,
        }
    }

    fn state(version: &str) -> State {
        let channel = ChannelStatus {
            channel: "ticket:created".into(),
            stream: "TICKET_CREATED".into(),
            events: 3,
            first_seq: 1,
            last_seq: 3,
            bytes: 0,
            subscriptions: vec![sub("accounting"), sub("orders")],
        };
        let mut s = State::new(vec![channel], true, String::new());
        s.server_version = ServerVersion::parse(version);
        s
    }

    fn press(s: &mut State, code: KeyCode) -> Action {
        super::super::keys::on_key(s, KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(s: &mut State, text: &str) {
        for c in text.chars() {
            press(s, KeyCode::Char(c));
        }
    }

    /// ↓ selects the second lane; P asks about it, Enter with a duration
    /// asks the server to pause it that long; Esc cancels instead.
    #[test]
    fn p_pauses_the_selected_lane_for_a_duration() {
        let mut s = state("2.14.6");
        press(&mut s, KeyCode::Down);
        assert_eq!(s.lane, 1);
        press(&mut s, KeyCode::Char('P'));
        assert!(
            s.prompt
                .as_ref()
                .unwrap()
                .line()
                .starts_with("Pause orders for")
        );
        typed(&mut s, "q30s");
        assert_eq!(
            s.prompt.as_ref().unwrap().typed,
            "q30s",
            "q types, not quits"
        );
        press(&mut s, KeyCode::Esc);
        assert!(s.prompt.is_none());
        press(&mut s, KeyCode::Char('P'));
        typed(&mut s, "30s");
        let before = time::OffsetDateTime::now_utc();
        let Action::Control(Request::Pause { name, until, .. }) = press(&mut s, KeyCode::Enter)
        else {
            panic!("Enter pauses");
        };
        assert_eq!(name, "orders");
        let span = until - before;
        assert!(span >= time::Duration::seconds(29) && span <= time::Duration::seconds(31));
    }

    /// X with nothing typed rewinds to the ack floor, with a number to that
    /// event; R asks, and Enter resumes.
    #[test]
    fn x_rewinds_and_r_resumes() {
        let mut s = state("2.14.0");
        press(&mut s, KeyCode::Char('X'));
        assert_eq!(
            press(&mut s, KeyCode::Enter),
            Action::Control(Request::Rewind {
                stream: "TICKET_CREATED".into(),
                name: "accounting".into(),
                to: None
            })
        );
        press(&mut s, KeyCode::Char('X'));
        typed(&mut s, "#2");
        assert!(matches!(
            press(&mut s, KeyCode::Enter),
            Action::Control(Request::Rewind { to: Some(2), .. })
        ));
        press(&mut s, KeyCode::Char('X'));
        typed(&mut s, "two");
        assert_eq!(press(&mut s, KeyCode::Enter), Action::None);
        assert!(s.said.as_ref().unwrap().contains("not an event number"));
        press(&mut s, KeyCode::Esc);
        press(&mut s, KeyCode::Char('R'));
        assert!(matches!(
            press(&mut s, KeyCode::Enter),
            Action::Control(Request::Resume { .. })
        ));
    }

    /// On a server too old, the key says what it lacks and asks nothing.
    #[test]
    fn an_older_server_is_told_what_it_lacks() {
        let mut s = state("2.12.8");
        press(&mut s, KeyCode::Char('X'));
        assert!(s.prompt.is_none());
        assert!(
            s.said
                .as_ref()
                .unwrap()
                .starts_with("rewinding a subscription needs nats-server 2.14 or newer"),
            "{:?}",
            s.said
        );
        press(&mut s, KeyCode::Char('P'));
        assert!(s.prompt.is_some(), "pausing works on 2.12");
        let mut s = state("2.10.24");
        press(&mut s, KeyCode::Char('P'));
        assert!(s.prompt.is_none());
        assert!(s.said.as_ref().unwrap().contains("2.11 or newer"));
    }

    /// A time given to pause until must be ahead, and readable.
    #[test]
    fn pause_times_are_checked() {
        let prompt = |typed: &str| Prompt {
            control: Control::Pause,
            stream: "S".into(),
            name: "n".into(),
            typed: typed.into(),
        };
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert!(
            request(&prompt("2023-11-14T22:00:00Z"), now)
                .unwrap_err()
                .contains("past")
        );
        assert!(
            request(&prompt("soon"), now)
                .unwrap_err()
                .contains("neither")
        );
        assert_eq!(
            request(&prompt("2023-11-14T23:00:00Z"), now),
            Ok(Request::Pause {
                stream: "S".into(),
                name: "n".into(),
                until: time::OffsetDateTime::from_unix_timestamp(1_700_002_800).unwrap(),
            })
        );
    }
}
