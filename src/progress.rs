//! A progress bar for long runs: `publish --count 100000`, or
//! `listen --count 100000 > events.txt`.
//!
//! It is drawn on stderr, only when stderr is a terminal, and only when the
//! events are not printed there line by line anyway; otherwise every call
//! is a no-op. Drawing is rate-limited by `indicatif`, so counting an event
//! costs one atomic add.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar counting events towards a total, or nothing.
#[derive(Debug, Clone, Default)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `total` events, if `wanted` and stderr is a terminal.
    pub fn new(total: u64, wanted: bool) -> Progress {
        let target = ProgressDrawTarget::stderr();
        if !wanted || target.is_hidden() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), target).with_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events, {rate} events/s, {eta} left",
            )
            .expect("the template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}", state.per_sec());
                },
            ),
        );
        Progress(Some(bar))
    }

    /// No bar at all.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Counts one event.
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
