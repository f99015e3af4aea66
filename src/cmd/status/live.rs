//! `status --live`: the event history as a tape, one lane per subscription.

use super::StatusConfig;
use crate::cmd::shutdown::Signal;

/// Runs the live view until `q`, Ctrl-C or `signal`.
pub async fn run(_config: StatusConfig, _signal: Signal) -> anyhow::Result<()> {
    anyhow::bail!("--live is not built yet")
}
