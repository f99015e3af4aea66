//! A real terminal for the tests of what draws on one or reads keys from
//! one (`status --live`, `listen --interactive`): a pseudo-terminal made by
//! tmux, typed into with `send-keys` and read with `capture-pane`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{DEADLINE, poll, repo_root, text};

/// The tmux to drive: `TMUX_BIN`, one on `PATH`, or the one that
/// `scripts/install-tmux.sh` finds or installs (Debian's package).
pub fn tmux_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TMUX_BIN") {
        return PathBuf::from(path);
    }
    let on_path = Command::new("tmux").arg("-V").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return PathBuf::from("tmux");
    }
    eprintln!("tmux not on PATH: running scripts/install-tmux.sh");
    let output = Command::new(repo_root().join("scripts/install-tmux.sh"))
        .output()
        .expect("run scripts/install-tmux.sh");
    let path = text(&output.stdout).lines().last().unwrap_or("").to_owned();
    if !output.status.success() || path.is_empty() {
        panic!(
            "tmux not found, and scripts/install-tmux.sh could not install it:\n{}\n\
             Install tmux (Debian and Ubuntu: sudo apt-get install tmux), or set TMUX_BIN",
            text(&output.stderr)
        );
    }
    PathBuf::from(path)
}

/// A tmux server of its own (a private socket) with one session, killed
/// on drop.
pub struct Tmux {
    bin: PathBuf,
    socket: String,
}

impl Tmux {
    /// Runs `command` (a shell command line) in a detached 80×24 session.
    pub fn start(command: &str) -> Tmux {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "nct-tmux-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux {
            bin: tmux_bin(),
            socket,
        };
        let output = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "live",
            "-x",
            "80",
            "-y",
            "24",
            command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            text(&output.stderr)
        );
        tmux
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        text(&self.run(&["capture-pane", "-p", "-t", "live"]).stdout)
    }

    /// Types `keys` (tmux key names: `q`, `Left`, `Enter`, ...).
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "live"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "tmux send-keys {keys:?}");
    }

    /// A tmux format about the pane, e.g. `#{alternate_on}`.
    pub fn display(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", "live", format]);
        text(&output.stdout).trim().to_owned()
    }

    /// Polls the screen until `condition` holds; fails the test, showing
    /// the screen, after [`DEADLINE`].
    pub fn wait_for(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let every = Duration::from_millis(100);
        poll(DEADLINE, every, || {
            let screen = self.screen();
            condition(&screen).then_some(screen)
        })
        .unwrap_or_else(|| {
            panic!(
                "timed out after {DEADLINE:?} waiting for {what}; the screen:\n{}",
                self.screen()
            )
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// A shell word: `'...'` with any `'` escaped.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
