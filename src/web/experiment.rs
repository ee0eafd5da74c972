//! The training half: runs in a Web Worker, owns the engine and its device.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use burn::prelude::*;
use wasm_bindgen::prelude::*;

use super::{
    js_error, now, parse, to_bytes, Frame, LossSample, RunVerdict, ShownOnset, Snapshot,
    SweepFrame, VersusFrame, THUMBNAIL_POINTS,
};
use crate::data::ColorCube;
use crate::evolution::{self, Recorder};
#[cfg(feature = "webgpu")]
use crate::gpu_step::GpuSweep;
use crate::run::RunSpec;
use crate::share::Parent;
use crate::sweep::{KeptStates, Sweep, SweepCheckpoint};
use crate::timeline::Timeline;
use crate::verdict::{probe_colors, Verdict};

mod engine;
mod frames;
mod handover;
mod replay;
mod versus;

use engine::*;
use frames::*;
use handover::*;
use versus::*;

/// How often a sweep's runs are judged: a verdict runs the RGB grid through every model.
/// A big sweep judges less often, so that judging takes at most a fifth of the worker's
/// time (1,024 runs take a few hundred ms).
const VERDICT_INTERVAL_MS: f64 = 250.0;
const VERDICT_SHARE: f64 = 0.2;

/// What the page asks [`Experiment::create`] for.
#[derive(Debug, serde::Deserialize)]
pub struct Options {
    /// The whole run the page asked for: a sweep it shares among workers is one spec.
    spec: RunSpec,
    /// `auto`, `webgpu` or `cpu`.
    backend: String,
    /// This worker's part of the spec's runs: `first..first + count` (a resumed run takes
    /// its runs from its checkpoint; `count` 0 there: all it holds).
    #[serde(default)]
    first: usize,
    count: usize,
    /// Train only to this step (the element's `to`): the sheet is cut there.
    #[serde(default)]
    until: Option<u64>,
    /// Where the run branched ([`SharedRun::parents`](crate::share::SharedRun)): each
    /// parent's sheet is trained to its step, then the run's own sheet from there on.
    #[serde(default)]
    parents: Vec<Parent>,
    /// A comparison's second sheet (B): the same seeds train on it too, step for step.
    #[serde(default)]
    versus: Option<String>,
    /// The runs handed to [`Experiment::resume`] are a kept state a branch starts from
    /// ([`Experiment::state_at`]), not a run moved between workers.
    #[serde(default)]
    branch: bool,
}

/// The run a branch is to be.
#[derive(Debug, serde::Deserialize)]
pub struct BranchShape {
    spec: RunSpec,
}

/// One worker's experiment: its run (or its part of a sweep) and the device it trains on;
/// [`super::Worker`] drives it. Shared behind `Rc<RefCell<…>>` because `sync` is async: its
/// future must own what it touches, and no borrow is held across the wait.
pub struct Experiment {
    run: Rc<RefCell<WorkerRun>>,
}

/// What a fused CPU step left for the next frame: all of it already on the host.
#[derive(Default)]
struct HostPending {
    losses: Option<LossSample>,
    snapshots: Vec<Snapshot>,
}

/// What a worker trains: its runs (a single run, or its part of a sweep) on their engine, and
/// all that goes with them between frames.
struct WorkerRun {
    sheet: String,
    /// The sheets the run trained before it branched, and where it branched from each.
    parents: Vec<Parent>,
    /// Where the page cut the sheet (its `to`).
    until: Option<u64>,
    /// This worker's part of the run, not the whole sweep the page shares among workers:
    /// `config.seed` is the seed of `first_run`, and `config.runs` its count.
    config: RunSpec,
    /// Where the part sits in the sweep: runs `first_run..first_run + config.runs` of
    /// `total_runs`.
    first_run: usize,
    total_runs: usize,
    /// When the sweep's runs were last judged.
    judged_at: f64,
    /// How long the last judging took.
    judge_ms: f64,
    backend: Backend,
    /// The GPU device, when the run is on one.
    device: Option<Device>,
    engine: Engine,
    host_pending: HostPending,
    /// Phase-end latents still on the device, read at the next sync.
    pending_snapshots: Vec<(String, u64, Vec<f32>, DeviceValues)>,
    /// On a GPU, the step the host's runs stand at as of the last read-back (the host plans
    /// steps ahead of it), and the step the read under way will bring them to.
    read_step: u64,
    #[cfg_attr(not(feature = "webgpu"), allow(dead_code))]
    reading_step: u64,
    /// Why the GPU stopped working, once it has: the run waits, as of the last read-back, for
    /// the page to move it to the CPU engine.
    gpu_lost: Option<String>,
    /// The latent-evolution video's recordings (a single run only).
    recorder: Recorder,
    /// Recordings still on the device, read at the next sync: `(step, is the end, latents)`.
    pending_recordings: Vec<(u64, bool, DeviceValues)>,
    /// The RGB grid, as the engines take colours.
    grid: Vec<f32>,
    /// Steps queued per call on WebGPU, adapted to how long read-backs wait.
    gpu_steps: f64,
    last_error: Option<String>,
    notice: Option<String>,
    /// States passed through, for a branch to start near its step (CPU engine only: a GPU's
    /// host copy lags its device).
    kept: KeptStates,
    /// The last phase-end snapshots sent (at most
    /// [`PHASE_ENDS_KEPT`](crate::web::PHASE_ENDS_KEPT)), for a branch's new board.
    phase_ends: Vec<Snapshot>,
    /// A branch's replay still to come: at each step, the sheet that takes over there.
    switches: VecDeque<(u64, Timeline)>,
    /// A comparison's second sheet and its runs.
    versus: Option<Versus>,
}

/// The runs `options` ask a worker for: its part of the sweep.
fn run_config(options: &Options) -> RunSpec {
    RunSpec {
        seed: options.spec.seed_of(options.first),
        runs: options.count.max(1),
        ..options.spec
    }
}

impl Experiment {
    /// Starts an experiment of `sheet` as `options` ([`Options`]) ask: the worker passes
    /// the page's message through.
    pub async fn create(sheet: String, options: JsValue) -> Result<Experiment, JsValue> {
        Self::start(sheet, options, None).await
    }

    /// Goes on with the run other workers handed over ([`Experiment::checkpoint`]: a whole
    /// sweep, or its parts in order), from the step it stood at, on the backend `options` ask
    /// for. Of a sweep it takes runs `first..first + count` (all of them with `count` 0).
    pub async fn resume(
        sheet: String,
        options: JsValue,
        parts: js_sys::Array,
    ) -> Result<Experiment, JsValue> {
        let unreadable =
            |e: String| js_error(format!("the run handed over could not be read: {e}"));
        let mut handovers = Vec::new();
        for part in parts.iter() {
            let bytes = js_sys::Uint8Array::new(&part).to_vec();
            let handover: Handover =
                postcard::from_bytes(&bytes).map_err(|e| unreadable(e.to_string()))?;
            handovers.push(handover);
        }
        // Kept states come only with a whole sweep, one part (`kept_to_hand_over`).
        let kept = match &mut handovers[..] {
            [whole] => std::mem::take(&mut whole.kept),
            _ => Vec::new(),
        };
        let mut recorder = None;
        // The page draws the phase ends of the sweep's first run: the first part's.
        let phase_ends = handovers
            .first_mut()
            .map(|h| std::mem::take(&mut h.phase_ends));
        let mut sweeps = Vec::new();
        let mut versus = Vec::new();
        for handover in handovers {
            recorder = recorder.or(handover.recorder);
            sweeps.push(handover.sweep);
            versus.extend(handover.versus);
        }
        let whole = SweepCheckpoint::join(sweeps).map_err(|e| unreadable(e.to_string()))?;
        let versus = match versus.is_empty() {
            true => None,
            false => Some(SweepCheckpoint::join(versus).map_err(|e| unreadable(e.to_string()))?),
        };
        let o: Options = serde_wasm_bindgen::from_value(options.clone())?;
        let len = whole.runs.len();
        let end = if o.count == 0 { len } else { o.first + o.count };
        if o.first >= end || end > len {
            return Err(unreadable(format!(
                "it holds {len} runs, not runs {} to {end}",
                o.first
            )));
        }
        let handover = Handover {
            sweep: whole.part(o.first..end),
            recorder,
            kept: kept.iter().map(|k| k.part(o.first..end)).collect(),
            phase_ends: phase_ends.unwrap_or_default(),
            versus: versus.map(|v| v.part(o.first..end)),
        };
        Self::start(sheet, options, Some(handover)).await
    }

    /// The run as it stands (on a GPU, as of the last read-back), for another worker to go on
    /// with ([`Experiment::resume`]).
    pub fn checkpoint(&self) -> Vec<u8> {
        let run = self.run.borrow();
        let mut sweep = run.engine.sweep().save();
        if run.backend == Backend::WebGpu {
            sweep.step = run.read_step;
        }
        let recorder = (run.total_runs == 1).then(|| run.recorder.clone());
        let kept = run.kept_to_hand_over(sweep.step);
        let phase_ends = run.phase_ends.clone();
        let versus = run.versus.as_ref().map(|v| v.sweep.save());
        let handover = Handover {
            sweep,
            recorder,
            kept,
            phase_ends,
            versus,
        };
        postcard::to_allocvec(&handover).expect("a handover serialises")
    }

    /// Where a branch starts: the latest state kept at or before `step` (a step
    /// [`kept_step_at`](Self::kept_step_at) gave, for the branch's shape), with what the run
    /// had by then, for [`Experiment::resume`] with the branch's parents; nothing when no
    /// state is kept there.
    pub fn state_at(&self, step: f64) -> Option<Vec<u8>> {
        let run = self.run.borrow();
        let sweep = run.kept.at_or_before(step as u64)?.clone();
        let step = sweep.step;
        let recorder = (run.total_runs == 1).then(|| run.recorder.before(step));
        let phase_ends = (run.phase_ends.iter())
            .filter(|p| p.step < step)
            .cloned()
            .collect();
        let handover = Handover {
            kept: run.kept_to_hand_over(step),
            sweep,
            recorder,
            phase_ends,
            versus: None,
        };
        Some(postcard::to_allocvec(&handover).expect("a handover serialises"))
    }

    /// The step of the latest state kept at or before `at` for a branch of `shape`
    /// ([`BranchShape`]), if there is one: a sweep's workers may keep different steps, and a
    /// branch starts from one they all kept.
    pub fn kept_step_at(&self, at: f64, shape: JsValue) -> Result<Option<f64>, JsValue> {
        let BranchShape { spec } = serde_wasm_bindgen::from_value(shape)?;
        let run = self.run.borrow();
        let same = run.config.seed == spec.seed_of(run.first_run)
            && run.config.latent_dims == spec.latent_dims
            && run.config.batch_size == spec.batch_size
            && run.total_runs == spec.runs.max(1)
            && run.versus.is_none();
        Ok((run.kept.at_or_before(at as u64))
            .filter(|_| same)
            .map(|s| s.step as f64))
    }

    /// Steps per second of a worker's runs on this module's CPU engine, at `options`' batch
    /// and `count` (its part of a sweep), on a sheet of full batches.
    pub fn cpu_rate(options: JsValue) -> Result<f64, JsValue> {
        let options: Options = serde_wasm_bindgen::from_value(options)?;
        cpu_steps_per_second(run_config(&options)).map_err(js_error)
    }

    /// Steps per second of `options`' runs at its batch on the GPU engine, on a sheet of full
    /// batches; an error where there is no GPU or it cannot take them.
    #[cfg(feature = "webgpu")]
    pub async fn gpu_rate(options: JsValue) -> Result<f64, JsValue> {
        let options: Options = serde_wasm_bindgen::from_value(options)?;
        let (_, device, _) = device_for("webgpu").await.map_err(js_error)?;
        let device = device.ok_or_else(|| js_error("no GPU"))?;
        gpu_steps_per_second(run_config(&options), &device)
            .await
            .map_err(js_error)
    }

    pub fn backend(&self) -> String {
        self.run.borrow().backend.name().into()
    }

    /// The step the next training call runs.
    pub fn step_index(&self) -> f64 {
        self.run.borrow().engine.step_index() as f64
    }

    pub fn finished(&self) -> bool {
        self.run.borrow().is_finished()
    }

    /// Whether the run is replaying a branch's parents: the worker trains it on whether or
    /// not the page plays.
    pub fn replaying(&self) -> bool {
        self.run.borrow().replaying()
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

    /// The frame to draw: the current latents, the last step's losses and any phase-end
    /// snapshots. On a GPU they come in one asynchronous read (a GPU is never stalled); on a
    /// failed read (a lost device) the run continues on the CPU from the last read.
    pub async fn sync(&self) -> Frame {
        #[cfg(feature = "webgpu")]
        {
            let read = {
                let mut run = self.run.borrow_mut();
                run.gpu_read()
            };
            if let Some((read, layout)) = read {
                let started = now();
                let result = read.await;
                let waited = now() - started;
                return self.run.borrow_mut().receive(layout, result, waited);
            }
        }
        self.run.borrow_mut().host_frame()
    }

    /// The RGB grid's latents and reconstructions under the current weights (run 0's in a
    /// sweep; on a GPU, as of the last frame), as the CLI's `latents.csv`.
    pub fn latents_csv(&self) -> String {
        let grid = ColorCube::rgb_grid();
        let run = self.run.borrow();
        let (outputs, latents) = run.engine.sweep().infer(0, &grid.rgb_f32());
        crate::data::latents_csv(&grid, &latents, &outputs, run.config.latent_dims)
    }

    /// Replaces the schedule. `live`: keep the model and step ("apply live"); otherwise a
    /// fresh run with the same seed. A broken sheet is refused (with its located problem)
    /// and the run goes on. Returns the step the new sheet takes over at (0 for a fresh run):
    /// the run now trained the old sheet up to there, which its link must replay.
    pub fn set_dopesheet(&self, sheet: String, live: bool, seed: u32) -> Result<f64, JsValue> {
        self.run.borrow_mut().set_dopesheet(sheet, live, seed)
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

    /// A fresh run of the current sheet: same seed ⇒ same start. `seed` is the whole sweep's
    /// first, as for [`create`](Self::create).
    pub fn reset(&self, seed: u32) -> Result<(), JsValue> {
        let mut run = self.run.borrow_mut();
        run.reseed(seed);
        let own = run.timeline_of(&run.sheet)?;
        let timeline = match run.parents.first() {
            Some(first) => parse(&first.sheet)?,
            None => own.clone(),
        };
        run.restart(timeline)?;
        run.replay(own)?;
        run.warn_about_sheet();
        Ok(())
    }
}

impl Experiment {
    async fn start(
        sheet: String,
        options: JsValue,
        mut handover: Option<Handover>,
    ) -> Result<Experiment, JsValue> {
        let options: Options = serde_wasm_bindgen::from_value(options)?;
        let own = cut(parse(&sheet)?, options.until);
        // A branch starts on its first parent's sheet; a hand-over's checkpoint has the steps
        // behind it already, on the run's own sheet (a Reset replays the branch).
        let parents = options.parents.clone();
        let resumed = handover.is_some();
        // Runs that stand before the last branch point (a kept state a branch starts from, or
        // a run handed over while it replayed) go on replaying their parents from there, on
        // the sheet that trains that step.
        let saved_step = handover.as_ref().map(|h| h.sweep.step);
        let during = |step: u64| parents.iter().find(|p| p.step > step);
        let timeline = match (parents.first(), saved_step.and_then(during)) {
            (Some(first), None) if saved_step.is_none() => parse(&first.sheet)?,
            (_, Some(parent)) => parse(&parent.sheet)?,
            _ => own.clone(),
        };
        let branching = options.branch && resumed;
        let (kept, phase_ends) = match &mut handover {
            Some(h) => (
                std::mem::take(&mut h.kept),
                std::mem::take(&mut h.phase_ends),
            ),
            None => Default::default(),
        };
        let versus_saved = handover.as_mut().and_then(|h| h.versus.take());
        let saved = handover.as_ref().map(|h| &h.sweep);
        let runs = saved.map_or(options.count.max(1), |s| s.runs.len());
        let (first_run, latent_dims) = (options.first, options.spec.latent_dims);
        let total_runs = options.spec.runs.max(first_run + runs);
        let (backend, device, notice) = device_for(&options.backend).await.map_err(js_error)?;
        let config = RunSpec {
            runs,
            ..run_config(&options)
        };
        let engine =
            Engine::new(timeline, config, device.as_ref(), saved).map_err(|e| match device {
                Some(_) => js_error(format!("the GPU cannot take this run ({e})")),
                None => js_error(e),
            })?;
        let mut run = WorkerRun {
            sheet,
            parents: Vec::new(),
            until: options.until,
            config,
            first_run,
            total_runs,
            judged_at: f64::NEG_INFINITY,
            judge_ms: 0.0,
            backend,
            device,
            host_pending: HostPending::default(),
            pending_snapshots: Vec::new(),
            read_step: engine.step_index(),
            reading_step: engine.step_index(),
            gpu_lost: None,
            engine,
            recorder: handover
                .and_then(|h| h.recorder)
                .unwrap_or_else(|| Recorder::for_rgb_grid(latent_dims)),
            pending_recordings: Vec::new(),
            grid: ColorCube::rgb_grid().rgb_f32(),
            gpu_steps: 1.0,
            last_error: None,
            notice,
            kept: KeptStates::inherit(crate::sweep::kept::BUDGET_BYTES, kept),
            phase_ends,
            switches: VecDeque::new(),
            versus: None,
        };
        if let Some(b) = &options.versus {
            let timeline = cut(parse(b)?, options.until);
            run.versus = Some(Versus::new(timeline, run.config, versus_saved.as_ref())?);
        }
        run.parents = parents;
        run.replay(own)?;
        let to = run
            .parents
            .last()
            .map(|p| p.step)
            .filter(|_| run.replaying());
        let replaying = to.map_or(String::new(), |to| format!(" to step {to}"));
        if branching {
            let from = run.engine.step_index();
            run.tell(format!(
                "branch: from the state kept at step {from}{replaying}"
            ));
            // The new board has nothing of the steps before the state: send their phase ends.
            run.host_pending.snapshots = run.phase_ends.clone();
        } else if !resumed && to.is_some() {
            run.tell(format!("branch: replaying from the seed{replaying}"));
        }
        run.warn_about_sheet();
        Ok(Experiment {
            run: Rc::new(RefCell::new(run)),
        })
    }
}

impl WorkerRun {
    fn is_finished(&self) -> bool {
        self.engine.is_finished() && !self.replaying() && self.versus_done()
    }

    /// Whether B's sheet has ended (or there is none).
    fn versus_done(&self) -> bool {
        self.versus.as_ref().is_none_or(|v| v.sweep.is_finished())
    }

    /// Swaps the schedule under the running model.
    fn set_timeline(&mut self, timeline: Timeline) {
        match &mut self.engine {
            Engine::Cpu(sweep) => sweep.set_timeline(timeline),
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => gpu.set_timeline(timeline),
        }
    }

    fn train(&mut self, budget_ms: f64, max_steps: u32) -> u32 {
        let start = now();
        let mut ran = 0;
        let limit = match self.backend {
            Backend::Cpu => max_steps,
            // A read-back lands on every multiple of Onset::EVERY, where the runs are judged
            // as the CPU judges them.
            Backend::WebGpu => {
                let every = crate::verdict::Onset::EVERY;
                let to_judging = every - self.engine.step_index() % every;
                let queued = (self.gpu_steps.round() as u32).clamp(1, max_steps.max(1));
                queued.min(to_judging as u32)
            }
        };
        let mut out_of_time = false;
        loop {
            // A replay that just ended stops here: the run goes on only if the page plays it.
            // (Switching first also carries a replay past a parent that ended non-finite.)
            if self.switch_sheets() {
                break;
            }
            let stopped = self.engine.is_finished() || self.last_error.is_some();
            let versus_done = self.versus_done();
            if out_of_time || ran >= limit || (stopped && versus_done) || self.gpu_lost.is_some() {
                break;
            }
            if let Some(versus) = &mut self.versus {
                versus.step();
            }
            if stopped {
                // B's sheet goes on past the end of A's (or a paused A).
                ran += 1;
                out_of_time = self.backend == Backend::Cpu && now() - start >= budget_ms;
                continue;
            }
            self.record(self.engine.step_index(), false);
            self.keep_state();
            match &mut self.engine {
                // A comparison's first sheet going non-finite is one verdict of the pair, as
                // in a sweep: B trains on.
                Engine::Cpu(sweep) => cpu_step(
                    sweep,
                    self.total_runs == 1 && self.versus.is_none(),
                    &mut self.host_pending,
                    &mut self.last_error,
                ),
                #[cfg(feature = "webgpu")]
                Engine::Gpu(gpu) => {
                    let step = gpu.step_index();
                    gpu.step();
                    if let Some((phase, colors)) = gpu.host().phase_end_set(step) {
                        let latents = gpu.queue_latents(0, &colors);
                        self.pending_snapshots.push((phase, step, colors, latents));
                    }
                }
            }
            ran += 1;
            if self.engine.is_finished() {
                self.record(self.engine.step_index(), true);
                self.keep_state();
            }
            out_of_time = self.backend == Backend::Cpu && now() - start >= budget_ms;
        }
        ran
    }

    /// Records the grid's latents before `step` for the video, if the stride asks for them
    /// (`end`: the run's last state, whatever the stride). A sweep records nothing.
    fn record(&mut self, step: u64, end: bool) {
        if self.total_runs > 1 || !(end || self.recorder.wants(step)) {
            return;
        }
        match &mut self.engine {
            Engine::Cpu(sweep) => {
                let latents = sweep.latents(0, &self.grid);
                keep_recording(&mut self.recorder, step, end, latents);
            }
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => {
                let latents = gpu.queue_latents(0, &self.grid);
                self.pending_recordings.push((step, end, latents));
            }
        }
    }

    /// From now on the runs start from `seed`, the whole sweep's first.
    fn reseed(&mut self, seed: u32) {
        self.config.seed = RunSpec {
            seed: seed.into(),
            ..self.config
        }
        .seed_of(self.first_run);
    }

    /// A new sheet: `live` swaps it in under the running model; otherwise the runs start
    /// again on it from `seed` (the whole sweep's first), as *Apply & restart* reads it.
    fn set_dopesheet(&mut self, sheet: String, live: bool, seed: u32) -> Result<f64, JsValue> {
        let timeline = self.timeline_of(&sheet)?;
        if live {
            self.finish_replay();
        }
        let before = std::mem::replace(&mut self.sheet, sheet);
        if live {
            // The old sheet becomes a parent (unless it trained no step since the last one),
            // so a Reset replays this run.
            let at = self.engine.step_index();
            if at > self.parents.last().map_or(0, |p| p.step) {
                self.parents.push(Parent {
                    sheet: before,
                    step: at,
                });
            }
            self.set_timeline(timeline);
            // A run paused by a non-finite loss goes on, from its last good weights, under
            // the edited sheet.
            self.last_error = None;
            self.warn_about_sheet();
            Ok(at as f64)
        } else {
            // A new sheet from the start: no longer a branch.
            self.parents.clear();
            self.reseed(seed);
            self.restart(timeline)?;
            Ok(0.0)
        }
    }
}

/// `timeline` up to `until`, where the page plays only a range of the sheet.
fn cut(timeline: Timeline, until: Option<u64>) -> Timeline {
    match until {
        Some(steps) => timeline.until(steps),
        None => timeline,
    }
}

impl WorkerRun {
    /// A sheet's timeline as this run trains it (cut at its `until`).
    fn timeline_of(&self, sheet: &str) -> Result<Timeline, JsValue> {
        Ok(cut(parse(sheet)?, self.until))
    }

    /// The run's state, for the page's readouts.
    fn describe(&mut self, frame: &mut Frame) {
        let t = self.engine.timeline();
        let state = t.state(self.engine.step_index().min(t.len().saturating_sub(1)));
        frame.step = self.engine.step_index();
        frame.total_steps = t.len();
        frame.finished = self.is_finished();
        frame.phase = state.phase.to_string();
        frame.lr = t.property_index("lr").map_or(0.0, |i| state.values[i]);
        frame.backend = self.backend.name().into();
        frame.error = self.last_error.clone();
        frame.notice = self.notice.take();
        frame.gpu_lost = self.gpu_lost.clone();
        if self.gpu_lost.is_some() {
            frame.step = self.read_step;
        }
        frame.dims = self.config.latent_dims;
    }

    fn restart(&mut self, timeline: Timeline) -> Result<(), JsValue> {
        self.engine =
            Engine::new(timeline, self.config, self.device.as_ref(), None).map_err(js_error)?;
        // A comparison's second sheet starts again beside it, from the same seeds.
        if let Some(v) = &self.versus {
            let timeline = v.sweep.timeline().clone();
            self.versus = Some(Versus::new(timeline, self.config, None)?);
        }
        self.judged_at = f64::NEG_INFINITY;
        self.host_pending = HostPending::default();
        self.pending_snapshots.clear();
        self.pending_recordings.clear();
        self.recorder = Recorder::for_rgb_grid(self.config.latent_dims);
        self.kept.clear();
        self.phase_ends.clear();
        self.switches.clear();
        self.last_error = None;
        self.read_step = self.engine.step_index();
        self.warn_about_sheet();
        Ok(())
    }

    /// Warns about the run's sheet (the one a replay ends on).
    fn warn_about_sheet(&mut self) {
        let timeline = self
            .switches
            .back()
            .map_or(self.engine.timeline(), |(_, t)| t);
        let warnings: Vec<String> = (crate::run::warnings_of(timeline).iter())
            .map(|w| w.to_string())
            .collect();
        if !warnings.is_empty() {
            self.tell(warnings.join("; "));
        }
    }

    /// Adds `text` to the notice the next frame carries.
    fn tell(&mut self, text: String) {
        self.notice = Some(match self.notice.take() {
            Some(before) if before.contains(&text) => before,
            Some(before) => format!("{before} · {text}"),
            None => text,
        });
    }
}
