//! The commands, `nats-course-cli`: flag parsing, the lines they print,
//! watch mode, the progress bar, signals and the live view, on the library
//! `nats_course_toolkit` (`src/lib.rs`), which knows nothing of them and has
//! none of their crates in its tree. The flow goes one way: the flags
//! ([`cli`]) become a command's typed config, which its `start` runs on
//! the library; each binary in `src/bin/` is one call to [`run`] with the
//! two ([`publish::start`], [`listen::start`], [`status::start`]).

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use crate::mask::Masked;

pub mod cli;
pub mod color;
pub mod listen;
pub mod mask;
pub mod pipe;
pub mod progress;
pub mod publish;
pub mod shutdown;
pub mod status;

/// The command line of every binary, for its man page (`make man`) and
/// completion script (`make completions`): adding a binary is one line here.
pub fn commands() -> Vec<clap::Command> {
    use clap::CommandFactory as _;
    vec![
        publish::PublishArgs::command(),
        listen::ListenArgs::command(),
        status::StatusArgs::command(),
    ]
}

/// What the commands' `main` share: parse the flags into a config (exit 2
/// on bad input), run the command on a single-threaded runtime with Ctrl-C
/// and SIGTERM as its stop signal, and turn an error into one masked
/// `Error: ...` line (`Error:` in red on a terminal) and exit status 1; but
/// a write to a stdout whose reader has gone into a quiet exit 0 (see
/// [`pipe`]).
pub fn run<A: clap::Parser, C, F>(
    into_config: impl FnOnce(A) -> Result<C, clap::Error>,
    command: impl FnOnce(C, shutdown::Signal) -> F,
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
            runtime.block_on(command(config, signal))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `listen | head -3`: nobody is left to tell.
        Err(err) if pipe::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Masked, like every line the commands print.
            // `Error:` in red on a terminal (see `color`).
            let red = if color::chosen().enabled(std::io::stderr().is_terminal()) {
                color::ERROR
            } else {
                anstyle::Style::new()
            };
            let mut errors = Masked::line_buffered(std::io::stderr());
            let _ = writeln!(errors, "{red}Error:{red:#} {}", cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definitions_are_consistent() {
        for command in super::commands() {
            command.debug_assert();
        }
    }
}
