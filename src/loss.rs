//! The five loss terms, named like the dopesheet columns that weight them.
//!
//! Each takes the batch's inputs, outputs and latents (`[batch, features]`) and returns a
//! one-element tensor, so the trainer can sum them on the device without reading back.

use burn::prelude::*;

/// Dopesheet column names of the terms, in the order the trainer reports them.
pub const TERMS: [&str; 5] = [
    "loss-recon",
    "reg-separate",
    "reg-planar",
    "reg-norm",
    "reg-anchor",
];

/// Keeps 1/d² finite for coincident points.
const SEPARATION_EPSILON: f64 = 1e-6;

/// `loss-recon`: mean squared error between the reconstruction and the input.
pub fn reconstruction(input: Tensor<2>, output: Tensor<2>) -> Tensor<1> {
    (output - input).square().mean()
}

/// `reg-separate`: mean inverse squared distance between every pair of latents in dims 0
/// and 1, which pushes close points apart.
///
/// The reference averages over all B² entries *including* the diagonal, whose terms are the
/// constant 1/ε (no gradient) and add 1e6/B to the reported value. We leave the diagonal out
/// of the sum but keep the B² denominator: same gradient, a loss that reads as it should.
pub fn separation(latents: Tensor<2>) -> Tensor<1> {
    let [batch, _] = latents.dims();
    let points = latents.narrow(1, 0, 2);
    let diffs = points.clone().unsqueeze_dim::<3>(1) - points.unsqueeze_dim::<3>(0);
    let sq_dists: Tensor<2> = diffs.square().sum_dim(2).squeeze_dim(2);
    let off_diagonal = Tensor::<2>::eye(batch, &sq_dists.device()).neg() + 1.0;
    ((sq_dists + SEPARATION_EPSILON).recip() * off_diagonal).mean()
}

/// `reg-planar`: mean square of every latent dimension after the first two.
/// `None` when the bottleneck has only two dimensions (nothing to flatten).
pub fn planarity(latents: Tensor<2>) -> Option<Tensor<1>> {
    let [_, dims] = latents.dims();
    (dims > 2).then(|| latents.narrow(1, 2, dims - 2).square().mean())
}

/// `reg-norm`: mean squared difference between each latent's length and 1.
pub fn unit_norm(latents: Tensor<2>) -> Tensor<1> {
    (latents.square().sum_dim(1).sqrt() - 1.0).square().mean()
}

/// `reg-anchor`: mean squared distance of the anchor colours' latents from where they
/// were when the `anchor` action captured them.
pub fn anchor(latents: Tensor<2>, reference: Tensor<2>) -> Tensor<1> {
    (latents - reference).square().mean()
}
