//! The loss terms and the objective that weighs them, on host values.
//!
//! [`Term`] is the table of terms; each has a file here with its value and its gradient side
//! by side. [`objective`] weighs and sums the terms a step computes: the one place the total
//! is formed. The oracle (`reference.rs`) writes the same terms as Burn tensor expressions of
//! its own, and `tests/conformance.rs` holds the two to each other.

mod anchor;
mod planarity;
mod reconstruction;
mod separation;
mod term;
mod unit_norm;

pub use separation::EPSILON as SEPARATION_EPSILON;
pub use term::{PerTerm, Term};

/// A batch's values: row-major `[rows, 3]` outputs and `[rows, dims]` latents (the batch's
/// rows, then the anchor colours' rows when `anchor` is not empty), the `[batch, 3]` input,
/// and the `[rows − batch, dims]` anchor reference (empty without one).
pub struct HostBatch<'a> {
    pub outputs: &'a [f32],
    pub latents: &'a [f32],
    pub input: &'a [f32],
    pub anchor: &'a [f32],
    pub dims: usize,
    pub batch: usize,
}

impl HostBatch<'_> {
    pub fn latent(&self, row: usize) -> &[f32] {
        &self.latents[row * self.dims..(row + 1) * self.dims]
    }
}

/// d total / d outputs and d total / d latents, laid out as the batch's values.
#[derive(Debug, Default, Clone)]
pub struct HostGradient {
    pub outputs: Vec<f32>,
    pub latents: Vec<f32>,
}

impl HostGradient {
    /// Zeros, shaped as `b`'s values, keeping the buffers' memory.
    pub fn reset(&mut self, b: &HostBatch) {
        self.outputs.clear();
        self.outputs.resize(b.outputs.len(), 0.0);
        self.latents.clear();
        self.latents.resize(b.latents.len(), 0.0);
    }
}

/// The objective of one step: its total and each term's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    pub total: f32,
    /// 0 for a term not computed.
    pub terms: PerTerm<f32>,
    /// Which terms were computed: weight ≠ 0 and the term applies ([`Term::computed`]).
    pub computed: PerTerm<bool>,
}

/// Every term with weight ≠ 0 that applies, weighed and summed; with `gradient`, adds the
/// total's gradient to it. A term's value is summed in f64 and rounded once; the total is the
/// f32 sum of weight × value in [`Term::ALL`]'s order.
pub fn objective(
    b: &HostBatch,
    weights: &PerTerm<f64>,
    mut gradient: Option<&mut HostGradient>,
) -> Objective {
    let computed = Term::computed(weights, b.dims, !b.anchor.is_empty());
    let terms = PerTerm::from_fn(|t| {
        if computed[t] {
            t.evaluate(b, weights[t] as f32, gradient.as_deref_mut()) as f32
        } else {
            0.0
        }
    });
    let total = terms.iter().map(|(t, v)| v * weights[t] as f32).sum();
    Objective {
        total,
        terms,
        computed,
    }
}
