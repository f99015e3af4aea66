//! `publish`: the course's `publisher.ts`. Connects and sends a
//! `ticket:created` event at once; `--count`, `--data` and `--channel` vary it.

use std::process::ExitCode;

use nats_course_toolkit::{PublishArgs, cli, publish, shutdown, watch};

fn main() -> ExitCode {
    let args: PublishArgs = cli::parse_or_exit();
    let config = args
        .into_config()
        .unwrap_or_else(|err| cli::exit_usage(err));
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {}", cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(config: publish::PublishConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signal = shutdown::signal()?;
    let out = &mut std::io::stdout().lock();
    if config.watch.is_empty() {
        runtime.block_on(publish::run(config, signal, out))
    } else {
        runtime.block_on(watch::run(config, signal, out, &mut std::io::stderr()))
    }
}
