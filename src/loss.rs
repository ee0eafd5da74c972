//! The loss terms and the objective that weighs them.
//!
//! [`Term`] is the table of terms: each has a file here with its tensor form (Burn's
//! operations, any backend) beside its value and gradient on host values (the fused CPU
//! kernel's). [`objective`] weighs and sums the terms a step needs, with the tensor forms on
//! any backend and as one fused operation (`loss/fused.rs`) on the CPU backend; tests hold
//! the two to each other, term by term.

use burn::prelude::*;

mod anchor;
mod fused;
mod planarity;
mod reconstruction;
mod separation;
mod term;
mod unit_norm;

pub use anchor::tensor as anchor;
pub use planarity::tensor as planarity;
pub use reconstruction::tensor as reconstruction;
pub use separation::tensor as separation;
pub use term::{PerTerm, Term};
pub use unit_norm::tensor as unit_norm;

use fused::FusedObjective;
pub(crate) use fused::{HostBatch, HostGradient};
use term::TensorBatch;

/// The weighted sum of the terms a step computes, and each term's value, on the device.
#[derive(Debug, Clone)]
pub struct Objective {
    /// Differentiable: the trainer calls `backward` on it.
    pub total: Tensor<1>,
    pub terms: TermValues,
    /// Which terms were computed; the others read 0.
    pub computed: PerTerm<bool>,
}

/// The terms' values, detached from the graph.
#[derive(Debug, Clone)]
pub enum TermValues {
    /// One tensor per computed term, as the term-by-term path makes them.
    Each(Vec<(Term, Tensor<1>)>),
    /// All terms in one tensor, as the fused CPU path makes them.
    Packed(Box<Tensor<1>>),
}

impl Objective {
    /// `[total, term…]` (in [`Term::ALL`] order) in one tensor, for a single read-back.
    pub fn stacked(&self) -> Tensor<1> {
        let total = self.total.clone().detach();
        let device = total.device();
        let parts = match &self.terms {
            TermValues::Packed(terms) => vec![total, terms.as_ref().clone()],
            TermValues::Each(terms) => std::iter::once(total)
                .chain(Term::ALL.into_iter().map(|term| {
                    terms
                        .iter()
                        .find(|(t, _)| *t == term)
                        .map_or_else(|| Tensor::zeros([1], &device), |(_, v)| v.clone())
                }))
                .collect(),
        };
        Tensor::cat(parts, 0)
    }
}

/// The curriculum's objective for one batch: `Σ weight · term` over the terms with weight ≠ 0
/// that apply ([`Term::applies`]).
///
/// `outputs` and `latents` come from one forward pass over the batch followed, when there is
/// an `anchor_reference`, by the anchor colours (as many rows as the reference). `None` when
/// no term is left.
pub fn objective(
    input: Tensor<2>,
    outputs: Tensor<2>,
    latents: Tensor<2>,
    anchor_reference: Option<&Tensor<2>>,
    weights: &PerTerm<f64>,
) -> Option<Objective> {
    let [_, dims] = latents.dims();
    let anchored = anchor_reference.is_some();
    let computed = Term::computed(weights, dims, anchored);
    if !computed.0.contains(&true) {
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
    weights: &PerTerm<f64>,
    computed: PerTerm<bool>,
) -> Objective {
    let anchor = anchor_reference
        .cloned()
        .unwrap_or_else(|| Tensor::zeros([0, latents.dims()[1]], &latents.device()));
    let w = PerTerm::from_fn(|t| if computed[t] { weights[t] as f32 } else { 0.0 });
    let (total, terms) = <burn::backend::Dispatch as FusedObjective>::weighted_objective(
        outputs.into_dispatch(),
        latents.into_dispatch(),
        input.into_dispatch(),
        anchor.into_dispatch(),
        w.0,
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
    weights: &PerTerm<f64>,
    computed: PerTerm<bool>,
) -> Objective {
    let [batch, _] = input.dims();
    let rows = |t: &Tensor<2>, from: usize, len: usize| t.clone().narrow(0, from, len);
    let parts = TensorBatch {
        outputs: rows(&outputs, 0, batch),
        latents: rows(&latents, 0, batch),
        anchor: anchor_reference.map(|r| (rows(&latents, batch, r.dims()[0]), r.clone())),
        input,
    };
    let terms: Vec<(Term, Tensor<1>)> = Term::ALL
        .into_iter()
        .filter(|&t| computed[t])
        .map(|t| (t, t.tensor(&parts).expect("computed only where it applies")))
        .collect();
    let total = terms
        .iter()
        .map(|(t, v)| v.clone() * weights[*t])
        .reduce(|a, b| a + b)
        .expect("at least one term is computed");
    let terms = terms.into_iter().map(|(t, v)| (t, v.detach())).collect();
    Objective {
        total,
        terms: TermValues::Each(terms),
        computed,
    }
}
