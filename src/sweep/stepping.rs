//! A step of a block of runs: drawing their batches, one call of the fused step for all of
//! them (or a few at large batches), and the rule for a run whose loss went non-finite.

use super::*;

/// What a step asks of every run, read from the timeline once for all of them.
pub(super) struct StepPlan {
    pub(super) step: u64,
    pub(super) values: Vec<f64>,
    pub(super) on_primaries: bool,
    pub(super) anchor_action: bool,
    pub(super) weights: PerTerm<f64>,
    pub(super) lr: f64,
}

impl StepPlan {
    pub(super) fn of(shared: &Shared, step: u64) -> Self {
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
    pub(super) fn new(runs: Range<usize>, states: Vec<f32>, anchors: Vec<f32>) -> Self {
        let state = cpu_tensor(states);
        Block {
            runs,
            last_good: state.clone(),
            state,
            anchors: cpu_tensor(anchors),
        }
    }

    /// `f` of its `i`-th run's parameters, read where they lie.
    pub(super) fn with_params<T>(
        &self,
        shared: &Shared,
        i: usize,
        f: impl FnOnce(&[f32]) -> T,
    ) -> T {
        let s = shared.state_len;
        with_values(&self.state, |v| f(&v[i * s..][..s / 3]))
    }
}

/// The most batch values one call of the step takes: a sweep of many runs at a large batch
/// steps its block in several calls rather than hold every run's batch at once (1,024 runs at
/// batch 65,536 would be 805 MB). 1 Mi values (4 MiB): at batch 256, 1,365 runs a call, so the
/// page's sweeps (up to 1,024 runs) are one call a step there.
pub(super) const CALL_VALUES: usize = 1 << 20;

/// The step for a block's runs, in the notebook's order (spec §2.7): the runs draw
/// their batches, then one call trains them all (or, at large batches, one call per group of
/// runs whose batches fit in `call_values`).
pub(super) fn step_block(
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
pub(super) fn train_block(
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
pub(super) fn begin_step(
    shared: &Shared,
    plan: &StepPlan,
    runs: &mut [Run],
    block: &mut Block,
) -> Tensor<1> {
    if plan.anchor_action {
        let (a, dims) = (shared.anchor_len, shared.latent_dims);
        let primaries = cpu_values(&shared.primaries);
        for (i, run) in runs.iter_mut().enumerate() {
            if run.failure.is_none() {
                let latents = block.with_params(shared, i, |p| step::encode(p, dims, &primaries));
                write_values(&mut block.anchors, i * a, &latents);
                run.anchored = true;
            }
        }
    }
    block.state.clone()
}

/// One call of the step for `runs`, the block's runs from `first` on, on their `batches`;
/// the runs whose loss went non-finite are added to `failed` (by their place in the block).
pub(super) fn train_runs(
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
pub(super) fn end_step(
    shared: &Shared,
    block: &mut Block,
    started_from: Tensor<1>,
    failed: &[usize],
) {
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
    pub(super) fn follow_data_fraction(
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
pub(super) fn draw_batch(
    shared: &Shared,
    plan: &StepPlan,
    sampler: &WeightedBatchSampler,
    batches: &mut Vec<f32>,
) {
    if plan.on_primaries {
        return;
    }
    sampler.draw_colors(plan.step, &shared.cube_rgb, batches);
}

/// Moves `sampler`'s weights to this step's data-fraction (`weights_fraction`: the one they
/// follow now); the new distribution and its fraction when they moved.
pub(super) fn follow_data_fraction(
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
