//! The element on the page: the run it shows, its board and editor, whether it trains, and what
//! each frame, start and failure does to them. The element's script (`www/color-bottleneck.js`)
//! hands it the DOM's events, its workers and the platform's APIs; the decisions are in
//! [`crate::element`], where the native tests see them.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlOptionElement, HtmlSelectElement, ShadowRoot};

use super::editor::EditHistory;
use super::element::{error_text, read_asked, rejection_of, JsHost, PageHost, PageRun, PageRuns};
use super::{
    find_part, get, now, set_text, to_js, Board, Frame, PhaseDiagram, SheetEditor, ShownOnset,
};
mod controls;
mod exports;
mod flows;
mod grid;
mod opening;
mod video;

use crate::backend_choice::time_gpu_now;
use crate::element::engines::{Choice, Engines, Failure};
use crate::element::playback::{Order, Playback};
use crate::settings::Backend;

/// The GPU timing a start asked for, due once the run has been measured long enough.
struct Timing {
    run: u64,
    stored: Option<Choice>,
}

/// Where the run shown stands, as its last frame said.
struct LastFrame {
    step: u64,
    total_steps: u64,
    phase: String,
    backend: String,
    dims: usize,
    onset: Option<ShownOnset>,
}

/// What the page shows and how it trains: shared by the element's core and its engines' host.
pub(super) struct Shown {
    node: HtmlElement,
    root: ShadowRoot,
    notice: Element,
    toggle: Element,
    board: Option<Board>,
    pub(super) editor: SheetEditor,
    last_frame: Option<LastFrame>,
    pub(super) playback: Playback,
    dirty: bool,
    /// When the `from`/`to` range's loop began playing.
    loop_start: Option<f64>,
    timing: Option<Timing>,
    step_event_at: f64,
    /// The phase diagram on screen, and the number of the grid that fills it in.
    diagram: Option<(PhaseDiagram, u64)>,
    /// Bumped at each key typed in A's editor and each edit recorded: the pause that ends an
    /// edit records it only if nothing came after.
    typing: u64,
}

impl Shown {
    /// Adds a line to the notice (several things may go wrong at once: an attribute and a URL).
    pub(super) fn notify(&self, text: &str) {
        let before = self.notice.text_content().unwrap_or_default();
        if before.contains(text) {
            return;
        }
        let after = match before.is_empty() {
            true => text.to_string(),
            false => format!("{before} · {text}"),
        };
        set_text(&self.notice, &after);
    }

    pub(super) fn finished(&self) -> bool {
        self.board.as_ref().is_some_and(Board::finished)
    }

    pub(super) fn show_backend(&mut self, engine: Backend, how: &str) {
        if let Some(board) = &mut self.board {
            board.show_backend(engine.name(), how);
        }
    }

    /// Carries out `order`, where there is one, and says on the button what it now does.
    pub(super) fn obey(&self, host: &JsHost, order: Option<Order>) {
        if let Some(order) = order {
            host.post(order.name(), None);
        }
        set_text(&self.toggle, self.playback.toggle_label());
    }

    fn step(&self) -> u64 {
        self.last_frame.as_ref().map_or(0, |f| f.step)
    }
}

/// What the element keeps while it is out of the page: its parts are let go of (the module's
/// memory would keep them, and the element, alive), its undo history and wish to play are not.
#[wasm_bindgen]
pub struct Kept {
    history: EditHistory,
    playback: Playback,
    /// The phase diagram on screen: its canvas stays, and its cells open when put back.
    diagram: Option<(PhaseDiagram, u64)>,
}

/// The element's core: its engines and what it shows.
#[wasm_bindgen]
pub struct ElementCore(Rc<Engines<PageHost, JsValue>>);

impl ElementCore {
    fn shown(&self) -> std::cell::RefMut<'_, Shown> {
        self.0.host.shown.borrow_mut()
    }

    fn js(&self) -> &JsHost {
        &self.0.host.js
    }

    /// Shows a failure: the run pauses itself, the notice says it, and an `error` event tells
    /// the page.
    fn fail_with(&self, message: &str) {
        let mut shown = self.shown();
        let order = shown.playback.fail(message);
        shown.obey(self.js(), order);
        set_text(&shown.notice, &format!("error: {message}"));
        drop(shown);
        self.js().emit("error", &message_detail(message));
    }

    /// Runs `flow` in the background; a failure is shown, newer work taking over is not one.
    fn background(&self, flow: impl AsyncFnOnce(&ElementCore) -> Result<(), Failure> + 'static) {
        let core = self.twin();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(Failure::Problem(p)) = flow(&core).await {
                core.fail_with(&p);
            }
        });
    }

    /// Takes in the frames of the run shown that arrived; returns whether any did.
    fn drain(&self) -> Result<bool, JsValue> {
        if self.shown().board.is_none() {
            return Ok(false);
        }
        let frames = self.0.runs.borrow_mut().take_shown();
        let mut fresh = false;
        for frame in frames {
            fresh = true;
            let frame: Frame = serde_wasm_bindgen::from_value(frame)?;
            if let Some(error) = &frame.error {
                let news = self.shown().playback.bad_step(error);
                if news {
                    self.fail_with(error);
                }
            }
            let mut shown = self.shown();
            let Some(board) = &mut shown.board else {
                break;
            };
            // Another worker's part of a sweep brings only its runs' thumbnails and verdicts.
            if !board.accept(&frame) {
                continue;
            }
            shown.last_frame = Some(LastFrame {
                step: frame.step,
                total_steps: frame.total_steps,
                phase: frame.phase.clone(),
                backend: frame.backend.clone(),
                dims: frame.dims,
                onset: frame.onset.clone(),
            });
            if let Some(notice) = &frame.notice {
                shown.notify(notice);
            }
            drop(shown);
            if let Some(reason) = frame.gpu_lost {
                self.background(async move |core| core.0.leave_lost_gpu(&reason).await);
            }
            for snapshot in &frame.snapshots {
                let detail = js_sys::Object::new();
                super::set(&detail, "phase", snapshot.phase.as_str());
                super::set(&detail, "step", snapshot.step as f64);
                self.js().emit("phaseend", &detail);
            }
        }
        let mut shown = self.shown();
        if fresh && shown.finished() {
            let order = shown.playback.ended();
            shown.obey(self.js(), order);
        }
        Ok(fresh)
    }

    /// With `from`/`to`: once the run has trained its range, its recorded steps play in a
    /// loop (not under reduced motion, `calm`, nor while the schedule is scrubbed or focused).
    fn play_range(&self, t: f64, calm: bool) {
        let mut shown = self.shown();
        let (Some(last), Some(board)) = (&shown.last_frame, &shown.board) else {
            return;
        };
        if calm || !board.finished() || board.scrubbing() {
            return;
        }
        let focused = shown.root.active_element();
        if focused.is_some_and(|f| f.get_attribute("data-canvas").as_deref() == Some("schedule")) {
            return;
        }
        let end = last.step;
        let Some(range) = self.0.trained.borrow().range() else {
            return;
        };
        let step = range.loop_step(end, t - shown.loop_start.unwrap_or(t));
        shown.loop_start.get_or_insert(t);
        if let Some(board) = &mut shown.board {
            board.scrub(step);
        }
        let _ = shown
            .node
            .set_attribute("data-loop-step", &step.to_string());
        shown.dirty = true;
    }

    /// Measures the rates, times the GPU when its time has come, and sends the throttled
    /// `step` event.
    fn tick(&self, t: f64) {
        let mut shown = self.shown();
        let Some(board) = &mut shown.board else {
            return;
        };
        let (sps, span) = board.tick(t);
        let Some((step, total_steps)) =
            (shown.last_frame.as_ref()).map(|f| (f.step, f.total_steps))
        else {
            return;
        };
        let remaining = total_steps.saturating_sub(step) as f64;
        let (latest, shown_run) = {
            let runs = self.0.runs.borrow();
            (runs.latest(), runs.shown())
        };
        let due = shown.timing.as_ref().is_some_and(|timing| {
            timing.run == latest && timing.run == shown_run && {
                let idle = !shown.playback.wants() || shown.finished();
                time_gpu_now(remaining, sps, span, idle)
            }
        });
        let step_event = t - shown.step_event_at > 250.0;
        if step_event {
            shown.step_event_at = t;
        }
        let detail = step_event.then(|| {
            let detail = js_sys::Object::new();
            super::set(&detail, "step", step as f64);
            let phase = shown.last_frame.as_ref().map(|f| f.phase.as_str());
            super::set(&detail, "phase", phase.unwrap_or_default());
            let losses = shown.board.as_ref().map_or(JsValue::NULL, Board::losses);
            super::set(&detail, "losses", losses);
            detail
        });
        let timing = if due { shown.timing.take() } else { None };
        drop(shown);
        if let Some(Timing { run, stored }) = timing {
            self.background(async move |core| core.0.time_gpu(run, stored).await);
        }
        if let Some(detail) = detail {
            self.js().emit("step", &detail);
        }
    }
}

/// `{message}`, an `error` event's detail.
fn message_detail(message: &str) -> JsValue {
    let detail = js_sys::Object::new();
    super::set(&detail, "message", message);
    detail.into()
}

#[wasm_bindgen]
impl ElementCore {
    /// The core of the element `node` (its shadow root `root`), over the element's side of the
    /// engines (`host`), the run it trains and the runs' frames, with what it `kept` while it
    /// was out of the page.
    #[wasm_bindgen(constructor)]
    pub fn new(
        host: JsHost,
        node: HtmlElement,
        root: ShadowRoot,
        trained: &PageRun,
        runs: &PageRuns,
        kept: Option<Kept>,
    ) -> Result<ElementCore, JsValue> {
        let (history, playback, diagram) = match kept {
            Some(Kept {
                history,
                playback,
                diagram,
            }) => (Some(history), playback, diagram),
            None => (None, Playback::default(), None),
        };
        let shown = Shown {
            notice: find_part(&root, "[data-field=notice]")?,
            toggle: find_part(&root, "[data-action=toggle]")?,
            editor: SheetEditor::new(&root, history)?,
            node,
            root,
            board: None,
            last_frame: None,
            playback,
            dirty: true,
            loop_start: None,
            timing: None,
            step_event_at: 0.0,
            diagram,
            typing: 0,
        };
        let host = PageHost {
            js: host,
            shown: Rc::new(RefCell::new(shown)),
            calls: runs.calls.clone(),
        };
        Ok(ElementCore(Rc::new(Engines::new(
            host,
            trained.0.clone(),
            runs.runs.clone(),
        ))))
    }

    /// Lets go of the element's parts (it left the page), keeping what a core made when it is
    /// put back needs. Typing not yet recorded goes into the history kept.
    pub fn release(self) -> Kept {
        self.record_edit();
        self.0.trained.borrow_mut().end_grid();
        let mut shown = self.shown();
        shown.board = None;
        let mut playback = shown.playback.clone();
        playback.released();
        Kept {
            history: shown.editor.take_history(),
            playback,
            diagram: shown.diagram.take(),
        }
    }

    /// One animation frame at `t` (`performance.now()`): takes in the workers' frames, plays
    /// a range's loop (unless `calm`: reduced motion), draws what changed, and ticks.
    pub fn frame(&self, t: f64, calm: bool) {
        let fresh = match self.drain() {
            Ok(fresh) => fresh,
            Err(e) => {
                self.fail_with(&error_text(&e));
                return;
            }
        };
        self.play_range(t, calm);
        let mut shown = self.shown();
        if fresh || shown.dirty {
            let t0 = now();
            if let Some(board) = &mut shown.board {
                shown.dirty = board.render();
                let ms = format!("draw {:.1}", now() - t0);
                let _ = shown.node.set_attribute("data-frame-ms", &ms);
            }
        }
        drop(shown);
        self.tick(t);
    }

    /// Something drawn changed size or was opened: draw again.
    pub fn redraw(&self) {
        self.shown().dirty = true;
    }

    pub fn play(&self) {
        let workers = self.js().workers().length() > 0;
        let mut shown = self.shown();
        let finished = shown.finished();
        let order = shown.playback.play(workers, finished);
        shown.obey(self.js(), order);
    }

    pub fn pause(&self) {
        let mut shown = self.shown();
        let order = shown.playback.pause();
        shown.obey(self.js(), order);
    }

    /// Play, asked for before anything trains (the `autoplay` attribute).
    pub fn autoplay(&self) {
        let mut shown = self.shown();
        let order = shown.playback.autoplay();
        shown.obey(self.js(), order);
    }

    /// Plays again a run that paused itself, once it has something new to train. The frames
    /// the workers sent with their reply come first: they say whether the run is still at its
    /// end (a sheet applied live may have more steps).
    pub fn play_if_paused_by_run(&self) {
        if self.drain().unwrap_or(false) {
            self.redraw();
        }
        let workers = self.js().workers().length() > 0;
        let mut shown = self.shown();
        let finished = shown.finished();
        let order = shown.playback.play_if_paused_by_run(workers, finished);
        shown.obey(self.js(), order);
    }

    /// Whether the element is in view (`undefined`: unchanged) and the tab `hidden`.
    pub fn seen(&self, in_view: Option<bool>, hidden: bool) {
        let mut shown = self.shown();
        let order = shown.playback.seen(in_view, hidden);
        shown.obey(self.js(), order);
    }

    pub fn fail(&self, message: &str) {
        self.fail_with(message);
    }

    pub fn notify(&self, text: &str) {
        self.shown().notify(text);
    }

    /// Starts a run of `sheet` (`parts`: the workers' kept states, for a branch) from what
    /// the start reads (`asked`) on the `plan`'s engine (`remembered`: the race that chose
    /// it), and shows it; `time`: the GPU is timed once the run has been measured, against
    /// `stored` (the choice remembered on an earlier visit, or null). Resolves with the run's
    /// number.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        sheet: String,
        parts: Option<Vec<JsValue>>,
        asked: JsValue,
        plan: String,
        remembered: Option<String>,
        time: bool,
        stored: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        let asked = read_asked(asked)?;
        let plan = Backend::read(&plan).unwrap_or(Backend::Cpu);
        let stored = choice_of(&stored);
        let engines = self.0.clone();
        Ok(super::element::promise(Box::pin(async move {
            let started = engines
                .start(&sheet, parts, &asked, plan, remembered.as_deref())
                .await;
            let started = started.map_err(|f| rejection_of(f, engines.host.js.stopped()))?;
            let core = ElementCore(engines);
            core.restarted(started.run);
            let (spec, versus) = {
                let trained = core.0.trained.borrow();
                (trained.spec(), trained.versus().map(str::to_string))
            };
            let mut shown = core.shown();
            let mut board = Board::new(&sheet, spec.latent_dims as u32, &shown.root)?;
            board.set_versus(versus.clone())?;
            // A comparison (from a link, or the API) shows its second sheet in B's editor.
            if let Some(versus) = &versus {
                shown.editor.compare_with(versus);
            }
            shown.editor.show_compare(versus.is_some());
            let map = find_part(&shown.root, "[data-field=decoder-map]")?;
            board.set_decoder_map(get(&map, "checked").as_bool() == Some(true));
            board.show_backend(started.engine.name(), &started.how);
            shown.board = Some(board);
            // Timed when the run pauses or ends, or at once if enough of it is left for a move
            // to pay (`time_gpu_now`, asked every frame).
            shown.timing = time.then_some(Timing {
                run: started.run,
                stored,
            });
            // The runs menu says how many seeds train, a count it may not offer yet.
            let menu: HtmlSelectElement =
                find_part(&shown.root, "[data-field=runs]")?.dyn_into()?;
            let runs = spec.runs.to_string();
            menu.set_value(&runs);
            if menu.value() != runs {
                let label = format!("{runs} seeds");
                menu.add_with_html_option_element(&HtmlOptionElement::new_with_text_and_value(
                    &label, &runs,
                )?)?;
                menu.set_value(&runs);
            }
            drop(shown);
            core.keep_address();
            Ok(JsValue::from(started.run as f64))
        })))
    }

    /// The `backend` attribute became `asked` while workers train
    /// ([`Engines::backend_changed`]).
    pub fn backend_changed(&self, asked: Option<String>, gpu_offered: bool) {
        let comparing = self.comparing();
        self.background(async move |core| {
            (core.0)
                .backend_changed(asked.as_deref(), comparing, gpu_offered)
                .await
        });
    }

    /// The shown run's step, and what its last frame said: its phase, engine and verdict.
    pub fn step(&self) -> f64 {
        self.shown().step() as f64
    }

    pub fn phase(&self) -> Option<String> {
        Some(self.shown().last_frame.as_ref()?.phase.clone())
    }

    pub fn backend(&self) -> Option<String> {
        Some(self.shown().last_frame.as_ref()?.backend.clone())
    }

    /// `{shape, step}`, or null.
    pub fn onset(&self) -> JsValue {
        let shown = self.shown();
        let onset = shown.last_frame.as_ref().and_then(|f| f.onset.as_ref());
        onset.map_or(JsValue::NULL, to_js)
    }

    /// Whether a frame of the run has been drawn.
    pub fn ready(&self) -> bool {
        let shown = self.shown();
        shown.board.is_some() && shown.last_frame.is_some()
    }

    pub fn error(&self) -> Option<String> {
        self.shown().playback.error().map(str::to_string)
    }

    pub fn running(&self) -> bool {
        self.shown().playback.running()
    }

    pub fn playing(&self) -> bool {
        self.shown().playback.wants()
    }

    /// `{step, total, terms: {name: value}}` of the latest losses, or null.
    pub fn losses(&self) -> JsValue {
        self.shown()
            .board
            .as_ref()
            .map_or(JsValue::NULL, Board::losses)
    }

    pub fn latents(&self) -> js_sys::Float32Array {
        let shown = self.shown();
        shown
            .board
            .as_ref()
            .map_or_else(js_sys::Float32Array::default, Board::latents)
    }

    /// The decoder's output `[r, g, b]` at a point of the latent panels, `[]` outside them.
    pub fn decoded(&self, x: f64, y: f64) -> Vec<f32> {
        let shown = self.shown();
        shown
            .board
            .as_ref()
            .map_or_else(Vec::new, |b| b.decoded_at(x, y))
    }

    /// Opens the editor on `text`, with the located `problem` it has, if any.
    pub fn open_editor(&self, text: &str, problem: JsValue) {
        let mut shown = self.shown();
        shown.editor.open(text);
        if !problem.is_undefined() && !problem.is_null() {
            shown.editor.show_problem(&problem);
        }
    }
}

/// A remembered choice (`{backend, race, adapter, at}`), or `None` where `stored` is not one.
fn choice_of(stored: &JsValue) -> Option<Choice> {
    let text = |field: &str| get(stored, field).as_string();
    Some(Choice {
        backend: text("backend")?,
        race: text("race")?,
        adapter: text("adapter")?,
        at: get(stored, "at").as_f64()?,
    })
}

/// What the core's own flows and controls ask of it.
impl ElementCore {
    /// Records the editor's text as an edit (for Undo), if it is a new one.
    pub(super) fn record_edit(&self) {
        let (sheet, until) = {
            let trained = self.0.trained.borrow();
            let until = trained.range().and_then(|r| r.to);
            (trained.sheet().to_string(), until)
        };
        let mut shown = self.shown();
        shown.typing += 1;
        let step = shown.step();
        shown.editor.record(&sheet, step, until);
    }

    /// The reader asked for another run in the view: a phase diagram filling in stops, and the
    /// notice, which spoke of the run before, makes room for what the new one has to say.
    pub(super) fn replace_view(&self) {
        self.0.trained.borrow_mut().end_grid();
        set_text(&self.shown().notice, "");
    }

    /// Shows `text` in A's editor, as an edit.
    pub(super) fn show_sheet(&self, text: &str) {
        self.shown().editor.show(text);
        self.record_edit();
    }

    pub(super) fn validate(&self) {
        self.shown().editor.validate();
    }

    /// The sheet was applied or branched from: the editor says nothing more of it.
    pub(super) fn applied(&self) {
        self.shown().editor.applied();
    }

    pub(super) fn branch_point(&self) -> Option<u64> {
        self.shown().editor.branch_point()
    }

    /// *Compare with B* was ticked or unticked.
    pub(super) fn compare_toggled(&self) {
        let comparing = self.comparing();
        let shown = self.shown();
        shown.editor.show_compare(comparing);
        shown.editor.validate();
    }

    /// Whether the run shown is a comparison (A against B).
    pub(super) fn comparing(&self) -> bool {
        self.0.trained.borrow().versus().is_some()
    }

    pub(super) fn dims(&self) -> Option<usize> {
        Some(self.shown().last_frame.as_ref()?.dims)
    }

    pub(super) fn finished(&self) -> bool {
        self.shown().finished()
    }

    /// Run `run` began in the workers: frames of older runs are stale.
    pub(super) fn restarted(&self, run: u64) {
        self.0.runs.borrow_mut().show(run);
        let mut shown = self.shown();
        // A GPU timing still due goes with the run that replaces this one.
        if let Some(timing) = &mut shown.timing {
            timing.run = run;
        }
        shown.loop_start = None;
        shown.editor.set_branch_point(None);
        if let Some(board) = &mut shown.board {
            board.clear();
        }
        shown.playback.restarted();
        shown.dirty = true;
    }

    pub(super) fn set_branch_point(&self, step: Option<u64>) {
        self.shown().editor.set_branch_point(step);
    }

    pub(super) fn set_decoder_map(&self, on: bool) {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_decoder_map(on);
        }
        shown.dirty = true;
    }

    pub(super) fn set_dome_axes(&self, key: &str) {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_dome_axes(key);
        }
        shown.dirty = true;
    }

    pub(super) fn show_problem(&self, problem: JsValue) {
        self.shown().editor.show_problem(&problem);
    }

    pub(super) fn sweep_counts(&self) -> (u32, u32) {
        self.shown()
            .board
            .as_ref()
            .map_or((0, 0), Board::sweep_counts)
    }

    pub(super) fn sweep_seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u32> {
        self.shown().board.as_ref()?.sweep_seed_at(x, y, w, h)
    }

    /// The run took an edited sheet: a run halted at a bad step goes on under it (the workers
    /// kept their last good weights).
    pub(super) fn took_sheet(&self, sheet: &str) -> Result<(), JsValue> {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_sheet(sheet)?;
        }
        shown.playback.restarted();
        shown.dirty = true;
        Ok(())
    }

    /// Typing in either editor: returns whether the sheets are too long to check on every key
    /// (the page checks them at a pause).
    pub(super) fn typed(&self) -> bool {
        self.shown().editor.typed()
    }

    /// Undo (`back`) or Redo, after recording the typing so far.
    pub(super) fn undo(&self, back: bool) {
        self.record_edit();
        self.shown().editor.undo(back);
    }
}
