//! Many runs' training step on a GPU, one kernel launch per step for all of them.
//!
//! Burn's operations on a GPU cost a dispatch each, some three hundred per step of this
//! model, and that dispatch cost, not arithmetic, is what a step takes. Here one CubeCL
//! kernel ([`kernel::train_step`]) does a whole step of every run: it draws each run's batch
//! (the sampler is counter-based, [`crate::sampler`], so these are the rows the CPU engine
//! draws), then forward, loss terms, backward, Adam. The host only reads the timeline (the
//! same [`Sweep`] the CPU engine uses) and sends the sampler's tables when data-fraction
//! moves. The weights stay on the device; a read ([`GpuSweep::read_values`]) brings them
//! back into the host sweep, whose judging and checkpoints then work as on the CPU.
//!
//! The kernel is a Burn backend-extension operation on the CubeCL backend ([`GpuTrainStep`],
//! `op.rs`): the engine's buffers are Burn tensors on the page's or the CLI's wgpu device, in
//! that backend's memory pool and on its queue.

pub mod kernel;
mod op;

use std::sync::Arc;

use burn::backend::{Cube, DType, Dispatch, Shape};
use burn::prelude::*;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeDevice;
use cubecl::client::Client;
use cubecl::CubeElement;

use crate::data::ColorCube;
use crate::run::RunSpec;
use crate::run::{non_finite, TrainError};
use crate::sampler::BatchDistribution;
use crate::step::loss::{PerTerm, Term};
use crate::step::{RunState, StepLosses};
use crate::sweep::{CheckpointError, Sweep, SweepCheckpoint};
use crate::timeline::Timeline;

pub use op::{GpuTrainStep, StepArgs};

/// Values still on the device, read at the next [`GpuSweep::read_values`].
pub type DeviceValues = Tensor<1>;

/// Where the GPU engine could not be used or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("this device is not a wgpu device")]
    NotWgpu,
    #[error("reading the runs back from the GPU failed: {0}")]
    Read(String),
    #[error(
        "{runs} runs at batch {batch} need {bytes} bytes of GPU scratch, over the {limit} one \
         buffer may hold"
    )]
    TooLarge {
        runs: usize,
        batch: usize,
        bytes: u64,
        limit: u64,
    },
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// The most bytes one buffer of the engine takes: WebGPU's default storage binding limit.
const MAX_BUFFER_BYTES: u64 = 128 << 20;

/// A device of Burn's CubeCL backend and its compute client. The engine makes its tensors
/// from their bytes and reads their buffers here rather than through `Tensor::from_data` and a
/// read `Transaction`, whose dtype conversions for every backend made the page's WebGPU module
/// 1.51 MB gzipped against 1.34 (measured).
#[derive(Clone)]
struct Gpu {
    client: Client,
    device: CubeDevice,
}

impl Gpu {
    fn of(device: &Device) -> Result<Self, GpuError> {
        match device.clone().without_autodiff().as_dispatch() {
            burn::backend::DispatchDevice::Cube(cube) => Ok(Gpu {
                client: cube.client(),
                device: cube.clone(),
            }),
            #[allow(unreachable_patterns)]
            _ => Err(GpuError::NotWgpu),
        }
    }

    fn primitive(&self, bytes: &[u8], len: usize, dtype: DType) -> CubeTensor {
        CubeTensor::new_contiguous(
            self.client.clone(),
            self.device.clone(),
            Shape::new([len]),
            self.client.create_from_slice(bytes),
            dtype,
        )
    }

    fn floats(&self, values: &[f32]) -> Tensor<1> {
        Tensor::from_primitive::<Cube>(self.primitive(
            f32::as_bytes(values),
            values.len(),
            DType::F32,
        ))
    }

    /// As they are: the sampler's keys and totals use every bit, and the kernel reads u32.
    fn words(&self, values: &[u32]) -> Tensor<1, Int> {
        Tensor::from_primitive::<Cube>(self.primitive(
            u32::as_bytes(values),
            values.len(),
            DType::U32,
        ))
    }
}

/// The buffer behind a tensor the engine made.
fn buffer(tensor: &Tensor<1>) -> cubecl::server::Handle {
    let primitive = tensor.clone().try_into_primitive::<Cube>();
    primitive
        .expect("the engine's tensors are on its GPU")
        .handle
}

/// Every run's state on the device, as flat tensors.
struct DeviceRuns {
    /// Run after run, each in [`kernel::StateLayout`]. Taken by each step and given back.
    state: Option<Tensor<1>>,
    cube_rgb: Tensor<1>,
    /// Every run's sampler key, then the tables of [`DeviceRuns::distribution`].
    draws: Tensor<1, Int>,
    distribution: Arc<BatchDistribution>,
    anchor_rgb: Tensor<1>,
    /// [`kernel::LOSS_SLOTS`] per run: the last step's losses, and the step a run failed at.
    losses: Option<Tensor<1>>,
}

impl DeviceRuns {
    fn state(&self) -> &Tensor<1> {
        self.state.as_ref().expect("a step gives the state back")
    }

    fn losses(&self) -> &Tensor<1> {
        self.losses.as_ref().expect("a step gives the losses back")
    }
}

/// A sweep whose steps run on a GPU.
pub struct GpuSweep {
    host: Sweep,
    gpu: Gpu,
    runs: DeviceRuns,
    /// Rows of scratch per run.
    scratch_rows: usize,
    /// An `anchor` action has fired: the anchor term has its reference.
    has_anchor: bool,
    /// Which terms the last step computed.
    last_on: Option<PerTerm<bool>>,
    batch_size: usize,
    keys: Vec<u32>,
    /// Kernel launches so far: one per step, and one per [`GpuSweep::queue_latents`].
    pub launches: u64,
}

impl GpuSweep {
    pub fn new(timeline: Timeline, config: RunSpec, device: &Device) -> Result<Self, GpuError> {
        Self::on_device(Sweep::new(timeline, config)?, device)
    }

    /// The runs of `checkpoint` (saved by either engine), going on on `device` from where they
    /// stood.
    pub fn restore(
        timeline: Timeline,
        checkpoint: &SweepCheckpoint,
        device: &Device,
    ) -> Result<Self, GpuError> {
        Self::on_device(Sweep::restore(timeline, checkpoint)?, device)
    }

    /// The runs of `host`, as they stand, uploaded to `device`.
    pub fn on_device(host: Sweep, device: &Device) -> Result<Self, GpuError> {
        let gpu = Gpu::of(device)?;
        let runs = host.runs().len();
        let dims = host.latent_dims();
        let batch_size = host.batch_size();
        let scratch_rows = batch_size.max(6) + 6;
        let scratch_len = runs * scratch_rows * kernel::scratch_features(dims);
        let limit = MAX_BUFFER_BYTES.min(gpu.client.properties().memory.max_page_size);
        let largest = scratch_len.max(runs * kernel::StateLayout::of(dims).len) as u64 * 4;
        if largest > limit {
            return Err(GpuError::TooLarge {
                runs,
                batch: batch_size,
                bytes: largest,
                limit,
            });
        }
        let saved = host.save();
        let keys: Vec<u32> = host.sampler_keys().into_iter().flatten().collect();
        let distribution = host.batch_distribution().clone();
        let device_runs = upload(&gpu, &saved, &keys, distribution);
        let has_anchor = saved.runs.iter().any(|r| r.anchor.is_some());
        Ok(GpuSweep {
            host,
            gpu,
            runs: device_runs,
            scratch_rows,
            has_anchor,
            last_on: None,
            batch_size,
            keys,
            launches: 0,
        })
    }

    /// The host's view of the runs as of the last read ([`GpuSweep::accept`]).
    pub fn host(&self) -> &Sweep {
        &self.host
    }

    pub fn step_index(&self) -> u64 {
        self.host.step_index()
    }

    pub fn is_finished(&self) -> bool {
        self.host.is_finished()
    }

    /// Swaps the schedule under the running models; failed runs get another chance.
    pub fn set_timeline(&mut self, timeline: Timeline) {
        self.host.set_timeline(timeline);
        let runs = self.host.runs().len();
        self.runs.losses = Some(self.gpu.floats(&vec![0.0; runs * kernel::LOSS_SLOTS]));
    }

    /// Queues one step of every run: one kernel launch, and an upload of the sampler's
    /// tables when data-fraction moved.
    pub fn step(&mut self) {
        // Batch t is drawn with the weights of step t−1's data-fraction.
        let distribution = self.host.batch_distribution().clone();
        let Some(planned) = self.host.plan_step() else {
            return;
        };
        if !Arc::ptr_eq(&distribution, &self.runs.distribution) {
            self.runs.draws = draw_tables(&self.gpu, &self.keys, &distribution);
            self.runs.distribution = distribution;
        }
        let dims = self.host.latent_dims();
        self.has_anchor |= planned.anchor_action;
        let anchored = self.has_anchor && planned.weights[Term::Anchor] != 0.0;
        let on = Term::computed(&planned.weights, dims, anchored);
        self.last_on = Some(on);
        let table = &self.runs.distribution;
        let args = StepArgs {
            runs: self.host.runs().len() as u32,
            latent_dims: dims,
            rows: if planned.on_primaries {
                6
            } else {
                self.batch_size as u32
            },
            on_primaries: planned.on_primaries,
            scratch_rows: self.scratch_rows as u32,
            terms_on: (Term::ALL.iter().enumerate())
                .filter(|(_, t)| on[**t])
                .map(|(i, _)| 1u32 << i)
                .sum(),
            anchored,
            record_anchor: planned.anchor_action,
            step: planned.step,
            weights: Term::ALL.map(|t| planned.weights[t] as f32),
            lr: planned.lr as f32,
            entries: table.entries() as u32,
            total: table.total(),
        };
        let d = &mut self.runs;
        let (state, losses) = (d.state.take(), d.losses.take());
        let (state, losses) = Dispatch::gpu_train_step(
            state.expect("a step gives the state back").into_dispatch(),
            losses
                .expect("a step gives the losses back")
                .into_dispatch(),
            d.cube_rgb.clone().into_dispatch(),
            d.draws.clone().into_dispatch(),
            d.anchor_rgb.clone().into_dispatch(),
            args,
        );
        d.state = Some(Tensor::from_dispatch(state));
        d.losses = Some(Tensor::from_dispatch(losses));
        self.launches += 1;
    }

    /// The latents of `colors` (`[rows, 3]`) under run `run`'s weights as they stand after
    /// the steps queued so far: one more launch, read with the next [`GpuSweep::read_values`].
    pub fn queue_latents(&mut self, run: usize, colors: &[f32]) -> DeviceValues {
        let colors = self.gpu.floats(colors);
        self.launches += 1;
        Tensor::from_dispatch(Dispatch::gpu_latents(
            self.runs.state().clone().into_dispatch(),
            colors.into_dispatch(),
            run as u32,
            self.host.latent_dims(),
        ))
    }

    /// A read of every run's state (weights, Adam's state, anchor reference, the last
    /// step's losses and failures) and of `extra` (from [`GpuSweep::queue_latents`]), as raw
    /// bytes, for [`GpuSweep::accept`]. Owns what it needs, so nothing of the sweep is
    /// borrowed while it waits.
    pub fn read_values(
        &self,
        extra: Vec<DeviceValues>,
    ) -> impl std::future::Future<Output = Result<Vec<Vec<u8>>, GpuError>> + 'static {
        let mut handles = vec![buffer(self.runs.state()), buffer(self.runs.losses())];
        handles.extend(extra.iter().map(buffer));
        let client = self.gpu.client.clone();
        async move {
            let bytes = client
                .read_async(handles)
                .await
                .map_err(|e| GpuError::Read(format!("{e:?}")))?;
            Ok(bytes.iter().map(|b| b.to_vec()).collect())
        }
    }

    /// Takes a read from [`GpuSweep::read_values`] into the host sweep; returns the extra
    /// values, as floats.
    pub fn accept(&mut self, values: &[Vec<u8>]) -> Vec<Vec<f32>> {
        let (state, extra) = values.split_at(2);
        self.mirror(state);
        extra.iter().map(|b| f32::from_bytes(b).to_vec()).collect()
    }

    /// [`GpuSweep::read_values`] and [`GpuSweep::accept`], waiting for the read (not in a
    /// browser, which cannot block).
    #[cfg(not(target_family = "wasm"))]
    pub fn read_blocking(&mut self) -> Result<(), GpuError> {
        let values = cubecl::future::block_on(self.read_values(Vec::new()))?;
        self.accept(&values);
        Ok(())
    }

    /// Trains every run to the end of the curriculum, reading the runs back every
    /// [`Onset::EVERY`] steps to judge their onsets as the CPU's [`Sweep::finish`] does, and
    /// at the end; returns the host sweep, judged as a CPU sweep is. `progress` is told the
    /// run-steps done so far.
    #[cfg(not(target_family = "wasm"))]
    pub fn finish(mut self, progress: &dyn Fn(u64)) -> Result<Sweep, GpuError> {
        use crate::verdict::Onset;
        let (from, runs) = (self.step_index(), self.host.runs().len() as u64);
        while !self.is_finished() {
            self.step();
            let step = self.step_index();
            if step.is_multiple_of(Onset::EVERY) {
                self.read_blocking()?;
                self.host.judge_onsets_now();
                progress((step - from) * runs);
            } else if self.is_finished() {
                self.read_blocking()?;
            }
        }
        progress((self.step_index() - from) * runs);
        Ok(self.into_host())
    }

    /// Judges every run's onset on the host's copy of its weights, which stand at `step`
    /// (the last read-back's).
    pub fn judge_onsets_at(&mut self, step: u64) {
        self.host.judge_onsets_at(step);
    }

    /// The host sweep, to go on on the CPU (after a lost GPU) from the last read.
    pub fn into_host(self) -> Sweep {
        self.host
    }

    fn mirror(&mut self, bytes: &[impl std::ops::Deref<Target = [u8]>]) {
        let dims = self.host.latent_dims();
        let layout = kernel::StateLayout::of(dims);
        let (state, losses) = (f32::from_bytes(&bytes[0]), f32::from_bytes(&bytes[1]));
        for r in 0..self.host.runs().len() {
            let block = &state[r * layout.len..(r + 1) * layout.len];
            let run_state =
                RunState::from_packed(&block[..layout.updates], block[layout.updates] as i32);
            let anchor = self.has_anchor.then(|| {
                block[layout.anchor_reference..layout.anchor_reference + 6 * dims].to_vec()
            });
            let slots = &losses[r * kernel::LOSS_SLOTS..(r + 1) * kernel::LOSS_SLOTS];
            let last = self.last_on.map(|on| StepLosses {
                total: slots[0],
                terms: PerTerm::from_fn(|t| slots[1 + t as usize]),
                computed: on,
                updated: slots[6] != 0.0,
            });
            let failure = last
                .filter(|_| slots[7] != 0.0)
                .map(|l| non_finite(slots[7] as u64 - 1, &l.losses()));
            self.host.mirror(r, run_state, anchor, last, failure);
        }
    }
}

fn upload(
    gpu: &Gpu,
    saved: &SweepCheckpoint,
    keys: &[u32],
    distribution: Arc<BatchDistribution>,
) -> DeviceRuns {
    let dims = saved.latent_dims;
    let layout = kernel::StateLayout::of(dims);
    let mut state = Vec::with_capacity(saved.runs.len() * layout.len);
    let mut losses = vec![0.0; saved.runs.len() * kernel::LOSS_SLOTS];
    for (run, slots) in saved.runs.iter().zip(losses.chunks_mut(kernel::LOSS_SLOTS)) {
        let mut current = run.state.clone();
        current.push(run.updates as f32);
        // The previous step's copy starts as the current state.
        state.extend_from_slice(&current);
        state.extend_from_slice(&current);
        match &run.anchor {
            Some(anchor) => state.extend_from_slice(anchor),
            None => state.extend(std::iter::repeat_n(0.0, 6 * dims)),
        }
        // A run that failed stays where it was put back to, as the kernel keeps it.
        if let (Some(step), Some(last)) = (run.failed_at, run.last) {
            let last = StepLosses::from(last);
            slots[0] = last.total;
            for (t, value) in last.terms.iter() {
                slots[1 + t as usize] = *value;
            }
            slots[6] = f32::from(u8::from(last.updated));
            slots[7] = step as f32 + 1.0;
        }
    }
    DeviceRuns {
        state: Some(gpu.floats(&state)),
        cube_rgb: gpu.floats(&ColorCube::full().rgb_f32()),
        draws: draw_tables(gpu, keys, &distribution),
        distribution,
        anchor_rgb: gpu.floats(&ColorCube::primaries().rgb_f32()),
        losses: Some(gpu.floats(&losses)),
    }
}

/// Every run's key, then the distribution's tables, as [`kernel::train_step`] reads them.
fn draw_tables(gpu: &Gpu, keys: &[u32], distribution: &BatchDistribution) -> Tensor<1, Int> {
    let guided;
    let distribution = if distribution.has_guide() {
        distribution
    } else {
        guided = distribution.clone().with_guide();
        &guided
    };
    let tables = distribution.tables();
    let all = [keys, tables[0], tables[1], tables[2]].concat();
    gpu.words(&all)
}
