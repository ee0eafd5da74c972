//! `loss-recon`: mean squared error between the reconstruction and the input.

use super::{HostBatch, HostGradient};

/// d/d output = 2 (output − input) / (3B).
pub(super) fn evaluate(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
    let scale = 1.0 / (3 * b.batch) as f64;
    let slope = weight * (2.0 * scale) as f32;
    let mut sum = 0.0f64;
    for (i, (&o, &x)) in b.outputs[..b.batch * 3].iter().zip(b.input).enumerate() {
        let d = o - x;
        sum += (d * d) as f64;
        if let Some(g) = gradient.as_deref_mut() {
            g.outputs[i] += slope * d;
        }
    }
    sum * scale
}
