//! The library's [`Listener`] runs the `listen` command's receive loop
//! (`src/receive/`), with its guarantees, against a real `nats-server`:
//! an event cut short by a shutdown is given back at once, an event the
//! server gave up is reported, and `on_message` can nak or terminate.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use common::{NatsServer, block_on, within};
use nats_course_toolkit::Notes;
use nats_course_toolkit::events::{
    Event, OrderCreatedData, OrderCreatedEvent, OrderCreatedTicket, OrderStatus,
};
use nats_course_toolkit::subscription::{self, SubscriptionOptions};
use nats_course_toolkit::typed::{Ack, Listener, Publisher};
use tokio::sync::oneshot;

/// Longer than any test: an event that comes back before it was given back.
const LONG_ACK_WAIT: Duration = Duration::from_secs(600);

fn order() -> OrderCreatedData {
    OrderCreatedData {
        id: "5f8a1c2e9b1d4a0017a3d001".into(),
        version: 0,
        status: OrderStatus::Created,
        user_id: "5f8a1c2e9b1d4a0017a3b001".into(),
        expires_at: "2026-12-06T06:30:00.000Z".into(),
        ticket: OrderCreatedTicket {
            id: "5f8a1c2e9b1d4a0017a3c001".into(),
            price: 20.0,
        },
    }
}

struct OrderPublisher(Client);

impl Publisher for OrderPublisher {
    type Event = OrderCreatedEvent;

    fn client(&self) -> &Client {
        &self.0
    }
}

async fn publish_one(client: &Client) {
    OrderPublisher(client.clone())
        .publish(&order())
        .await
        .expect("publish");
}

/// Each delivery seen, as (sequence, delivery count).
type Deliveries = Vec<(u64, u64)>;

/// A listener of the queue group `group` that answers each delivery with
/// `verdict(delivery count)`, until it has seen `want` deliveries.
struct Scripted {
    group: &'static str,
    ack_wait: Duration,
    max_deliver: Option<u32>,
    verdict: fn(u64) -> Ack,
    want: usize,
    seen: Deliveries,
}

impl Scripted {
    fn new(group: &'static str, verdict: fn(u64) -> Ack, want: usize) -> Scripted {
        Scripted {
            group,
            ack_wait: LONG_ACK_WAIT,
            max_deliver: None,
            verdict,
            want,
            seen: Vec::new(),
        }
    }
}

impl Listener for Scripted {
    type Event = OrderCreatedEvent;

    fn queue_group_name(&self) -> &str {
        self.group
    }

    fn ack_wait(&self) -> Duration {
        self.ack_wait
    }

    fn subscription_options(&self) -> SubscriptionOptions {
        let group = self.group.to_owned();
        SubscriptionOptions {
            queue_group: Some(group.clone()),
            durable: Some(group),
            start: Some(subscription::StartPosition::All),
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            ..SubscriptionOptions::new(OrderCreatedEvent::SUBJECT.channel())
        }
    }

    async fn on_message(
        &mut self,
        _data: OrderCreatedData,
        msg: &subscription::Delivery,
    ) -> anyhow::Result<Ack> {
        self.seen.push((msg.sequence, msg.delivered));
        Ok((self.verdict)(msg.delivered))
    }

    fn is_done(&self) -> bool {
        self.seen.len() >= self.want
    }
}

/// Notes collected as text, and a way to wait for one.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<String>>);

impl Heard {
    fn notes(&self) -> Notes {
        let heard = self.clone();
        Notes::to(move |line| {
            let mut text = heard.0.lock().unwrap();
            text.push_str(line);
            text.push('\n');
        })
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Resolves once a note contains `part`.
    async fn said(&self, part: &str) {
        while !self.text().contains(part) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Holds the event it is handed and never finishes it; says which event
/// it holds once it has started on it.
struct NeverFinishes {
    started: Option<oneshot::Sender<u64>>,
}

impl Listener for NeverFinishes {
    type Event = OrderCreatedEvent;

    fn queue_group_name(&self) -> &str {
        "never-finishes"
    }

    fn ack_wait(&self) -> Duration {
        LONG_ACK_WAIT
    }

    async fn on_message(
        &mut self,
        _data: OrderCreatedData,
        msg: &subscription::Delivery,
    ) -> anyhow::Result<Ack> {
        if let Some(started) = self.started.take() {
            started.send(msg.sequence).ok();
        }
        std::future::pending().await
    }
}

/// A shutdown while `on_message` is still at work cuts it short and gives
/// the event back (nak): the next copy of the service gets it at once, not
/// after the ack wait (10 minutes here).
#[test]
fn a_shutdown_mid_event_gives_the_event_back_at_once() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        publish_one(&client).await;
        let (started, handling) = oneshot::channel();
        let mut stuck = NeverFinishes {
            started: Some(started),
        };
        let shutdown = async {
            handling.await.ok();
        };
        within(
            "the stuck listener to stop",
            stuck.listen(&client, shutdown),
        )
        .await
        .expect("listen");

        let mut next = Scripted::new("never-finishes", |_| Ack::Ack, 1);
        within(
            "the next listener to get the event given back",
            next.listen(&client, std::future::pending()),
        )
        .await
        .expect("listen");
        assert_eq!(next.seen, [(1, 2)], "the event, on its second delivery");
        client.drain().await.ok();
    });
}

/// An event the server gave up after `max_deliver` deliveries is reported
/// to the listener's notes, with its sequence and deliveries.
#[test]
fn an_event_given_up_after_max_deliver_is_reported() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        publish_one(&client).await;
        let mut never_acks = Scripted {
            ack_wait: Duration::from_secs(1),
            max_deliver: Some(2),
            ..Scripted::new("never-acks", |_| Ack::Later, usize::MAX)
        };
        let heard = Heard::default();
        let given_up = "Event #1 on order:created was given up after 2 deliveries";
        within(
            "the give-up to be reported",
            never_acks.listen_with(&client, heard.said(given_up), &heard.notes()),
        )
        .await
        .expect("listen");
        assert_eq!(never_acks.seen, [(1, 1), (1, 2)]);
        assert!(heard.text().contains(given_up), "{}", heard.text());
        client.drain().await.ok();
    });
}

/// `Ack::Nak(None)` has the server deliver the event again at once, long
/// before the ack wait (10 minutes here).
#[test]
fn a_nak_has_the_event_delivered_again_at_once() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        publish_one(&client).await;
        let nak_first = |delivered| {
            if delivered == 1 {
                Ack::Nak(None)
            } else {
                Ack::Ack
            }
        };
        let mut listener = Scripted::new("nak-first", nak_first, 2);
        within(
            "the nak'd event to come back",
            listener.listen(&client, std::future::pending()),
        )
        .await
        .expect("listen");
        assert_eq!(listener.seen, [(1, 1), (1, 2)]);
        client.drain().await.ok();
    });
}

/// `Ack::Term` ends the event for good: a queue group's next listener,
/// started from the same durable, gets the event published after it, never
/// the terminated one.
#[test]
fn a_terminated_event_is_never_delivered_again() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        publish_one(&client).await;
        let mut terminates = Scripted::new("terminates", |_| Ack::Term, 1);
        within(
            "the event to be terminated",
            terminates.listen(&client, std::future::pending()),
        )
        .await
        .expect("listen");
        publish_one(&client).await;
        let mut next = Scripted::new("terminates", |_| Ack::Ack, 1);
        within(
            "the next listener to get the second event",
            next.listen(&client, std::future::pending()),
        )
        .await
        .expect("listen");
        assert_eq!(terminates.seen, [(1, 1)]);
        assert_eq!(next.seen, [(2, 1)], "event #1 is not delivered again");
        client.drain().await.ok();
    });
}
