//! `reg-norm`: mean squared difference between each latent's length and 1, which pulls the
//! latents onto the unit sphere.

use super::{HostBatch, HostGradient};

/// d/d z = 2 (|z| − 1) z / (|z| B); a latent at the origin has no direction to be pulled in.
pub(super) fn evaluate(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
    let scale = 1.0 / b.batch as f64;
    let mut sum = 0.0f64;
    for row in 0..b.batch {
        let z = b.latent(row);
        let length = z.iter().map(|v| v * v).sum::<f32>().sqrt();
        let excess = length - 1.0;
        sum += (excess * excess) as f64;
        if let Some(g) = gradient.as_deref_mut().filter(|_| length > 0.0) {
            let k = weight * (2.0 * scale) as f32 * excess / length;
            for (gd, zd) in g.latents[row * b.dims..(row + 1) * b.dims]
                .iter_mut()
                .zip(z)
            {
                *gd += k * zd;
            }
        }
    }
    sum * scale
}
