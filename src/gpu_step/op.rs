//! The GPU engine's two operations as a Burn backend extension on the CubeCL backend: a whole
//! training step of every run ([`GpuTrainStep::gpu_train_step`], one kernel launch), and
//! one run's latents for a set of colours ([`GpuTrainStep::gpu_latents`]).
//!
//! Their tensors are the engine's flat buffers ([`kernel::StateLayout`] run after run, the
//! losses' [`kernel::LOSS_SLOTS`] per run), in the backend's memory pool and on its queue like
//! any of its tensors. The CPU engine's step is the same kind of extension on the CPU backend
//! (`step::op`), one call a step for a block of runs.

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{backend_extension, Backend, Cube, DType, Shape};
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::kernel;

/// What a step takes besides its tensors: the shape of the work, the timeline's values at
/// this step, and the sizes of the sampler's tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepArgs {
    pub runs: u32,
    pub latent_dims: usize,
    /// Rows each run trains on this step: the batch, or the six primaries.
    pub rows: u32,
    pub on_primaries: bool,
    /// Rows of scratch per run (at least the batch and the six anchor colours).
    pub scratch_rows: u32,
    /// Bit `i` set: term `i` of [`crate::step::loss::Term::ALL`] is computed.
    pub terms_on: u32,
    pub anchored: bool,
    /// This step's `anchor` action records each run's reference first.
    pub record_anchor: bool,
    pub step: u64,
    /// Term weights in [`crate::step::loss::Term::ALL`]'s order.
    pub weights: [f32; 5],
    pub lr: f32,
    /// Colours the sampler can draw, and the sum of their integer weights.
    pub entries: u32,
    pub total: u32,
}

impl StepArgs {
    /// Floats of scratch the kernel needs for all runs.
    pub fn scratch_len(&self) -> usize {
        self.runs as usize * self.scratch_rows as usize * kernel::scratch_features(self.latent_dims)
    }
}

#[backend_extension(Cube)]
pub trait GpuTrainStep: Backend {
    /// One step of every run. `state` and `losses` are taken and given back updated (in place
    /// where nothing else holds them); `cube_rgb` is the HSV cube's colours, `draws` every
    /// run's sampler key then the sampler's tables, `anchor_rgb` the six primaries.
    fn gpu_train_step(
        state: FloatTensor<Self>,
        losses: FloatTensor<Self>,
        cube_rgb: FloatTensor<Self>,
        draws: IntTensor<Self>,
        anchor_rgb: FloatTensor<Self>,
        args: StepArgs,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The latents (`[rows, dims]`, flat) of `colors` (`[rows, 3]`, flat) under run `run`'s
    /// weights in `state`.
    fn gpu_latents(
        state: FloatTensor<Self>,
        colors: FloatTensor<Self>,
        run: u32,
        latent_dims: usize,
    ) -> FloatTensor<Self>;
}

/// The tensor's buffer as a kernel argument of its length.
fn arg(tensor: &CubeTensor) -> BufferArg {
    let len = tensor.meta.shape().num_elements();
    // SAFETY: a contiguous tensor's buffer holds its `len` elements (`writable`, and every
    // tensor of the engine is made whole from data or by `empty`).
    unsafe { BufferArg::from_raw_parts(tensor.handle.clone(), len) }
}

/// The tensor itself where nothing else holds its buffer, else a copy: the kernel writes it.
///
/// The copy is the engine's own kernel, not Burn's: Burn's elementwise copy carries its
/// quantised-view machinery, 0.13 MB gzipped in the page's WebGPU module (measured).
fn writable(tensor: CubeTensor) -> CubeTensor {
    if tensor.can_mut() && tensor.is_contiguous() {
        return tensor;
    }
    let len = tensor.meta.shape().num_elements();
    let copy = empty_like(&tensor, len);
    kernel::copy_values::launch(
        &tensor.client,
        CubeCount::Static(len.div_ceil(kernel::UNITS as usize).min(1024) as u32, 1, 1),
        CubeDim::new_1d(kernel::UNITS),
        arg(&tensor),
        arg(&copy),
    );
    copy
}

fn empty_like(of: &CubeTensor, len: usize) -> CubeTensor {
    let handle = of.client.empty(len * 4);
    CubeTensor::new_contiguous(
        of.client.clone(),
        of.device.clone(),
        Shape::new([len]),
        handle,
        DType::F32,
    )
}

impl GpuTrainStep for Cube {
    fn gpu_train_step(
        state: CubeTensor,
        losses: CubeTensor,
        cube_rgb: CubeTensor,
        draws: CubeTensor,
        anchor_rgb: CubeTensor,
        args: StepArgs,
    ) -> (CubeTensor, CubeTensor) {
        let (state, losses) = (writable(state), writable(losses));
        // From the memory pool: the previous step's block, once it is done with.
        let scratch = empty_like(&state, args.scratch_len());
        let [reconstruction, separation, planarity, unit_norm, anchor] = args.weights;
        kernel::train_step::launch(
            &state.client,
            CubeCount::Static(args.runs, 1, 1),
            CubeDim::new_1d(kernel::UNITS),
            arg(&state),
            arg(&cube_rgb),
            arg(&draws),
            arg(&anchor_rgb),
            arg(&scratch),
            arg(&losses),
            args.entries,
            args.total,
            args.rows,
            args.on_primaries as u32,
            args.scratch_rows,
            args.terms_on,
            args.anchored as u32,
            args.record_anchor as u32,
            args.step as u32,
            (args.step >> 32) as u32,
            reconstruction,
            separation,
            planarity,
            unit_norm,
            anchor,
            args.lr,
            args.latent_dims,
        );
        (state, losses)
    }

    fn gpu_latents(
        state: CubeTensor,
        colors: CubeTensor,
        run: u32,
        latent_dims: usize,
    ) -> CubeTensor {
        let rows = colors.meta.shape().num_elements() / 3;
        let latents = empty_like(&state, rows * latent_dims);
        kernel::infer_latents::launch(
            &state.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(kernel::UNITS),
            arg(&state),
            arg(&colors),
            arg(&latents),
            run,
            rows as u32,
            latent_dims,
        );
        latents
    }
}
