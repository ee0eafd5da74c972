//! Many runs of one curriculum at once, on the CPU: one seed per run.
//!
//! Each run has its own initial weights and sampler key (both from its seed), its own Adam
//! state and its own anchor reference, and applies the skip rule (total ≤ 0) on its own. All
//! runs follow the same timeline step by step. Their states lie in blocks, one tensor each,
//! and a step of a block's runs is one call of the step ([`crate::step`]) through a Burn
//! backend extension on the CPU backend ([`step::op`]); tests/conformance.rs and tests/sweep.rs
//! hold each run to the oracle's run of its seed. Runs are independent, so a sweep splits them
//! over the machine's cores, a block per thread.

mod checkpoint;
mod judging;
pub mod kept;
mod mirror;
#[cfg(not(target_family = "wasm"))]
mod prefetch;
mod stepping;

pub use checkpoint::{CheckpointError, RunCheckpoint, SweepCheckpoint};
pub use kept::KeptStates;
pub use mirror::PlannedStep;

use std::ops::Range;
use std::sync::Arc;

use judging::judge_onsets;
use stepping::*;

use burn::prelude::*;

use crate::data::{data_fraction_weights, ColorCube};
use crate::plot::PhaseSnapshot;
use crate::run::setting::RUNS;
use crate::run::{
    check_model_size, non_finite, Checkpoint, Columns, PhaseData, RunSpec, TrainError,
};
use crate::sampler::{batch_distribution, BatchDistribution, WeightedBatchSampler};
use crate::step::layout::{initial_parameters, parameter_count};
use crate::step::loss::PerTerm;
use crate::step::op::{
    block_step, cpu_tensor, cpu_values, with_values, write_values, BlockStepArgs, RunArgs,
};
use crate::step::{self, RunState, StepLosses};
use crate::timeline::Timeline;
use crate::verdict::{probe_colors, shape_probe, Onset, Shape, Verdict};

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
    pub fn new(timeline: Timeline, config: RunSpec) -> Result<Self, TrainError> {
        check_model_size(config.latent_dims, config.batch_size)?;
        RUNS.check(config.runs as u64)?;
        let cube = ColorCube::full();
        let bias: Arc<[f64]> = cube.bias.clone().into();
        let seeds = (0..config.runs).map(|r| config.seed_of(r));
        let runs: Vec<Run> = seeds
            .map(|seed| {
                Run {
                    seed,
                    updates: 0,
                    good_updates: 0,
                    // The run's sampler for this seed.
                    sampler: WeightedBatchSampler::new(
                        bias.clone(),
                        config.batch_size,
                        seed ^ crate::run::SAMPLER_STREAM,
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

    /// A sweep of one run that continues from a [`Checkpoint`] (a run checkpointed in
    /// another sweep): its weights, Adam's state, anchor reference and sampler.
    pub fn resume_one(
        timeline: Timeline,
        config: RunSpec,
        checkpoint: &Checkpoint,
    ) -> Result<Self, TrainError> {
        let mut sweep = Sweep::new(timeline, RunSpec { runs: 1, ..config })?;
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
        self.with_params(run, |params| step::infer(params, dims, rgb))
    }

    /// Run `run`'s latents for `rgb` (`[rows, 3]`): [`Sweep::infer`] without the decoder.
    pub fn latents(&self, run: usize, rgb: &[f32]) -> Vec<f32> {
        let dims = self.shared.latent_dims;
        self.with_params(run, |params| step::encode(params, dims, rgb))
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
        crate::run::phase_end_set(&self.shared.timeline, step)
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
}

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
        let config = RunSpec {
            seed: 0,
            runs: 5,
            latent_dims: 3,
            batch_size: 16,
        };
        let train = |call_values: usize| {
            let mut sweep = Sweep::new(timeline(ramp), config).unwrap();
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
