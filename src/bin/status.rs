//! `status`: what the NATS server keeps, each channel's event history and
//! where every subscription stands in it. The command is
//! `nats_course_cli::status`.

fn main() -> std::process::ExitCode {
    use nats_course_cli as cmd;
    cmd::run(cmd::status::StatusArgs::into_config, cmd::status::start)
}
