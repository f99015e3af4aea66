//! Caught up (`listen --until-caught-up`): when a listener has handled the backlog.
//!
//! The backlog is every event stored when the listener started, up to the
//! channel's last one then ([`Subscription::backlog_end`]). The listener is
//! caught up once the server's ack floor of its subscription covers that
//! last event: every event of the backlog was acked, by this listener or by
//! another member of its queue group. Having printed the last event is not
//! enough: earlier events may still wait for an ack, held by a listener that
//! stopped (they come back at once if it nak'd them on its way out, or after
//! the ack wait if it was killed) or by another member still at work.
//!
//! While it waits for them, the listener says so once; it gives up (exit 1)
//! when the ack floor has not moved for the ack wait plus [`GRACE`]: by then
//! an event held by a dead listener would have come back.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::duration;
use crate::notes::Notes;
use crate::subscription::Subscription;

/// How long past the ack wait a listener waits for the ack floor to move.
pub const GRACE: Duration = Duration::from_secs(10);

/// After how long without the ack floor moving the listener says what it
/// waits for, if it has not reached the backlog's end itself.
const SAY_AFTER: Duration = Duration::from_secs(2);

/// Where a listener is in catching up with the backlog.
pub(super) struct CatchUp {
    /// The backlog's last event.
    end: u64,
    /// Whether this listener has handled that event itself.
    reached_end: bool,
    /// The ack floor at the last check, and since when it has been there.
    floor: u64,
    since: Instant,
    /// Whether the listener said what it waits for.
    said: bool,
}

impl CatchUp {
    pub(super) fn new(end: u64) -> CatchUp {
        CatchUp {
            end,
            reached_end: false,
            floor: 0,
            since: Instant::now(),
            said: false,
        }
    }

    /// Notes an event this listener handled: `true` when it is the first
    /// to reach the backlog's last event (a queue group's other members
    /// may handle that one instead).
    pub(super) fn handled(&mut self, sequence: u64) -> bool {
        let reached = !self.reached_end && sequence >= self.end;
        self.reached_end |= reached;
        reached
    }

    /// Asks the server whether the ack floor covers the backlog: `true`
    /// when it does. Says once what the listener waits for, and fails when
    /// the floor has not moved for the ack wait plus [`GRACE`].
    pub(super) async fn check(
        &mut self,
        subscription: &mut Subscription,
        notes: &Notes,
    ) -> anyhow::Result<bool> {
        let standing = subscription.standing().await?;
        if standing.ack_floor >= self.end {
            return Ok(true);
        }
        if standing.ack_floor != self.floor {
            self.floor = standing.ack_floor;
            self.since = Instant::now();
        }
        let limit = standing.ack_wait + GRACE;
        if !self.said && (self.reached_end || self.since.elapsed() > SAY_AFTER) {
            self.said = true;
            notes.say(format_args!(
                "Waiting for events up to #{} to be acked: the ack floor is #{} and {} events \
                 wait for an ack (held by another listener, or coming back after the ack wait, {}); \
                 at most {} without progress",
                self.end,
                standing.ack_floor,
                standing.waiting_for_ack,
                duration::format(standing.ack_wait),
                duration::format(limit),
            ));
        }
        if self.since.elapsed() > limit {
            bail!(
                "not caught up: the ack floor stayed at #{} for {} while events up to #{} were \
                 stored ({} wait for an ack, held by another listener); run `status` to see \
                 which subscription holds them",
                standing.ack_floor,
                duration::format(limit),
                self.end,
                standing.waiting_for_ack,
            );
        }
        Ok(false)
    }
}
