//! A comparison's second sheet, trained beside the run on the same seeds.

use super::*;

/// A comparison's second sheet (B): the run's seeds trained on it beside the run, step for
/// step, on the CPU engine.
pub(super) struct Versus {
    pub(super) sweep: Box<CpuSweep>,
    /// Its first run's last losses, for the next frame.
    pub(super) losses: Option<LossSample>,
}

impl Versus {
    /// B's runs from their seeds, or going on from `saved` (a hand-over's).
    pub(super) fn new(
        timeline: Timeline,
        config: RunSpec,
        saved: Option<&SweepCheckpoint>,
    ) -> Result<Self, JsValue> {
        Ok(Versus {
            sweep: cpu_sweep(timeline, config, saved).map_err(js_error)?,
            losses: None,
        })
    }

    /// One step, judged as the run's are; nothing once B's sheet has ended.
    pub(super) fn step(&mut self) {
        if self.sweep.is_finished() {
            return;
        }
        let step = self.sweep.step_index();
        self.sweep.step();
        if (step + 1).is_multiple_of(crate::verdict::Onset::EVERY) || self.sweep.is_finished() {
            self.sweep.judge_onsets_now();
        }
        if let Some(l) = self.sweep.runs()[0].last.map(|l| l.losses()) {
            self.losses = Some(LossSample {
                step,
                total: l.total,
                terms: l.terms.0,
            });
        }
    }
}
