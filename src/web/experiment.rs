//! The training half: runs in a Web Worker, owns the trainer and its device.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use wasm_bindgen::prelude::*;

use super::{js_error, now, parse, to_bytes, to_js, Frame, LossSample, Snapshot};
use crate::loss::{PerTerm, Term};
use crate::timeline::Timeline;
use crate::train::{Event, Losses, StepReport, Trainer, TrainerConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Cpu,
    WebGpu,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::WebGpu => "webgpu",
        }
    }
}

/// A training run in the worker. Shared behind `Rc<RefCell<…>>` because `sync` is async:
/// its future must own what it touches, and no borrow is held across the wait.
#[wasm_bindgen]
pub struct Experiment {
    run: Rc<RefCell<Run>>,
}

struct Run {
    sheet: String,
    config: TrainerConfig,
    backend: Backend,
    device: Device,
    trainer: Trainer,
    /// Phase-end latents still on the device, read at the next sync.
    pending_snapshots: Vec<(String, u64, Tensor<2>)>,
    /// The last step's report (its losses), read at the next sync.
    pending_losses: Option<StepReport>,
    /// Host copy of the weights from the last good read-back (the way back after a lost GPU).
    last_good: Option<(u64, Vec<f32>)>,
    /// Steps queued per call on WebGPU, adapted to how long read-backs wait.
    gpu_steps: f64,
    last_error: Option<String>,
    notice: Option<String>,
}

async fn device_for(requested: &str) -> (Backend, Device, Option<String>) {
    if requested == "cpu" {
        return (Backend::Cpu, Device::flex(), None);
    }
    #[cfg(feature = "webgpu")]
    if has_webgpu() {
        return match Device::wgpu_options().init_async().await {
            Ok(device) => (Backend::WebGpu, device, None),
            Err(e) => {
                let e = e.to_string();
                let note = if e.contains("No adapter") {
                    "this browser offers WebGPU but no adapter; running on the CPU".to_string()
                } else {
                    format!("WebGPU failed to start ({e}); running on the CPU")
                };
                (Backend::Cpu, Device::flex(), Some(note))
            }
        };
    }
    let note = (requested == "webgpu").then(|| "no WebGPU here; running on the CPU".to_string());
    (Backend::Cpu, Device::flex(), note)
}

/// Whether this global (page or worker) has `navigator.gpu`.
#[cfg(feature = "webgpu")]
fn has_webgpu() -> bool {
    let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
    get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "gpu"))
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

#[wasm_bindgen]
impl Experiment {
    /// Starts an experiment. `backend` is `auto`, `webgpu` or `cpu`.
    pub async fn create(
        sheet: String,
        seed: u32,
        latent_dims: u32,
        batch_size: u32,
        backend: String,
    ) -> Result<Experiment, JsValue> {
        let timeline = parse(&sheet)?;
        let (backend, device, notice) = device_for(&backend).await;
        let config = TrainerConfig {
            seed: seed as u64,
            latent_dims: latent_dims as usize,
            batch_size: batch_size as usize,
            check_total_on_host: backend == Backend::Cpu,
            ..TrainerConfig::default()
        };
        let trainer =
            Trainer::new(timeline, config.clone(), &device).map_err(|e| js_error(e.to_string()))?;
        let mut run = Run {
            sheet,
            config,
            backend,
            device,
            trainer,
            pending_snapshots: Vec::new(),
            pending_losses: None,
            last_good: None,
            gpu_steps: 1.0,
            last_error: None,
            notice,
        };
        run.warn_about_sheet();
        Ok(Experiment {
            run: Rc::new(RefCell::new(run)),
        })
    }

    pub fn backend(&self) -> String {
        self.run.borrow().backend.name().into()
    }

    pub fn finished(&self) -> bool {
        self.run.borrow().trainer.is_finished()
    }

    pub fn last_error(&self) -> Option<String> {
        self.run.borrow().last_error.clone()
    }

    /// Runs steps until `budget_ms` has passed or `max_steps` ran. On the CPU they run now;
    /// on WebGPU they are queued and the count adapts to how long the read-back waits.
    /// Returns how many steps ran. Stops (and reports through `last_error`) on a bad step.
    pub fn train(&self, budget_ms: f64, max_steps: u32) -> u32 {
        self.run.borrow_mut().train(budget_ms, max_steps)
    }

    /// Reads back the current latents, the last step's losses and any phase-end snapshots in
    /// one asynchronous read (a GPU is never stalled) and returns them as a [`Frame`]. On a
    /// failed read on WebGPU (a lost device), continues on the CPU from the last good weights.
    pub async fn sync(&self) -> JsValue {
        let request = self.run.borrow_mut().read_request();
        let started = now();
        let result = request.tensor.into_data_async().await;
        let waited = now() - started;
        let frame = self
            .run
            .borrow_mut()
            .receive(&request.layout, result, waited);
        to_js(&frame)
    }

    /// Replaces the schedule. `live`: keep the model and step ("apply live"); otherwise a
    /// fresh run with the same seed. A broken sheet is refused (with its located problem)
    /// and the run goes on.
    pub fn set_dopesheet(&self, sheet: String, live: bool) -> Result<(), JsValue> {
        self.run.borrow_mut().set_dopesheet(sheet, live)
    }

    /// A fresh run of the current sheet: same seed ⇒ same start.
    pub fn reset(&self, seed: u32) -> Result<(), JsValue> {
        let mut run = self.run.borrow_mut();
        run.config.seed = seed as u64;
        let timeline = parse(&run.sheet)?;
        run.restart(timeline)
    }
}

impl Run {
    fn train(&mut self, budget_ms: f64, max_steps: u32) -> u32 {
        let start = now();
        let mut ran = 0;
        let limit = match self.backend {
            Backend::Cpu => max_steps,
            Backend::WebGpu => (self.gpu_steps.round() as u32).clamp(1, max_steps.max(1)),
        };
        while ran < limit && !self.trainer.is_finished() && self.last_error.is_none() {
            match self.trainer.step() {
                Ok(mut report) => {
                    for event in std::mem::take(&mut report.events) {
                        if let Event::PhaseEnd {
                            step,
                            phase,
                            latents,
                            ..
                        } = event
                        {
                            self.pending_snapshots.push((phase, step, latents));
                        }
                    }
                    self.pending_losses = Some(report);
                }
                Err(e) => self.last_error = Some(e.to_string()),
            }
            ran += 1;
            if self.backend == Backend::Cpu && now() - start >= budget_ms {
                break;
            }
        }
        ran
    }

    fn receive(
        &mut self,
        layout: &ReadLayout,
        result: Result<TensorData, impl std::fmt::Display>,
        waited_ms: f64,
    ) -> Frame {
        let mut frame = Frame::default();
        match result
            .map_err(|e| e.to_string())
            .and_then(|d| d.try_to_vec::<f32>().map_err(|e| format!("{e:?}")))
        {
            Ok(values) => {
                self.accept(layout, &values, &mut frame);
                if self.backend == Backend::WebGpu {
                    // Keep the queue fed without letting the read-back wait dominate.
                    let factor = if waited_ms < 8.0 { 1.25 } else { 0.8 };
                    self.gpu_steps = (self.gpu_steps * factor).clamp(1.0, 500.0);
                }
            }
            Err(e) if self.backend == Backend::WebGpu => self.fall_back_to_cpu(&e),
            Err(e) => self.last_error = Some(format!("reading results failed: {e}")),
        }
        self.describe(&mut frame);
        frame
    }

    fn set_dopesheet(&mut self, sheet: String, live: bool) -> Result<(), JsValue> {
        let timeline = parse(&sheet)?;
        self.sheet = sheet;
        if live {
            self.trainer.set_timeline(timeline);
            self.warn_about_sheet();
            Ok(())
        } else {
            self.restart(timeline)
        }
    }
}

/// What one read-back carries, packed into a single tensor.
struct ReadRequest {
    tensor: Tensor<1>,
    layout: ReadLayout,
}

struct ReadLayout {
    /// The last step run (`None` before the first).
    step: Option<u64>,
    latents: usize,
    losses: Option<PerTerm<bool>>,
    snapshots: Vec<(String, u64, usize)>,
    params: usize,
}

impl Run {
    fn read_request(&mut self) -> ReadRequest {
        let (_, latents) = self.trainer.infer_rgb_grid();
        let n_latents = latents.dims()[0] * latents.dims()[1];
        let mut parts: Vec<Tensor<1>> = vec![latents.reshape([n_latents])];
        let step = self.trainer.step_index().checked_sub(1);
        let losses = self.pending_losses.take().map(|report| {
            parts.push(report.losses().inner());
            report.computed()
        });
        let mut snapshots = Vec::new();
        for (phase, step, t) in self.pending_snapshots.drain(..) {
            let n = t.dims()[0] * t.dims()[1];
            parts.push(t.inner().reshape([n]));
            snapshots.push((phase, step, n));
        }
        let params = if self.backend == Backend::WebGpu {
            let p = self.trainer.model().parameters_flat().inner();
            let n = p.dims()[0];
            parts.push(p);
            n
        } else {
            0
        };
        ReadRequest {
            tensor: Tensor::cat(parts, 0),
            layout: ReadLayout {
                step,
                latents: n_latents,
                losses,
                snapshots,
                params,
            },
        }
    }

    fn accept(&mut self, layout: &ReadLayout, values: &[f32], frame: &mut Frame) {
        let (latents, mut rest) = values.split_at(layout.latents);
        let mut losses = None;
        if let Some(computed) = layout.losses {
            let (l, r) = rest.split_at(Term::COUNT + 1);
            losses = Some(Losses::from_values(l, computed));
            rest = r;
        }
        for (phase, step, n) in &layout.snapshots {
            let (l, r) = rest.split_at(*n);
            frame.snapshots.push(Snapshot {
                phase: phase.clone(),
                step: *step,
                latents: to_bytes(l),
            });
            rest = r;
        }
        if let Some(l) = losses {
            if !l.total.is_finite() {
                // Only reachable without the per-step host check (the GPU path): go back to
                // the last good weights and stop, rather than draw NaNs.
                self.last_error = Some(format!(
                    "step {}: the total loss is {} — paused; weights restored from step {}",
                    layout.step.unwrap_or(0),
                    l.total,
                    self.last_good.as_ref().map_or(0, |g| g.0)
                ));
                self.restore_last_good(self.device.clone());
                return;
            }
            frame.losses = Some(LossSample {
                step: layout.step.unwrap_or(0),
                total: l.total,
                terms: l.terms.0,
            });
        }
        if let Some(step) = layout.step {
            if layout.params > 0 && latents.iter().all(|v| v.is_finite()) {
                self.last_good = Some((step, rest[..layout.params].to_vec()));
            }
        }
        frame.shown = layout.step;
        frame.latents = to_bytes(latents);
    }

    /// The run's state, for the page's readouts.
    fn describe(&mut self, frame: &mut Frame) {
        let t = self.trainer.timeline();
        let state = t.state(self.trainer.step_index().min(t.len().saturating_sub(1)));
        frame.step = self.trainer.step_index();
        frame.total_steps = t.len();
        frame.finished = self.trainer.is_finished();
        frame.phase = state.phase.to_string();
        frame.lr = t.property_index("lr").map_or(0.0, |i| state.values[i]);
        frame.backend = self.backend.name().into();
        frame.error = self.last_error.clone();
        frame.notice = self.notice.take();
        frame.dims = self.config.latent_dims;
    }

    fn fall_back_to_cpu(&mut self, why: &str) {
        web_sys::console::warn_1(
            &format!("color-bottleneck: WebGPU read-back failed: {why}").into(),
        );
        self.notice = Some(format!(
            "WebGPU stopped working (the device was lost or a read-back failed); continuing on the CPU from step {}",
            self.last_good.as_ref().map_or(0, |g| g.0)
        ));
        self.backend = Backend::Cpu;
        self.device = Device::flex();
        self.config.check_total_on_host = true;
        self.pending_losses = None;
        self.pending_snapshots.clear();
        self.restore_last_good(Device::flex());
    }

    /// Rebuilds the trainer on `device` from the last read-back weights (a fresh run if none).
    fn restore_last_good(&mut self, device: Device) {
        let Ok(timeline) = parse(&self.sheet) else {
            return;
        };
        let resumed = match &self.last_good {
            Some((step, params)) => {
                Trainer::resume(timeline, self.config.clone(), &device, params, step + 1)
            }
            None => Trainer::new(timeline, self.config.clone(), &device),
        };
        match resumed {
            Ok(t) => self.trainer = t,
            Err(e) => self.last_error = Some(e.to_string()),
        }
    }

    fn restart(&mut self, timeline: Timeline) -> Result<(), JsValue> {
        self.trainer = Trainer::new(timeline, self.config.clone(), &self.device)
            .map_err(|e| js_error(e.to_string()))?;
        self.pending_losses = None;
        self.pending_snapshots.clear();
        self.last_good = None;
        self.last_error = None;
        self.warn_about_sheet();
        Ok(())
    }

    fn warn_about_sheet(&mut self) {
        let warnings: Vec<String> = self
            .trainer
            .warnings()
            .iter()
            .map(|w| w.to_string())
            .collect();
        if !warnings.is_empty() {
            self.notice = Some(warnings.join("; "));
        }
    }
}
