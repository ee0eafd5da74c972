//! The training half: runs in a Web Worker, owns the trainer and its device.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use wasm_bindgen::prelude::*;

use super::{
    js_error, now, parse, to_bytes, to_js, Frame, LossSample, RunVerdict, Snapshot, SweepFrame,
    THUMBNAIL_POINTS,
};
use crate::data::ColorCube;
use crate::evolution::{self, Recorder};
use crate::loss::{PerTerm, Term};
use crate::sweep::{Sweep, SweepConfig};
use crate::timeline::Timeline;
use crate::train::{
    Checkpoint, CheckpointRequest, Event, Losses, StepReport, TrainError, Trainer, TrainerConfig,
};
use crate::verdict::{probe_colors, Verdict};

/// How often a sweep's runs are judged: a verdict runs the RGB grid through every model.
const VERDICT_INTERVAL_MS: f64 = 250.0;

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

/// How a run trains: on the CPU with the fused step (everything on the host), or with Burn's
/// operations on a GPU (tensors stay on the device until a read-back).
enum Engine {
    Fused(Sweep),
    Burn(Box<Trainer>),
}

impl Engine {
    fn new(
        timeline: Timeline,
        config: &TrainerConfig,
        runs: usize,
        device: Option<&Device>,
    ) -> Result<Self, TrainError> {
        Ok(match device {
            Some(device) => Engine::Burn(Box::new(Trainer::new(timeline, config.clone(), device)?)),
            None => Engine::Fused(Sweep::new(timeline, sweep_config(config, runs))?),
        })
    }

    fn timeline(&self) -> &Timeline {
        match self {
            Engine::Fused(s) => s.timeline(),
            Engine::Burn(t) => t.timeline(),
        }
    }

    /// The step the next call trains.
    fn step_index(&self) -> u64 {
        match self {
            Engine::Fused(s) => s.step_index(),
            Engine::Burn(t) => t.step_index(),
        }
    }

    fn is_finished(&self) -> bool {
        self.step_index() >= self.timeline().len()
    }

    fn warnings(&self) -> Vec<String> {
        Trainer::warnings_of(self.timeline())
            .iter()
            .map(|w| w.to_string())
            .collect()
    }
}

fn sweep_config(config: &TrainerConfig, runs: usize) -> SweepConfig {
    SweepConfig {
        first_seed: config.seed,
        runs,
        latent_dims: config.latent_dims,
        batch_size: config.batch_size,
    }
}

/// What a fused CPU step left for the next frame: all of it already on the host.
#[derive(Default)]
struct HostPending {
    losses: Option<LossSample>,
    snapshots: Vec<Snapshot>,
}

/// Weights (and the anchor reference in force) from the last good read-back: the way back
/// after a lost GPU or a loss that went non-finite.
struct Run {
    sheet: String,
    config: TrainerConfig,
    /// Seeds trained at once (from `config.seed` on); more than one only on the CPU.
    runs: usize,
    /// When the sweep's runs were last judged.
    judged_at: f64,
    backend: Backend,
    /// The GPU device, when the run is on one.
    device: Option<Device>,
    engine: Engine,
    host_pending: HostPending,
    /// Phase-end latents still on the device, read at the next sync.
    pending_snapshots: Vec<(String, u64, Vec<f32>, Tensor<2>)>,
    /// The last step's report (its losses), read at the next sync.
    pending_losses: Option<StepReport>,
    /// The run's state as of the last frame whose latents were finite.
    last_good: Option<Checkpoint>,
    /// The latent-evolution video's recordings (a single run only).
    recorder: Recorder,
    /// Recordings still on the device, read at the next sync: `(step, is the end, latents)`.
    pending_recordings: Vec<(u64, bool, Tensor<2>)>,
    /// The RGB grid, as the engines take colours.
    grid: Vec<f32>,
    /// Steps queued per call on WebGPU, adapted to how long read-backs wait.
    gpu_steps: f64,
    last_error: Option<String>,
    notice: Option<String>,
    /// What `auto` measured to choose the backend, if it raced them.
    race: Option<Race>,
}

/// The GPU device to train on, or `None` for the CPU, and a notice when the request could
/// not be met.
async fn device_for(requested: &str) -> (Backend, Option<Device>, Option<String>) {
    if requested == "cpu" {
        return (Backend::Cpu, None, None);
    }
    #[cfg(feature = "webgpu")]
    if has_webgpu() {
        return match Device::wgpu_options().init_async().await {
            Ok(device) => (Backend::WebGpu, Some(device), None),
            Err(e) => {
                let e = e.to_string();
                let note = if e.contains("No adapter") {
                    "this browser offers WebGPU but no adapter; running on the CPU".to_string()
                } else {
                    format!("WebGPU failed to start ({e}); running on the CPU")
                };
                (Backend::Cpu, None, Some(note))
            }
        };
    }
    let note = (requested == "webgpu").then(|| "no WebGPU here; running on the CPU".to_string());
    (Backend::Cpu, None, note)
}

/// Training speed on each backend, in steps per second, from a short burst of each.
#[derive(Debug, Clone, Copy)]
struct Race {
    gpu: f64,
    cpu: f64,
}

impl Race {
    fn describe(self, chosen: Backend) -> String {
        format!(
            "webgpu {} · cpu {} steps/s → {}",
            thousands(self.gpu),
            thousands(self.cpu),
            chosen.name()
        )
    }
}

fn thousands(rate: f64) -> String {
    let digits = format!("{:.0}", rate.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A curriculum of one cube phase with every term on: what most of a run's steps cost at the
/// configured batch (phase 1 trains on six colours whatever the batch).
const RACE_SHEET: &str = "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm
0,Full color space,,0.001,1,0.1,0.1,0.1
100000,,,,,,,
";

/// Times a burst of training on the GPU and on the CPU: under half a second in all, after
/// one step that compiles the GPU's kernels. Each burst ends in a read-back, so the GPU's
/// figure counts its whole queue.
async fn race_backends(config: &TrainerConfig, gpu: &Device) -> Race {
    let timeline = parse(RACE_SHEET).expect("the race sheet parses");
    let mut cpu = Sweep::new(timeline.clone(), sweep_config(config, 1)).expect("a valid config");
    let started = now();
    let mut steps = 0u32;
    while now() - started < 150.0 {
        cpu.step();
        steps += 1;
    }
    let cpu_rate = steps as f64 * 1000.0 / (now() - started);

    let gpu_config = TrainerConfig {
        check_total_on_host: false,
        ..config.clone()
    };
    let Ok(mut trainer) = Trainer::new(timeline, gpu_config, gpu) else {
        return Race {
            gpu: 0.0,
            cpu: cpu_rate,
        };
    };
    let burst = |trainer: &mut Trainer, n: u32| {
        let mut last = None;
        for _ in 0..n {
            last = trainer.step().ok();
        }
        last.map(|r| r.losses())
    };
    // Kernels compile on first use: not part of the figure.
    if let Some(t) = burst(&mut trainer, 2) {
        let _ = t.into_data_async().await;
    }
    const BUDGET_MS: f64 = 250.0;
    let (mut steps, mut n) = (0u32, 4u32);
    let started = now();
    while n > 0 {
        let Some(t) = burst(&mut trainer, n) else {
            break;
        };
        if t.into_data_async().await.is_err() {
            break;
        }
        steps += n;
        // As many as the rest of the budget holds at the speed so far, at most twice as many.
        let elapsed = now() - started;
        let per_step = elapsed / steps as f64;
        n = (((BUDGET_MS - elapsed) / per_step).max(0.0) as u32).min(2 * n);
    }
    let elapsed = (now() - started).max(1.0);
    Race {
        gpu: steps as f64 * 1000.0 / elapsed,
        cpu: cpu_rate,
    }
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
    /// Starts an experiment. `backend` is `auto`, `webgpu` or `cpu`. With `runs` > 1, that
    /// many seeds (from `seed` on) train at once, on the CPU.
    pub async fn create(
        sheet: String,
        seed: u32,
        latent_dims: u32,
        batch_size: u32,
        backend: String,
        runs: u32,
    ) -> Result<Experiment, JsValue> {
        let timeline = parse(&sheet)?;
        let runs = runs.max(1) as usize;
        let requested = if runs > 1 { "cpu" } else { backend.as_str() };
        let (mut backend, mut device, notice) = device_for(requested).await;
        let mut config = TrainerConfig {
            seed: seed as u64,
            latent_dims: latent_dims as usize,
            batch_size: batch_size as usize,
            check_total_on_host: backend == Backend::Cpu,
            ..TrainerConfig::default()
        };
        // `auto` with a GPU: train on whichever is faster here, at this batch.
        let mut race = None;
        if requested == "auto" {
            if let Some(gpu) = device.clone() {
                let rates = race_backends(&config, &gpu).await;
                if rates.cpu > rates.gpu {
                    backend = Backend::Cpu;
                    device = None;
                    config.check_total_on_host = true;
                }
                race = Some(rates);
            }
        }
        let engine = Engine::new(timeline, &config, runs, device.as_ref())
            .map_err(|e| js_error(e.to_string()))?;
        let mut run = Run {
            sheet,
            config,
            runs,
            judged_at: f64::NEG_INFINITY,
            backend,
            device,
            engine,
            host_pending: HostPending::default(),
            pending_snapshots: Vec::new(),
            pending_losses: None,
            last_good: None,
            recorder: Recorder::for_rgb_grid(latent_dims as usize),
            pending_recordings: Vec::new(),
            grid: ColorCube::rgb_grid().rgb_f32(),
            gpu_steps: 1.0,
            last_error: None,
            notice,
            race,
        };
        run.warn_about_sheet();
        Ok(Experiment {
            run: Rc::new(RefCell::new(run)),
        })
    }

    pub fn backend(&self) -> String {
        self.run.borrow().backend.name().into()
    }

    /// What `auto` measured, as the readout shows it (`webgpu 1,200 · cpu 4,100 steps/s →
    /// cpu`); `None` when the backend was forced or there was no GPU to race.
    pub fn race(&self) -> Option<String> {
        let run = self.run.borrow();
        run.race.map(|r| r.describe(run.backend))
    }

    pub fn finished(&self) -> bool {
        self.run.borrow().engine.is_finished()
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
        let request = {
            let mut run = self.run.borrow_mut();
            if matches!(run.engine, Engine::Fused(_)) {
                return to_js(&run.host_frame());
            }
            run.read_request()
        };
        let started = now();
        let result = request.tensor.into_data_async().await;
        let waited = now() - started;
        let frame = self
            .run
            .borrow_mut()
            .receive(request.layout, result, waited);
        to_js(&frame)
    }

    /// The RGB grid's latents and reconstructions under the current weights (run 0's in a
    /// sweep), as the CLI's `latents.csv`.
    pub async fn latents_csv(&self) -> Result<String, JsValue> {
        let grid = ColorCube::rgb_grid();
        let pending = {
            let run = self.run.borrow();
            let dims = run.config.latent_dims;
            match &run.engine {
                Engine::Fused(sweep) => {
                    let (outputs, latents) = sweep.infer(0, &grid.rgb_f32());
                    return Ok(crate::data::latents_csv(&grid, &latents, &outputs, dims));
                }
                Engine::Burn(trainer) => {
                    let (outputs, latents) = trainer.infer_rgb_grid();
                    let n = latents.dims()[0] * dims;
                    let both = Tensor::cat(
                        vec![latents.reshape([n]), outputs.reshape([n / dims * 3])],
                        0,
                    );
                    (both, n, dims)
                }
            }
        };
        let (tensor, n, dims) = pending;
        let values = tensor
            .into_data_async()
            .await
            .map_err(|e| js_error(e.to_string()))?
            .try_to_vec::<f32>()
            .map_err(|e| js_error(format!("{e:?}")))?;
        let (latents, outputs) = values.split_at(n);
        Ok(crate::data::latents_csv(&grid, latents, outputs, dims))
    }

    /// Replaces the schedule. `live`: keep the model and step ("apply live"); otherwise a
    /// fresh run with the same seed. A broken sheet is refused (with its located problem)
    /// and the run goes on.
    pub fn set_dopesheet(&self, sheet: String, live: bool) -> Result<(), JsValue> {
        self.run.borrow_mut().set_dopesheet(sheet, live)
    }

    /// Frames of the latent-evolution video recorded so far.
    pub fn video_frames(&self) -> u32 {
        self.run.borrow().recorder.recordings().len() as u32
    }

    /// Frame `index` of the latent-evolution video as RGBA pixels, [`FRAME_SIZE`] square.
    pub fn video_frame(&self, index: u32) -> Result<Vec<u8>, JsValue> {
        let run = self.run.borrow();
        let recording = (run.recorder.recordings())
            .get(index as usize)
            .ok_or_else(|| js_error(format!("no video frame {index}")))?;
        let raster = evolution::frame_raster(recording, run.config.latent_dims)
            .map_err(|e| js_error(e.to_string()))?;
        Ok(raster.pixels)
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
        while ran < limit && !self.engine.is_finished() && self.last_error.is_none() {
            self.record(self.engine.step_index(), false);
            match &mut self.engine {
                Engine::Fused(sweep) => {
                    fused_step(sweep, &mut self.host_pending, &mut self.last_error)
                }
                Engine::Burn(trainer) => match trainer.step() {
                    Ok(mut report) => {
                        for event in std::mem::take(&mut report.events) {
                            if let Event::PhaseEnd {
                                step,
                                phase,
                                colors,
                                latents,
                                ..
                            } = event
                            {
                                self.pending_snapshots.push((
                                    phase,
                                    step,
                                    colors.rgb_f32(),
                                    latents,
                                ));
                            }
                        }
                        self.pending_losses = Some(report);
                    }
                    Err(e) => self.last_error = Some(e.to_string()),
                },
            }
            ran += 1;
            if self.engine.is_finished() {
                self.record(self.engine.step_index(), true);
            }
            if self.backend == Backend::Cpu && now() - start >= budget_ms {
                break;
            }
        }
        ran
    }

    /// Records the grid's latents before `step` for the video, if the stride asks for them
    /// (`end`: the run's last state, whatever the stride). A sweep records nothing.
    fn record(&mut self, step: u64, end: bool) {
        if self.runs > 1 || !(end || self.recorder.wants(step)) {
            return;
        }
        match &self.engine {
            Engine::Fused(sweep) => {
                let (_, latents) = sweep.infer(0, &self.grid);
                keep_recording(&mut self.recorder, step, end, latents);
            }
            Engine::Burn(trainer) => {
                let (_, latents) = trainer.infer_rgb_grid();
                self.pending_recordings.push((step, end, latents));
            }
        }
    }

    /// A frame straight from the host (the fused CPU engine: nothing to wait for).
    fn host_frame(&mut self) -> Frame {
        let mut frame = Frame::default();
        if let Engine::Fused(sweep) = &self.engine {
            let step = sweep.step_index().checked_sub(1);
            let (_, latents) = sweep.infer(0, &self.grid);
            frame.latents = to_bytes(&latents);
            frame.shown = step;
            if self.runs > 1 {
                let judge = now() - self.judged_at >= VERDICT_INTERVAL_MS || sweep.is_finished();
                if judge {
                    self.judged_at = now();
                }
                frame.sweep = Some(sweep_frame(sweep, judge));
            }
        }
        let pending = std::mem::take(&mut self.host_pending);
        frame.losses = pending.losses;
        frame.snapshots = pending.snapshots;
        self.describe(&mut frame);
        frame
    }

    fn receive(
        &mut self,
        layout: ReadLayout,
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
            match &mut self.engine {
                Engine::Fused(sweep) => sweep.set_timeline(timeline),
                Engine::Burn(trainer) => {
                    trainer.set_timeline(timeline);
                }
            }
            // A run paused by a non-finite loss goes on, from its last good weights, under
            // the edited sheet.
            self.last_error = None;
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
    snapshots: Vec<(String, u64, Vec<f32>, usize)>,
    /// `(step, is the end, values)` of the video's recordings.
    recordings: Vec<(u64, bool, usize)>,
    checkpoint: CheckpointRequest,
}

impl Run {
    /// Everything a frame needs from the GPU, in one tensor (the Burn engine only).
    fn read_request(&mut self) -> ReadRequest {
        let Engine::Burn(trainer) = &self.engine else {
            unreachable!("the fused engine's frames come from the host");
        };
        let (_, latents) = trainer.infer_rgb_grid();
        let n_latents = latents.dims()[0] * latents.dims()[1];
        let mut parts: Vec<Tensor<1>> = vec![latents.reshape([n_latents])];
        let step = trainer.step_index().checked_sub(1);
        let losses = self.pending_losses.take().map(|report| {
            parts.push(report.losses().inner());
            report.computed()
        });
        let mut snapshots = Vec::new();
        for (phase, step, colors, t) in self.pending_snapshots.drain(..) {
            let n = t.dims()[0] * t.dims()[1];
            parts.push(t.inner().reshape([n]));
            snapshots.push((phase, step, colors, n));
        }
        let mut recordings = Vec::new();
        for (step, end, t) in self.pending_recordings.drain(..) {
            let n = t.dims()[0] * t.dims()[1];
            parts.push(t.reshape([n]));
            recordings.push((step, end, n));
        }
        // Weights, Adam's state and the anchor reference, for the way back after a lost GPU.
        // Last, so that it is the rest of the values.
        let (state, checkpoint) = trainer.checkpoint_request();
        parts.push(state);
        ReadRequest {
            tensor: Tensor::cat(parts, 0),
            layout: ReadLayout {
                step,
                latents: n_latents,
                losses,
                snapshots,
                recordings,
                checkpoint,
            },
        }
    }

    fn accept(&mut self, layout: ReadLayout, values: &[f32], frame: &mut Frame) {
        let (latents, mut rest) = values.split_at(layout.latents);
        let mut losses = None;
        if let Some(computed) = layout.losses {
            let (l, r) = rest.split_at(Term::COUNT + 1);
            losses = Some(Losses::from_values(l, computed));
            rest = r;
        }
        for (phase, step, colors, n) in &layout.snapshots {
            let (l, r) = rest.split_at(*n);
            frame.snapshots.push(Snapshot {
                phase: phase.clone(),
                step: *step,
                latents: to_bytes(l),
                colors: to_bytes(colors),
            });
            rest = r;
        }
        for &(step, end, n) in &layout.recordings {
            let (l, r) = rest.split_at(n);
            keep_recording(&mut self.recorder, step, end, l.to_vec());
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
                    self.last_good.as_ref().map_or(0, |g| g.step)
                ));
                self.restore_last_good();
                return;
            }
            frame.losses = Some(LossSample {
                step: layout.step.unwrap_or(0),
                total: l.total,
                terms: l.terms.0,
            });
        }
        if layout.step.is_some() && latents.iter().all(|v| v.is_finite()) {
            if let Some(checkpoint) = layout.checkpoint.complete(rest) {
                self.last_good = Some(checkpoint);
            }
        }
        frame.shown = layout.step;
        frame.latents = to_bytes(latents);
    }

    /// The run's state, for the page's readouts.
    fn describe(&mut self, frame: &mut Frame) {
        let t = self.engine.timeline();
        let state = t.state(self.engine.step_index().min(t.len().saturating_sub(1)));
        frame.step = self.engine.step_index();
        frame.total_steps = t.len();
        frame.finished = self.engine.is_finished();
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
            self.last_good.as_ref().map_or(0, |g| g.step)
        ));
        self.backend = Backend::Cpu;
        self.device = None;
        self.config.check_total_on_host = true;
        self.pending_losses = None;
        self.pending_snapshots.clear();
        self.pending_recordings.clear();
        self.restore_last_good();
    }

    /// Rebuilds the engine from the last good read-back (a fresh run if there is none), on the
    /// run's device: the GPU's, or the fused CPU step. Adam's state, the anchor reference and
    /// the sampler's stream come along.
    fn restore_last_good(&mut self) {
        let Ok(timeline) = parse(&self.sheet) else {
            return;
        };
        let restored = match (&self.last_good, &self.device) {
            (Some(saved), None) => {
                Sweep::resume_one(timeline, sweep_config(&self.config, 1), saved).map(Engine::Fused)
            }
            (Some(saved), Some(device)) => {
                Trainer::resume(timeline, self.config.clone(), device, saved)
                    .map(|t| Engine::Burn(Box::new(t)))
            }
            (None, device) => Engine::new(timeline, &self.config, self.runs, device.as_ref()),
        };
        match restored {
            Ok(engine) => self.engine = engine,
            Err(e) => self.last_error = Some(e.to_string()),
        }
    }

    fn restart(&mut self, timeline: Timeline) -> Result<(), JsValue> {
        self.engine = Engine::new(timeline, &self.config, self.runs, self.device.as_ref())
            .map_err(|e| js_error(e.to_string()))?;
        self.judged_at = f64::NEG_INFINITY;
        self.host_pending = HostPending::default();
        self.pending_losses = None;
        self.pending_snapshots.clear();
        self.pending_recordings.clear();
        self.recorder = Recorder::for_rgb_grid(self.config.latent_dims);
        self.last_good = None;
        self.last_error = None;
        self.warn_about_sheet();
        Ok(())
    }

    fn warn_about_sheet(&mut self) {
        let warnings = self.engine.warnings();
        if !warnings.is_empty() {
            self.notice = Some(warnings.join("; "));
        }
    }
}

/// A recording for the video: `end` is the run's last state, kept whatever the stride.
fn keep_recording(recorder: &mut Recorder, step: u64, end: bool, latents: Vec<f32>) {
    if end {
        recorder.record_end(step, latents);
    } else {
        recorder.record(step, latents);
    }
}

/// One fused step of the run, its losses and any phase end kept for the next frame.
fn fused_step(sweep: &mut Sweep, pending: &mut HostPending, error: &mut Option<String>) {
    let step = sweep.step_index();
    sweep.step();
    let run = &sweep.runs()[0];
    // In a sweep a failed run is one verdict among many; a single run stops.
    if let Some(failure) = run.failure.as_ref().filter(|_| sweep.runs().len() == 1) {
        *error = Some(format!(
            "{failure} — paused with the weights from before it; edit the sheet and Apply live to go on"
        ));
        return;
    }
    if let Some(l) = run.last.map(|l| l.losses()) {
        pending.losses = Some(LossSample {
            step,
            total: l.total,
            terms: l.terms.0,
        });
    }
    if let Some(end) = sweep.phase_end(0, step) {
        pending.snapshots.push(Snapshot {
            phase: end.phase,
            step,
            latents: to_bytes(&end.latents),
            colors: to_bytes(&end.colors),
        });
    }
}

/// Every run's thumbnail latents, and their verdicts when `judge`.
fn sweep_frame(sweep: &Sweep, judge: bool) -> SweepFrame {
    let probe = probe_colors().rgb_f32();
    let hues = &probe[..THUMBNAIL_POINTS * 3];
    let mut thumbnails = Vec::new();
    for r in 0..sweep.runs().len() {
        thumbnails.extend(sweep.infer(r, hues).1);
    }
    let verdicts = judge.then(|| {
        (sweep.verdicts().into_iter().zip(sweep.runs()))
            .map(|(v, run)| verdict(&v, run.failure.is_some()))
            .collect()
    });
    SweepFrame {
        seeds: sweep.runs().iter().map(|r| r.seed).collect(),
        thumbnails: to_bytes(&thumbnails),
        verdicts,
    }
}

fn verdict(v: &Verdict, failed: bool) -> RunVerdict {
    RunVerdict {
        shape: if failed { "failed" } else { v.shape.name() }.into(),
        worst_gap_error: v.worst_gap_error,
        recon_mse: v.recon_mse,
    }
}
