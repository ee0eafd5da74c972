//! The whole training step of every run as one CubeCL kernel: one cube (workgroup) per run,
//! its units striding over the batch's rows.
//!
//! A transliteration of the step's one definition ([`crate::step`]): the same layers, the same
//! loss terms with the same scales, the same Adam, under the same names (`gelu_and_slope`,
//! `sigmoid`, one function per term, `corrections`, `adam_step`) and with the same constants
//! (the model's layout, the erf polynomial, Adam's β and ε, separation's ε). The activations,
//! the forward pass, the layers' backward pass, each loss term and Adam are tested against
//! their host twins (`twins`, on any Vulkan device: lavapipe in CI), and the whole step against
//! the CPU engine (tests/gpu_step.rs, tests/conformance.rs). The order of the sums differs (a tree over the cube, not lanes over
//! the batch), so the two agree to float rounding, not bit for bit.
//!
//! Inside the kernel a step is five passes with a barrier between each:
//! 1. when the `anchor` action fires, the anchor colours' latents become the reference;
//! 2. every row's colour, drawn as [`crate::sampler`] draws it (the primaries in phase 1), and
//!    its latents, to scratch (the separation term needs them all);
//! 3. each row again: the forward pass, its share of every loss term, and its backward pass
//!    down to each layer's output gradient (to scratch);
//! 4. the loss terms summed over the cube;
//! 5. each parameter's gradient summed over the rows, then Adam, when the total is finite
//!    and > 0. A non-finite total puts the run back to the start of its previous step and
//!    stops it, as the CPU sweep does.

use cubecl::prelude::*;

/// Units per cube. WebGPU promises at least 256 invocations per workgroup.
pub const UNITS: u32 = 256;
use crate::step::activation::{ERF_A1, ERF_A2, ERF_A3, ERF_A4, ERF_A5, ERF_P, PDF_PEAK};
use crate::step::adam::{BETA_1, BETA_2, EPSILON as ADAM_EPSILON};
use crate::step::layout::LOSS_VALUES;
/// The model's hidden width and parameter count: one definition, the step's.
pub use crate::step::layout::{parameter_count, HIDDEN};
use crate::step::loss::SEPARATION_EPSILON;
/// Floats of scratch per row: the input, latents, both hidden layers' outputs, and the
/// gradient at each layer's output.
pub const fn scratch_features(dims: usize) -> usize {
    3 + dims + HIDDEN + HIDDEN + 3 + HIDDEN + dims + HIDDEN
}
/// Per run: the losses (total, five terms), whether the update was applied, and the step
/// the run failed at plus one (0 while it has not).
pub const LOSS_SLOTS: usize = LOSS_VALUES + 2;

/// One run's state, in one block of floats so that a step binds few buffers (WebGPU allows
/// as few as 8 storage buffers per shader): the parameters and Adam's two moments (in
/// `RunState::packed`'s order) and the update count, the same four as they were at the start
/// of the last finite step, and the anchor reference.
#[derive(Debug, Clone, Copy)]
pub struct StateLayout {
    pub params: usize,
    pub moment_1: usize,
    pub moment_2: usize,
    pub updates: usize,
    pub previous: usize,
    pub anchor_reference: usize,
    pub len: usize,
}

impl StateLayout {
    pub const fn of(dims: usize) -> Self {
        let n = parameter_count(dims);
        StateLayout {
            params: 0,
            moment_1: n,
            moment_2: 2 * n,
            updates: 3 * n,
            previous: 3 * n + 1,
            anchor_reference: 6 * n + 2,
            len: 6 * n + 2 + 6 * dims,
        }
    }
}

/// Where each feature sits in a run's scratch, feature-major (feature f of row k at
/// f · rows + k); the input is at 0.
#[derive(CubeType, Clone, Copy)]
struct Features {
    latents: usize,
    hidden_1: usize,
    hidden_2: usize,
    d_outputs: usize,
    d_hidden_2: usize,
    d_latents: usize,
    d_hidden_1: usize,
}

#[cube]
fn features(#[comptime] dims: usize) -> Features {
    let latents = 3usize;
    let hidden_1 = latents + dims;
    let hidden_2 = hidden_1 + HIDDEN;
    let d_outputs = hidden_2 + HIDDEN;
    let d_hidden_2 = d_outputs + 3;
    let d_latents = d_hidden_2 + HIDDEN;
    let d_hidden_1 = d_latents + dims;
    Features {
        latents,
        hidden_1,
        hidden_2,
        d_outputs,
        d_hidden_2,
        d_latents,
        d_hidden_1,
    }
}

/// Where each layer's weight (`[inputs, outputs]`, row-major) and bias start in a run's
/// flat parameters.
#[derive(CubeType, Clone, Copy)]
struct Layout {
    w1: usize,
    b1: usize,
    w2: usize,
    b2: usize,
    w3: usize,
    b3: usize,
    w4: usize,
    b4: usize,
}

#[cube]
fn layout(#[comptime] dims: usize) -> Layout {
    let w1 = 0usize;
    let b1 = w1 + 3 * HIDDEN;
    let w2 = b1 + HIDDEN;
    let b2 = w2 + HIDDEN * dims;
    let w3 = b2 + dims;
    let b3 = w3 + dims * HIDDEN;
    let w4 = b3 + HIDDEN;
    let b4 = w4 + HIDDEN * 3;
    Layout {
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
        w4,
        b4,
    }
}

/// [`activation::gelu_and_slope`](crate::step::activation::gelu_and_slope).
#[cube]
fn gelu_and_slope(x: f32) -> (f32, f32) {
    let z: f32 = f32::abs(x) * 0.707_106_77f32;
    let t: f32 = 1.0f32 / (1.0f32 + ERF_P * z);
    let poly: f32 = t * (ERF_A1 + t * (ERF_A2 + t * (ERF_A3 + t * (ERF_A4 + t * ERF_A5))));
    let gauss: f32 = f32::exp(-0.5f32 * x * x);
    let erf_abs: f32 = 1.0f32 - poly * gauss;
    let mut erf: f32 = erf_abs;
    if x < 0.0f32 {
        erf = -erf_abs;
    }
    let cdf: f32 = 0.5f32 * (1.0f32 + erf);
    let pdf: f32 = gauss * PDF_PEAK;
    (x * cdf, cdf + x * pdf)
}

/// [`activation::sigmoid`](crate::step::activation::sigmoid).
#[cube]
fn sigmoid(x: f32) -> f32 {
    let e = f32::exp(-f32::abs(x));
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

/// `base^exponent` by repeated squaring, as the CPU's `powi` computes it. Not `powf`: a GPU's
/// is a few ulp off, and in Adam's 1 − β₂ᵗ that error is a thousand times larger.
#[cube]
fn powi(base: f32, exponent: u32) -> f32 {
    let mut result = 1.0f32;
    let mut square = base;
    let mut rest = exponent;
    while rest > 0 {
        if (rest & 1) != 0 {
            result *= square;
        }
        rest /= 2;
        if rest > 0 {
            square *= square;
        }
    }
    result
}

/// [`adam::corrections`](crate::step::adam::corrections): the factor on the first moment and
/// the ε beside √(second moment) for update `time` (from 1).
#[cube]
fn corrections(time: u32) -> (f32, f32) {
    let correction_2 = f32::sqrt(1.0f32 - powi(BETA_2, time));
    (
        correction_2 / (1.0f32 - powi(BETA_1, time)),
        ADAM_EPSILON * correction_2,
    )
}

/// [`adam::adam_step`](crate::step::adam::adam_step): `(parameter, moment 1, moment 2)` after
/// gradient `g`.
#[cube]
fn adam_step(
    param: f32,
    g: f32,
    m1: f32,
    m2: f32,
    lr: f32,
    combined: f32,
    epsilon: f32,
) -> (f32, f32, f32) {
    let m1 = m1 * BETA_1 + g * (1.0f32 - BETA_1);
    let m2 = m2 * BETA_2 + g * g * (1.0f32 - BETA_2);
    let update = (m1 * combined) / (f32::sqrt(m2) + epsilon);
    (param - update * lr, m1, m2)
}

/// Activations of one row through the model.
#[derive(CubeType)]
struct Row {
    input: Array<f32>,
    hidden_1: Array<f32>,
    slope_1: Array<f32>,
    latents: Array<f32>,
    hidden_2: Array<f32>,
    slope_2: Array<f32>,
    outputs: Array<f32>,
}

#[cube]
fn new_row(#[comptime] dims: usize) -> Row {
    Row {
        input: Array::new(3usize),
        hidden_1: Array::new(HIDDEN),
        slope_1: Array::new(HIDDEN),
        latents: Array::new(dims),
        hidden_2: Array::new(HIDDEN),
        slope_2: Array::new(HIDDEN),
        outputs: Array::new(3usize),
    }
}

/// `y = x · W + b` for one row, `W` (`[inputs, outputs]`, row-major) at `weight` and `b` at
/// `bias` in `state`. The loops are left to the shader compiler: unrolled here they made a
/// shader SwiftShader took 4 s to compile before the first step (2 s without), at the same
/// speed on lavapipe.
#[cube]
fn dense(
    state: &mut [f32],
    weight: usize,
    bias: usize,
    x: &Array<f32>,
    y: &mut Array<f32>,
    #[comptime] inputs: usize,
    #[comptime] outputs: usize,
) {
    for o in 0..outputs {
        let mut v = state[bias + o];
        for i in 0..inputs {
            v += x[i] * state[weight + i * outputs + o];
        }
        y[o] = v;
    }
}

/// `dx += W · dy` for one row: the gradient at a dense layer's input, from the one at its
/// output.
#[cube]
fn dense_backward(
    state: &mut [f32],
    weight: usize,
    dy: &Array<f32>,
    dx: &mut Array<f32>,
    #[comptime] inputs: usize,
    #[comptime] outputs: usize,
) {
    for i in 0..inputs {
        let mut v = dx[i];
        for o in 0..outputs {
            v += state[weight + i * outputs + o] * dy[o];
        }
        dx[i] = v;
    }
}

/// GELU over `values` in place, keeping each slope.
#[cube]
fn gelu(values: &mut Array<f32>, slopes: &mut Array<f32>, #[comptime] n: usize) {
    for i in 0..n {
        let (g, s) = gelu_and_slope(values[i]);
        values[i] = g;
        slopes[i] = s;
    }
}

/// `row.input` through the model whose parameters start at `p`.
#[cube]
fn forward(state: &mut [f32], p: usize, row: &mut Row, #[comptime] dims: usize) {
    let l = layout(dims);
    dense(
        state,
        p + l.w1,
        p + l.b1,
        &row.input,
        &mut row.hidden_1,
        3usize,
        HIDDEN,
    );
    gelu(&mut row.hidden_1, &mut row.slope_1, HIDDEN);
    dense(
        state,
        p + l.w2,
        p + l.b2,
        &row.hidden_1,
        &mut row.latents,
        HIDDEN,
        dims,
    );
    dense(
        state,
        p + l.w3,
        p + l.b3,
        &row.latents,
        &mut row.hidden_2,
        dims,
        HIDDEN,
    );
    gelu(&mut row.hidden_2, &mut row.slope_2, HIDDEN);
    dense(
        state,
        p + l.w4,
        p + l.b4,
        &row.hidden_2,
        &mut row.outputs,
        HIDDEN,
        3usize,
    );
    #[unroll]
    for c in 0..3usize {
        row.outputs[c] = sigmoid(row.outputs[c]);
    }
}

/// Separation's ε as the host step rounds it.
const SEPARATION_EPSILON_F32: f32 = SEPARATION_EPSILON as f32;

// The loss terms, one function each as `step/loss/*.rs` has them: a batch row's share of the
// term's sum (the caller scales the sum over the rows) and `weight ·` its gradient, scaled,
// added to the row's gradient. `slope` is the weight times the term's own scale.

/// [`loss::reconstruction`](crate::step::loss): the row's squared error.
#[cube]
fn reconstruction(row: &Row, d_outputs: &mut Array<f32>, slope: f32) -> f32 {
    let mut sum = 0.0f32;
    #[unroll]
    for c in 0..3usize {
        let d = row.outputs[c] - row.input[c];
        sum += d * d;
        d_outputs[c] += slope * d;
    }
    sum
}

/// [`loss::separation`](crate::step::loss): 1 / (d² + ε) to every other row of the batch in
/// dims 0 and 1, whose latents lie at `x_at` and `y_at`, one per row.
#[cube]
#[allow(clippy::too_many_arguments)]
fn separation(
    latents: &mut [f32],
    x_at: usize,
    y_at: usize,
    k: usize,
    batch_rows: usize,
    row: &Row,
    d_latents: &mut Array<f32>,
    slope: f32,
) -> f32 {
    let x = row.latents[0];
    let y = row.latents[1];
    let mut sum = 0.0f32;
    let mut gx = 0.0f32;
    let mut gy = 0.0f32;
    for other in 0..batch_rows {
        if other != k {
            let dx = x - latents[x_at + other];
            let dy = y - latents[y_at + other];
            let inverse = 1.0f32 / (dx * dx + dy * dy + SEPARATION_EPSILON_F32);
            sum += inverse;
            let pull = inverse * inverse;
            gx += pull * dx;
            gy += pull * dy;
        }
    }
    d_latents[0] += slope * gx;
    d_latents[1] += slope * gy;
    sum
}

/// [`loss::planarity`](crate::step::loss): the squares of the dims after the first two.
#[cube]
fn planarity(row: &Row, d_latents: &mut Array<f32>, slope: f32, #[comptime] dims: usize) -> f32 {
    let mut sum = 0.0f32;
    #[unroll]
    for d in 2..dims {
        let v = row.latents[d];
        sum += v * v;
        d_latents[d] += slope * v;
    }
    sum
}

/// [`loss::unit_norm`](crate::step::loss): (|z| − 1)²; a latent at the origin has no
/// direction to be pulled in.
#[cube]
fn unit_norm(row: &Row, d_latents: &mut Array<f32>, slope: f32, #[comptime] dims: usize) -> f32 {
    let mut square = 0.0f32;
    #[unroll]
    for d in 0..dims {
        square += row.latents[d] * row.latents[d];
    }
    let length = f32::sqrt(square);
    let excess = length - 1.0f32;
    if length > 0.0f32 {
        let k = slope * excess / length;
        #[unroll]
        for d in 0..dims {
            d_latents[d] += k * row.latents[d];
        }
    }
    excess * excess
}

/// [`loss::anchor`](crate::step::loss): an anchor row's squared distance from its reference,
/// at `reference_at`.
#[cube]
fn anchor(
    row: &Row,
    state: &mut [f32],
    reference_at: usize,
    d_latents: &mut Array<f32>,
    slope: f32,
    #[comptime] dims: usize,
) -> f32 {
    let mut sum = 0.0f32;
    #[unroll]
    for d in 0..dims {
        let diff = row.latents[d] - state[reference_at + d];
        sum += diff * diff;
        d_latents[d] += slope * diff;
    }
    sum
}

/// [`sampler::mix`](crate::sampler::mix), on the device.
#[cube]
fn mix(x: u32) -> u32 {
    let mut h = x;
    h = h ^ (h >> 17u32);
    h *= 0xed5a_d4bbu32;
    h = h ^ (h >> 11u32);
    h *= 0xac4c_1b51u32;
    h = h ^ (h >> 15u32);
    h *= 0x3184_8babu32;
    h ^ (h >> 14u32)
}

/// The cube index drawn by `bits`: [`BatchDistribution::draw`](crate::sampler::BatchDistribution::draw)
/// over the tables at `at` (running totals, cube indices, guide; `entries` each).
#[cube]
fn draw_colour(draws: &[u32], at: usize, entries: u32, total: u32, bits: u32) -> usize {
    let n = entries as usize;
    let target = u32::mul_hi(bits, total);
    let mut e = draws[at + 2 * n + u32::mul_hi(bits, entries) as usize] as usize;
    loop {
        if draws[at + e] > target {
            break;
        }
        e += 1;
    }
    draws[at + n + e] as usize
}

/// Row `k`'s colour: drawn from the cube with the run's key, or in phase 1 the primaries;
/// after the batch, the anchor colours (the primaries too).
#[cube]
#[allow(clippy::too_many_arguments)]
fn load_input(
    cube_rgb: &[f32],
    draws: &[u32],
    anchor_rgb: &[f32],
    draw: &Draw,
    batch_rows: usize,
    on_primaries: bool,
    k: usize,
    row: &mut Row,
) {
    if k < batch_rows && !on_primaries {
        let bits = mix(mix(k as u32 ^ draw.step_seed));
        let colour = draw_colour(draws, draw.tables_at, draw.entries, draw.total, bits);
        #[unroll]
        for c in 0..3usize {
            row.input[c] = cube_rgb[colour * 3 + c];
        }
    } else {
        let primary = if k < batch_rows { k } else { k - batch_rows };
        #[unroll]
        for c in 0..3usize {
            row.input[c] = anchor_rgb[primary * 3 + c];
        }
    }
}

/// Where a run's rows come from this step.
#[derive(CubeType)]
struct Draw {
    /// [`sampler::step_seed`](crate::sampler::step_seed) of the run's key and the step.
    step_seed: u32,
    tables_at: usize,
    entries: u32,
    total: u32,
}

#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    state: &mut [f32],
    cube_rgb: &[f32],
    // Every run's sampler key (two words each), then the batch distribution's tables.
    draws: &[u32],
    anchor_rgb: &[f32],
    scratch: &mut [f32],
    losses: &mut [f32],
    entries: u32,
    total: u32,
    // The timeline's values at this step, the same for every run.
    batch_rows: u32,
    on_primaries: u32,
    scratch_rows: u32,
    terms_on: u32,
    anchored: u32,
    record_anchor: u32,
    step: u32,
    step_high: u32,
    w_reconstruction: f32,
    w_separation: f32,
    w_planarity: f32,
    w_unit_norm: f32,
    w_anchor: f32,
    lr: f32,
    #[comptime] dims: usize,
) {
    let run = CUBE_POS;
    let unit = UNIT_POS as usize;
    let units = CUBE_DIM as usize;
    let n_params = comptime!(parameter_count(dims));
    let block = comptime!(StateLayout::of(dims).len);
    // The run's parameters, and everything else of its state after them.
    let p = run * block;
    let moments_1 = p + n_params;
    let moments_2 = p + 2 * n_params;
    let updates_at = p + 3 * n_params;
    let previous_at = p + 3 * n_params + 1;
    let out = run * LOSS_SLOTS;
    // A failed run stays where it was put back to. It still walks through every barrier:
    // WGSL wants each reached by the whole workgroup, so no unit may leave early.
    let failed = losses[out + 7] != 0.0f32;
    let l = layout(dims);
    let f = features(dims);
    let batch_rows = batch_rows as usize;
    let rows = if anchored != 0 {
        batch_rows + 6
    } else {
        batch_rows
    };
    let stride = scratch_rows as usize;
    let scratch_at = run * stride * comptime!(scratch_features(dims));
    let key = run * 2;
    let draw = Draw {
        step_seed: mix(mix(draws[key] ^ step) ^ draws[key + 1] ^ step_high),
        tables_at: CUBE_COUNT * 2,
        entries,
        total,
    };
    let on_primaries = on_primaries != 0;
    let reference_at = p + 6 * n_params + 2;
    let mut row = new_row(dims);

    // 1. The anchor reference, before this step's update.
    if record_anchor != 0 && !failed && unit < 6 {
        #[unroll]
        for c in 0..3usize {
            row.input[c] = anchor_rgb[unit * 3 + c];
        }
        forward(state, p, &mut row, dims);
        #[unroll]
        for d in 0..dims {
            state[reference_at + unit * dims + d] = row.latents[d];
        }
    }
    sync_storage();

    // 2. Every row's latents.
    for k in range_stepped(unit, rows, units) {
        load_input(
            cube_rgb,
            draws,
            anchor_rgb,
            &draw,
            batch_rows,
            on_primaries,
            k,
            &mut row,
        );
        forward(state, p, &mut row, dims);
        #[unroll]
        for c in 0..3usize {
            scratch[scratch_at + c * stride + k] = row.input[c];
        }
        #[unroll]
        for d in 0..dims {
            scratch[scratch_at + (f.latents + d) * stride + k] = row.latents[d];
        }
    }
    sync_storage();

    // 3. Each row's share of the loss terms, and its backward pass.
    let on_reconstruction = (terms_on & 1) != 0;
    let on_separation = (terms_on & 2) != 0;
    let on_planarity = (terms_on & 4) != 0;
    let on_unit_norm = (terms_on & 8) != 0;
    let on_anchor = (terms_on & 16) != 0;
    let b = f32::cast_from(batch_rows);
    let reconstruction_slope = w_reconstruction * (2.0f32 / (3.0f32 * b));
    let separation_slope = w_separation * (-4.0f32 / (b * b));
    let flattened = comptime!(if dims > 2 { (dims - 2) as f32 } else { 1.0f32 });
    let planarity_slope = w_planarity * (2.0f32 / (b * flattened));
    let unit_norm_slope = w_unit_norm * (2.0f32 / b);
    let anchor_slope = w_anchor * (2.0f32 / comptime!((6 * dims) as f32));
    let mut sums = Array::<f32>::new(5usize);
    #[unroll]
    for t in 0..5usize {
        sums[t] = 0.0f32;
    }
    let mut d_latents = Array::<f32>::new(dims);
    let mut d_outputs = Array::<f32>::new(3usize);
    let mut d_hidden = Array::<f32>::new(HIDDEN);
    for k in range_stepped(unit, rows, units) {
        // Pass 2 left the row's colour in scratch.
        #[unroll]
        for c in 0..3usize {
            row.input[c] = scratch[scratch_at + c * stride + k];
        }
        forward(state, p, &mut row, dims);
        #[unroll]
        for d in 0..dims {
            d_latents[d] = 0.0f32;
        }
        #[unroll]
        for c in 0..3usize {
            d_outputs[c] = 0.0f32;
        }
        if k < batch_rows {
            if on_reconstruction {
                sums[0] += reconstruction(&row, &mut d_outputs, reconstruction_slope);
            }
            if on_separation {
                let x_at = scratch_at + f.latents * stride;
                sums[1] += separation(
                    scratch,
                    x_at,
                    x_at + stride,
                    k,
                    batch_rows,
                    &row,
                    &mut d_latents,
                    separation_slope,
                );
            }
            if on_planarity {
                sums[2] += planarity(&row, &mut d_latents, planarity_slope, dims);
            }
            if on_unit_norm {
                sums[3] += unit_norm(&row, &mut d_latents, unit_norm_slope, dims);
            }
        } else if on_anchor {
            let at = reference_at + (k - batch_rows) * dims;
            sums[4] += anchor(&row, state, at, &mut d_latents, anchor_slope, dims);
        }
        // Backward through the sigmoid and the decoder's output layer.
        #[unroll]
        for c in 0..3usize {
            let y = row.outputs[c];
            let d = d_outputs[c] * (y * (1.0f32 - y));
            d_outputs[c] = d;
            scratch[scratch_at + (f.d_outputs + c) * stride + k] = d;
        }
        #[unroll]
        for j in 0..HIDDEN {
            d_hidden[j] = 0.0f32;
        }
        dense_backward(state, p + l.w4, &d_outputs, &mut d_hidden, HIDDEN, 3usize);
        #[unroll]
        for j in 0..HIDDEN {
            let d = d_hidden[j] * row.slope_2[j];
            d_hidden[j] = d;
            scratch[scratch_at + (f.hidden_2 + j) * stride + k] = row.hidden_2[j];
            scratch[scratch_at + (f.d_hidden_2 + j) * stride + k] = d;
        }
        // The latents feel the regularisers directly and the decoder through its layer.
        dense_backward(state, p + l.w3, &d_hidden, &mut d_latents, dims, HIDDEN);
        #[unroll]
        for e in 0..dims {
            scratch[scratch_at + (f.d_latents + e) * stride + k] = d_latents[e];
        }
        #[unroll]
        for j in 0..HIDDEN {
            d_hidden[j] = 0.0f32;
        }
        dense_backward(state, p + l.w2, &d_latents, &mut d_hidden, HIDDEN, dims);
        #[unroll]
        for j in 0..HIDDEN {
            scratch[scratch_at + (f.hidden_1 + j) * stride + k] = row.hidden_1[j];
            scratch[scratch_at + (f.d_hidden_1 + j) * stride + k] = d_hidden[j] * row.slope_1[j];
        }
    }

    // 4. The terms over the cube: a tree in shared memory.
    let mut shared = Shared::<[f32]>::new_slice(comptime!(5 * UNITS as usize));
    #[unroll]
    for t in 0..5usize {
        shared[t * units + unit] = sums[t];
    }
    sync_cube();
    let mut half = units / 2;
    while half > 0 {
        if unit < half {
            #[unroll]
            for t in 0..5usize {
                shared[t * units + unit] += shared[t * units + unit + half];
            }
        }
        sync_cube();
        half /= 2;
    }
    let reconstruction = shared[0] / (3.0f32 * b);
    let separation = shared[units] / (b * b);
    let planarity = shared[2 * units] / (b * flattened);
    let unit_norm = shared[3 * units] / b;
    let anchor = shared[4 * units] / comptime!((6 * dims) as f32);
    let mut total = 0.0f32;
    let mut any_on = false;
    if on_reconstruction {
        total += reconstruction * w_reconstruction;
        any_on = true;
    }
    if on_separation {
        total += separation * w_separation;
        any_on = true;
    }
    if on_planarity {
        total += planarity * w_planarity;
        any_on = true;
    }
    if on_unit_norm {
        total += unit_norm * w_unit_norm;
        any_on = true;
    }
    if on_anchor {
        total += anchor * w_anchor;
        any_on = true;
    }
    let finite = !(f32::is_nan(total) || f32::is_inf(total));
    let update = any_on && finite && total > 0.0f32 && !failed;
    if unit == 0 && !failed {
        losses[out] = total;
        losses[out + 1] = if on_reconstruction {
            reconstruction
        } else {
            0.0f32
        };
        losses[out + 2] = if on_separation { separation } else { 0.0f32 };
        losses[out + 3] = if on_planarity { planarity } else { 0.0f32 };
        losses[out + 4] = if on_unit_norm { unit_norm } else { 0.0f32 };
        losses[out + 5] = if on_anchor { anchor } else { 0.0f32 };
        losses[out + 6] = if update { 1.0f32 } else { 0.0f32 };
        if !finite {
            losses[out + 7] = f32::cast_from(step) + 1.0f32;
        }
    }
    let kept = n_params * 3;
    sync_storage();

    // 5. Each parameter's gradient, then Adam.
    let time = u32::cast_from(state[updates_at]) + 1;
    let (combined, epsilon) = corrections(time);
    if !finite && !failed {
        // Back to the start of the previous step, whose loss was finite.
        for q in range_stepped(unit, kept + 1, units) {
            state[p + q] = state[previous_at + q];
        }
    }
    let steps = finite && !failed;
    if steps {
        for q in range_stepped(unit, n_params, units) {
            // Which layer, and which input and output of it.
            let mut x_feature = 0usize;
            let mut d_feature = f.d_outputs;
            let mut bias = false;
            if q < l.b1 {
                x_feature = q / HIDDEN;
                d_feature = f.d_hidden_1 + q % HIDDEN;
            } else if q < l.w2 {
                bias = true;
                d_feature = f.d_hidden_1 + (q - l.b1);
            } else if q < l.b2 {
                x_feature = f.hidden_1 + (q - l.w2) / dims;
                d_feature = f.d_latents + (q - l.w2) % dims;
            } else if q < l.w3 {
                bias = true;
                d_feature = f.d_latents + (q - l.b2);
            } else if q < l.b3 {
                x_feature = f.latents + (q - l.w3) / HIDDEN;
                d_feature = f.d_hidden_2 + (q - l.w3) % HIDDEN;
            } else if q < l.w4 {
                bias = true;
                d_feature = f.d_hidden_2 + (q - l.b3);
            } else if q < l.b4 {
                x_feature = f.hidden_2 + (q - l.w4) / 3;
                d_feature = f.d_outputs + (q - l.w4) % 3;
            } else {
                bias = true;
                d_feature += q - l.b4;
            }
            let d_at = scratch_at + d_feature * stride;
            let x_at = scratch_at + x_feature * stride;
            let mut g = 0.0f32;
            if bias {
                for k in 0..rows {
                    g += scratch[d_at + k];
                }
            } else {
                for k in 0..rows {
                    g += scratch[x_at + k] * scratch[d_at + k];
                }
            }
            let param = state[p + q];
            let m1 = state[moments_1 + q];
            let m2 = state[moments_2 + q];
            state[previous_at + q] = param;
            state[previous_at + n_params + q] = m1;
            state[previous_at + 2 * n_params + q] = m2;
            if update {
                let (param, m1, m2) = adam_step(param, g, m1, m2, lr, combined, epsilon);
                state[moments_1 + q] = m1;
                state[moments_2 + q] = m2;
                state[p + q] = param;
            }
        }
    }
    // Every unit has read the update count.
    sync_cube();
    if unit == 0 && steps {
        state[previous_at + kept] = state[updates_at];
        if update {
            state[updates_at] = f32::cast_from(time);
        }
    }
}

/// The latents of `colors` (`[rows, 3]`) under run `run`'s weights, into `latents`
/// (`[rows, dims]`): for the video's recordings and phase ends, between steps, without
/// bringing the weights back.
#[cube(launch)]
pub fn infer_latents(
    state: &mut [f32],
    colors: &[f32],
    latents: &mut [f32],
    run: u32,
    rows: u32,
    #[comptime] dims: usize,
) {
    let p = run as usize * comptime!(StateLayout::of(dims).len);
    let mut row = new_row(dims);
    for k in range_stepped(UNIT_POS as usize, rows as usize, CUBE_DIM as usize) {
        #[unroll]
        for c in 0..3usize {
            row.input[c] = colors[k * 3 + c];
        }
        forward(state, p, &mut row, dims);
        #[unroll]
        for d in 0..dims {
            latents[k * dims + d] = row.latents[d];
        }
    }
}

/// `to` = `from`: where a step must not write over a state something else still holds.
#[cube(launch)]
pub fn copy_values(from: &[f32], to: &mut [f32]) {
    let stride = CUBE_COUNT * CUBE_DIM as usize;
    for i in range_stepped(ABSOLUTE_POS, from.len(), stride) {
        to[i] = from[i];
    }
}

#[cfg(all(test, feature = "wgpu"))]
mod twins;
