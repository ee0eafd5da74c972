//! The host's half of a sweep whose arithmetic runs on a GPU: it plans each step from the
//! timeline and mirrors the runs' state read back from the device.

use super::*;

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
