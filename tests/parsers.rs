//! Property tests of the parsers that read what users type: durations,
//! server URLs and channel names. No input makes them panic, and what they
//! accept prints back to the same value. And of the masking: a URL's
//! password never shows, however the output is cut into writes.

use std::io::Write;

use nats_course_cli::mask::{Masked, mask_str};
use nats_course_toolkit::channel::MAX_CHANNEL_BYTES;
use nats_course_toolkit::connection::parse_servers;
use nats_course_toolkit::{Channel, duration};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        // A failure prints its smallest input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Durations as users type them, right or nearly right.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "([0-9]{1,21}(ms|s|m|h|d)){1,4}",
        " ?[0-9]{0,5}[a-z]{0,3}[0-9]{0,3}[mshd]{0,2} ?",
        any::<String>(),
    ]
}

/// Server lists: URLs with and without schemes, ports and credentials whose
/// passwords hold the characters that split lists and URLs.
fn servers_text() -> impl Strategy<Value = String> {
    let url = (
        prop_oneof![
            Just(""),
            Just("nats://"),
            Just("tls://"),
            Just("http://"),
            Just("https://")
        ],
        proptest::option::of((
            "[a-z]{1,6}",
            proptest::option::of("[a-zA-Z0-9,@:/# %-]{0,8}"),
        )),
        "[a-z]{1,8}(\\.[a-z]{1,5})?|127\\.0\\.0\\.1",
        proptest::option::of(0u32..70000),
    )
        .prop_map(|(scheme, credentials, host, port)| {
            let credentials = match credentials {
                None => String::new(),
                Some((user, None)) => format!("{user}@"),
                Some((user, Some(password))) => format!("{user}:{password}@"),
            };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}{credentials}{host}{port}")
        });
    prop_oneof![
        proptest::collection::vec(url, 1..4).prop_map(|urls| urls.join(",")),
        any::<String>(),
    ]
}

/// Channel names: plain, nearly plain, and anything.
fn channel_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9:_-]{1,20}(\\.[a-zA-Z0-9:_-]{1,20}){0,3}",
        "[a-z.:* >]{0,12}",
        "[a-z]{250,260}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// `duration::format(parse(x))` parses to the same duration.
    #[test]
    fn a_parsed_duration_formats_back_to_itself(text in duration_text()) {
        if let Ok(value) = duration::parse(&text) {
            let shown = duration::format(value);
            prop_assert_eq!(duration::parse(&shown), Ok(value), "{} shown as {}", text, shown);
        }
    }

    /// Mixed units, as natscli takes them (`1d3h`, `1h30m`, `90m`): the
    /// duration is the sum of its parts, in any order.
    #[test]
    fn a_duration_of_mixed_units_is_the_sum_of_its_parts(
        parts in proptest::collection::vec((0u64..100_000, 0usize..5), 1..5),
    ) {
        const UNITS: [(&str, u64); 5] =
            [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
        let text: String = parts.iter().map(|&(n, unit)| format!("{n}{}", UNITS[unit].0)).collect();
        let total: u64 = parts.iter().map(|&(n, unit)| n * UNITS[unit].1).sum();
        prop_assert_eq!(duration::parse(&text), Ok(std::time::Duration::from_millis(total)), "{}", text);
    }

    /// A parsed server list, shown as URLs, parses to the same addresses.
    #[test]
    fn a_parsed_server_list_displays_back_to_itself(text in servers_text()) {
        if let Ok(servers) = parse_servers(&text) {
            let shown: Vec<&str> = servers.iter().map(|s| s.as_url_str()).collect();
            let shown = shown.join(",");
            prop_assert_eq!(parse_servers(&shown), Ok(servers), "{} shown as {}", text, shown);
        }
    }

    /// A channel is the text it was made from, and its stream names are
    /// names nats-server takes.
    #[test]
    fn a_parsed_channel_is_its_text(text in channel_text()) {
        if let Ok(channel) = Channel::new(&text) {
            prop_assert_eq!(channel.as_str(), text.as_str());
            prop_assert!(text.len() <= MAX_CHANNEL_BYTES);
            for name in [channel.stream_name(), channel.unique_stream_name()] {
                prop_assert!(!name.is_empty() && name.len() <= 255, "{}", name);
                prop_assert!(
                    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                    "{}",
                    name
                );
            }
        }
    }

    /// Two different channels never get the same unique stream name.
    #[test]
    fn different_channels_get_different_unique_stream_names(
        a in "[a-zA-Z:._-]{1,12}",
        b in "[a-zA-Z:._-]{1,12}",
    ) {
        if let (Ok(x), Ok(y)) = (Channel::new(&a), Channel::new(&b))
            && a != b
        {
            prop_assert_ne!(x.unique_stream_name(), y.unique_stream_name());
        }
    }

    /// The password of a URL in a line is masked, whatever it holds.
    #[test]
    fn a_urls_password_is_masked(
        user in "[a-z]{1,6}",
        password in "[a-zA-Z0-9,@:/#-]{1,12}",
        before in "[a-zA-Z ]{0,10}",
    ) {
        prop_assume!(!password.contains("://"));
        let line = format!("{before} 'nats://{user}:{password}@host:4222' found");
        prop_assert_eq!(
            mask_str(&line),
            format!("{before} 'nats://{user}:***@host:4222' found")
        );
    }

    /// Masking takes any text, and masking it again changes nothing.
    #[test]
    fn masking_takes_any_text(text in prop_oneof!["[a-z:/@ ,'\"*]{0,40}", any::<String>()]) {
        let once = mask_str(&text).into_owned();
        prop_assert_eq!(mask_str(&once).into_owned(), once);
    }

    /// The masking writer prints the same, however the text is cut into
    /// writes: it masks whole lines.
    #[test]
    fn masked_output_does_not_depend_on_the_writes(
        lines in proptest::collection::vec("[a-z :/@]{0,30}", 0..8),
        cuts in proptest::collection::vec(0usize..300, 0..6),
        capacity in 0usize..64,
    ) {
        let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let expected: String = text.split_inclusive('\n').map(|l| mask_str(l).into_owned()).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        {
            let mut writer = if capacity == 0 {
                Masked::line_buffered(&mut out)
            } else {
                Masked::with_capacity(capacity, &mut out)
            };
            let mut from = 0;
            for cut in cuts.into_iter().chain([text.len()]) {
                writer.write_all(&text.as_bytes()[from..cut]).unwrap();
                from = cut;
            }
            writer.flush().unwrap();
        }
        prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
