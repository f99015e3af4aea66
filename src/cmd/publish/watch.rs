//! Watch mode: publish again on every save.
//!
//! In the course, `ts-node-dev` restarted `publisher.ts` on every save, and
//! each restart published the event again:
//!
//! ```text
//! [INFO] Restarting: src/publisher.ts has been modified
//! Publisher connected to NATS
//! Event published
//! ```
//!
//! `publish --watch` does the same without restarting: it keeps one
//! connection, and publishes once at start and once per save. With
//! `--data-file`, the file is read again on each save, so editing the
//! event's JSON and saving publishes the new data.
//!
//! Editors save in different ways: in place, or through a temporary file
//! renamed over the old one (vim, VS Code, JetBrains). So the watcher
//! watches each file's folder, not the file, and treats the burst of
//! file-system events one save makes as one save.

use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::connection::State;
use bytes::Bytes;
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::event_data::read_event_file;
use super::{self as publish, MAX_LINES, Output, PublishConfig};
use crate::cli::error_line;
use nats_course_toolkit::connection::close;
use nats_course_toolkit::publish::Refused;

/// A save is over when no file-system event came for this long.
const QUIET: Duration = Duration::from_millis(50);

/// While a publish waits for the connection to come back, how often to check.
const RECONNECT_CHECK: Duration = Duration::from_millis(250);

/// Connects, publishes once, then again on each save, until `shutdown`.
/// With `--json`, `out` gets one JSON object per event stored (written out
/// after each save's events), and the status lines go to `errors`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<()> {
    let json = config.output == Output::Json;
    let channel_json = serde_json::to_string(config.channel.as_str()).expect("a string is JSON");
    // Where the status lines go: stdout, or stderr when stdout is --json's.
    macro_rules! status {
        ($($arg:tt)*) => {
            if json {
                writeln!(errors, $($arg)*)
            } else {
                writeln!(out, $($arg)*)
            }
        };
    }
    let mut saves = Saves::watch(&config.watch)?;
    let client = if json {
        publish::connect(&config, errors).await?.0
    } else {
        publish::connect(&config, out).await?.0
    };
    let names: Vec<String> = config
        .watch
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    status!("Watching {} (Ctrl-C to stop)", names.join(", "))?;

    tokio::pin!(shutdown);
    // The batch to publish, kept until the server has stored it: a retry
    // after a lost connection sends the same ids, so nothing is stored twice.
    let mut pending = Some(config.batch(config.payload.clone()));
    loop {
        if let Some(batch) = &pending
            && client.connection_state() == State::Connected
        {
            // Too large for this server: said once, and nothing is
            // published until the next save.
            if let Err(err) = batch.check_size(&client) {
                writeln!(
                    errors,
                    "Error: {}. Nothing published; still watching",
                    error_line(&err.context(config.source.clone()))
                )?;
                pending = None;
                continue;
            }
            let result = tokio::select! {
                result = batch.publish_each(&client, &config.connect.notes, std::future::pending(), |stored| {
                    if json {
                        writeln!(
                            out,
                            r#"{{"seq":{},"channel":{channel_json},"duplicate":{}}}"#,
                            stored.sequence, stored.duplicate
                        )?;
                    } else if config.count <= MAX_LINES {
                        writeln!(out, "Event published to {} as event #{}", config.channel, stored.sequence)?;
                    }
                    Ok::<(), std::io::Error>(())
                }) => result,
                () = &mut shutdown => break,
            };
            match result {
                Ok(published) => {
                    if json {
                        out.flush()?;
                    } else if config.count > MAX_LINES {
                        writeln!(
                            out,
                            "Published {} events to {}",
                            published.count, config.channel
                        )?;
                    }
                    pending = None;
                }
                // Refused: sent again, it would be refused again (4 times a
                // second while connected). Said once; the next save tries.
                Err(err) if err.is::<Refused>() => {
                    writeln!(
                        errors,
                        "Error: {}. Nothing published; still watching (save again to publish)",
                        error_line(&err)
                    )?;
                    pending = None;
                }
                Err(err) => writeln!(
                    errors,
                    "Error: {}. Still watching; will publish again once the connection is back",
                    error_line(&err)
                )?,
            }
        }
        let saved = tokio::select! {
            () = &mut shutdown => break,
            change = saves.next() => change?,
            () = tokio::time::sleep(RECONNECT_CHECK), if pending.is_some() => continue,
        };
        let path = match saved {
            Change::Saved(path) => path,
            Change::FolderGone(folder) => {
                writeln!(
                    errors,
                    "Error: the folder {} was removed; watching for it to come back",
                    folder.display()
                )?;
                continue;
            }
            Change::FolderBack(folder) => {
                status!("Watching {} again", folder.display())?;
                continue;
            }
        };
        let payload = match &config.data_file {
            Some(file) => match read_event_file(&file.to_string_lossy()) {
                Ok(data) => Bytes::from(data.json),
                Err(err) => {
                    writeln!(
                        errors,
                        "Error: {} was saved, but {err}. Nothing published; still watching",
                        path.display()
                    )?;
                    continue;
                }
            },
            None => config.payload.clone(),
        };
        status!("Restarting: {} has been modified", path.display())?;
        pending = Some(config.batch(payload));
    }
    close(client).await;
    status!("NATS connection closed!")?;
    Ok(())
}

/// What happened to the watched files.
#[derive(Debug)]
enum Change {
    /// A watched file was saved.
    Saved(PathBuf),
    /// The folder of watched files was removed: no save can be seen until it
    /// is back.
    FolderGone(PathBuf),
    /// The folder is back, and watched again.
    FolderBack(PathBuf),
}

/// How often to check that the watched folders still exist.
const FOLDER_CHECK: Duration = Duration::from_millis(500);

/// Saves of a set of files, one item per save.
struct Saves {
    watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    files: HashSet<PathBuf>,
    /// The watched folders, and whether each one is there.
    folders: Vec<(PathBuf, bool)>,
}

impl Saves {
    /// Watches the folders of `files`.
    fn watch(files: &[PathBuf]) -> anyhow::Result<Saves> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .context("could not start watching files")?;
        let mut folders = Vec::new();
        let mut watched = HashSet::new();
        for file in files {
            let file = absolute(file)?;
            let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
            if !folders.iter().any(|(f, _)| *f == folder) {
                watcher
                    .watch(&folder, RecursiveMode::NonRecursive)
                    .with_context(|| format!("could not watch {}", folder.display()))?;
                folders.push((folder, true));
            }
            watched.insert(file);
        }
        Ok(Saves {
            watcher,
            events,
            files: watched,
            folders,
        })
    }

    /// Waits for the next save of a watched file, or for a watched folder
    /// to go or come back. Paths are relative to the current folder when
    /// they lie below it.
    async fn next(&mut self) -> anyhow::Result<Change> {
        // The first event of a save that touches a watched file.
        let saved = loop {
            if let Some(change) = self.check_folders() {
                return Ok(change);
            }
            let Ok(event) = tokio::time::timeout(FOLDER_CHECK, self.events.recv()).await else {
                continue;
            };
            let event = event
                .context("the file watcher stopped")?
                .context("the file watcher failed")?;
            if let Some(path) = self.touched(&event) {
                break path;
            }
        };
        // The rest of the burst: a temporary file, a rename, a metadata change.
        while let Ok(Some(_)) = tokio::time::timeout(QUIET, self.events.recv()).await {}
        Ok(Change::Saved(relative(&saved)))
    }

    /// A folder that went away, or came back and is watched again. A folder
    /// that came back with a watched file in it counts as a save of it too,
    /// on the next call: its events came while nothing watched.
    fn check_folders(&mut self) -> Option<Change> {
        for (folder, present) in &mut self.folders {
            match (*present, folder.is_dir()) {
                (true, false) => {
                    *present = false;
                    return Some(Change::FolderGone(relative(folder)));
                }
                (false, true)
                    if self
                        .watcher
                        .watch(folder, RecursiveMode::NonRecursive)
                        .is_ok() =>
                {
                    *present = true;
                    return Some(Change::FolderBack(relative(folder)));
                }
                _ => {}
            }
        }
        None
    }

    /// The watched file this event wrote, created or renamed into place.
    fn touched(&self, event: &notify::Event) -> Option<PathBuf> {
        let writes = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any
        );
        if !writes {
            return None;
        }
        event
            .paths
            .iter()
            .find(|p| self.files.contains(*p))
            .cloned()
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// The path relative to the current folder when it lies below it.
fn relative(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
