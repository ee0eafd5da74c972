//! Many runs' training step on a GPU, one kernel launch per step for all of them.
//!
//! Burn's operations on a GPU cost a dispatch each, some three hundred per step of this
//! model, and that dispatch cost, not arithmetic, is what a step takes. Here the host draws
//! every run's batch (the same [`Sweep`] the CPU engine uses, so the streams are the same)
//! and one CubeCL kernel ([`kernel::train_step`]) does the rest for every run: forward, loss
//! terms, backward, Adam. The weights stay on the device; [`GpuSweep::read`] brings them back
//! into the host sweep, whose drawing, judging and checkpoints then work as on the CPU.
//!
//! The kernel runs on Burn's wgpu runtime (the same device, queue and memory pool as Burn's
//! tensors), launched through CubeCL directly rather than as a Burn backend-extension op: its
//! buffers are the engine's own and never become tensors.

pub mod kernel;

use cubecl::prelude::*;
use cubecl::server::Handle;

use crate::data::ColorCube;
use crate::fused_step::{RunState, StepLosses};
use crate::loss::{PerTerm, Term};
use crate::model::parameter_count;
use crate::sweep::{Sweep, SweepConfig};
use crate::timeline::Timeline;
use crate::train::{non_finite, TrainError};

pub use cubecl::client::Client;

/// Where the GPU engine could not be used or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("this device is not a wgpu device")]
    NotWgpu,
    #[error("reading the runs back from the GPU failed: {0}")]
    Read(String),
}

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
    params: Handle,
    moment_1: Handle,
    moment_2: Handle,
    /// Per run: params, moments and update count at the start of the last finite step.
    previous: Handle,
    updates: Handle,
    anchor_rgb: Handle,
    anchor_reference: Handle,
    scratch: Handle,
    losses: Handle,
}

/// A sweep whose steps run on a GPU.
pub struct GpuSweep {
    host: Sweep,
    client: Client,
    device: DeviceRuns,
    batch_size: usize,
    /// Rows of scratch per run.
    scratch_rows: usize,
    /// An `anchor` action has fired: the anchor term has its reference.
    has_anchor: bool,
    /// Which terms the last step computed.
    last_on: Option<PerTerm<bool>>,
    /// The batches of a step, gathered for one upload.
    upload: Vec<f32>,
    /// Launches so far (one per step).
    pub launches: u64,
}

fn handle_of(client: &Client, values: &[f32]) -> Handle {
    client.create_from_slice(f32::as_bytes(values))
}

impl GpuSweep {
    pub fn new(
        timeline: Timeline,
        config: SweepConfig,
        client: Client,
    ) -> Result<Self, TrainError> {
        let host = Sweep::new(timeline, config.clone())?;
        let runs = config.runs;
        let dims = config.latent_dims;
        let scratch_rows = config.batch_size.max(6) + 6;
        let scratch_len = runs * scratch_rows * kernel::scratch_features(dims);
        let states: Vec<&RunState> = (0..runs).map(|r| host.state(r)).collect();
        let device = upload(&client, &states, dims, scratch_len);
        Ok(GpuSweep {
            host,
            client,
            device,
            batch_size: config.batch_size,
            scratch_rows,
            has_anchor: false,
            last_on: None,
            upload: Vec::new(),
            launches: 0,
        })
    }

    /// The host's view of the runs as of the last [`GpuSweep::read`].
    pub fn host(&self) -> &Sweep {
        &self.host
    }

    pub fn step_index(&self) -> u64 {
        self.host.step_index()
    }

    pub fn is_finished(&self) -> bool {
        self.host.is_finished()
    }

    pub fn timeline(&self) -> &Timeline {
        self.host.timeline()
    }

    /// Swaps the schedule under the running models; failed runs get another chance.
    pub fn set_timeline(&mut self, timeline: Timeline) {
        self.host.set_timeline(timeline);
        let runs = self.host.runs().len();
        self.device.losses = handle_of(&self.client, &vec![0.0; runs * kernel::LOSS_SLOTS]);
    }

    /// Queues one step of every run: one upload of the batches and one kernel launch.
    pub fn step(&mut self) {
        let Some(drawn) = self.host.draw_step() else {
            return;
        };
        let runs = self.host.runs().len();
        let dims = self.host.latent_dims();
        let primaries = ColorCube::primaries().rgb_f32();
        let rows = if drawn.on_primaries {
            6
        } else {
            self.batch_size
        };
        self.upload.clear();
        for r in 0..runs {
            if drawn.on_primaries {
                self.upload.extend_from_slice(&primaries);
            } else {
                self.upload.extend_from_slice(self.host.drawn_batch(r));
            }
        }
        self.has_anchor |= drawn.anchor_action;
        let anchored = self.has_anchor && drawn.weights[Term::Anchor] != 0.0;
        let on = PerTerm::from_fn(|t| drawn.weights[t] != 0.0 && t.applies(dims, anchored));
        let terms_on = Term::ALL
            .iter()
            .enumerate()
            .filter(|(_, t)| on[**t])
            .map(|(i, _)| 1u32 << i)
            .sum();
        self.last_on = Some(on);
        let batch = handle_of(&self.client, &self.upload);
        let d = &self.device;
        let n = parameter_count(dims);
        let arg =
            |handle: &Handle, len: usize| unsafe { BufferArg::from_raw_parts(handle.clone(), len) };
        let w = |t: Term| drawn.weights[t] as f32;
        kernel::train_step::launch(
            &self.client,
            CubeCount::Static(runs as u32, 1, 1),
            CubeDim::new_1d(kernel::UNITS),
            arg(&d.params, runs * n),
            arg(&d.moment_1, runs * n),
            arg(&d.moment_2, runs * n),
            arg(&d.previous, runs * (3 * n + 1)),
            unsafe { BufferArg::from_raw_parts(d.updates.clone(), runs) },
            arg(&batch, self.upload.len()),
            arg(&d.anchor_rgb, 18),
            arg(&d.anchor_reference, runs * 6 * dims),
            arg(
                &d.scratch,
                runs * self.scratch_rows * kernel::scratch_features(dims),
            ),
            arg(&d.losses, runs * kernel::LOSS_SLOTS),
            rows as u32,
            (rows * 3) as u32,
            self.scratch_rows as u32,
            terms_on,
            anchored as u32,
            drawn.anchor_action as u32,
            drawn.step as u32,
            w(Term::Reconstruction),
            w(Term::Separation),
            w(Term::Planarity),
            w(Term::UnitNorm),
            w(Term::Anchor),
            drawn.lr as f32,
            dims,
        );
        self.launches += 1;
    }

    /// Brings every run's state back into the host sweep: weights, Adam's state, anchor
    /// reference, the last step's losses, and a failure where a loss went non-finite.
    pub async fn read(&mut self) -> Result<(), GpuError> {
        let d = &self.device;
        let handles = vec![
            d.params.clone(),
            d.moment_1.clone(),
            d.moment_2.clone(),
            d.updates.clone(),
            d.anchor_reference.clone(),
            d.losses.clone(),
        ];
        let bytes = self
            .client
            .read_async(handles)
            .await
            .map_err(|e| GpuError::Read(format!("{e:?}")))?;
        self.mirror(&bytes);
        Ok(())
    }

    /// [`GpuSweep::read`], waiting for it (not in a browser, which cannot block).
    #[cfg(not(target_family = "wasm"))]
    pub fn read_blocking(&mut self) -> Result<(), GpuError> {
        cubecl::future::block_on(self.read())
    }

    fn mirror(&mut self, bytes: &[impl std::ops::Deref<Target = [u8]>]) {
        let dims = self.host.latent_dims();
        let n = parameter_count(dims);
        let f = |i: usize| f32::from_bytes(&bytes[i]);
        let (params, m1, m2) = (f(0), f(1), f(2));
        let updates = u32::from_bytes(&bytes[3]);
        let (reference, losses) = (f(4), f(5));
        for r in 0..self.host.runs().len() {
            let span = r * n..(r + 1) * n;
            let state = RunState {
                params: params[span.clone()].to_vec(),
                moment_1: m1[span.clone()].to_vec(),
                moment_2: m2[span].to_vec(),
                updates: updates[r] as i32,
            };
            let anchor = self
                .has_anchor
                .then(|| reference[r * 6 * dims..(r + 1) * 6 * dims].to_vec());
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
            self.host.mirror(r, state, anchor, last, failure);
        }
    }
}

fn upload(client: &Client, states: &[&RunState], dims: usize, scratch_len: usize) -> DeviceRuns {
    let n = parameter_count(dims);
    let gather = |f: &dyn Fn(&RunState) -> &[f32]| -> Vec<f32> {
        states.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    let params = gather(&|s| &s.params);
    let moment_1 = gather(&|s| &s.moment_1);
    let moment_2 = gather(&|s| &s.moment_2);
    let mut previous = Vec::with_capacity(states.len() * (3 * n + 1));
    for s in states {
        previous.extend_from_slice(&s.params);
        previous.extend_from_slice(&s.moment_1);
        previous.extend_from_slice(&s.moment_2);
        previous.push(s.updates as f32);
    }
    let updates: Vec<u32> = states.iter().map(|s| s.updates as u32).collect();
    DeviceRuns {
        params: handle_of(client, &params),
        moment_1: handle_of(client, &moment_1),
        moment_2: handle_of(client, &moment_2),
        previous: handle_of(client, &previous),
        updates: client.create_from_slice(u32::as_bytes(&updates)),
        anchor_rgb: handle_of(client, &ColorCube::primaries().rgb_f32()),
        anchor_reference: handle_of(client, &vec![0.0; states.len() * 6 * dims]),
        scratch: client.empty(scratch_len * 4),
        losses: handle_of(client, &vec![0.0; states.len() * kernel::LOSS_SLOTS]),
    }
}
