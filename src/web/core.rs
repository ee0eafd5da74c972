//! The element on the page: the run it shows, its board and editor, whether it trains, and what
//! each frame, start and failure does to them. The element's script (`www/color-bottleneck.js`)
//! hands it the DOM's events, its workers and the platform's APIs; the decisions are in
//! [`crate::element`], where the native tests see them.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, ShadowRoot};

use super::editor::EditHistory;
use super::element::{
    failure_of, present, promise, read_asked, rejection_of, JsHost, PageHost, PageRun, PageRuns,
};
use super::{
    find_part, get, now, set_text, to_js, Board, Frame, PhaseDiagram, SheetEditor, ShownOnset,
};
use crate::backend_choice::time_gpu_now;
use crate::element::engines::{Choice, Engines, Failure};
use crate::element::gestures::{Event, Input, Progress, Surface};
use crate::element::grid_run::{train_grid, GridHost};
use crate::element::playback::{Order, Playback};
use crate::element::trained::{sheets_problem, Asked};
use crate::element::{ask_states_again, states_agree, Apply};
use crate::settings::Backend;

/// The GPU timing a start asked for, due once the run has been measured long enough.
struct Timing {
    run: u64,
    stored: Option<Choice>,
}

/// Where the run shown stands, as its last frame said.
#[derive(Default)]
struct LastFrame {
    step: u64,
    total_steps: u64,
    phase: Option<String>,
    backend: Option<String>,
    dims: Option<usize>,
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
    progress: Option<LastFrame>,
    pub(super) playback: Playback,
    dirty: bool,
    /// When the `from`/`to` range's loop began playing.
    loop_start: Option<f64>,
    timing: Option<Timing>,
    step_event_at: f64,
    /// The phase diagram on screen, and the number of the grid that fills it in.
    diagram: Option<(PhaseDiagram, u64)>,
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
            host.post(order.name());
        }
        set_text(&self.toggle, self.playback.toggle_label());
    }

    fn step(&self) -> u64 {
        self.progress.as_ref().map_or(0, |p| p.step)
    }
}

/// What the element keeps while it is out of the page: its parts are let go of (the module's
/// memory would keep them, and the element, alive), its undo history and wish to play are not.
#[wasm_bindgen]
pub struct Kept {
    history: EditHistory,
    playback: Playback,
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

    /// Runs `flow` on the engines in the background; a failure is shown, newer work taking
    /// over is not one.
    fn background(
        &self,
        flow: impl AsyncFnOnce(&Engines<PageHost, JsValue>) -> Result<(), Failure> + 'static,
    ) {
        let engines = self.0.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(Failure::Problem(p)) = flow(&engines).await {
                ElementCore(engines).fail_with(&p);
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
            shown.progress = Some(LastFrame {
                step: frame.step,
                total_steps: frame.total_steps,
                phase: Some(frame.phase.clone()),
                backend: Some(frame.backend.clone()),
                dims: Some(frame.dims),
                onset: frame.onset.clone(),
            });
            if let Some(notice) = &frame.notice {
                shown.notify(notice);
            }
            drop(shown);
            if let Some(reason) = frame.gpu_lost {
                self.background(async move |e| e.leave_lost_gpu(&reason).await);
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
        let (Some(progress), Some(board)) = (&shown.progress, &shown.board) else {
            return;
        };
        if calm || !board.finished() || board.scrubbing() {
            return;
        }
        let focused = shown.root.active_element();
        if focused.is_some_and(|f| f.get_attribute("data-canvas").as_deref() == Some("schedule")) {
            return;
        }
        let end = progress.step;
        let Some(range) = self.0.trained.borrow().range() else {
            return;
        };
        let step = range.loop_step(end, t - shown.loop_start.unwrap_or(t));
        shown.loop_start.get_or_insert(t);
        if let Some(board) = &mut shown.board {
            board.scrub(step as f64);
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
        let rates = board.tick(t);
        let (sps, span) = (rates[0], rates[1]);
        let Some((step, total_steps, phase)) = (shown.progress.as_ref())
            .map(|p| (p.step, p.total_steps, p.phase.clone().unwrap_or_default()))
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
            super::set(&detail, "phase", phase);
            let losses = shown.board.as_ref().map_or(JsValue::NULL, Board::losses);
            super::set(&detail, "losses", losses);
            detail
        });
        let timing = if due { shown.timing.take() } else { None };
        drop(shown);
        if let Some(Timing { run, stored }) = timing {
            self.background(async move |e| e.time_gpu(run, stored).await);
        }
        if let Some(detail) = detail {
            self.js().emit("step", &detail);
        }
    }
}

/// The flows a reader's button or the element's API starts: each changes the run shown, with
/// the workers, and says what went wrong in the notice or under the editor.
impl ElementCore {
    fn twin(&self) -> ElementCore {
        ElementCore(self.0.clone())
    }

    /// The promise of `flow` on this core; a failure rejects it as the page expects (newer
    /// work taking over rejects with the host's `stopped`).
    fn flow(
        &self,
        flow: impl AsyncFnOnce(&ElementCore) -> Result<(), Failure> + 'static,
    ) -> js_sys::Promise {
        let core = self.twin();
        promise(Box::pin(async move {
            match flow(&core).await {
                Ok(()) => Ok(JsValue::UNDEFINED),
                Err(failure) => Err(rejection_of(failure, core.js().stopped())),
            }
        }))
    }

    fn failure(&self, e: JsValue) -> Failure {
        failure_of(e, &self.js().stopped())
    }

    async fn wait(&self, promise: js_sys::Promise) -> Result<JsValue, Failure> {
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| self.failure(e))
    }

    /// What a start would read now.
    fn asked(&self) -> Result<Asked, Failure> {
        read_asked(self.js().asked()).map_err(|e| Failure::Problem(failure_text(&e)))
    }

    async fn create(&self, sheet: &str, parts: Option<Vec<JsValue>>) -> Result<(), Failure> {
        let parts = parts.map_or(JsValue::NULL, |p| {
            p.into_iter().collect::<js_sys::Array>().into()
        });
        self.wait(self.js().create(sheet, parts)).await.map(drop)
    }

    /// Sends every worker `message` (`kind` with `fields`); their replies, in order.
    async fn ask_all(
        &self,
        kind: &str,
        fields: &[(&str, JsValue)],
    ) -> Result<Vec<JsValue>, Failure> {
        let message = js_sys::Object::new();
        super::set(&message, "type", kind);
        for (key, value) in fields {
            super::set(&message, key, value.clone());
        }
        let asks: js_sys::Array = (self.js().workers().iter())
            .map(|w| JsValue::from(self.js().ask(&w, &message)))
            .collect();
        let replies = self.wait(js_sys::Promise::all(&asks)).await?;
        Ok(js_sys::Array::from(&replies).to_vec())
    }

    /// Puts a run's settings where a start reads them: the seed field and the attributes.
    fn show_spec(&self, seed: Option<u64>, attributes: &[(&str, u64)]) -> Result<(), JsValue> {
        let shown = self.shown();
        if let Some(seed) = seed {
            let field = find_part(&shown.root, "[data-field=seed]")?;
            let _ = js_sys::Reflect::set(&field, &"value".into(), &seed.to_string().into());
        }
        for (name, value) in attributes {
            shown.node.set_attribute(name, &value.to_string())?;
        }
        Ok(())
    }

    async fn reset_flow(&self) -> Result<(), Failure> {
        if self.js().workers().length() == 0 {
            return Ok(());
        }
        self.replace_view();
        let run = self.0.runs.borrow_mut().begin();
        let (settings, _, problems) = self.asked()?.read();
        for problem in &problems {
            self.notify(problem);
        }
        let seed = settings.spec.seed;
        self.0.trained.borrow_mut().reseed(seed);
        self.js().keep_address();
        let fields = [("seed", (seed as f64).into()), ("run", (run as f64).into())];
        self.ask_all("reset", &fields).await?;
        self.restarted(run as f64);
        self.validate();
        self.play_if_paused_by_run();
        Ok(())
    }

    async fn apply_flow(
        &self,
        sheet: String,
        live: bool,
        versus: Option<String>,
    ) -> Result<(), Failure> {
        if !self.ready() {
            return Err(Failure::Problem("not ready".to_string()));
        }
        // Apply & restart starts from the seed field, as Reset does.
        let (settings, _, problems) = self.asked()?.read();
        let dims_changed = self.dims() != Some(settings.spec.latent_dims as u32);
        let route =
            (self.0.trained.borrow()).apply_route(&sheet, versus.as_deref(), live, dims_changed);
        let route = route.map_err(|problem| {
            self.show_problem(to_js(&problem));
            Failure::Problem(problem.message)
        })?;
        self.replace_view();
        let saved = self.0.trained.borrow().clone();
        if let Err(failure) = self
            .apply_by(route, &sheet, versus, settings.spec.seed)
            .await
        {
            self.0.trained.borrow_mut().restore_lineage(&saved);
            if let Failure::Problem(problem) = &failure {
                self.show_problem(problem.into());
            }
            return Err(failure);
        }
        self.show_sheet(&sheet);
        self.applied();
        if !live {
            for problem in &problems {
                self.notify(problem);
            }
        }
        // The workers took the sheet: whatever happens from here is not a failure to apply it.
        self.play_if_paused_by_run();
        Ok(())
    }

    /// Hands `sheet` to the workers the way `route` says.
    async fn apply_by(
        &self,
        route: Apply,
        sheet: &str,
        versus: Option<String>,
        seed: u64,
    ) -> Result<(), Failure> {
        let live = route == Apply::Live;
        if route == Apply::NewWorkers {
            self.0.trained.borrow_mut().fresh(versus);
            return self.create(sheet, None).await;
        }
        let run = {
            let mut runs = self.0.runs.borrow_mut();
            if live {
                runs.latest()
            } else {
                runs.begin()
            }
        };
        let fields = [
            ("sheet", sheet.into()),
            ("live", live.into()),
            ("run", (run as f64).into()),
            ("seed", (seed as f64).into()),
        ];
        let replies = self.ask_all("sheet", &fields).await?;
        // Applied live, the run trained the old sheet up to the first worker's step.
        let at = replies.first().and_then(|r| get(r, "at").as_f64());
        let live_at = at.filter(|_| live).map(|a| a as u64);
        self.0.trained.borrow_mut().applied(sheet, live_at, seed);
        self.js().keep_address();
        self.took_sheet(sheet)
            .map_err(|e| Failure::Problem(failure_text(&e)))?;
        if !live {
            self.restarted(run as f64);
        }
        Ok(())
    }

    async fn branch_flow(&self) -> Result<(), Failure> {
        let comparing = self.0.trained.borrow().versus().is_some();
        if !self.ready() || comparing {
            return Ok(());
        }
        let edited = self.shown().editor.text();
        if let Some(problem) = sheets_problem(&edited, None) {
            self.show_problem(to_js(&problem));
            return Ok(());
        }
        self.replace_view();
        let at = self.branch_point().map_or(self.step() as u64, |s| s as u64);
        let saved = self.0.trained.borrow().clone();
        self.0.trained.borrow_mut().branch(at);
        self.record_edit();
        self.set_branch_point(None);
        // The branch replays the run shown: its seed and bottleneck, whatever the fields say.
        let seed = self.0.trained.borrow().spec().seed;
        let dims = self.dims().unwrap_or_default() as u64;
        self.show_spec(Some(seed), &[("latent-dims", dims)])
            .map_err(|e| Failure::Problem(failure_text(&e)))?;
        let parts = if at > 0 {
            self.states_at(at).await
        } else {
            None
        };
        if let Err(failure) = self.create(&edited, parts).await {
            self.0.trained.borrow_mut().restore_lineage(&saved);
            return Err(failure);
        }
        self.applied();
        self.play_if_paused_by_run();
        Ok(())
    }

    /// The state each worker kept at or before `at` for the run shown, in order, or `None`
    /// unless every worker has one at one step (the branch then replays from the seed).
    async fn states_at(&self, at: u64) -> Option<Vec<JsValue>> {
        let spec = to_js(&self.0.trained.borrow().spec());
        let ask = async |step: u64| {
            let fields = [("at", (step as f64).into()), ("spec", spec.clone())];
            self.ask_all("state-at", &fields).await.unwrap_or_default()
        };
        let step = |r: &JsValue| {
            get(r, "step")
                .as_f64()
                .filter(|s| *s >= 0.0)
                .map(|s| s as u64)
        };
        let mut replies = ask(at).await;
        let kept: Vec<_> = replies.iter().map(step).collect();
        if let Some(again) = ask_states_again(&kept) {
            replies = ask(again).await;
        }
        let kept: Vec<_> = (replies.iter())
            .map(|r| present(r, "bytes").and_then(|_| step(r)))
            .collect();
        states_agree(&kept).then(|| replies.iter().map(|r| get(r, "bytes")).collect())
    }
}

/// A phase diagram filling in ([`train_grid`]) over the element's core: grid `grid`'s cells
/// train as the run shown, one after another.
struct GridView<'a> {
    core: &'a ElementCore,
    grid: u64,
}

impl GridView<'_> {
    /// Runs `f` on the diagram, where this grid's is still the one on screen.
    fn diagram(&self, f: impl FnOnce(&mut PhaseDiagram, &ShadowRoot)) {
        let mut shown = self.core.shown();
        let Shown { diagram, root, .. } = &mut *shown;
        if let Some((diagram, grid)) = diagram {
            if *grid == self.grid {
                f(diagram, root);
            }
        }
    }
}

impl GridHost for GridView<'_> {
    async fn start(&self, sheet: &str) -> Result<(), Failure> {
        self.core.create(sheet, None).await
    }

    fn play(&self) {
        self.core.play();
    }

    async fn next_frame(&self) {
        let _ = wasm_bindgen_futures::JsFuture::from(self.core.js().frame()).await;
    }

    fn has_view(&self) -> bool {
        self.core.0.trained.borrow().grid_is(self.grid) && self.core.shown().node.is_connected()
    }

    fn finished(&self) -> bool {
        self.core.finished()
    }

    fn counts(&self) -> (u32, u32) {
        let counts = self.core.sweep_counts();
        (
            counts.first().copied().unwrap_or(0),
            counts.get(1).copied().unwrap_or(0),
        )
    }

    fn fill_in(&self, cell: usize, crumpled: u32, judged: u32) {
        self.diagram(|diagram, root| {
            diagram.set_result(cell as u32, crumpled, judged);
            if let Ok(canvas) = find_part(root, "[data-canvas=grid]") {
                diagram.draw(canvas.unchecked_ref());
            }
        });
    }

    fn status(&self, text: &str) {
        self.diagram(|_, root| {
            if let Ok(status) = find_part(root, "[data-field=grid-status]") {
                set_text(&status, text);
            }
        });
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

impl ElementCore {
    /// A menu's or a field's `value`.
    fn value_of(&self, selector: &str) -> Result<String, JsValue> {
        let part = find_part(&self.shown().root, selector)?;
        Ok(get(&part, "value").as_string().unwrap_or_default())
    }

    async fn grid_flow(&self) -> Result<(), Failure> {
        let problem = |e: JsValue| Failure::Problem(failure_text(&e));
        let sheet = self.shown().editor.text();
        let root = self.shown().root.clone();
        super::show_grid_menus(&root, &sheet).map_err(problem)?;
        let menu = |name: &str| self.value_of(&format!("[data-field=grid-{name}]"));
        let runs: u32 = menu("runs").map_err(problem)?.parse().unwrap_or(16);
        let to = (self.0.trained.borrow().range())
            .and_then(|r| r.to)
            .map(|t| t as f64);
        let made = (|| {
            PhaseDiagram::new(
                &sheet,
                &menu("x")?,
                &menu("x-range")?,
                &menu("y")?,
                &menu("y-range")?,
                runs,
                &menu("until")?,
                to,
            )
        })();
        let status = find_part(&root, "[data-field=grid-status]").map_err(problem)?;
        let mut diagram = match made {
            Ok(diagram) => diagram,
            Err(e) => {
                set_text(&status, &failure_text(&e));
                return Ok(());
            }
        };
        let cells: Vec<String> = (0..diagram.cells())
            .map(|i| diagram.cell_sheet(i))
            .collect();
        let grid = self
            .0
            .trained
            .borrow_mut()
            .begin_grid(diagram.cut().map(|c| c as u64));
        let canvas: web_sys::HtmlCanvasElement = find_part(&root, "[data-canvas=grid]")
            .map_err(problem)?
            .unchecked_into();
        canvas.set_hidden(false);
        diagram.draw(&canvas);
        let seeds = diagram.runs;
        self.shown().diagram = Some((diagram, grid));
        self.show_spec(None, &[("runs", runs as u64)])
            .map_err(problem)?;
        let runs_field = find_part(&root, "[data-field=runs]").map_err(problem)?;
        let _ = js_sys::Reflect::set(&runs_field, &"value".into(), &runs.to_string().into());
        let view = GridView { core: self, grid };
        let trained = train_grid(&view, &cells, seeds).await;
        self.0.trained.borrow_mut().grid_done(grid);
        trained.map(drop)
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
        let (history, playback) = match kept {
            Some(Kept { history, playback }) => (Some(history), playback),
            None => (None, Playback::default()),
        };
        let shown = Shown {
            notice: find_part(&root, "[data-field=notice]")?,
            toggle: find_part(&root, "[data-action=toggle]")?,
            editor: SheetEditor::new(&root, history)?,
            node,
            root,
            board: None,
            progress: None,
            playback,
            dirty: true,
            loop_start: None,
            timing: None,
            step_event_at: 0.0,
            diagram: None,
        };
        let host = PageHost {
            js: host,
            shown: Rc::new(RefCell::new(shown)),
        };
        Ok(ElementCore(Rc::new(Engines::new(
            host,
            trained.0.clone(),
            runs.0.clone(),
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
        }
    }

    /// One animation frame at `t` (`performance.now()`): takes in the workers' frames, plays
    /// a range's loop (unless `calm`: reduced motion), draws what changed, and ticks.
    pub fn frame(&self, t: f64, calm: bool) {
        let fresh = match self.drain() {
            Ok(fresh) => fresh,
            Err(e) => {
                self.fail_with(&failure_text(&e));
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

    /// The reader asked for another run in the view: a phase diagram filling in stops, and the
    /// notice, which spoke of the run before, makes room for what the new one has to say.
    pub fn replace_view(&self) {
        self.0.trained.borrow_mut().end_grid();
        set_text(&self.shown().notice, "");
    }

    /// Run `run` began in the workers: frames of older runs are stale.
    pub fn restarted(&self, run: f64) {
        let run = run as u64;
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

    /// The run took an edited sheet: a run halted at a bad step goes on under it (the workers
    /// kept their last good weights).
    pub fn took_sheet(&self, sheet: &str) -> Result<(), JsValue> {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_sheet(sheet)?;
        }
        shown.playback.restarted();
        shown.dirty = true;
        Ok(())
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
            core.restarted(started.run as f64);
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
            Ok(JsValue::from(started.run as f64))
        })))
    }

    /// Trains the run again from the seed field's seed.
    pub fn reset(&self) -> js_sys::Promise {
        self.flow(async |core| core.reset_flow().await)
    }

    /// Trains `sheet` from the start, or (`live`) from the run's step on; `versus`: a second
    /// sheet (B) to train on the same seeds beside it. Rejects on a broken sheet, named under
    /// the editor.
    pub fn set_dopesheet(
        &self,
        sheet: String,
        live: bool,
        versus: Option<String>,
    ) -> js_sys::Promise {
        self.flow(async move |core| core.apply_flow(sheet, live, versus).await)
    }

    /// A new run that trains as this one did up to the step last looked back at (the live
    /// step if none), then goes on under the editor's sheet. Its link names where it came from.
    pub fn branch(&self) -> js_sys::Promise {
        self.flow(async |core| core.branch_flow().await)
    }

    /// Opens a `#run=` link: its settings go to the seed field and the attributes, its note to
    /// the notice; returns its sheet, or throws what is wrong with it.
    pub fn open_link(&self, hash: &str) -> Result<String, JsValue> {
        let run = (self.0.trained.borrow_mut().open_link(hash))
            .map_err(|e| super::js_error(format!("This link's run could not be opened: {e}")))?;
        if let Some(note) = run.revision_note(crate::share::ENGINE_REVISION) {
            self.notify(&note);
        }
        let spec = &run.spec;
        let attributes = [
            ("latent-dims", spec.latent_dims as u64),
            ("batch-size", spec.batch_size as u64),
            ("runs", spec.runs as u64),
        ];
        self.show_spec(Some(spec.seed), &attributes)?;
        Ok(run.sheet)
    }

    /// A `#run=` link pasted into a linkable page's address (`hash`) opens as a new run; one
    /// that cannot be opened is named in the notice, and the address goes back to the run shown.
    pub fn open_pasted_link(&self, hash: String) -> js_sys::Promise {
        self.flow(async move |core| {
            if !hash.starts_with("#run=") {
                return Ok(());
            }
            core.replace_view();
            let sheet = match core.open_link(&hash) {
                Ok(sheet) => sheet,
                Err(e) => {
                    core.notify(&failure_text(&e));
                    core.js().keep_address();
                    return Ok(());
                }
            };
            if let Ok(compare) = find_part(&core.shown().root, "[data-field=compare]") {
                let _ = js_sys::Reflect::set(&compare, &"checked".into(), &false.into());
            }
            core.show_sheet(&sheet);
            core.create(&sheet, None).await?;
            core.play_if_paused_by_run();
            Ok(())
        })
    }

    /// Restarts with `runs` seeds from `seed` (1: the full single-run view of that seed).
    pub fn open_runs(&self, runs: u32, seed: f64) -> js_sys::Promise {
        self.flow(async move |core| {
            core.replace_view();
            core.show_spec(Some(seed as u64), &[("runs", runs as u64)])
                .map_err(|e| Failure::Problem(failure_text(&e)))?;
            let sheet = core.0.trained.borrow().sheet().to_string();
            core.create(&sheet, None).await?;
            core.play();
            Ok(())
        })
    }

    /// Trains the phase diagram the menus describe: each cell's sheet as a sweep of the chosen
    /// seeds, one after another in the view above, each rate filled in as its sweep finishes.
    pub fn run_grid(&self) -> js_sys::Promise {
        self.flow(async |core| core.grid_flow().await)
    }

    /// What the phase diagram's cell under (`x`, `y`) holds, as its title says.
    pub fn grid_title(&self, x: f64, y: f64) -> String {
        let shown = self.shown();
        let described =
            (shown.diagram.as_ref()).and_then(|(d, _)| Some(d.describe(d.cell_at(x, y)?)));
        match described {
            Some(text) => format!("{text} (click to open its sheet)"),
            None => "click a cell to open its sheet".to_string(),
        }
    }

    /// Puts the phase diagram's cell under (`x`, `y`) in the editor and trains it (the grid's
    /// seeds, to its end).
    pub fn open_cell(&self, x: f64, y: f64) -> js_sys::Promise {
        let sheet =
            (self.shown().diagram.as_ref()).and_then(|(d, _)| Some(d.cell_sheet(d.cell_at(x, y)?)));
        self.flow(async move |core| {
            let Some(sheet) = sheet else {
                return Ok(());
            };
            core.replace_view();
            core.0.trained.borrow_mut().fresh(None);
            core.shown().editor.show(&sheet);
            core.create(&sheet, None).await?;
            core.record_edit();
            core.play();
            Ok(())
        })
    }

    /// The `backend` attribute became `asked` while workers train
    /// ([`Engines::backend_changed`]).
    pub fn backend_changed(&self, asked: Option<String>, gpu_offered: bool) {
        let comparing = self.0.trained.borrow().versus().is_some();
        self.background(async move |e| {
            e.backend_changed(asked.as_deref(), comparing, gpu_offered)
                .await
        });
    }

    /// The shown run's step, and what its last frame said: its phase, engine and verdict.
    pub fn step(&self) -> f64 {
        self.shown().step() as f64
    }

    pub fn phase(&self) -> Option<String> {
        self.shown().progress.as_ref()?.phase.clone()
    }

    pub fn backend(&self) -> Option<String> {
        self.shown().progress.as_ref()?.backend.clone()
    }

    pub fn dims(&self) -> Option<u32> {
        self.shown().progress.as_ref()?.dims.map(|d| d as u32)
    }

    /// `{shape, step}`, or null.
    pub fn onset(&self) -> JsValue {
        let shown = self.shown();
        let onset = shown.progress.as_ref().and_then(|p| p.onset.as_ref());
        onset.map_or(JsValue::NULL, to_js)
    }

    /// Whether a frame of the run has been drawn.
    pub fn ready(&self) -> bool {
        let shown = self.shown();
        shown.board.is_some() && shown.progress.is_some()
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

    pub fn finished(&self) -> bool {
        self.shown().finished()
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

    pub fn sweep_seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u32> {
        self.shown().board.as_ref()?.sweep_seed_at(x, y, w, h)
    }

    pub fn sweep_counts(&self) -> Vec<u32> {
        let shown = self.shown();
        shown
            .board
            .as_ref()
            .map_or_else(Vec::new, Board::sweep_counts)
    }

    /// The sweep's (or comparison's) table, and the name to download it as.
    pub fn sweep_csv(&self) -> Vec<String> {
        let shown = self.shown();
        let csv = shown
            .board
            .as_ref()
            .map_or_else(String::new, Board::sweep_csv);
        let comparing = self.0.trained.borrow().versus().is_some();
        let name = if comparing {
            "compare.csv"
        } else {
            "sweep.csv"
        };
        vec![name.to_string(), csv]
    }

    pub fn figure_svg(&self) -> Option<String> {
        Some(self.shown().board.as_ref()?.figure_svg())
    }

    /// Draws the figure into `canvas`; false where there is no run to draw yet.
    pub fn draw_figure(&self, canvas: web_sys::HtmlCanvasElement) -> bool {
        let shown = self.shown();
        shown
            .board
            .as_ref()
            .map(|b| b.draw_figure(canvas))
            .is_some()
    }

    pub fn set_decoder_map(&self, on: bool) {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_decoder_map(on);
        }
        shown.dirty = true;
    }

    pub fn set_dome_axes(&self, key: &str) {
        let mut shown = self.shown();
        if let Some(board) = &mut shown.board {
            board.set_dome_axes(key);
        }
        shown.dirty = true;
    }

    /// An event on the `surface` canvas (`{type, clientX, clientY, key, pointerType}` as the
    /// DOM gives them, `key` from the probe's colour input for `color`), whose corner is at
    /// (`left`, `top`). Returns `1` where the event was taken (the page does not act on it
    /// too), plus `2` where the canvas captures the pointer.
    #[allow(clippy::too_many_arguments)]
    pub fn gesture(
        &self,
        canvas: &Element,
        kind: &str,
        client_x: f64,
        client_y: f64,
        left: f64,
        top: f64,
        key: &str,
        touch: bool,
    ) -> u32 {
        let mut shown = self.shown();
        let (step, total) = shown
            .progress
            .as_ref()
            .map_or((0, 0), |p| (p.step, p.total_steps));
        let surface = canvas.get_attribute("data-canvas").unwrap_or_default();
        let (Some(surface), Some(input)) = (Surface::from_name(&surface), Input::from_type(kind))
        else {
            return 0;
        };
        let event = Event {
            input,
            x: client_x - left,
            y: client_y - top,
            client: (client_x, client_y),
            key,
            touch,
        };
        let Some(board) = &mut shown.board else {
            return 0;
        };
        let r = board.gesture(surface, event, Progress { step, total });
        if r.branch_moved {
            shown.editor.set_branch_point(r.branch_at.map(|s| s as f64));
        }
        if let Some(value) = r.value_now {
            let _ = canvas.set_attribute("aria-valuenow", &value.to_string());
        }
        shown.dirty |= r.redraw;
        u32::from(r.taken) | (u32::from(r.capture) << 1)
    }

    /// Typing in either editor: returns whether the sheets are too long to check on every key
    /// (the page checks them at a pause).
    pub fn typed(&self) -> bool {
        self.shown().editor.typed()
    }

    pub fn validate(&self) {
        self.shown().editor.validate();
    }

    /// Undo (`back`) or Redo, after recording the typing so far.
    pub fn undo(&self, back: bool) {
        self.record_edit();
        self.shown().editor.undo(back);
    }

    /// *Compare with B* was ticked or unticked.
    pub fn compare_toggled(&self) {
        let comparing = self.0.trained.borrow().versus().is_some();
        let shown = self.shown();
        shown.editor.show_compare(comparing);
        shown.editor.validate();
    }

    /// Records the editor's text as an edit (for Undo), if it is a new one.
    pub fn record_edit(&self) {
        let (sheet, until) = {
            let trained = self.0.trained.borrow();
            let until = trained.range().and_then(|r| r.to).map(|t| t as f64);
            (trained.sheet().to_string(), until)
        };
        let mut shown = self.shown();
        let step = shown.step() as f64;
        shown.editor.record(&sheet, step, until);
    }

    /// Opens the editor on `text`, with the located `problem` it has, if any.
    pub fn open_editor(&self, text: &str, problem: JsValue) {
        let mut shown = self.shown();
        shown.editor.open(text);
        if !problem.is_undefined() && !problem.is_null() {
            shown.editor.show_problem(&problem);
        }
    }

    /// Shows `text` in A's editor, as an edit.
    pub fn show_sheet(&self, text: &str) {
        self.shown().editor.show(text);
        self.record_edit();
    }

    pub fn show_problem(&self, problem: JsValue) {
        self.shown().editor.show_problem(&problem);
    }

    /// `[A's text, B's text or undefined]`, as the editors hold them.
    pub fn edited(&self) -> Vec<JsValue> {
        let shown = self.shown();
        let versus = shown
            .editor
            .versus()
            .map_or(JsValue::UNDEFINED, JsValue::from);
        vec![shown.editor.text().into(), versus]
    }

    /// The sheet was applied or branched from: the editor says nothing more of it.
    pub fn applied(&self) {
        self.shown().editor.applied();
    }

    pub fn branch_point(&self) -> Option<f64> {
        self.shown().editor.branch_point()
    }

    pub fn set_branch_point(&self, step: Option<f64>) {
        self.shown().editor.set_branch_point(step);
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

/// An error's message, or the value as text.
fn failure_text(e: &JsValue) -> String {
    (get(e, "message").as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
