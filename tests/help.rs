//! `--help` of each command, whole, against its snapshot in
//! `tests/snapshots/` (`publish-help.snap`, `listen-help.snap`, `status-help.snap`): a change to
//! a flag, its help text, default or variable shows in review as a change
//! of the snapshot, and `tests/docs.rs` holds `docs/flags.md` to the same
//! output.
//!
//! The commands run with an empty environment: `--help` shows the value of
//! a variable such as `NATS_USER` when it is set.
//!
//! After a deliberate change, `INSTA_UPDATE=always cargo test --test help`
//! writes the new snapshots (or `cargo insta review`, with cargo-insta).

mod common;

use std::process::Command;

use common::{run, text};

/// Runs `bin --help` with an empty environment; what it printed on stdout.
fn help(bin: &str) -> String {
    let output = run(Command::new(bin).env_clear().arg("--help"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// `publish --help` is what `tests/snapshots/publish-help.snap` holds.
#[test]
fn publish_help_is_its_snapshot() {
    let help = help(env!("CARGO_BIN_EXE_publish"));
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("publish-help", help);
    });
}

/// `listen --help` is what `tests/snapshots/listen-help.snap` holds.
#[test]
fn listen_help_is_its_snapshot() {
    let help = help(env!("CARGO_BIN_EXE_listen"));
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("listen-help", help);
    });
}

/// `status --help` is what `tests/snapshots/status-help.snap` holds.
#[test]
fn status_help_is_its_snapshot() {
    let help = help(env!("CARGO_BIN_EXE_status"));
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("status-help", help);
    });
}

/// Each command's one-line description (`--help`'s first line, and the NAME
/// line of its man page) is its own, not the crate's description shared.
#[test]
fn every_command_has_a_description_of_its_own() {
    let abouts: Vec<String> = nats_course_cli::commands()
        .iter()
        .map(|command| {
            command
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    for (i, about) in abouts.iter().enumerate() {
        assert!(!about.is_empty(), "command {i} has no description");
        assert_ne!(
            about,
            env!("CARGO_PKG_DESCRIPTION"),
            "command {i} says the crate's"
        );
        assert_eq!(
            abouts.iter().filter(|a| *a == about).count(),
            1,
            "{about} twice"
        );
    }
}
