//! Ratios near 1 with their spread (issue #24): the median of paired ratios
//! (each run's toolkit against the same run's baseline), a 90% interval of
//! that median by bootstrap over the pairs, and a verdict that says "within
//! noise" rather than pass or fail while the interval straddles the target,
//! with an estimate of how many more runs would decide it.
//!
//! Pure functions, no statistics crate: a tiny deterministic PRNG
//! (SplitMix64), so the same runs always give the same interval. Unit-tested
//! in `tests/bench_verdict.rs`, which includes this file.

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;

/// The PRNG's seed: fixed, so an interval is a function of its ratios.
pub const SEED: u64 = 0x5EED_0024;

/// SplitMix64: a few lines, good enough to draw indices.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n` (n > 0); the modulo bias is negligible for run counts.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "the median of nothing");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of paired ratios, and a 90% interval of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// How many pairs it is made of.
    pub pairs: usize,
}

/// The median of `ratios` and its 90% bootstrap interval: `resamples` times,
/// draw as many ratios as there are, with replacement, and take their
/// median; the interval runs from the 5th to the 95th percentile of those.
pub fn interval(ratios: &[f64], resamples: usize, seed: u64) -> Interval {
    let n = ratios.len();
    let mut rng = SplitMix64(seed);
    let mut medians: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let sample: Vec<f64> = (0..n).map(|_| ratios[rng.below(n)]).collect();
            median(&sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * (medians.len() - 1) as f64).round()) as usize];
    Interval {
        median: median(ratios),
        low: at(0.05),
        high: at(0.95),
        pairs: n,
    }
}

/// [`interval`] with the bench's resamples and seed.
pub fn paired(ratios: &[f64]) -> Interval {
    interval(ratios, RESAMPLES, SEED)
}

/// Which side of its target a ratio must be on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    pub fn value(self) -> f64 {
        match self {
            Target::AtLeast(t) | Target::AtMost(t) => t,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Target::AtLeast(t) => format!("ratio ≥ {t}"),
            Target::AtMost(t) => format!("ratio ≤ {t}"),
        }
    }
}

/// What a run says of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is on the target's side.
    Pass,
    /// The whole interval is on the wrong side.
    Fail,
    /// The interval straddles the target: about this many more runs would
    /// decide it (`None`: the median sits on the target, no number would).
    WithinNoise { more_runs: Option<usize> },
}

/// The verdict of `interval` on `target`. While the interval straddles
/// the target, the runs needed are estimated from its width shrinking as
/// 1/sqrt(runs): its half on the target's side must shrink to the
/// distance from the median to the target.
pub fn verdict(interval: Interval, target: Target) -> Verdict {
    let Interval {
        median, low, high, ..
    } = interval;
    let (good, bad) = match target {
        Target::AtLeast(t) => (low >= t, high < t),
        Target::AtMost(t) => (high <= t, low > t),
    };
    if good {
        return Verdict::Pass;
    }
    if bad {
        return Verdict::Fail;
    }
    let t = target.value();
    let distance = (median - t).abs();
    // The half of the interval that reaches over the target.
    let half = if t < median {
        median - low
    } else {
        high - median
    };
    if distance <= f64::EPSILON || half <= 0.0 {
        return Verdict::WithinNoise { more_runs: None };
    }
    let n = interval.pairs as f64;
    // Rounded up, past float error in the last digits.
    let needed = (n * (half / distance).powi(2) - 1e-9).ceil();
    let more = (needed - n).max(1.0);
    Verdict::WithinNoise {
        more_runs: (more < 1e6).then_some(more as usize),
    }
}

/// The ratio with its interval, as the table shows it.
pub fn show(interval: Interval) -> String {
    format!(
        "{:.2} (90%: {:.2}–{:.2})",
        interval.median, interval.low, interval.high
    )
}

/// The Result column of a verdict.
pub fn show_verdict(verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass => "pass".into(),
        Verdict::Fail => "**FAIL**".into(),
        Verdict::WithinNoise {
            more_runs: Some(more),
        } => format!("within noise (≈{more} more runs would decide)"),
        Verdict::WithinNoise { more_runs: None } => {
            "within noise (the median is on the target)".into()
        }
    }
}
