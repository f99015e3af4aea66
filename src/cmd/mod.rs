//! The commands: flag parsing, the lines they print, watch mode, the
//! progress bar and signals, behind the default `cli` feature. The library
//! below knows nothing of them; each binary in `src/bin/` is one call to
//! [`publish::main`], [`listen::main`] or [`status::main`].

use std::io::Write as _;
use std::process::ExitCode;

use crate::mask::Masked;

pub mod cli;
pub mod listen;
pub mod progress;
pub mod publish;
pub mod shutdown;
pub mod status;
pub mod watch;

/// What both commands' `main` share: parse the flags into a config (exit 2
/// on bad input), run the command on a single-threaded runtime with Ctrl-C
/// and SIGTERM as its stop signal, and turn an error into one masked
/// `Error: ...` line and exit status 1.
fn main<A: clap::Parser, C, F>(
    into_config: impl FnOnce(A) -> Result<C, clap::Error>,
    run: impl FnOnce(C, shutdown::Signal) -> F,
) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    let args: A = cli::parse_or_exit();
    let config = into_config(args).unwrap_or_else(|err| cli::exit_usage(err));
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            let signal = shutdown::signal()?;
            runtime.block_on(run(config, signal))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Masked, like every line the commands print.
            let mut errors = Masked::line_buffered(std::io::stderr());
            let _ = writeln!(errors, "Error: {}", cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
