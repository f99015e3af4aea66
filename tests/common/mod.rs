//! Test support, one module for every test in `tests/` and for the bench
//! (`benches/toolkit.rs` includes it with `#[path]`):
//!
//! - [`server`]: [`NatsServer`], a real `nats-server` on random loopback
//!   ports (monitoring too, if asked) with a temporary store, killed on
//!   drop; free ports and the monitoring port's pages.
//! - [`process`]: the built binaries, examples and scripts, run to their end
//!   within a deadline ([`run`]) or in the background ([`Running`]), their
//!   output collected as it comes, so tests wait for a line with a deadline
//!   instead of sleeping.
//! - [`api`]: the JetStream API requests a command makes, counted by a
//!   subscription of the test's own on `$JS.API.>`.
//! - [`cluster`]: a 3-node cluster, started by the test ([`cluster::Cluster`])
//!   or by `scripts/nats-cluster.sh` ([`cluster::ClusterScript`]).
//!
//! Every wait polls a condition with a deadline ([`poll`], [`wait_until`]).

#![allow(dead_code)]

pub mod api;
pub mod cluster;
pub mod process;
pub mod server;
pub mod tmux;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use server::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long a command run to its end may take: a publish or a replay of
/// 50,000 events, a script that forms a cluster, on a busy 2-core machine.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// The seed event's JSON.
pub const SEED: &str = r#"{"id":"123","title":"concert","price":20}"#;

/// The repository's root folder.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a future to completion on a small runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Awaits `future`, failing the test after [`DEADLINE`].
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Calls `f` every `every` until it returns something; `None` once
/// `deadline` has passed without.
pub fn poll<T>(deadline: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        if start.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Polls `condition` every 50 ms until it holds; fails the test after `deadline`.
pub fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let every = Duration::from_millis(50);
    if poll(deadline, every, || condition().then_some(())).is_none() {
        panic!("timed out after {deadline:?} waiting for {what}");
    }
}

/// Sends the signal `name` (`INT`, `KILL`, `STOP`, ...) to the process `pid`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}
