//! The element's decisions ([`crate::element`]) as the page asks for them.

use wasm_bindgen::prelude::*;

use super::{js_error, to_js};
use crate::element::{self, ApplyAsk};
use crate::share::Parent;

/// How the element opens: `{train, editor, notice, broken}` ([`element::open_sheet`]), from
/// the sheet given or why none could be had.
#[wasm_bindgen]
pub fn open_sheet(sheet: Option<String>, failure: Option<String>) -> JsValue {
    let given = match (&sheet, &failure) {
        (Some(sheet), None) => Ok(sheet.as_str()),
        _ => Err(failure.as_deref().unwrap_or("no dopesheet was given")),
    };
    to_js(&element::open_sheet(given))
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
