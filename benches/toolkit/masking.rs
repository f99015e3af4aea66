//! Figure 12: masking a long line, in this process (no server): an event of
//! control characters, escaped as `listen` prints it, through the masking
//! writer `listen` prints through. A 400 KB event of `"\x01a"` used to take
//! 207 s there (issue #29): once the line passed the writer's 64 KiB, every
//! small write looked through the whole line again. The time must grow with
//! the line, not with its square: a line 4 times as long, 4 times the time.

use nats_course_cli::mask::{Masked, register_secrets};
use nats_course_toolkit::notes::write_escaped;

use crate::measure::*;
use crate::*;

/// The lines timed, MiB of output: the ratio of their times is the figure.
const SHORT_MIB: usize = 1;
const LONG_MIB: usize = 4;

/// Linear is 4; quadratic, 16.
const MAX_MASKING_RATIO: f64 = 6.0;

/// `listen`'s stdout buffer.
const BUFFER: usize = 64 * 1024;

/// A password of this run, at the end of each line, and a short one that
/// the escapes are full of (`\u0001`): both must be looked for throughout.
const SECRET: &str = "Pw-Qz9Xw-bench";
const SHORT_SECRET: &str = "1";

pub fn masking(runs: usize, table: &mut Table) -> anyhow::Result<()> {
    register_secrets([SECRET, SHORT_SECRET]);
    let (mut short, mut long) = (Vec::new(), Vec::new());
    for run in 0..runs {
        eprintln!("bench: masking a long line, run {}/{runs}", run + 1);
        short.push(time_line(SHORT_MIB)?);
        long.push(time_line(LONG_MIB)?);
    }
    let (short, long) = (Stats::of(short), Stats::of(long));
    let ratio = long.median / short.median;
    table.row(Row {
        figure: format!(
            "12. Masking a long line: an event of control characters, escaped as `listen` \
             writes it (pieces of 1 to 6 bytes) through its masking writer (64 KiB buffer, a \
             password and a 1-byte secret to look for), ms for a {SHORT_MIB} MiB line \
             (baseline column: {LONG_MIB} MiB; ratio: their times)"
        ),
        tool: short.show(|v| format!("{v:.1}")),
        baseline: long.show(|v| format!("{v:.1}")),
        ratio: format!("{ratio:.2}"),
        target: format!("ratio ≤ {MAX_MASKING_RATIO} (linear: {LONG_MIB}/{SHORT_MIB})"),
        pass: Some(ratio <= MAX_MASKING_RATIO),
        noise: None,
    });
    Ok(())
}

/// Milliseconds to write one line of `mib` MiB and flush it; checks that
/// the password at its end was masked and nothing else changed.
fn time_line(mib: usize) -> anyhow::Result<f64> {
    // `"\x01a"` is 7 bytes escaped: `\u0001a`.
    let data = "\x01a".repeat(mib * 1024 * 1024 / 7);
    let mut out = Vec::with_capacity(mib * 1024 * 1024 + 1024);
    let started = Instant::now();
    {
        let mut masked = Masked::with_capacity(BUFFER, &mut out);
        masked.write_all(b"Received event #1, with data: ")?;
        write_escaped(&mut masked, &data)?;
        writeln!(masked, " {SECRET}")?;
        masked.flush()?;
    }
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let expected = 30 + data.len() / 2 * 7 + 5;
    ensure!(
        out.ends_with(b"\\u0001a ***\n") && out.len() == expected,
        "the masked line is not the line with its password hidden ({} bytes)",
        out.len()
    );
    Ok(elapsed)
}
