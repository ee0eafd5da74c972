//! `reg-planar`: mean square of every latent dimension after the first two, which flattens
//! the latent space onto dims 0 and 1.

use super::{HostBatch, HostGradient};

/// d(z²)/dz = 2z. `cargo xtask test` also builds with the `mutant-planarity-gradient` feature,
/// which makes it 2.2z, and checks that the tests fail.
const SLOPE: f64 = if cfg!(feature = "mutant-planarity-gradient") {
    2.2
} else {
    2.0
};

// Not in any build but the mutation check's (`--all-features` would otherwise train wrong).
#[cfg(feature = "mutant-planarity-gradient")]
const _: () = assert!(
    option_env!("COLOR_BOTTLENECK_MUTATION_CHECK").is_some(),
    "the mutant-planarity-gradient feature breaks a gradient on purpose: only the mutation \
     check of `cargo xtask test` builds with it"
);

/// d/d z_d = 2 z_d / (B (E − 2)) for d ≥ 2. Called only with more than two dims.
pub(super) fn evaluate(b: &HostBatch, weight: f32, mut gradient: Option<&mut HostGradient>) -> f64 {
    let scale = 1.0 / (b.batch * (b.dims - 2)) as f64;
    let slope = weight * (SLOPE * scale) as f32;
    let mut sum = 0.0f64;
    for row in 0..b.batch {
        for d in 2..b.dims {
            let at = row * b.dims + d;
            let v = b.latents[at];
            sum += (v * v) as f64;
            if let Some(g) = gradient.as_deref_mut() {
                g.latents[at] += slope * v;
            }
        }
    }
    sum * scale
}
