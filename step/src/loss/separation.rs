//! `reg-separate`: mean inverse squared distance between every pair of latents in dims 0
//! and 1, which pushes close points apart.
//!
//! The reference averages over all B² entries *including* the diagonal, whose terms are the
//! constant 1/ε (no gradient) and add 1e6/B to the reported value. We leave the diagonal out
//! of the sum but keep the B² denominator: same gradient, a loss that reads as it should.

use super::{HostBatch, HostGradient};

/// Keeps 1/d² finite for coincident points.
pub const EPSILON: f64 = 1e-6;

/// Each pair appears as (a, b) and (b, a); each contributes −2·Δ/(d² + ε)² to point a.
pub(super) fn evaluate(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
    let scale = 1.0 / (b.batch * b.batch) as f64;
    let mut sum = 0.0f64;
    for a in 0..b.batch {
        let (pa, mut gx, mut gy) = (b.latent(a), 0.0f64, 0.0f64);
        for other in (0..b.batch).filter(|&o| o != a) {
            let pb = b.latent(other);
            let (dx, dy) = (pa[0] - pb[0], pa[1] - pb[1]);
            let inverse = 1.0 / (dx * dx + dy * dy + EPSILON as f32);
            sum += inverse as f64;
            let pull = (inverse * inverse) as f64;
            gx += pull * dx as f64;
            gy += pull * dy as f64;
        }
        if let Some(g) = gradient.as_deref_mut() {
            let k = weight as f64 * -4.0 * scale;
            g.latents[a * b.dims] += (k * gx) as f32;
            g.latents[a * b.dims + 1] += (k * gy) as f32;
        }
    }
    sum * scale
}
