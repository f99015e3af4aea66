//! Test helpers: a real `nats-server` per test, and the built binaries.
//!
//! [`NatsServer`] starts `nats-server` on a random port with a temporary
//! store and kills it on drop. [`Running`] runs a binary (`listen`, or
//! `publish --watch`) in the background and collects what it prints, so tests can wait for a line with
//! a deadline instead of sleeping. [`cluster`] runs a 3-node cluster.

#![allow(dead_code)]

pub mod cluster;
mod process;
mod server;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use server::*;

use std::time::Duration;

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The seed event's JSON.
pub const SEED: &str = r#"{"id":"123","title":"concert","price":20}"#;

/// Runs a future to completion on a small runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}
