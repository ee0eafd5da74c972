//! Adam, as one fused update per parameter on the CPU backend.
//!
//! Burn's Adam spends a dozen tensor operations on each parameter; ours are a few hundred
//! floats, so on the CPU the bookkeeping around each operation costs far more than its
//! arithmetic. Here one pass over the parameter updates the two moments and the weights
//! together, with Burn's formulas in Burn's order of operations. Other backends run Burn's
//! Adam itself; the state is Burn's `AdamState` either way.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Flex};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use burn_flex::FlexTensor;

use crate::flex_values::{f32_values, like};

const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

#[backend_extension(Flex)]
pub trait FusedAdamStep: Backend {
    /// Returns the updated `(param, moment_1, moment_2)`.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        lr: f32,
        time: i32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Adam with β = (0.9, 0.999) and ε = 1e-8 (PyTorch's defaults), no weight decay.
#[derive(Clone)]
pub struct FusedAdam {
    fallback: Adam,
}

impl FusedAdam {
    pub fn init() -> ModuleOptimizer {
        let fallback = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .build();
        ModuleOptimizer::from(FusedAdam { fallback })
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if tensor.device() != Device::flex() || tensor.dtype() != burn::tensor::DType::F32 {
            return self.fallback.step(lr, tensor, grad, state);
        }
        let (time, moment_1, moment_2) = match state {
            Some(s) => (
                s.momentum.time + 1,
                s.momentum.moment_1,
                s.momentum.moment_2,
            ),
            // Zero moments give exactly Burn's first-step moments: β·0 + (1 − β)·g.
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let (param, moment_1, moment_2) = <burn::backend::Dispatch as FusedAdamStep>::adam_step(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            lr as f32,
            time as i32,
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(moment_1),
            Tensor::from_dispatch(moment_2),
        );
        (Tensor::from_dispatch(param), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

/// One Adam update in place, with Burn's formulas in Burn's order of operations; `time`
/// counts updates from 1.
pub fn adam_update(
    params: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    lr: f32,
    time: i32,
) {
    let correction_2 = (1.0 - BETA_2.powi(time)).sqrt();
    let combined = correction_2 / (1.0 - BETA_1.powi(time));
    let epsilon = EPSILON * correction_2;
    let moments = moment_1.iter_mut().zip(moment_2.iter_mut());
    for ((p, g), (m1, m2)) in params.iter_mut().zip(grads).zip(moments) {
        *m1 = *m1 * BETA_1 + g * (1.0 - BETA_1);
        *m2 = *m2 * BETA_2 + g * g * (1.0 - BETA_2);
        let update = (*m1 * combined) / (m2.sqrt() + epsilon);
        *p -= update * lr;
    }
}

impl FusedAdamStep for Flex {
    fn adam_step(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        lr: f32,
        time: i32,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (p, g, m1, m2) = (
            f32_values(&param),
            f32_values(&grad),
            f32_values(&moment_1),
            f32_values(&moment_2),
        );
        let (mut p_out, mut m1_out, mut m2_out) = (p.to_vec(), m1.to_vec(), m2.to_vec());
        adam_update(&mut p_out, &g, &mut m1_out, &mut m2_out, lr, time);
        (
            like(&param, p_out),
            like(&param, m1_out),
            like(&param, m2_out),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::read_f32;
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    /// Twenty steps of a small regression with Burn's Adam and with ours, from the same model.
    #[test]
    fn matches_burns_adam_step_for_step() {
        let device = Device::flex().autodiff();
        let layer: Linear = LinearConfig::new(3, 5).init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new((0..12).map(|i| (i as f32 * 0.37).sin()).collect(), [4, 3]),
            &device,
        );
        let run = |mut optimizer: ModuleOptimizer| {
            let mut layer = layer.clone();
            for step in 0..20 {
                let loss = (layer.forward(x.clone()) - 0.5).square().mean();
                let grads = GradientsParams::from_grads(loss.backward(), &layer);
                let lr = if step < 10 { 0.01 } else { 0.001 };
                layer = optimizer.step(lr, layer, grads);
            }
            let weight: &Param<Tensor<2>> = &layer.weight;
            read_f32(weight.val()).unwrap()
        };
        let ours = run(FusedAdam::init());
        let burns = run(AdamConfig::new().with_epsilon(EPSILON).init());
        let start = read_f32(layer.weight.val()).unwrap();
        for i in 0..ours.len() {
            assert!(
                (ours[i] - burns[i]).abs() < 1e-6,
                "weight {i}: {} vs {}",
                ours[i],
                burns[i]
            );
            assert!((ours[i] - start[i]).abs() > 1e-3, "weight {i} did not move");
        }
    }
}
