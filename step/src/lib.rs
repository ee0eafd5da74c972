//! One definition of a training step, on host values: the model's forward pass, the
//! objective, the backward pass and Adam, in one pass over flat buffers.
//!
//! It is a crate of its own so that it can be optimised for speed where the rest of the
//! browser's CPU module is optimised for size (Cargo.toml's `[profile.web-cpu]`): this is the
//! code every training step runs. color-bottleneck re-exports it as `color_bottleneck::step`.
//!
//! The parts live beside this file, each written once:
//! - [`layout`]: the model's shape, the flat parameter layout, the seeded initial weights;
//! - [`activation`]: GELU with its slope, and the sigmoid;
//! - [`loss`]: the term table, each term's value beside its gradient, and the weighted total;
//! - [`adam`]: the update;
//! - [`sampler`]: which colours each step's batch draws (the kernel draws the same rows).
//!
//! Here the four layers run as plain loops over the batch and the gradient is written out by
//! hand, forward and backward side by side. The GPU kernel (`gpu_step/kernel.rs`) is this step
//! transliterated to CubeCL, pass by pass, with the same names and constants. The oracle
//! (color-bottleneck's `reference.rs`) shares none of this mathematics, only the layout and
//! the seeded initial weights: it trains with Burn's layers, autodiff and Adam, and
//! `tests/conformance.rs` holds every engine to it.
//!
//! **The update rule.** A step updates the weights when some term was computed and the total
//! is finite and > 0 ([`updates_weights`]). **The non-finite rule.** A non-finite total at step
//! t means step t − 1's update broke the run: the engine puts the run back to the weights and
//! Adam state that step t − 1 started from (whose loss was finite) and stops it there
//! (the sweep's stepping on the CPU, the kernel's last pass on the GPU, the oracle the
//! same); *Apply live* goes on from those weights.
//!
//! A run's state is one buffer: the parameters, then Adam's two moments
//! ([`RunState::packed`]). The CPU engine calls the step through a Burn backend extension on
//! the CPU backend (color-bottleneck's `step::op`), on a tensor holding that buffer.

pub mod activation;
pub mod adam;
pub mod layout;
pub mod loss;
pub mod sampler;

use activation::{gelu_and_slope, sigmoid};
use adam::adam_update;
use layout::layer_shapes;
use loss::{HostBatch, HostGradient, PerTerm, Term};

/// Whether a step with this objective updates the weights: some term was computed, and the
/// total is finite and > 0 (the notebook skips an update whose loss is not positive).
pub fn updates_weights(objective: &loss::Objective) -> bool {
    objective.computed.0.contains(&true) && objective.total.is_finite() && objective.total > 0.0
}

/// Where each layer's weight and bias sit in the flat parameters.
///
/// Activations here are feature-major, `[features][rows]`: every inner loop runs over the
/// batch's rows, the long axis, so it vectorises.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: usize,
    bias: usize,
}

impl Layer {
    pub fn all(latent_dims: usize) -> [Layer; 4] {
        let mut at = 0;
        layer_shapes(latent_dims).map(|(inputs, outputs)| {
            let layer = Layer {
                inputs,
                outputs,
                weight: at,
                bias: at + inputs * outputs,
            };
            at += inputs * outputs + outputs;
            layer
        })
    }

    /// `y = x · W + b` for `rows` rows.
    #[inline(always)]
    fn forward(&self, params: &[f32], x: &[f32], rows: usize, y: &mut Vec<f32>) {
        let w = &params[self.weight..self.bias];
        let b = &params[self.bias..self.bias + self.outputs];
        y.clear();
        y.resize(self.outputs * rows, 0.0);
        for (o, y_o) in y.chunks_exact_mut(rows).enumerate() {
            y_o.fill(b[o]);
            for (i, x_i) in x.chunks_exact(rows).enumerate() {
                axpy(y_o, w[i * self.outputs + o], x_i);
            }
        }
    }

    /// From `dy` (d loss / d y): adds d loss / d W and d loss / d b into `grads`, and writes
    /// d loss / d x into `dx` when asked.
    #[inline(always)]
    pub fn backward(
        &self,
        params: &[f32],
        x: &[f32],
        dy: &[f32],
        rows: usize,
        grads: &mut [f32],
        dx: Option<&mut Vec<f32>>,
    ) {
        let n_out = self.outputs;
        for (o, dy_o) in dy.chunks_exact(rows).enumerate() {
            grads[self.bias + o] += sum(dy_o);
            for (i, x_i) in x.chunks_exact(rows).enumerate() {
                grads[self.weight + i * n_out + o] += dot(x_i, dy_o);
            }
        }
        if let Some(dx) = dx {
            let w = &params[self.weight..self.bias];
            dx.clear();
            dx.resize(self.inputs * rows, 0.0);
            for (i, dx_i) in dx.chunks_exact_mut(rows).enumerate() {
                for (o, dy_o) in dy.chunks_exact(rows).enumerate() {
                    axpy(dx_i, w[i * n_out + o], dy_o);
                }
            }
        }
    }
}

/// `y += a · x`.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Sums in eight lanes, then the lanes in order: vectorised, and the same order every time.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for x in chunks {
        for k in 0..8 {
            lanes[k] += x[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `[rows][columns]` ⇄ `[columns][rows]`.
#[inline(always)]
fn transpose(from: &[f32], columns: usize, to: &mut Vec<f32>) {
    let rows = from.len() / columns;
    to.clear();
    to.resize(from.len(), 0.0);
    for (r, row) in from.chunks_exact(columns).enumerate() {
        for (c, v) in row.iter().enumerate() {
            to[c * rows + r] = *v;
        }
    }
}

/// GELU in place; keeps each slope for the backward pass.
#[inline(always)]
fn gelu(values: &mut [f32], slopes: &mut Vec<f32>) {
    slopes.clear();
    slopes.resize(values.len(), 0.0);
    for (v, s) in values.iter_mut().zip(slopes.iter_mut()) {
        (*v, *s) = gelu_and_slope(*v);
    }
}

/// Buffers one run's step writes, kept between steps so a step allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    /// The batch's rows, then the anchor colours' when the anchor term is on.
    rows: Vec<f32>,
    input: Vec<f32>,
    hidden_1: Vec<f32>,
    slope_1: Vec<f32>,
    latents: Vec<f32>,
    hidden_2: Vec<f32>,
    slope_2: Vec<f32>,
    outputs: Vec<f32>,
    /// Row-major copies for the loss terms, and their gradient.
    latent_rows: Vec<f32>,
    output_rows: Vec<f32>,
    gradient: HostGradient,
    d_a: Vec<f32>,
    d_b: Vec<f32>,
    grads: Vec<f32>,
}

/// The model's latents and reconstructions of `rgb` (`[rows, 3]`), as row-major
/// `(outputs, latents)`.
pub fn infer(params: &[f32], latent_dims: usize, rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut w = Workspace::default();
    forward(params, latent_dims, rgb, &mut w);
    (w.output_rows, w.latent_rows)
}

/// The model's latents of `rgb` (`[rows, 3]`), row-major: [`infer`]'s encoder half, for what
/// shows or records latents only (the page's panels, thumbnails and video, phase ends), at
/// half the cost.
pub fn encode(params: &[f32], latent_dims: usize, rgb: &[f32]) -> Vec<f32> {
    let mut w = Workspace::default();
    encode_into(params, latent_dims, rgb, &mut w);
    transpose(&w.latents, rgb.len() / 3, &mut w.latent_rows);
    w.latent_rows
}

/// The decoder alone: `latents` (`[rows, latent_dims]`, row-major) to RGB, row-major: what
/// the page's decoder map paints.
pub fn decode(params: &[f32], latent_dims: usize, latents: &[f32]) -> Vec<f32> {
    let mut w = Workspace::default();
    let rows = latents.len() / latent_dims;
    transpose(latents, latent_dims, &mut w.latents);
    decode_into(params, latent_dims, rows, &mut w);
    transpose(&w.outputs, rows, &mut w.output_rows);
    w.output_rows
}

/// Runs `rgb` (row-major `[rows, 3]`) through the model, keeping what backward needs.
#[inline(always)]
fn forward(params: &[f32], latent_dims: usize, rgb: &[f32], w: &mut Workspace) {
    let rows = rgb.len() / 3;
    encode_into(params, latent_dims, rgb, w);
    decode_into(params, latent_dims, rows, w);
    transpose(&w.latents, rows, &mut w.latent_rows);
    transpose(&w.outputs, rows, &mut w.output_rows);
}

/// The decoder: feature-major `w.latents` (`rows` of them) to feature-major RGB in
/// `w.outputs`.
#[inline(always)]
fn decode_into(params: &[f32], latent_dims: usize, rows: usize, w: &mut Workspace) {
    let [_, _, decode_hidden, decode_rgb] = Layer::all(latent_dims);
    decode_hidden.forward(params, &w.latents, rows, &mut w.hidden_2);
    gelu(&mut w.hidden_2, &mut w.slope_2);
    decode_rgb.forward(params, &w.hidden_2, rows, &mut w.outputs);
    for o in &mut w.outputs {
        *o = sigmoid(*o);
    }
}

/// The encoder: `rgb` to feature-major latents in `w.latents`.
#[inline(always)]
fn encode_into(params: &[f32], latent_dims: usize, rgb: &[f32], w: &mut Workspace) {
    let rows = rgb.len() / 3;
    let [encode_hidden, encode_latent, _, _] = Layer::all(latent_dims);
    transpose(rgb, 3, &mut w.input);
    encode_hidden.forward(params, &w.input, rows, &mut w.hidden_1);
    gelu(&mut w.hidden_1, &mut w.slope_1);
    encode_latent.forward(params, &w.hidden_1, rows, &mut w.latents);
}

/// One run's Adam state beside its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub params: Vec<f32>,
    pub moment_1: Vec<f32>,
    pub moment_2: Vec<f32>,
    /// Updates applied so far (Adam's time step).
    pub updates: i32,
}

impl RunState {
    pub fn new(params: Vec<f32>) -> Self {
        let n = params.len();
        RunState {
            params,
            moment_1: vec![0.0; n],
            moment_2: vec![0.0; n],
            updates: 0,
        }
    }

    /// The parameters, then the first moment, then the second: what [`train_step`] updates.
    pub fn packed(&self) -> Vec<f32> {
        [&self.params[..], &self.moment_1, &self.moment_2].concat()
    }

    /// The state [`RunState::packed`] gave, after `updates` updates.
    pub fn from_packed(values: &[f32], updates: i32) -> Self {
        let n = values.len() / 3;
        RunState {
            params: values[..n].to_vec(),
            moment_1: values[n..2 * n].to_vec(),
            moment_2: values[2 * n..3 * n].to_vec(),
            updates,
        }
    }
}

/// A packed state's parameters, first moment and second moment.
fn split_packed(values: &mut [f32]) -> (&mut [f32], &mut [f32], &mut [f32]) {
    let n = values.len() / 3;
    let (params, moments) = values.split_at_mut(n);
    let (moment_1, moment_2) = moments.split_at_mut(n);
    (params, moment_1, &mut moment_2[..n])
}

/// A step's losses, as a run reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Losses {
    pub total: f32,
    /// `None` for terms not computed this step.
    pub terms: PerTerm<Option<f32>>,
}

/// What one step computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    pub total: f32,
    /// 0 for a term not computed.
    pub terms: PerTerm<f32>,
    /// Which terms were computed (weight ≠ 0 and the term applies).
    pub computed: PerTerm<bool>,
    /// Whether the update was applied: the total was finite and > 0 (the reference's rule).
    pub updated: bool,
}

impl StepLosses {
    /// As a run reports them: `None` for the terms not computed.
    pub fn losses(&self) -> Losses {
        Losses {
            total: self.total,
            terms: PerTerm::from_fn(|t| self.computed[t].then_some(self.terms[t])),
        }
    }
}

/// What one step of one run trains on.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    pub latent_dims: usize,
    /// `[B, 3]`.
    pub batch: &'a [f32],
    /// The anchor colours (`[6, 3]`), whose rows follow the batch's when `anchor` holds a
    /// reference (`[6, E]`).
    pub anchor_rgb: &'a [f32],
    pub anchor: Option<&'a [f32]>,
    pub weights: &'a PerTerm<f64>,
    pub lr: f64,
}

/// One training step of one run, on its packed state ([`RunState::packed`]) after `updates`
/// updates. Terms with weight 0 or that do not apply are not computed. The update is applied
/// only when the total is finite and > 0 (`updated`: the caller counts it); a non-finite
/// total leaves the state untouched (the caller reports it).
pub fn train_step(
    state: &mut [f32],
    updates: i32,
    input: &StepInput,
    w: &mut Workspace,
) -> StepLosses {
    // The same code compiled for AVX2 where the CPU has it: twice the lanes of the x86-64
    // baseline (SSE2) for the layers and GELU. Without FMA, which would round differently,
    // every operation is the one the baseline build does, in the same order: the same bits
    // (tested below).
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2; checked just above.
        return unsafe { train_step_avx2(state, updates, input, w) };
    }
    train_step_portable(state, updates, input, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn train_step_avx2(
    state: &mut [f32],
    updates: i32,
    input: &StepInput,
    w: &mut Workspace,
) -> StepLosses {
    train_step_portable(state, updates, input, w)
}

#[inline(always)]
fn train_step_portable(
    state: &mut [f32],
    updates: i32,
    input: &StepInput,
    w: &mut Workspace,
) -> StepLosses {
    let (params, moment_1, moment_2) = split_packed(state);
    let StepInput {
        latent_dims,
        batch,
        anchor_rgb,
        anchor,
        weights,
        lr,
    } = *input;
    let anchored = anchor.is_some() && weights[Term::Anchor] != 0.0;
    let mut rows = std::mem::take(&mut w.rows);
    rows.clear();
    rows.extend_from_slice(batch);
    if anchored {
        rows.extend_from_slice(anchor_rgb);
    }
    forward(params, latent_dims, &rows, w);
    w.rows = rows;
    let host = HostBatch {
        outputs: &w.output_rows,
        latents: &w.latent_rows,
        input: batch,
        anchor: if anchored { anchor.unwrap_or(&[]) } else { &[] },
        dims: latent_dims,
        batch: batch.len() / 3,
    };
    let mut gradient = std::mem::take(&mut w.gradient);
    gradient.reset(&host);
    let objective = loss::objective(&host, weights, Some(&mut gradient));
    let updated = updates_weights(&objective);
    if updated {
        backward(params, latent_dims, &gradient, w);
        adam_update(params, &w.grads, moment_1, moment_2, lr as f32, updates + 1);
    }
    w.gradient = gradient;
    StepLosses {
        total: objective.total,
        terms: objective.terms,
        computed: objective.computed,
        updated,
    }
}

/// d loss / d parameters into `w.grads`, from d loss / d outputs and d loss / d latents
/// (row-major, as the loss terms write them).
#[inline(always)]
fn backward(params: &[f32], latent_dims: usize, gradient: &HostGradient, w: &mut Workspace) {
    let [encode_hidden, encode_latent, decode_hidden, decode_rgb] = Layer::all(latent_dims);
    let rows = w.input.len() / 3;
    w.grads.clear();
    w.grads.resize(params.len(), 0.0);
    // Through the sigmoid: σ' = σ (1 − σ).
    transpose(&gradient.outputs, 3, &mut w.d_a);
    for (d, y) in w.d_a.iter_mut().zip(&w.outputs) {
        *d *= y * (1.0 - y);
    }
    decode_rgb.backward(
        params,
        &w.hidden_2,
        &w.d_a,
        rows,
        &mut w.grads,
        Some(&mut w.d_b),
    );
    for (d, s) in w.d_b.iter_mut().zip(&w.slope_2) {
        *d *= s;
    }
    decode_hidden.backward(
        params,
        &w.latents,
        &w.d_b,
        rows,
        &mut w.grads,
        Some(&mut w.d_a),
    );
    // The latents also feel the regularisers directly.
    transpose(&gradient.latents, latent_dims, &mut w.d_b);
    for (d, g) in w.d_a.iter_mut().zip(&w.d_b) {
        *d += g;
    }
    encode_latent.backward(
        params,
        &w.hidden_1,
        &w.d_a,
        rows,
        &mut w.grads,
        Some(&mut w.d_b),
    );
    for (d, s) in w.d_b.iter_mut().zip(&w.slope_1) {
        *d *= s;
    }
    encode_hidden.backward(params, &w.input, &w.d_b, rows, &mut w.grads, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::initial_parameters;

    #[test]
    fn encode_gives_infers_latents_bit_for_bit() {
        let rgb: Vec<f32> = (0..97 * 3).map(|i| ((i * 53) % 89) as f32 / 88.0).collect();
        for dims in 2..=5 {
            let params = initial_parameters(dims, 21);
            let (_, latents) = infer(&params, dims, &rgb);
            let encoded = encode(&params, dims, &rgb);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&encoded), bits(&latents), "E = {dims}");
        }
    }

    /// Whichever build of the step this CPU runs (AVX2 or the baseline), it is the baseline's
    /// step bit for bit: 300 steps with every term but the anchor, and the anchor after.
    #[test]
    fn the_dispatched_step_is_the_portable_step_bit_for_bit() {
        let dims = 4;
        let batch: Vec<f32> = (0..64 * 3)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        // The six primaries, red to magenta.
        let anchor_rgb = [
            1., 0., 0., 1., 1., 0., 0., 1., 0., 0., 1., 1., 0., 0., 1., 1., 0., 1.,
        ];
        let anchor: Vec<f32> = (0..6 * dims).map(|i| (i as f32 * 0.3).sin()).collect();
        let weights = PerTerm::from_fn(|t| if t == Term::Anchor { 0.5 } else { 0.3 });
        let start = RunState::new(initial_parameters(dims, 9)).packed();
        let (mut a, mut b) = (start.clone(), start.clone());
        let (mut wa, mut wb) = (Workspace::default(), Workspace::default());
        for step in 0..300 {
            let input = StepInput {
                latent_dims: dims,
                batch: &batch,
                anchor_rgb: &anchor_rgb,
                anchor: (step >= 150).then_some(anchor.as_slice()),
                weights: &weights,
                lr: 0.01,
            };
            let la = train_step(&mut a, step, &input, &mut wa);
            let lb = train_step_portable(&mut b, step, &input, &mut wb);
            assert_eq!(la, lb, "step {step}");
            assert!(la.updated, "step {step}");
        }
        assert_ne!(a, start);
        assert_eq!(a, b);
    }
}
