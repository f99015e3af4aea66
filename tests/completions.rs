//! `--completions SHELL` of every binary, and the file-name completion of
//! the file flags. No server is needed.

mod common;

use std::process::Command;

use common::{run, text};

const BINARIES: [(&str, &str); 2] = [
    ("publish", env!("CARGO_BIN_EXE_publish")),
    ("listen", env!("CARGO_BIN_EXE_listen")),
];

/// Runs `bin --completions shell` with an empty environment; its stdout.
fn completions(bin: &str, shell: &str) -> String {
    let output = run(Command::new(bin).env_clear().args(["--completions", shell]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// Every binary prints a script for each of the five shells, naming itself
/// and its flags, and exits 0.
#[test]
fn every_binary_prints_a_script_for_every_shell() {
    for (name, bin) in BINARIES {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let script = completions(bin, shell);
            assert!(script.contains(name), "{name} {shell}:\n{script}");
            // fish writes `-l channel`, the others `--channel`.
            for flag in ["channel", "context", "completions"] {
                assert!(script.contains(flag), "{name} {shell} {flag}:\n{script}");
            }
        }
    }
}

/// The bash script is registered for the binary's own name.
#[test]
fn the_bash_script_completes_the_binary() {
    let script = completions(env!("CARGO_BIN_EXE_publish"), "bash");
    assert!(script.contains("complete -F _publish"), "{script}");
}

/// File flags complete file names (zsh's `_files`); other flags do not.
#[test]
fn file_flags_complete_file_names() {
    let script = completions(env!("CARGO_BIN_EXE_publish"), "zsh");
    let line_of = |flag: &str| {
        script
            .lines()
            .find(|line| line.contains(&format!("{flag}=[")))
            .unwrap_or_else(|| panic!("no line for {flag} in:\n{script}"))
    };
    for flag in [
        "--data-file",
        "--creds",
        "--tls-ca",
        "--tls-cert",
        "--tls-key",
    ] {
        assert!(line_of(flag).contains("_files"), "{}", line_of(flag));
    }
    assert!(
        !line_of("--channel").contains("_files"),
        "{}",
        line_of("--channel")
    );
}
