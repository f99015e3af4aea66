//! The house rules of `src/`, checked on every `make test`: no file over
//! 500 lines, no circle of imports between its parts, and a library whose
//! build has no command-line crate in it.
//!
//! `src/` holds two crates: the library (`src/lib.rs` and the folders beside
//! it, lib/Cargo.toml) and the commands above it (`src/cmd/`, this package).
//! A part is a module of the library (`channel`, `connection`, `mask`, ...)
//! or a part of the commands (`cmd::cli`, `cmd::listen`, ...), with every
//! file in its folder. Parts use each other by `crate::` paths (in the
//! commands, `crate::listen` is `cmd::listen`, and the library is
//! `nats_course_toolkit::`); those paths, outside comments and tests, are
//! the edges. The library cannot name the commands at all: the compiler
//! sees to that. Files within one part may use each other (`super::`): they
//! are one job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn src_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
}

/// The part a file of `src/` belongs to: `src/history/get.rs` → `history`,
/// `src/cmd/status/live/draw.rs` → `cmd::status`, `src/cmd/mod.rs` →
/// `cmd`; `None` for `lib.rs` and the binaries.
fn part_of_file(relative: &Path) -> Option<String> {
    let names: Vec<String> = relative
        .iter()
        .map(|n| n.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match names.as_slice() {
        [lib] if lib == "lib" => None,
        [bin, ..] if bin == "bin" => None,
        [cmd, module] if cmd == "cmd" && module == "mod" => Some("cmd".into()),
        [cmd, part, ..] if cmd == "cmd" => Some(format!("cmd::{part}")),
        [module, ..] => Some(module.clone()),
        [] => None,
    }
}

/// The part a `crate::` path names: `crate::cmd::listen::ListenArgs` →
/// `cmd::cli`, `crate::mask::Masked` → `mask`, `crate::cmd::Foo` → `cmd`,
/// `crate::Notes` (a re-export at the top) → none.
fn part_of_path(path: &str, parts: &BTreeSet<String>) -> Option<String> {
    let mut segments = path.split("::");
    let first = segments.next()?;
    if first == "cmd" {
        if let Some(second) = segments.next() {
            let part = format!("cmd::{second}");
            if parts.contains(&part) {
                return Some(part);
            }
        }
        return Some("cmd".into());
    }
    parts.contains(first).then(|| first.to_owned())
}

/// The paths a file names other parts by, as [`part_of_path`] reads them:
/// in the library its `crate::` paths; in the commands (`cmd`) their
/// `crate::` paths with `cmd::` in front, and the library's
/// (`nats_course_toolkit::`) as they are.
fn part_paths(text: &str, in_commands: bool) -> Vec<String> {
    if !in_commands {
        return crate_paths(text, "crate::");
    }
    let mut paths: Vec<String> = crate_paths(text, "crate::")
        .into_iter()
        .map(|path| format!("cmd::{path}"))
        .collect();
    paths.extend(crate_paths(text, "nats_course_toolkit::"));
    paths
}

/// The `prefix` paths (`crate::`) in a file's code, comments and tests left
/// out. Braced groups (`crate::cmd::{cli, listen}`) give a path per item.
fn crate_paths(text: &str, prefix: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut paths = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            // `$crate::`, or `crate::` inside a longer name.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..];
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let item = item.trim().split([' ', ':']).next().unwrap_or("");
                    if !item.is_empty() && item != "self" {
                        paths.push(format!("{path}::{item}"));
                    }
                }
            }
            paths.push(path.to_owned());
        }
    }
    paths
}

#[test]
fn no_file_in_src_is_over_500_lines() {
    let long: Vec<String> = src_files()
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by job (the limit is {MAX_LINES} lines): {long:#?}"
    );
}

#[test]
fn no_circle_of_imports_between_the_parts_of_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = src_files();
    let part_of = |file: &Path| part_of_file(file.strip_prefix(&root).unwrap());
    let parts: BTreeSet<String> = files.iter().filter_map(|f| part_of(f)).collect();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(part) = part_of(file) else { continue };
        let text = std::fs::read_to_string(file).expect("read");
        let entry = uses.entry(part.clone()).or_default();
        for path in part_paths(&text, part.starts_with("cmd")) {
            if let Some(used) = part_of_path(&path, &parts)
                && used != part
            {
                entry.insert(used);
            }
        }
    }
    // A circle: a part that reaches itself again.
    let mut circles = Vec::new();
    for start in &parts {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(trail) = stack.pop() {
            let last = trail.last().unwrap();
            for next in uses.get(last).into_iter().flatten() {
                if next == start {
                    let mut circle = trail.clone();
                    circle.push(start.clone());
                    circles.push(circle.join(" → "));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "imports go one way (arguments → config → command → library); these go round: {circles:#?}"
    );
}

#[test]
fn crate_paths_are_read_from_code_only() {
    let text = "use crate::mask::{self, Masked};\n// crate::history in a comment\n\
                let x = crate::cmd::cli::parse();\n#[cfg(test)]\nuse crate::typed;";
    assert_eq!(
        crate_paths(text, "crate::"),
        ["mask::Masked", "mask", "cmd::cli::parse"]
    );
}

#[test]
fn the_commands_paths_name_their_own_parts_and_the_librarys() {
    let text = "use crate::cli::ListenArgs;\nuse nats_course_toolkit::history::Watch;";
    assert_eq!(
        part_paths(text, true),
        ["cmd::cli::ListenArgs", "history::Watch"]
    );
}

/// The library builds with none of the commands' crates in its tree: a
/// service that embeds it pulls in no flag parser, terminal UI, progress
/// bar, file watcher or signal handler.
#[test]
fn the_library_has_no_command_line_crate_in_its_tree() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "nats-course-toolkit",
            "-e",
            "normal,build",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: BTreeSet<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(crates.contains("async-nats"), "the tree was read: {tree}");
    for cli in [
        "clap",
        "clap_complete",
        "ratatui",
        "crossterm",
        "indicatif",
        "notify",
        "ctrlc",
        "anstyle",
    ] {
        assert!(!crates.contains(cli), "the library's tree has {cli}");
    }
}

/// The library names no flag of the commands: what the user can change it
/// says as a `said::Mention`, which the commands say as their flag. Read
/// from code (comments and tests left out); `--jetstream` is nats-server's.
#[test]
fn the_library_names_no_flag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut named = Vec::new();
    for file in src_files() {
        let relative = file.strip_prefix(&root).unwrap();
        if part_of_file(relative).is_none_or(|part| part.starts_with("cmd")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (i, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find("--") {
                let flag: String = rest[at + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                if !flag.is_empty() && flag != "jetstream" {
                    named.push(format!("{}:{}: --{flag}", relative.display(), i + 1));
                }
                rest = &rest[at + 2..];
            }
        }
    }
    assert!(
        named.is_empty(),
        "the library names these flags: {named:#?}"
    );
}
