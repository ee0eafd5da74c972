//! The two ways the CLI trains one run, behind one face: the CPU engine (the default, a
//! [`Sweep`] of one, on the host step) and the oracle ([`Reference`], Burn's layers, autodiff
//! and Adam on Burn's CPU backend).

use super::CliError;
use crate::plot::PhaseSnapshot;
use crate::reference::Reference;
use crate::run::{non_finite, phase_end_set, warnings_of, Losses, RunSpec, Warning};
use crate::sweep::Sweep;
use crate::timeline::Timeline;

/// One finished step, as the CLI records it.
pub(super) struct Record {
    pub step: u64,
    pub phase_index: usize,
    pub lr: f64,
    pub losses: Losses,
    /// The RGB grid's latents when the step ended a phase.
    pub phase_end: Option<PhaseSnapshot>,
}

pub(super) trait Engine {
    fn timeline(&self) -> &Timeline;
    fn is_finished(&self) -> bool;
    /// The step the next call trains.
    fn step_index(&self) -> u64;
    fn step(&mut self) -> Result<Record, CliError>;
    /// `(outputs, latents)` of `rgb` (`[rows, 3]`) under the current weights.
    fn infer(&self, rgb: &[f32]) -> Result<(Vec<f32>, Vec<f32>), CliError>;
    fn latent_dims(&self) -> usize;
}

pub(super) fn engine(
    timeline: Timeline,
    config: RunSpec,
    reference: bool,
) -> Result<(Box<dyn Engine>, Vec<Warning>), CliError> {
    let warnings = warnings_of(&timeline);
    let engine: Box<dyn Engine> = if reference {
        Box::new(Reference::new(
            timeline,
            config.seed,
            config.latent_dims,
            config.batch_size,
        )?)
    } else {
        let mut sweep = Sweep::new(timeline, RunSpec { runs: 1, ..config })?;
        // A second core draws the batches ahead; one core would only take turns.
        if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
            sweep.prefetch_batches();
        }
        Box::new(sweep)
    };
    Ok((engine, warnings))
}

/// Step `step`'s record, its phase and `lr` read from the timeline.
fn record(
    timeline: &Timeline,
    step: u64,
    losses: Losses,
    phase_end: Option<PhaseSnapshot>,
) -> Record {
    let state = timeline.state(step);
    Record {
        step,
        phase_index: state.phase_index,
        lr: timeline
            .property_index("lr")
            .map_or(0.0, |i| state.values[i]),
        losses,
        phase_end,
    }
}

impl Engine for Sweep {
    fn timeline(&self) -> &Timeline {
        Sweep::timeline(self)
    }

    fn is_finished(&self) -> bool {
        Sweep::is_finished(self)
    }

    fn step_index(&self) -> u64 {
        Sweep::step_index(self)
    }

    fn step(&mut self) -> Result<Record, CliError> {
        let step = self.step_index();
        Sweep::step(self);
        let run = &self.runs()[0];
        if let Some(failure) = &run.failure {
            return Err(failure.clone().into());
        }
        let losses = run.last.expect("a step ran").losses();
        Ok(record(
            self.timeline(),
            step,
            losses,
            self.phase_end(0, step),
        ))
    }

    fn infer(&self, rgb: &[f32]) -> Result<(Vec<f32>, Vec<f32>), CliError> {
        Ok(Sweep::infer(self, 0, rgb))
    }

    fn latent_dims(&self) -> usize {
        Sweep::latent_dims(self)
    }
}

impl Engine for Reference {
    fn timeline(&self) -> &Timeline {
        Reference::timeline(self)
    }

    fn is_finished(&self) -> bool {
        Reference::is_finished(self)
    }

    fn step_index(&self) -> u64 {
        Reference::step_index(self)
    }

    fn step(&mut self) -> Result<Record, CliError> {
        let report = Reference::step(self).expect("called before the end");
        let losses = Losses {
            total: report.total,
            terms: report.terms,
        };
        if self.failed() {
            return Err(non_finite(report.step, &losses).into());
        }
        let phase_end =
            phase_end_set(self.timeline(), report.step).map(|(phase, colors)| PhaseSnapshot {
                phase,
                step: report.step,
                latents: self.infer(&colors).1,
                dims: self.latent_dims(),
                colors,
            });
        Ok(record(self.timeline(), report.step, losses, phase_end))
    }

    fn infer(&self, rgb: &[f32]) -> Result<(Vec<f32>, Vec<f32>), CliError> {
        Ok(Reference::infer(self, rgb))
    }

    fn latent_dims(&self) -> usize {
        Reference::latent_dims(self)
    }
}
