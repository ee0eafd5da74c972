//! Colour data: the HSV and RGB cubes, their sampling bias, vibrancy, the `levels` filter
//! that turns `data-fraction` into sampler weights, and the probabilities the sampler
//! ([`crate::sampler`]) draws with.
//!
//! Everything is f64 and numpy-exact (checked against the golden cubes); the trainer
//! rounds to f32 only when it builds tensors.

use crate::sampler::effective_weights;

/// `numpy.arange(lower, upper, step)` wrapped into `[0, period)`, with the reference's
/// defaults (upper = lower + period, exclusive).
pub fn arange_cyclic(lower: f64, step: f64, period: f64) -> Vec<f64> {
    let lower = lower.rem_euclid(period);
    let upper = lower + period;
    let count = ((upper - lower) / step).ceil() as usize;
    (0..count)
        .map(|i| (lower + i as f64 * step).rem_euclid(period))
        .collect()
}

/// `numpy.linspace(start, stop, n)`: element i is `i·(Δ/(n−1)) + start`, last one exact.
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![start],
        _ => {
            let step = (stop - start) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
            v[n - 1] = stop;
            v
        }
    }
}

/// HSV → RGB as scikit-image computes it (all components in [0, 1]).
pub fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [f64; 3] {
    let hi = (h * 6.0).floor();
    let f = h * 6.0 - hi;
    let p = v * (1.0 - s);
    let q = v * (1.0 - f * s);
    let t = v * (1.0 - (1.0 - f) * s);
    match (hi as i64).rem_euclid(6) {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// A grid of colours with a sampling bias per point, flattened row-major (first axis
/// slowest).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorCube {
    /// Grid shape, e.g. [hue, sat, val].
    pub shape: [usize; 3],
    pub rgb: Vec<[f64; 3]>,
    pub bias: Vec<f64>,
    /// S·V per point for HSV cubes; `None` for RGB cubes.
    pub vibrancy: Option<Vec<f64>>,
}

impl ColorCube {
    pub fn from_hsv(h: &[f64], s: &[f64], v: &[f64]) -> Self {
        let n_h = h.len().max(1) as f64;
        let n_s = s.len().max(1) as f64;
        let w_black = 1.0 / (n_s * n_h);
        let w_white = 1.0 / n_h;
        let mut rgb = Vec::with_capacity(h.len() * s.len() * v.len());
        let mut bias = Vec::with_capacity(rgb.capacity());
        let mut vibrancy = Vec::with_capacity(rgb.capacity());
        for &hh in h {
            for &ss in s {
                for &vv in v {
                    rgb.push(hsv_to_rgb(hh, ss, vv));
                    // Duplicates of one colour (every hue of black, of each grey) share a
                    // total weight comparable to one vibrant colour.
                    bias.push(w_black * (1.0 - vv) + w_white * (1.0 - ss) * vv + 1.0 * ss * vv);
                    vibrancy.push(ss * vv);
                }
            }
        }
        ColorCube {
            shape: [h.len(), s.len(), v.len()],
            rgb,
            bias,
            vibrancy: Some(vibrancy),
        }
    }

    pub fn from_rgb(r: &[f64], g: &[f64], b: &[f64]) -> Self {
        let rgb: Vec<[f64; 3]> = r
            .iter()
            .flat_map(|&rr| {
                g.iter()
                    .flat_map(move |&gg| b.iter().map(move |&bb| [rr, gg, bb]))
            })
            .collect();
        let bias = vec![1.0; rgb.len()];
        ColorCube {
            shape: [r.len(), g.len(), b.len()],
            rgb,
            bias,
            vibrancy: None,
        }
    }

    pub fn len(&self) -> usize {
        self.rgb.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rgb.is_empty()
    }

    /// Flat f32 RGB triples, the form tensors are built from.
    pub fn rgb_f32(&self) -> Vec<f32> {
        self.rgb.iter().flatten().map(|&c| c as f32).collect()
    }

    /// The 6 primaries and secondaries, in hue order: R, Y, G, C, B, M.
    pub fn primaries() -> Self {
        Self::from_hsv(&arange_cyclic(0.0, 1.0 / 6.0, 1.0), &[1.0], &[1.0])
    }

    /// 36 hues × 10 saturations × 10 values: the training colours after phase 1.
    pub fn full() -> Self {
        let ramp = linspace(0.0, 1.0, 10);
        Self::from_hsv(&arange_cyclic(0.0, 10.0 / 360.0, 1.0), &ramp, &ramp)
    }

    /// The 10×10×10 RGB grid used for validation and drawing.
    pub fn rgb_grid() -> Self {
        let ramp = linspace(0.0, 1.0, 10);
        Self::from_rgb(&ramp, &ramp, &ramp)
    }

    /// `n` pure hues (s = v = 1), evenly spaced from red.
    pub fn hues(n: usize) -> Self {
        Self::from_hsv(&arange_cyclic(0.0, 1.0 / n as f64, 1.0), &[1.0], &[1.0])
    }
}

/// `r,g,b,z0..z{E-1},out_r,out_g,out_b`, a row per colour: the CLI's `latents.csv` and the
/// page's latents export. `latents` and `outputs` are row-major, a row per colour.
pub fn latents_csv(cube: &ColorCube, latents: &[f32], outputs: &[f32], dims: usize) -> String {
    let z: Vec<String> = (0..dims).map(|i| format!("z{i}")).collect();
    let mut out = format!("r,g,b,{},out_r,out_g,out_b\n", z.join(","));
    for (i, rgb) in cube.rgb.iter().enumerate() {
        let z = &latents[i * dims..(i + 1) * dims];
        let o = &outputs[i * 3..i * 3 + 3];
        let fields: Vec<String> = rgb
            .iter()
            .map(|c| (*c as f32).to_string())
            .chain(z.iter().chain(o).map(|v| v.to_string()))
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// `numpy.interp` for a single two-point segment, clamped outside it.
pub fn interp(x: f64, xp: [f64; 2], fp: [f64; 2]) -> f64 {
    if x <= xp[0] {
        fp[0]
    } else if x >= xp[1] {
        fp[1]
    } else {
        let slope = (fp[1] - fp[0]) / (xp[1] - xp[0]);
        slope * (x - xp[0]) + fp[0]
    }
}

/// Photoshop-style levels without gamma: maps [in_low, in_high] onto [out_low, out_high].
pub fn levels(x: &[f64], in_low: f64, in_high: f64, out_low: f64, out_high: f64) -> Vec<f64> {
    if (in_low - in_high).abs() < 1e-10 {
        return vec![(out_low + out_high) / 2.0; x.len()];
    }
    x.iter()
        .map(|&v| {
            let alpha = ((v - in_low) / (in_high - in_low)).clamp(0.0, 1.0);
            out_low + alpha * (out_high - out_low)
        })
        .collect()
}

/// `(in_low, out_low)` of the levels filter for a `data-fraction`: 0 keeps only the pure
/// hues, 0.5 weights by vibrancy, 1 weights every colour equally.
pub fn data_fraction_levels(fraction: f64) -> (f64, f64) {
    (
        interp(fraction, [0.0, 0.5], [0.99, 0.0]),
        interp(fraction, [0.5, 1.0], [0.0, 1.0]),
    )
}

/// Sampler weights for a cube's vibrancy at a given `data-fraction`.
pub fn data_fraction_weights(vibrancy: &[f64], fraction: f64) -> Vec<f64> {
    let (in_low, out_low) = data_fraction_levels(fraction);
    levels(vibrancy, in_low, 1.0, out_low, 1.0)
}

/// Normalised max(weights·bias, 0), or `None` when the total is ≤ 1e-9.
pub fn effective_probabilities(bias: &[f64], weights: &[f64]) -> Option<Vec<f64>> {
    probabilities(bias, weights).map(Iterator::collect)
}

fn probabilities<'a>(
    bias: &'a [f64],
    weights: &'a [f64],
) -> Option<impl Iterator<Item = f64> + 'a> {
    effective_weights(bias, weights).map(|(w, total)| w.map(move |v| v / total))
}
