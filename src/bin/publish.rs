//! `publish`: the course's `publisher.ts`. Connects and sends a
//! `ticket:created` event at once; `--count`, `--data` and `--channel` vary it.
//! The command is `nats_course_cli::publish`.

fn main() -> std::process::ExitCode {
    use nats_course_cli as cmd;
    cmd::run(cmd::publish::PublishArgs::into_config, cmd::publish::start)
}
