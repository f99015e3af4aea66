//! How the commands say what the library mentions ([`Mention`]): by their
//! flags. The library's errors and notes say what the user can change in
//! its own words (`choose another durable name`); every line the commands
//! print says it as the flag to give (`choose another --durable name`).

use std::borrow::Cow;
use std::io::Write as _;

use nats_course_toolkit::notes::{self, Notes};
use nats_course_toolkit::said::Mention;
use nats_course_toolkit::subscription::StartPosition;

use crate::mask::Masked;

/// `mention` as the commands say it; `start` is the start position the
/// listener was given, when there is one.
pub fn flag_words(mention: Mention, words: &str, start: Option<StartPosition>) -> Cow<'_, str> {
    Cow::Borrowed(match mention {
        Mention::Channel => "--channel",
        Mention::Creds => " (--creds)",
        Mention::TlsCa => " (--tls-ca)",
        Mention::TlsCert => " (--tls-cert)",
        Mention::TlsKey => " (--tls-key)",
        Mention::ClientCertificate => "give --tls-cert FILE and --tls-key FILE",
        Mention::TrustedCa => "give the CA that signed it with --tls-ca FILE",
        Mention::StartOver => "run again with --reset",
        Mention::StartedOver => "ran listen --reset for its queue group or durable",
        Mention::DurableName => "--durable name",
        Mention::QueueGroupName => "--queue-group name",
        Mention::ListenAlone => "listen with --no-queue-group",
        Mention::ReportAcks => "--report-acks",
        Mention::Start => return start.map_or(Cow::Borrowed(words), |s| start_flag(s).into()),
        _ => words,
    })
}

/// The flag a start position is given with: `--start-seq 5`.
pub fn start_flag(start: StartPosition) -> String {
    match start {
        StartPosition::New => "(no start flag)".into(),
        StartPosition::All => "--deliver-all".into(),
        StartPosition::Last => "--deliver-last".into(),
        StartPosition::Sequence(n) => format!("--start-seq {n}"),
        StartPosition::Since(span) => {
            format!("--since {}", nats_course_toolkit::duration::format(span))
        }
        StartPosition::Time(start) => format!(
            "--start-time {}",
            start
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| start.to_string())
        ),
    }
}

/// An error and its causes on one line, as the commands print it, with
/// what the user can change said as flags.
pub fn error_line(err: &anyhow::Error) -> String {
    notes::error_line_with(err, &|mention, words| flag_words(mention, words, None))
}

/// The library's notes as the commands show them: a line on stderr each,
/// masked like every line they print, its control characters escaped (a
/// note may quote what the server said), what the user can change said
/// as flags.
pub fn stderr_notes() -> Notes {
    stderr_notes_for(None)
}

/// [`stderr_notes`] for a listener given the start position `start`.
pub fn stderr_notes_for(start: Option<StartPosition>) -> Notes {
    Notes::to_said(move |said| {
        let line = said.render(|mention, words| flag_words(mention, words, start));
        let mut stderr = Masked::line_buffered(std::io::stderr().lock());
        let line = notes::escape_control(&line);
        // Nothing sensible to do when stderr is gone.
        let _ = writeln!(stderr, "{line}").and_then(|()| stderr.flush());
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_time_is_given_in_rfc_3339() {
        let start = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_723);
        assert_eq!(
            start_flag(StartPosition::Time(start)),
            "--start-time 2024-01-01T00:00:00Z"
        );
    }
}
