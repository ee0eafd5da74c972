//! The curriculum trainer: one step of the seed notebook's loop at a time (spec §2.7).
//!
//! It owns the model, Adam, the timeline, the sampler and the anchor, and runs on whatever
//! Burn `Device` it is given. It never reads a tensor back unless asked to
//! ([`TrainerConfig::check_total_on_host`]), so it can drive a GPU without stalling it.

use std::collections::BTreeSet;

use burn::prelude::*;

use crate::data::{data_fraction_weights, ColorCube};
use crate::fused_step::RunState;
use crate::loss::{self, Objective, PerTerm, Term};
use crate::model::ColorMlp;
use crate::optimizer::FlatAdam;
use crate::sampler::WeightedBatchSampler;
use crate::timeline::Timeline;

/// Whether the trainer reads a property: `lr`, `data-fraction` and each loss term's weight.
/// Anything else in a sheet is reported as unused.
pub fn is_known_property(name: &str) -> bool {
    matches!(name, "lr" | "data-fraction") || Term::from_column(name).is_some()
}
pub const KNOWN_ACTIONS: [&str; 1] = ["anchor"];

#[derive(Debug, Clone, PartialEq)]
pub struct TrainerConfig {
    /// Default 1: a seed whose run forms a clean wheel. Like the original, roughly one seed
    /// in three or four crumples (hues out of order), decided early in phase 1.
    pub seed: u64,
    pub latent_dims: usize,
    pub batch_size: usize,
    pub normalize_bottleneck: bool,
    /// Read the total loss back every step, to skip updates whose total is not > 0 exactly as
    /// the reference does and to stop on a NaN before it reaches the weights. Cheap on the
    /// CPU; a GPU would stall, so the page turns it off there and checks at each read-back.
    pub check_total_on_host: bool,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            seed: 1,
            latent_dims: 4,
            batch_size: 256,
            normalize_bottleneck: false,
            check_total_on_host: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("latent dims must be between 2 and {max} (the separation term uses dims 0 and 1), got {got}")]
    LatentDims { got: usize, max: usize },
    #[error("batch size must be between 1 and {max}, got {got}")]
    BatchSize { got: usize, max: usize },
    #[error("runs must be between 1 and {max}, got {got}")]
    Runs { got: usize, max: usize },
    #[error("step {step}: {culprit} is {value} ({terms}); the run is back at its last weights whose loss was finite")]
    NonFiniteLoss {
        step: u64,
        /// The first term that is not finite ("the total loss" when every term is).
        culprit: String,
        value: f32,
        terms: String,
    },
    #[error("the curriculum is finished ({0} steps)")]
    Finished(u64),
    #[error("{0} saved parameters do not fit this model's shape")]
    Parameters(usize),
    #[error("reading a tensor back failed: {0}")]
    ReadBack(String),
}

pub const MAX_LATENT_DIMS: usize = 64;

/// Mixed into a run's seed for its sampler: the model and the sampler draw from separate
/// streams, so changing the batch size does not change the initial weights.
pub(crate) const SAMPLER_STREAM: u64 = 0x5eed_5a3b_1e00_0001;
pub const MAX_BATCH_SIZE: usize = 65_536;

/// A one-time notice about something in the sheet the trainer will not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    UnknownProperty(String),
    UnknownAction { step: u64, action: String },
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
        if name.to_lowercase().starts_with("primary") {
            PhaseData::Primaries
        } else {
            PhaseData::Cube
        }
    }
}

/// Something that happened during a step, in the order the reference emits it.
// Phase ends are a handful per run: boxing their tensors would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    PhaseStart {
        step: u64,
        phase: String,
    },
    Action {
        step: u64,
        action: String,
    },
    /// After the step's update: the latents and reconstructions of the phase's validation
    /// set ([`PhaseData::validation_set`], whose colours `colors` holds).
    PhaseEnd {
        step: u64,
        phase: String,
        colors: ColorCube,
        latents: Tensor<2>,
        outputs: Tensor<2>,
    },
}

/// The result of one step. Tensors stay on the device until someone reads them.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub step: u64,
    pub phase_index: usize,
    pub lr: f64,
    /// Whether the optimiser ran (false when no term had weight, or the total was ≤ 0).
    pub updated: bool,
    /// The objective's total and terms (`None` when no term had weight), still on the
    /// device, detached from the graph.
    objective: Option<Objective>,
    pub events: Vec<Event>,
    device: Device,
}

/// Losses read back to the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Losses {
    pub total: f32,
    /// `None` for terms not computed this step.
    pub terms: PerTerm<Option<f32>>,
}

impl StepReport {
    pub fn read_losses(&self) -> Result<Losses, TrainError> {
        let values = read_f32(self.losses())?;
        Ok(Losses::from_values(&values, self.computed()))
    }

    /// Which terms were computed this step (weight ≠ 0 and the term applies).
    pub fn computed(&self) -> PerTerm<bool> {
        self.objective
            .as_ref()
            .map_or(PerTerm::default(), |o| o.computed)
    }

    /// `[total, term…]` (in [`Term::ALL`] order) as one tensor for
    /// a single read-back; a term that was not computed reads 0 (and `false` in `computed`).
    /// Built on demand: most steps' losses are never read.
    pub fn losses(&self) -> Tensor<1> {
        match &self.objective {
            Some(objective) => objective.stacked(),
            None => Tensor::zeros([Term::COUNT + 1], &self.device),
        }
    }
}

impl Losses {
    /// From `[total, term…]` as [`StepReport::losses`] packs them.
    pub fn from_values(values: &[f32], computed: PerTerm<bool>) -> Self {
        Losses {
            total: values[0],
            terms: PerTerm::from_fn(|t| computed[t].then(|| values[1 + t as usize])),
        }
    }
}

pub fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = tensor
        .try_into_data()
        .map_err(|e| TrainError::ReadBack(e.to_string()))?;
    data.try_to_vec::<f32>()
        .map_err(|e| TrainError::ReadBack(format!("{e:?}")))
}

/// Indices of the schedule's columns the trainer reads.
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

/// Everything a run needs to go on elsewhere (another device, the fused CPU engine) as if
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

pub struct Trainer {
    config: TrainerConfig,
    device: Device,
    /// `None` only while the optimiser holds it during an update.
    model: Option<ColorMlp>,
    adam: FlatAdam,
    timeline: Timeline,
    columns: Columns,
    step: u64,
    sampler: WeightedBatchSampler,
    cube_rgb: Vec<f32>,
    vibrancy: Vec<f64>,
    /// data-fraction the sampler's weights were last computed for.
    weights_fraction: Option<f64>,
    primaries: Tensor<2>,
    rgb_grid: Tensor<2>,
    anchor_reference: Option<Tensor<2>>,
    warnings: Vec<Warning>,
    /// The weights and Adam's state at the start of the previous step: where a run goes back
    /// to when this step's loss is not finite (that is, the previous update broke it).
    previous_start: Option<(ColorMlp, FlatAdam)>,
}

impl Trainer {
    pub fn new(
        timeline: Timeline,
        config: TrainerConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        check_model_size(config.latent_dims, config.batch_size)?;
        let device = if device.is_autodiff() {
            device.clone()
        } else {
            device.clone().autodiff()
        };
        let cube = ColorCube::full();
        // Separate streams for the model and the sampler: changing the batch size must not
        // change the initial weights.
        let model = ColorMlp::new(
            config.latent_dims,
            config.normalize_bottleneck,
            config.seed,
            &device,
        );
        let sampler = WeightedBatchSampler::new(
            cube.bias.clone(),
            config.batch_size,
            config.seed ^ SAMPLER_STREAM,
        );
        let adam = FlatAdam::new(model.parameter_count(), &device.clone().inner());
        let to_tensor = |cube: &ColorCube| {
            Tensor::<2>::from_data(TensorData::new(cube.rgb_f32(), [cube.len(), 3]), &device)
        };
        let warnings = warnings_for(&timeline);
        Ok(Trainer {
            columns: Columns::of(&timeline),
            primaries: to_tensor(&ColorCube::primaries()),
            rgb_grid: to_tensor(&ColorCube::rgb_grid()),
            cube_rgb: cube.rgb_f32(),
            vibrancy: cube.vibrancy.clone().expect("an HSV cube has vibrancy"),
            weights_fraction: None,
            config,
            device,
            model: Some(model),
            adam,
            timeline,
            step: 0,
            sampler,
            anchor_reference: None,
            warnings,
            previous_start: None,
        })
    }

    /// Continues a run from a [`Checkpoint`] (e.g. on another device after a GPU was lost):
    /// its weights, Adam's moments, the anchor reference and the sampler.
    pub fn resume(
        timeline: Timeline,
        config: TrainerConfig,
        device: &Device,
        checkpoint: &Checkpoint,
    ) -> Result<Self, TrainError> {
        let mut trainer = Trainer::new(timeline, config, device)?;
        let c = &trainer.config;
        let parameters = &checkpoint.state.params;
        let model = ColorMlp::from_parameters(
            parameters,
            c.latent_dims,
            c.normalize_bottleneck,
            &trainer.device,
        )
        .ok_or(TrainError::Parameters(parameters.len()))?;
        let inner = trainer.device.clone().inner();
        trainer.model = Some(model);
        trainer.adam = FlatAdam::from_state(&checkpoint.state, &inner);
        trainer.anchor_reference = checkpoint.anchor.as_ref().map(|a| {
            let dims = c.latent_dims;
            Tensor::from_data(TensorData::new(a.clone(), [a.len() / dims, dims]), &inner)
        });
        trainer.sampler = checkpoint.sampler.clone();
        trainer.previous_start = None;
        trainer.step = checkpoint.step.min(trainer.timeline.len());
        Ok(trainer)
    }

    /// The run's state, read back now: weights, Adam's state, the anchor reference and the
    /// sampler.
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let params = self.model().parameters_flat().inner();
        let n = params.dims()[0];
        let mut parts = vec![params, self.adam.packed()];
        if let Some(a) = &self.anchor_reference {
            let [rows, dims] = a.dims();
            parts.push(a.clone().reshape([rows * dims]));
        }
        let values = read_f32(Tensor::cat(parts, 0))?;
        let adam = 2 * n + 1;
        let misread = || TrainError::Parameters(values.len());
        let moments = values.get(n..n + adam).ok_or_else(misread)?;
        let mut state = RunState::new(values[..n].to_vec());
        FlatAdam::unpack(moments, &mut state).ok_or_else(misread)?;
        let anchor = &values[n + adam..];
        Ok(Checkpoint {
            step: self.step,
            state,
            anchor: (!anchor.is_empty()).then(|| anchor.to_vec()),
            sampler: self.sampler.clone(),
        })
    }

    pub fn step_index(&self) -> u64 {
        self.step
    }

    pub fn is_finished(&self) -> bool {
        self.step >= self.timeline.len()
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn model(&self) -> &ColorMlp {
        self.model
            .as_ref()
            .expect("the model is only lent out inside step()")
    }

    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// What a trainer would warn about for `timeline`, without building one.
    pub fn warnings_of(timeline: &Timeline) -> Vec<Warning> {
        warnings_for(timeline)
    }

    /// Swap the schedule under the running model ("apply live"): training continues at the
    /// current step with the new sheet's values. Returns the new sheet's warnings.
    pub fn set_timeline(&mut self, timeline: Timeline) -> &[Warning] {
        self.columns = Columns::of(&timeline);
        self.warnings = warnings_for(&timeline);
        self.timeline = timeline;
        self.weights_fraction = None;
        &self.warnings
    }

    /// Latents and reconstructions of any colours under the current model, without
    /// recording gradients.
    pub fn infer(&self, rgb: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (outputs, latents) = self.model().valid().forward(rgb.inner());
        (outputs, latents)
    }

    /// The 1,000-colour RGB grid's `(outputs, latents)`, the set the page draws.
    pub fn infer_rgb_grid(&self) -> (Tensor<2>, Tensor<2>) {
        self.infer(self.rgb_grid.clone())
    }

    /// Colours as a tensor on the trainer's device.
    pub fn colors(&self, cube: &ColorCube) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(cube.rgb_f32(), [cube.len(), 3]),
            &self.device,
        )
    }

    /// One training step. On a non-finite loss the model and optimiser go back to where the
    /// previous step started (the one rule, docs/ARCHITECTURE.md); on any other error they are
    /// left as they were.
    pub fn step(&mut self) -> Result<StepReport, TrainError> {
        if self.is_finished() {
            return Err(TrainError::Finished(self.timeline.len()));
        }
        let step = self.step;
        let state = self.timeline.state(step);
        let values = state.values.clone();
        let phase = state.phase.to_string();
        let (is_phase_start, is_phase_end, phase_index) =
            (state.is_phase_start, state.is_phase_end, state.phase_index);
        let actions = state.actions.to_vec();

        // The batch is drawn before this step's weights are set: batch t uses the weights
        // from step t−1's data-fraction, as the reference's lazy DataLoader does.
        let batch = match PhaseData::for_phase(&phase) {
            PhaseData::Primaries => self.primaries.clone(),
            PhaseData::Cube => self.draw_batch(step),
        };

        let mut events = Vec::new();
        if is_phase_start {
            events.push(Event::PhaseStart {
                step,
                phase: phase.clone(),
            });
        }
        for action in actions {
            if action == "anchor" {
                let (_, latents) = self.infer(self.primaries.clone());
                self.anchor_reference = Some(latents);
            }
            events.push(Event::Action { step, action });
        }
        if let Some(i) = self.columns.data_fraction {
            self.update_sampler_weights(values[i]);
        }

        let lr = values[self.columns.lr];
        let weights = PerTerm::from_fn(|t| self.columns.terms[t].map_or(0.0, |i| values[i]));
        let mut objective = self.objective(batch, &weights);

        let started = (self.model().clone(), self.adam.clone());
        let mut updated = false;
        if let Some(objective) = &mut objective {
            // `Some(mask)`: where the total is only on the device, the rule (update only when
            // it is > 0, which NaN is not) becomes a mask on the update, with no read-back.
            let apply = if self.config.check_total_on_host {
                let host = read_f32(objective.total.clone())?;
                if !host[0].is_finite() {
                    let all = read_f32(objective.stacked())?;
                    // The one rule for a non-finite loss (as the sweep and the GPU engine):
                    // back to the weights the previous step started from, whose loss was
                    // finite.
                    if let Some((model, adam)) = self.previous_start.clone() {
                        self.model = Some(model);
                        self.adam = adam;
                    }
                    return Err(non_finite(
                        step,
                        &Losses::from_values(&all, objective.computed),
                    ));
                }
                (host[0] > 0.0).then_some(None)
            } else {
                Some(Some(objective.total.clone().inner().greater_elem(0.0)))
            };
            if let Some(apply) = apply {
                let model = self.model.take().expect("model present between steps");
                let grads = objective.total.backward();
                let (params, grads) = (
                    model.parameters_flat().inner(),
                    model.gradients_flat(&grads),
                );
                let params = match apply {
                    None => self.adam.step(params, grads, lr as f32),
                    Some(mask) => self.adam.masked_step(params, grads, lr as f32, mask),
                };
                self.model = Some(ColorMlp::from_flat(
                    params,
                    self.config.latent_dims,
                    self.config.normalize_bottleneck,
                ));
                updated = true;
            }
            objective.total = objective.total.clone().detach();
        }

        if is_phase_end {
            let colors = PhaseData::for_phase(&phase).validation_set();
            let (outputs, latents) = self.infer(self.colors(&colors));
            events.push(Event::PhaseEnd {
                step,
                phase,
                colors,
                latents,
                outputs,
            });
        }
        self.previous_start = Some(started);
        self.step += 1;
        Ok(StepReport {
            step,
            phase_index,
            lr,
            updated,
            objective,
            events,
            device: self.device.clone(),
        })
    }

    /// The objective for this batch, or `None` when no term has weight.
    fn objective(&self, batch: Tensor<2>, weights: &PerTerm<f64>) -> Option<Objective> {
        let anchor_reference =
            (self.anchor_reference.as_ref()).filter(|_| weights[Term::Anchor] != 0.0);
        // The anchor colours ride along in the same forward pass as the batch: one set of
        // kernels instead of two, and the rows do not interact.
        let input = match anchor_reference {
            Some(_) => Tensor::cat(vec![batch.clone(), self.primaries.clone()], 0),
            None => batch.clone(),
        };
        let (outputs, latents) = self.model().forward(input);
        loss::objective(batch, outputs, latents, anchor_reference, weights)
    }

    fn draw_batch(&mut self, step: u64) -> Tensor<2> {
        let mut rgb = Vec::with_capacity(self.sampler.batch_size() * 3);
        for i in self.sampler.batch(step) {
            rgb.extend_from_slice(&self.cube_rgb[i * 3..i * 3 + 3]);
        }
        let rows = rgb.len() / 3;
        Tensor::from_data(TensorData::new(rgb, [rows, 3]), &self.device)
    }

    fn update_sampler_weights(&mut self, fraction: f64) {
        // The fraction holds still for most of a curriculum; recompute only when it moves.
        if self.weights_fraction != Some(fraction) {
            self.sampler
                .set_weights(&data_fraction_weights(&self.vibrancy, fraction));
            self.weights_fraction = Some(fraction);
        }
    }
}

/// Refuses a bottleneck or a batch the engines do not train.
pub(crate) fn check_model_size(latent_dims: usize, batch_size: usize) -> Result<(), TrainError> {
    if !(2..=MAX_LATENT_DIMS).contains(&latent_dims) {
        return Err(TrainError::LatentDims {
            got: latent_dims,
            max: MAX_LATENT_DIMS,
        });
    }
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        return Err(TrainError::BatchSize {
            got: batch_size,
            max: MAX_BATCH_SIZE,
        });
    }
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

fn warnings_for(timeline: &Timeline) -> Vec<Warning> {
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
    warnings
}
