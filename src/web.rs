//! The wasm face of the engine, driven by `www/color-bottleneck.js` once per animation frame.
//!
//! The page calls `train` (run or enqueue steps for a time budget), then awaits `sync` (one
//! asynchronous read-back of latents and losses), then `draw`. Tensors never leave this
//! module: the page sees numbers, strings and canvases.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::data::ColorCube;
use crate::dopesheet::{Dopesheet, DopesheetError};
use crate::loss::TERMS;
use crate::plot::{self, Align, PhaseSnapshot, PointCloud, Rect, Rgba, StepAxis, Surface};
use crate::timeline::Timeline;
use crate::train::{Event, Losses, StepReport, Trainer, TrainerConfig};

extern "C" {
    /// Defined by the linker: runs static constructors (cubecl's IR registers its ops with
    /// `inventory`, which uses them).
    fn __wasm_call_ctors();
}

/// Runs the constructors once, when the module is instantiated. Calling them explicitly also
/// keeps wasm-ld from treating the module as a "command" and re-running them (and the
/// destructors) around every exported call, which corrupts the heap.
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once, by wasm-bindgen's init, before any other export.
    unsafe { __wasm_call_ctors() }
}

/// Latent snapshots kept for scrubbing: 1,000 points × E floats each; halved when full.
const HISTORY_LIMIT: usize = 1200;
/// Loss samples kept for the chart; halved when full.
const LOSS_LIMIT: usize = 4000;

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

/// What the page has read back and drawn from, kept between frames.
#[derive(Default)]
struct View {
    step: u64,
    latents: Vec<f32>,
    dims: usize,
    losses: Option<Losses>,
    loss_history: Vec<(u64, Losses)>,
    history: Vec<(u64, Vec<f32>)>,
    snapshots: Vec<PhaseSnapshot>,
    scrub: Option<u64>,
    timeline_axis: Option<StepAxis>,
    /// What the strip and the schedule canvases last showed: they are redrawn only when it
    /// changes (the schedule's playhead is a DOM overlay the page moves).
    strip_key: Option<(usize, u32, u32)>,
    schedule_key: Option<(u64, u32, u32)>,
    /// Bumped whenever the schedule changes.
    generation: u64,
}

struct Session {
    sheet: String,
    config: TrainerConfig,
    backend: Backend,
    device: Device,
    trainer: Trainer,
    view: View,
    /// Phase-end latents still on the device, read at the next sync.
    pending_snapshots: Vec<(String, u64, Tensor<2>)>,
    /// The last report's losses, read at the next sync.
    /// The last step's report (its losses), read at the next sync.
    pending_losses: Option<StepReport>,
    /// Host copy of the weights from the last good read-back (the way back after a lost GPU).
    last_good: Option<(u64, Vec<f32>)>,
    steps_per_frame: f64,
    last_error: Option<String>,
    notice: Option<String>,
    colors: Vec<f32>,
}

#[wasm_bindgen]
pub struct Experiment {
    session: Rc<RefCell<Session>>,
}

#[derive(serde::Serialize)]
struct SheetProblem {
    line: usize,
    column: Option<usize>,
    column_name: Option<String>,
    message: String,
}

fn sheet_problem(e: &DopesheetError) -> SheetProblem {
    SheetProblem {
        line: e.location.line,
        column: e.location.column.as_ref().map(|(i, _)| *i),
        column_name: e.location.column.as_ref().map(|(_, n)| n.clone()),
        message: e.to_string(),
    }
}

fn to_js<T: serde::Serialize>(value: &T) -> JsValue {
    serde_wasm_bindgen::to_value(value).unwrap_or(JsValue::NULL)
}

fn js_error(message: impl Into<String>) -> JsValue {
    js_sys::Error::new(&message.into()).into()
}

fn parse(sheet: &str) -> Result<Timeline, JsValue> {
    Dopesheet::parse(sheet)
        .map(|s| Timeline::new(&s))
        .map_err(|e| js_error(e.to_string()))
}

async fn device_for(requested: &str) -> (Backend, Device, Option<String>) {
    let wants_gpu = requested != "cpu";
    if wants_gpu {
        let has_gpu = web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"gpu".into()).ok())
            .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
            .unwrap_or(false);
        if has_gpu {
            match Device::wgpu_options().init_async().await {
                Ok(device) => return (Backend::WebGpu, device, None),
                Err(e) => {
                    let e = e.to_string();
                    let note = if e.contains("No adapter") {
                        "this browser offers WebGPU but no adapter; running on the CPU".to_string()
                    } else {
                        format!("WebGPU failed to start ({e}); running on the CPU")
                    };
                    return (Backend::Cpu, Device::flex(), Some(note));
                }
            }
        }
        if requested == "webgpu" {
            return (
                Backend::Cpu,
                Device::flex(),
                Some("this browser has no WebGPU; running on the CPU".into()),
            );
        }
    }
    (Backend::Cpu, Device::flex(), None)
}

#[wasm_bindgen]
impl Experiment {
    /// Validates a sheet: `null` when it is fine, else `{line, column, column_name, message}`.
    pub fn validate(sheet: &str) -> JsValue {
        match Dopesheet::parse(sheet) {
            Ok(_) => JsValue::NULL,
            Err(e) => to_js(&sheet_problem(&e)),
        }
    }

    /// Starts an experiment. `backend` is `auto`, `webgpu` or `cpu`.
    pub async fn create(
        sheet: String,
        seed: u32,
        latent_dims: u32,
        batch_size: u32,
        backend: String,
    ) -> Result<Experiment, JsValue> {
        console_panic_hook();
        let timeline = parse(&sheet)?;
        let config = TrainerConfig {
            seed: seed as u64,
            latent_dims: latent_dims as usize,
            batch_size: batch_size as usize,
            ..TrainerConfig::default()
        };
        let (backend, device, notice) = device_for(&backend).await;
        let config = TrainerConfig {
            check_total_on_host: backend == Backend::Cpu,
            ..config
        };
        let trainer =
            Trainer::new(timeline, config.clone(), &device).map_err(|e| js_error(e.to_string()))?;
        let session = Session {
            sheet,
            config,
            backend,
            device,
            trainer,
            view: View::default(),
            pending_snapshots: Vec::new(),
            pending_losses: None,
            last_good: None,
            steps_per_frame: 1.0,
            last_error: None,
            notice,
            colors: ColorCube::rgb_grid().rgb_f32(),
        };
        let experiment = Experiment {
            session: Rc::new(RefCell::new(session)),
        };
        experiment.session.borrow_mut().warn_about_sheet();
        Ok(experiment)
    }

    pub fn backend(&self) -> String {
        self.session.borrow().backend.name().into()
    }

    /// The step the next `train` call will run.
    pub fn step(&self) -> f64 {
        self.session.borrow().trainer.step_index() as f64
    }

    /// The step the drawn latents belong to.
    pub fn shown_step(&self) -> f64 {
        self.session.borrow().view.step as f64
    }

    pub fn total_steps(&self) -> f64 {
        self.session.borrow().trainer.timeline().len() as f64
    }

    pub fn finished(&self) -> bool {
        self.session.borrow().trainer.is_finished()
    }

    pub fn phase(&self) -> String {
        let s = self.session.borrow();
        let t = s.trainer.timeline();
        let step = s.trainer.step_index().min(t.len().saturating_sub(1));
        t.state(step).phase.to_string()
    }

    pub fn last_error(&self) -> Option<String> {
        self.session.borrow().last_error.clone()
    }

    /// A one-off message for the page (a fallback, a warning about the sheet).
    pub fn take_notice(&self) -> Option<String> {
        self.session.borrow_mut().notice.take()
    }

    pub fn sheet(&self) -> String {
        self.session.borrow().sheet.clone()
    }

    /// Runs steps until `budget_ms` has passed or `max_steps` ran. On the CPU they run now;
    /// on WebGPU they are queued and the step count adapts to how long the read-back waits.
    /// Returns how many steps ran. Stops (and reports through `last_error`) on a bad step.
    pub fn train(&self, budget_ms: f64, max_steps: u32) -> u32 {
        let mut s = self.session.borrow_mut();
        let start = now();
        let mut ran = 0;
        let limit = match s.backend {
            Backend::Cpu => max_steps,
            Backend::WebGpu => (s.steps_per_frame.round() as u32).clamp(1, max_steps.max(1)),
        };
        while ran < limit && !s.trainer.is_finished() && s.last_error.is_none() {
            match s.trainer.step() {
                Ok(mut report) => {
                    for event in std::mem::take(&mut report.events) {
                        if let Event::PhaseEnd {
                            step,
                            phase,
                            latents,
                            ..
                        } = event
                        {
                            s.pending_snapshots.push((phase, step, latents));
                        }
                    }
                    s.pending_losses = Some(report);
                }
                Err(e) => s.last_error = Some(e.to_string()),
            }
            ran += 1;
            if s.backend == Backend::Cpu && now() - start >= budget_ms {
                break;
            }
        }
        ran
    }

    /// Reads back the current latents, the last step's losses and any phase-end snapshots:
    /// one asynchronous read, so a GPU is never stalled. On a failed read on WebGPU (a lost
    /// device), continues on the CPU from the last good weights.
    pub async fn sync(&self) -> Result<(), JsValue> {
        let (request, backend) = {
            let mut s = self.session.borrow_mut();
            (s.read_request(), s.backend)
        };
        let started = now();
        let result = request.tensor.into_data_async().await;
        let waited = now() - started;
        let mut s = self.session.borrow_mut();
        match result
            .map_err(|e| e.to_string())
            .and_then(|d| d.try_to_vec::<f32>().map_err(|e| format!("{e:?}")))
        {
            Ok(values) => {
                s.accept(&request.layout, &values);
                if backend == Backend::WebGpu {
                    // Keep the queue fed without letting the read-back wait dominate a frame.
                    let factor = if waited < 8.0 { 1.25 } else { 0.8 };
                    s.steps_per_frame = (s.steps_per_frame * factor).clamp(1.0, 500.0);
                }
                Ok(())
            }
            Err(e) if backend == Backend::WebGpu => {
                s.fall_back_to_cpu(&e);
                Ok(())
            }
            Err(e) => {
                s.last_error = Some(format!("reading results failed: {e}"));
                Err(js_error(e))
            }
        }
    }

    /// A copy of the latest latents of the 1,000-colour RGB grid (`1000 × dims`).
    pub fn latents(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.session.borrow().view.latents.as_slice())
    }

    /// How many phase-end snapshots have been read back (for the `phaseend` event).
    pub fn snapshot_count(&self) -> u32 {
        self.session.borrow().view.snapshots.len() as u32
    }

    /// Name and step of the `i`-th phase-end snapshot.
    pub fn snapshot_label(&self, i: u32) -> JsValue {
        let s = self.session.borrow();
        s.view
            .snapshots
            .get(i as usize)
            .map_or(JsValue::NULL, |snap| {
                let obj = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&obj, &"phase".into(), &snap.phase.as_str().into());
                let _ = js_sys::Reflect::set(&obj, &"step".into(), &(snap.step as f64).into());
                obj.into()
            })
    }

    pub fn latent_dims(&self) -> u32 {
        self.session.borrow().config.latent_dims as u32
    }

    /// `{step, total, terms: {name: value}}` of the last read-back, or null.
    pub fn losses(&self) -> JsValue {
        let s = self.session.borrow();
        let Some(l) = s.view.losses else {
            return JsValue::NULL;
        };
        let obj = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&obj, &"step".into(), &(s.view.step as f64).into());
        let _ = js_sys::Reflect::set(&obj, &"total".into(), &(l.total as f64).into());
        let terms = js_sys::Object::new();
        for (name, value) in TERMS.iter().zip(l.terms) {
            if let Some(v) = value {
                let _ = js_sys::Reflect::set(&terms, &(*name).into(), &(v as f64).into());
            }
        }
        let _ = js_sys::Reflect::set(&obj, &"terms".into(), &terms);
        obj.into()
    }

    /// The current value of every schedule property, `{name: value}`.
    pub fn schedule(&self) -> JsValue {
        let s = self.session.borrow();
        let t = s.trainer.timeline();
        let state = t.state(s.trainer.step_index().min(t.len().saturating_sub(1)));
        let obj = js_sys::Object::new();
        for (name, v) in t.properties().iter().zip(&state.values) {
            let _ = js_sys::Reflect::set(&obj, &name.as_str().into(), &(*v).into());
        }
        obj.into()
    }

    /// Replaces the schedule. `live`: keep the model and step ("apply live"); otherwise a
    /// fresh run with the same seed. A broken sheet is refused and the run goes on.
    pub fn set_dopesheet(&self, sheet: String, live: bool) -> Result<(), JsValue> {
        let timeline = Dopesheet::parse(&sheet)
            .map(|d| Timeline::new(&d))
            .map_err(|e| to_js(&sheet_problem(&e)))?;
        let mut s = self.session.borrow_mut();
        if live {
            s.trainer.set_timeline(timeline);
            s.view.generation += 1;
            s.sheet = sheet;
            s.warn_about_sheet();
            Ok(())
        } else {
            s.sheet = sheet;
            s.restart(timeline)
        }
    }

    /// A fresh run of the current sheet: same seed ⇒ same start.
    pub fn reset(&self, seed: u32) -> Result<(), JsValue> {
        let mut s = self.session.borrow_mut();
        s.config.seed = seed as u64;
        let timeline = parse(&s.sheet)?;
        s.restart(timeline)
    }

    /// Shows the recorded latents nearest to `step` (≤ it) instead of the live ones;
    /// a negative step returns to live.
    pub fn scrub(&self, step: f64) {
        self.session.borrow_mut().view.scrub = (step >= 0.0).then_some(step as u64);
    }

    /// Where the playhead (the shown step) sits on the schedule chart, in CSS pixels from its
    /// left edge; the page draws it as an overlay so the chart itself is drawn once.
    pub fn playhead_x(&self) -> f64 {
        let s = self.session.borrow();
        let step = s.view.scrub.unwrap_or(s.view.step);
        s.view
            .timeline_axis
            .map_or(0.0, |axis| axis.x(step as f64) as f64)
    }

    /// The step under a horizontal position (CSS pixels) on the schedule chart.
    pub fn step_at(&self, x_css: f64) -> f64 {
        let s = self.session.borrow();
        s.view
            .timeline_axis
            .map_or(0.0, |axis| axis.step_at(x_css as f32) as f64)
    }

    /// Draws the live (or scrubbed) latent panels, the phase strip, the schedule with its
    /// playhead and the loss curves. Any canvas may be undefined.
    pub fn draw(
        &self,
        latents: Option<HtmlCanvasElement>,
        strip: Option<HtmlCanvasElement>,
        schedule: Option<HtmlCanvasElement>,
        losses: Option<HtmlCanvasElement>,
    ) {
        let mut s = self.session.borrow_mut();
        let s = &mut *s;
        let strip = strip.filter(|c| {
            let (pw, ph) = canvas_size(c);
            strip_changed(&mut s.view.strip_key, (s.view.snapshots.len(), pw, ph))
        });
        let view = &s.view;
        let (shown_step, shown) = match view.scrub {
            Some(target) => {
                let i = view
                    .history
                    .partition_point(|(st, _)| *st <= target)
                    .saturating_sub(1);
                view.history
                    .get(i)
                    .map_or((view.step, view.latents.as_slice()), |(st, l)| {
                        (*st, l.as_slice())
                    })
            }
            None => (view.step, view.latents.as_slice()),
        };
        if let Some(canvas) = latents {
            with_canvas(&canvas, |surface, w, h| {
                let cloud = PointCloud {
                    latents: shown,
                    dims: view.dims.max(1),
                    colors: &s.colors,
                };
                let panel_w = w / 3.0;
                for (i, pair) in plot::DIM_PAIRS.iter().enumerate() {
                    let area =
                        Rect::new(i as f32 * panel_w, 0.0, panel_w, h).inset(4.0, 4.0, 4.0, 4.0);
                    let title = format!("dims {} × {}", pair.0, pair.1);
                    plot::latent_panel(surface, area, cloud, *pair, 1.5, Some(&title));
                }
                let label = if view.scrub.is_some() {
                    format!("step {shown_step} (history)")
                } else {
                    format!("step {shown_step}")
                };
                surface.text(
                    w - 8.0,
                    h - 10.0,
                    &label,
                    12.0,
                    plot::FAINT_TEXT,
                    Align::Right,
                );
            });
        }
        if let Some(canvas) = strip {
            with_canvas(&canvas, |surface, w, h| {
                surface.fill_rect(0.0, 0.0, w, h, plot::FIGURE);
                if view.snapshots.is_empty() {
                    surface.text(
                        w / 2.0,
                        h / 2.0,
                        "phase snapshots appear here as each phase ends",
                        12.0,
                        plot::FAINT_TEXT,
                        Align::Center,
                    );
                }
                // One group of three panels per phase end, labelled across the group.
                let label_h = 14.0;
                let cell = (w / 9.0).min(h - label_h);
                for (i, snap) in view.snapshots.iter().rev().take(3).rev().enumerate() {
                    let label = format!("{} (step {})", snap.phase, snap.step);
                    let center = (i as f32 * 3.0 + 1.5) * cell;
                    surface.text(
                        center,
                        label_h / 2.0,
                        &label,
                        11.0,
                        plot::TEXT,
                        Align::Center,
                    );
                    for (j, pair) in plot::DIM_PAIRS.iter().enumerate() {
                        let area = Rect::new((i * 3 + j) as f32 * cell, label_h, cell, cell)
                            .inset(2.0, 2.0, 2.0, 2.0);
                        let cloud = PointCloud {
                            latents: &snap.latents,
                            dims: snap.dims,
                            colors: &s.colors,
                        };
                        plot::latent_panel(surface, area, cloud, *pair, 1.5, None);
                    }
                }
            });
        }
        if let Some(canvas) = schedule {
            let (pw, ph) = canvas_size(&canvas);
            let key = (s.view.generation, pw, ph);
            if s.view.schedule_key.replace(key) != Some(key) {
                let mut axis = None;
                with_canvas(&canvas, |surface, w, h| {
                    let area = Rect::new(0.0, 0.0, w, h);
                    axis = Some(plot::timeline_chart(surface, area, s.trainer.timeline()));
                });
                s.view.timeline_axis = axis;
            }
        }
        if let Some(canvas) = losses {
            let view = &s.view;
            let mut series: Vec<(String, Vec<(u64, f32)>)> = vec![("total".into(), Vec::new())];
            series.extend(TERMS.iter().map(|t| (t.to_string(), Vec::new())));
            for (step, l) in &view.loss_history {
                series[0].1.push((*step, l.total));
                for (i, v) in l.terms.iter().enumerate() {
                    if let Some(v) = v {
                        series[i + 1].1.push((*step, *v));
                    }
                }
            }
            let borrowed: Vec<(&str, &[(u64, f32)])> = series
                .iter()
                .map(|(n, p)| (n.as_str(), p.as_slice()))
                .collect();
            let steps = s.trainer.timeline().len();
            with_canvas(&canvas, |surface, w, h| {
                plot::loss_chart(
                    surface,
                    Rect::new(0.0, 0.0, w, h),
                    &borrowed,
                    steps,
                    Some(view.scrub.unwrap_or(view.step)),
                );
            });
        }
    }
}

/// What one read-back carries, packed into a single tensor.
struct ReadRequest {
    tensor: Tensor<1>,
    layout: ReadLayout,
}

struct ReadLayout {
    step: u64,
    latents: usize,
    losses: Option<[bool; TERMS.len()]>,
    snapshots: Vec<(String, u64, usize)>,
    params: usize,
}

impl Session {
    fn read_request(&mut self) -> ReadRequest {
        let (_, latents) = self.trainer.infer_rgb_grid();
        let n_latents = latents.dims()[0] * latents.dims()[1];
        let mut parts: Vec<Tensor<1>> = vec![latents.reshape([n_latents])];
        let step = self.trainer.step_index().saturating_sub(1);
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

    fn accept(&mut self, layout: &ReadLayout, values: &[f32]) {
        let dims = self.config.latent_dims;
        let (latents, mut rest) = values.split_at(layout.latents);
        let mut losses = None;
        if let Some(computed) = layout.losses {
            let (l, r) = rest.split_at(TERMS.len() + 1);
            losses = Some(Losses::from_values(l, computed));
            rest = r;
        }
        for (phase, step, n) in &layout.snapshots {
            let (l, r) = rest.split_at(*n);
            self.view.snapshots.push(PhaseSnapshot {
                phase: phase.clone(),
                step: *step,
                latents: l.to_vec(),
                dims,
            });
            rest = r;
        }
        if let Some(l) = losses {
            if !l.total.is_finite() {
                // Only reachable without the per-step host check (the GPU path): go back to
                // the last good weights and stop, rather than draw NaNs.
                self.last_error = Some(format!(
                    "step {}: the total loss is {} — paused; weights restored from step {}",
                    layout.step,
                    l.total,
                    self.last_good.as_ref().map_or(0, |g| g.0)
                ));
                self.restore_last_good(self.device.clone());
                return;
            }
            self.view.losses = Some(l);
            push_bounded(&mut self.view.loss_history, (layout.step, l), LOSS_LIMIT);
        }
        if layout.params > 0 && latents.iter().all(|v| v.is_finite()) {
            self.last_good = Some((layout.step, rest[..layout.params].to_vec()));
        }
        self.view.step = layout.step;
        self.view.dims = dims;
        self.view.latents = latents.to_vec();
        if self
            .view
            .history
            .last()
            .is_none_or(|(s, _)| *s < layout.step)
        {
            push_bounded(
                &mut self.view.history,
                (layout.step, latents.to_vec()),
                HISTORY_LIMIT,
            );
        }
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
        let Ok(timeline) = Dopesheet::parse(&self.sheet).map(|d| Timeline::new(&d)) else {
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
        self.view = View::default();
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

/// Appends, halving the resolution (every other entry) when the buffer is full.
fn push_bounded<T>(buffer: &mut Vec<T>, item: T, limit: usize) {
    if buffer.len() >= limit {
        let mut keep = false;
        buffer.retain(|_| {
            keep = !keep;
            keep
        });
    }
    buffer.push(item);
}

fn strip_changed(last: &mut Option<(usize, u32, u32)>, key: (usize, u32, u32)) -> bool {
    last.replace(key) != Some(key)
}

/// The backing-store size a canvas gets for its CSS box at this devicePixelRatio.
fn canvas_size(canvas: &HtmlCanvasElement) -> (u32, u32) {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (w, h) = (
        canvas.client_width().max(1) as f64,
        canvas.client_height().max(1) as f64,
    );
    ((w * dpr).round() as u32, (h * dpr).round() as u32)
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn console_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("color-bottleneck panicked: {info}").into());
    }));
}

/// Sizes the canvas to its CSS box × devicePixelRatio (crisp on high-DPI screens) and draws in
/// CSS pixels.
fn with_canvas(canvas: &HtmlCanvasElement, draw: impl FnOnce(&mut dyn Surface, f32, f32)) {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (w, h) = (
        canvas.client_width().max(1) as f64,
        canvas.client_height().max(1) as f64,
    );
    let (pw, ph) = ((w * dpr).round() as u32, (h * dpr).round() as u32);
    if canvas.width() != pw || canvas.height() != ph {
        canvas.set_width(pw);
        canvas.set_height(ph);
    }
    let Ok(Some(ctx)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = ctx.dyn_into::<CanvasRenderingContext2d>() else {
        return;
    };
    let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
    let mut surface = Canvas2d { ctx };
    draw(&mut surface, w as f32, h as f32);
}

struct Canvas2d {
    ctx: CanvasRenderingContext2d,
}

thread_local! {
    /// CSS colour strings by RGBA: a frame paints thousands of dots in the same few
    /// thousand colours, so format each once.
    static CSS: RefCell<std::collections::HashMap<Rgba, String>> = RefCell::default();
}

fn with_css(c: Rgba, f: impl FnOnce(&str)) {
    CSS.with_borrow_mut(|cache| {
        if cache.len() > 8192 {
            cache.clear();
        }
        let css = cache.entry(c).or_insert_with(|| {
            format!(
                "rgba({},{},{},{:.3})",
                c[0],
                c[1],
                c[2],
                c[3] as f32 / 255.0
            )
        });
        f(css)
    })
}

impl Canvas2d {
    fn arc(&self, center: (f32, f32), radius: f32) {
        let (x, y, r) = (center.0 as f64, center.1 as f64, radius as f64);
        let _ = self.ctx.arc(x, y, r, 0.0, std::f64::consts::TAU);
    }

    fn dash(&self, dashed: bool) {
        let pattern = js_sys::Array::new();
        if dashed {
            pattern.push(&4.0.into());
            pattern.push(&4.0.into());
        }
        let _ = self.ctx.set_line_dash(&pattern);
    }
}

impl Surface for Canvas2d {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx.fill_rect(x as f64, y as f64, w as f64, h as f64);
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool) {
        self.dash(dashed);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.ctx.move_to(from.0 as f64, from.1 as f64);
        self.ctx.line_to(to.0 as f64, to.1 as f64);
        self.ctx.stroke();
    }

    fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgba) {
        let Some(first) = points.first() else { return };
        self.dash(false);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.ctx.move_to(first.0 as f64, first.1 as f64);
        for p in &points[1..] {
            self.ctx.line_to(p.0 as f64, p.1 as f64);
        }
        self.ctx.stroke();
    }

    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool) {
        self.dash(dashed);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.arc(center, radius);
        self.ctx.stroke();
    }

    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx.begin_path();
        self.arc(center, radius);
        self.ctx.fill();
    }

    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx
            .set_font(&format!("{}px system-ui, sans-serif", size.round()));
        self.ctx.set_text_align(match align {
            Align::Left => "left",
            Align::Center => "center",
            Align::Right => "right",
        });
        self.ctx.set_text_baseline("middle");
        let _ = self.ctx.fill_text(text, x as f64, y as f64);
    }
}
