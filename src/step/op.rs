//! The CPU engine's training step as a Burn backend extension on the CPU backend (Flex): one
//! operation per step of a block of runs, the whole of [`train_step`] (forward, objective,
//! backward, Adam) for each, vectorised over the batch.
//!
//! The block's state is one tensor: its runs' packed buffers
//! ([`super::RunState::packed`]) one after another. The step takes it and gives it back: in
//! place when nothing else holds the buffer (Flex's copy-on-write), after a copy when
//! something does, so a state kept aside (the sweep's last good step, a read) stays as it was.
//!
//! A sweep on one thread (the page's worker) is one block, so one call steps every run, as
//! the GPU's operation does (`gpu_step`). A sweep split over threads is a block per
//! thread: each thread trains its runs to the end with no meeting per step, one call a step.
//! At large batches a call steps a group of a block's runs (`first_run` on), so that a step
//! never holds every run's batch at once.

use std::cell::RefCell;

use burn::backend::tensor::FloatTensor;
use burn::backend::Dispatch;
use burn::backend::{backend_extension, Backend, DType, Flex, Shape};
use burn::prelude::*;
use burn_flex::FlexTensor;

use super::layout::parameter_count;
use super::loss::PerTerm;
use super::{train_step, StepInput, StepLosses, Workspace};

/// What a block's step takes besides its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockStepArgs {
    pub latent_dims: usize,
    pub weights: PerTerm<f64>,
    pub lr: f64,
    /// Every run trains on the one batch `batches` holds (phase 1's primaries), not on a
    /// batch of its own.
    pub one_batch: bool,
    /// The runs stepped: the block's runs from `first_run` on, in order.
    pub first_run: usize,
    pub runs: Vec<RunArgs>,
}

/// One run of a block's step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunArgs {
    /// Updates the run has had so far (Adam's time step before this one); `None`: the run
    /// sits the step out (a non-finite loss stopped it), its state left as it is.
    pub updates: Option<i32>,
    /// Its rows of `anchors` hold its anchor reference (the `anchor` action has fired).
    pub anchored: bool,
}

#[backend_extension(Flex)]
pub trait BlockStep: Backend {
    /// One step of runs of a block (all of them, or the `args.runs.len()` from
    /// `args.first_run` on). `states` (every run's packed state, one after another) is taken
    /// and given back updated; `batches` the rows each run stepped trains on (`[n, B, 3]`,
    /// flat, or one `[B, 3]` for all with `one_batch`), `anchor_rgb` the six anchor colours
    /// and `anchors` every run's reference latents (`[R, 6, E]`, read for the runs
    /// anchored). Also gives what each run's step computed (`None` for a run sitting out).
    fn block_step(
        states: FloatTensor<Self>,
        batches: FloatTensor<Self>,
        anchor_rgb: FloatTensor<Self>,
        anchors: FloatTensor<Self>,
        args: BlockStepArgs,
    ) -> (FloatTensor<Self>, Vec<Option<StepLosses>>);
}

thread_local! {
    /// The step's buffers, kept between steps so a step allocates nothing: one set per thread,
    /// used by its runs in turn, stays in cache where a set per run would not.
    static WORKSPACE: RefCell<Workspace> = RefCell::default();
}

impl BlockStep for Flex {
    fn block_step(
        mut states: FlexTensor,
        batches: FlexTensor,
        anchor_rgb: FlexTensor,
        anchors: FlexTensor,
        args: BlockStepArgs,
    ) -> (FlexTensor, Vec<Option<StepLosses>>) {
        let runs = args.runs.len();
        let state_len = 3 * parameter_count(args.latent_dims);
        let anchor_len = 6 * args.latent_dims;
        // `storage_mut` below is the whole buffer, which is the state only for a dense tensor.
        let _ = dense(&states);
        let (batches, anchor_rgb, anchors) = (dense(&batches), dense(&anchor_rgb), dense(&anchors));
        let anchors = &anchors[(args.first_run * anchor_len).min(anchors.len())..];
        let batch_len = if args.one_batch {
            batches.len()
        } else {
            batches.len() / runs.max(1)
        };
        let stepped = args.first_run * state_len..(args.first_run + runs) * state_len;
        let values = &mut states.storage_mut::<f32>()[stepped];
        let losses = WORKSPACE.with_borrow_mut(|w| {
            (values
                .chunks_exact_mut(state_len)
                .zip(&args.runs)
                .enumerate())
            .map(|(r, (state, run))| {
                let updates = run.updates?;
                let batch = if args.one_batch {
                    batches
                } else {
                    &batches[r * batch_len..][..batch_len]
                };
                let input = StepInput {
                    latent_dims: args.latent_dims,
                    batch,
                    anchor_rgb,
                    anchor: run
                        .anchored
                        .then(|| &anchors[r * anchor_len..][..anchor_len]),
                    weights: &args.weights,
                    lr: args.lr,
                };
                Some(train_step(state, updates, &input, w))
            })
            .collect()
        });
        (states, losses)
    }
}

/// One step of a block of runs ([`BlockStep::block_step`] on the CPU backend):
/// the states after it and what each run's step computed.
pub fn block_step(
    states: Tensor<1>,
    batches: Tensor<1>,
    anchor_rgb: Tensor<1>,
    anchors: Tensor<1>,
    args: BlockStepArgs,
) -> (Tensor<1>, Vec<Option<StepLosses>>) {
    let (states, losses) = Dispatch::block_step(
        states.into_dispatch(),
        batches.into_dispatch(),
        anchor_rgb.into_dispatch(),
        anchors.into_dispatch(),
        args,
    );
    (Tensor::from_dispatch(states), losses)
}

/// `values` as a tensor on the CPU backend, without a copy.
pub fn cpu_tensor(values: Vec<f32>) -> Tensor<1> {
    let len = values.len();
    Tensor::from_primitive::<Flex>(from_values(values, Shape::new([len])))
}

/// A tensor of [`cpu_tensor`]'s, or the step's, read back.
pub fn cpu_values(tensor: &Tensor<1>) -> Vec<f32> {
    with_values(tensor, <[f32]>::to_vec)
}

/// `f` of a tensor's values, read where they lie.
pub fn with_values<T>(tensor: &Tensor<1>, f: impl FnOnce(&[f32]) -> T) -> T {
    f(dense(&cpu_primitive(tensor)))
}

/// Writes `values` into `tensor` from `at` on: in place when nothing else holds its buffer,
/// in a copy when something does.
pub fn write_values(tensor: &mut Tensor<1>, at: usize, values: &[f32]) {
    let held = std::mem::replace(tensor, cpu_tensor(Vec::new()));
    let mut primitive =
        (held.try_into_primitive::<Flex>()).expect("the CPU step's tensors are on the CPU backend");
    let _ = dense(&primitive);
    primitive.storage_mut::<f32>()[at..at + values.len()].copy_from_slice(values);
    *tensor = Tensor::from_primitive::<Flex>(primitive);
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

/// The values of a dense f32 tensor, borrowed; `None` for other dtypes and strided views.
fn dense_f32(x: &FlexTensor) -> Option<&[f32]> {
    let layout = x.layout();
    (x.dtype() == DType::F32 && layout.is_contiguous() && layout.start_offset() == 0)
        .then(|| &x.storage::<f32>()[..layout.num_elements()])
}

fn from_values(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColorCube;
    use crate::step::layout::initial_parameters;
    use crate::step::loss::Term;
    use crate::step::RunState;

    const ROWS: usize = 64;

    /// Run `r`'s batch: each run's rows differ.
    fn batch(r: usize) -> Vec<f32> {
        (0..ROWS * 3)
            .map(|i| ((i * 37 + r * 11) % 101) as f32 / 100.0)
            .collect()
    }

    /// The operation is the kernel, run by run: the same losses and states bit for bit, step
    /// after step, with a batch each and one batch for all, through the anchor (set for two
    /// runs of three), with a run sitting steps out, and with the block stepped in one call
    /// or in two.
    #[test]
    fn the_operation_is_each_runs_kernel_bit_for_bit() {
        let dims = 4;
        let runs = 3;
        let anchor_rgb = ColorCube::primaries().rgb_f32();
        let anchors: Vec<f32> = (0..runs * 6 * dims)
            .map(|i| (i as f32 * 0.3).sin())
            .collect();
        let weights = PerTerm::from_fn(|t| if t == Term::Anchor { 0.5 } else { 0.3 });
        let mut host: Vec<RunState> = (0..runs)
            .map(|r| RunState::new(initial_parameters(dims, 5 + r as u64)))
            .collect();
        let mut held = cpu_tensor(host.iter().flat_map(RunState::packed).collect());
        let mut w = Workspace::default();
        for step in 0..100 {
            let one_batch = step < 20;
            let anchored = |r: usize| step >= 50 && r != 1;
            let sits_out = |r: usize| (30..40).contains(&step) && r == 1;
            let updates_before: Vec<i32> = host.iter().map(|s| s.updates).collect();
            let mut expected = Vec::new();
            for (r, state) in host.iter_mut().enumerate() {
                if sits_out(r) {
                    expected.push(None);
                    continue;
                }
                let own = batch(if one_batch { 0 } else { r });
                let input = StepInput {
                    latent_dims: dims,
                    batch: &own,
                    anchor_rgb: &anchor_rgb,
                    anchor: anchored(r).then(|| &anchors[r * 6 * dims..][..6 * dims]),
                    weights: &weights,
                    lr: 0.01,
                };
                let mut packed = state.packed();
                let losses = train_step(&mut packed, state.updates, &input, &mut w);
                *state = RunState::from_packed(&packed, state.updates + i32::from(losses.updated));
                expected.push(Some(losses));
            }
            // Odd steps take two calls: runs 0 and 1, then run 2.
            let bounds: &[usize] = if step % 2 == 1 {
                &[0, 2, runs]
            } else {
                &[0, runs]
            };
            let mut losses = Vec::new();
            for stepped in bounds.windows(2).map(|b| b[0]..b[1]) {
                let batches: Vec<f32> = if one_batch {
                    batch(0)
                } else {
                    stepped.clone().flat_map(batch).collect()
                };
                let args = BlockStepArgs {
                    latent_dims: dims,
                    weights,
                    lr: 0.01,
                    one_batch,
                    first_run: stepped.start,
                    runs: (stepped.clone())
                        .map(|r| RunArgs {
                            updates: (!sits_out(r)).then_some(updates_before[r]),
                            anchored: anchored(r),
                        })
                        .collect(),
                };
                let (next, these) = block_step(
                    held,
                    cpu_tensor(batches),
                    cpu_tensor(anchor_rgb.clone()),
                    cpu_tensor(anchors.clone()),
                    args,
                );
                held = next;
                losses.extend(these);
            }
            assert_eq!(losses, expected, "step {step}");
            let packed: Vec<f32> = host.iter().flat_map(RunState::packed).collect();
            assert_eq!(cpu_values(&held), packed, "step {step}");
        }
        assert_eq!(
            host.iter().map(|s| s.updates).collect::<Vec<_>>(),
            [100, 90, 100]
        );
    }

    /// A state held elsewhere (a copy kept for a rollback) is left as it was; one held nowhere
    /// else is updated where it lies.
    #[test]
    fn a_step_leaves_a_state_held_elsewhere_as_it_was() {
        let dims = 3;
        let start: Vec<f32> = (0..2)
            .flat_map(|r| RunState::new(initial_parameters(dims, 2 + r)).packed())
            .collect();
        let weights = PerTerm::from_fn(|t| if t == Term::Anchor { 0.0 } else { 1.0 });
        let step = |states: Tensor<1>, updates: i32| {
            let args = BlockStepArgs {
                latent_dims: dims,
                weights,
                lr: 0.05,
                one_batch: false,
                first_run: 0,
                runs: vec![
                    RunArgs {
                        updates: Some(updates),
                        anchored: false,
                    };
                    2
                ],
            };
            let batches = [batch(0), batch(1)].concat();
            let anchors = cpu_tensor(vec![0.0; 2 * 6 * dims]);
            let primaries = cpu_tensor(ColorCube::primaries().rgb_f32());
            block_step(states, cpu_tensor(batches), primaries, anchors, args).0
        };
        let kept = cpu_tensor(start.clone());
        let after = step(kept.clone(), 0);
        assert_eq!(cpu_values(&kept), start);
        assert_ne!(cpu_values(&after), start);

        let address = |s: &Tensor<1>| cpu_primitive(s).bytes().as_ptr();
        let at = address(&after);
        let again = step(after, 1);
        assert_eq!(
            address(&again),
            at,
            "a step of an unshared state copies nothing"
        );
        let mut written = again;
        write_values(&mut written, 3, &[7.0]);
        assert_eq!(address(&written), at, "nor does a write to one");
        assert_eq!(cpu_values(&written)[3], 7.0);
    }
}
