//! The seeded weighted batch sampler: which cube colours a run trains on after phase 1.
//!
//! Counter-based. Row `k` of step `t` of a run is a pure function of the run's key, `t` and
//! `k`: a 32-bit integer hash, mapped through a table of integer weights. There is no stream
//! to carry and nothing is floating point, so a GPU kernel draws the very rows the CPU draws
//! (`gpu_step` does, for every run at once, with nothing sent from the host per
//! step), and a run's batches do not depend on what else was drawn before them.
//!
//! [`BatchDistribution::draw_slow`] is the plain definition, a binary search;
//! [`BatchDistribution::draw`] finds the same row through a guide table where one was built,
//! and the tests hold the two together. The guide costs a pass over the colours, so it is
//! built where a distribution serves more draws than it has colours (a sweep's runs, the GPU),
//! not for one run, which rebuilds it every step of a data-fraction ramp for 256 draws.
//!
//! It belongs to the step crate because every step of the CPU engine draws with it, so it is
//! built for speed with the step; color-bottleneck's tests hold it to the colour data.

use std::sync::Arc;

/// A run's sampler key, from its seed.
pub type SamplerKey = [u32; 2];

/// The weights are quantised to integers summing to at most this.
const WEIGHT_SCALE: f64 = (1u64 << 31) as f64;

/// Chris Wellons' `triple32` integer hash (hash-prospector): a bijection on u32 whose
/// output bits each flip with probability ~0.5 for any flipped input bit.
/// `gpu_step::kernel::mix` is the same function; tests/gpu_step.rs holds them together.
pub fn mix(x: u32) -> u32 {
    let mut h = x;
    h ^= h >> 17;
    h = h.wrapping_mul(0xed5a_d4bb);
    h ^= h >> 11;
    h = h.wrapping_mul(0xac4c_1b51);
    h ^= h >> 15;
    h = h.wrapping_mul(0x3184_8bab);
    h ^= h >> 14;
    h
}

/// The key of a run seeded `seed` (splitmix64's finaliser, split into two words).
pub fn key_of(seed: u64) -> SamplerKey {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    [z as u32, (z >> 32) as u32]
}

/// What every row of step `step` of a run starts from. Different steps of one run get
/// different values (for a fixed key it is a bijection of the step's low word).
pub fn step_seed(key: SamplerKey, step: u64) -> u32 {
    mix(mix(key[0] ^ step as u32) ^ key[1] ^ (step >> 32) as u32)
}

/// The random bits of row `row` of a step. Two rounds: one alone leaves neighbouring rows'
/// bits correlated in their low bits.
pub fn row_bits(step_seed: u32, row: u32) -> u32 {
    mix(mix(row ^ step_seed))
}

/// Integer weights over the colours that can be drawn, and where it pays a guide table for
/// the search ([`BatchDistribution::with_guide`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchDistribution {
    /// Running totals of the weights of the colours with a non-zero weight, in cube order.
    cumulative: Vec<u32>,
    /// The cube index each entry stands for.
    colour: Vec<u32>,
    /// `guide[b]`: the entry drawn by the smallest bits of bucket `b` (bits·entries / 2³²),
    /// where the search for any bits of that bucket can start. Empty until
    /// [`BatchDistribution::with_guide`].
    guide: Vec<u32>,
}

impl BatchDistribution {
    /// From weights ≥ 0 summing to `sum` > 0; a colour whose share is below 2⁻³¹ is never
    /// drawn.
    pub fn new(weights: impl Iterator<Item = f64>, sum: f64) -> Self {
        // One division, not one per colour: this is rebuilt every step of a ramp.
        let scale = WEIGHT_SCALE / sum;
        let mut cumulative = Vec::with_capacity(weights.size_hint().0);
        let mut colour = Vec::with_capacity(weights.size_hint().0);
        let mut total = 0u64;
        for (i, w) in weights.enumerate() {
            let weight = (w * scale) as u64;
            if weight > 0 {
                total += weight;
                cumulative.push(total.min(u32::MAX as u64) as u32);
                colour.push(i as u32);
            }
        }
        BatchDistribution {
            cumulative,
            colour,
            guide: Vec::new(),
        }
    }

    /// With the guide table that [`BatchDistribution::draw`] starts from.
    pub fn with_guide(mut self) -> Self {
        if self.guide.is_empty() {
            self.guide = self.guide_table();
        }
        self
    }

    pub fn has_guide(&self) -> bool {
        !self.guide.is_empty()
    }

    /// Every one of `n` colours alike.
    pub fn uniform(n: usize) -> Self {
        Self::new(std::iter::repeat_n(1.0, n), n as f64)
    }

    /// How many colours can be drawn: the entries of every table.
    pub fn entries(&self) -> usize {
        self.cumulative.len()
    }

    /// The sum of the integer weights.
    pub fn total(&self) -> u32 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The tables as the GPU kernel reads them: running totals, cube indices, guide (empty
    /// without [`BatchDistribution::with_guide`]).
    pub fn tables(&self) -> [&[u32]; 3] {
        [&self.cumulative, &self.colour, &self.guide]
    }

    /// The probability the integer weights give colour entry `e`.
    pub fn probability(&self, entry: usize) -> f64 {
        let below = if entry == 0 {
            0
        } else {
            self.cumulative[entry - 1]
        };
        (self.cumulative[entry] - below) as f64 / self.total() as f64
    }

    /// The cube index for random `bits`: the first entry whose running total exceeds
    /// `bits`·total / 2³², found by a binary search.
    pub fn draw_slow(&self, bits: u32) -> usize {
        let target = scale(bits, self.total());
        self.colour[self.cumulative.partition_point(|&c| c <= target)] as usize
    }

    /// [`BatchDistribution::draw_slow`], starting from the guide (about two comparisons)
    /// where there is one.
    pub fn draw(&self, bits: u32) -> usize {
        if self.guide.is_empty() {
            return self.draw_slow(bits);
        }
        let target = scale(bits, self.total());
        let mut e = self.guide[scale(bits, self.entries() as u32) as usize] as usize;
        while self.cumulative[e] <= target {
            e += 1;
        }
        self.colour[e] as usize
    }

    /// One merge walk: the buckets' smallest bits rise, and so does what they draw.
    fn guide_table(&self) -> Vec<u32> {
        let n = self.entries() as u64;
        let total = self.total();
        let mut e = 0;
        (0..n)
            .map(|b| {
                let smallest = ((b << 32).div_ceil(n)) as u32;
                let target = scale(smallest, total);
                while self.cumulative[e] <= target {
                    e += 1;
                }
                e as u32
            })
            .collect()
    }
}

/// `bits`·`n` / 2³², the high word of the product: uniform bits to `0..n`.
fn scale(bits: u32, n: u32) -> u32 {
    ((bits as u64 * n as u64) >> 32) as u32
}

/// The distribution for `bias` × `weights`: ∝ max(weight·bias, 0), uniform when that sums
/// to ~0. With a guide table when it will serve at least `draws` ≥ its colours.
pub fn batch_distribution(bias: &[f64], weights: &[f64], draws: usize) -> Arc<BatchDistribution> {
    let d = match effective_weights(bias, weights) {
        Some((w, sum)) => BatchDistribution::new(w, sum),
        None => BatchDistribution::uniform(bias.len()),
    };
    Arc::new(if draws >= d.entries() {
        d.with_guide()
    } else {
        d
    })
}

/// Draws batches of cube indices with replacement, with probability ∝ max(weight·bias, 0).
/// Weights can change between batches; when they sum to ~0 it draws uniformly.
#[derive(Debug, Clone)]
pub struct WeightedBatchSampler {
    /// Shared, like the distribution: the same 3,600 weights for every run of a sweep.
    bias: Arc<[f64]>,
    batch_size: usize,
    /// Shared: the runs of a sweep draw from one distribution, each with its own key.
    distribution: Arc<BatchDistribution>,
    key: SamplerKey,
}

impl WeightedBatchSampler {
    pub fn new(bias: impl Into<Arc<[f64]>>, batch_size: usize, seed: u64) -> Self {
        let bias = bias.into();
        WeightedBatchSampler {
            distribution: batch_distribution(&bias, &vec![1.0; bias.len()], batch_size),
            bias,
            batch_size,
            key: key_of(seed),
        }
    }

    pub fn set_weights(&mut self, weights: &[f64]) {
        self.distribution = batch_distribution(&self.bias, weights, self.batch_size);
    }

    /// Draws from a distribution made by [`batch_distribution`] for this sampler's bias.
    pub fn set_distribution(&mut self, distribution: Arc<BatchDistribution>) {
        self.distribution = distribution;
    }

    pub fn distribution(&self) -> &Arc<BatchDistribution> {
        &self.distribution
    }

    pub fn bias(&self) -> &[f64] {
        &self.bias
    }

    pub fn key(&self) -> SamplerKey {
        self.key
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The cube indices of step `step`'s batch.
    pub fn batch(&self, step: u64) -> impl Iterator<Item = usize> + '_ {
        let seed = step_seed(self.key, step);
        (0..self.batch_size as u32).map(move |row| self.distribution.draw(row_bits(seed, row)))
    }

    /// Step `step`'s batch as colours (`[B, 3]`), the rows of `rgb` (`[N, 3]`) it draws, onto
    /// the end of `out`.
    pub fn draw_colors(&self, step: u64, rgb: &[f32], out: &mut Vec<f32>) {
        out.reserve(self.batch_size * 3);
        for i in self.batch(step) {
            out.extend_from_slice(&rgb[i * 3..i * 3 + 3]);
        }
    }
}

/// max(weights·bias, 0), unnormalised, with their total, or `None` when that is ≤ 1e-9.
pub fn effective_weights<'a>(
    bias: &'a [f64],
    weights: &'a [f64],
) -> Option<(impl Iterator<Item = f64> + 'a, f64)> {
    let effective = move || bias.iter().zip(weights).map(|(b, w)| positive(w * b));
    let total: f64 = effective().sum();
    (total > 1e-9).then(move || (effective(), total))
}

/// `max(v, 0)` (NaN → 0) as a comparison: `f64::max` is a libm call in wasm.
fn positive(v: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}
