//! One run's batches, drawn ahead on another core.
//!
//! What a step trains on is a function of the run's sampler key, the step and the timeline
//! ([`crate::sampler`]); it never depends on the model. So for the CLI's single run (one
//! thread, a machine with two cores or more) a second thread draws the batches ahead, and
//! rebuilds the sampler's table while data-fraction ramps: 17–19% of a run on one thread
//! (perf). The batches are the ones the run would draw itself (tested), so the run is the
//! same bit for bit.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use super::{draw_batch, follow_data_fraction, DistributionCache, Shared, StepPlan};
use crate::sampler::{BatchDistribution, WeightedBatchSampler};

/// Steps sent at a time: the threads meet once per chunk, not once per step.
const CHUNK: usize = 16;
/// Chunks drawn ahead at most. During a ramp every step carries its own sampler table
/// (28 kB): 256 steps ahead (64 × 4) added 11 MB to a run's resident memory, these 32 add
/// 2.5 MB, and the run is as fast (measured: `train` on ex-1.5).
const AHEAD: usize = 2;

/// What a step of the run trains on, drawn ahead.
pub(super) struct Prepared {
    pub step: u64,
    /// The drawn batch's colours, `[B, 3]` (empty on the primaries).
    pub batch: Vec<f32>,
    /// The sampler's distribution after this step and its data-fraction, when it moved.
    pub distribution: Option<(f64, Arc<BatchDistribution>)>,
}

pub(super) struct Prefetch {
    chunks: Receiver<Vec<Prepared>>,
    ready: VecDeque<Prepared>,
}

impl Prefetch {
    /// Draws from step `from` on, as a run with `sampler` (whose weights follow
    /// `weights_fraction`) would. The thread ends when the timeline does or the receiver goes.
    pub fn start(
        shared: Shared,
        mut sampler: WeightedBatchSampler,
        mut weights_fraction: Option<f64>,
        from: u64,
    ) -> Self {
        let (send, chunks) = sync_channel(AHEAD);
        std::thread::spawn(move || {
            let mut cache = DistributionCache::drawing(sampler.batch_size());
            let mut chunk = Vec::with_capacity(CHUNK);
            for step in from..shared.timeline.len() {
                let plan = StepPlan::of(&shared, step);
                let mut batch = Vec::new();
                draw_batch(&shared, &plan, &sampler, &mut batch);
                let distribution = follow_data_fraction(
                    &shared,
                    &plan,
                    &mut cache,
                    &mut sampler,
                    &mut weights_fraction,
                );
                chunk.push(Prepared {
                    step,
                    batch,
                    distribution,
                });
                if chunk.len() == CHUNK && send.send(std::mem::take(&mut chunk)).is_err() {
                    return;
                }
            }
            let _ = send.send(chunk);
        });
        Prefetch {
            chunks,
            ready: VecDeque::new(),
        }
    }

    /// Step `step`'s batch; `None` if the thread has nothing for it (then the run draws).
    pub fn take(&mut self, step: u64) -> Option<Prepared> {
        if self.ready.is_empty() {
            self.ready.extend(self.chunks.recv().ok()?);
        }
        self.ready.pop_front().filter(|p| p.step == step)
    }
}

impl super::Run {
    /// A prepared step's batch, with the sampler's distribution after it set as drawing the
    /// batch in the step would have left it.
    pub(super) fn accept(&mut self, prepared: Prepared) -> Vec<f32> {
        if let Some((fraction, distribution)) = prepared.distribution {
            self.sampler.set_distribution(distribution);
            self.weights_fraction = Some(fraction);
        }
        prepared.batch
    }
}
