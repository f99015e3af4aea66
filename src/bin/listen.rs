//! `listen`: the course's `listener.ts`. Subscribes to `ticket:created` in the
//! queue group `orders-microservice-queue-group` with manual ack, prints every
//! event, and closes cleanly on Ctrl-C (SIGINT) or SIGTERM. The command is
//! `nats_course_cli::listen`.

fn main() -> std::process::ExitCode {
    use nats_course_cli as cmd;
    cmd::run(cmd::listen::ListenArgs::into_config, cmd::listen::start)
}
