//! `--completions SHELL`: the completion script of a binary for bash, zsh,
//! fish, elvish or PowerShell, printed on stdout. Every binary that
//! flattens [`ConnectArgs`](super::ConnectArgs) has the flag;
//! [`parse_or_exit`](super::parse_or_exit) answers it before anything else.

use std::io::Write as _;

use clap::Command;
pub use clap_complete::Shell;

use crate::mask::Masked;

/// The flag's id, as `parse_or_exit` looks for it.
pub(super) const ID: &str = "completions";

/// Writes `command`'s completion script for `shell` on stdout.
pub fn print(shell: Shell, command: &mut Command) -> std::io::Result<()> {
    let name = command.get_name().to_owned();
    let mut stdout = Masked::with_capacity(64 * 1024, std::io::stdout().lock());
    clap_complete::generate(shell, command, name, &mut stdout);
    stdout.flush()
}
