//! The CPU engine's training step as a Burn backend extension on the CPU backend (Flex): one
//! operation per step of a run, the whole of [`train_step`] (forward, objective, backward,
//! Adam), vectorised over the batch.
//!
//! Its state is a tensor holding the run's packed buffer ([`RunState::packed`]). The step
//! takes it and gives it back: in place when nothing else holds the buffer (Flex's
//! copy-on-write), after a copy when something does, so a state kept aside (the sweep's
//! last good step, a read) stays as it was.
//!
//! The operation steps one run, not all of them at once as the GPU's does
//! ([`crate::gpu_step`]): a sweep's runs are split over threads that each train theirs to the
//! end with no meeting per step, and each thread's call is one run's step.

use std::cell::RefCell;

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Flex, Shape};
use burn::prelude::*;
use burn_flex::FlexTensor;

use super::{train_step, RunState, StepInput, StepLosses, Workspace};
use crate::flex_values::{dense_f32, from_values};
use crate::loss::PerTerm;

/// What a step takes besides its tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunStepArgs {
    pub latent_dims: usize,
    pub weights: PerTerm<f64>,
    pub lr: f64,
    /// Updates the state has had so far (Adam's time step before this one).
    pub updates: i32,
}

#[backend_extension(Flex)]
pub trait FusedRunStep: Backend {
    /// One step of one run. `state` (packed) is taken and given back updated; `batch` is the
    /// rows it trains on (`[B, 3]`, flat), `anchor_rgb` the six anchor colours and `anchor`
    /// their reference latents (empty before the `anchor` action). Also gives what the step
    /// computed.
    fn fused_run_step(
        state: FloatTensor<Self>,
        batch: FloatTensor<Self>,
        anchor_rgb: FloatTensor<Self>,
        anchor: FloatTensor<Self>,
        args: RunStepArgs,
    ) -> (FloatTensor<Self>, StepLosses);
}

thread_local! {
    /// The step's buffers, kept between steps so a step allocates nothing: one set per thread,
    /// used by its runs in turn, stays in cache where a set per run would not.
    static WORKSPACE: RefCell<Workspace> = RefCell::default();
}

impl FusedRunStep for Flex {
    fn fused_run_step(
        mut state: FlexTensor,
        batch: FlexTensor,
        anchor_rgb: FlexTensor,
        anchor: FlexTensor,
        args: RunStepArgs,
    ) -> (FlexTensor, StepLosses) {
        // `storage_mut` below is the whole buffer, which is the state only for a dense tensor.
        let _ = dense(&state);
        let (batch, anchor_rgb, anchor) = (dense(&batch), dense(&anchor_rgb), dense(&anchor));
        let input = StepInput {
            latent_dims: args.latent_dims,
            batch,
            anchor_rgb,
            anchor: (!anchor.is_empty()).then_some(anchor),
            weights: &args.weights,
            lr: args.lr,
        };
        let values = state.storage_mut::<f32>();
        let losses = WORKSPACE.with_borrow_mut(|w| train_step(values, args.updates, &input, w));
        (state, losses)
    }
}

type Dispatch = burn::backend::Dispatch;

/// A run's packed state as a tensor on the CPU backend, and the updates it has had. Cloning
/// it shares the buffer.
#[derive(Clone)]
pub struct StateTensor {
    pub values: Tensor<1>,
    pub updates: i32,
}

impl StateTensor {
    pub fn of(state: &RunState) -> Self {
        StateTensor {
            values: cpu_tensor(state.packed()),
            updates: state.updates,
        }
    }

    pub fn to_run_state(&self) -> RunState {
        RunState::from_packed(dense(&cpu_primitive(&self.values)), self.updates)
    }

    /// `f` of the run's parameters, read where they lie.
    pub fn with_params<T>(&self, f: impl FnOnce(&[f32]) -> T) -> T {
        let values = cpu_primitive(&self.values);
        let values = dense(&values);
        f(&values[..values.len() / 3])
    }
}

/// One step of a run ([`FusedRunStep::fused_run_step`] on the CPU backend): the state after
/// it and what it computed. Pass `anchor` empty ([`cpu_tensor`] of nothing) before the
/// `anchor` action.
pub fn run_step(
    state: StateTensor,
    batch: Tensor<1>,
    anchor_rgb: Tensor<1>,
    anchor: Tensor<1>,
    latent_dims: usize,
    weights: PerTerm<f64>,
    lr: f64,
) -> (StateTensor, StepLosses) {
    let args = RunStepArgs {
        latent_dims,
        weights,
        lr,
        updates: state.updates,
    };
    let (values, losses) = Dispatch::fused_run_step(
        state.values.into_dispatch(),
        batch.into_dispatch(),
        anchor_rgb.into_dispatch(),
        anchor.into_dispatch(),
        args,
    );
    let state = StateTensor {
        values: Tensor::from_dispatch(values),
        updates: state.updates + i32::from(losses.updated),
    };
    (state, losses)
}

/// `values` as a tensor on the CPU backend, without a copy.
pub fn cpu_tensor(values: Vec<f32>) -> Tensor<1> {
    let len = values.len();
    Tensor::from_primitive::<Flex>(from_values(values, Shape::new([len])))
}

/// A tensor of [`cpu_tensor`]'s, or the step's, read back.
pub fn cpu_values(tensor: &Tensor<1>) -> Vec<f32> {
    dense(&cpu_primitive(tensor)).to_vec()
}

/// The values of one of the step's tensors: all are dense f32, made by [`cpu_tensor`] or the
/// step. Converting others here would bring Burn's conversions for every dtype and layout
/// into the page's CPU module (+0.06 MB gzipped, measured).
fn dense(tensor: &FlexTensor) -> &[f32] {
    dense_f32(tensor).expect("the CPU step's tensors are dense f32")
}

/// The CPU backend's tensor under `tensor`, sharing its buffer.
fn cpu_primitive(tensor: &Tensor<1>) -> FlexTensor {
    tensor
        .clone()
        .try_into_primitive::<Flex>()
        .expect("the CPU step's tensors are on the CPU backend")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColorCube;
    use crate::loss::Term;
    use crate::model::initial_parameters;

    fn batch() -> Vec<f32> {
        (0..64 * 3)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect()
    }

    /// The operation is the kernel: the same losses and state bit for bit, step after step,
    /// through the anchor.
    #[test]
    fn the_operation_is_the_kernel_bit_for_bit() {
        let dims = 4;
        let anchor_rgb = ColorCube::primaries().rgb_f32();
        let anchor: Vec<f32> = (0..6 * dims).map(|i| (i as f32 * 0.3).sin()).collect();
        let weights = PerTerm::from_fn(|t| if t == Term::Anchor { 0.5 } else { 0.3 });
        let mut host = RunState::new(initial_parameters(dims, 5));
        let mut held = StateTensor::of(&host);
        let mut w = Workspace::default();
        for step in 0..100 {
            let anchor = if step >= 50 { anchor.clone() } else { vec![] };
            let input = StepInput {
                latent_dims: dims,
                batch: &batch(),
                anchor_rgb: &anchor_rgb,
                anchor: (!anchor.is_empty()).then_some(&anchor[..]),
                weights: &weights,
                lr: 0.01,
            };
            let mut packed = host.packed();
            let expected = train_step(&mut packed, host.updates, &input, &mut w);
            host = RunState::from_packed(&packed, host.updates + i32::from(expected.updated));
            let (next, losses) = run_step(
                held,
                cpu_tensor(batch()),
                cpu_tensor(anchor_rgb.clone()),
                cpu_tensor(anchor),
                dims,
                weights,
                0.01,
            );
            held = next;
            assert_eq!(losses, expected, "step {step}");
            assert_eq!(held.to_run_state(), host, "step {step}");
        }
        assert_eq!(host.updates, 100);
    }

    /// A state held elsewhere (a copy kept for a rollback) is left as it was; one held nowhere
    /// else is updated where it lies.
    #[test]
    fn a_step_leaves_a_state_held_elsewhere_as_it_was() {
        let dims = 3;
        let start = StateTensor::of(&RunState::new(initial_parameters(dims, 2)));
        let before = start.to_run_state();
        let weights = PerTerm::from_fn(|t| if t == Term::Anchor { 0.0 } else { 1.0 });
        let step = |state: StateTensor| {
            run_step(
                state,
                cpu_tensor(batch()),
                cpu_tensor(ColorCube::primaries().rgb_f32()),
                cpu_tensor(vec![]),
                dims,
                weights,
                0.05,
            )
            .0
        };
        let kept = start.clone();
        let after = step(start);
        assert_eq!(kept.to_run_state(), before);
        assert_ne!(after.to_run_state().params, before.params);

        let address = |s: &StateTensor| cpu_primitive(&s.values).bytes().as_ptr();
        let at = address(&after);
        let again = step(after);
        assert_eq!(
            address(&again),
            at,
            "a step of an unshared state copies nothing"
        );
        assert_eq!(again.updates, 2);
    }
}
