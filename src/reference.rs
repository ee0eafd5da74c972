//! The oracle: one run trained with nothing but Burn's own parts.
//!
//! `nn::Linear` layers, Burn's GELU and sigmoid, autodiff for every gradient and
//! `burn::optim::Adam` for every update; the five terms are written below as tensor
//! expressions, straight from the notebook's definitions. None of the engines' mathematics is
//! used here (no host step, no kernel, no hand-written gradient, no custom Adam), so holding
//! an engine to this reference (tests/conformance.rs) checks its forward pass, every term,
//! every gradient and every update.
//!
//! What it does share with the engines is what a run *is*, not how a step is computed: the
//! curriculum ([`Timeline`]), the colour data and its sampler, which phase trains on what, and
//! the seeded initial weights. It is slow (a few hundred tensor operations a step) and native
//! only; nothing the page ships uses it.

use burn::module::Param;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid};

use crate::data::{data_fraction_weights, ColorCube};
use crate::run::{check_model_size, PhaseData, TrainError, SAMPLER_STREAM};
use crate::sampler::WeightedBatchSampler;
use crate::step::layout::{initial_parameters, layer_shapes};
use crate::step::loss::{PerTerm, Term};
use crate::timeline::Timeline;

/// The notebook's model, 3 → 16 → E → 16 → 3, as Burn modules.
#[derive(Module, Debug)]
struct Autoencoder {
    layers: Vec<Linear>,
}

impl Autoencoder {
    /// The seeded initial weights, layer by layer (`[inputs, outputs]` weight, then bias).
    fn new(latent_dims: usize, seed: u64, device: &Device) -> Self {
        let values = initial_parameters(latent_dims, seed);
        let mut rest = values.as_slice();
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head.to_vec()
        };
        let layers = layer_shapes(latent_dims)
            .into_iter()
            .map(|(inputs, outputs)| {
                let weight = TensorData::new(take(inputs * outputs), [inputs, outputs]);
                let bias = TensorData::new(take(outputs), [outputs]);
                Linear {
                    weight: Param::from_tensor(Tensor::from_data(weight, device)),
                    bias: Some(Param::from_tensor(Tensor::from_data(bias, device))),
                }
            })
            .collect();
        Autoencoder { layers }
    }

    /// `(reconstruction, latents)`.
    fn forward(&self, rgb: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [l1, l2, l3, l4] = [0, 1, 2, 3].map(|i| &self.layers[i]);
        let latents = l2.forward(gelu(l1.forward(rgb)));
        let rgb = sigmoid(l4.forward(gelu(l3.forward(latents.clone()))));
        (rgb, latents)
    }

    fn parameters(&self) -> Vec<f32> {
        self.layers
            .iter()
            .flat_map(|l| {
                let w = l.weight.val().into_data().try_to_vec::<f32>().unwrap();
                let b = l.bias.as_ref().unwrap().val().into_data();
                w.into_iter().chain(b.try_to_vec::<f32>().unwrap())
            })
            .collect()
    }
}

/// The five terms, each as the notebook defines it.
mod formulas {
    use burn::prelude::*;

    /// Mean squared error over every channel of every row.
    pub fn reconstruction(input: Tensor<2>, output: Tensor<2>) -> Tensor<1> {
        let error = output - input;
        error.clone().mul(error).mean()
    }

    /// Mean of 1 / (d² + 1e-6) over all B² ordered pairs of latents (dims 0 and 1), the
    /// diagonal left out of the sum (its constant carries no gradient) but kept in the count.
    pub fn separation(latents: Tensor<2>) -> Tensor<1> {
        let [b, _] = latents.dims();
        let xy = latents.slice([0..b, 0..2]);
        let rows = xy.clone().reshape([b, 1, 2]).repeat_dim(1, b);
        let cols = xy.reshape([1, b, 2]).repeat_dim(0, b);
        let d2 = (rows - cols).powf_scalar(2.0).sum_dim(2).reshape([b, b]);
        let off = Tensor::<2>::ones([b, b], &d2.device()) - Tensor::<2>::eye(b, &d2.device());
        (d2.add_scalar(1e-6).recip() * off).sum() / (b * b) as f32
    }

    /// Mean square of the dims after the first two.
    pub fn planarity(latents: Tensor<2>) -> Tensor<1> {
        let [b, e] = latents.dims();
        latents.slice([0..b, 2..e]).powf_scalar(2.0).mean()
    }

    /// Mean over the rows of (|z| − 1)².
    pub fn unit_norm(latents: Tensor<2>) -> Tensor<1> {
        let length = latents.powf_scalar(2.0).sum_dim(1).sqrt();
        length.sub_scalar(1.0).powf_scalar(2.0).mean()
    }

    /// Mean squared distance of the primaries' latents from where the `anchor` action found
    /// them.
    pub fn anchor(latents: Tensor<2>, reference: Tensor<2>) -> Tensor<1> {
        let error = latents - reference;
        error.clone().mul(error).mean()
    }
}

/// What one step of the reference reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceStep {
    pub step: u64,
    pub total: f32,
    /// `None` for a term the step did not compute (weight 0, or not applicable).
    pub terms: PerTerm<Option<f32>>,
    /// Whether Adam updated the weights (the total was finite and > 0).
    pub updated: bool,
}

/// The state a run goes back to when a loss is not finite.
#[derive(Clone)]
struct Snapshot {
    model: Autoencoder,
    adam: ModuleOptimizer,
}

/// One run, stepped by Burn.
pub struct Reference {
    timeline: Timeline,
    latent_dims: usize,
    device: Device,
    model: Autoencoder,
    adam: ModuleOptimizer,
    /// The run as it was at the start of the previous step.
    previous_start: Snapshot,
    cube: Vec<f32>,
    vibrancy: Vec<f64>,
    sampler: WeightedBatchSampler,
    fraction: Option<f64>,
    primaries: Tensor<2>,
    anchor: Option<Tensor<2>>,
    step: u64,
    failed: bool,
}

impl Reference {
    pub fn new(
        timeline: Timeline,
        seed: u64,
        latent_dims: usize,
        batch_size: usize,
    ) -> Result<Self, TrainError> {
        check_model_size(latent_dims, batch_size)?;
        let device = Device::flex().autodiff();
        let model = Autoencoder::new(latent_dims, seed, &device);
        // Adam as the notebook's PyTorch default: β = (0.9, 0.999), ε = 1e-8.
        let adam = AdamConfig::new().with_epsilon(1e-8).init();
        let cube = ColorCube::full();
        let primaries = ColorCube::primaries().rgb_f32();
        Ok(Reference {
            previous_start: Snapshot {
                model: model.clone(),
                adam: adam.clone(),
            },
            sampler: WeightedBatchSampler::new(
                cube.bias.clone(),
                batch_size,
                seed ^ SAMPLER_STREAM,
            ),
            cube: cube.rgb_f32(),
            vibrancy: cube.vibrancy.expect("the HSV cube has vibrancy"),
            fraction: None,
            primaries: Tensor::from_data(TensorData::new(primaries, [6, 3]), &device),
            anchor: None,
            timeline,
            latent_dims,
            device,
            model,
            adam,
            step: 0,
            failed: false,
        })
    }

    pub fn is_finished(&self) -> bool {
        self.step >= self.timeline.len()
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The step the next call trains.
    pub fn step_index(&self) -> u64 {
        self.step
    }

    pub fn latent_dims(&self) -> usize {
        self.latent_dims
    }

    /// `(outputs, latents)` of `rgb` (`[rows, 3]`), row-major, under the current weights.
    pub fn infer(&self, rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let rows = Tensor::from_data(
            TensorData::new(rgb.to_vec(), [rgb.len() / 3, 3]),
            &self.device,
        );
        let (outputs, latents) = self.model.forward(rows);
        let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
        (read(outputs), read(latents))
    }

    /// Whether a loss went non-finite: the run then holds still until [`set_timeline`].
    ///
    /// [`set_timeline`]: Reference::set_timeline
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The weights, in the engines' flat layout.
    pub fn parameters(&self) -> Vec<f32> {
        self.model.parameters()
    }

    /// A new sheet from the current step on ("apply live"); a failed run goes on.
    pub fn set_timeline(&mut self, timeline: Timeline) {
        self.timeline = timeline;
        self.fraction = None;
        self.failed = false;
    }

    /// One step, as the notebook's loop takes it. `None` once finished; a failed run reports
    /// nothing until a new sheet lets it go on.
    ///
    /// A non-finite total at step t means the update of step t−1 broke the run: the run goes
    /// back to where step t−1 started (weights and Adam's state), whose loss was finite.
    pub fn step(&mut self) -> Option<ReferenceStep> {
        if self.is_finished() {
            return None;
        }
        let step = self.step;
        self.step += 1;
        if self.failed {
            return None;
        }
        let state = self.timeline.state(step);
        let value = |name: &str| {
            self.timeline
                .property_index(name)
                .map_or(0.0, |i| state.values[i])
        };
        let lr = value("lr");
        let weights = PerTerm::from_fn(|t| value(t.column()));
        let fraction = self
            .timeline
            .property_index("data-fraction")
            .map(|i| state.values[i]);
        let on_primaries = PhaseData::for_phase(state.phase) == PhaseData::Primaries;
        let anchor_now = state.actions.iter().any(|a| a == "anchor");

        // The batch is drawn before this step's data-fraction reaches the sampler.
        let batch = if on_primaries {
            self.primaries.clone()
        } else {
            let mut rows = Vec::new();
            self.sampler.draw_colors(step, &self.cube, &mut rows);
            let n = rows.len() / 3;
            Tensor::from_data(TensorData::new(rows, [n, 3]), &self.device)
        };
        if anchor_now {
            let (_, latents) = self.model.forward(self.primaries.clone());
            self.anchor = Some(latents.detach());
        }
        if let Some(fraction) = fraction.filter(|f| self.fraction != Some(*f)) {
            self.sampler
                .set_weights(&data_fraction_weights(&self.vibrancy, fraction));
            self.fraction = Some(fraction);
        }

        let started = Snapshot {
            model: self.model.clone(),
            adam: self.adam.clone(),
        };
        let (output, latents) = self.model.forward(batch.clone());
        let mut values: PerTerm<Option<Tensor<1>>> = PerTerm::from_fn(|_| None);
        for term in Term::ALL {
            if weights[term] == 0.0 {
                continue;
            }
            values[term] = match term {
                Term::Reconstruction => {
                    Some(formulas::reconstruction(batch.clone(), output.clone()))
                }
                Term::Separation => Some(formulas::separation(latents.clone())),
                Term::Planarity => {
                    (self.latent_dims > 2).then(|| formulas::planarity(latents.clone()))
                }
                Term::UnitNorm => Some(formulas::unit_norm(latents.clone())),
                Term::Anchor => self.anchor.clone().map(|reference| {
                    let (_, anchored) = self.model.forward(self.primaries.clone());
                    formulas::anchor(anchored, reference)
                }),
            };
        }
        let total = Term::ALL
            .into_iter()
            .filter_map(|t| values[t].clone().map(|v| v.mul_scalar(weights[t])))
            .reduce(|a, b| a + b);
        let read = |t: &Tensor<1>| t.clone().into_data().try_to_vec::<f32>().unwrap()[0];
        let terms = PerTerm::from_fn(|t| values[t].as_ref().map(read));
        let Some(total) = total else {
            return Some(ReferenceStep {
                step,
                total: 0.0,
                terms,
                updated: false,
            });
        };
        let total_value = read(&total);
        let updated = total_value > 0.0;
        if !total_value.is_finite() {
            self.model = self.previous_start.model.clone();
            self.adam = self.previous_start.adam.clone();
            self.failed = true;
        } else if updated {
            let gradients = GradientsParams::from_grads(total.backward(), &self.model);
            let model = std::mem::replace(&mut self.model, started.model.clone());
            self.model = self.adam.step(lr, model, gradients);
        }
        if total_value.is_finite() {
            self.previous_start = started;
        }
        Some(ReferenceStep {
            step,
            total: total_value,
            terms,
            updated,
        })
    }
}
