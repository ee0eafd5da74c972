//! Many runs of one curriculum at once, on the CPU: one seed per run.
//!
//! Each run has its own initial weights and sampler key (both from its seed), its own Adam
//! state and its own anchor reference, and applies the skip rule (total ≤ 0) on its own. All
//! runs follow the same timeline step by step; a step of a run is one call of the fused step,
//! a Burn backend extension on the CPU backend ([`fused_step::op`]), so a run here is what
//! [`Trainer`](crate::train::Trainer) computes for that seed, without Burn's per-operation
//! cost (tests/fused_step.rs holds the two together). Runs are independent, so a sweep splits
//! them over the machine's cores.

#[cfg(not(target_family = "wasm"))]
mod prefetch;

use std::sync::Arc;

use burn::prelude::*;

use crate::data::{data_fraction_weights, ColorCube};
use crate::fused_step::op::{cpu_tensor, cpu_values, run_step, StateTensor};
use crate::fused_step::{self, RunState, StepLosses};
use crate::loss::PerTerm;
use crate::model::initial_parameters;
use crate::plot::PhaseSnapshot;
use crate::sampler::{batch_distribution, BatchDistribution, WeightedBatchSampler};
use crate::timeline::Timeline;
use crate::train::{check_model_size, non_finite, Checkpoint, Columns, PhaseData, TrainError};
use crate::verdict::{probe_colors, Verdict};

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
    /// The anchor reference before the `anchor` action: none.
    no_anchor: Tensor<1>,
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

/// One seed's run.
pub struct Run {
    pub seed: u64,
    state: StateTensor,
    /// The state at the start of the previous step, whose loss was finite: where a run goes
    /// back to when an update leads to a non-finite loss: a handle on the buffer that step
    /// started from, which the step left as it was (it wrote a copy).
    last_good: StateTensor,
    sampler: WeightedBatchSampler,
    /// data-fraction the sampler's weights were last computed for.
    weights_fraction: Option<f64>,
    /// The primaries' latents when the `anchor` action last fired.
    anchor: Option<Tensor<1>>,
    /// The last step's losses.
    pub last: Option<StepLosses>,
    /// Set when a step's loss was not finite; the run stops there, the others go on.
    pub failure: Option<TrainError>,
}

pub struct Sweep {
    shared: Shared,
    runs: Vec<Run>,
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
        let runs = seeds
            .map(|seed| {
                let state =
                    StateTensor::of(&RunState::new(initial_parameters(config.latent_dims, seed)));
                Run {
                    seed,
                    last_good: state.clone(),
                    state,
                    // The trainer's sampler for this seed.
                    sampler: WeightedBatchSampler::new(
                        bias.clone(),
                        config.batch_size,
                        seed ^ crate::train::SAMPLER_STREAM,
                    ),
                    weights_fraction: None,
                    anchor: None,
                    last: None,
                    failure: None,
                }
            })
            .collect();
        Ok(Sweep {
            shared: Shared {
                columns: Columns::of(&timeline),
                timeline,
                latent_dims: config.latent_dims,
                cube_rgb: cube.rgb_f32(),
                vibrancy: cube.vibrancy.clone().expect("an HSV cube has vibrancy"),
                primaries: cpu_tensor(ColorCube::primaries().rgb_f32()),
                no_anchor: cpu_tensor(Vec::new()),
            },
            runs,
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
        let run = &mut sweep.runs[0];
        let state = &checkpoint.state;
        let n = crate::model::parameter_count(config.latent_dims);
        if [&state.params, &state.moment_1, &state.moment_2]
            .iter()
            .any(|v| v.len() != n)
        {
            return Err(TrainError::Parameters(state.params.len()));
        }
        run.state = StateTensor::of(state);
        run.last_good = run.state.clone();
        run.anchor = checkpoint.anchor.clone().map(cpu_tensor);
        run.sampler = checkpoint.sampler.clone();
        sweep.step = checkpoint.step.min(sweep.shared.timeline.len());
        Ok(sweep)
    }

    /// One step of every run.
    pub fn step(&mut self) {
        if self.is_finished() {
            return;
        }
        let step = StepPlan::of(&self.shared, self.step);
        #[cfg(not(target_family = "wasm"))]
        if let Some(prepared) = self.prefetched() {
            let run = &mut self.runs[0];
            let batch = run.accept(prepared);
            run.train(&self.shared, &step, batch);
            self.step += 1;
            return;
        }
        let mut cache = DistributionCache::serving(&self.runs);
        for run in &mut self.runs {
            run.step(&self.shared, &step, &mut cache);
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
            while !self.is_finished() {
                self.step();
                if self.step.is_multiple_of(256) {
                    progress(self.step - from);
                }
            }
            progress(to - from);
            return;
        }
        let threads = threads.clamp(1, self.runs.len());
        let done = std::sync::atomic::AtomicU64::new(0);
        let shared = &self.shared;
        let chunk = self.runs.len().div_ceil(threads);
        let train = |runs: &mut [Run]| {
            let mut cache = DistributionCache::serving(runs);
            for step in from..to {
                let plan = StepPlan::of(shared, step);
                for run in runs.iter_mut() {
                    run.step(shared, &plan, &mut cache);
                }
                let so_far =
                    done.fetch_add(runs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if step.is_multiple_of(256) {
                    progress(so_far);
                }
            }
        };
        if threads == 1 || cfg!(target_family = "wasm") {
            train(&mut self.runs);
        } else {
            std::thread::scope(|scope| {
                for runs in self.runs.chunks_mut(chunk) {
                    scope.spawn(|| train(runs));
                }
            });
        }
        progress(done.into_inner());
        self.step = to;
    }

    /// Run `run`'s `(outputs, latents)` for `rgb` (`[rows, 3]`).
    pub fn infer(&self, run: usize, rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let dims = self.shared.latent_dims;
        (self.runs[run].state).with_params(|params| fused_step::infer(params, dims, rgb))
    }

    /// Run `run`'s latents for `rgb` (`[rows, 3]`): [`Sweep::infer`] without the decoder.
    pub fn latents(&self, run: usize, rgb: &[f32]) -> Vec<f32> {
        self.runs[run].latents(self.shared.latent_dims, rgb)
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
        Checkpoint {
            step: self.step,
            state: r.state.to_run_state(),
            anchor: r.anchor.as_ref().map(cpu_values),
            sampler: r.sampler.clone(),
        }
    }

    /// Run `run`'s parameters, in the flat layout.
    pub fn parameters(&self, run: usize) -> Vec<f32> {
        self.runs[run].state.with_params(<[f32]>::to_vec)
    }

    /// Every run's verdict under its current weights.
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

impl Run {
    /// The trainer's step for this run, in the trainer's order (spec §2.7).
    fn step(&mut self, shared: &Shared, plan: &StepPlan, cache: &mut DistributionCache) {
        if self.failure.is_some() {
            // Its sampler keeps up, so that after Apply live it draws what the GPU engine
            // (which follows data-fraction for every run) draws.
            self.follow_data_fraction(shared, plan, cache);
            return;
        }
        let batch = self.draw(shared, plan, cache);
        self.train(shared, plan, batch);
    }

    /// The step's arithmetic, on the drawn `batch` (unused on the primaries).
    fn train(&mut self, shared: &Shared, plan: &StepPlan, batch: Vec<f32>) {
        if plan.anchor_action {
            let latents = self.latents(shared.latent_dims, &cpu_values(&shared.primaries));
            self.anchor = Some(cpu_tensor(latents));
        }
        let batch = if plan.on_primaries {
            shared.primaries.clone()
        } else {
            cpu_tensor(batch)
        };
        // `self.state` keeps the buffer the step started from: the step writes a copy.
        let (state, losses) = run_step(
            self.state.clone(),
            batch,
            shared.primaries.clone(),
            self.anchor
                .clone()
                .unwrap_or_else(|| shared.no_anchor.clone()),
            shared.latent_dims,
            plan.weights,
            plan.lr,
        );
        if !losses.total.is_finite() {
            self.failure = Some(non_finite(plan.step, &losses.losses()));
            self.state = self.last_good.clone();
        } else {
            self.last_good = std::mem::replace(&mut self.state, state);
        }
        self.last = Some(losses);
    }

    fn latents(&self, latent_dims: usize, rgb: &[f32]) -> Vec<f32> {
        (self.state).with_params(|params| fused_step::encode(params, latent_dims, rgb))
    }

    /// What the host decides of a step: the batch (drawn before this step's data-fraction
    /// applies: batch t uses step t−1's weights), then the sampler's new weights.
    fn draw(
        &mut self,
        shared: &Shared,
        plan: &StepPlan,
        cache: &mut DistributionCache,
    ) -> Vec<f32> {
        let batch = draw_batch(shared, plan, &self.sampler);
        self.follow_data_fraction(shared, plan, cache);
        batch
    }

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

/// Step `plan.step`'s batch drawn with `sampler`, as colours (`[B, 3]`; empty on the
/// primaries, which are not drawn). The run and the prefetch thread both draw here.
fn draw_batch(shared: &Shared, plan: &StepPlan, sampler: &WeightedBatchSampler) -> Vec<f32> {
    if plan.on_primaries {
        return Vec::new();
    }
    let mut batch = Vec::with_capacity(sampler.batch_size() * 3);
    for i in sampler.batch(plan.step) {
        batch.extend_from_slice(&shared.cube_rgb[i * 3..i * 3 + 3]);
    }
    batch
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
        let r = &mut self.runs[run];
        r.state = StateTensor::of(&state);
        r.anchor = anchor.map(cpu_tensor);
        r.last = last;
        r.failure = failure;
    }

    /// Run `run`'s state: weights, Adam's moments and update count.
    pub fn state(&self, run: usize) -> RunState {
        self.runs[run].state.to_run_state()
    }
}
