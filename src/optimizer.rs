//! Adam, written out: on host values for the fused CPU step ([`adam_update`]), and over the
//! model's parameters as one flat tensor for the trainer ([`FlatAdam`]).
//!
//! The trainer keeps Adam's state itself, as three tensors on its device, instead of in
//! Burn's optimiser: the state can then be read back in the same read-back as the weights
//! (to carry a run from a lost GPU to the CPU with its moments), and the skip rule can be
//! applied on the device by masking the update, with no read-back per step. One update over
//! 263 values is also a dozen kernels instead of a dozen per parameter tensor.

use burn::prelude::*;

use crate::fused_step::RunState;

const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

/// One Adam update in place, with Burn's formulas in Burn's order of operations; `time`
/// counts updates from 1. β = (0.9, 0.999), ε = 1e-8 (PyTorch's defaults), no weight decay.
pub fn adam_update(
    params: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    lr: f32,
    time: i32,
) {
    let (combined, epsilon) = corrections(time);
    let moments = moment_1.iter_mut().zip(moment_2.iter_mut());
    for ((p, g), (m1, m2)) in params.iter_mut().zip(grads).zip(moments) {
        *m1 = *m1 * BETA_1 + g * (1.0 - BETA_1);
        *m2 = *m2 * BETA_2 + g * g * (1.0 - BETA_2);
        let update = (*m1 * combined) / (m2.sqrt() + epsilon);
        *p -= update * lr;
    }
}

/// Burn's bias corrections for update `time` (from 1): the factor on the first moment and
/// the ε beside √(second moment), both scaled by √(1 − β₂ᵗ).
fn corrections(time: i32) -> (f32, f32) {
    let correction_2 = (1.0 - BETA_2.powi(time)).sqrt();
    (
        correction_2 / (1.0 - BETA_1.powi(time)),
        EPSILON * correction_2,
    )
}

/// Adam's state for a flat parameter vector, on the device, with the same formulas as
/// [`adam_update`].
#[derive(Debug, Clone)]
pub struct FlatAdam {
    moment_1: Tensor<1>,
    moment_2: Tensor<1>,
    /// Updates applied so far, as a one-element tensor: a masked step must not count, and
    /// whether it was masked is only known on the device.
    updates: Tensor<1>,
    /// The same count on the host, while every step so far was decided there: the
    /// corrections are then host scalars, as in `adam_update`, which exp(t·ln β) on the
    /// device only approximates.
    host_updates: Option<i32>,
}

impl FlatAdam {
    pub fn new(parameters: usize, device: &Device) -> Self {
        FlatAdam {
            moment_1: Tensor::zeros([parameters], device),
            moment_2: Tensor::zeros([parameters], device),
            updates: Tensor::zeros([1], device),
            host_updates: Some(0),
        }
    }

    /// The moments and update count of `state` (its parameters are the caller's).
    pub fn from_state(state: &RunState, device: &Device) -> Self {
        let tensor = |v: &[f32]| Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        FlatAdam {
            moment_1: tensor(&state.moment_1),
            moment_2: tensor(&state.moment_2),
            updates: tensor(&[state.updates as f32]),
            host_updates: Some(state.updates),
        }
    }

    /// `[moment_1, moment_2, updates]` in one tensor, for a read-back beside the weights.
    pub fn packed(&self) -> Tensor<1> {
        Tensor::cat(
            vec![
                self.moment_1.clone(),
                self.moment_2.clone(),
                self.updates.clone(),
            ],
            0,
        )
    }

    /// Unpacks [`FlatAdam::packed`]'s values into `state`'s moments and update count.
    pub fn unpack(values: &[f32], state: &mut RunState) -> Option<()> {
        let n = state.params.len();
        if values.len() != 2 * n + 1 {
            return None;
        }
        state.moment_1 = values[..n].to_vec();
        state.moment_2 = values[n..2 * n].to_vec();
        state.updates = values[2 * n].round() as i32;
        Some(())
    }

    /// The updated parameters, for a step the host decided to take.
    pub fn step(&mut self, params: Tensor<1>, grads: Tensor<1>, lr: f32) -> Tensor<1> {
        let (moment_1, moment_2) = self.moments(grads);
        let update = match self.host_updates.as_mut() {
            Some(updates) => {
                *updates += 1;
                let (combined, epsilon) = corrections(*updates);
                (moment_1.clone() * combined) / (moment_2.clone().sqrt() + epsilon)
            }
            None => Self::device_update(&(self.updates.clone() + 1.0), &moment_1, &moment_2),
        };
        let params = params - update * lr;
        self.updates = self.updates.clone() + 1.0;
        self.moment_1 = moment_1;
        self.moment_2 = moment_2;
        params
    }

    /// The updated parameters, for a step taken only where `apply` (one element) is true,
    /// as decided on the device. Where it is false the parameters, the moments and the update
    /// count stay as they were, even if `grads` holds NaNs.
    pub fn masked_step(
        &mut self,
        params: Tensor<1>,
        grads: Tensor<1>,
        lr: f32,
        apply: Tensor<1, Bool>,
    ) -> Tensor<1> {
        // From here the count is known only on the device.
        self.host_updates = None;
        let n = params.dims()[0];
        let (moment_1, moment_2) = self.moments(grads);
        let time = self.updates.clone() + 1.0;
        let stepped = params.clone() - Self::device_update(&time, &moment_1, &moment_2) * lr;
        let keep = apply.bool_not();
        let keep_n = keep.clone().expand([n]);
        self.moment_1 = moment_1.mask_where(keep_n.clone(), self.moment_1.clone());
        self.moment_2 = moment_2.mask_where(keep_n.clone(), self.moment_2.clone());
        self.updates = time.mask_where(keep, self.updates.clone());
        stepped.mask_where(keep_n, params)
    }

    fn moments(&self, grads: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        (
            self.moment_1.clone() * BETA_1 + grads.clone() * (1.0 - BETA_1),
            self.moment_2.clone() * BETA_2 + grads.square() * (1.0 - BETA_2),
        )
    }

    /// The update before the learning rate, with the corrections for `time` (one element)
    /// computed on the device: β^t as exp(t·ln β).
    fn device_update(time: &Tensor<1>, moment_1: &Tensor<1>, moment_2: &Tensor<1>) -> Tensor<1> {
        let power = |beta: f32| (time.clone() * beta.ln()).exp();
        let correction_2 = (-power(BETA_2) + 1.0).sqrt();
        let combined = correction_2.clone() / (-power(BETA_1) + 1.0);
        let epsilon = correction_2 * EPSILON;
        (moment_1.clone() * combined) / (moment_2.clone().sqrt() + epsilon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::read_f32;
    use burn::module::Param;
    use burn::nn::Linear;
    use burn::optim::{AdamConfig, GradientsParams};

    fn flat(layer: &Linear) -> Tensor<1> {
        let w = layer.weight.val();
        let n = w.dims()[0] * w.dims()[1];
        Tensor::cat(vec![w.reshape([n]), layer.bias.as_ref().unwrap().val()], 0)
    }

    /// Twenty steps of a small regression with Burn's Adam and with ours on the flattened
    /// layer, from the same start; a masked step in the middle changes nothing.
    #[test]
    fn matches_burns_adam_step_for_step() {
        let device = Device::flex().autodiff();
        // A fixed start: from Burn's unseeded initialisation, about one run in a hundred had
        // a weight that 20 steps left within 1e-3 of where it began.
        let start = |n: usize, phase: f32| -> Vec<f32> {
            (0..n)
                .map(|i| (i as f32 * 0.61 + phase).cos() * 0.5)
                .collect()
        };
        let layer = Linear {
            weight: Param::from_tensor(
                Tensor::<2>::from_data(TensorData::new(start(15, 0.0), [3, 5]), &device)
                    .require_grad(),
            ),
            bias: Some(Param::from_tensor(
                Tensor::<1>::from_data(TensorData::new(start(5, 1.3), [5]), &device).require_grad(),
            )),
        };
        let x = Tensor::<2>::from_data(
            TensorData::new((0..12).map(|i| (i as f32 * 0.37).sin()).collect(), [4, 3]),
            &device,
        );
        let loss_of = |layer: &Linear| (layer.forward(x.clone()) - 0.5).square().mean();
        let lr_at = |step: usize| if step < 10 { 0.01 } else { 0.001 };

        let mut burns = AdamConfig::new().with_epsilon(EPSILON).init();
        let mut reference = layer.clone();
        for step in 0..20 {
            let grads = GradientsParams::from_grads(loss_of(&reference).backward(), &reference);
            reference = burns.step(lr_at(step), reference, grads);
        }

        let inner = Device::flex();
        let mut adam = FlatAdam::new(20, &inner);
        let mut params = flat(&layer).inner();
        let mut step = 0;
        let mut calls = 0;
        while step < 20 {
            let w = Tensor::from_inner(params.clone().slice(0..15).reshape([3, 5])).require_grad();
            let b = Tensor::from_inner(params.clone().slice(15..20)).require_grad();
            let l = Linear {
                weight: Param::from_tensor(w.clone()),
                bias: Some(Param::from_tensor(b.clone())),
            };
            let grads = loss_of(&l).backward();
            let g = Tensor::cat(
                vec![
                    l.weight.val().grad(&grads).unwrap().reshape([15]),
                    l.bias.as_ref().unwrap().val().grad(&grads).unwrap(),
                ],
                0,
            );
            // From call 5 the decision is the device's; call 7 is masked and must leave
            // everything as it was.
            let apply = calls != 7;
            let mask = Tensor::<1, Bool>::from_data(TensorData::new(vec![apply], [1]), &inner);
            let lr = lr_at(step) as f32;
            params = if calls < 5 {
                adam.step(params, g, lr)
            } else {
                adam.masked_step(params, g, lr, mask)
            };
            calls += 1;
            if apply {
                step += 1;
            }
        }
        let ours = read_f32(params).unwrap();
        let theirs = read_f32(flat(&reference)).unwrap();
        let start = read_f32(flat(&layer)).unwrap();
        for i in 0..ours.len() {
            assert!(
                (ours[i] - theirs[i]).abs() < 1e-6,
                "weight {i}: {} vs {}",
                ours[i],
                theirs[i]
            );
            assert!((ours[i] - start[i]).abs() > 1e-3, "weight {i} did not move");
        }
        assert_eq!(read_f32(adam.updates).unwrap(), vec![20.0]);
    }

    /// NaN gradients under a false mask leave the state untouched.
    #[test]
    fn a_masked_step_ignores_nan_gradients() {
        let device = Device::flex();
        let mut adam = FlatAdam::new(3, &device);
        let params = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &device);
        let grads = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN; 3], [3]), &device);
        let mask = Tensor::<1, Bool>::from_data(TensorData::new(vec![false], [1]), &device);
        let out = adam.masked_step(params, grads, 0.1, mask);
        assert_eq!(read_f32(out).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(read_f32(adam.packed()).unwrap(), vec![0.0; 7]);
    }
}
