//! One run's whole training step on host values: forward, objective, backward and Adam in
//! one pass over flat buffers, with no tensor library in between.
//!
//! A step of ex-1.5 is about half a megaflop, spread over a few hundred tensor operations when
//! Burn runs it; on the CPU the bookkeeping around each operation costs more than its
//! arithmetic. Here the four layers run as plain loops over the batch, the loss terms are
//! their host forms ([`Term::host`](crate::loss::Term)), and the gradient is written out by
//! hand. [`Trainer`](crate::train::Trainer) running Burn's operations is the reference this
//! is held to (tests/fused_step.rs).
//!
//! Parameters are in [`ColorMlp::parameters_flat`](crate::model::ColorMlp)'s layout: layer by
//! layer, the `[inputs, outputs]` weight (row-major) then the bias.

use crate::activation::{gelu_and_slope_f32, sigmoid_f32};
use crate::loss::{HostBatch, HostGradient, PerTerm, Term};
use crate::model::layer_shapes;
use crate::optimizer::adam_update;

/// Where each layer's weight and bias sit in the flat parameters.
#[derive(Debug, Clone, Copy)]
struct Layer {
    inputs: usize,
    outputs: usize,
    weight: usize,
    bias: usize,
}

impl Layer {
    fn all(latent_dims: usize) -> [Layer; 4] {
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

    fn weight<'a>(&self, params: &'a [f32]) -> &'a [f32] {
        &params[self.weight..self.bias]
    }

    fn bias<'a>(&self, params: &'a [f32]) -> &'a [f32] {
        &params[self.bias..self.bias + self.outputs]
    }

    /// `y = x · W + b` for every row of `x`.
    fn forward(&self, params: &[f32], x: &[f32], y: &mut Vec<f32>) {
        let (w, b) = (self.weight(params), self.bias(params));
        let rows = x.len() / self.inputs;
        y.clear();
        for r in 0..rows {
            let start = y.len();
            y.extend_from_slice(b);
            let out = &mut y[start..];
            for (i, &xi) in x[r * self.inputs..(r + 1) * self.inputs].iter().enumerate() {
                for (o, &wij) in out
                    .iter_mut()
                    .zip(&w[i * self.outputs..(i + 1) * self.outputs])
                {
                    *o += xi * wij;
                }
            }
        }
    }

    /// From `dy` (d loss / d y): adds d loss / d W and d loss / d b into `grads`, and writes
    /// d loss / d x into `dx` when asked.
    fn backward(
        &self,
        params: &[f32],
        x: &[f32],
        dy: &[f32],
        grads: &mut [f32],
        dx: Option<&mut Vec<f32>>,
    ) {
        let rows = x.len() / self.inputs;
        let (n_in, n_out) = (self.inputs, self.outputs);
        let (dw, rest) = grads[self.weight..].split_at_mut(n_in * n_out);
        let db = &mut rest[..n_out];
        for r in 0..rows {
            let dyr = &dy[r * n_out..(r + 1) * n_out];
            for (d, g) in db.iter_mut().zip(dyr) {
                *d += g;
            }
            for (i, &xi) in x[r * n_in..(r + 1) * n_in].iter().enumerate() {
                for (d, g) in dw[i * n_out..(i + 1) * n_out].iter_mut().zip(dyr) {
                    *d += xi * g;
                }
            }
        }
        if let Some(dx) = dx {
            let w = self.weight(params);
            dx.clear();
            for r in 0..rows {
                let dyr = &dy[r * n_out..(r + 1) * n_out];
                for i in 0..n_in {
                    let wi = &w[i * n_out..(i + 1) * n_out];
                    dx.push(wi.iter().zip(dyr).map(|(w, g)| w * g).sum());
                }
            }
        }
    }
}

/// GELU in place; keeps each slope for the backward pass.
fn gelu(values: &mut [f32], slopes: &mut Vec<f32>) {
    slopes.clear();
    slopes.extend(values.iter_mut().map(|v| {
        let (g, s) = gelu_and_slope_f32(*v);
        *v = g;
        s
    }));
}

/// Buffers one run's step writes, kept between steps so a step allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    hidden_1: Vec<f32>,
    slope_1: Vec<f32>,
    latents: Vec<f32>,
    hidden_2: Vec<f32>,
    slope_2: Vec<f32>,
    outputs: Vec<f32>,
    d_a: Vec<f32>,
    d_b: Vec<f32>,
    grads: Vec<f32>,
}

/// The model's latents and reconstructions of `rgb` (`[rows, 3]`), as
/// `(outputs, latents)`.
pub fn infer(params: &[f32], latent_dims: usize, rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut w = Workspace::default();
    forward(params, latent_dims, rgb, &mut w);
    (w.outputs, w.latents)
}

fn forward(params: &[f32], latent_dims: usize, rgb: &[f32], w: &mut Workspace) {
    let [encode_hidden, encode_latent, decode_hidden, decode_rgb] = Layer::all(latent_dims);
    encode_hidden.forward(params, rgb, &mut w.hidden_1);
    gelu(&mut w.hidden_1, &mut w.slope_1);
    encode_latent.forward(params, &w.hidden_1, &mut w.latents);
    decode_hidden.forward(params, &w.latents, &mut w.hidden_2);
    gelu(&mut w.hidden_2, &mut w.slope_2);
    decode_rgb.forward(params, &w.hidden_2, &mut w.outputs);
    for o in &mut w.outputs {
        *o = sigmoid_f32(*o);
    }
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
}

/// What one step computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    pub total: f32,
    pub terms: PerTerm<f32>,
    /// Whether the update was applied: the total was finite and > 0 (the reference's rule).
    pub updated: bool,
}

/// One training step of one run on `batch` (`[B, 3]`), followed, when `anchor` holds a
/// reference (`[6, E]`), by the anchor colours' rows in `anchor_rgb`. Terms with weight 0 or
/// that do not apply are not computed. The update is applied only when the total is finite
/// and > 0; a non-finite total leaves the state untouched (the caller reports it).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    state: &mut RunState,
    latent_dims: usize,
    batch: &[f32],
    anchor_rgb: &[f32],
    anchor: Option<&[f32]>,
    weights: &PerTerm<f64>,
    lr: f64,
    w: &mut Workspace,
) -> StepLosses {
    let anchored = anchor.is_some() && weights[Term::Anchor] != 0.0;
    let input: std::borrow::Cow<[f32]> = if anchored {
        [batch, anchor_rgb].concat().into()
    } else {
        batch.into()
    };
    forward(&state.params, latent_dims, &input, w);
    let host = HostBatch {
        outputs: &w.outputs,
        latents: &w.latents,
        input: batch,
        anchor: if anchored { anchor.unwrap_or(&[]) } else { &[] },
        dims: latent_dims,
        batch: batch.len() / 3,
    };
    let on = PerTerm::from_fn(|t| weights[t] != 0.0 && t.applies(latent_dims, anchored));
    let mut gradient = HostGradient {
        outputs: vec![0.0; w.outputs.len()],
        latents: vec![0.0; w.latents.len()],
    };
    let terms = PerTerm::from_fn(|t| {
        if on[t] {
            t.host(&host, weights[t] as f32, Some(&mut gradient)) as f32
        } else {
            0.0
        }
    });
    let total: f32 = terms.iter().map(|(t, v)| v * weights[t] as f32).sum();
    let updated = on.0.contains(&true) && total.is_finite() && total > 0.0;
    if updated {
        backward(state, latent_dims, &input, &gradient, w);
        state.updates += 1;
        let RunState {
            params,
            moment_1,
            moment_2,
            updates,
        } = state;
        adam_update(params, &w.grads, moment_1, moment_2, lr as f32, *updates);
    }
    StepLosses {
        total,
        terms,
        updated,
    }
}

/// d loss / d parameters into `w.grads`, from d loss / d outputs and d loss / d latents.
fn backward(
    state: &RunState,
    latent_dims: usize,
    input: &[f32],
    gradient: &HostGradient,
    w: &mut Workspace,
) {
    let [encode_hidden, encode_latent, decode_hidden, decode_rgb] = Layer::all(latent_dims);
    let params = &state.params;
    w.grads.clear();
    w.grads.resize(params.len(), 0.0);
    // Through the sigmoid: σ' = σ (1 − σ).
    w.d_a.clear();
    w.d_a
        .extend((gradient.outputs.iter().zip(&w.outputs)).map(|(g, y)| g * (y * (1.0 - y))));
    decode_rgb.backward(params, &w.hidden_2, &w.d_a, &mut w.grads, Some(&mut w.d_b));
    for (d, s) in w.d_b.iter_mut().zip(&w.slope_2) {
        *d *= s;
    }
    decode_hidden.backward(params, &w.latents, &w.d_b, &mut w.grads, Some(&mut w.d_a));
    // The latents also feel the regularisers directly.
    for (d, g) in w.d_a.iter_mut().zip(&gradient.latents) {
        *d += g;
    }
    encode_latent.backward(params, &w.hidden_1, &w.d_a, &mut w.grads, Some(&mut w.d_b));
    for (d, s) in w.d_b.iter_mut().zip(&w.slope_1) {
        *d *= s;
    }
    encode_hidden.backward(params, input, &w.d_b, &mut w.grads, None);
}
