//! A sweep's runs as they stand, as bytes: what an engine hands to another (the CPU's to the
//! GPU's, or back after a lost device) so that the runs go on as if nothing had happened.
//!
//! The page's two wasm modules cannot share memory, so a hand-over is a [`SweepCheckpoint`]
//! serialised in one worker and read in another. A sweep shared among several workers hands
//! over one part each; [`SweepCheckpoint::join`] puts them together and
//! [`SweepCheckpoint::split`] shares one out again.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{DistributionCache, Sweep};
use crate::run::RunSpec;
use crate::run::{non_finite, TrainError};
use crate::step::layout::parameter_count;
use crate::step::loss::{PerTerm, Term};
use crate::step::{RunState, StepLosses};
use crate::timeline::Timeline;
use crate::verdict::Onset;

/// The layout of the bytes: a reader refuses another.
const FORMAT: u32 = 2;

/// Every run of a sweep (or of one worker's part of it) at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepCheckpoint {
    format: u32,
    /// The step the runs train next.
    pub step: u64,
    pub latent_dims: usize,
    pub batch_size: usize,
    /// Consecutive seeds, run by run.
    pub runs: Vec<RunCheckpoint>,
}

/// One run: its weights and Adam's state, its anchor reference, where its sampler stands and
/// how its last step went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCheckpoint {
    pub seed: u64,
    /// Adam's time step.
    pub updates: i32,
    /// The parameters, then Adam's first and second moments ([`RunState::packed`]).
    pub state: Vec<f32>,
    /// The anchor colours' latents, once the `anchor` action fired for it.
    pub anchor: Option<Vec<f32>>,
    /// The data-fraction its sampler's weights follow (its key comes from the seed).
    pub weights_fraction: Option<f64>,
    pub last: Option<SavedLosses>,
    /// The step whose loss went non-finite, for a run that stopped there.
    pub failed_at: Option<u64>,
    /// Where its verdict has settled so far, judged while it trained.
    pub onset: Onset,
}

/// [`StepLosses`], in plain fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SavedLosses {
    total: f32,
    terms: [f32; Term::COUNT],
    computed: [bool; Term::COUNT],
    updated: bool,
}

impl From<StepLosses> for SavedLosses {
    fn from(l: StepLosses) -> Self {
        SavedLosses {
            total: l.total,
            terms: l.terms.0,
            computed: l.computed.0,
            updated: l.updated,
        }
    }
}

impl From<SavedLosses> for StepLosses {
    fn from(l: SavedLosses) -> Self {
        StepLosses {
            total: l.total,
            terms: PerTerm(l.terms),
            computed: PerTerm(l.computed),
            updated: l.updated,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint could not be read: {0}")]
    Decode(String),
    #[error("the checkpoint is in format {got}; this engine reads format {FORMAT}")]
    Format { got: u32 },
    #[error("the checkpoint holds no run")]
    Empty,
    #[error("the checkpoint's parts do not fit together: {0}")]
    Parts(String),
    #[error("run {run}'s state has {got} values; a {dims}-D model's has {want}")]
    Shape {
        run: usize,
        got: usize,
        want: usize,
        dims: usize,
    },
    #[error(transparent)]
    Train(#[from] TrainError),
}

impl SweepCheckpoint {
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a checkpoint always serialises")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let checkpoint: SweepCheckpoint =
            postcard::from_bytes(bytes).map_err(|e| CheckpointError::Decode(e.to_string()))?;
        if checkpoint.format != FORMAT {
            return Err(CheckpointError::Format {
                got: checkpoint.format,
            });
        }
        checkpoint.check()?;
        Ok(checkpoint)
    }

    /// The sweep these runs are: consecutive seeds from the first run's.
    pub fn config(&self) -> RunSpec {
        RunSpec {
            seed: self.runs.first().map_or(0, |r| r.seed),
            runs: self.runs.len(),
            latent_dims: self.latent_dims,
            batch_size: self.batch_size,
        }
    }

    /// Parts of one sweep, in order, at one step: the whole sweep.
    pub fn join(parts: Vec<SweepCheckpoint>) -> Result<Self, CheckpointError> {
        let mut parts = parts.into_iter();
        let mut whole = parts.next().ok_or(CheckpointError::Empty)?;
        for part in parts {
            let next_seed = whole.config().seed.wrapping_add(whole.runs.len() as u64);
            let mismatch = if part.step != whole.step {
                Some(format!("steps {} and {}", whole.step, part.step))
            } else if (part.latent_dims, part.batch_size) != (whole.latent_dims, whole.batch_size) {
                Some("different model or batch sizes".to_string())
            } else if part.runs.first().map(|r| r.seed) != Some(next_seed) {
                Some(format!("seed {next_seed} does not follow on"))
            } else {
                None
            };
            if let Some(why) = mismatch {
                return Err(CheckpointError::Parts(why));
            }
            whole.runs.extend(part.runs);
        }
        Ok(whole)
    }

    /// The runs in each of `parts` (consecutive ranges covering them, as
    /// [`split_runs`](super::split_runs) gives), each as a checkpoint of its own.
    pub fn split(&self, parts: &[Range<usize>]) -> Vec<SweepCheckpoint> {
        parts.iter().map(|range| self.part(range.clone())).collect()
    }

    /// The runs in `range`, as a checkpoint of their own.
    pub fn part(&self, range: Range<usize>) -> SweepCheckpoint {
        SweepCheckpoint {
            runs: self.runs[range].to_vec(),
            ..self.header()
        }
    }

    fn header(&self) -> SweepCheckpoint {
        SweepCheckpoint {
            format: self.format,
            step: self.step,
            latent_dims: self.latent_dims,
            batch_size: self.batch_size,
            runs: Vec::new(),
        }
    }

    /// What bytes from elsewhere must hold for a sweep to take them.
    fn check(&self) -> Result<(), CheckpointError> {
        let first = self.runs.first().ok_or(CheckpointError::Empty)?.seed;
        let want = 3 * parameter_count(self.latent_dims);
        for (r, run) in self.runs.iter().enumerate() {
            if run.seed != first.wrapping_add(r as u64) {
                return Err(CheckpointError::Parts(format!(
                    "run {r} has seed {}, not {}",
                    run.seed,
                    first.wrapping_add(r as u64)
                )));
            }
            let anchor_ok = run
                .anchor
                .as_ref()
                .is_none_or(|a| a.len() == 6 * self.latent_dims);
            if run.state.len() != want || !anchor_ok {
                return Err(CheckpointError::Shape {
                    run: r,
                    got: run.state.len(),
                    want,
                    dims: self.latent_dims,
                });
            }
        }
        Ok(())
    }
}

impl Sweep {
    /// Every run as it stands, to go on elsewhere ([`Sweep::restore`]).
    pub fn save(&self) -> SweepCheckpoint {
        let a = self.shared.anchor_len;
        let runs = (self.runs.iter().enumerate())
            .map(|(r, run)| {
                let (b, i) = self.locate(r);
                let anchor = (run.anchored).then(|| {
                    super::with_values(&self.blocks[b].anchors, |v| v[i * a..][..a].to_vec())
                });
                RunCheckpoint {
                    seed: run.seed,
                    updates: run.updates,
                    state: self.state(r).packed(),
                    anchor,
                    weights_fraction: run.weights_fraction,
                    last: run.last.map(SavedLosses::from),
                    failed_at: match run.failure {
                        Some(TrainError::NonFiniteLoss { step, .. }) => Some(step),
                        _ => None,
                    },
                    onset: run.onset,
                }
            })
            .collect();
        SweepCheckpoint {
            format: FORMAT,
            step: self.step,
            latent_dims: self.shared.latent_dims,
            batch_size: self.batch_size(),
            runs,
        }
    }

    /// The runs of `checkpoint`, going on under `timeline` from where they stood: the next
    /// step trains what the sweep that saved them would have trained.
    pub fn restore(
        timeline: Timeline,
        checkpoint: &SweepCheckpoint,
    ) -> Result<Sweep, CheckpointError> {
        checkpoint.check()?;
        let mut sweep = Sweep::new(timeline, checkpoint.config())?;
        let mut cache = DistributionCache::serving(&sweep.runs);
        for (r, saved) in checkpoint.runs.iter().enumerate() {
            let last = saved.last.map(StepLosses::from);
            let failure = (saved.failed_at)
                .zip(last)
                .map(|(step, l)| non_finite(step, &l.losses()));
            let state = RunState::from_packed(&saved.state, saved.updates);
            sweep.mirror(r, state, saved.anchor.clone(), last, failure);
            let run = &mut sweep.runs[r];
            run.onset = saved.onset;
            if let Some(fraction) = saved.weights_fraction {
                let distribution = cache.get(&sweep.shared, run.sampler.bias(), fraction);
                run.sampler.set_distribution(distribution);
                run.weights_fraction = Some(fraction);
            }
        }
        sweep.step = checkpoint.step.min(sweep.shared.timeline.len());
        Ok(sweep)
    }
}
