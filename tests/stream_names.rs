//! Channels whose stream names collide, against a real server: upper case
//! and `_` for every other character make `ticket:created`,
//! `ticket.created`, `Ticket:Created` and `TICKET_CREATED` all
//! `TICKET_CREATED`. Each still gets a stream of its own, and the command
//! says which channel holds the name.

mod common;

use async_nats::jetstream::stream;
use common::{NatsServer, listen, publish, publish_ok, received};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The subjects each stream captures, by stream name.
fn streams(server: &NatsServer) -> Vec<(String, Vec<String>)> {
    let mut streams: Vec<(String, Vec<String>)> = server
        .stream_names()
        .into_iter()
        .map(|name| {
            let subjects = server.with_js(|js| {
                let name = name.clone();
                async move {
                    let mut stream = js.get_stream(&name).await.expect("stream");
                    stream.info().await.expect("info").config.subjects.clone()
                }
            });
            (name, subjects)
        })
        .collect();
    streams.sort();
    streams
}

/// After `ticket:created` has its stream `TICKET_CREATED`, the three other
/// channels that map to that name publish and listen, each on a stream of
/// its own (the name with a hash of the channel), with a note naming the
/// channel that holds `TICKET_CREATED`. Once made, each stream is found by
/// its channel: no note the second time.
#[test]
fn channels_mapping_to_one_name_each_get_a_stream() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    for channel in ["ticket.created", "Ticket:Created", "TICKET_CREATED"] {
        let output = publish(&url, &["--channel", channel]);
        let err = stderr(&output);
        assert!(output.status.success(), "{channel}: {err}");
        assert_eq!(
            err.trim_end(),
            format!(
                "Note: the stream name TICKET_CREATED is taken by the stream of channel \
                 ticket:created, so channel {channel} is stored in the stream {}",
                nats_course_toolkit::Channel::new(channel)
                    .unwrap()
                    .unique_stream_name()
            )
        );
        let output = publish(&url, &["--channel", channel]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stderr(&output), "", "found by its channel the second time");
        let output = listen(
            &url,
            &[
                "--channel",
                channel,
                "--deliver-all",
                "--no-queue-group",
                "--count",
                "2",
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(received(&String::from_utf8_lossy(&output.stdout)), [1, 2]);
    }
    let streams = streams(&server);
    assert_eq!(streams.len(), 4, "{streams:?}");
    for (name, subjects) in &streams {
        assert!(name.starts_with("TICKET_CREATED"), "{name}");
        assert_eq!(subjects.len(), 1, "{name}: {subjects:?}");
    }
    assert!(streams.contains(&("TICKET_CREATED".into(), vec!["ticket:created".into()])));
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 1);
}

/// When the hashed name is taken too (streams made by hand), the command
/// fails with one line naming the channels that hold both names.
#[test]
fn both_names_taken_says_which_channels_hold_them() {
    let server = NatsServer::start();
    let url = server.url();
    let unique = nats_course_toolkit::Channel::new("ticket.created")
        .unwrap()
        .unique_stream_name();
    for (name, subject) in [
        ("TICKET_CREATED", "held.one"),
        (unique.as_str(), "held.two"),
    ] {
        server.with_js(|js| async move {
            js.create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.to_owned()],
                ..Default::default()
            })
            .await
            .expect("create stream");
        });
    }
    for run in [publish, listen] {
        let output = run(&url, &["--channel", "ticket.created", "--count", "1"]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("TICKET_CREATED is taken by the stream of channel held.one")
                && err.contains(&format!(
                    "{unique} is taken by the stream of channel held.two"
                )),
            "{err}"
        );
    }
}
