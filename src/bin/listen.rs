//! `listen`: the course's `listener.ts`. Subscribes to `ticket:created` in the
//! queue group `orders-microservice-queue-group` with manual ack, prints every
//! event, and closes cleanly on Ctrl-C (SIGINT) or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;

use nats_course_toolkit::mask::Masked;
use nats_course_toolkit::{ListenArgs, cli, listen, shutdown};

fn main() -> ExitCode {
    let args: ListenArgs = cli::parse_or_exit();
    let config = args
        .into_config()
        .unwrap_or_else(|err| cli::exit_usage(err));
    // Every line goes through the masking writers: no secret is printed.
    let mut notes = Masked::line_buffered(std::io::stderr());
    match run(config, &mut notes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(notes, "Error: {}", cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(config: listen::ListenConfig, notes: &mut Masked<std::io::Stderr>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signal = shutdown::signal()?;
    // Buffered: a replay prints thousands of lines, and the listener flushes
    // whenever it waits for the next event.
    let mut out = Masked::with_capacity(64 * 1024, std::io::stdout().lock());
    runtime.block_on(listen::run(config, signal, &mut out, notes))
}
