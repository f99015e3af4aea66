//! `listen --interactive`: each event waits for a key that decides its fate.
//!
//! It is the receive engine's handler ([`nats_course_toolkit::receive`]),
//! as `listen`'s printing one is; the key is its [`Settle`]:
//!
//! | key | what the server is told | what happens next |
//! |-----|-------------------------|-------------------|
//! | `a` | `+ACK`                  | never sent again |
//! | `n` | `-NAK`                  | sent again at once |
//! | `N` | `-NAK {"delay":…}`      | sent again after the delay typed |
//! | `t` | `+TERM`                 | never sent again, to anyone |
//! | `p` | `+WPI` (in progress)    | its ack wait starts over; it still waits for a key |
//! | `s` | nothing                 | sent again once the ack wait has passed |
//!
//! One event at a time: a queue group's or durable's subscription asks the
//! server for the next event only once this one is settled (a pull of one),
//! and a listener's own has at most one in flight (`max_ack_pending` 1), so
//! nothing else waits behind the event on screen, and nothing runs into its
//! ack wait unseen.
//!
//! The terminal is in raw mode only while a key is awaited (`RawMode`
//! gives it back on every way out, a stop and a panic included), so lines
//! print as usual in between. Ctrl-C while a key is awaited stops the
//! listener as Ctrl-C does otherwise; the event on screen is given back
//! (nak'd) at once, for the next listener, by the receive engine.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::Notify;

use super::print::Printer;
use crate::cli::DELAY_RANGE;
use nats_course_toolkit::duration;
use nats_course_toolkit::receive::{Handler, Settle};
use nats_course_toolkit::subscription::{Delivery, GivenUp};

/// What the prompt offers.
/// Under 80 columns, so that Esc and the outcome clear it whole.
pub const PROMPT: &str =
    "  a ack  n nak  N nak later  t term  p in progress  s skip  Ctrl-C stops > ";

/// The terminal in raw mode (keys one at a time, not echoed) until dropped.
struct RawMode;

impl RawMode {
    fn on() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode().map_err(|err| {
            anyhow::Error::from(err).context("could not read keys from the terminal")
        })?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// A key's meaning at the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `a`, `n`, `t`, `p`, `s`.
    Settle(Settle),
    /// `N`: ask for the delay.
    NakAfter,
    /// Ctrl-C.
    Stop,
}

/// What `key` means at the prompt; `None` for a key that means nothing.
pub fn choice(key: &KeyEvent) -> Option<Choice> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') | KeyCode::Char('d') if ctrl => Choice::Stop,
        _ if ctrl => return None,
        KeyCode::Char('a') => Choice::Settle(Settle::Ack),
        KeyCode::Char('n') => Choice::Settle(Settle::Nak(None)),
        KeyCode::Char('N') => Choice::NakAfter,
        KeyCode::Char('t') => Choice::Settle(Settle::Term),
        KeyCode::Char('p') => Choice::Settle(Settle::Progress),
        KeyCode::Char('s') => Choice::Settle(Settle::Later),
        _ => return None,
    })
}

/// What the line under the event says was done.
pub fn outcome(settle: Settle, ack_wait: Duration) -> String {
    let ack_wait = duration::format(ack_wait);
    match settle {
        Settle::Ack => "  → acked: the server never sends it again".to_owned(),
        Settle::Nak(None) => "  → nak'd: the server sends it again at once".to_owned(),
        Settle::Nak(Some(delay)) => format!(
            "  → nak'd: the server sends it again after {}",
            duration::format(delay)
        ),
        Settle::Term => "  → terminated: the server never sends it again, to anyone".to_owned(),
        Settle::Progress => format!(
            "  → in progress: its ack wait ({ack_wait}) starts over; it still waits for a key"
        ),
        Settle::Later => format!(
            "  → skipped, no answer: the server sends it again once the ack wait ({ack_wait}) has passed"
        ),
    }
}

/// `listen --interactive`'s handler: prints each event, then asks.
pub(super) struct Interactive<'a, W: Write> {
    pub(super) printer: Printer,
    pub(super) out: &'a mut W,
    /// Fired on Ctrl-C at the prompt: the listener's stop.
    pub(super) stop: Arc<Notify>,
    pub(super) ack_wait: Duration,
    keys: EventStream,
    /// The event whose line is on screen, asked about again after `p`.
    on_screen: Option<(u64, u64)>,
}

impl<'a, W: Write> Interactive<'a, W> {
    pub(super) fn new(
        printer: Printer,
        out: &'a mut W,
        stop: Arc<Notify>,
        ack_wait: Duration,
    ) -> Self {
        Interactive {
            printer,
            out,
            stop,
            ack_wait,
            keys: EventStream::new(),
            on_screen: None,
        }
    }

    /// The next key pressed, in raw mode.
    async fn key(&mut self) -> anyhow::Result<KeyEvent> {
        let _raw = RawMode::on()?;
        loop {
            match self.keys.next().await {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => return Ok(key),
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    return Err(anyhow::Error::from(err).context("could not read the keyboard"));
                }
                None => anyhow::bail!("the terminal closed"),
            }
        }
    }

    /// Asks for `N`'s delay on the prompt's line: `None` when Esc takes it back.
    async fn delay(&mut self) -> anyhow::Result<Option<Duration>> {
        let ask = "  nak, sent again after (e.g. 5s, 1m; Enter sends, Esc goes back): ";
        let mut typed = String::new();
        loop {
            write!(self.out, "\r\x1b[2K{ask}{typed}")?;
            self.out.flush()?;
            let key = self.key().await?;
            match key.code {
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Err(self.stop_here().await);
                }
                KeyCode::Esc => return Ok(None),
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Char(c) if typed.len() < 32 => typed.push(c),
                KeyCode::Enter => match duration::parse(typed.trim()) {
                    Ok(delay) if (DELAY_RANGE.0..=DELAY_RANGE.1).contains(&delay) => {
                        return Ok(Some(delay));
                    }
                    Ok(_) => {
                        self.say("  the delay goes from 1ms to 24h")?;
                        typed.clear();
                    }
                    Err(err) => {
                        self.say(&format!("  not a delay: {err}"))?;
                        typed.clear();
                    }
                },
                _ => {}
            }
        }
    }

    /// Replaces the prompt's line with `line`.
    fn say(&mut self, line: &str) -> std::io::Result<()> {
        write!(self.out, "\r\x1b[2K{line}\n")?;
        self.out.flush()
    }

    /// Ctrl-C at the prompt: says so, fires the stop, and waits for it to
    /// cut this handler short (the engine gives the event back).
    async fn stop_here(&mut self) -> anyhow::Error {
        if let Err(err) = self.say("  → stopping: the event is given back (nak'd) to the server")
        {
            return err.into();
        }
        self.stop.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the stop cuts the handler short")
    }

    /// Drops keys pressed while no prompt was up.
    fn forget_typed_ahead(&mut self) {
        while let Some(Some(_)) = self.keys.next().now_or_never() {}
    }
}

impl<W: Write> Handler for Interactive<'_, W> {
    async fn handle(&mut self, event: &Delivery) -> anyhow::Result<Settle> {
        let this = (event.sequence, event.delivered);
        if self.on_screen != Some(this) {
            self.printer.print(self.out, event, false)?;
            self.on_screen = Some(this);
            self.forget_typed_ahead();
        }
        loop {
            write!(self.out, "{PROMPT}")?;
            self.out.flush()?;
            let key = self.key().await?;
            let settle = match choice(&key) {
                None => {
                    write!(self.out, "\r\x1b[2K")?;
                    continue;
                }
                Some(Choice::Stop) => return Err(self.stop_here().await),
                Some(Choice::NakAfter) => match self.delay().await? {
                    Some(delay) => Settle::Nak(Some(delay)),
                    None => {
                        write!(self.out, "\r\x1b[2K")?;
                        continue;
                    }
                },
                Some(Choice::Settle(settle)) => settle,
            };
            self.say(&outcome(settle, self.ack_wait))?;
            if settle != Settle::Progress {
                self.on_screen = None;
            }
            return Ok(settle);
        }
    }

    fn write_out(&mut self) -> anyhow::Result<()> {
        Ok(self.out.flush()?)
    }

    fn given_up(&mut self, given_up: GivenUp) -> anyhow::Result<()> {
        self.printer.print_given_up(self.out, given_up)?;
        Ok(self.out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    /// Each key's meaning; others mean nothing.
    #[test]
    fn keys_choose_a_settle() {
        let plain = |c| choice(&key(KeyCode::Char(c), KeyModifiers::NONE));
        assert_eq!(plain('a'), Some(Choice::Settle(Settle::Ack)));
        assert_eq!(plain('n'), Some(Choice::Settle(Settle::Nak(None))));
        assert_eq!(
            choice(&key(KeyCode::Char('N'), KeyModifiers::SHIFT)),
            Some(Choice::NakAfter)
        );
        assert_eq!(plain('t'), Some(Choice::Settle(Settle::Term)));
        assert_eq!(plain('p'), Some(Choice::Settle(Settle::Progress)));
        assert_eq!(plain('s'), Some(Choice::Settle(Settle::Later)));
        assert_eq!(plain('x'), None);
        assert_eq!(
            choice(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Choice::Stop)
        );
        assert_eq!(
            choice(&key(KeyCode::Char('a'), KeyModifiers::CONTROL)),
            None
        );
    }

    /// The prompt fits an 80-column terminal on one line.
    #[test]
    fn the_prompt_fits_80_columns() {
        assert!(PROMPT.chars().count() < 80, "{}", PROMPT.chars().count());
    }

    /// The outcome lines say the ack wait where it matters.
    #[test]
    fn outcomes_say_what_was_done() {
        let wait = Duration::from_secs(30);
        assert_eq!(
            outcome(Settle::Nak(Some(Duration::from_secs(5))), wait),
            "  → nak'd: the server sends it again after 5s"
        );
        assert!(outcome(Settle::Later, wait).contains("ack wait (30s)"));
        assert!(outcome(Settle::Progress, wait).contains("still waits for a key"));
    }
}
