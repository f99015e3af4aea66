//! `listen --delete-durable NAME`: the course's durable `unsubscribe()`.
//! The server forgets what the subscription acked; a listener that joins
//! the name again starts over. It asks first on a terminal (`--yes` skips
//! the question, and is needed where there is no terminal to ask on).

use std::io::{BufRead as _, Read as _, Write};
use std::time::Duration;

use anyhow::bail;

use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::connection::ConnectConfig;
use nats_course_toolkit::history::{self, SubscriptionStatus};
use nats_course_toolkit::notes::escape_control;

/// How long the question waits for an answer before nothing is deleted.
pub const ANSWER_WAIT: Duration = Duration::from_secs(300);

/// The longest answer read; the rest of a longer line is not looked at.
const MAX_ANSWER: u64 = 64;

/// Which subscription to delete, and whether the user already said yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The durable name, or the queue group's name.
    pub name: String,
    /// `--yes`: delete without asking.
    pub confirmed: bool,
}

/// Says what the subscription holds, asks (unless `--yes`), and deletes it.
pub async fn run(
    connect: &ConnectConfig,
    channel: &Channel,
    unsubscribe: &Unsubscribe,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let client = connect.connect().await?;
    let js = async_nats::jetstream::new(client.clone());
    let result = async {
        let name = &unsubscribe.name;
        let found = history::find_subscription(&js, channel, name).await?;
        writeln!(out, "{}", describe(channel, &found))?;
        out.flush()?;
        if !unsubscribe.confirmed && !ask(notes).await? {
            writeln!(out, "Nothing deleted.")?;
            return anyhow::Ok(());
        }
        history::delete_subscription(&js, channel, name).await?;
        writeln!(
            out,
            "Deleted subscription {} of {channel}: the server forgot what it acked.",
            escape_control(name)
        )?;
        Ok(())
    }
    .await;
    nats_course_toolkit::connection::close(client).await;
    result
}

/// One line on what deleting the subscription forgets.
fn describe(channel: &Channel, found: &SubscriptionStatus) -> String {
    let role = match (&found.queue_group, found.durable) {
        (Some(group), _) => format!("the queue group {}'s", escape_control(group)),
        (None, true) => "a durable".into(),
        (None, false) => "a listener's own".into(),
    };
    let floor = match found.ack_floor {
        0 => "nothing acked yet".into(),
        n => format!("acked up to #{n}"),
    };
    format!(
        "Subscription {} of {channel} is {role} subscription: {floor}, {} waiting for an ack, \
         {} not delivered yet. Deleting it forgets what it acked: a listener that joins it \
         again starts over, and its listeners still running stop.",
        escape_control(&found.name),
        found.ack_pending,
        found.pending,
    )
}

/// Asks on the terminal; `true` for y or yes. No answer within
/// [`ANSWER_WAIT`] is a no, said as an error.
async fn ask(notes: &mut impl Write) -> anyhow::Result<bool> {
    write!(notes, "Delete it? [y/N] ")?;
    notes.flush()?;
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_ANSWER)
            .read_line(&mut line)
            .map(|_| line)
    });
    let Ok(answer) = tokio::time::timeout(ANSWER_WAIT, answer).await else {
        writeln!(notes)?;
        bail!(
            "no answer within {}: nothing deleted",
            nats_course_toolkit::duration::format(ANSWER_WAIT)
        );
    };
    let answer = answer??;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
