//! Reading `--data-file` from a pipe, a FIFO or standard input within a
//! deadline: a writer that keeps its end open without writing (a FIFO
//! nobody closes, `sleep 600 | publish --data-file -`) would otherwise hold
//! publish forever. The deadline counts from the last bytes that came, so a
//! slow writer that keeps writing is waited for.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nats_course_toolkit::{connection, duration};

/// How often the wait looks at whether bytes came.
const CHECK: Duration = Duration::from_millis(100);

/// Reads what `open` opens (a FIFO's open waits for a writer), at most
/// `limit` bytes as [`connection::read_bounded`] does, on a thread of its
/// own; fails, naming `what` and `--read-timeout`, when nothing comes for
/// `idle` and the writer has not closed its end.
pub fn read_within<R: Read + 'static>(
    open: impl FnOnce() -> Result<R, String> + Send + 'static,
    what: &str,
    limit: u64,
    why: &str,
    idle: Duration,
) -> Result<Vec<u8>, String> {
    let count = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let (name, reason, counted) = (what.to_owned(), why.to_owned(), Arc::clone(&count));
    // Left blocked if the deadline passes: the command exits with the error.
    std::thread::spawn(move || {
        let result = open().and_then(|reader| {
            let reader = Counting {
                inner: reader,
                count: counted,
            };
            connection::read_bounded(reader, &name, limit, &reason)
        });
        let _ = tx.send(result);
    });
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match rx.recv_timeout(CHECK.min(idle)) {
            Ok(result) => return result,
            Err(RecvTimeoutError::Disconnected) => return Err(format!("cannot read {what}")),
            Err(RecvTimeoutError::Timeout) => {
                let now = count.load(Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() >= idle {
                    return Err(format!(
                        "nothing came from {what} for {} and its writer did not close it; close it \
                         once the data is written (end the command that writes, or Ctrl-D), or wait \
                         longer with --read-timeout",
                        duration::format(idle)
                    ));
                }
            }
        }
    }
}

/// A reader that counts the bytes it reads, for the deadline.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
