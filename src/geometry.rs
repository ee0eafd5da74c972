//! The latent geometry of the hue circle, as the superposition literature draws it: one
//! definition of each figure, for the CLI's outputs (and any view that shows them).
//!
//! All three look at the latents of [`HUES`](crate::verdict::HUES) pure hues, in hue order
//! ([`ColorCube::hues`](crate::data::ColorCube::hues)):
//! - the **cosine-similarity matrix** of the hues' latents: a wheel gives a smooth circulant
//!   band (each hue as alike to its k-th neighbour as every other hue is to its own); a
//!   crumple breaks the band. [`Geometry::circulant_error`] says by how much.
//! - the **participation ratio** of the latents' covariance, (Σλ)² / Σλ², the effective number
//!   of dimensions they spread over: 2 for a flat circle, E for a round cloud.
//! - the **winding number** of the hue circle round the origin in dims (0, 1): ±1 for a wheel
//!   (the sign says which way round), 0 for a circle folded back on itself.

/// The three figures for one set of hue latents.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// `n × n`, row-major: the cosine similarity of hue i's latent and hue j's.
    pub cosine: Vec<f64>,
    pub participation_ratio: f64,
    pub winding: i32,
}

impl Geometry {
    /// From the latents (`[n, dims]`, row-major) of `n` hues in hue order.
    pub fn of_hues(latents: &[f32], dims: usize) -> Geometry {
        let n = latents.len() / dims;
        let row = |i: usize| -> Vec<f64> {
            latents[i * dims..(i + 1) * dims]
                .iter()
                .map(|&v| v as f64)
                .collect()
        };
        let rows: Vec<Vec<f64>> = (0..n).map(row).collect();
        let norms: Vec<f64> = (rows.iter())
            .map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt())
            .collect();
        let mut cosine = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
                let scale = norms[i] * norms[j];
                cosine[i * n + j] = if scale > 0.0 { dot / scale } else { 0.0 };
            }
        }
        Geometry {
            cosine,
            participation_ratio: participation_ratio(&rows),
            winding: winding_number(&rows),
        }
    }

    /// Hues in the matrix.
    pub fn hues(&self) -> usize {
        (self.cosine.len() as f64).sqrt().round() as usize
    }

    /// The mean |cos(i, j) − the mean of cos at the same hue offset|: 0 for a perfect band,
    /// larger the more the band is broken.
    pub fn circulant_error(&self) -> f64 {
        let n = self.hues();
        if n == 0 {
            return 0.0;
        }
        let at = |i: usize, k: usize| self.cosine[i * n + (i + k) % n];
        let band: Vec<f64> = (0..n)
            .map(|k| (0..n).map(|i| at(i, k)).sum::<f64>() / n as f64)
            .collect();
        let error: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |k| (i, k)))
            .map(|(i, k)| (at(i, k) - band[k]).abs())
            .sum();
        error / (n * n) as f64
    }
}

/// (Σλ)² / Σλ² over the eigenvalues λ of the rows' covariance, computed as trace(C)² / ‖C‖²
/// (no eigendecomposition needed). 0 when the rows do not spread at all.
fn participation_ratio(rows: &[Vec<f64>]) -> f64 {
    let n = rows.len();
    let Some(dims) = rows.first().map(Vec::len) else {
        return 0.0;
    };
    let mean: Vec<f64> = (0..dims)
        .map(|d| rows.iter().map(|r| r[d]).sum::<f64>() / n as f64)
        .collect();
    let mut covariance = vec![0.0; dims * dims];
    for r in rows {
        for a in 0..dims {
            for b in 0..dims {
                covariance[a * dims + b] += (r[a] - mean[a]) * (r[b] - mean[b]) / n as f64;
            }
        }
    }
    let trace: f64 = (0..dims).map(|d| covariance[d * dims + d]).sum();
    let squares: f64 = covariance.iter().map(|c| c * c).sum();
    if squares > 0.0 {
        trace * trace / squares
    } else {
        0.0
    }
}

/// How many times the closed path through the rows' dims (0, 1), in order, goes round the
/// origin: each step's turn taken the short way (in (−180°, 180°]), summed, over 360°.
fn winding_number(rows: &[Vec<f64>]) -> i32 {
    let n = rows.len();
    let angle = |i: usize| rows[i][1].atan2(rows[i][0]);
    let turn: f64 = (0..n)
        .map(|i| {
            let d = angle((i + 1) % n) - angle(i);
            d - std::f64::consts::TAU * (d / std::f64::consts::TAU).round()
        })
        .sum();
    (turn / std::f64::consts::TAU).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 36 hues at the given angles (degrees) in dims (0, 1) of a 4-D latent, radius 1.
    fn circle(angles: impl Iterator<Item = f64>) -> Vec<f32> {
        angles
            .flat_map(|a| {
                let r = a.to_radians();
                [r.cos() as f32, r.sin() as f32, 0.0, 0.0]
            })
            .collect()
    }

    #[test]
    fn a_perfect_wheel_is_a_circulant_band_of_two_dims_that_winds_once() {
        let g = Geometry::of_hues(&circle((0..36).map(|k| 10.0 * k as f64)), 4);
        assert_eq!(g.hues(), 36);
        assert!(g.circulant_error() < 1e-6, "{}", g.circulant_error());
        assert!((g.participation_ratio - 2.0).abs() < 1e-6);
        assert_eq!(g.winding, 1);
        // cos of a 90° offset is 0, of 180° is −1.
        assert!(g.cosine[9].abs() < 1e-6 && (g.cosine[18] + 1.0).abs() < 1e-6);
        let reversed = Geometry::of_hues(&circle((0..36).map(|k| -10.0 * k as f64)), 4);
        assert_eq!(reversed.winding, -1);
    }

    /// Half the hues go round, the other half come back over them: a crumple.
    #[test]
    fn a_folded_circle_breaks_the_band_and_does_not_wind() {
        let folded = (0..36).map(|k| {
            if k < 18 {
                10.0 * k as f64
            } else {
                10.0 * (36 - k) as f64
            }
        });
        let g = Geometry::of_hues(&circle(folded), 4);
        assert_eq!(g.winding, 0);
        assert!(g.circulant_error() > 0.1, "{}", g.circulant_error());
    }

    /// A round cloud over all four dims spreads over four.
    #[test]
    fn points_spread_over_every_dim_have_a_participation_ratio_of_e() {
        let corners: Vec<f32> = (0..16)
            .flat_map(|i| (0..4).map(move |d| if i >> d & 1 == 1 { 1.0 } else { -1.0 }))
            .collect();
        let g = Geometry::of_hues(&corners, 4);
        assert!((g.participation_ratio - 4.0).abs() < 1e-9);
        let still = Geometry::of_hues(&[0.5f32; 36 * 4], 4);
        assert_eq!(still.participation_ratio, 0.0);
    }
}
