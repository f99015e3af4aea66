//! The bench's statistics (`benches/toolkit/verdict.rs`, issue #24): the
//! bootstrap interval of a median of paired ratios, and the verdict that
//! says pass, fail or "within noise" and how many more runs would decide.

#[path = "../benches/toolkit/verdict.rs"]
#[allow(dead_code)]
mod verdict;

use verdict::{Interval, SplitMix64, Target, Verdict, interval, median, paired, verdict};

#[test]
fn the_prng_is_deterministic_and_spreads_its_indices() {
    let draw = |seed| {
        let mut rng = SplitMix64(seed);
        (0..1000).map(|_| rng.below(10)).collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7), "the same seed, the same draws");
    assert_ne!(draw(7), draw(8));
    let mut counts = [0; 10];
    for i in draw(7) {
        counts[i] += 1;
    }
    assert!(
        counts.iter().all(|&c| (60..=140).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn median_of_odd_and_even_counts() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
}

#[test]
fn identical_ratios_have_a_point_interval() {
    let i = paired(&[1.1; 9]);
    assert_eq!((i.median, i.low, i.high, i.pairs), (1.1, 1.1, 1.1, 9));
}

#[test]
fn the_interval_holds_the_median_and_lies_within_the_ratios() {
    let ratios = [
        0.91, 0.97, 0.95, 1.02, 0.93, 0.99, 0.96, 1.05, 0.94, 0.98, 0.92,
    ];
    let i = paired(&ratios);
    assert_eq!(i.median, 0.96);
    assert!(i.low <= i.median && i.median <= i.high, "{i:?}");
    assert!(i.low >= 0.91 && i.high <= 1.05, "{i:?}");
    assert!(
        i.low > 0.91 && i.high < 1.05,
        "narrower than the ratios: {i:?}"
    );
    assert_eq!(paired(&ratios), paired(&ratios), "deterministic");
}

#[test]
fn more_pairs_of_the_same_spread_give_a_narrower_interval() {
    let few: Vec<f64> = (0..5).map(|k| 0.9 + 0.05 * k as f64).collect();
    let many: Vec<f64> = (0..45).map(|k| 0.9 + 0.05 * (k % 5) as f64).collect();
    let (few, many) = (interval(&few, 4000, 1), interval(&many, 4000, 1));
    assert!(
        many.high - many.low < few.high - few.low,
        "{few:?} {many:?}"
    );
}

fn at(median: f64, low: f64, high: f64, pairs: usize) -> Interval {
    Interval {
        median,
        low,
        high,
        pairs,
    }
}

#[test]
fn a_verdict_fails_only_when_the_whole_interval_is_on_the_wrong_side() {
    let min = Target::AtLeast(0.95);
    assert_eq!(verdict(at(0.98, 0.96, 1.0, 15), min), Verdict::Pass);
    assert_eq!(verdict(at(0.95, 0.95, 0.99, 15), min), Verdict::Pass);
    assert_eq!(verdict(at(0.90, 0.88, 0.94, 15), min), Verdict::Fail);
    assert!(matches!(
        verdict(at(0.96, 0.93, 0.99, 15), min),
        Verdict::WithinNoise { .. }
    ));
    let max = Target::AtMost(1.05);
    assert_eq!(verdict(at(1.0, 0.98, 1.03, 21), max), Verdict::Pass);
    assert_eq!(verdict(at(1.1, 1.06, 1.2, 21), max), Verdict::Fail);
    assert!(matches!(
        verdict(at(1.04, 1.0, 1.08, 21), max),
        Verdict::WithinNoise { .. }
    ));
}

#[test]
fn within_noise_estimates_the_runs_from_the_width_shrinking_as_one_over_sqrt_n() {
    let min = Target::AtLeast(0.95);
    // Median 0.97, lower half 0.04: it must shrink to 0.02, half as wide,
    // which takes four times the pairs: 60 in all, 45 more.
    assert_eq!(
        verdict(at(0.97, 0.93, 0.99, 15), min),
        Verdict::WithinNoise {
            more_runs: Some(45)
        }
    );
    // Below the target, the upper half counts: 0.02 to 0.01, 3 times more.
    assert_eq!(
        verdict(at(0.94, 0.90, 0.96, 5), min),
        Verdict::WithinNoise {
            more_runs: Some(15)
        }
    );
    // Barely straddling: at least one more run.
    assert_eq!(
        verdict(at(0.99, 0.9499, 1.0, 15), min),
        Verdict::WithinNoise { more_runs: Some(1) }
    );
    // On the target: no number of runs decides it.
    assert_eq!(
        verdict(at(0.95, 0.93, 0.97, 15), min),
        Verdict::WithinNoise { more_runs: None }
    );
}
