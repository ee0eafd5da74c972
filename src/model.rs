//! The autoencoder: RGB (3) → 16 → E (the bottleneck) → 16 → RGB (3).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::{gelu, sigmoid};

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

#[derive(Module, Debug)]
pub struct ColorMlp {
    encode_hidden: Linear,
    encode_latent: Linear,
    decode_hidden: Linear,
    decode_rgb: Linear,
    /// Project latents onto the unit sphere before decoding (off in ex-1.5).
    normalize: bool,
}

impl ColorMlp {
    /// A freshly initialised model: [`initial_parameters`] on `device`.
    pub fn new(latent_dims: usize, normalize: bool, seed: u64, device: &Device) -> Self {
        let values = initial_parameters(latent_dims, seed);
        Self::from_parameters(&values, latent_dims, normalize, device)
            .expect("initial_parameters has the model's shape")
    }

    /// Every weight and bias in one flat tensor (layer by layer, weight then bias), the form
    /// [`ColorMlp::from_parameters`] takes back. For moving a model between devices.
    pub fn parameters_flat(&self) -> Tensor<1> {
        let parts = self
            .layers()
            .iter()
            .flat_map(|l| {
                let w = l.weight.val();
                let n = w.dims()[0] * w.dims()[1];
                [
                    w.reshape([n]),
                    l.bias.as_ref().expect("layers have biases").val(),
                ]
            })
            .collect();
        Tensor::cat(parts, 0)
    }

    /// Rebuilds a model from [`ColorMlp::parameters_flat`]'s values.
    pub fn from_parameters(
        values: &[f32],
        latent_dims: usize,
        normalize: bool,
        device: &Device,
    ) -> Option<Self> {
        let shapes = layer_shapes(latent_dims);
        if values.len() != parameter_count(latent_dims) {
            return None;
        }
        let mut rest = values;
        let mut linear = |(d_input, d_output): (usize, usize)| {
            let (w, r) = rest.split_at(d_input * d_output);
            let (b, r) = r.split_at(d_output);
            rest = r;
            Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(w.to_vec(), [d_input, d_output]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(b.to_vec(), [d_output]),
                    device,
                ))),
            }
        };
        Some(ColorMlp {
            encode_hidden: linear(shapes[0]),
            encode_latent: linear(shapes[1]),
            decode_hidden: linear(shapes[2]),
            decode_rgb: linear(shapes[3]),
            normalize,
        })
    }

    /// A model whose parameters are slices of `flat` ([`ColorMlp::parameters_flat`]'s
    /// layout, on the device's inner backend), each a fresh leaf that records gradients:
    /// how the trainer puts Adam's flat update back into the model without a read-back.
    pub fn from_flat(flat: Tensor<1>, latent_dims: usize, normalize: bool) -> Self {
        let mut at = 0;
        let mut take = |n: usize| {
            let part = flat.clone().slice(at..at + n);
            at += n;
            part
        };
        let mut linear = |(d_input, d_output): (usize, usize)| {
            let w = take(d_input * d_output).reshape([d_input, d_output]);
            let b = take(d_output);
            Linear {
                weight: Param::from_tensor(Tensor::from_inner(w)),
                bias: Some(Param::from_tensor(Tensor::from_inner(b))),
            }
        };
        let shapes = layer_shapes(latent_dims);
        ColorMlp {
            encode_hidden: linear(shapes[0]),
            encode_latent: linear(shapes[1]),
            decode_hidden: linear(shapes[2]),
            decode_rgb: linear(shapes[3]),
            normalize,
        }
    }

    /// The gradient of every parameter in `grads`, in [`ColorMlp::parameters_flat`]'s layout,
    /// on the inner backend. A parameter the loss did not reach gets zeros.
    pub fn gradients_flat(&self, grads: &Gradients) -> Tensor<1> {
        let parts = self
            .layers()
            .iter()
            .flat_map(|l| {
                let w = l.weight.val();
                let [i, o] = w.dims();
                let gw = w.grad(grads).unwrap_or_else(|| w.inner().zeros_like());
                let b = l.bias.as_ref().expect("layers have biases").val();
                let gb = b.grad(grads).unwrap_or_else(|| b.inner().zeros_like());
                [gw.reshape([i * o]), gb]
            })
            .collect();
        Tensor::cat(parts, 0)
    }

    fn layers(&self) -> [&Linear; 4] {
        [
            &self.encode_hidden,
            &self.encode_latent,
            &self.decode_hidden,
            &self.decode_rgb,
        ]
    }

    pub fn latent_dims(&self) -> usize {
        self.encode_latent.weight.dims()[1]
    }

    pub fn parameter_count(&self) -> usize {
        self.num_params()
    }

    /// Works on any leading shape (`[batch, 3]`, or `[runs, batch, 3]` for several seeds at
    /// once). Returns `(rgb, latents)`.
    pub fn forward<const D: usize>(&self, rgb: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
        let mut latents = self
            .encode_latent
            .forward(gelu(self.encode_hidden.forward(rgb)));
        if self.normalize {
            let norm = latents.clone().square().sum_dim(D - 1).sqrt();
            latents = latents / (norm + 1e-8);
        }
        let rgb = sigmoid(
            self.decode_rgb
                .forward(gelu(self.decode_hidden.forward(latents.clone()))),
        );
        (rgb, latents)
    }
}

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
