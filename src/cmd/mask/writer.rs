//! The masking writer: where every line the commands print is masked.

use std::io::{self, Write};

use super::mask;

/// A writer that masks every line it passes on. Buffered (`publish`'s
/// stdout is line buffered, `listen`'s holds up to 64 KiB of events), it
/// writes complete lines only, except on [`flush`](Write::flush), which
/// writes out everything it holds and flushes the writer beneath.
///
/// A line is held whole until its end is written, however long it is (an
/// event of 1 MiB with control characters, escaped, is a line of a few
/// MiB), and masked once: only what each write adds is looked at for a
/// line's end, so the time it takes grows with the output, never with the
/// square of a line's length.
pub struct Masked<W: Write> {
    inner: W,
    buf: Vec<u8>,
    /// Where the last complete line held ends: what may be written out.
    lines_end: usize,
    /// Write out the complete lines once this much is held; 0: at every line's end.
    capacity: usize,
    /// Set when a write beneath failed: every later write and flush fails
    /// too, so that no flush says lines are out that were lost (`listen`
    /// acks an event once the flush after its line succeeded).
    failed: Option<io::ErrorKind>,
}

impl<W: Write> Masked<W> {
    /// Holds up to `capacity` bytes before writing out the complete lines.
    pub fn with_capacity(capacity: usize, inner: W) -> Masked<W> {
        Masked {
            inner,
            buf: Vec::with_capacity(capacity),
            lines_end: 0,
            capacity,
            failed: None,
        }
    }

    /// Writes every line out as soon as it is complete, as stderr and a
    /// terminal's stdout do.
    pub fn line_buffered(inner: W) -> Masked<W> {
        Masked {
            inner,
            buf: Vec::new(),
            lines_end: 0,
            capacity: 0,
            failed: None,
        }
    }

    /// Writes out, masked, the first `len` bytes held.
    fn write_out(&mut self, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let result = self.inner.write_all(&mask(&self.buf[..len]));
        self.buf.drain(..len);
        self.lines_end = self.lines_end.saturating_sub(len);
        if let Err(err) = &result {
            self.failed = Some(err.kind());
        }
        result
    }

    /// The earlier failure, if a write beneath failed.
    fn check(&self) -> io::Result<()> {
        match self.failed {
            Some(kind) => Err(kind.into()),
            None => Ok(()),
        }
    }
}

impl<W: Write> Write for Masked<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let held = self.buf.len();
        self.buf.extend_from_slice(data);
        if let Some(newline) = memchr::memrchr(b'\n', data) {
            self.lines_end = held + newline + 1;
        }
        let ready = if self.capacity == 0 {
            self.lines_end > 0
        } else {
            self.buf.len() >= self.capacity
        };
        if ready {
            self.write_out(self.lines_end)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.write_out(self.buf.len())?;
        let flushed = self.inner.flush();
        if let Err(err) = &flushed {
            self.failed = Some(err.kind());
        }
        flushed
    }
}

impl<W: Write> Drop for Masked<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_lines_and_everything_on_flush() {
        let mut out = Masked::with_capacity(8, Vec::new());
        out.write_all(b"nats://a:se").unwrap();
        out.write_all(b"cret@h done\nnext").unwrap();
        assert_eq!(out.inner, b"nats://a:***@h done\n");
        out.flush().unwrap();
        assert_eq!(out.inner, b"nats://a:***@h done\nnext");
        let mut line = Masked::line_buffered(Vec::new());
        line.write_all(b"one\ntw").unwrap();
        assert_eq!(line.inner, b"one\n");
    }

    /// A line far longer than the buffer, written in pieces of a few bytes
    /// as `listen` writes an escaped event: held whole until its end,
    /// passed on unchanged when there is nothing to hide, and a password in
    /// it hidden even though its pieces come in separate writes.
    #[test]
    fn a_long_line_in_small_writes_is_masked_whole() {
        let mut line = String::from("Received event #1, with data: ");
        for _ in 0..50_000 {
            line.push_str("\\u0001a");
        }
        // A secret of this run (no other test prints it), and a URL's password.
        super::super::register_secrets(["Xk3-writer-secret"]);
        let with_url =
            format!("{line} nats://ana:Pw-Qz9Xw@host:4222 {line}Xk3-writer-secret{line}");
        for (text, expected) in [
            (line.clone(), line.clone()),
            (
                with_url.clone(),
                with_url
                    .replace("Pw-Qz9Xw", super::super::MASK)
                    .replace("Xk3-writer-secret", super::super::MASK),
            ),
        ] {
            for capacity in [0, 64 * 1024] {
                let mut out = Masked::with_capacity(capacity, Vec::new());
                out.write_all(b"before\n").unwrap();
                for piece in text.as_bytes().chunks(3) {
                    out.write_all(piece).unwrap();
                }
                assert!(
                    out.inner.is_empty() || out.inner == b"before\n",
                    "no part of the unfinished line is written (capacity {capacity})"
                );
                out.write_all(b"\nafter").unwrap();
                out.flush().unwrap();
                let expected = format!("before\n{expected}\nafter");
                assert!(out.inner == expected.as_bytes(), "capacity {capacity}");
            }
        }
    }
}
