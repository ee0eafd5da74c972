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

use super::{SEPARATION_EPSILON, TERMS};
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
        weights: [f32; TERMS.len()],
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// The objective's value, and its gradient when asked for.
struct Evaluation {
    total: f32,
    terms: [f32; TERMS.len()],
    grad_outputs: Vec<f32>,
    grad_latents: Vec<f32>,
}

/// Row-major `[rows, 3]` outputs, `[rows, dims]` latents, `[batch, 3]` input and
/// `[rows − batch, dims]` anchor reference.
fn evaluate(
    outputs: &[f32],
    latents: &[f32],
    input: &[f32],
    anchor: &[f32],
    dims: usize,
    weights: [f32; TERMS.len()],
    with_grads: bool,
) -> Evaluation {
    let batch = input.len() / 3;
    let rows = outputs.len() / 3;
    let mut terms = [0.0f64; TERMS.len()];
    let (mut grad_outputs, mut grad_latents) = if with_grads {
        (vec![0.0f32; outputs.len()], vec![0.0f32; latents.len()])
    } else {
        (Vec::new(), Vec::new())
    };
    let z = |row: usize| &latents[row * dims..(row + 1) * dims];

    if weights[0] != 0.0 {
        let scale = 1.0 / (3 * batch) as f64;
        let mut sum = 0.0f64;
        for (i, (&o, &x)) in outputs[..batch * 3].iter().zip(input).enumerate() {
            let d = o - x;
            sum += (d * d) as f64;
            if with_grads {
                grad_outputs[i] = weights[0] * (2.0 * scale) as f32 * d;
            }
        }
        terms[0] = sum * scale;
    }

    if weights[1] != 0.0 {
        let scale = 1.0 / (batch * batch) as f64;
        let mut sum = 0.0f64;
        for a in 0..batch {
            let (pa, mut gx, mut gy) = (z(a), 0.0f64, 0.0f64);
            for b in (0..batch).filter(|&b| b != a) {
                let pb = z(b);
                let (dx, dy) = (pa[0] - pb[0], pa[1] - pb[1]);
                let inverse = 1.0 / (dx * dx + dy * dy + SEPARATION_EPSILON as f32);
                sum += inverse as f64;
                // The pair appears as (a, b) and (b, a): each contributes −2·Δ/(d + ε)².
                let pull = (inverse * inverse) as f64;
                gx += pull * dx as f64;
                gy += pull * dy as f64;
            }
            if with_grads {
                let k = weights[1] as f64 * -4.0 * scale;
                grad_latents[a * dims] += (k * gx) as f32;
                grad_latents[a * dims + 1] += (k * gy) as f32;
            }
        }
        terms[1] = sum * scale;
    }

    if weights[2] != 0.0 && dims > 2 {
        let scale = 1.0 / (batch * (dims - 2)) as f64;
        let mut sum = 0.0f64;
        for row in 0..batch {
            for d in 2..dims {
                let v = latents[row * dims + d];
                sum += (v * v) as f64;
                if with_grads {
                    grad_latents[row * dims + d] += weights[2] * (2.0 * scale) as f32 * v;
                }
            }
        }
        terms[2] = sum * scale;
    }

    if weights[3] != 0.0 {
        let scale = 1.0 / batch as f64;
        let mut sum = 0.0f64;
        for row in 0..batch {
            let length = z(row).iter().map(|v| v * v).sum::<f32>().sqrt();
            let excess = length - 1.0;
            sum += (excess * excess) as f64;
            if with_grads && length > 0.0 {
                let k = weights[3] * (2.0 * scale) as f32 * excess / length;
                for d in 0..dims {
                    grad_latents[row * dims + d] += k * latents[row * dims + d];
                }
            }
        }
        terms[3] = sum * scale;
    }

    if weights[4] != 0.0 && rows > batch {
        let scale = 1.0 / anchor.len() as f64;
        let mut sum = 0.0f64;
        for (i, &r) in anchor.iter().enumerate() {
            let at = batch * dims + i;
            let d = latents[at] - r;
            sum += (d * d) as f64;
            if with_grads {
                grad_latents[at] += weights[4] * (2.0 * scale) as f32 * d;
            }
        }
        terms[4] = sum * scale;
    }

    let terms = terms.map(|t| t as f32);
    let total = terms.iter().zip(weights).map(|(t, w)| t * w).sum();
    Evaluation {
        total,
        terms,
        grad_outputs,
        grad_latents,
    }
}

/// The objective on the tensors' values.
fn evaluate_flex(
    outputs: &FlexTensor,
    latents: &FlexTensor,
    input: &FlexTensor,
    anchor: &FlexTensor,
    weights: [f32; TERMS.len()],
    with_grads: bool,
) -> Evaluation {
    let dims = latents.shape()[1];
    evaluate(
        &f32_values(outputs),
        &f32_values(latents),
        &f32_values(input),
        &f32_values(anchor),
        dims,
        weights,
        with_grads,
    )
}

fn totals(e: &Evaluation) -> (FlexTensor, FlexTensor) {
    (
        from_values(vec![e.total], Shape::new([1])),
        from_values(e.terms.to_vec(), Shape::new([TERMS.len()])),
    )
}

impl FusedObjective for Flex {
    fn weighted_objective(
        outputs: FlexTensor,
        latents: FlexTensor,
        input: FlexTensor,
        anchor: FlexTensor,
        weights: [f32; TERMS.len()],
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
        weights: [f32; TERMS.len()],
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
                let grads = (
                    from_values(e.grad_outputs, outputs.shape()),
                    from_values(e.grad_latents, latents.shape()),
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
    use super::super::{fused_objective, objective_by_terms, Objective};
    use super::*;
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
    fn agree(batch: usize, dims: usize, anchors: usize, weights: [f64; TERMS.len()]) {
        let device = Device::flex().autodiff();
        let rows = batch + anchors;
        let input = tensor(batch, 3, 0.1, &device).abs();
        let outputs = tensor(rows, 3, 0.2, &device).abs();
        let latents = tensor(rows, dims, 0.3, &device);
        let reference = (anchors > 0).then(|| tensor(anchors, dims, 0.4, &device));
        let computed = std::array::from_fn(|i| {
            weights[i] != 0.0 && (i != 2 || dims > 2) && (i != 4 || anchors > 0)
        });
        type Evaluate = fn(
            Tensor<2>,
            Tensor<2>,
            Tensor<2>,
            Option<&Tensor<2>>,
            &[f64; TERMS.len()],
            [bool; TERMS.len()],
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
            (
                read_f32(objective.stacked()).unwrap(),
                read_f32(o.grad(&grads).unwrap()).unwrap(),
                read_f32(z.grad(&grads).unwrap()).unwrap(),
            )
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
                    "{what}[{i}]: fused {x}, by terms {y} (batch {batch}, dims {dims})"
                );
            }
        };
        close("losses", &fused.0, &by_terms.0);
        close("d/d outputs", &fused.1, &by_terms.1);
        close("d/d latents", &fused.2, &by_terms.2);
        assert!(fused.2.iter().any(|g| g.abs() > 1e-4), "gradients vanished");
    }

    #[test]
    fn matches_the_terms_with_an_anchor() {
        agree(32, 4, 6, [0.8, 0.0, 0.4, 0.25, 0.3]);
    }

    #[test]
    fn matches_the_terms_with_separation_on_primaries() {
        agree(6, 4, 0, [0.8, 0.3, 0.4, 0.1, 0.0]);
    }

    #[test]
    fn matches_the_terms_in_two_and_three_dims() {
        agree(16, 2, 6, [1.0, 0.3, 0.4, 0.1, 0.2]);
        agree(16, 3, 6, [1.0, 0.3, 0.4, 0.1, 0.2]);
    }

    #[test]
    fn a_term_without_weight_reads_zero() {
        let device = Device::flex().autodiff();
        let objective = fused_objective(
            tensor(8, 3, 0.1, &device).abs(),
            tensor(8, 3, 0.2, &device).abs(),
            tensor(8, 4, 0.3, &device),
            None,
            &[1.0, 0.0, 0.0, 0.5, 0.0],
            [true, false, false, true, false],
        );
        let v = read_f32(objective.stacked()).unwrap();
        assert_eq!(&v[2..4], &[0.0, 0.0]);
        assert_eq!(v[5], 0.0);
        assert!(v[1] > 0.0 && v[4] > 0.0);
        assert!((v[0] - (v[1] + 0.5 * v[4])).abs() < 1e-6);
    }
}
