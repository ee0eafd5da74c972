//! `reg-separate`: mean inverse squared distance between every pair of latents in dims 0
//! and 1, which pushes close points apart.
//!
//! The reference averages over all B² entries *including* the diagonal, whose terms are the
//! constant 1/ε (no gradient) and add 1e6/B to the reported value. We leave the diagonal out
//! of the sum but keep the B² denominator: same gradient, a loss that reads as it should.

use burn::prelude::*;

use super::fused::{HostBatch, HostGradient};

/// Keeps 1/d² finite for coincident points.
pub const EPSILON: f64 = 1e-6;

pub fn tensor(latents: Tensor<2>) -> Tensor<1> {
    let [batch, _] = latents.dims();
    let points = latents.narrow(1, 0, 2);
    let diffs = points.clone().unsqueeze_dim::<3>(1) - points.unsqueeze_dim::<3>(0);
    let sq_dists: Tensor<2> = diffs.square().sum_dim(2).squeeze_dim(2);
    let off_diagonal = Tensor::<2>::eye(batch, &sq_dists.device()).neg() + 1.0;
    ((sq_dists + EPSILON).recip() * off_diagonal).mean()
}

/// Each pair appears as (a, b) and (b, a); each contributes −2·Δ/(d² + ε)² to point a.
pub(super) fn host(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
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
