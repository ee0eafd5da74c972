//! The five loss terms, named like the dopesheet columns that weight them.
//!
//! Each takes the batch's inputs, outputs and latents (`[batch, features]`) and returns a
//! one-element tensor, so the trainer can sum them on the device without reading back.
//! [`objective`] weighs and sums the terms a step needs: with these functions on any backend,
//! as one fused operation (`fused`) on the CPU backend.

use burn::prelude::*;

mod fused;

use fused::FusedObjective;

/// Dopesheet column names of the terms, in the order the trainer reports them.
pub const TERMS: [&str; 5] = [
    "loss-recon",
    "reg-separate",
    "reg-planar",
    "reg-norm",
    "reg-anchor",
];

/// The weighted sum of the terms a step computes, and each term's value, on the device.
#[derive(Debug, Clone)]
pub struct Objective {
    /// Differentiable: the trainer calls `backward` on it.
    pub total: Tensor<1>,
    pub terms: TermValues,
    /// Which terms were computed, in [`TERMS`] order; the others read 0.
    pub computed: [bool; TERMS.len()],
}

/// The terms' values, detached from the graph.
#[derive(Debug, Clone)]
pub enum TermValues {
    /// One tensor per computed term, as the term-by-term path makes them.
    Each(Vec<(usize, Tensor<1>)>),
    /// All five in one tensor, as the fused CPU path makes them.
    Packed(Box<Tensor<1>>),
}

impl Objective {
    /// `[total, term…]` in one tensor, for a single read-back.
    pub fn stacked(&self) -> Tensor<1> {
        let total = self.total.clone().detach();
        let device = total.device();
        let parts = match &self.terms {
            TermValues::Packed(terms) => vec![total, terms.as_ref().clone()],
            TermValues::Each(terms) => std::iter::once(total)
                .chain((0..TERMS.len()).map(|i| {
                    terms
                        .iter()
                        .find(|(t, _)| *t == i)
                        .map_or_else(|| Tensor::zeros([1], &device), |(_, v)| v.clone())
                }))
                .collect(),
        };
        Tensor::cat(parts, 0)
    }
}

/// The curriculum's objective for one batch: `Σ weight · term` over the terms with weight ≠ 0.
///
/// `outputs` and `latents` come from one forward pass over the batch followed, when there is
/// an `anchor_reference`, by the anchor colours (as many rows as the reference). The anchor
/// term needs that reference and planarity needs more than two latent dims; without them the
/// terms are skipped. `None` when no term is left.
pub fn objective(
    input: Tensor<2>,
    outputs: Tensor<2>,
    latents: Tensor<2>,
    anchor_reference: Option<&Tensor<2>>,
    weights: &[f64; TERMS.len()],
) -> Option<Objective> {
    let [_, dims] = latents.dims();
    let computed: [bool; TERMS.len()] = std::array::from_fn(|i| {
        weights[i] != 0.0
            && match i {
                2 => dims > 2,
                4 => anchor_reference.is_some(),
                _ => true,
            }
    });
    if !computed.contains(&true) {
        return None;
    }
    let fused =
        latents.device().inner() == Device::flex() && latents.dtype() == burn::tensor::DType::F32;
    let evaluate = if fused {
        fused_objective
    } else {
        objective_by_terms
    };
    Some(evaluate(
        input,
        outputs,
        latents,
        anchor_reference,
        weights,
        computed,
    ))
}

/// One operation for the whole objective (CPU backend only).
fn fused_objective(
    input: Tensor<2>,
    outputs: Tensor<2>,
    latents: Tensor<2>,
    anchor_reference: Option<&Tensor<2>>,
    weights: &[f64; TERMS.len()],
    computed: [bool; TERMS.len()],
) -> Objective {
    let anchor = anchor_reference
        .cloned()
        .unwrap_or_else(|| Tensor::zeros([0, latents.dims()[1]], &latents.device()));
    let w = |i: usize| if computed[i] { weights[i] as f32 } else { 0.0 };
    let (total, terms) = <burn::backend::Dispatch as FusedObjective>::weighted_objective(
        outputs.into_dispatch(),
        latents.into_dispatch(),
        input.into_dispatch(),
        anchor.into_dispatch(),
        std::array::from_fn(w),
    );
    Objective {
        total: Tensor::from_dispatch(total),
        terms: TermValues::Packed(Box::new(Tensor::from_dispatch(terms))),
        computed,
    }
}

/// The terms one by one, with Burn's tensor operations (any backend).
fn objective_by_terms(
    input: Tensor<2>,
    outputs: Tensor<2>,
    latents: Tensor<2>,
    anchor_reference: Option<&Tensor<2>>,
    weights: &[f64; TERMS.len()],
    computed: [bool; TERMS.len()],
) -> Objective {
    let [batch, _] = input.dims();
    let rows = |t: &Tensor<2>, from: usize, len: usize| t.clone().narrow(0, from, len);
    let batch_latents = rows(&latents, 0, batch);
    let mut terms = Vec::new();
    if computed[0] {
        terms.push((0, reconstruction(input, rows(&outputs, 0, batch))));
    }
    if computed[1] {
        terms.push((1, separation(batch_latents.clone())));
    }
    if computed[2] {
        let t = planarity(batch_latents.clone()).expect("computed only with > 2 dims");
        terms.push((2, t));
    }
    if computed[3] {
        terms.push((3, unit_norm(batch_latents)));
    }
    if let Some(reference) = anchor_reference.filter(|_| computed[4]) {
        let anchors = rows(&latents, batch, reference.dims()[0]);
        terms.push((4, anchor(anchors, reference.clone())));
    }
    let total = terms
        .iter()
        .map(|(i, t)| t.clone() * weights[*i])
        .reduce(|a, b| a + b)
        .expect("at least one term is computed");
    let terms = terms.into_iter().map(|(i, t)| (i, t.detach())).collect();
    Objective {
        total,
        terms: TermValues::Each(terms),
        computed,
    }
}

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
