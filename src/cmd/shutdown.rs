//! Graceful shutdown.
//!
//! The course's listener did
//! `process.on('SIGINT', () => stan.close())` and the same for SIGTERM, so
//! that the server forgot a stopped listener at once instead of waiting for
//! its heartbeats to fail. Here SIGINT and SIGTERM resolve a future; the
//! library's `run` functions take it as a parameter (tests pass their own)
//! and close the connection cleanly when it resolves.

use std::future::Future;
use std::pin::Pin;

/// The stop signal: resolves on the first SIGINT or SIGTERM.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. A second one ends the
/// process at once, for when a clean close hangs.
///
/// Installs a process-wide handler, so call it once per process.
pub fn signal() -> anyhow::Result<Signal> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    ctrlc::set_handler(move || match tx.take() {
        Some(tx) => {
            let _ = tx.send(());
        }
        None => std::process::exit(130),
    })?;
    Ok(Box::pin(async move {
        let _ = rx.await;
    }))
}
