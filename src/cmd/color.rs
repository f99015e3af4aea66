//! Colour, for a learner at a terminal: `listen` shows a redelivered event
//! in yellow, an event it nak'd or terminated (or the server gave up) in
//! magenta, and both commands' `Error:` in red.
//!
//! Whether to colour is decided once, from `--color auto|always|never`
//! (default auto), [`NO_COLOR`](https://no-color.org) and whether the
//! output is a terminal. The codes go around whole lines (or the word
//! `Error:`), which the masking writer then takes whole, as ever: a secret
//! is never split by a colour code. `--json` output is never coloured.

use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    // Plain comments, not docs: clap would show docs as a long list in --help.
    // On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    // Always, even into a pipe or a file (and whatever NO_COLOR says).
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour what goes to a stream that is a terminal or not.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !no_color(),
        }
    }
}

/// The choice of this run, set once by the command (`--color`).
static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records this run's `--color`, for the `Error:` line; later calls do nothing.
pub fn choose(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// This run's `--color`: auto for a command without the flag.
pub fn chosen() -> ColorChoice {
    CHOICE.get().copied().unwrap_or_default()
}

/// `NO_COLOR` set to anything but the empty string.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// A redelivered event: the server sent it again.
pub const REDELIVERED: Style = AnsiColor::Yellow.on_default();

/// An event settled other than by an ack: nak'd, terminated, or given up.
pub const NOT_ACKED: Style = AnsiColor::Magenta.on_default();

/// The word `Error:`.
pub const ERROR: Style = AnsiColor::Red.on_default().bold();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_ansi_escape_codes() {
        assert_eq!(REDELIVERED.render().to_string(), "\x1b[33m");
        assert_eq!(NOT_ACKED.render().to_string(), "\x1b[35m");
        assert_eq!(REDELIVERED.render_reset().to_string(), "\x1b[0m");
    }
}
