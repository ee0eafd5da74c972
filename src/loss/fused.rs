//! The whole weighted objective as one operation on the CPU backend.
//!
//! Written term by term (the parent module), the objective is some thirty tensor operations
//! forward and as many backward, each on a few hundred floats: on the CPU, Burn's
//! per-operation bookkeeping costs more than the arithmetic. Here one pass over the batch
//! computes every term, the weighted total and, when the total is tracked, its gradient with
//! respect to the outputs and the latents; the backward pass scales that gradient. The values
//! and gradients are those of the term-by-term functions (the tests hold them to it).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    backend_extension, Autodiff, AutodiffBackend, Backend, Flex, Shape, TensorMetadata,
};
use burn_flex::FlexTensor;

use super::{PerTerm, Term};
use crate::flex_values::{f32_values, from_values};

#[backend_extension(Flex, Autodiff)]
pub trait FusedObjective: Backend {
    /// `outputs` and `latents` hold the batch's rows, then the anchor colours' rows when
    /// `anchor` has rows (it is `[0, E]` otherwise). `input` is the batch, `[B, 3]`. A term
    /// with weight 0 is not computed and reads 0. Returns `(total [1], terms [5])`; only the
    /// total is differentiable.
    fn weighted_objective(
        outputs: FloatTensor<Self>,
        latents: FloatTensor<Self>,
        input: FloatTensor<Self>,
        anchor: FloatTensor<Self>,
        weights: [f32; Term::COUNT],
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// A batch's values on the host: row-major `[rows, 3]` outputs and `[rows, dims]` latents
/// (the batch's rows, then the anchor colours'), the `[batch, 3]` input, and the
/// `[rows − batch, dims]` anchor reference (empty without one).
pub struct HostBatch<'a> {
    pub outputs: &'a [f32],
    pub latents: &'a [f32],
    pub input: &'a [f32],
    pub anchor: &'a [f32],
    pub dims: usize,
    pub batch: usize,
}

impl HostBatch<'_> {
    pub fn latent(&self, row: usize) -> &[f32] {
        &self.latents[row * self.dims..(row + 1) * self.dims]
    }
}

/// d total / d outputs and d total / d latents, laid out as the batch's values.
#[derive(Debug, Default, Clone)]
pub struct HostGradient {
    pub outputs: Vec<f32>,
    pub latents: Vec<f32>,
}

/// The objective's value, and its gradient when asked for.
struct Evaluation {
    total: f32,
    terms: PerTerm<f32>,
    gradient: Option<HostGradient>,
}

/// Every term with weight ≠ 0 that applies, in one pass each over the host values.
fn evaluate(b: &HostBatch, weights: PerTerm<f32>, with_grads: bool) -> Evaluation {
    let mut gradient = with_grads.then(|| HostGradient {
        outputs: vec![0.0; b.outputs.len()],
        latents: vec![0.0; b.latents.len()],
    });
    let on = Term::computed(&weights, b.dims, !b.anchor.is_empty());
    let terms = PerTerm::from_fn(|term| {
        if on[term] {
            term.host(b, weights[term], gradient.as_mut()) as f32
        } else {
            0.0
        }
    });
    let total = terms.iter().map(|(t, v)| v * weights[t]).sum();
    Evaluation {
        total,
        terms,
        gradient,
    }
}

/// The objective on the tensors' values.
fn evaluate_flex(
    outputs: &FlexTensor,
    latents: &FlexTensor,
    input: &FlexTensor,
    anchor: &FlexTensor,
    weights: [f32; Term::COUNT],
    with_grads: bool,
) -> Evaluation {
    let dims = latents.shape()[1];
    let (outputs, latents) = (f32_values(outputs), f32_values(latents));
    let (input, anchor) = (f32_values(input), f32_values(anchor));
    let batch = HostBatch {
        dims,
        batch: input.len() / 3,
        outputs: &outputs,
        latents: &latents,
        input: &input,
        anchor: &anchor,
    };
    evaluate(&batch, PerTerm(weights), with_grads)
}

fn totals(e: &Evaluation) -> (FlexTensor, FlexTensor) {
    (
        from_values(vec![e.total], Shape::new([1])),
        from_values(e.terms.0.to_vec(), Shape::new([Term::COUNT])),
    )
}

impl FusedObjective for Flex {
    fn weighted_objective(
        outputs: FlexTensor,
        latents: FlexTensor,
        input: FlexTensor,
        anchor: FlexTensor,
        weights: [f32; Term::COUNT],
    ) -> (FlexTensor, FlexTensor) {
        totals(&evaluate_flex(
            &outputs, &latents, &input, &anchor, weights, false,
        ))
    }
}

#[derive(Debug)]
struct ObjectiveBackward;

impl<B: Backend> Backward<B, 2> for ObjectiveBackward {
    /// d total / d outputs and d total / d latents, from the forward pass.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (grad_outputs, grad_latents) = ops.state;
        // The incoming gradient is a single value; broadcast it over the rows.
        let scale = |grad: FloatTensor<B>| B::float_reshape(grad, Shape::new([1, 1]));
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::float_mul(grad_outputs, scale(grad)),
            |grad| B::float_mul(grad_latents, scale(grad)),
        );
    }
}

/// The Autodiff form needs the gradient, which only the concrete CPU kernel can give: this
/// backend extension is implemented for `Flex` alone, and so is its autodiff wrapper.
impl<C: CheckpointStrategy> FusedObjective for Autodiff<Flex, C> {
    fn weighted_objective(
        outputs: FloatTensor<Self>,
        latents: FloatTensor<Self>,
        input: FloatTensor<Self>,
        anchor: FloatTensor<Self>,
        weights: [f32; Term::COUNT],
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // `input` and `anchor` are data: no gradient flows to them.
        let (input, anchor) = (input.into_primitive(), anchor.into_primitive());
        match ObjectiveBackward
            .prepare::<C>([outputs.node(), latents.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (outputs, latents) = (outputs.into_primitive(), latents.into_primitive());
                let e = evaluate_flex(&outputs, &latents, &input, &anchor, weights, true);
                let (total, terms) = totals(&e);
                let gradient = e.gradient.expect("asked for");
                let grads = (
                    from_values(gradient.outputs, outputs.shape()),
                    from_values(gradient.latents, latents.shape()),
                );
                (prep.finish(grads, total), Self::from_inner(terms))
            }
            OpsKind::UnTracked(prep) => {
                let (total, terms) = Flex::weighted_objective(
                    outputs.into_primitive(),
                    latents.into_primitive(),
                    input,
                    anchor,
                    weights,
                );
                (prep.finish(total), Self::from_inner(terms))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fused_objective, objective_by_terms, Objective, PerTerm, Term};
    use crate::train::read_f32;
    use burn::prelude::*;

    /// Deterministic values in [−1, 1] (latents) or [0, 1] (colours).
    fn tensor(rows: usize, cols: usize, salt: f32, device: &Device) -> Tensor<2> {
        let values = (0..rows * cols)
            .map(|i| ((i as f32 * 0.618 + salt) * 12.9898).sin())
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, cols]), device)
    }

    /// The fused and the term-by-term objective agree on every value and on the gradient with
    /// respect to outputs and latents.
    fn agree(batch: usize, dims: usize, anchors: usize, weights: PerTerm<f64>) {
        let device = Device::flex().autodiff();
        let rows = batch + anchors;
        let input = tensor(batch, 3, 0.1, &device).abs();
        let outputs = tensor(rows, 3, 0.2, &device).abs();
        let latents = tensor(rows, dims, 0.3, &device);
        let reference = (anchors > 0).then(|| tensor(anchors, dims, 0.4, &device));
        let computed = Term::computed(&weights, dims, reference.is_some());
        type Evaluate = fn(
            Tensor<2>,
            Tensor<2>,
            Tensor<2>,
            Option<&Tensor<2>>,
            &PerTerm<f64>,
            PerTerm<bool>,
        ) -> Objective;
        let run = |evaluate: Evaluate| {
            let (o, z) = (
                outputs.clone().require_grad(),
                latents.clone().require_grad(),
            );
            let objective = evaluate(
                input.clone(),
                o.clone(),
                z.clone(),
                reference.as_ref(),
                &weights,
                computed,
            );
            let grads = objective.total.backward();
            // A term that does not reach a tensor leaves it without a gradient: zeros.
            let grad = |t: &Tensor<2>| {
                t.grad(&grads).map_or_else(
                    || vec![0.0; t.dims()[0] * t.dims()[1]],
                    |g| read_f32(g).unwrap(),
                )
            };
            (read_f32(objective.stacked()).unwrap(), grad(&o), grad(&z))
        };
        let fused = run(fused_objective);
        let by_terms = run(objective_by_terms);
        // Relative to the largest entry: the separation gradient sums terms of both signs
        // that grow as 1/d⁴, so its small entries carry the large ones' rounding.
        let close = |what: &str, a: &[f32], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            let scale = 1.0 + b.iter().fold(0.0f32, |m, y| m.max(y.abs()));
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    (x - y).abs() <= 2e-5 * scale,
                    "{what}[{i}]: fused {x}, by terms {y} (batch {batch}, dims {dims}, weights {weights:?})"
                );
            }
        };
        close("losses", &fused.0, &by_terms.0);
        close("d/d outputs", &fused.1, &by_terms.1);
        close("d/d latents", &fused.2, &by_terms.2);
        assert!(
            fused.1.iter().chain(&fused.2).any(|g| g.abs() > 1e-4),
            "gradients vanished"
        );
    }

    /// Each term alone: its fused value and gradient are its tensor form's.
    #[test]
    fn every_term_has_matching_forms() {
        for term in Term::ALL {
            let weights = PerTerm::from_fn(|t| if t == term { 0.7 } else { 0.0 });
            agree(12, 4, 6, weights);
        }
    }

    #[test]
    fn matches_the_terms_with_an_anchor() {
        agree(32, 4, 6, PerTerm([0.8, 0.0, 0.4, 0.25, 0.3]));
    }

    #[test]
    fn matches_the_terms_with_separation_on_primaries() {
        agree(6, 4, 0, PerTerm([0.8, 0.3, 0.4, 0.1, 0.0]));
    }

    #[test]
    fn matches_the_terms_in_two_and_three_dims() {
        agree(16, 2, 6, PerTerm([1.0, 0.3, 0.4, 0.1, 0.2]));
        agree(16, 3, 6, PerTerm([1.0, 0.3, 0.4, 0.1, 0.2]));
    }

    #[test]
    fn a_term_without_weight_reads_zero() {
        let device = Device::flex().autodiff();
        let weights = PerTerm([1.0, 0.0, 0.0, 0.5, 0.0]);
        let objective = fused_objective(
            tensor(8, 3, 0.1, &device).abs(),
            tensor(8, 3, 0.2, &device).abs(),
            tensor(8, 4, 0.3, &device),
            None,
            &weights,
            weights.map(|w| w != 0.0),
        );
        let v = read_f32(objective.stacked()).unwrap();
        assert_eq!(&v[2..4], &[0.0, 0.0]);
        assert_eq!(v[5], 0.0);
        assert!(v[1] > 0.0 && v[4] > 0.0);
        assert!((v[0] - (v[1] + 0.5 * v[4])).abs() < 1e-6);
    }
}
