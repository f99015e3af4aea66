//! Writes a man page for each binary (`publish.1`, `listen.1`, ...) into
//! the folder given, from the same clap definitions as `--help`:
//!
//! ```text
//! cargo run --example man -- target/man    # what `make man` runs
//! man target/man/publish.1
//! ```
//!
//! The list of binaries is `nats_course_cli::commands()`, so a new binary gets its
//! page by being added there.

use std::path::PathBuf;

use anyhow::Context as _;
use nats_course_cli::commands;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).context(
        "give the folder to write the man pages to: cargo run --example man -- target/man",
    )?);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for command in commands() {
        let path = dir.join(format!("{}.1", command.get_name()));
        // One page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (with their
        // defaults and variables) and VERSION, as `--help` says them.
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
