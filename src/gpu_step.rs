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
//! The kernel runs on Burn's wgpu runtime (the same device, queue and memory pool as Burn's
//! tensors), launched through CubeCL directly rather than as a Burn backend-extension op: its
//! buffers are the engine's own and never become tensors.

pub mod kernel;

use std::sync::Arc;

use cubecl::prelude::*;
use cubecl::server::Handle;

use crate::data::ColorCube;
use crate::fused_step::{RunState, StepLosses};
use crate::loss::{PerTerm, Term};
use crate::model::parameter_count;
use crate::sampler::BatchDistribution;
use crate::sweep::{Sweep, SweepConfig};
use crate::timeline::Timeline;
use crate::train::{non_finite, TrainError};

pub use cubecl::client::Client;
pub use cubecl::server::Handle as DeviceValues;

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
}

/// The most bytes one buffer of the engine takes: WebGPU's default storage binding limit.
const MAX_BUFFER_BYTES: u64 = 128 << 20;

/// The compute client of a Burn wgpu device.
pub fn client_of(device: &burn::prelude::Device) -> Result<Client, GpuError> {
    match device.clone().without_autodiff().as_dispatch() {
        burn::backend::DispatchDevice::Cube(cube) => Ok(cube.client()),
        #[allow(unreachable_patterns)]
        _ => Err(GpuError::NotWgpu),
    }
}

/// Every run's state on the device.
struct DeviceRuns {
    /// Run after run, each in [`kernel::StateLayout`].
    state: Handle,
    cube_rgb: Handle,
    /// Every run's sampler key, then the tables of [`DeviceRuns::distribution`].
    draws: Handle,
    distribution: Arc<BatchDistribution>,
    anchor_rgb: Handle,
    scratch: Handle,
    losses: Handle,
}

/// A sweep whose steps run on a GPU.
pub struct GpuSweep {
    host: Sweep,
    client: Client,
    device: DeviceRuns,
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

fn handle_of(client: &Client, values: &[f32]) -> Handle {
    client.create_from_slice(f32::as_bytes(values))
}

impl GpuSweep {
    pub fn new(timeline: Timeline, config: SweepConfig, client: Client) -> Result<Self, GpuError> {
        let host = Sweep::new(timeline, config.clone())?;
        let runs = config.runs;
        let dims = config.latent_dims;
        let scratch_rows = config.batch_size.max(6) + 6;
        let scratch_len = runs * scratch_rows * kernel::scratch_features(dims);
        let limit = MAX_BUFFER_BYTES.min(client.properties().memory.max_page_size);
        let largest = scratch_len.max(runs * kernel::StateLayout::of(dims).len) as u64 * 4;
        if largest > limit {
            return Err(GpuError::TooLarge {
                runs,
                batch: config.batch_size,
                bytes: largest,
                limit,
            });
        }
        let states: Vec<&RunState> = (0..runs).map(|r| host.state(r)).collect();
        let keys: Vec<u32> = host.sampler_keys().into_iter().flatten().collect();
        let distribution = host.batch_distribution().clone();
        let device = upload(&client, &states, &keys, distribution, dims, scratch_len);
        Ok(GpuSweep {
            host,
            client,
            device,
            scratch_rows,
            has_anchor: false,
            last_on: None,
            batch_size: config.batch_size,
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
        self.device.losses = handle_of(&self.client, &vec![0.0; runs * kernel::LOSS_SLOTS]);
    }

    /// Queues one step of every run: one kernel launch, and an upload of the sampler's
    /// tables when data-fraction moved.
    pub fn step(&mut self) {
        // Batch t is drawn with the weights of step t−1's data-fraction.
        let distribution = self.host.batch_distribution().clone();
        let Some(planned) = self.host.plan_step() else {
            return;
        };
        if !Arc::ptr_eq(&distribution, &self.device.distribution) {
            self.device.draws = draw_tables(&self.client, &self.keys, &distribution);
            self.device.distribution = distribution;
        }
        let runs = self.host.runs().len();
        let dims = self.host.latent_dims();
        let rows = if planned.on_primaries {
            6
        } else {
            self.batch_size
        };
        self.has_anchor |= planned.anchor_action;
        let anchored = self.has_anchor && planned.weights[Term::Anchor] != 0.0;
        let on = Term::computed(&planned.weights, dims, anchored);
        let terms_on = Term::ALL
            .iter()
            .enumerate()
            .filter(|(_, t)| on[**t])
            .map(|(i, _)| 1u32 << i)
            .sum();
        self.last_on = Some(on);
        let d = &self.device;
        let table = &d.distribution;
        // SAFETY: each buffer was made with at least `len` elements (`upload`, `draw_tables`).
        let arg =
            |handle: &Handle, len: usize| unsafe { BufferArg::from_raw_parts(handle.clone(), len) };
        let w = |t: Term| planned.weights[t] as f32;
        kernel::train_step::launch(
            &self.client,
            CubeCount::Static(runs as u32, 1, 1),
            CubeDim::new_1d(kernel::UNITS),
            arg(&d.state, runs * kernel::StateLayout::of(dims).len),
            arg(&d.cube_rgb, ColorCube::full().len() * 3),
            arg(&d.draws, self.keys.len() + 3 * table.entries()),
            arg(&d.anchor_rgb, 18),
            arg(
                &d.scratch,
                runs * self.scratch_rows * kernel::scratch_features(dims),
            ),
            arg(&d.losses, runs * kernel::LOSS_SLOTS),
            table.entries() as u32,
            table.total(),
            rows as u32,
            planned.on_primaries as u32,
            self.scratch_rows as u32,
            terms_on,
            anchored as u32,
            planned.anchor_action as u32,
            planned.step as u32,
            (planned.step >> 32) as u32,
            w(Term::Reconstruction),
            w(Term::Separation),
            w(Term::Planarity),
            w(Term::UnitNorm),
            w(Term::Anchor),
            planned.lr as f32,
            dims,
        );
        self.launches += 1;
    }

    /// The latents of `colors` (`[rows, 3]`) under run `run`'s weights as they stand after
    /// the steps queued so far: one more launch, read with the next [`GpuSweep::read_values`].
    pub fn queue_latents(&mut self, run: usize, colors: &[f32]) -> Handle {
        let dims = self.host.latent_dims();
        let rows = colors.len() / 3;
        let input = handle_of(&self.client, colors);
        let output = self.client.empty(rows * dims * 4);
        let runs = self.host.runs().len();
        // SAFETY: the state holds `runs` blocks; `input` and `output` were made just above.
        let arg =
            |handle: &Handle, len: usize| unsafe { BufferArg::from_raw_parts(handle.clone(), len) };
        kernel::infer_latents::launch(
            &self.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(kernel::UNITS),
            arg(&self.device.state, runs * kernel::StateLayout::of(dims).len),
            arg(&input, colors.len()),
            arg(&output, rows * dims),
            run as u32,
            rows as u32,
            dims,
        );
        self.launches += 1;
        output
    }

    /// A read of every run's state (weights, Adam's state, anchor reference, the last
    /// step's losses and failures) and of `extra` (from [`GpuSweep::queue_latents`]), as raw
    /// bytes, for [`GpuSweep::accept`]. Owns what it needs, so nothing of the sweep is
    /// borrowed while it waits.
    pub fn read_values(
        &self,
        extra: Vec<Handle>,
    ) -> impl std::future::Future<Output = Result<Vec<Vec<u8>>, GpuError>> + 'static {
        let d = &self.device;
        let mut handles = vec![d.state.clone(), d.losses.clone()];
        handles.extend(extra);
        let client = self.client.clone();
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

    /// The host sweep, to go on on the CPU (after a lost GPU) from the last read.
    pub fn into_host(self) -> Sweep {
        self.host
    }

    fn mirror(&mut self, bytes: &[impl std::ops::Deref<Target = [u8]>]) {
        let dims = self.host.latent_dims();
        let n = parameter_count(dims);
        let layout = kernel::StateLayout::of(dims);
        let (state, losses) = (f32::from_bytes(&bytes[0]), f32::from_bytes(&bytes[1]));
        for r in 0..self.host.runs().len() {
            let block = &state[r * layout.len..(r + 1) * layout.len];
            let run_state = RunState {
                params: block[layout.params..layout.params + n].to_vec(),
                moment_1: block[layout.moment_1..layout.moment_1 + n].to_vec(),
                moment_2: block[layout.moment_2..layout.moment_2 + n].to_vec(),
                updates: block[layout.updates] as i32,
            };
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
    client: &Client,
    states: &[&RunState],
    keys: &[u32],
    distribution: Arc<BatchDistribution>,
    dims: usize,
    scratch_len: usize,
) -> DeviceRuns {
    let layout = kernel::StateLayout::of(dims);
    let mut state = Vec::with_capacity(states.len() * layout.len);
    for s in states {
        let current = [&s.params[..], &s.moment_1, &s.moment_2, &[s.updates as f32]].concat();
        // The previous step's copy starts as the current state.
        state.extend_from_slice(&current);
        state.extend_from_slice(&current);
        state.extend(std::iter::repeat_n(0.0, 6 * dims));
    }
    DeviceRuns {
        state: handle_of(client, &state),
        cube_rgb: handle_of(client, &ColorCube::full().rgb_f32()),
        draws: draw_tables(client, keys, &distribution),
        distribution,
        anchor_rgb: handle_of(client, &ColorCube::primaries().rgb_f32()),
        scratch: client.empty(scratch_len * 4),
        losses: handle_of(client, &vec![0.0; states.len() * kernel::LOSS_SLOTS]),
    }
}

/// Every run's key, then the distribution's tables, as [`kernel::train_step`] reads them.
fn draw_tables(client: &Client, keys: &[u32], distribution: &BatchDistribution) -> Handle {
    let guided;
    let distribution = if distribution.has_guide() {
        distribution
    } else {
        guided = distribution.clone().with_guide();
        &guided
    };
    let tables = distribution.tables();
    let all = [keys, tables[0], tables[1], tables[2]].concat();
    client.create_from_slice(u32::as_bytes(&all))
}
