//! Many runs of one curriculum at once, on the CPU: one seed per run.
//!
//! Each run has its own initial weights and sampler key (both from its seed), its own Adam
//! state and its own anchor reference, and applies the skip rule (total ≤ 0) on its own. All
//! runs follow the same timeline step by step. Their states lie in blocks, one tensor each,
//! and a step of a block's runs is one call of the fused step, a Burn backend extension on
//! the CPU backend ([`fused_step::op`]), so a run here is what
//! [`Trainer`](crate::train::Trainer) computes for that seed, without Burn's per-operation
//! cost (tests/fused_step.rs holds the two together). Runs are independent, so a sweep splits
//! them over the machine's cores, a block per thread.

mod checkpoint;
pub mod kept;
#[cfg(not(target_family = "wasm"))]
mod prefetch;

pub use checkpoint::{CheckpointError, RunCheckpoint, SweepCheckpoint};
pub use kept::KeptStates;

use std::ops::Range;
use std::sync::Arc;

use burn::prelude::*;

use crate::data::{data_fraction_weights, ColorCube};
use crate::fused_step::op::{
    block_step, cpu_tensor, cpu_values, with_values, write_values, BlockStepArgs, RunArgs,
};
use crate::fused_step::{self, RunState, StepLosses};
use crate::loss::PerTerm;
use crate::model::{initial_parameters, parameter_count};
use crate::plot::PhaseSnapshot;
use crate::sampler::{batch_distribution, BatchDistribution, WeightedBatchSampler};
use crate::timeline::Timeline;
use crate::train::{check_model_size, non_finite, Checkpoint, Columns, PhaseData, TrainError};
use crate::verdict::{probe_colors, shape_probe, Onset, Shape, Verdict};

/// The most runs one sweep trains.
pub const MAX_RUNS: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Run r trains with seed `first_seed + r`.
    pub first_seed: u64,
    pub runs: usize,
    pub latent_dims: usize,
    pub batch_size: usize,
}

/// What every run reads and none writes.
#[derive(Clone)]
struct Shared {
    timeline: Timeline,
    columns: Columns,
    latent_dims: usize,
    cube_rgb: Vec<f32>,
    vibrancy: Vec<f64>,
    /// The primaries: the anchor colours, and phase 1's batch.
    primaries: Tensor<1>,
    /// The length of a run's packed state ([`RunState::packed`]), and of its anchor
    /// reference (the six anchor colours' latents).
    state_len: usize,
    anchor_len: usize,
}

/// The sampler's distribution for the last data-fraction asked for, shared by the runs that
/// step together (one per thread): rebuilding it is 3,600 weights, every step of a ramp.
struct DistributionCache {
    fraction: Option<f64>,
    distribution: Option<Arc<BatchDistribution>>,
    /// How many rows each distribution will draw: whether a guide table pays.
    draws: usize,
}

impl DistributionCache {
    /// For `runs` stepping together on the host.
    fn serving(runs: &[Run]) -> Self {
        Self::drawing(runs.len() * runs.first().map_or(0, |r| r.sampler.batch_size()))
    }

    fn drawing(draws: usize) -> Self {
        DistributionCache {
            fraction: None,
            distribution: None,
            draws,
        }
    }

    fn get(&mut self, shared: &Shared, bias: &[f64], fraction: f64) -> Arc<BatchDistribution> {
        match &self.distribution {
            Some(d) if self.fraction == Some(fraction) => d.clone(),
            _ => {
                let weights = data_fraction_weights(&shared.vibrancy, fraction);
                let d = batch_distribution(bias, &weights, self.draws);
                self.distribution = Some(d.clone());
                self.fraction = Some(fraction);
                d
            }
        }
    }
}

/// One seed's run. Its weights and Adam's moments lie in its block's state tensor.
pub struct Run {
    pub seed: u64,
    /// Updates applied so far (Adam's time step), and as many as its last good state had.
    updates: i32,
    good_updates: i32,
    sampler: WeightedBatchSampler,
    /// data-fraction the sampler's weights were last computed for.
    weights_fraction: Option<f64>,
    /// Whether its anchor reference (the primaries' latents when the `anchor` action last
    /// fired) is set, in its block's `anchors`.
    anchored: bool,
    /// The last step's losses.
    pub last: Option<StepLosses>,
    /// Set when a step's loss was not finite; the run stops there, the others go on.
    pub failure: Option<TrainError>,
    /// Where its verdict settled, judged every [`Onset::EVERY`] steps while [`Sweep::finish`]
    /// trains (the CLI's tables read it; the page, stepping one step at a time, does not).
    pub onset: Onset,
}

/// Runs trained together: their states one after another in one tensor, stepped by one call
/// of the fused step. A sweep on one thread is one block; split over threads, one a thread.
struct Block {
    /// The sweep's runs it holds.
    runs: Range<usize>,
    /// Every run's packed state ([`RunState::packed`]), run by run.
    state: Tensor<1>,
    /// The states at the start of the previous step, whose loss was finite: where a run goes
    /// back to when an update leads to a non-finite loss. A handle on the buffer that step
    /// started from, which the step left as it was (it wrote a copy).
    last_good: Tensor<1>,
    /// Every run's anchor reference, `[6, E]` each; read for anchored runs only.
    anchors: Tensor<1>,
}

pub struct Sweep {
    shared: Shared,
    runs: Vec<Run>,
    blocks: Vec<Block>,
    /// The most batch values one call of the step takes ([`CALL_VALUES`]; less in tests).
    call_values: usize,
    step: u64,
    /// A single run's batches, drawn ahead on another thread ([`Sweep::prefetch_batches`]).
    #[cfg(not(target_family = "wasm"))]
    prefetch: Option<prefetch::Prefetch>,
}

impl Sweep {
    pub fn new(timeline: Timeline, config: SweepConfig) -> Result<Self, TrainError> {
        check_model_size(config.latent_dims, config.batch_size)?;
        if !(1..=MAX_RUNS).contains(&config.runs) {
            return Err(TrainError::Runs {
                got: config.runs,
                max: MAX_RUNS,
            });
        }
        let cube = ColorCube::full();
        let bias: Arc<[f64]> = cube.bias.clone().into();
        let seeds = (0..config.runs as u64).map(|r| config.first_seed.wrapping_add(r));
        let runs: Vec<Run> = seeds
            .map(|seed| {
                Run {
                    seed,
                    updates: 0,
                    good_updates: 0,
                    // The trainer's sampler for this seed.
                    sampler: WeightedBatchSampler::new(
                        bias.clone(),
                        config.batch_size,
                        seed ^ crate::train::SAMPLER_STREAM,
                    ),
                    weights_fraction: None,
                    anchored: false,
                    onset: Onset::default(),
                    last: None,
                    failure: None,
                }
            })
            .collect();
        let dims = config.latent_dims;
        let states = (runs.iter())
            .flat_map(|run| RunState::new(initial_parameters(dims, run.seed)).packed())
            .collect();
        let anchor_len = 6 * dims;
        let block = Block::new(0..runs.len(), states, vec![0.0; anchor_len * runs.len()]);
        Ok(Sweep {
            shared: Shared {
                columns: Columns::of(&timeline),
                timeline,
                latent_dims: config.latent_dims,
                cube_rgb: cube.rgb_f32(),
                vibrancy: cube.vibrancy.clone().expect("an HSV cube has vibrancy"),
                primaries: cpu_tensor(ColorCube::primaries().rgb_f32()),
                state_len: 3 * parameter_count(dims),
                anchor_len,
            },
            runs,
            blocks: vec![block],
            call_values: CALL_VALUES,
            step: 0,
            #[cfg(not(target_family = "wasm"))]
            prefetch: None,
        })
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    pub fn timeline(&self) -> &Timeline {
        &self.shared.timeline
    }

    pub fn latent_dims(&self) -> usize {
        self.shared.latent_dims
    }

    /// Colours in each run's batch (phase 1 trains on the six primaries whatever it is).
    pub fn batch_size(&self) -> usize {
        self.runs[0].sampler.batch_size()
    }

    /// The step the next call trains.
    pub fn step_index(&self) -> u64 {
        self.step
    }

    pub fn is_finished(&self) -> bool {
        self.step >= self.shared.timeline.len()
    }

    /// Swaps the schedule under the running models ("apply live"): training goes on at the
    /// current step with the new sheet's values. Failed runs get another chance.
    pub fn set_timeline(&mut self, timeline: Timeline) {
        #[cfg(not(target_family = "wasm"))]
        {
            self.prefetch = None;
        }
        self.shared.columns = Columns::of(&timeline);
        self.shared.timeline = timeline;
        for run in &mut self.runs {
            run.weights_fraction = None;
            run.failure = None;
        }
    }

    /// A sweep of one run that continues from a [`Checkpoint`] (another engine's, after a
    /// lost GPU): its weights, Adam's state, anchor reference and sampler.
    pub fn resume_one(
        timeline: Timeline,
        config: SweepConfig,
        checkpoint: &Checkpoint,
    ) -> Result<Self, TrainError> {
        let mut sweep = Sweep::new(timeline, SweepConfig { runs: 1, ..config })?;
        let state = &checkpoint.state;
        let n = parameter_count(config.latent_dims);
        let anchor_len = sweep.shared.anchor_len;
        if [&state.params, &state.moment_1, &state.moment_2]
            .iter()
            .any(|v| v.len() != n)
        {
            return Err(TrainError::Parameters(state.params.len()));
        }
        if let Some(anchor) = checkpoint.anchor.as_ref().filter(|a| a.len() != anchor_len) {
            return Err(TrainError::Parameters(anchor.len()));
        }
        let anchor = checkpoint.anchor.clone();
        sweep.mirror(0, state.clone(), anchor, None, None);
        sweep.runs[0].sampler = checkpoint.sampler.clone();
        sweep.step = checkpoint.step.min(sweep.shared.timeline.len());
        Ok(sweep)
    }

    /// One step of every run.
    pub fn step(&mut self) {
        if self.is_finished() {
            return;
        }
        let plan = StepPlan::of(&self.shared, self.step);
        #[cfg(not(target_family = "wasm"))]
        if let Some(prepared) = self.prefetched() {
            let batch = self.runs[0].accept(prepared);
            let block = &mut self.blocks[0];
            train_block(&self.shared, &plan, &mut self.runs, block, batch);
            self.step += 1;
            return;
        }
        let mut cache = DistributionCache::serving(&self.runs);
        for block in &mut self.blocks {
            let runs = &mut self.runs[block.runs.clone()];
            step_block(
                &self.shared,
                &plan,
                &mut cache,
                runs,
                block,
                self.call_values,
            );
        }
        self.step += 1;
    }

    /// From now on a single run's batches are drawn ahead on another thread, and its steps
    /// do only the arithmetic: the same run, bit for bit, in 11–16% less time (`train` on
    /// ex-1.5, alternating with the build before).
    /// Nothing for a sweep of several runs ([`Sweep::finish`] splits those over threads).
    #[cfg(not(target_family = "wasm"))]
    pub fn prefetch_batches(&mut self) {
        if let [run] = &self.runs[..] {
            self.prefetch = Some(prefetch::Prefetch::start(
                self.shared.clone(),
                run.sampler.clone(),
                run.weights_fraction,
                self.step,
            ));
        }
    }

    /// Whether the run's batches are being drawn ahead (until Apply live, a failure or the
    /// end).
    #[cfg(not(target_family = "wasm"))]
    pub fn is_prefetching(&self) -> bool {
        self.prefetch.is_some()
    }

    /// This step's prepared batch, while the run is well and the thread keeps up with it;
    /// otherwise the prefetch stops and the run draws for itself.
    #[cfg(not(target_family = "wasm"))]
    fn prefetched(&mut self) -> Option<prefetch::Prepared> {
        let prefetch = self.prefetch.as_mut()?;
        let prepared = (self.runs[0].failure.is_none())
            .then(|| prefetch.take(self.step))
            .flatten();
        if prepared.is_none() {
            self.prefetch = None;
        }
        prepared
    }

    /// Trains every run to the end of the curriculum, the runs split over up to `threads`
    /// threads; `progress` is told how many run-steps are done so far, now and then.
    pub fn finish(&mut self, threads: usize, progress: &(dyn Fn(u64) + Sync)) {
        let (from, to) = (self.step, self.shared.timeline.len());
        if from >= to {
            return;
        }
        #[cfg(not(target_family = "wasm"))]
        if self.runs.len() == 1 && threads > 1 {
            // One run, two threads: the second draws its batches.
            self.prefetch_batches();
            let probe = shape_probe();
            while !self.is_finished() {
                self.step();
                if self.step.is_multiple_of(Onset::EVERY) {
                    judge_onsets(
                        &self.shared,
                        &mut self.runs,
                        &self.blocks[0],
                        self.step,
                        &probe,
                    );
                }
                if self.step.is_multiple_of(256) {
                    progress(self.step - from);
                }
            }
            progress(to - from);
            return;
        }
        let threads = if cfg!(target_family = "wasm") {
            1
        } else {
            threads.clamp(1, self.runs.len())
        };
        self.regroup(split_runs(self.runs.len(), threads));
        let done = std::sync::atomic::AtomicU64::new(0);
        let (shared, call_values) = (&self.shared, self.call_values);
        let probe = shape_probe();
        let train = |runs: &mut [Run], block: &mut Block| {
            let mut cache = DistributionCache::serving(runs);
            for step in from..to {
                let plan = StepPlan::of(shared, step);
                step_block(shared, &plan, &mut cache, runs, block, call_values);
                if (step + 1).is_multiple_of(Onset::EVERY) {
                    judge_onsets(shared, runs, block, step + 1, &probe);
                }
                let so_far =
                    done.fetch_add(runs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if step.is_multiple_of(256) {
                    progress(so_far);
                }
            }
        };
        if threads == 1 {
            train(&mut self.runs, &mut self.blocks[0]);
        } else {
            std::thread::scope(|scope| {
                let mut rest = &mut self.runs[..];
                for block in &mut self.blocks {
                    let (runs, later) = rest.split_at_mut(block.runs.len());
                    rest = later;
                    scope.spawn(|| train(runs, block));
                }
            });
        }
        progress(done.into_inner());
        self.step = to;
    }

    /// Blocks of the runs in `ranges` (consecutive, covering them all), the states as they were.
    fn regroup(&mut self, ranges: Vec<Range<usize>>) {
        let ranges = ranges.into_iter();
        if ranges
            .clone()
            .eq(self.blocks.iter().map(|b| b.runs.clone()))
        {
            return;
        }
        let joined = |part: fn(&Block) -> &Tensor<1>| -> Vec<f32> {
            (self.blocks.iter())
                .flat_map(|b| cpu_values(part(b)))
                .collect()
        };
        let states = joined(|b| &b.state);
        let last_good = joined(|b| &b.last_good);
        let anchors = joined(|b| &b.anchors);
        let (s, a) = (self.shared.state_len, self.shared.anchor_len);
        self.blocks = ranges
            .map(|runs| {
                let (states, anchors) = (
                    &states[runs.start * s..runs.end * s],
                    &anchors[runs.start * a..runs.end * a],
                );
                let mut block = Block::new(runs.clone(), states.to_vec(), anchors.to_vec());
                block.last_good = cpu_tensor(last_good[runs.start * s..runs.end * s].to_vec());
                block
            })
            .collect();
    }

    /// The block holding run `run`, and the run's place in it.
    fn locate(&self, run: usize) -> (usize, usize) {
        let b = (self.blocks.iter())
            .position(|b| b.runs.contains(&run))
            .expect("a run of this sweep");
        (b, run - self.blocks[b].runs.start)
    }

    /// `f` of run `run`'s parameters, read where they lie.
    fn with_params<T>(&self, run: usize, f: impl FnOnce(&[f32]) -> T) -> T {
        let (b, i) = self.locate(run);
        self.blocks[b].with_params(&self.shared, i, f)
    }

    /// Run `run`'s `(outputs, latents)` for `rgb` (`[rows, 3]`).
    pub fn infer(&self, run: usize, rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let dims = self.shared.latent_dims;
        self.with_params(run, |params| fused_step::infer(params, dims, rgb))
    }

    /// Run `run`'s latents for `rgb` (`[rows, 3]`): [`Sweep::infer`] without the decoder.
    pub fn latents(&self, run: usize, rgb: &[f32]) -> Vec<f32> {
        let dims = self.shared.latent_dims;
        self.with_params(run, |params| fused_step::encode(params, dims, rgb))
    }

    /// When `step` (already trained) ended a phase: run `run`'s latents of that phase's
    /// validation set, as the CLI's phases.png and the page's strip draw them.
    pub fn phase_end(&self, run: usize, step: u64) -> Option<PhaseSnapshot> {
        self.phase_end_set(step)
            .map(|(phase, colors)| PhaseSnapshot {
                phase,
                step,
                latents: self.latents(run, &colors),
                dims: self.shared.latent_dims,
                colors,
            })
    }

    /// When `step` ended a phase: the phase's name and validation set (`[rows, 3]`).
    pub fn phase_end_set(&self, step: u64) -> Option<(String, Vec<f32>)> {
        let state = self.shared.timeline.state(step);
        state.is_phase_end.then(|| {
            let colors = PhaseData::for_phase(state.phase).validation_set().rgb_f32();
            (state.phase.to_string(), colors)
        })
    }

    /// Run `run` as it stands, to continue it elsewhere ([`Sweep::resume_one`]).
    pub fn checkpoint(&self, run: usize) -> Checkpoint {
        let r = &self.runs[run];
        let (b, i) = self.locate(run);
        let a = self.shared.anchor_len;
        let anchor = (r.anchored)
            .then(|| with_values(&self.blocks[b].anchors, |v| v[i * a..][..a].to_vec()));
        Checkpoint {
            step: self.step,
            state: self.state(run),
            anchor,
            sampler: r.sampler.clone(),
        }
    }

    /// Run `run`'s parameters, in the flat layout.
    pub fn parameters(&self, run: usize) -> Vec<f32> {
        self.with_params(run, <[f32]>::to_vec)
    }

    /// Judges every run's shape as its weights stand, for its onset: what [`Sweep::finish`]
    /// does every [`Onset::EVERY`] steps, for an engine that trains the runs elsewhere and
    /// mirrors them here (the GPU's).
    pub fn judge_onsets_now(&mut self) {
        self.judge_onsets_at(self.step);
    }

    /// [`judge_onsets_now`](Self::judge_onsets_now), for weights that stand at `step` (a
    /// GPU's last read-back, while the host plans steps ahead of it).
    pub fn judge_onsets_at(&mut self, step: u64) {
        let probe = shape_probe();
        let mut rest = &mut self.runs[..];
        for block in &self.blocks {
            let (runs, later) = rest.split_at_mut(block.runs.len());
            rest = later;
            judge_onsets(&self.shared, runs, block, step, &probe);
        }
    }

    /// Every run's verdict under its current weights.
    /// Each run's onset: the step from which its verdict (`verdicts`, judged now) held.
    pub fn onsets(&self, verdicts: &[Verdict]) -> Vec<u64> {
        self.onsets_at(verdicts, self.step)
    }

    /// [`onsets`](Self::onsets), for verdicts of weights that stand at `step`.
    pub fn onsets_at(&self, verdicts: &[Verdict], step: u64) -> Vec<u64> {
        (self.runs.iter().zip(verdicts))
            .map(|(run, verdict)| {
                let mut onset = run.onset;
                onset.observe(step, verdict.shape);
                onset.step().unwrap_or(step)
            })
            .collect()
    }

    pub fn verdicts(&self) -> Vec<Verdict> {
        let probe = probe_colors().rgb_f32();
        (0..self.runs.len())
            .map(|r| {
                let (outputs, latents) = self.infer(r, &probe);
                Verdict::judge(&latents, &outputs, self.shared.latent_dims)
            })
            .collect()
    }
}

/// Judges the shape of `runs` (a block's) as their weights stand at the start of `step`.
fn judge_onsets(shared: &Shared, runs: &mut [Run], block: &Block, step: u64, probe: &[f32]) {
    let dims = shared.latent_dims;
    for (i, run) in runs.iter_mut().enumerate() {
        let latents = block.with_params(shared, i, |p| fused_step::encode(p, dims, probe));
        run.onset.observe(step, Shape::of(&latents, dims));
    }
}

/// What a step asks of every run, read from the timeline once for all of them.
struct StepPlan {
    step: u64,
    values: Vec<f64>,
    on_primaries: bool,
    anchor_action: bool,
    weights: PerTerm<f64>,
    lr: f64,
}

impl StepPlan {
    fn of(shared: &Shared, step: u64) -> Self {
        let state = shared.timeline.state(step);
        let values = state.values;
        StepPlan {
            step,
            on_primaries: PhaseData::for_phase(state.phase) == PhaseData::Primaries,
            anchor_action: state.actions.iter().any(|a| a == "anchor"),
            weights: PerTerm::from_fn(|t| shared.columns.terms[t].map_or(0.0, |i| values[i])),
            lr: values[shared.columns.lr],
            values,
        }
    }
}

impl Block {
    fn new(runs: Range<usize>, states: Vec<f32>, anchors: Vec<f32>) -> Self {
        let state = cpu_tensor(states);
        Block {
            runs,
            last_good: state.clone(),
            state,
            anchors: cpu_tensor(anchors),
        }
    }

    /// `f` of its `i`-th run's parameters, read where they lie.
    fn with_params<T>(&self, shared: &Shared, i: usize, f: impl FnOnce(&[f32]) -> T) -> T {
        let s = shared.state_len;
        with_values(&self.state, |v| f(&v[i * s..][..s / 3]))
    }
}

/// The most batch values one call of the step takes: a sweep of many runs at a large batch
/// steps its block in several calls rather than hold every run's batch at once (1,024 runs at
/// batch 65,536 would be 805 MB). 1 Mi values (4 MiB): at batch 256, 1,365 runs a call, so the
/// page's sweeps (up to 1,024 runs) are one call a step there.
const CALL_VALUES: usize = 1 << 20;

/// `runs` runs shared among up to `workers` threads or page workers: consecutive ranges, as
/// even as can be, none empty. Runs are independent, so how they are shared changes no
/// run's numbers, only how fast they come.
pub fn split_runs(runs: usize, workers: usize) -> Vec<Range<usize>> {
    let parts = workers.clamp(1, runs.max(1));
    let (each, longer) = (runs / parts, runs % parts);
    let mut first = 0;
    (0..parts)
        .map(|i| {
            let len = each + usize::from(i < longer);
            first += len;
            first - len..first
        })
        .collect()
}

/// The trainer's step for a block's runs, in the trainer's order (spec §2.7): the runs draw
/// their batches, then one call trains them all (or, at large batches, one call per group of
/// runs whose batches fit in `call_values`).
fn step_block(
    shared: &Shared,
    plan: &StepPlan,
    cache: &mut DistributionCache,
    runs: &mut [Run],
    block: &mut Block,
    call_values: usize,
) {
    let batch_len = runs.first().map_or(0, |r| r.sampler.batch_size() * 3);
    let per_call = (call_values / batch_len.max(1)).max(1);
    let started_from = begin_step(shared, plan, runs, block);
    let mut failed = Vec::new();
    for (group, runs) in runs.chunks_mut(per_call).enumerate() {
        let mut batches = Vec::new();
        if !plan.on_primaries {
            batches.reserve(runs.len() * batch_len);
        }
        for run in runs.iter_mut() {
            if run.failure.is_some() {
                // It sits the step out, but its sampler keeps up, so that after Apply live it
                // draws what the GPU engine (which follows data-fraction for every run) draws.
                if !plan.on_primaries {
                    batches.resize(batches.len() + batch_len, 0.0);
                }
            } else {
                // Drawn before this step's data-fraction applies: batch t uses step t−1's
                // weights.
                draw_batch(shared, plan, &run.sampler, &mut batches);
            }
            run.follow_data_fraction(shared, plan, cache);
        }
        let first = group * per_call;
        train_runs(shared, plan, runs, first, block, batches, &mut failed);
    }
    end_step(shared, block, started_from, &failed);
}

/// [`step_block`] for a block of runs whose batches were drawn already (`batches`, unused on
/// the primaries).
#[cfg(not(target_family = "wasm"))]
fn train_block(
    shared: &Shared,
    plan: &StepPlan,
    runs: &mut [Run],
    block: &mut Block,
    batches: Vec<f32>,
) {
    let started_from = begin_step(shared, plan, runs, block);
    let mut failed = Vec::new();
    train_runs(shared, plan, runs, 0, block, batches, &mut failed);
    end_step(shared, block, started_from, &failed);
}

/// Before a step's calls: the `anchor` action, if it fires. Gives a handle on the states
/// the step starts from, which keeps them as they are while the calls write a copy.
fn begin_step(shared: &Shared, plan: &StepPlan, runs: &mut [Run], block: &mut Block) -> Tensor<1> {
    if plan.anchor_action {
        let (a, dims) = (shared.anchor_len, shared.latent_dims);
        let primaries = cpu_values(&shared.primaries);
        for (i, run) in runs.iter_mut().enumerate() {
            if run.failure.is_none() {
                let latents =
                    block.with_params(shared, i, |p| fused_step::encode(p, dims, &primaries));
                write_values(&mut block.anchors, i * a, &latents);
                run.anchored = true;
            }
        }
    }
    block.state.clone()
}

/// One call of the step for `runs`, the block's runs from `first` on, on their `batches`;
/// the runs whose loss went non-finite are added to `failed` (by their place in the block).
fn train_runs(
    shared: &Shared,
    plan: &StepPlan,
    runs: &mut [Run],
    first: usize,
    block: &mut Block,
    batches: Vec<f32>,
    failed: &mut Vec<usize>,
) {
    let args = BlockStepArgs {
        latent_dims: shared.latent_dims,
        weights: plan.weights,
        lr: plan.lr,
        one_batch: plan.on_primaries,
        first_run: first,
        runs: (runs.iter())
            .map(|run| RunArgs {
                updates: run.failure.is_none().then_some(run.updates),
                anchored: run.anchored,
            })
            .collect(),
    };
    let batches = if plan.on_primaries {
        shared.primaries.clone()
    } else {
        cpu_tensor(batches)
    };
    let states = std::mem::replace(&mut block.state, cpu_tensor(Vec::new()));
    let (states, losses) = block_step(
        states,
        batches,
        shared.primaries.clone(),
        block.anchors.clone(),
        args,
    );
    block.state = states;
    for (i, (run, losses)) in runs.iter_mut().zip(losses).enumerate() {
        let Some(losses) = losses else { continue };
        if losses.total.is_finite() {
            run.good_updates = run.updates;
            run.updates += i32::from(losses.updated);
        } else {
            run.failure = Some(non_finite(plan.step, &losses.losses()));
            run.updates = run.good_updates;
            failed.push(first + i);
        }
        run.last = Some(losses);
    }
}

/// After a step's calls: the states it started from become the last good ones, and a run
/// whose loss went non-finite goes back to the start of the previous step, and stays there
/// (as its last good state too) until Apply live lets it go on.
fn end_step(shared: &Shared, block: &mut Block, started_from: Tensor<1>, failed: &[usize]) {
    let s = shared.state_len;
    let older = std::mem::replace(&mut block.last_good, started_from);
    for &i in failed {
        let good = with_values(&older, |v| v[i * s..][..s].to_vec());
        write_values(&mut block.state, i * s, &good);
        write_values(&mut block.last_good, i * s, &good);
    }
}

impl Run {
    /// The sampler's weights after this step's data-fraction.
    fn follow_data_fraction(
        &mut self,
        shared: &Shared,
        plan: &StepPlan,
        cache: &mut DistributionCache,
    ) {
        follow_data_fraction(
            shared,
            plan,
            cache,
            &mut self.sampler,
            &mut self.weights_fraction,
        );
    }
}

/// Step `plan.step`'s batch drawn with `sampler`, as colours (`[B, 3]`) onto the end of
/// `batches` (nothing on the primaries, which are not drawn). A block's runs draw theirs one
/// after another here, and the prefetch thread a run's.
fn draw_batch(
    shared: &Shared,
    plan: &StepPlan,
    sampler: &WeightedBatchSampler,
    batches: &mut Vec<f32>,
) {
    if plan.on_primaries {
        return;
    }
    for i in sampler.batch(plan.step) {
        batches.extend_from_slice(&shared.cube_rgb[i * 3..i * 3 + 3]);
    }
}

/// Moves `sampler`'s weights to this step's data-fraction (`weights_fraction`: the one they
/// follow now); the new distribution and its fraction when they moved.
fn follow_data_fraction(
    shared: &Shared,
    plan: &StepPlan,
    cache: &mut DistributionCache,
    sampler: &mut WeightedBatchSampler,
    weights_fraction: &mut Option<f64>,
) -> Option<(f64, Arc<BatchDistribution>)> {
    let fraction = plan.values[shared.columns.data_fraction?];
    if *weights_fraction == Some(fraction) {
        return None;
    }
    let distribution = cache.get(shared, sampler.bias(), fraction);
    sampler.set_distribution(distribution.clone());
    *weights_fraction = Some(fraction);
    Some((fraction, distribution))
}

/// A step whose arithmetic and drawing run elsewhere (on a GPU): what the host decided
/// for it.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub step: u64,
    pub weights: PerTerm<f64>,
    pub lr: f64,
    /// The `anchor` action fires: the anchor colours' latents, before this step's update,
    /// become the reference.
    pub anchor_action: bool,
    /// Every run trains on the six primaries (phase 1); otherwise on a batch drawn with
    /// [`Sweep::batch_distribution`] and its key.
    pub on_primaries: bool,
}

impl Sweep {
    /// Reads the next step off the timeline and moves on to the step after, leaving the
    /// drawing and the arithmetic to the caller: the host half of [`Sweep::step`]. The
    /// batches are a function of each run's key and the step ([`crate::sampler`]), so the
    /// caller draws what the CPU engine would.
    pub fn plan_step(&mut self) -> Option<PlannedStep> {
        if self.is_finished() {
            return None;
        }
        // The caller draws every run's batch from it, on a GPU that needs the guide.
        let mut cache = DistributionCache::drawing(usize::MAX);
        let plan = StepPlan::of(&self.shared, self.step);
        for run in &mut self.runs {
            run.follow_data_fraction(&self.shared, &plan, &mut cache);
        }
        self.step += 1;
        Some(PlannedStep {
            step: plan.step,
            weights: plan.weights,
            lr: plan.lr,
            anchor_action: plan.anchor_action,
            on_primaries: plan.on_primaries,
        })
    }

    /// The distribution the runs draw their next batch from (the same for every run).
    pub fn batch_distribution(&self) -> &Arc<BatchDistribution> {
        self.runs[0].sampler.distribution()
    }

    /// Every run's sampler key, run by run.
    pub fn sampler_keys(&self) -> Vec<[u32; 2]> {
        self.runs.iter().map(|r| r.sampler.key()).collect()
    }

    /// Sets run `run` to what another engine computed for it.
    pub fn mirror(
        &mut self,
        run: usize,
        state: RunState,
        anchor: Option<Vec<f32>>,
        last: Option<StepLosses>,
        failure: Option<TrainError>,
    ) {
        let (b, i) = self.locate(run);
        let (s, a) = (self.shared.state_len, self.shared.anchor_len);
        let block = &mut self.blocks[b];
        let packed = state.packed();
        write_values(&mut block.state, i * s, &packed);
        write_values(&mut block.last_good, i * s, &packed);
        if let Some(anchor) = &anchor {
            write_values(&mut block.anchors, i * a, anchor);
        }
        let r = &mut self.runs[run];
        r.updates = state.updates;
        r.good_updates = state.updates;
        r.anchored = anchor.is_some();
        r.last = last;
        r.failure = failure;
    }

    /// Run `run`'s state: weights, Adam's moments and update count.
    pub fn state(&self, run: usize) -> RunState {
        let (b, i) = self.locate(run);
        let s = self.shared.state_len;
        let updates = self.runs[run].updates;
        with_values(&self.blocks[b].state, |v| {
            RunState::from_packed(&v[i * s..][..s], updates)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dopesheet::Dopesheet;

    fn timeline(sheet: &str) -> Timeline {
        Timeline::new(&Dopesheet::parse(sheet).expect("the test sheet parses"))
    }

    #[test]
    fn runs_are_split_into_consecutive_even_nonempty_ranges() {
        assert_eq!(split_runs(16, 2), vec![0..8, 8..16]);
        assert_eq!(split_runs(16, 3), vec![0..6, 6..11, 11..16]);
        assert_eq!(split_runs(2, 8), vec![0..1, 1..2]);
        assert_eq!(split_runs(5, 1), vec![0..5]);
        assert_eq!(split_runs(1, 0), vec![0..1]);
        for runs in 1..70 {
            for workers in 1..20 {
                let parts = split_runs(runs, workers);
                assert_eq!(parts.len(), workers.min(runs));
                assert!(parts.iter().all(|p| !p.is_empty()));
                assert_eq!(parts.first().map(|p| p.start), Some(0));
                assert_eq!(parts.last().map(|p| p.end), Some(runs));
                assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
                let sizes = parts.iter().map(|p| p.len());
                assert!(sizes.clone().max().unwrap() - sizes.min().unwrap() <= 1);
            }
        }
    }

    /// A block stepped in several calls (its runs' batches over the limit for one) trains as
    /// one call does, bit for bit: through phase 1, cube batches, runs breaking at different
    /// steps and Apply live.
    #[test]
    fn a_block_stepped_in_several_calls_is_the_block_stepped_in_one() {
        let ramp = "STEP,PHASE,ACTION,lr:log,loss-recon,reg-separate,reg-norm\n\
            0,Primary & secondary,,0.01,1,0.3,0.1\n20,All hues,anchor,,,0,\n\
            +1,Full color space,,,,,\n150,,,1e30,,,\n400,,,,,,\n";
        let calm = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.001,1,0.1\n400,,,,,\n";
        let config = SweepConfig {
            first_seed: 0,
            runs: 5,
            latent_dims: 3,
            batch_size: 16,
        };
        let train = |call_values: usize| {
            let mut sweep = Sweep::new(timeline(ramp), config.clone()).unwrap();
            sweep.call_values = call_values;
            for _ in 0..120 {
                sweep.step();
            }
            assert!(sweep.runs.iter().any(|r| r.failure.is_some()));
            sweep.set_timeline(timeline(calm));
            for _ in 0..20 {
                sweep.step();
            }
            (0..config.runs).map(|r| sweep.state(r)).collect::<Vec<_>>()
        };
        let whole = train(CALL_VALUES);
        // 48 values a run: two runs a call, then one.
        assert_eq!(train(100), whole);
        assert_eq!(train(1), whole);
    }
}
