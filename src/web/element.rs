//! The element's decisions ([`crate::element`]) as the page asks for them.

use wasm_bindgen::prelude::*;

use super::{js_error, to_js};
use crate::element::{self, trained::Asked, Runs};

/// How the element opens: `{train, editor, notice, problem}` ([`element::open_sheet`]), from
/// the sheet given or why none could be had.
#[wasm_bindgen]
pub fn open_sheet(sheet: Option<String>, failure: Option<String>) -> JsValue {
    let given = match (&sheet, &failure) {
        (Some(sheet), None) => Ok(sheet.as_str()),
        _ => Err(failure.as_deref().unwrap_or("no dopesheet was given")),
    };
    to_js(&element::open_sheet(given))
}

/// Where the first sheet comes from: `{link}`, `{inline}` or `{fetch}` (a URL, or `null` for
/// the default sheet) ([`element::sheet_source`]); `address`: a linkable page's `location.hash`.
#[wasm_bindgen]
pub fn sheet_source(
    run: Option<String>,
    address: Option<String>,
    dopesheet: Option<String>,
    src: Option<String>,
) -> JsValue {
    to_js(&element::sheet_source(
        run.as_deref(),
        address.as_deref(),
        dopesheet.as_deref(),
        src.as_deref(),
    ))
}

/// Why the answer to a `src` sheet's request is not a sheet, if it is not
/// ([`element::sheet_response_problem`]).
#[wasm_bindgen]
pub fn sheet_response_problem(src: &str, status: u16, content_type: &str) -> Option<String> {
    element::sheet_response_problem(src, status, content_type)
}

/// What the element says when a `src` sheet never arrives ([`element::sheet_request_failed`]).
#[wasm_bindgen]
pub fn sheet_request_failed(src: &str, timeout_s: Option<f64>, reason: &str) -> String {
    element::sheet_request_failed(src, timeout_s, reason)
}

/// Each worker's kept step, a number or `NaN` for none (a plain array of numbers crosses
/// into wasm without a deserialiser).
fn steps(kept: &[f64]) -> Vec<Option<u64>> {
    kept.iter()
        .map(|&s| (s.is_finite() && s >= 0.0).then_some(s as u64))
        .collect()
}

/// The step to ask the workers for their kept states at again, if any
/// ([`element::ask_states_again`]); `kept`: each worker's kept step, `NaN` for none.
#[wasm_bindgen]
pub fn ask_states_again(kept: Vec<f64>) -> Option<f64> {
    element::ask_states_again(&steps(&kept)).map(|s| s as f64)
}

/// Whether the workers' kept states are at one step ([`element::states_agree`]); `kept`: each
/// worker's kept step, `NaN` for a worker with no state.
#[wasm_bindgen]
pub fn states_agree(kept: Vec<f64>) -> bool {
    element::states_agree(&steps(&kept))
}

/// The page's runs and the frames that arrived for them ([`Runs`]): a frame is the object a
/// worker posts, with its run's number in `run`.
#[wasm_bindgen]
#[derive(Default)]
pub struct PageRuns(Runs<JsValue>);

#[wasm_bindgen]
impl PageRuns {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PageRuns {
        PageRuns::default()
    }

    /// A new run: the number its workers stamp on their frames.
    pub fn begin(&mut self) -> f64 {
        self.0.begin() as f64
    }

    pub fn latest(&self) -> f64 {
        self.0.latest() as f64
    }

    /// The page shows run `run` from now on.
    pub fn show(&mut self, run: f64) {
        self.0.show(run as u64);
    }

    pub fn shown(&self) -> f64 {
        self.0.shown() as f64
    }

    /// A frame from a worker; one without a run number is dropped.
    pub fn arrive(&mut self, frame: JsValue) {
        let run = js_sys::Reflect::get(&frame, &"run".into())
            .ok()
            .and_then(|r| r.as_f64());
        if let Some(run) = run.filter(|r| r.is_finite() && *r >= 0.0) {
            self.0.arrive(run as u64, frame);
        }
    }

    /// The frames of the run shown, in arrival order.
    pub fn take_shown(&mut self) -> js_sys::Array {
        self.0.take_shown().into_iter().collect()
    }
}

/// The run the element trains and shows ([`element::TrainedRun`]).
#[wasm_bindgen(js_name = TrainedRun)]
#[derive(Default, Clone)]
pub struct PageRun(element::TrainedRun);

#[wasm_bindgen(js_class = TrainedRun)]
impl PageRun {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PageRun {
        PageRun::default()
    }

    /// A copy, to go back to where a start fails.
    pub fn copy(&self) -> PageRun {
        self.clone()
    }

    /// Puts back the lineage and comparison `saved` had ([`element::TrainedRun::restore_lineage`]).
    pub fn restore_lineage(&mut self, saved: &PageRun) {
        self.0.restore_lineage(&saved.0);
    }

    /// A start reads the seed field, the attributes and the browser's core count
    /// ([`Asked`], an object with its fields); returns the notice's lines for those it cannot
    /// use.
    pub fn start(&mut self, asked: JsValue) -> Result<Vec<String>, JsValue> {
        let asked: Asked = serde_wasm_bindgen::from_value(asked)?;
        Ok(self.0.start(&asked))
    }

    /// `{seed, latent_dims, batch_size, runs}`.
    pub fn spec(&self) -> JsValue {
        to_js(&self.0.spec())
    }

    pub fn sheet(&self) -> String {
        self.0.sheet().to_string()
    }

    pub fn versus(&self) -> Option<String> {
        self.0.versus().map(str::to_string)
    }

    pub fn first_part_runs(&self) -> u32 {
        self.0.first_part_runs() as u32
    }

    /// Each new worker's options: `{spec, first, count, rests, until, parents, versus}`.
    pub fn worker_parts(&mut self, on_cpu: bool) -> js_sys::Array {
        self.0.worker_parts(on_cpu).iter().map(to_js).collect()
    }

    pub fn trains(&mut self, sheet: &str) {
        self.0.trains(sheet);
    }

    pub fn reseed(&mut self, seed: f64) {
        self.0.reseed(seed as u64);
    }

    /// Opens a `#run=` link: `{note, sheet, spec: {seed, latent_dims, batch_size, runs},
    /// parents, versus, engine}` (`note`: set when an older engine made the link); throws what
    /// is wrong with it.
    pub fn open_link(&mut self, hash: &str) -> Result<JsValue, JsValue> {
        let run = (self.0.open_link(hash))
            .map_err(|e| js_error(format!("This link's run could not be opened: {e}")))?;
        Ok(to_js(&super::OpenedRun::of(run)))
    }

    pub fn fresh(&mut self, versus: Option<String>) {
        self.0.fresh(versus);
    }

    /// `"new-workers"`, `"restart"` or `"live"`; throws `{line, column, column_name, message}` (`line` null for a problem with how it is applied).
    pub fn apply_route(
        &self,
        sheet: &str,
        versus: Option<String>,
        live: bool,
        dims_changed: bool,
    ) -> Result<JsValue, JsValue> {
        (self
            .0
            .apply_route(sheet, versus.as_deref(), live, dims_changed))
        .map(|route| to_js(&route))
        .map_err(|problem| to_js(&problem))
    }

    /// `live_at`: the step the first worker swapped the sheet in at; `undefined`: a restart.
    pub fn applied(&mut self, sheet: &str, live_at: Option<f64>, seed: f64) {
        self.0
            .applied(sheet, live_at.map(|s| s as u64), seed as u64);
    }

    pub fn branch(&mut self, at: f64) {
        self.0.branch(at as u64);
    }

    pub fn end_grid(&mut self) {
        self.0.end_grid();
    }

    pub fn begin_grid(&mut self, until: Option<f64>) -> f64 {
        self.0.begin_grid(until.map(|u| u as u64)) as f64
    }

    pub fn grid_is(&self, grid: f64) -> bool {
        self.0.grid_is(grid as u64)
    }

    pub fn grid_done(&mut self, grid: f64) {
        self.0.grid_done(grid as u64);
    }

    /// The range's end, where it has one.
    pub fn range_to(&self) -> Option<f64> {
        self.0.range().and_then(|r| r.to).map(|t| t as f64)
    }

    /// The step a range's loop shows `elapsed_ms` after it began, for a run that ended at
    /// `end` ([`StepRange::loop_step`](crate::settings::StepRange::loop_step)); `undefined`
    /// without a range.
    pub fn loop_step(&self, end: f64, elapsed_ms: f64) -> Option<f64> {
        let range = self.0.range()?;
        Some(range.loop_step(end as u64, elapsed_ms) as f64)
    }

    /// The `#run=` hash that reopens the run.
    pub fn share_hash(&self) -> Result<String, JsValue> {
        super::hash_of(self.0.shared())
    }

    /// `[module + element, iframe]` snippets that embed the run, for a site at `base`.
    pub fn embed_snippets(&self, base: &str) -> Vec<String> {
        crate::share::embed_snippets(base, self.0.shared()).to_vec()
    }
}
