//! The documentation agrees with the tools and with itself:
//!
//! - the flag tables of `docs/flags.md` list exactly the flags that
//!   `publish --help` and `listen --help` list (long and short names and
//!   aliases), with the defaults and environment variables `--help` shows;
//! - every relative link in `README.md` and `docs/*.md` leads to a file that
//!   exists, and every `#anchor` to a heading of that file;
//! - the front page stays a front page: under 200 lines, linking every page
//!   of `docs/`.
//!
//! No server is needed: the tests read the markdown and run the built
//! binaries with `--help`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `README.md` and every `docs/*.md`, sorted.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let docs = std::fs::read_dir(repo().join("docs")).expect("read docs/");
    let mut pages: Vec<PathBuf> = docs
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

// ------------------------------------------------------------ flags

/// One command's flags as `--help` prints them.
#[derive(Debug, Default)]
struct Help {
    /// Every flag name, long (`--server`), short (`-s`) and alias (`--url`).
    names: BTreeSet<String>,
    /// Long name → the `[default: ...]` value, for flags that show one.
    defaults: BTreeMap<String, String>,
    /// Long name → the `[env: ...]` variable, for flags that read one.
    envs: BTreeMap<String, String>,
}

/// Every flag name in `text`: `--long-name` and `-x`, each standing on its
/// own (not inside a longer word such as `nats-server` or `-DV`).
fn flag_names(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '-');
        if chars[i] != '-' || !starts_word {
            i += 1;
            continue;
        }
        let dashes = if chars.get(i + 1) == Some(&'-') { 2 } else { 1 };
        let mut end = i + dashes;
        while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '-') {
            end += 1;
        }
        let name: String = chars[i..end].iter().collect();
        let body = &name[dashes..];
        let is_flag = match dashes {
            2 => body.starts_with(|c: char| c.is_ascii_lowercase()),
            _ => body.len() == 1 && body.starts_with(|c: char| c.is_ascii_alphabetic()),
        };
        if is_flag {
            names.insert(name);
        }
        i = end;
    }
    names
}

/// The value of each `[key: value]` in `description`, e.g. `[default: 5s]`.
fn bracketed<'a>(description: &'a str, key: &str) -> Option<&'a str> {
    let open = format!("[{key}: ");
    let start = description.find(&open)? + open.len();
    let len = description[start..].find(']')?;
    Some(&description[start..start + len])
}

/// Runs `binary --help` and reads its option lines, e.g.
/// `  -s, --server <URL>   NATS server URL ... [env: NATS_URL] [default: ...] [alias: --url]`.
fn help(binary: &str) -> Help {
    let mut command = Command::new(binary);
    command.arg("--help");
    for (key, _) in std::env::vars() {
        if key.starts_with("NATS_") {
            // `[env: NATS_CLIENT_ID=]` would show a value set here.
            command.env_remove(key);
        }
    }
    let out = command.output().expect("run --help");
    assert!(out.status.success(), "{binary} --help failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("--help prints UTF-8");

    // An option's line is indented by at most 6 columns; its description may
    // go on over more deeply indented lines (clap's long help).
    let mut options: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with('-') && indent <= 6 {
            let (spec, description) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
            options.push((spec.to_string(), description.to_string()));
        } else if let Some((_, description)) = options.last_mut() {
            description.push(' ');
            description.push_str(trimmed);
        }
    }

    let mut help = Help::default();
    for (spec, description) in &options {
        let mut names = flag_names(spec);
        let long = names
            .iter()
            .find(|name| name.starts_with("--"))
            .unwrap_or_else(|| panic!("{binary} --help: no long name in {spec:?}"))
            .clone();
        for key in ["alias", "aliases"] {
            if let Some(aliases) = bracketed(description, key) {
                names.extend(flag_names(aliases));
            }
        }
        if let Some(default) = bracketed(description, "default") {
            help.defaults.insert(long.clone(), default.to_string());
        }
        if let Some(env) = bracketed(description, "env") {
            // `NATS_CLIENT_ID=` when unset, `NATS_URL` when the value is hidden.
            let env = env.split('=').next().unwrap().to_string();
            help.envs.insert(long.clone(), env);
        }
        help.names.extend(names);
    }
    assert!(
        help.names.contains("--help"),
        "{binary} --help lists its options:\n{text}"
    );
    help
}

/// A row of a flag table: its cells by column header.
type Row = BTreeMap<String, String>;

/// The table rows under each `## ` heading of `docs/flags.md`.
fn flag_tables() -> BTreeMap<String, Vec<Row>> {
    let text = read(&repo().join("docs/flags.md"));
    let mut tables = BTreeMap::new();
    for section in text.split("\n## ").skip(1) {
        let (heading, body) = section.split_once('\n').unwrap();
        let mut lines = body.lines().filter(|line| line.starts_with('|'));
        let Some(header) = lines.next() else { continue };
        let columns: Vec<String> = cells(header).into_iter().map(String::from).collect();
        let rows = lines
            .filter(|line| !line.starts_with("|---"))
            .map(|line| {
                let cells = cells(line);
                assert_eq!(cells.len(), columns.len(), "docs/flags.md: {line}");
                columns
                    .iter()
                    .cloned()
                    .zip(cells.into_iter().map(String::from))
                    .collect()
            })
            .collect();
        tables.insert(heading.trim().to_string(), rows);
    }
    tables
}

fn cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

/// The rows that document `command`'s flags: the "Every command" table,
/// the "publish and listen" one for those two, and the command's own.
fn rows_for(tables: &BTreeMap<String, Vec<Row>>, command: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let shared: &[&str] = match command {
        "status" => &["Every command"],
        _ => &["Every command", "publish and listen"],
    };
    for heading in shared.iter().copied().chain([command]) {
        let table = tables
            .get(heading)
            .unwrap_or_else(|| panic!("docs/flags.md has a `## {heading}` table"));
        assert!(!table.is_empty(), "the `{heading}` table has rows");
        rows.extend(table.iter().cloned());
    }
    rows
}

fn commands() -> [(&'static str, Help); 3] {
    [
        ("publish", help(env!("CARGO_BIN_EXE_publish"))),
        ("listen", help(env!("CARGO_BIN_EXE_listen"))),
        ("status", help(env!("CARGO_BIN_EXE_status"))),
    ]
}

/// Every flag `--help` lists (long, short, alias) is in the first column of
/// the command's table or of the shared tables ("Every command", "publish and listen").
#[test]
fn every_flag_that_help_lists_is_in_the_flag_tables() {
    let tables = flag_tables();
    for (command, help) in commands() {
        let documented: BTreeSet<String> = rows_for(&tables, command)
            .iter()
            .flat_map(|row| flag_names(&row["Flag"]))
            .collect();
        let missing: Vec<&String> = help.names.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "`{command} --help` lists {missing:?}, which docs/flags.md's tables do not"
        );
    }
}

/// Every flag a table row names, in any column, is one the command's
/// `--help` lists; a shared row's flags are in each command it names.
#[test]
fn every_flag_in_the_flag_tables_is_in_help() {
    let tables = flag_tables();
    for (command, help) in commands() {
        for row in rows_for(&tables, command) {
            let named: BTreeSet<String> = row.values().flat_map(|cell| flag_names(cell)).collect();
            let unknown: Vec<&String> = named.difference(&help.names).collect();
            assert!(
                unknown.is_empty(),
                "docs/flags.md names {unknown:?} for `{command}`, which its --help does not list; row: {}",
                row["Flag"]
            );
        }
    }
}

/// Where `--help` shows `[default: X]` or `[env: VAR]`, the flag's row shows
/// `X` in its Default column and `VAR` in its Env column.
#[test]
fn flag_tables_show_the_defaults_and_variables_that_help_shows() {
    let tables = flag_tables();
    for (command, help) in commands() {
        let rows = rows_for(&tables, command);
        let row_of = |flag: &str| {
            rows.iter()
                .find(|row| flag_names(&row["Flag"]).contains(flag))
                .unwrap_or_else(|| panic!("docs/flags.md has a row for `{command} {flag}`"))
        };
        for (flag, default) in &help.defaults {
            let cell = &row_of(flag)["Default"];
            assert!(
                cell.contains(&format!("`{default}`")),
                "`{command} --help` shows {flag}'s default as {default}; docs/flags.md shows {cell:?}"
            );
        }
        for (flag, env) in &help.envs {
            let row = row_of(flag);
            let cell = row.get("Env").map(String::as_str).unwrap_or("");
            assert!(
                cell.contains(&format!("`{env}`")),
                "`{command} --help` reads {flag} from {env}; docs/flags.md's Env column shows {cell:?}"
            );
        }
    }
}

// ------------------------------------------------------------ links

/// `text` without fenced code blocks and inline code spans, which hold no
/// links. Line breaks are kept, so a link's text may span lines.
fn without_code(text: &str) -> String {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            prose.push('\n');
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    // A code span opens with a run of N backticks and closes at the next run
    // of exactly N.
    let chars: Vec<char> = prose.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let close = loop {
            if j >= chars.len() {
                break None;
            }
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    break Some(j + m);
                }
                j += m;
            } else {
                j += 1;
            }
        };
        match close {
            Some(end) => {
                out.push_str("CODE");
                i = end;
            }
            None => {
                // An unmatched run is literal text.
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
    }
    out
}

/// The target of every inline link `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = without_code(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let end = rest.find(')').expect("a link's target ends with )");
        let target = rest[..end].trim();
        // `[text](target "title")`
        let target = target.split_whitespace().next().unwrap_or("");
        targets.push(target.to_string());
        rest = &rest[end..];
    }
    targets
}

/// The anchor GitHub gives each heading of `text`: lower case, punctuation
/// dropped, spaces as `-`, and `-1`, `-2`, ... on repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(match *count {
            0 => slug.clone(),
            n => format!("{slug}-{n}"),
        });
        *count += 1;
    }
    anchors
}

fn is_relative(target: &str) -> bool {
    !(target.contains("://") || target.starts_with("mailto:"))
}

/// Every relative link in `README.md` and `docs/*.md` names a file or folder
/// that exists; one with `#anchor` into a markdown file names one of its
/// headings.
#[test]
fn relative_links_lead_to_existing_files_and_headings() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = read(&file);
        let dir = file.parent().unwrap();
        for target in link_targets(&text).into_iter().filter(|t| is_relative(t)) {
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            let name = file.strip_prefix(repo()).unwrap().display().to_string();
            if !linked.exists() {
                broken.push(format!("{name}: ({target}): no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if linked.extension().is_some_and(|ext| ext == "md")
                && !anchors(&read(&linked)).contains(anchor)
            {
                broken.push(format!("{name}: ({target}): no such heading"));
            }
        }
    }
    assert!(checked > 0, "the docs link to each other");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

// ------------------------------------------------------------ front page

/// README.md is a front page: under 200 lines.
#[test]
fn front_page_is_under_200_lines() {
    let lines = read(&repo().join("README.md")).lines().count();
    assert!(
        lines < 200,
        "README.md has {lines} lines; move reference text into docs/"
    );
}

/// Every page of `docs/` is linked from README.md, so nothing moved there is
/// lost to a reader of the front page.
#[test]
fn every_doc_is_linked_from_the_front_page() {
    let linked: BTreeSet<String> = link_targets(&read(&repo().join("README.md")))
        .into_iter()
        .map(|target| target.split('#').next().unwrap().to_string())
        .collect();
    for page in markdown_files().into_iter().skip(1) {
        let name = page.strip_prefix(repo()).unwrap().display().to_string();
        assert!(linked.contains(&name), "README.md does not link {name}");
    }
}

// ------------------------------------------------------------ status --live

/// `docs/status-live.md` states the live view's smallest terminal under a
/// heading of its own (`#terminal-size`, for the README to link), with the
/// size the view checks, and says so near its top.
#[test]
fn status_live_doc_states_the_smallest_terminal() {
    use nats_course_cli::status::live::state::{MIN_HEIGHT, MIN_WIDTH};
    let text = read(&repo().join("docs/status-live.md"));
    let size = format!("{MIN_WIDTH}×{MIN_HEIGHT}");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Terminal size\n"))
        .unwrap_or_else(|| panic!("no '## Terminal size' in docs/status-live.md"));
    assert!(
        section.contains(&format!("at least **{size}**")),
        "{section}"
    );
    let intro = text.split("\n## ").next().unwrap();
    assert!(
        intro.contains(&format!(
            "at least {size} (see [Terminal size](#terminal-size))"
        )),
        "the introduction points to it: {intro}"
    );
}
