//! GELU and the sigmoid as fused operations on the CPU backend.
//!
//! Burn's own GELU calls libm's `erff` once forward and again, with an `exp`, backward: on the
//! CPU that was a third of every training step. Here the forward pass computes the activation
//! and its slope together from one `exp`, with the error-function polynomial PyTorch's CPU
//! kernels use (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), and the backward pass is a
//! single multiply by the stored slope. The sigmoid uses the same branch-free `exp`, which
//! vectorises where libm's `expf` (a call per value in wasm) does not. Other backends keep
//! Burn's functions.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::Dispatch;
use burn::backend::{backend_extension, Autodiff, AutodiffBackend, Backend, Flex, TensorMetadata};
use burn::prelude::*;
use burn_flex::FlexTensor;

use crate::flex_values::{dense_f32, like};

#[backend_extension(Flex, Autodiff)]
pub trait FusedActivation: Backend {
    /// `x · Φ(x)`.
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `(gelu(x), gelu'(x))`, computed together.
    fn gelu_and_slope(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// `1 / (1 + e^(−x))`.
    fn fused_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

fn fused_here<const D: usize>(x: &Tensor<D>) -> bool {
    x.device().inner() == Device::flex()
}

/// GELU (exact, erf-based), fused where the device's backend allows it.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if fused_here(&x) {
        Tensor::from_dispatch(Dispatch::fused_gelu(x.into_dispatch()))
    } else {
        burn::tensor::activation::gelu(x)
    }
}

/// The logistic sigmoid, fused where the device's backend allows it.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if fused_here(&x) {
        Tensor::from_dispatch(Dispatch::fused_sigmoid(x.into_dispatch()))
    } else {
        burn::tensor::activation::sigmoid(x)
    }
}

const A: [f32; 5] = [
    0.254_829_6,
    -0.284_496_74,
    1.421_413_7,
    -1.453_152,
    1.061_405_4,
];
const P: f32 = 0.327_591_1;

/// `e^x` for `x ≤ 0`, to about one ulp, without branches or calls so that loops over it
/// vectorise: x = k·ln 2 + r with |r| ≤ ln 2 / 2, then 2^k · (a degree-6 Taylor polynomial).
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    // A comparison, not `f32::max`: that is a libm call in wasm and stops vectorisation.
    let x = if x < -87.0 { -87.0 } else { x };
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^k from `shifted`'s bits (its last mantissa bits hold k): no float-to-int conversion,
    // which would saturate and keep the loop scalar.
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    p * f32::from_bits(k_int.wrapping_add(127) << 23)
}

/// `(gelu(x), gelu'(x))` for one value, sharing `exp(-x²/2)` between Φ and φ.
#[inline(always)]
pub(crate) fn gelu_and_slope_f32(x: f32) -> (f32, f32) {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let gauss = exp_nonpositive(-0.5 * x * x);
    let erf_abs = 1.0 - poly * gauss;
    let cdf = 0.5 * (1.0 + erf_abs.copysign(x));
    let pdf = gauss * (0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2);
    (x * cdf, cdf + x * pdf)
}

#[inline]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

impl FusedActivation for Flex {
    fn fused_gelu(x: FlexTensor) -> FlexTensor {
        let Some(input) = dense_f32(&x) else {
            return Flex::gelu(x);
        };
        let mut out = vec![0.0; input.len()];
        for (o, &v) in out.iter_mut().zip(input) {
            *o = gelu_and_slope_f32(v).0;
        }
        like(&x, out)
    }

    fn gelu_and_slope(x: FlexTensor) -> (FlexTensor, FlexTensor) {
        let Some(input) = dense_f32(&x) else {
            let ones = Flex::float_ones(x.shape(), &Default::default(), x.dtype().into());
            return (Flex::gelu(x.clone()), Flex::gelu_backward(x, ones));
        };
        let (mut out, mut slope) = (vec![0.0; input.len()], vec![0.0; input.len()]);
        for ((o, s), &v) in out.iter_mut().zip(slope.iter_mut()).zip(input) {
            (*o, *s) = gelu_and_slope_f32(v);
        }
        (like(&x, out), like(&x, slope))
    }

    fn fused_sigmoid(x: FlexTensor) -> FlexTensor {
        let Some(input) = dense_f32(&x) else {
            return Flex::sigmoid(x);
        };
        let out = input.iter().map(|&v| sigmoid_f32(v)).collect();
        like(&x, out)
    }
}

#[derive(Debug)]
struct GeluBackward;

impl<B: Backend> Backward<B, 1> for GeluBackward {
    /// The slope gelu'(x) from the forward pass.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let slope = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::float_mul(grad, slope)
        });
    }
}

impl<B: FusedActivation, C: CheckpointStrategy> FusedActivation for Autodiff<B, C> {
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, slope) = B::gelu_and_slope(x.into_primitive());
                prep.finish(slope, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_gelu(x.into_primitive())),
        }
    }

    fn gelu_and_slope(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // The slope is a constant here: no caller differentiates through it.
        let slope = B::gelu_and_slope(x.primitive().clone()).1;
        (Self::fused_gelu(x), Self::from_inner(slope))
    }

    fn fused_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SigmoidBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::fused_sigmoid(x.into_primitive());
                prep.finish(out.clone(), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_sigmoid(x.into_primitive())),
        }
    }
}

#[derive(Debug)]
struct SigmoidBackward;

impl<B: Backend> Backward<B, 1> for SigmoidBackward {
    /// The forward pass's output s: the slope is s · (1 − s).
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::sigmoid_backward(output, grad)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::read_f32;

    #[test]
    fn exp_is_accurate_to_an_ulp_or_two() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let (got, want) = (exp_nonpositive(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 3e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert!(exp_nonpositive(-1e30) < 1e-37);
    }

    #[test]
    fn matches_the_erf_definition() {
        for i in -800..=800 {
            let x = i as f32 / 100.0;
            let cdf = 0.5 * (1.0 + erf_series(x as f64 / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * (x as f64).powi(2)).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let (g, s) = gelu_and_slope_f32(x);
            assert!((g as f64 - x as f64 * cdf).abs() < 2e-6, "gelu({x})");
            assert!(
                (s as f64 - (cdf + x as f64 * pdf)).abs() < 2e-6,
                "gelu'({x})"
            );
        }
    }

    /// erf in f64 by its Taylor series (|x| < 6 is plenty here), independent of the polynomial.
    fn erf_series(x: f64) -> f64 {
        if x.abs() > 5.0 {
            return x.signum();
        }
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn fused_gelu_matches_burn_on_the_cpu_forward_and_backward() {
        matches_burn(gelu, burn::tensor::activation::gelu);
    }

    #[test]
    fn fused_sigmoid_matches_burn_on_the_cpu_forward_and_backward() {
        matches_burn(sigmoid, burn::tensor::activation::sigmoid);
    }

    fn matches_burn(fused: fn(Tensor<2>) -> Tensor<2>, burns: fn(Tensor<2>) -> Tensor<2>) {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 7.0).collect();
        let make = || {
            Tensor::<2>::from_data(TensorData::new(values.clone(), [8, 8]), &device).require_grad()
        };
        let (a, b) = (make(), make());
        let fused = fused(a.clone());
        let reference = burns(b.clone());
        let values = |t: Tensor<2>| read_f32(t).unwrap();
        let (fa, fb) = (values(fused.clone()), values(reference.clone()));
        let weights = Tensor::<2>::from_data(
            TensorData::new((0..64).map(|i| i as f32 / 64.0).collect::<Vec<_>>(), [8, 8]),
            &device,
        );
        let ga = (fused * weights.clone()).sum().backward();
        let gb = (reference * weights).sum().backward();
        let ga = values(a.grad(&ga).unwrap());
        let gb = values(b.grad(&gb).unwrap());
        for i in 0..64 {
            assert!(
                (fa[i] - fb[i]).abs() < 1e-6,
                "forward {i}: {} vs {}",
                fa[i],
                fb[i]
            );
            assert!(
                (ga[i] - gb[i]).abs() < 1e-6,
                "backward {i}: {} vs {}",
                ga[i],
                gb[i]
            );
        }
    }
}
