//! A progress bar for long runs: `publish --count 100000`, or
//! `listen --count 100000 > events.txt`.
//!
//! It is drawn on stderr, only when stderr is a terminal, and only when the
//! events are not printed there line by line anyway; otherwise every call
//! is a no-op. Counting an event is one atomic add: a thread of the bar's
//! own reads the count and redraws `REDRAWS_PER_SECOND` times a second,
//! so the per-event path never reads the clock or takes a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often the bar is redrawn.
const REDRAWS_PER_SECOND: u8 = 10;

/// A bar counting events towards a total, or nothing.
#[derive(Debug, Clone, Default)]
pub struct Progress(Option<Arc<Bar>>);

#[derive(Debug)]
struct Bar {
    bar: ProgressBar,
    /// Events counted so far.
    count: AtomicU64,
    /// Set when the run is over; the drawing thread then stops.
    finished: Mutex<bool>,
    wake: Condvar,
    drawer: Mutex<Option<JoinHandle<()>>>,
}

impl Progress {
    /// A bar for `total` events, if `wanted` and stderr is a terminal.
    pub fn new(total: u64, wanted: bool) -> Progress {
        let target = ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND);
        if !wanted || target.is_hidden() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), target).with_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} events, {rate} events/s, {eta} left",
            )
            .expect("the template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}", state.per_sec());
                },
            ),
        );
        let shared = Arc::new(Bar {
            bar,
            count: AtomicU64::new(0),
            finished: Mutex::new(false),
            wake: Condvar::new(),
            drawer: Mutex::new(None),
        });
        let drawing = Arc::clone(&shared);
        let drawer = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || drawing.draw_until_finished())
            .ok();
        *shared.drawer.lock().expect("not poisoned") = drawer;
        Progress(Some(shared))
    }

    /// No bar at all.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Counts one event.
    pub fn inc(&self) {
        if let Some(shared) = &self.0 {
            shared.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        let Some(shared) = &self.0 else {
            return;
        };
        *shared.finished.lock().expect("not poisoned") = true;
        shared.wake.notify_all();
        if let Some(drawer) = shared.drawer.lock().expect("not poisoned").take() {
            let _ = drawer.join();
        }
        shared.bar.finish_and_clear();
    }
}

impl Bar {
    fn draw_until_finished(&self) {
        let period = Duration::from_secs(1) / u32::from(REDRAWS_PER_SECOND);
        let mut finished = self.finished.lock().expect("not poisoned");
        while !*finished {
            finished = self
                .wake
                .wait_timeout(finished, period)
                .expect("not poisoned")
                .0;
            self.bar.set_position(self.count.load(Ordering::Relaxed));
        }
    }
}
