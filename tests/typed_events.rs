//! The typed events, and the `Listener` and `Publisher` traits, against a real
//! `nats-server`.
//!
//! The fixtures in `tests/fixtures/` are the course's events as a Node service
//! writes them: each was made by Node's `JSON.stringify` from an object built
//! in the field order of the course's TypeScript interface, for example
//! `JSON.stringify({ id, version: 0, title: 'concert', price: 20, userId })`.
//! They have no trailing newline. The tests check that Rust writes exactly
//! those bytes, stores exactly those bytes on the server, and reads them back
//! into the same structs.

mod common;

use std::marker::PhantomData;
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy},
};
use bytes::Bytes;
use common::{NatsServer, block_on, within};
use nats_course_toolkit::Notes;
use nats_course_toolkit::channel::ClusterWait;
use nats_course_toolkit::events::{
    Data, Event, ExpirationCompleteData, ExpirationCompleteEvent, OrderCancelledData,
    OrderCancelledEvent, OrderCancelledTicket, OrderCreatedData, OrderCreatedEvent,
    OrderCreatedTicket, OrderStatus, PaymentCreatedData, PaymentCreatedEvent, Subject,
    TicketCreatedData, TicketCreatedEvent, TicketUpdatedData, TicketUpdatedEvent,
};
use nats_course_toolkit::subscription;
use nats_course_toolkit::typed::{Ack, Listener, Publisher, VersionCheck, VersionTracker};

const TICKET_ID: &str = "5f8a1c2e9b1d4a0017a3c001";
const ORDER_ID: &str = "5f8a1c2e9b1d4a0017a3d001";
const SELLER_ID: &str = "5f8a1c2e9b1d4a0017a3b001";

// ----- The events of the fixtures, as Rust values -----

fn ticket_created() -> TicketCreatedData {
    TicketCreatedData {
        id: TICKET_ID.into(),
        version: 0,
        title: "concert".into(),
        price: 20.0,
        user_id: SELLER_ID.into(),
    }
}

fn ticket_updated() -> TicketUpdatedData {
    TicketUpdatedData {
        id: TICKET_ID.into(),
        version: 1,
        title: "concert".into(),
        price: 25.5,
        user_id: SELLER_ID.into(),
        order_id: Some(ORDER_ID.into()),
    }
}

fn ticket_updated_without_order() -> TicketUpdatedData {
    TicketUpdatedData {
        version: 2,
        order_id: None,
        ..ticket_updated()
    }
}

fn order_created() -> OrderCreatedData {
    OrderCreatedData {
        id: ORDER_ID.into(),
        version: 0,
        status: OrderStatus::Created,
        user_id: "5f8a1c2e9b1d4a0017a3b002".into(),
        expires_at: "2024-01-01T00:15:00.000Z".into(),
        ticket: OrderCreatedTicket {
            id: TICKET_ID.into(),
            price: 25.5,
        },
    }
}

fn order_cancelled() -> OrderCancelledData {
    OrderCancelledData {
        id: ORDER_ID.into(),
        version: 1,
        ticket: OrderCancelledTicket {
            id: TICKET_ID.into(),
        },
    }
}

fn expiration_complete() -> ExpirationCompleteData {
    ExpirationCompleteData {
        order_id: ORDER_ID.into(),
    }
}

fn payment_created() -> PaymentCreatedData {
    PaymentCreatedData {
        id: "5f8a1c2e9b1d4a0017a3e001".into(),
        order_id: ORDER_ID.into(),
        stripe_id: "ch_1HqLlq2eZvKYlo2C0c1d2e3f".into(),
    }
}

/// The fixture's bytes: compact JSON as `JSON.stringify` wrote it.
fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    // Tolerate an editor's final newline; it is not part of the JSON.
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

// ----- A listener and a publisher for any event type -----

/// One event as the listener got it.
struct Received<E: Event> {
    data: Data<E>,
    raw: Bytes,
    sequence: u64,
    delivered: u64,
}

/// Collects events of type `E` and acks them, until it has `want`.
struct Collector<E: Event> {
    group: String,
    want: usize,
    received: Vec<Received<E>>,
}

impl<E: Event> Collector<E> {
    fn new(group: &str, want: usize) -> Self {
        Collector {
            group: group.into(),
            want,
            received: Vec::new(),
        }
    }
}

impl<E: Event> Listener for Collector<E> {
    type Event = E;

    fn queue_group_name(&self) -> &str {
        &self.group
    }

    async fn on_message(
        &mut self,
        data: Data<E>,
        msg: &subscription::Delivery,
    ) -> anyhow::Result<Ack> {
        self.received.push(Received {
            data,
            raw: msg.data.clone(),
            sequence: msg.sequence,
            delivered: msg.delivered,
        });
        Ok(Ack::Ack)
    }

    fn is_done(&self) -> bool {
        self.received.len() >= self.want
    }
}

/// Publishes events of type `E`.
struct EventPublisher<E: Event> {
    client: Client,
    event: PhantomData<E>,
}

impl<E: Event> EventPublisher<E> {
    fn new(client: &Client) -> Self {
        EventPublisher {
            client: client.clone(),
            event: PhantomData,
        }
    }
}

impl<E: Event> Publisher for EventPublisher<E> {
    type Event = E;

    fn client(&self) -> &Client {
        &self.client
    }
}

/// Listens until the listener is done, collecting its notes.
async fn listen_until_done<L: Listener>(client: &Client, listener: &mut L) -> String {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&heard);
    let notes = nats_course_toolkit::Notes::to(move |line| {
        let mut heard = sink.lock().unwrap();
        heard.push_str(line);
        heard.push('\n');
    });
    within(
        "the listener to get its events",
        listener.listen_with(client, std::future::pending(), &notes),
    )
    .await
    .expect("listen");
    heard.lock().unwrap().clone()
}

/// The bytes the server stored as event `sequence` of `subject`'s channel.
async fn stored(client: &Client, subject: Subject, sequence: u64) -> Bytes {
    let js = jetstream::new(client.clone());
    let stream = js
        .get_stream(subject.channel().stream_name())
        .await
        .expect("the channel's stream exists");
    stream
        .get_raw_message(sequence)
        .await
        .expect("the event is stored")
        .payload
}

/// Publishes `data` with a Rust [`Publisher`], receives it with a Rust
/// [`Listener`], and checks the bytes on the wire against the fixture.
async fn exchange<E: Event>(client: &Client, fixture_name: &str, data: Data<E>)
where
    Data<E>: PartialEq,
{
    let json = fixture(fixture_name);
    let sequence = EventPublisher::<E>::new(client)
        .publish(&data)
        .await
        .expect("publish");
    assert_eq!(
        String::from_utf8_lossy(&stored(client, E::SUBJECT, sequence).await),
        json,
        "{} as stored on the server",
        E::SUBJECT
    );

    let mut listener = Collector::<E>::new("typed-events-test", 1);
    let notes = listen_until_done(client, &mut listener).await;
    assert_eq!(notes, "", "no problems reported");
    let received = &listener.received[0];
    assert_eq!((received.sequence, received.delivered), (sequence, 1));
    assert_eq!(String::from_utf8_lossy(&received.raw), json);
    assert!(received.data == data, "{} data read back", E::SUBJECT);
}

/// Publishes the fixture's bytes as they are, as a Node service's
/// `stan.publish(subject, JSON.stringify(data))` would, and checks that a
/// Rust listener reads them as `expected`.
async fn read_from_node<E: Event>(client: &Client, fixture_name: &str, expected: Data<E>)
where
    Data<E>: PartialEq,
{
    let js = jetstream::new(client.clone());
    E::SUBJECT
        .channel()
        .find_or_create_stream(&js, 1, &mut ClusterWait::new(Notes::silent()))
        .await
        .expect("stream");
    js.publish(E::SUBJECT.as_str(), Bytes::from(fixture(fixture_name)))
        .await
        .expect("publish")
        .await
        .expect("stored");

    let mut listener = Collector::<E>::new("from-node", 1);
    let notes = listen_until_done(client, &mut listener).await;
    assert_eq!(notes, "", "no problems reported");
    assert!(
        listener.received[0].data == expected,
        "{} from Node read as {:?}",
        E::SUBJECT,
        listener.received[0].data
    );
}

async fn consumer_info(client: &Client, subject: Subject, name: &str) -> jetstream::consumer::Info {
    let js = jetstream::new(client.clone());
    js.get_stream(subject.channel().stream_name())
        .await
        .expect("stream")
        .consumer_info(name)
        .await
        .expect("consumer info")
}

/// Polls the consumer's state until `condition` holds, failing after [`DEADLINE`].
async fn wait_for_consumer(
    client: &Client,
    subject: Subject,
    name: &str,
    what: &str,
    condition: impl Fn(&jetstream::consumer::Info) -> bool,
) -> jetstream::consumer::Info {
    within(what, async {
        loop {
            let info = consumer_info(client, subject, name).await;
            if condition(&info) {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

// ----- Wire format, without a server -----

/// Every course event serialises to exactly the bytes of its fixture, which
/// Node's `JSON.stringify` wrote: camelCase keys, the interface's field order,
/// `20` not `20.0`, no `orderId` when there is none.
#[test]
fn every_event_serialises_to_the_bytes_json_stringify_writes() {
    let cases: [(&str, String); 7] = [
        ("ticket-created", to_json(&ticket_created())),
        ("ticket-updated", to_json(&ticket_updated())),
        (
            "ticket-updated-without-order",
            to_json(&ticket_updated_without_order()),
        ),
        ("order-created", to_json(&order_created())),
        ("order-cancelled", to_json(&order_cancelled())),
        ("expiration-complete", to_json(&expiration_complete())),
        ("payment-created", to_json(&payment_created())),
    ];
    for (name, json) in cases {
        assert_eq!(json, fixture(name), "{name}");
    }
}

fn to_json(data: &impl serde::Serialize) -> String {
    serde_json::to_string(data).expect("serialise")
}

/// Every fixture, as a Node service writes it, deserialises to the expected struct.
#[test]
fn every_fixture_deserialises_to_its_struct() {
    fn read<T: serde::de::DeserializeOwned>(name: &str) -> T {
        serde_json::from_str(&fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
    }
    assert_eq!(
        read::<TicketCreatedData>("ticket-created"),
        ticket_created()
    );
    assert_eq!(
        read::<TicketUpdatedData>("ticket-updated"),
        ticket_updated()
    );
    assert_eq!(
        read::<TicketUpdatedData>("ticket-updated-without-order"),
        ticket_updated_without_order()
    );
    assert_eq!(read::<OrderCreatedData>("order-created"), order_created());
    assert_eq!(
        read::<OrderCancelledData>("order-cancelled"),
        order_cancelled()
    );
    assert_eq!(
        read::<ExpirationCompleteData>("expiration-complete"),
        expiration_complete()
    );
    assert_eq!(
        read::<PaymentCreatedData>("payment-created"),
        payment_created()
    );
}

/// Each event type is tied to the course's subject for it.
#[test]
fn each_event_type_travels_on_the_course_subject() {
    assert_eq!(TicketCreatedEvent::SUBJECT.as_str(), "ticket:created");
    assert_eq!(TicketUpdatedEvent::SUBJECT.as_str(), "ticket:updated");
    assert_eq!(OrderCreatedEvent::SUBJECT.as_str(), "order:created");
    assert_eq!(OrderCancelledEvent::SUBJECT.as_str(), "order:cancelled");
    assert_eq!(
        ExpirationCompleteEvent::SUBJECT.as_str(),
        "expiration:complete"
    );
    assert_eq!(PaymentCreatedEvent::SUBJECT.as_str(), "payment:created");
}

// ----- Against a real server -----

/// A Rust publisher and a Rust listener exchange all six course events; the
/// server stores, and the listener receives, exactly the fixture's bytes.
#[test]
fn rust_publisher_and_listener_exchange_every_event_in_the_course_format() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        exchange::<TicketCreatedEvent>(&client, "ticket-created", ticket_created()).await;
        exchange::<TicketUpdatedEvent>(&client, "ticket-updated", ticket_updated()).await;
        exchange::<OrderCreatedEvent>(&client, "order-created", order_created()).await;
        exchange::<OrderCancelledEvent>(&client, "order-cancelled", order_cancelled()).await;
        exchange::<ExpirationCompleteEvent>(&client, "expiration-complete", expiration_complete())
            .await;
        exchange::<PaymentCreatedEvent>(&client, "payment-created", payment_created()).await;
        client.drain().await.ok();
    });
}

/// A Rust listener reads all six events as a Node service publishes them
/// (the fixture's bytes, as they are).
#[test]
fn rust_listener_reads_every_event_as_a_node_service_publishes_it() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        read_from_node::<TicketCreatedEvent>(&client, "ticket-created", ticket_created()).await;
        read_from_node::<TicketUpdatedEvent>(
            &client,
            "ticket-updated-without-order",
            ticket_updated_without_order(),
        )
        .await;
        read_from_node::<OrderCreatedEvent>(&client, "order-created", order_created()).await;
        read_from_node::<OrderCancelledEvent>(&client, "order-cancelled", order_cancelled()).await;
        read_from_node::<ExpirationCompleteEvent>(
            &client,
            "expiration-complete",
            expiration_complete(),
        )
        .await;
        read_from_node::<PaymentCreatedEvent>(&client, "payment-created", payment_created()).await;
        client.drain().await.ok();
    });
}

/// `listen()` subscribes as the course's `subscriptionOptions()` does: whole
/// history, durable name = queue group, manual ack, ack wait 5 s.
#[test]
fn listener_subscribes_with_the_course_subscription_options() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        EventPublisher::<TicketCreatedEvent>::new(&client)
            .publish(&ticket_created())
            .await
            .expect("publish");
        let mut listener = Collector::<TicketCreatedEvent>::new("payments-service", 1);
        listen_until_done(&client, &mut listener).await;

        let info = consumer_info(&client, Subject::TicketCreated, "payments-service").await;
        let config = info.config;
        assert_eq!(config.durable_name.as_deref(), Some("payments-service"));
        assert_eq!(config.deliver_policy, DeliverPolicy::All);
        assert_eq!(config.ack_policy, AckPolicy::Explicit);
        assert_eq!(config.ack_wait, Duration::from_secs(5));
        assert_eq!(config.filter_subject, "ticket:created");
        client.drain().await.ok();
    });
}

/// The publisher creates the channel's stream on its first publish, and
/// returns each event's sequence once the server has stored it.
#[test]
fn publisher_creates_the_stream_and_returns_each_events_sequence() {
    let server = NatsServer::start();
    assert!(server.stream_names().is_empty());
    let sequences = block_on(async {
        let client = server.connect().await;
        let publisher = EventPublisher::<PaymentCreatedEvent>::new(&client);
        let first = publisher.publish(&payment_created()).await.expect("first");
        let second = publisher.publish(&payment_created()).await.expect("second");
        client.drain().await.ok();
        (first, second)
    });
    assert_eq!(sequences, (1, 2));
    assert_eq!(server.stream_names(), ["PAYMENT_CREATED"]);
    assert_eq!(server.stream_event_count("PAYMENT_CREATED"), 2);
}

/// On a server without JetStream, publishing fails with the toolkit's
/// explanation instead of a bare "no responders".
#[test]
fn publishing_without_jetstream_says_the_server_needs_it() {
    let server = NatsServer::start_without_jetstream();
    let err = block_on(async {
        let client = server.connect().await;
        EventPublisher::<TicketCreatedEvent>::new(&client)
            .publish(&ticket_created())
            .await
            .expect_err("no JetStream, no publish")
    });
    let message = format!("{err:#}");
    assert!(
        message.contains("does not have JetStream enabled"),
        "{message}"
    );
}

/// An event whose JSON does not fit the data type (here the test project's
/// seed, which has no version or userId) is reported and terminated, so it
/// does not come back; the events after it are handled.
#[test]
fn event_that_does_not_parse_is_reported_and_terminated() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        let js = jetstream::new(client.clone());
        Subject::TicketCreated
            .channel()
            .find_or_create_stream(&js, 1, &mut ClusterWait::new(Notes::silent()))
            .await
            .expect("stream");
        js.publish(
            "ticket:created",
            Bytes::from_static(common::SEED.as_bytes()),
        )
        .await
        .expect("publish")
        .await
        .expect("stored");
        EventPublisher::<TicketCreatedEvent>::new(&client)
            .publish(&ticket_created())
            .await
            .expect("publish");

        let mut listener = Collector::<TicketCreatedEvent>::new("parse-test", 1);
        let notes = listen_until_done(&client, &mut listener).await;
        assert!(
            notes.contains(
                "Could not read event #1 on ticket:created as TicketCreatedData: missing field `version`"
            ),
            "{notes}"
        );
        assert!(
            notes.contains("it never will be, so it is terminated (+TERM) and not delivered again"),
            "{notes}"
        );
        assert_eq!(listener.received[0].sequence, 2);

        // Event #2 was acked, event #1 terminated: nothing waits, nothing comes back.
        let info = wait_for_consumer(
            &client,
            Subject::TicketCreated,
            "parse-test",
            "event #1's termination and event #2's ack to reach the server",
            |info| info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 2,
        )
        .await;
        assert_eq!(info.num_redelivered, 0, "event #1 was not delivered again");
        client.drain().await.ok();
    });
}

/// Fails the first delivery of each event, acks the second.
struct FailsFirstDelivery {
    deliveries: Vec<(u64, u64)>,
}

impl Listener for FailsFirstDelivery {
    type Event = OrderCreatedEvent;

    fn queue_group_name(&self) -> &str {
        "fails-first-delivery"
    }

    fn ack_wait(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn on_message(
        &mut self,
        _data: OrderCreatedData,
        msg: &subscription::Delivery,
    ) -> anyhow::Result<Ack> {
        self.deliveries.push((msg.sequence, msg.delivered));
        if msg.delivered == 1 {
            anyhow::bail!("the database is down");
        }
        Ok(Ack::Ack)
    }

    fn is_done(&self) -> bool {
        self.deliveries.len() == 2
    }
}

/// When `on_message` returns an error, the error is reported, the event is
/// not acked, and the server delivers it again after the ack wait.
#[test]
fn event_whose_handler_fails_is_delivered_again_after_the_ack_wait() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        EventPublisher::<OrderCreatedEvent>::new(&client)
            .publish(&order_created())
            .await
            .expect("publish");
        let mut listener = FailsFirstDelivery {
            deliveries: Vec::new(),
        };
        let notes = listen_until_done(&client, &mut listener).await;
        assert_eq!(listener.deliveries, [(1, 1), (1, 2)]);
        assert!(
            notes.contains("Could not handle event #1 on order:created: the database is down; it is not acked, so the server delivers it again after 1s"),
            "{notes}"
        );
        client.drain().await.ok();
    });
}

/// The concurrency lesson's listener: processes each ticket's versions in
/// order, with a short ack wait so early events come back quickly.
struct InVersionOrder {
    versions: VersionTracker,
    processed: Vec<(u64, u64)>,
    early: Vec<u64>,
}

impl Listener for InVersionOrder {
    type Event = TicketUpdatedEvent;

    fn queue_group_name(&self) -> &str {
        "orders-service"
    }

    fn ack_wait(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn on_message(
        &mut self,
        data: TicketUpdatedData,
        msg: &subscription::Delivery,
    ) -> anyhow::Result<Ack> {
        match self.versions.check(&data.id, data.version) {
            VersionCheck::Next => {
                self.processed.push((data.version, msg.delivered));
                self.versions.processed(&data.id, data.version);
                Ok(Ack::Ack)
            }
            VersionCheck::TooEarly { .. } => {
                self.early.push(data.version);
                Ok(Ack::Later)
            }
            VersionCheck::AlreadyProcessed => Ok(Ack::Ack),
        }
    }

    fn is_done(&self) -> bool {
        self.versions.last(TICKET_ID) == Some(3)
    }
}

/// Versions of one ticket published out of order (2, 0, 3, 1) are processed
/// in version order (0, 1, 2, 3): an early event is not acked, and the server
/// delivers it again after the ack wait. In the end every event is acked.
#[test]
fn out_of_order_versions_are_processed_in_version_order() {
    let server = NatsServer::start();
    block_on(async {
        let client = server.connect().await;
        let publisher = EventPublisher::<TicketUpdatedEvent>::new(&client);
        for version in [2, 0, 3, 1] {
            let data = TicketUpdatedData {
                version,
                order_id: None,
                ..ticket_updated()
            };
            publisher.publish(&data).await.expect("publish");
        }
        let mut listener = InVersionOrder {
            versions: VersionTracker::default(),
            processed: Vec::new(),
            early: Vec::new(),
        };
        let notes = listen_until_done(&client, &mut listener).await;
        assert_eq!(notes, "");
        let versions: Vec<u64> = listener.processed.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, [0, 1, 2, 3], "processed in version order");
        assert!(
            listener.early.starts_with(&[2, 3]),
            "2 and 3 came too early: {:?}",
            listener.early
        );
        for (version, delivered) in &listener.processed {
            if *version >= 2 {
                assert!(
                    *delivered >= 2,
                    "version {version} was processed on a redelivery"
                );
            }
        }
        wait_for_consumer(
            &client,
            Subject::TicketUpdated,
            "orders-service",
            "every event to be acked",
            |info| info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 4,
        )
        .await;
        client.drain().await.ok();
    });
}
