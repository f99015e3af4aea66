//! `publish`: the course's `publisher.ts`. Connects and sends a
//! `ticket:created` event at once; `--count`, `--data` and `--channel` vary it.

use std::io::Write as _;
use std::process::ExitCode;

use nats_course_toolkit::mask::Masked;
use nats_course_toolkit::{PublishArgs, cli, publish, shutdown, watch};

fn main() -> ExitCode {
    let args: PublishArgs = cli::parse_or_exit();
    let config = args
        .into_config()
        .unwrap_or_else(|err| cli::exit_usage(err));
    // Every line goes through the masking writers: no secret is printed.
    let mut errors = Masked::line_buffered(std::io::stderr());
    match run(config, &mut errors) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(errors, "Error: {}", cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(config: publish::PublishConfig, errors: &mut Masked<std::io::Stderr>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signal = shutdown::signal()?;
    // Line buffered, as stdout was: each line shows as soon as it is written.
    let out = &mut Masked::line_buffered(std::io::stdout().lock());
    if config.watch.is_empty() {
        runtime.block_on(publish::run(config, signal, out, errors))
    } else {
        runtime.block_on(watch::run(config, signal, out, errors))
    }
}
