//! The element's decisions ([`crate::element`]) as the page asks for them.

use wasm_bindgen::prelude::*;

use super::{js_error, to_js};
use crate::element::{self, ApplyAsk, Runs};
use crate::share::Parent;

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

/// `"new-workers"`, `"restart"` or `"live"` ([`element::apply_route`]); throws where the
/// sheet cannot be applied as asked.
#[wasm_bindgen]
pub fn apply_route(
    live: bool,
    comparing: bool,
    versus: bool,
    dims_changed: bool,
    recut: bool,
) -> Result<JsValue, JsValue> {
    let ask = ApplyAsk {
        live,
        comparing,
        versus,
        dims_changed,
        recut,
    };
    element::apply_route(ask)
        .map(|route| to_js(&route))
        .map_err(|e| js_error(e.to_string()))
}

fn parents(value: JsValue) -> Result<Vec<Parent>, JsValue> {
    Ok(serde_wasm_bindgen::from_value(value)?)
}

/// The lineage `[{sheet, step}]` after *Apply live* at `at` ([`element::applied_live`]).
#[wasm_bindgen]
pub fn applied_live(parents_now: JsValue, sheet: &str, at: f64) -> Result<JsValue, JsValue> {
    Ok(to_js(&element::applied_live(
        &parents(parents_now)?,
        sheet,
        at as u64,
    )))
}

/// The lineage of a branch at `at` ([`element::branched`]).
#[wasm_bindgen]
pub fn branched(parents_now: JsValue, sheet: &str, at: f64) -> Result<JsValue, JsValue> {
    Ok(to_js(&element::branched(
        &parents(parents_now)?,
        sheet,
        at as u64,
    )))
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

/// What a phase-diagram menu shows ([`element::grid_axis_choice`]).
#[wasm_bindgen]
pub fn grid_axis_choice(addresses: Vec<String>, before: &str, optional: bool) -> String {
    element::grid_axis_choice(&addresses, before, optional)
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
