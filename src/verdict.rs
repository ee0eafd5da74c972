//! Whether a run learnt a colour wheel: the one definition the tests, the CLI's `sweep` and
//! the page share.
//!
//! A run is a **wheel** when, in latent dims (0, 1), going round the hues in hue order goes
//! round the origin once, always the same way (either way): first for the six primaries and
//! secondaries (R, Y, G, C, B, M), then for 36 pure hues 10° apart. Anything else is
//! **crumpled**: some hues sit out of order. Beside the verdict, two figures say how good the
//! wheel is: the worst gap error (how far the widest or narrowest gap between neighbouring
//! primaries is from the even 60°) and the reconstruction error on the 10×10×10 RGB grid.
//!
//! It needs only latents and reconstructions on the host, so it is cheap enough to update
//! live.

use crate::data::ColorCube;

/// Pure hues in the finer check.
pub const HUES: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Shape {
    Wheel,
    Crumpled,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Wheel => "wheel",
            Shape::Crumpled => "crumpled",
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub shape: Shape,
    /// Angles (degrees, in (−180, 180]) of R, Y, G, C, B, M in dims (0, 1).
    pub primary_angles: [f64; 6],
    /// max |gap − 60°| between neighbouring primaries, going the wheel's way (degrees);
    /// `None` when the primaries are out of order.
    pub worst_gap_error: Option<f64>,
    /// Mean squared reconstruction error over the RGB grid's 3,000 channels.
    pub recon_mse: f64,
}

/// The colours a verdict looks at, in one batch: the six primaries, then [`HUES`] hues, then
/// the RGB grid. Run them through the model and hand the outputs to [`Verdict::judge`].
pub fn probe_colors() -> ColorCube {
    let mut rgb = ColorCube::primaries().rgb;
    rgb.extend(ColorCube::hues(HUES).rgb);
    rgb.extend(ColorCube::rgb_grid().rgb);
    ColorCube {
        shape: [rgb.len(), 1, 1],
        rgb,
        bias: Vec::new(),
        vibrancy: None,
    }
}

/// The colours a verdict's shape is judged on: the head of [`probe_colors`] (the six
/// primaries, then [`HUES`] hues), for judging often and cheaply while a run trains.
pub fn shape_probe() -> Vec<f32> {
    let mut rgb = ColorCube::primaries().rgb_f32();
    rgb.extend(ColorCube::hues(HUES).rgb_f32());
    rgb
}

impl Shape {
    /// From the model's `latents` (`[rows, dims]`) of [`shape_probe`] (or of
    /// [`probe_colors`], whose head it is).
    pub fn of(latents: &[f32], dims: usize) -> Shape {
        let angle = |row: usize| angle_of(latents, dims, row);
        let primaries: Vec<f64> = (0..6).map(angle).collect();
        let hues: Vec<f64> = (6..6 + HUES).map(angle).collect();
        match (gaps_in_order(&primaries), gaps_in_order(&hues)) {
            (Some((a, _)), Some((b, _))) if a == b => Shape::Wheel,
            _ => Shape::Crumpled,
        }
    }
}

/// The order a finished sweep shows its runs in: the crumpled (and failed) first, then the
/// wheels, each group by where its verdict settled (earliest first), then by run; runs not
/// judged come last. `runs[r]` is run r's `(crumpled, onset)`, or `None` before a verdict.
/// (A comparison flags its discordant pairs as crumpled, to show them first.)
pub fn display_order(runs: &[Option<(bool, Option<u64>)>]) -> Vec<usize> {
    let key = |r: usize| match runs[r] {
        Some((crumpled, onset)) => (0, !crumpled, onset.unwrap_or(u64::MAX)),
        None => (1, true, u64::MAX),
    };
    crate::order::order_by(runs.len(), &|a, b| key(a).cmp(&key(b)))
}

/// Where a run's verdict settled: the first judged step from which its shape stayed what it
/// is now. Judged every [`Onset::EVERY`] steps while a sweep trains, and at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Onset {
    settled: Option<(Shape, u64)>,
}

impl Onset {
    /// Steps between judgements while training.
    pub const EVERY: u64 = 250;

    /// The shape the weights at the start of `step` give.
    pub fn observe(&mut self, step: u64, shape: Shape) {
        if self.settled.map(|(s, _)| s) != Some(shape) {
            self.settled = Some((shape, step));
        }
    }

    /// The step from which the latest shape held; `None` before any judgement.
    pub fn step(&self) -> Option<u64> {
        self.settled.map(|(_, step)| step)
    }

    /// The shape judged last and the step from which it has held.
    pub fn settled(&self) -> Option<(Shape, u64)> {
        self.settled
    }
}

impl Verdict {
    /// From the model's `latents` (`[rows, dims]`) and reconstructions (`[rows, 3]`) of
    /// [`probe_colors`].
    pub fn judge(latents: &[f32], outputs: &[f32], dims: usize) -> Verdict {
        let angle = |row: usize| angle_of(latents, dims, row);
        let primary_angles: [f64; 6] = std::array::from_fn(angle);
        let worst_gap_error = gaps_in_order(&primary_angles)
            .as_ref()
            .map(|(_, gaps)| gaps.iter().map(|g| (g - 60.0).abs()).fold(0.0, f64::max));
        let grid = ColorCube::rgb_grid().rgb;
        let first = (6 + HUES) * 3;
        let recon_mse = grid
            .iter()
            .flatten()
            .zip(&outputs[first..])
            .map(|(e, o)| (*o as f64 - e).powi(2))
            .sum::<f64>()
            / (grid.len() * 3) as f64;
        Verdict {
            shape: Shape::of(latents, dims),
            primary_angles,
            worst_gap_error,
            recon_mse,
        }
    }
}

/// Row `row`'s angle (degrees, in (−180, 180]) in dims (0, 1).
fn angle_of(latents: &[f32], dims: usize, row: usize) -> f64 {
    let z = &latents[row * dims..row * dims + 2];
    (z[1] as f64).atan2(z[0] as f64).to_degrees()
}

/// The gaps (degrees) between neighbours going round `angles` in order, and which way round
/// (+1 counter-clockwise, −1 clockwise), when they go round the origin exactly once that way.
fn gaps_in_order(angles: &[f64]) -> Option<(i8, Vec<f64>)> {
    let n = angles.len();
    [1i8, -1].into_iter().find_map(|way| {
        let gaps: Vec<f64> = (0..n)
            .map(|i| (way as f64 * (angles[(i + 1) % n] - angles[i])).rem_euclid(360.0))
            .collect();
        let once_round = (gaps.iter().sum::<f64>() - 360.0).abs() < 1e-6;
        let all_forward = gaps.iter().all(|g| *g > 0.0);
        (once_round && all_forward).then_some((way, gaps))
    })
}

/// The Wilson score interval for `k` of `n` at 95%: `(low, high)` as fractions.
pub fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * ((p * (1.0 - p) + Z * Z / (4.0 * n)) / n).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_finished_sweep_shows_crumples_first_then_by_onset() {
        let runs = [
            Some((false, Some(750))),
            Some((true, Some(2000))),
            None,
            Some((false, Some(250))),
            Some((true, Some(500))),
            Some((true, None)),
        ];
        assert_eq!(display_order(&runs), [4, 1, 5, 3, 0, 2]);
    }

    use super::*;

    /// Latents on a circle at the given angle per probe row (the grid rows at the origin), and
    /// perfect reconstructions.
    fn probe(angle_of: impl Fn(usize, f64) -> f64) -> (Vec<f32>, Vec<f32>) {
        let colours = probe_colors();
        let mut latents = Vec::new();
        for row in 0..colours.len() {
            let hue = if row < 6 {
                row as f64 * 60.0
            } else if row < 6 + HUES {
                (row - 6) as f64 * 10.0
            } else {
                0.0
            };
            let a = angle_of(row, hue).to_radians();
            latents.extend([a.cos() as f32, a.sin() as f32, 0.0, 0.0]);
        }
        let outputs = colours.rgb_f32();
        (latents, outputs)
    }

    #[test]
    fn an_even_wheel_either_way_round() {
        for way in [1.0, -1.0] {
            let (z, o) = probe(|_, hue| way * hue + 17.0);
            let v = Verdict::judge(&z, &o, 4);
            assert_eq!(v.shape, Shape::Wheel);
            assert!(v.worst_gap_error.unwrap() < 1e-4);
            assert!(v.recon_mse < 1e-12);
        }
    }

    #[test]
    fn swapped_primaries_crumple() {
        let (z, o) = probe(|row, hue| match row {
            1 => 120.0,
            2 => 60.0,
            _ => hue,
        });
        let v = Verdict::judge(&z, &o, 4);
        assert_eq!(v.shape, Shape::Crumpled);
        assert_eq!(v.worst_gap_error, None);
    }

    #[test]
    fn hues_out_of_order_crumple_even_with_ordered_primaries() {
        let (z, o) = probe(|row, hue| if row == 6 + 4 { 5.0 } else { hue });
        let v = Verdict::judge(&z, &o, 4);
        assert_eq!(v.shape, Shape::Crumpled);
        assert!(v.worst_gap_error.is_some());
    }

    #[test]
    fn uneven_gaps_are_measured() {
        let (z, o) = probe(|row, hue| if row == 1 { 70.0 } else { hue });
        let v = Verdict::judge(&z, &o, 4);
        assert_eq!(v.shape, Shape::Wheel);
        assert!((v.worst_gap_error.unwrap() - 10.0).abs() < 1e-4);
    }

    #[test]
    fn wilson_matches_the_textbook() {
        // 9 of 64: 14.1%, 95% interval 7.58% to 24.62%.
        let (low, high) = wilson_interval(9, 64);
        assert!((low - 0.0758).abs() < 2e-4, "{low}");
        assert!((high - 0.2462).abs() < 2e-4, "{high}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    /// A run judged a wheel from step 250, crumpled at 1,000, a wheel again from 1,500 to the
    /// end: its onset is 1,500, where the final verdict took hold.
    #[test]
    fn onset_is_where_the_final_verdict_took_hold() {
        let mut onset = Onset::default();
        assert_eq!(onset.step(), None);
        let shapes = [
            (250, Shape::Wheel),
            (500, Shape::Wheel),
            (1_000, Shape::Crumpled),
        ];
        for (step, shape) in shapes {
            onset.observe(step, shape);
        }
        assert_eq!(onset.step(), Some(1_000));
        for step in [1_500, 1_750, 2_001] {
            onset.observe(step, Shape::Wheel);
        }
        assert_eq!(onset.step(), Some(1_500));
    }

    /// The cheap shape judgement on the head of the probe is the full verdict's shape.
    #[test]
    fn the_shape_probe_is_the_head_of_the_probe() {
        let head = shape_probe();
        let all = probe_colors().rgb_f32();
        assert_eq!(head[..], all[..head.len()]);
        assert_eq!(head.len(), (6 + HUES) * 3);
    }
}
