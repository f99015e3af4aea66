//! Keys as changes of the view's [`State`], testable without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::actions::{self, Request};
use super::state::{Popup, State};
use nats_course_toolkit::subscription::control::Control;

/// What the program does after a key, besides drawing again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing more.
    None,
    /// Leave the view (`q`, Ctrl-C).
    Quit,
    /// Read event `seq` of stream `stream` for the popup.
    ShowEvent {
        /// The stream.
        stream: String,
        /// The event.
        seq: u64,
    },
    /// Pause, resume or rewind a subscription (`P`, `R`, `X`, then Enter).
    Control(Request),
}

/// Applies `key` to `state`.
pub fn on_key(state: &mut State, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    if state.prompt.is_some() {
        return actions::on_prompt_key(state, key);
    }
    state.said = None;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') if ctrl => return Action::Quit,
        KeyCode::Char('q') | KeyCode::Char('Q') => return Action::Quit,
        KeyCode::Esc => state.popup = None,
        KeyCode::Up => state.select_lane(-1),
        KeyCode::Down => state.select_lane(1),
        KeyCode::Char('P') => actions::start(state, Control::Pause),
        KeyCode::Char('R') => actions::start(state, Control::Resume),
        KeyCode::Char('X') => actions::start(state, Control::Rewind),
        KeyCode::Left => select(state, -1),
        KeyCode::Right => select(state, 1),
        KeyCode::PageUp => select(state, -(state.cells() as i64)),
        KeyCode::PageDown => select(state, state.cells() as i64),
        KeyCode::Home => {
            let first = *state.stored().start();
            state.follow = false;
            state.selected = first;
            state.clamp();
        }
        KeyCode::End => {
            state.follow = true;
            state.clamp();
        }
        KeyCode::Tab => switch(state, 1),
        KeyCode::BackTab => switch(state, -1),
        KeyCode::Enter => {
            if let (Some(seq), Some(channel)) = (state.selected(), state.current()) {
                let stream = channel.stream.clone();
                state.popup = Some(Popup::Loading(seq));
                return Action::ShowEvent { stream, seq };
            }
        }
        _ => {}
    }
    Action::None
}

/// Moves the selection by `by` events; at the newest, follows it again.
fn select(state: &mut State, by: i64) {
    let Some(selected) = state.selected() else {
        return;
    };
    let stored = state.stored();
    let target = selected
        .saturating_add_signed(by)
        .clamp(*stored.start(), *stored.end());
    state.follow = by > 0 && target == *stored.end();
    state.selected = target;
    state.popup = None;
    state.clamp();
}

/// The next (or previous) channel, following its newest event.
fn switch(state: &mut State, by: isize) {
    let n = state.watch.channels().len();
    if state.one_channel || n < 2 {
        return;
    }
    state.channel = (state.channel as isize + by).rem_euclid(n as isize) as usize;
    state.follow = true;
    state.first_lane = 0;
    state.popup = None;
    state.clamp();
}

#[cfg(test)]
mod tests {
    use super::*;
    use nats_course_toolkit::history::ChannelStatus;

    fn channel(name: &str, last: u64) -> ChannelStatus {
        ChannelStatus {
            channel: name.into(),
            stream: name.to_uppercase().replace(':', "_"),
            events: last,
            first_seq: 1,
            last_seq: last,
            bytes: 0,
            subscriptions: vec![],
        }
    }

    fn state(last: u64) -> State {
        State::new(
            vec![channel("ticket:created", last), channel("order:created", 2)],
            false,
            "nats://localhost:4222".into(),
        )
    }

    fn press(state: &mut State, code: KeyCode) -> Action {
        on_key(state, KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// q and Ctrl-C quit; other letters do nothing.
    #[test]
    fn q_and_ctrl_c_quit() {
        let mut s = state(3);
        assert_eq!(press(&mut s, KeyCode::Char('x')), Action::None);
        assert_eq!(press(&mut s, KeyCode::Char('q')), Action::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(on_key(&mut s, ctrl_c), Action::Quit);
    }

    /// The arrows move the selected cell and scroll the tape; End follows
    /// the newest again, and so does Right at the newest.
    #[test]
    fn arrows_select_and_scroll_end_follows() {
        let mut s = state(100);
        let first = s.channel;
        assert_eq!(s.watch.channels()[first].channel, "order:created");
        press(&mut s, KeyCode::Tab);
        assert_eq!(s.current().unwrap().channel, "ticket:created");
        // 80 columns, cells of 4: 19 cells, #82 to #100.
        assert_eq!(s.window(), 82..=100);
        assert_eq!(s.selected(), Some(100));
        press(&mut s, KeyCode::Left);
        assert!(!s.follow);
        assert_eq!(s.selected(), Some(99));
        for _ in 0..20 {
            press(&mut s, KeyCode::Left);
        }
        assert_eq!(s.selected(), Some(79));
        assert_eq!(s.window(), 79..=97);
        press(&mut s, KeyCode::Home);
        assert_eq!((s.selected(), s.window()), (Some(1), 1..=19));
        press(&mut s, KeyCode::Right);
        assert_eq!((s.selected(), s.window()), (Some(2), 1..=19));
        press(&mut s, KeyCode::End);
        assert!(s.follow);
        assert_eq!((s.selected(), s.window()), (Some(100), 82..=100));
        press(&mut s, KeyCode::Left);
        press(&mut s, KeyCode::Right);
        assert!(s.follow, "Right onto the newest follows again");
    }

    /// Following, a new event moves the tape; not following, it stays.
    #[test]
    fn a_new_event_scrolls_only_when_following() {
        let mut s = State::new(vec![channel("ticket:created", 30)], true, String::new());
        // 80 columns, cells of 3: 26 cells.
        assert_eq!(s.window(), 5..=30);
        s.update(vec![channel("ticket:created", 31)]);
        assert_eq!((s.selected(), s.window()), (Some(31), 6..=31));
        press(&mut s, KeyCode::Left);
        s.update(vec![channel("ticket:created", 32)]);
        assert_eq!((s.selected(), s.window()), (Some(30), 6..=31));
    }

    /// Tab cycles through the channels (none to switch to when one was
    /// named); each starts following its newest event.
    #[test]
    fn tab_cycles_channels() {
        let mut s = state(3);
        let names = |s: &State| s.current().unwrap().channel.clone();
        assert_eq!(names(&s), "order:created");
        press(&mut s, KeyCode::Tab);
        assert_eq!(names(&s), "ticket:created");
        press(&mut s, KeyCode::Tab);
        assert_eq!(names(&s), "order:created");
        press(&mut s, KeyCode::BackTab);
        assert_eq!(names(&s), "ticket:created");
        s.one_channel = true;
        press(&mut s, KeyCode::Tab);
        assert_eq!(names(&s), "ticket:created");
    }

    /// Enter asks for the selected event's data; Esc closes the popup.
    #[test]
    fn enter_shows_the_selected_event_esc_closes() {
        let mut s = state(3);
        press(&mut s, KeyCode::Left);
        let action = press(&mut s, KeyCode::Enter);
        assert_eq!(
            action,
            Action::ShowEvent {
                stream: "ORDER_CREATED".into(),
                seq: 1
            }
        );
        assert!(matches!(s.popup, Some(Popup::Loading(1))));
        press(&mut s, KeyCode::Esc);
        assert!(s.popup.is_none());
    }

    /// With no event stored, the keys change nothing and Enter asks for nothing.
    #[test]
    fn an_empty_channel_has_nothing_to_select() {
        let mut s = State::new(vec![channel("ticket:created", 0)], true, String::new());
        assert_eq!(press(&mut s, KeyCode::Left), Action::None);
        assert_eq!(press(&mut s, KeyCode::Enter), Action::None);
        assert_eq!(s.selected(), None);
        assert!(s.popup.is_none());
    }
}
