//! Paired comparisons of two curricula trained on the same seeds: the 2×2 table of verdicts,
//! the exact McNemar test on its discordant pairs, and Newcombe's interval for the
//! difference of the two paired proportions.

use crate::verdict::wilson_interval;

/// `compare.csv`'s header, the CLI's and the page's: per seed, both verdicts, both worst gap
/// errors, both reconstruction errors and both onsets.
pub const COMPARE_TABLE_HEADER: &str = "seed,verdict_a,verdict_b,worst_gap_error_a,worst_gap_error_b,recon_mse_a,recon_mse_b,onset_a,onset_b";

/// `crumpled 3/16 (19%, 95% CI 7–43%)`: `k` of `n` runs crumpled, with the 95% Wilson
/// interval of the rate.
pub fn crumple_summary(k: usize, n: usize) -> String {
    let (low, high) = wilson_interval(k, n);
    let percent = |f: f64| (f * 100.0).round();
    format!(
        "crumpled {k}/{n} ({}%, 95% CI {}–{}%)",
        percent(k as f64 / n.max(1) as f64),
        percent(low),
        percent(high)
    )
}

/// Two sheets' verdicts paired by seed: how many seeds fell in each cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairedTable {
    pub both_wheel: usize,
    pub both_crumpled: usize,
    pub only_a_crumpled: usize,
    pub only_b_crumpled: usize,
}

impl PairedTable {
    /// From whether each seed crumpled under A and under B (`a[i]` and `b[i]` are the same
    /// seed).
    ///
    /// # Panics
    /// When the slices differ in length: there is no pairing then.
    pub fn from_crumpled(a: &[bool], b: &[bool]) -> PairedTable {
        assert_eq!(a.len(), b.len(), "paired verdicts come in pairs");
        let mut table = PairedTable::default();
        for (&a, &b) in a.iter().zip(b) {
            match (a, b) {
                (false, false) => table.both_wheel += 1,
                (true, true) => table.both_crumpled += 1,
                (true, false) => table.only_a_crumpled += 1,
                (false, true) => table.only_b_crumpled += 1,
            }
        }
        table
    }

    /// Seeds in all.
    pub fn total(&self) -> usize {
        self.both_wheel + self.both_crumpled + self.only_a_crumpled + self.only_b_crumpled
    }

    /// Seeds that crumpled under A.
    pub fn a_crumpled(&self) -> usize {
        self.both_crumpled + self.only_a_crumpled
    }

    /// Seeds that crumpled under B.
    pub fn b_crumpled(&self) -> usize {
        self.both_crumpled + self.only_b_crumpled
    }

    /// The table, each sheet's rate with its Wilson interval, the difference in rates with
    /// Newcombe's paired 95% interval, and the exact McNemar p: a line each.
    pub fn report(&self) -> Vec<String> {
        let n = self.total();
        // `+ 0.0`: a difference that rounds to nothing prints 0, not -0.
        let points = |f: f64| (f * 100.0).round() + 0.0;
        let difference = (self.a_crumpled() as f64 - self.b_crumpled() as f64) / n.max(1) as f64;
        let (low, high) = newcombe_paired_difference(self);
        let p = mcnemar_exact_p(self.only_a_crumpled, self.only_b_crumpled);
        let p = if p >= 1e-3 || p == 0.0 {
            format!("{p:.3}")
        } else {
            format!("{p:.2e}")
        };
        vec![
            format!("both wheel {}", self.both_wheel),
            format!("both crumpled {}", self.both_crumpled),
            format!("only A crumpled {}", self.only_a_crumpled),
            format!("only B crumpled {}", self.only_b_crumpled),
            format!("A {}", crumple_summary(self.a_crumpled(), n)),
            format!("B {}", crumple_summary(self.b_crumpled(), n)),
            format!(
                "difference A − B {} points (95% CI {} to {}, Newcombe paired)",
                points(difference),
                points(low),
                points(high)
            ),
            format!("McNemar exact p {p}"),
        ]
    }
}

/// The median of `sorted` (ascending, not empty): the middle value, or the mean of the two
/// middle ones.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The two-sided exact McNemar test: under the null hypothesis each of the `b + c`
/// discordant pairs goes either way with probability ½, so
/// `p = min(1, 2·P[X ≤ min(b, c)])` with `X ~ Bin(b + c, ½)`; 1 when there is no discordant
/// pair.
///
/// Summed in logarithms (the binomial coefficients built up term by term), so that `b + c`
/// in the thousands neither overflows nor underflows before the end; a p-value below
/// `f64`'s smallest number comes out 0.
pub fn mcnemar_exact_p(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // ln C(n, i) for i = 0..=k; k ≤ n / 2, so the terms grow and the last is the largest.
    let mut ln_comb = Vec::with_capacity(k + 1);
    let mut current = 0.0f64;
    ln_comb.push(current);
    for i in 0..k {
        current += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        ln_comb.push(current);
    }
    let largest = current;
    let scaled: f64 = ln_comb.iter().map(|l| (l - largest).exp()).sum();
    let ln_tail = largest + scaled.ln() - n as f64 * std::f64::consts::LN_2;
    (std::f64::consts::LN_2 + ln_tail).exp().min(1.0)
}

/// The 95% interval for `pA − pB`, the rate of crumpling under A minus that under B, from a
/// paired table: Newcombe's hybrid score interval for paired data (Newcombe 1998, method 10:
/// R. G. Newcombe, "Improved confidence intervals for the difference between binomial
/// proportions based on paired data", Statistics in Medicine 17, 2635–2650).
///
/// With `a` = both crumpled, `b` = only A crumpled, `c` = only B crumpled, `d` = both wheel
/// and `n` seeds:
///
/// ```text
/// pA = (a + b) / n,  (lA, uA) = Wilson 95% interval of a + b of n
/// pB = (a + c) / n,  (lB, uB) = Wilson 95% interval of a + c of n
/// θ  = pA − pB
/// φ  = C / √((a + b)(c + d)(a + c)(b + d)),  0 when any of those margins is 0, where
///      C = ad − bc − n/2 when ad − bc > n/2,  0 when 0 ≤ ad − bc ≤ n/2,  ad − bc when < 0
/// L  = θ − √((pA − lA)² − 2φ(pA − lA)(uB − pB) + (uB − pB)²)
/// U  = θ + √((uA − pA)² − 2φ(uA − pA)(pB − lB) + (pB − lB)²)
/// ```
///
/// `C` is the paper's method 10 correlation: the plain phi coefficient `(ad − bc)/√…`
/// pulled towards 0 by `n/2` when it is positive. It is what reproduces the paper's worked
/// examples (Table II: 36, 12, 2, 0 gives 0.0569 to 0.3404; 18, 12, 2, 18 gives 0.0562 to
/// 0.3290; 53, 0, 0, 1 gives −0.0729 to 0.0729); the uncorrected phi does not, and it would
/// shrink the interval of a table with no discordant pair to the single point 0.
pub fn newcombe_paired_difference(table: &PairedTable) -> (f64, f64) {
    let n = table.total();
    if n == 0 {
        return (-1.0, 1.0);
    }
    let (a, b, c, d) = (
        table.both_crumpled as f64,
        table.only_a_crumpled as f64,
        table.only_b_crumpled as f64,
        table.both_wheel as f64,
    );
    let nf = n as f64;
    let p_a = (a + b) / nf;
    let p_b = (a + c) / nf;
    let (l_a, u_a) = wilson_interval(table.a_crumpled(), n);
    let (l_b, u_b) = wilson_interval(table.b_crumpled(), n);
    let margins = (a + b) * (c + d) * (a + c) * (b + d);
    let cross = a * d - b * c;
    let corrected = if cross > nf / 2.0 {
        cross - nf / 2.0
    } else if cross < 0.0 {
        cross
    } else {
        0.0
    };
    let phi = if margins == 0.0 {
        0.0
    } else {
        corrected / margins.sqrt()
    };
    let theta = p_a - p_b;
    let below = (p_a - l_a).powi(2) - 2.0 * phi * (p_a - l_a) * (u_b - p_b) + (u_b - p_b).powi(2);
    let above = (u_a - p_a).powi(2) - 2.0 * phi * (u_a - p_a) * (p_b - l_b) + (p_b - l_b).powi(2);
    (
        (theta - below.max(0.0).sqrt()).max(-1.0),
        (theta + above.max(0.0).sqrt()).min(1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a: usize, b: usize, c: usize, d: usize) -> PairedTable {
        PairedTable {
            both_crumpled: a,
            only_a_crumpled: b,
            only_b_crumpled: c,
            both_wheel: d,
        }
    }

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol * want.abs().max(1e-300),
            "got {got:e}, want {want:e}"
        );
    }

    #[test]
    fn the_table_counts_each_pairing() {
        let a = [true, true, false, false, true];
        let b = [true, false, true, false, false];
        assert_eq!(PairedTable::from_crumpled(&a, &b), table(1, 2, 1, 1));
        assert_eq!(table(1, 2, 1, 1).total(), 5);
        assert_eq!(table(1, 2, 1, 1).a_crumpled(), 3);
        assert_eq!(table(1, 2, 1, 1).b_crumpled(), 2);
    }

    /// Reference values computed exactly, independently of this code, with Python's
    /// rational arithmetic:
    /// `float(min(1, Fraction(sum(comb(b + c, i) for i in range(min(b, c) + 1)), 2**(b + c)) * 2))`
    /// (`from math import comb; from fractions import Fraction`).
    #[test]
    fn mcnemar_matches_exact_binomial_sums() {
        // ex-1.5's case: 2 seeds crumple only under A, 13 only under B: 2·1 + 2·15 + 2·105
        // = 242 of 2^15.
        close(mcnemar_exact_p(2, 13), 0.007_385_253_906_25, 1e-12);
        close(mcnemar_exact_p(13, 2), 0.007_385_253_906_25, 1e-12);
        close(mcnemar_exact_p(0, 10), 0.001_953_125, 1e-12);
        close(mcnemar_exact_p(1, 30), 2.980_232_238_769_531_2e-8, 1e-10);
        // Large: 2000 against 2096 of 4096 discordant pairs.
        close(mcnemar_exact_p(2000, 2096), 0.137_699_828_183_891_15, 1e-9);
        assert_eq!(mcnemar_exact_p(0, 0), 1.0);
        assert_eq!(mcnemar_exact_p(5, 5), 1.0);
        assert_eq!(mcnemar_exact_p(0, 1), 1.0);
        // 2^-4095 is below f64's range: 0, not NaN.
        assert_eq!(mcnemar_exact_p(0, 4096), 0.0);
    }

    /// Newcombe 1998's worked examples (Table II, method 10, as published), and further
    /// cases computed by an independent Python transcription of the formula above (with the
    /// same Wilson interval, z = 1.959963984540054).
    #[test]
    fn newcombe_matches_the_paper_and_an_independent_computation() {
        let check = |t: PairedTable, want: (f64, f64), tol: f64| {
            let (low, high) = newcombe_paired_difference(&t);
            assert!(
                (low - want.0).abs() < tol && (high - want.1).abs() < tol,
                "{t:?}: got ({low}, {high}), want {want:?}"
            );
        };
        // The paper, to its four decimals.
        check(table(36, 12, 2, 0), (0.0569, 0.3404), 5e-5);
        check(table(18, 12, 2, 18), (0.0562, 0.3290), 5e-5);
        check(table(53, 0, 0, 1), (-0.0729, 0.0729), 5e-5);
        // Python, to 1e-12.
        check(
            table(36, 12, 2, 0),
            (0.056_929_584_003_238_69, 0.340_427_602_974_940_7),
            1e-12,
        );
        check(
            table(18, 12, 2, 18),
            (0.056_171_843_988_253_12, 0.328_975_968_885_801_5),
            1e-12,
        );
        check(
            table(12, 9, 2, 21),
            (0.011_242_503_551_198_435, 0.295_371_780_646_609_24),
            1e-12,
        );
        check(
            table(1, 1, 7, 12),
            (-0.506_920_226_686_141, -0.025_559_124_164_859_837),
            1e-12,
        );
    }

    #[test]
    fn newcombe_is_symmetric_and_stays_in_range() {
        // Swapping A and B negates the interval.
        let (low, high) = newcombe_paired_difference(&table(12, 9, 2, 21));
        let (low_swapped, high_swapped) = newcombe_paired_difference(&table(12, 2, 9, 21));
        assert!((low + high_swapped).abs() < 1e-12 && (high + low_swapped).abs() < 1e-12);
        // Balanced discordant pairs: centred on 0 (Python: ±0.23965028266369437).
        let (low, high) = newcombe_paired_difference(&table(5, 3, 3, 9));
        assert!((low + 0.239_650_282_663_694_37).abs() < 1e-12, "{low}");
        assert!((high - 0.239_650_282_663_694_37).abs() < 1e-12, "{high}");
        // All wheels, or all crumpled: a margin is 0, phi 0; ±0.08762160119728664 (Python).
        for t in [table(0, 0, 0, 40), table(40, 0, 0, 0)] {
            let (low, high) = newcombe_paired_difference(&t);
            assert!(
                (low + 0.087_621_601_197_286_64).abs() < 1e-12,
                "{t:?} {low}"
            );
            assert!(
                (high - 0.087_621_601_197_286_64).abs() < 1e-12,
                "{t:?} {high}"
            );
        }
        // Every seed crumples under A only: the upper end is 1, not above.
        let (low, high) = newcombe_paired_difference(&table(0, 20, 0, 0));
        assert!((low - 0.772_134_616_242_194_4).abs() < 1e-12, "{low}");
        assert_eq!(high, 1.0);
        // No discordant pair but a perfect association: still an interval round 0
        // (Python: ±0.08975665937768).
        let (low, high) = newcombe_paired_difference(&table(10, 0, 0, 10));
        assert!(low < -0.089 && high > 0.089, "({low}, {high})");
        assert_eq!(newcombe_paired_difference(&table(0, 0, 0, 0)), (-1.0, 1.0));
    }
}
