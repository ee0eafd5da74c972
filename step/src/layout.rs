//! The model's shape, one definition for every engine: RGB (3) → 16 → E (the bottleneck) →
//! 16 → RGB (3), GELU after the first and third layers, a sigmoid on the output. Parameters
//! sit in one flat layout, layer by layer, the `[inputs, outputs]` weight (row-major) then the
//! bias; a run's state is the parameters then Adam's two moments.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const HIDDEN: usize = 16;

/// `(inputs, outputs)` of the four layers, encoder first.
pub fn layer_shapes(latent_dims: usize) -> [(usize, usize); 4] {
    [
        (3, HIDDEN),
        (HIDDEN, latent_dims),
        (latent_dims, HIDDEN),
        (HIDDEN, 3),
    ]
}

/// Weights and biases in all ([`layer_shapes`]' weights and biases): 263 for a 4-D
/// bottleneck. A `const fn`, so the GPU kernel sizes its layout from it too.
pub const fn parameter_count(latent_dims: usize) -> usize {
    let e = latent_dims;
    (3 * HIDDEN + HIDDEN) + (HIDDEN * e + e) + (e * HIDDEN + HIDDEN) + (HIDDEN * 3 + 3)
}

/// A fresh model's parameters in the flat layout (layer by layer, the `[inputs, outputs]`
/// weight then the bias). Each is drawn from U(−1/√fan_in, 1/√fan_in), PyTorch's default for
/// `nn.Linear`, from a seeded generator on the host, so a seed gives the same model on every
/// backend and in every engine.
pub fn initial_parameters(latent_dims: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(parameter_count(latent_dims));
    for (inputs, outputs) in layer_shapes(latent_dims) {
        let bound = 1.0 / (inputs as f32).sqrt();
        for _ in 0..inputs * outputs + outputs {
            values.push(rng.random_range(-bound..bound));
        }
    }
    values
}

/// A step's losses as they travel in one buffer: the total, then each term in
/// [`Term::ALL`](super::loss::Term::ALL)'s order.
pub const LOSS_VALUES: usize = 1 + super::loss::Term::COUNT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_count_is_the_layers_weights_and_biases() {
        for dims in [2, 3, 4, 7, 64] {
            let layers: usize = layer_shapes(dims).iter().map(|(i, o)| i * o + o).sum();
            assert_eq!(parameter_count(dims), layers, "E = {dims}");
        }
        assert_eq!(parameter_count(4), 263);
    }
}
