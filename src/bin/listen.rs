//! `listen`: the course's `listener.ts`. Subscribes to `ticket:created` in the
//! queue group `orders-microservice-queue-group` with manual ack, prints every
//! event, and closes cleanly on Ctrl-C (SIGINT) or SIGTERM. The command is
//! `nats_course_toolkit::cmd::listen`.

fn main() -> std::process::ExitCode {
    use nats_course_toolkit::cmd;
    cmd::run(cmd::cli::ListenArgs::into_config, cmd::listen::start)
}
