//! What a run is, apart from how a step is computed: its settings and their limits, what a
//! phase trains on, the losses a step reports, a run's checkpoint, and the errors and warnings
//! every engine gives.

use std::collections::BTreeSet;

pub mod setting;

use crate::data::ColorCube;
use crate::sampler::WeightedBatchSampler;
use crate::step::loss::{PerTerm, Term};
use crate::step::RunState;
use crate::timeline::Timeline;

/// Whether training reads a property: `lr`, `data-fraction` and each loss term's weight.
/// Anything else in a sheet is reported as unused.
pub fn is_known_property(name: &str) -> bool {
    matches!(name, "lr" | "data-fraction") || Term::from_column(name).is_some()
}
pub const KNOWN_ACTIONS: [&str; 1] = ["anchor"];

/// What a run is asked to be, whichever face asks: the command line's flags, the element's
/// attributes ([`Settings`](crate::settings::Settings)) and a link
/// ([`SharedRun`](crate::share::SharedRun)) all give one. `runs` runs train side by side (a
/// sweep; one for a single run), run r with seed `seed + r`. Each value's range and message
/// are its [`Setting`](setting::Setting)'s (and so are the defaults, but for `runs`: each face
/// has its own, one on the page and 16 on the command line); the engines check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunSpec {
    /// The seed of run 0. A single run's default, 1, forms a clean wheel; like the original,
    /// roughly one seed in three or four crumples (hues out of order), decided early in
    /// phase 1.
    pub seed: u64,
    pub latent_dims: usize,
    pub batch_size: usize,
    pub runs: usize,
}

impl Default for RunSpec {
    /// One run of the defaults.
    fn default() -> Self {
        RunSpec {
            seed: setting::SEED.default,
            latent_dims: setting::LATENT_DIMS.default as usize,
            batch_size: setting::BATCH_SIZE.default as usize,
            runs: 1,
        }
    }
}

impl RunSpec {
    /// Run `r`'s seed.
    pub fn seed_of(&self, r: usize) -> u64 {
        self.seed.wrapping_add(r as u64)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// A bottleneck, batch size or number of runs out of its [`setting`]'s range: the message
    /// the element's attribute and a link's field get for the same value.
    #[error(transparent)]
    Setting(#[from] setting::SettingError),
    #[error("step {step}: {culprit} is {value} ({terms}); the run is back at its last weights whose loss was finite")]
    NonFiniteLoss {
        step: u64,
        /// The first term that is not finite ("the total loss" when every term is).
        culprit: String,
        value: f32,
        terms: String,
    },
    #[error("{0} saved parameters do not fit this model's shape")]
    Parameters(usize),
}

/// Mixed into a run's seed for its sampler: the model and the sampler draw from separate
/// streams, so changing the batch size does not change the initial weights.
pub(crate) const SAMPLER_STREAM: u64 = 0x5eed_5a3b_1e00_0001;

/// A one-time notice about something in the sheet that training will not use, or will read
/// otherwise than a reader might expect.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    UnknownProperty(String),
    UnknownAction {
        step: u64,
        action: String,
    },
    /// A value that trains, but not as written: a `data-fraction` outside 0 to 1 counts as the
    /// nearer end; a negative `lr` climbs the loss, and a negative weight rewards its term.
    /// The first such key of each property.
    Unusual {
        property: String,
        step: u64,
        value: f64,
    },
    /// No loss term has a weight above 0 at any step: every step is skipped.
    NothingToTrain,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::UnknownProperty(p) => {
                write!(f, "property {p:?} is not used by this experiment")
            }
            Warning::UnknownAction { step, action } => {
                write!(f, "action {action:?} at step {step} is not known (known: anchor); it does nothing")
            }
            Warning::Unusual {
                property,
                step,
                value,
            } => match property.as_str() {
                "data-fraction" => write!(
                    f,
                    "data-fraction {value} at step {step} is outside 0 to 1; it counts as {}",
                    value.clamp(0.0, 1.0)
                ),
                "lr" => write!(
                    f,
                    "lr {value} at step {step} is below 0: the steps climb the loss instead of descending it"
                ),
                _ => write!(
                    f,
                    "{property} {value} at step {step} is below 0: that term's loss is rewarded, not penalised"
                ),
            },
            Warning::NothingToTrain => write!(
                f,
                "no loss term has a weight above 0 at any step: nothing trains"
            ),
        }
    }
}

/// What a phase trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseData {
    /// The 6 primaries and secondaries, every step.
    Primaries,
    /// Weighted batches from the 3,600-colour HSV cube, shaped by `data-fraction`.
    Cube,
}

impl PhaseData {
    /// The colours a phase is judged and drawn on at its end, as the seed's phase-history
    /// grid does: the six primaries and secondaries for a phase that trains on them, the
    /// 10×10×10 RGB grid otherwise.
    pub fn validation_set(self) -> ColorCube {
        match self {
            PhaseData::Primaries => ColorCube::primaries(),
            PhaseData::Cube => ColorCube::rgb_grid(),
        }
    }

    /// Phases whose name starts with "Primary" (any case) train on the primaries, as ex-1.5's
    /// first phase does; every other phase samples the cube.
    pub fn for_phase(name: &str) -> Self {
        if name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("primary"))
        {
            PhaseData::Primaries
        } else {
            PhaseData::Cube
        }
    }
}

/// When `step` of `timeline` ends a phase: the phase's name and its validation set
/// ([`PhaseData::validation_set`], `[rows, 3]`), which every engine records there.
pub fn phase_end_set(timeline: &Timeline, step: u64) -> Option<(String, Vec<f32>)> {
    let state = timeline.state(step);
    state.is_phase_end.then(|| {
        let colors = PhaseData::for_phase(state.phase).validation_set().rgb_f32();
        (state.phase.to_string(), colors)
    })
}

pub use crate::step::Losses;

/// Indices of the schedule's columns a step reads.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub lr: usize,
    pub data_fraction: Option<usize>,
    pub terms: PerTerm<Option<usize>>,
}

impl Columns {
    pub fn of(timeline: &Timeline) -> Self {
        Columns {
            lr: timeline
                .property_index("lr")
                .expect("a dopesheet always has lr"),
            data_fraction: timeline.property_index("data-fraction"),
            terms: PerTerm::from_fn(|t| timeline.property_index(t.column())),
        }
    }
}

/// Everything a run needs to go on elsewhere (another engine or page worker) as if
/// nothing had happened: the step it trains next, its weights and Adam's state, the anchor
/// reference in force and its sampler (key and weights).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub step: u64,
    pub state: RunState,
    /// The primaries' latents, row by row, once the `anchor` action fired.
    pub anchor: Option<Vec<f32>>,
    pub sampler: WeightedBatchSampler,
}

/// Refuses a bottleneck or a batch the engines do not train.
pub(crate) fn check_model_size(latent_dims: usize, batch_size: usize) -> Result<(), TrainError> {
    setting::LATENT_DIMS.check(latent_dims as u64)?;
    setting::BATCH_SIZE.check(batch_size as u64)?;
    Ok(())
}

/// The error for a step whose total is not finite.
pub(crate) fn non_finite(step: u64, losses: &Losses) -> TrainError {
    let computed: Vec<(Term, f32)> = (losses.terms.iter())
        .filter_map(|(term, v)| v.map(|v| (term, v)))
        .collect();
    let (culprit, value) = computed
        .iter()
        .find(|(_, v)| !v.is_finite())
        .map_or(("the total loss".to_string(), losses.total), |(t, v)| {
            (t.column().to_string(), *v)
        });
    let terms = std::iter::once(format!("total = {}", losses.total))
        .chain(computed.iter().map(|(t, v)| format!("{t} = {v}")))
        .collect::<Vec<_>>()
        .join(", ");
    TrainError::NonFiniteLoss {
        step,
        culprit,
        value,
        terms,
    }
}

/// What in a sheet no engine reads (unknown properties, and each unknown action once), what
/// trains otherwise than written ([`Warning::Unusual`]), and a sheet that trains nothing.
pub fn warnings_of(timeline: &Timeline) -> Vec<Warning> {
    let mut warnings: Vec<Warning> = timeline
        .properties()
        .iter()
        .filter(|p| !is_known_property(p))
        .map(|p| Warning::UnknownProperty(p.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    for (step, actions) in timeline.action_steps() {
        for action in actions {
            if !KNOWN_ACTIONS.contains(&action.as_str()) && seen.insert(action.clone()) {
                warnings.push(Warning::UnknownAction {
                    step,
                    action: action.clone(),
                });
            }
        }
    }
    let mut trains = false;
    for (p, property) in timeline.properties().iter().enumerate() {
        let term = Term::from_column(property).is_some();
        let unusual = |v: f64| match property.as_str() {
            "data-fraction" => !(0.0..=1.0).contains(&v),
            "lr" => v < 0.0,
            _ => term && v < 0.0,
        };
        let keys = timeline.keys(p);
        trains |= term && keys.iter().any(|&(_, v)| v > 0.0);
        if let Some(&(step, value)) = keys.iter().find(|&&(_, v)| unusual(v)) {
            warnings.push(Warning::Unusual {
                property: property.clone(),
                step,
                value,
            });
        }
    }
    if !trains {
        warnings.push(Warning::NothingToTrain);
    }
    warnings
}
