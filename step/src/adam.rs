//! Adam on host values, the update every engine applies: β = (0.9, 0.999), ε = 1e-8 (the
//! notebook's PyTorch defaults), no weight decay, with Burn's bias corrections in Burn's order
//! of operations. The kernel's Adam pass (`gpu_step/kernel.rs`) takes these constants.

pub const BETA_1: f32 = 0.9;
pub const BETA_2: f32 = 0.999;
pub const EPSILON: f32 = 1e-8;

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
    let (combined, epsilon) = corrections(time);
    let moments = moment_1.iter_mut().zip(moment_2.iter_mut());
    for ((p, g), (m1, m2)) in params.iter_mut().zip(grads).zip(moments) {
        (*p, *m1, *m2) = adam_step(*p, *g, *m1, *m2, lr, combined, epsilon);
    }
}

/// One parameter's update: `(parameter, moment 1, moment 2)` after gradient `g`, with
/// [`corrections`]' factors for this update.
#[inline(always)]
pub fn adam_step(
    param: f32,
    g: f32,
    m1: f32,
    m2: f32,
    lr: f32,
    combined: f32,
    epsilon: f32,
) -> (f32, f32, f32) {
    let m1 = m1 * BETA_1 + g * (1.0 - BETA_1);
    let m2 = m2 * BETA_2 + g * g * (1.0 - BETA_2);
    let update = (m1 * combined) / (m2.sqrt() + epsilon);
    (param - update * lr, m1, m2)
}

/// Burn's bias corrections for update `time` (from 1): the factor on the first moment and
/// the ε beside √(second moment), both scaled by √(1 − β₂ᵗ).
pub fn corrections(time: i32) -> (f32, f32) {
    let correction_2 = (1.0 - BETA_2.powi(time)).sqrt();
    (
        correction_2 / (1.0 - BETA_1.powi(time)),
        EPSILON * correction_2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::Linear;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;

    fn flat(layer: &Linear) -> Vec<f32> {
        let w = layer.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let b = layer.bias.as_ref().unwrap().val().into_data();
        w.into_iter()
            .chain(b.try_to_vec::<f32>().unwrap())
            .collect()
    }

    /// Twenty steps of a small regression with Burn's Adam and with [`adam_update`] on the
    /// flattened layer, from the same start and with the same gradients.
    #[test]
    fn matches_burns_adam_step_for_step() {
        let device = Device::flex().autodiff();
        let start = |n: usize, phase: f32| -> Vec<f32> {
            (0..n)
                .map(|i| (i as f32 * 0.61 + phase).cos() * 0.5)
                .collect()
        };
        let layer = |values: &[f32]| Linear {
            weight: Param::from_tensor(
                Tensor::<2>::from_data(TensorData::new(values[..15].to_vec(), [3, 5]), &device)
                    .require_grad(),
            ),
            bias: Some(Param::from_tensor(
                Tensor::<1>::from_data(TensorData::new(values[15..].to_vec(), [5]), &device)
                    .require_grad(),
            )),
        };
        let first: Vec<f32> = start(15, 0.0).into_iter().chain(start(5, 1.3)).collect();
        let x = Tensor::<2>::from_data(
            TensorData::new((0..12).map(|i| (i as f32 * 0.37).sin()).collect(), [4, 3]),
            &device,
        );
        let loss_of = |layer: &Linear| (layer.forward(x.clone()) - 0.5).square().mean();
        let gradient_of = |values: &[f32]| {
            let l = layer(values);
            let grads = loss_of(&l).backward();
            let w = l.weight.val().grad(&grads).unwrap().into_data();
            let b = l
                .bias
                .as_ref()
                .unwrap()
                .val()
                .grad(&grads)
                .unwrap()
                .into_data();
            let w = w.try_to_vec::<f32>().unwrap();
            w.into_iter()
                .chain(b.try_to_vec::<f32>().unwrap())
                .collect::<Vec<f32>>()
        };
        let lr_at = |step: usize| if step < 10 { 0.01 } else { 0.001 };

        let mut burns = AdamConfig::new().with_epsilon(EPSILON).init();
        let mut reference = layer(&first);
        let (mut ours, mut m1, mut m2) = (first.clone(), vec![0.0; 20], vec![0.0; 20]);
        for step in 0..20 {
            let grads = GradientsParams::from_grads(loss_of(&reference).backward(), &reference);
            reference = burns.step(lr_at(step), reference, grads);
            let g = gradient_of(&ours);
            adam_update(
                &mut ours,
                &g,
                &mut m1,
                &mut m2,
                lr_at(step) as f32,
                step as i32 + 1,
            );
        }
        let theirs = flat(&reference);
        for i in 0..ours.len() {
            assert!(
                (ours[i] - theirs[i]).abs() < 1e-6,
                "weight {i}: {} vs {}",
                ours[i],
                theirs[i]
            );
            assert!((ours[i] - first[i]).abs() > 1e-3, "weight {i} did not move");
        }
    }
}
