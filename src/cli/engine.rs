//! The two ways the CLI trains one run, behind one face: the fused CPU step (the default, a
//! [`Sweep`] of one) and Burn's operations through [`Trainer`] (the reference, and the way to
//! any Burn backend).

use burn::prelude::*;

use super::CliError;
use crate::plot::PhaseSnapshot;
use crate::sweep::{Sweep, SweepConfig};
use crate::timeline::Timeline;
use crate::train::{read_f32, Event, Losses, Trainer, TrainerConfig, Warning};

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
    config: TrainerConfig,
    burn_device: Option<Device>,
) -> Result<(Box<dyn Engine>, Vec<Warning>), CliError> {
    let warnings = Trainer::warnings_of(&timeline);
    let engine: Box<dyn Engine> = match burn_device {
        Some(device) => Box::new(Trainer::new(timeline, config, &device)?),
        None => {
            let sweep = SweepConfig {
                first_seed: config.seed,
                runs: 1,
                latent_dims: config.latent_dims,
                batch_size: config.batch_size,
            };
            let mut sweep = Sweep::new(timeline, sweep)?;
            // A second core draws the batches ahead; one core would only take turns.
            if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
                sweep.prefetch_batches();
            }
            Box::new(sweep)
        }
    };
    Ok((engine, warnings))
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
        let state = self.timeline().state(step);
        Ok(Record {
            step,
            phase_index: state.phase_index,
            lr: self
                .timeline()
                .property_index("lr")
                .map_or(0.0, |i| state.values[i]),
            losses,
            phase_end: self.phase_end(0, step),
        })
    }

    fn infer(&self, rgb: &[f32]) -> Result<(Vec<f32>, Vec<f32>), CliError> {
        Ok(Sweep::infer(self, 0, rgb))
    }

    fn latent_dims(&self) -> usize {
        Sweep::latent_dims(self)
    }
}

impl Engine for Trainer {
    fn timeline(&self) -> &Timeline {
        Trainer::timeline(self)
    }

    fn is_finished(&self) -> bool {
        Trainer::is_finished(self)
    }

    fn step_index(&self) -> u64 {
        Trainer::step_index(self)
    }

    fn step(&mut self) -> Result<Record, CliError> {
        let report = Trainer::step(self)?;
        let losses = report.read_losses()?;
        let mut phase_end = None;
        for event in report.events {
            if let Event::PhaseEnd {
                step,
                phase,
                colors,
                latents,
                ..
            } = event
            {
                let dims = latents.dims()[1];
                phase_end = Some(PhaseSnapshot {
                    phase,
                    step,
                    latents: read_f32(latents)?,
                    dims,
                    colors: colors.rgb_f32(),
                });
            }
        }
        Ok(Record {
            step: report.step,
            phase_index: report.phase_index,
            lr: report.lr,
            losses,
            phase_end,
        })
    }

    fn infer(&self, rgb: &[f32]) -> Result<(Vec<f32>, Vec<f32>), CliError> {
        let colors = Tensor::from_data(
            TensorData::new(rgb.to_vec(), [rgb.len() / 3, 3]),
            self.device(),
        );
        let (outputs, latents) = Trainer::infer(self, colors);
        Ok((read_f32(outputs)?, read_f32(latents)?))
    }

    fn latent_dims(&self) -> usize {
        self.config().latent_dims
    }
}
