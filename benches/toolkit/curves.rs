//! Figure 10, the cost curves: publish, replay, `--json` replay and a queue
//! group of two, each against its baseline, at several sizes
//! (`BENCH_SIZES`, default 10,000, 100,000 and 1,000,000 events), with
//! `listen`'s peak memory; a Markdown table of its own and an SVG chart.

use std::path::PathBuf;

use plotters::prelude::*;

use crate::measure::*;
use crate::replays::{self, Replayer};
use crate::verdict::Target;
use crate::*;

/// One path's figures at a point.
type Figures = fn(&Point) -> &Stats;

/// One line of the chart: name, colour, width, value at a point.
type Line = (&'static str, RGBColor, u32, fn(&Point) -> f64);

/// The sizes of a full run.
const DEFAULT_SIZES: &[u64] = &[10_000, 100_000, 1_000_000];

/// The size the scale targets compare the largest with.
const REFERENCE_SIZE: u64 = 100_000;

/// Everything measured at one size.
pub struct Point {
    pub events: u64,
    pub runs: usize,
    pub publish: Stats,
    /// The baseline publish with a `Nats-Msg-Id` per event.
    pub publish_base: Stats,
    /// Context: the baseline publish without `Nats-Msg-Id`, which shows
    /// what the server's duplicate window costs as it fills.
    pub publish_plain: Stats,
    pub listen: Stats,
    pub json: Stats,
    pub group: Stats,
    pub pull: Stats,
    pub push: Stats,
    /// Context: the push consumer replaying a channel whose publishes' ids
    /// the server still holds (published moments before).
    pub push_fresh: Stats,
    /// Peak memory of `listen` (the plain replay), MiB.
    pub listen_mib: Stats,
}

impl Point {
    /// The faster raw consumer at this size, by median: its name and rates.
    fn fastest(&self) -> (&'static str, &Stats) {
        if self.push.median > self.pull.median {
            ("push", &self.push)
        } else {
            ("pull", &self.pull)
        }
    }
}

/// The sizes to run: `BENCH_SIZES` (comma-separated), else [`DEFAULT_SIZES`].
pub fn sizes() -> anyhow::Result<Vec<u64>> {
    match std::env::var("BENCH_SIZES") {
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("BENCH_SIZES={text}: {s:?} is not a number"))
            })
            .collect(),
        Err(_) => Ok(DEFAULT_SIZES.to_vec()),
    }
}

/// Measures every size, adds the targets' rows to `table`, and returns the
/// curves' own table (Markdown) after writing the chart.
pub fn curves(
    url: &str,
    server_pid: u32,
    runs: usize,
    table: &mut Table,
) -> anyhow::Result<String> {
    let _pinned = Pinned::apart(server_pid)?;
    let mut points = Vec::new();
    for events in sizes()? {
        points.push(point(url, events, runs)?);
    }
    targets(&points, table);
    let chart = chart_path();
    match draw(&points, &chart) {
        Ok(()) => eprintln!("bench: cost curves drawn in {}", chart.display()),
        Err(err) => eprintln!("bench: could not draw {}: {err:#}", chart.display()),
    }
    Ok(render(&points))
}

/// One size: `runs` bulk publishes of each kind on fresh channels, then
/// `runs` replays of each kind of one channel of `events` events.
fn point(url: &str, events: u64, runs: usize) -> anyhow::Result<Point> {
    let n = events.to_string();
    // 0: `publish`, 1: the baseline with `Nats-Msg-Id`, 2: without.
    let mut rates: [Vec<f64>; 3] = Default::default();
    for run in 0..runs {
        eprintln!("bench: curves, publishing {events}, run {}/{runs}", run + 1);
        // Rotated from run to run, as the replays are.
        let mut order = [0, 1, 2];
        order.rotate_left(run % 3);
        for kind in order {
            let channel = format!("bench.curve.publish.{events}.{run}.{kind}");
            let mut command = if kind == 0 {
                let mut command = Command::new(PUBLISH);
                command.args(["--server", url, "--channel", &channel, "--count", &n]);
                command
            } else {
                let mut command = Command::new(std::env::current_exe()?);
                command.args(["--baseline-publish", url, &channel, &n]);
                if kind == 1 {
                    command.arg("--msg-id");
                }
                command
            };
            let (time, _) = timed(command.stdout(Stdio::null()))?;
            rates[kind].push(events as f64 / time.as_secs_f64());
            delete_stream(url, &channel)?;
        }
    }
    let [tool, base, plain] = rates;
    // Replayed once the server has forgotten the publishes' ids (see
    // `create_settled_stream`); the push consumer replays a channel whose ids
    // it still holds too, for context.
    let channel = format!("bench.curve.replay.{events}");
    replays::create_settled_stream(url, &channel)?;
    replays::fill(url, &channel, events, 1)?;
    let fresh = format!("bench.curve.fresh.{events}");
    replays::fill(url, &fresh, events, 1)?;
    let within_window = replays::replays(
        url,
        &fresh,
        events,
        runs,
        &[Replayer::Push],
        &format!("curves, replaying {events} within the duplicate window"),
    )?;
    delete_stream(url, &fresh)?;
    use Replayer::*;
    let who = [Listen, ListenJson, QueueGroup, Pull, Push];
    let results = replays::replays(
        url,
        &channel,
        events,
        runs,
        &who,
        &format!("curves, replaying {events}"),
    )?;
    delete_stream(url, &channel)?;
    let rate = |i: usize| replays::rates(events, &results[i].0);
    Ok(Point {
        events,
        runs,
        publish: Stats::of(tool),
        publish_base: Stats::of(base),
        publish_plain: Stats::of(plain),
        listen: rate(0),
        json: rate(1),
        group: rate(2),
        pull: rate(3),
        push: rate(4),
        push_fresh: replays::rates(events, &within_window[0].0),
        listen_mib: Stats::of(results[0].1.clone()),
    })
}

/// Rows 10a–10e: throughput at the largest size against 100,000 events,
/// for each path; `listen`'s peak memory at the largest size.
fn targets(points: &[Point], table: &mut Table) {
    let Some(largest) = points.iter().max_by_key(|p| p.events) else {
        return;
    };
    let reference = points.iter().find(|p| p.events == REFERENCE_SIZE);
    // 10a (issue #24): `publish` against its baseline with `Nats-Msg-Id` at
    // every size, run by run; each side's own largest/100,000 ratio beside
    // it, as context (the server's duplicate window bends both).
    let own = reference
        .filter(|r| r.events < largest.events)
        .map(|r| {
            format!(
                "; own ratio {} / {}: `publish` {:.2}, baseline {:.2}, baseline without \
                 `Nats-Msg-Id` {:.2}",
                largest.events,
                r.events,
                largest.publish.median / r.publish.median,
                largest.publish_base.median / r.publish_base.median,
                largest.publish_plain.median / r.publish_plain.median
            )
        })
        .unwrap_or_default();
    for point in points {
        table.row(Row::paired(
            format!(
                "10a. Scale, `publish --count {}`, events/s (baseline: the same publishes with \
                 `Nats-Msg-Id`, in the same runs; ratio: median of the {} runs' ratios){own}",
                point.events, point.runs
            ),
            point.publish.show(kilo),
            point.publish_base.show(kilo),
            &point.publish.over(&point.publish_base),
            Some(Target::AtLeast(MIN_PUBLISH_AT_SIZE_RATIO)),
        ));
    }
    if let Some(reference) = reference.filter(|r| r.events < largest.events) {
        // Each path with its baseline, whose own ratio is shown beside:
        // the server slows down with the channel's size for both.
        let paths: [(&str, &str, Figures, Figures); 3] = [
            (
                "10b",
                "replay, `listen --count N`",
                |p| &p.listen,
                |p| p.fastest().1,
            ),
            (
                "10c",
                "replay with `--json`",
                |p| &p.json,
                |p| p.fastest().1,
            ),
            (
                "10d",
                "replay by a queue group of 2 `listen`s",
                |p| &p.group,
                |p| p.fastest().1,
            ),
        ];
        for (number, what, stats, base) in paths {
            let (large, small) = (stats(largest), stats(reference));
            let base_ratio = base(largest).median / base(reference).median;
            // Paired by run: run k at the largest size over run k at 100,000.
            table.row(Row::paired(
                format!(
                    "{number}. Scale, {what}: events/s at {} events (toolkit column) against \
                     at {} (baseline column); its baseline's own ratio: {base_ratio:.2}",
                    largest.events, reference.events
                ),
                large.show(kilo),
                small.show(kilo),
                &large.over(small),
                Some(Target::AtLeast(MIN_SCALE_RATIO)),
            ));
        }
    } else {
        eprintln!(
            "bench: curves: no scale targets (they compare the largest size with {REFERENCE_SIZE})"
        );
    }
    let (fastest, _) = largest.fastest();
    table.row(Row {
        figure: format!(
            "10e. Peak resident memory (VmHWM) of `listen` replaying {} events, MiB",
            largest.events
        ),
        tool: largest.listen_mib.show(|v| format!("{v:.1}")),
        baseline: format!("– (the curves table has the {fastest} consumer's rate)"),
        ratio: "–".into(),
        target: format!("≤ {MAX_RSS_MIB} MiB"),
        pass: Some(largest.listen_mib.median <= MAX_RSS_MIB),
        noise: None,
    });
}

/// The curves' table: a row per size and path, with its baseline and ratio.
fn render(points: &[Point]) -> String {
    let mut out = String::from(
        "| Events | Runs | Path | Toolkit, events/s | Baseline, events/s | Ratio | `listen` VmHWM, MiB |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for p in points {
        let (fastest, fastest_rate) = p.fastest();
        let rows: [(&str, &Stats, String, &Stats); 4] = [
            (
                "publish",
                &p.publish,
                "same publishes with `Nats-Msg-Id`".into(),
                &p.publish_base,
            ),
            (
                "replay",
                &p.listen,
                format!("{fastest} consumer"),
                fastest_rate,
            ),
            (
                "replay `--json`",
                &p.json,
                format!("{fastest} consumer"),
                fastest_rate,
            ),
            (
                "queue group of 2 (both members)",
                &p.group,
                format!("{fastest} consumer"),
                fastest_rate,
            ),
        ];
        for (what, tool, base_name, base) in rows {
            let mib = if what == "replay" {
                p.listen_mib.show(|v| format!("{v:.1}"))
            } else {
                "–".into()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {what} | {} | {} ({base_name}) | {:.2} | {mib} |",
                p.events,
                p.runs,
                tool.show(kilo),
                base.show(kilo),
                tool.median / base.median,
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | context: publish without `Nats-Msg-Id` (no duplicate window) | – | {} | – | – |",
            p.events,
            p.runs,
            p.publish_plain.show(kilo),
        );
        let _ = writeln!(
            out,
            "| {} | {} | context: push consumer, replaying within the duplicate window (ids still held) | – | {} | – | – |",
            p.events,
            p.runs,
            p.push_fresh.show(kilo),
        );
        let _ = writeln!(
            out,
            "| {} | {} | context: pull / push consumer | – | {} / {} | {:.2} | – |",
            p.events,
            p.runs,
            p.pull.show(kilo),
            p.push.show(kilo),
            p.pull.median / p.push.median,
        );
    }
    out
}

/// `$CARGO_TARGET_DIR/bench/curves.svg`, else `target/bench/curves.svg`.
fn chart_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench").join("curves.svg")
}

/// The chart: throughput (medians) against events, log scale, toolkit
/// paths in solid lines and their baselines thin; `listen`'s memory beside.
fn draw(points: &[Point], path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let (min, max) = points.iter().fold((u64::MAX, 0), |(lo, hi), p| {
        (lo.min(p.events), hi.max(p.events))
    });
    ensure!(min < max, "at least two sizes are needed for a curve");
    let x = (min as f64 * 0.8)..(max as f64 * 1.25);
    let series: [Line; 8] = [
        ("publish", RGBColor(31, 119, 180), 3, |p| p.publish.median),
        (
            "publish baseline (Nats-Msg-Id)",
            RGBColor(31, 119, 180),
            1,
            |p| p.publish_base.median,
        ),
        (
            "publish baseline, no Nats-Msg-Id",
            RGBColor(158, 202, 225),
            1,
            |p| p.publish_plain.median,
        ),
        ("listen replay", RGBColor(214, 39, 40), 3, |p| {
            p.listen.median
        }),
        ("listen --json", RGBColor(255, 127, 14), 3, |p| {
            p.json.median
        }),
        ("queue group of 2", RGBColor(44, 160, 44), 3, |p| {
            p.group.median
        }),
        ("fastest raw consumer", RGBColor(214, 39, 40), 1, |p| {
            p.fastest().1.median
        }),
        (
            "push consumer, ids still held",
            RGBColor(148, 103, 189),
            1,
            |p| p.push_fresh.median,
        ),
    ];
    let top = points
        .iter()
        .flat_map(|p| series.iter().map(move |s| s.3(p)))
        .fold(0.0, f64::max)
        / 1e3
        * 1.15;
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(620);
    let mut chart = ChartBuilder::on(&left)
        .caption("Throughput, events/s (thousands)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(x.clone().log_scale(), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("events per run")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (name, color, width, value) in series {
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.events as f64, value(p) / 1e3)),
                color.stroke_width(width),
            ))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    let top_mib = points
        .iter()
        .map(|p| p.listen_mib.max)
        .fold(MAX_RSS_MIB, f64::max)
        * 1.1;
    let mut memory = ChartBuilder::on(&right)
        .caption("listen peak memory (VmHWM), MiB", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(40)
        .build_cartesian_2d(x.log_scale(), 0.0..top_mib)?;
    memory
        .configure_mesh()
        .x_desc("events per run")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    memory.draw_series(LineSeries::new(
        points
            .iter()
            .map(|p| (p.events as f64, p.listen_mib.median)),
        RGBColor(214, 39, 40).stroke_width(3),
    ))?;
    // The target: at most 20 MiB.
    memory.draw_series(LineSeries::new(
        [(min as f64, MAX_RSS_MIB), (max as f64, MAX_RSS_MIB)],
        BLACK.stroke_width(1),
    ))?;
    root.present()?;
    Ok(())
}
