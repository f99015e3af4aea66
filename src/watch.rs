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

use crate::cli::read_event_file;
use crate::publish::{self, Batch, MAX_LINES, PublishConfig};

/// A save is over when no file-system event came for this long.
const QUIET: Duration = Duration::from_millis(50);

/// While a publish waits for the connection to come back, how often to check.
const RECONNECT_CHECK: Duration = Duration::from_millis(250);

/// Connects, publishes once, then again on each save, until `shutdown`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<()> {
    let mut saves = Saves::watch(&config.watch)?;
    let client = publish::connect(&config, out).await?;
    let names: Vec<String> = config
        .watch
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    writeln!(out, "Watching {} (Ctrl-C to stop)", names.join(", "))?;

    tokio::pin!(shutdown);
    // The batch to publish, kept until the server has stored it: a retry
    // after a lost connection sends the same ids, so nothing is stored twice.
    let mut pending = Some(Batch::new(&config));
    loop {
        if let Some(batch) = &pending
            && client.connection_state() == State::Connected
        {
            let result = tokio::select! {
                result = batch.publish(&client, out) => result,
                () = &mut shutdown => break,
            };
            match result {
                Ok(published) => {
                    if config.count > MAX_LINES {
                        writeln!(
                            out,
                            "Published {} events to {}",
                            published.count, config.channel
                        )?;
                    }
                    pending = None;
                }
                Err(err) => writeln!(
                    errors,
                    "Error: {}. Still watching; will publish again once the connection is back",
                    crate::cli::error_line(&err)
                )?,
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            saved = saves.next() => {
                let path = saved?;
                writeln!(out, "Restarting: {} has been modified", path.display())?;
                let payload = match &config.data_file {
                    Some(file) => match read_event_file(&file.to_string_lossy()) {
                        Ok(data) => Bytes::from(data.json),
                        Err(err) => {
                            writeln!(errors, "Error: {err}. Nothing published; still watching")?;
                            continue;
                        }
                    },
                    None => config.payload.clone(),
                };
                pending = Some(Batch::of(config.channel.clone(), payload, config.count));
            }
            () = tokio::time::sleep(RECONNECT_CHECK), if pending.is_some() => {}
        }
    }
    client.drain().await.ok();
    writeln!(out, "NATS connection closed!")?;
    Ok(())
}

/// Saves of a set of files, one item per save.
struct Saves {
    // Kept alive: dropping it stops the watching.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    files: HashSet<PathBuf>,
}

impl Saves {
    /// Watches the folders of `files`.
    fn watch(files: &[PathBuf]) -> anyhow::Result<Saves> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .context("could not start watching files")?;
        let mut folders = HashSet::new();
        let mut watched = HashSet::new();
        for file in files {
            let file = absolute(file)?;
            let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
            if folders.insert(folder.clone()) {
                watcher
                    .watch(&folder, RecursiveMode::NonRecursive)
                    .with_context(|| format!("could not watch {}", folder.display()))?;
            }
            watched.insert(file);
        }
        Ok(Saves {
            _watcher: watcher,
            events,
            files: watched,
        })
    }

    /// Waits for the next save of a watched file and returns its path,
    /// relative to the current folder when it lies below it.
    async fn next(&mut self) -> anyhow::Result<PathBuf> {
        // The first event of a save that touches a watched file.
        let saved = loop {
            let event = self
                .events
                .recv()
                .await
                .context("the file watcher stopped")?
                .context("the file watcher failed")?;
            if let Some(path) = self.touched(&event) {
                break path;
            }
        };
        // The rest of the burst: a temporary file, a rename, a metadata change.
        while let Ok(Some(_)) = tokio::time::timeout(QUIET, self.events.recv()).await {}
        Ok(relative(&saved))
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
