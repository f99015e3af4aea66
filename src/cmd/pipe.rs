//! Closed pipes: `listen | head -3`, `status --events | head`, `publish
//! --count 20 | head -1`. Whoever reads a command's output may go before
//! the command is done; then it exits 0 without a word, as `cat` and
//! ripgrep do (the `main` the commands share, in [`crate`], turns the
//! write that failed into that quiet exit, with [`is_broken_pipe`]). What
//! it did stays true: `listen` has acked only the events whose lines it
//! wrote out (a [`Masked`](crate::mask::Masked) writer that failed once
//! fails every later flush), and `publish` goes on until every event is
//! stored ([`UntilClosed`]), so that its exit 0 still means "all stored" to
//! a script that would publish again otherwise.

use std::io::{self, Write};
use std::time::Duration;

/// Whether `err` comes of writing to a stdout nobody reads any more: a
/// broken pipe in its chain, and stdout's reader gone. The second half
/// keeps a broken pipe of another kind (a connection the server dropped)
/// an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    });
    broken && stdout_gone()
}

/// Whether stdout is a pipe or socket whose reader has gone (poll(2)
/// reports an error on such a descriptor). Never for a terminal or a file.
fn stdout_gone() -> bool {
    let mut stdout = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout: poll only reads and writes it.
    let ready = unsafe { libc::poll(&mut stdout, 1, 0) };
    ready > 0 && stdout.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// Resolves once stdout's reader has gone, checked four times a second:
/// for a command that may wait long without writing (`listen`). Never
/// resolves for a terminal or a file.
pub async fn stdout_closed() {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if stdout_gone() {
            return;
        }
    }
}

/// A writer whose reader may go without stopping the work (`publish`'s
/// stdout): once a write finds the pipe broken, it and every later one
/// succeed without writing anything.
pub struct UntilClosed<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> UntilClosed<W> {
    /// Writes to `inner` until its reader goes.
    pub fn new(inner: W) -> UntilClosed<W> {
        UntilClosed {
            inner,
            closed: false,
        }
    }

    /// `result`, or what is left to do once the reader has gone: nothing.
    fn unless_closed<T>(&mut self, result: io::Result<T>, done: T) -> io::Result<T> {
        match result {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            result => result,
        }
    }
}

impl<W: Write> Write for UntilClosed<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(data.len());
        }
        let written = self.inner.write(data);
        self.unless_closed(written, data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let flushed = self.inner.flush();
        self.unless_closed(flushed, ())
    }
}
