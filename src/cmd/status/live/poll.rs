//! What the live view asks the server every `REFRESH` (half a second): only what
//! it shows.
//!
//! - A channel named (`status CHANNEL --live`): its stream, found once at
//!   start, is all that is read: its info and its subscriptions, two
//!   requests a poll.
//! - A channel named that has no stream yet: the poll looks for it
//!   (`STREAM.NAMES`), until the first event published on it makes it;
//!   from then on, as above.
//! - No channel: the view shows one channel at a time (Tab for the next).
//!   Every channel's stored events come in one `STREAM.LIST` (per 256
//!   channels), the subscriptions of the channel on screen only. Asking
//!   for every channel's subscriptions twice a second cost a server about
//!   12% of a core at 300 channels and 3000 subscriptions; this costs the
//!   same at 1 channel or 300. The other channels' lanes keep what was last
//!   read of them ([`super::state::State::update_polled`]) until shown,
//!   when they are read at once.

use async_nats::jetstream::Context;

use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::history::{self, ChannelStatus};

/// Which channels a poll reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The stream of the channel named on the command line.
    Stream(String),
    /// The channel named on the command line, whose stream is not made yet.
    Channel(Channel),
    /// Every channel; the subscriptions of this stream's only (the channel
    /// on screen), if any.
    All { shown: Option<String> },
}

/// One poll's answer.
#[derive(Debug)]
pub struct Polled {
    pub channels: Vec<ChannelStatus>,
    /// The stream whose subscriptions were read, when not every one's
    /// were: the other channels' came back empty.
    pub fresh: Option<String>,
    /// The stream of the channel named, when this poll found it.
    pub found: Option<String>,
}

/// Reads what `scope` asks for.
pub async fn poll(js: &Context, scope: &Scope) -> anyhow::Result<Polled> {
    Ok(match scope {
        Scope::Stream(stream) => Polled {
            channels: vec![history::read_stream(js, stream).await?],
            fresh: None,
            found: None,
        },
        Scope::Channel(channel) => match history::find_stream(js, channel).await? {
            Some(stream) => Polled {
                channels: vec![history::read_stream(js, &stream).await?],
                fresh: None,
                found: Some(stream),
            },
            None => Polled {
                channels: Vec::new(),
                fresh: None,
                found: None,
            },
        },
        Scope::All { shown } => Polled {
            channels: history::read_all_with_one(js, shown.as_deref()).await?,
            fresh: shown.clone(),
            found: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::live::state::State;
    use nats_course_toolkit::history::SubscriptionStatus;

    fn channel(name: &str, subscriptions: &[&str]) -> ChannelStatus {
        ChannelStatus {
            channel: name.to_lowercase(),
            stream: name.into(),
            events: 1,
            first_seq: 1,
            last_seq: 1,
            bytes: 10,
            subscriptions: subscriptions
                .iter()
                .map(|n| SubscriptionStatus {
                    name: (*n).into(),
                    queue_group: None,
                    durable: true,
                    start: "all".into(),
                    ack_wait_ms: 30_000,
                    max_deliver: None,
                    delivered: 1,
                    ack_floor: 1,
                    ack_pending: 0,
                    redelivered: 0,
                    pending: 0,
                    waiting: 0,
                    deliveries: 1,
                    floor_delivery: 1,
                    pushed: false,
                    push_bound: false,
                    given_up: 0,
                    paused_until: None,
                })
                .collect(),
        }
    }

    fn names(state: &State, i: usize) -> Vec<String> {
        let c = &state.watch.channels()[i];
        c.subscriptions.iter().map(|s| s.name.clone()).collect()
    }

    /// A poll that read A's subscriptions only: A takes the new ones, B
    /// keeps those read before (not none), C (new) has none yet.
    #[test]
    fn a_poll_of_the_channel_on_screen_keeps_the_others_lanes() {
        let mut state = State::new(
            vec![channel("A", &["a1"]), channel("B", &["b1", "b2"])],
            false,
            String::new(),
        );
        state.update_polled(Polled {
            channels: vec![channel("A", &["a2"]), channel("B", &[]), channel("C", &[])],
            fresh: Some("A".into()),
            found: None,
        });
        assert_eq!(names(&state, 0), ["a2"]);
        assert_eq!(names(&state, 1), ["b1", "b2"]);
        assert!(names(&state, 2).is_empty());
        // A poll of every channel's subscriptions takes them all.
        state.update_polled(Polled {
            channels: vec![channel("A", &[]), channel("B", &["b3"])],
            fresh: None,
            found: None,
        });
        assert!(names(&state, 0).is_empty());
        assert_eq!(names(&state, 1), ["b3"]);
    }
}
