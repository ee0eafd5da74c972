//! `reg-anchor`: mean squared distance of the anchor colours' latents from where they were
//! when the `anchor` action recorded them, which holds the primaries in place while the rest
//! of the colours move in.

use super::{HostBatch, HostGradient};

/// The anchor colours' rows follow the batch's; d/d z = 2 (z − reference) / (rows · E).
pub(super) fn evaluate(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
    let scale = 1.0 / b.anchor.len() as f64;
    let slope = weight * (2.0 * scale) as f32;
    let mut sum = 0.0f64;
    for (i, &r) in b.anchor.iter().enumerate() {
        let at = b.batch * b.dims + i;
        let d = b.latents[at] - r;
        sum += (d * d) as f64;
        if let Some(g) = gradient.as_deref_mut() {
            g.latents[at] += slope * d;
        }
    }
    sum * scale
}
