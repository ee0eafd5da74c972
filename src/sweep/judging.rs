//! Judging a sweep's runs: their verdicts, and the step each verdict settled at (onset).

use super::*;

impl Sweep {
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
pub(super) fn judge_onsets(
    shared: &Shared,
    runs: &mut [Run],
    block: &Block,
    step: u64,
    probe: &[f32],
) {
    let dims = shared.latent_dims;
    for (i, run) in runs.iter_mut().enumerate() {
        let latents = block.with_params(shared, i, |p| step::encode(p, dims, probe));
        run.onset.observe(step, Shape::of(&latents, dims));
    }
}
