//! The wasm face of the engine, in two halves that talk through [`Frame`]s.
//!
//! [`Experiment`] trains, in a Web Worker (`www/trainer.js`): it runs steps for a time budget,
//! then reads latents and losses back in one asynchronous read and packs them into a `Frame`
//! the worker posts to the page. [`Board`] lives on the page's thread: it keeps the history
//! the frames bring (for scrubbing and the loss chart) and draws. Training never waits for
//! drawing, and drawing never waits for training. Tensors never leave `Experiment`; the page
//! sees numbers, strings and canvases.

mod board;
mod canvas;
mod core;
mod editor;
mod element;
mod experiment;
mod phase_diagram;
mod sweep_view;
mod worker;

pub use self::core::*;
pub use board::Board;
pub use editor::SheetEditor;
pub use element::*;
pub(crate) use experiment::Experiment;
pub use phase_diagram::{show_grid_menus, PhaseDiagram};
pub use worker::Worker;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::dopesheet::{Dopesheet, DopesheetError};
use crate::share::SharedRun;
use crate::step::loss::Term;
use crate::timeline::Timeline;

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
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("color-bottleneck panicked: {info}").into());
    }));
}

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`, on the page and in a worker alike.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now() -> f64;
}

/// What the trainer tells the page after each read-back.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Frame {
    /// The step the next training call will run.
    pub step: u64,
    pub total_steps: u64,
    pub finished: bool,
    pub phase: String,
    pub lr: f64,
    pub backend: String,
    pub error: Option<String>,
    /// A one-off message (a fallback, a warning about the sheet).
    pub notice: Option<String>,
    /// Why the GPU stopped working: the run waits, as of its last read-back, to be moved to
    /// the CPU engine.
    pub gpu_lost: Option<String>,
    pub dims: usize,
    /// Latents of the 1,000-colour RGB grid after step `shown` (`None` before the first
    /// step's read-back), little-endian f32.
    pub shown: Option<u64>,
    #[serde(with = "serde_bytes")]
    pub latents: Vec<u8>,
    /// The shown run's weights with those latents, in the flat layout
    /// ([`initial_parameters`](crate::step::layout::initial_parameters)'s), little-endian f32: the
    /// page's probe and decoder map run the model on them.
    #[serde(with = "serde_bytes")]
    pub parameters: Vec<u8>,
    pub losses: Option<LossSample>,
    pub snapshots: Vec<Snapshot>,
    /// Every run's state when several seeds train at once.
    pub sweep: Option<SweepFrame>,
    /// The shown run's verdict as last judged (every [`Onset::EVERY`] steps and at the
    /// end), and the step from which it has held.
    ///
    /// [`Onset::EVERY`]: crate::verdict::Onset::EVERY
    pub onset: Option<ShownOnset>,
    /// A comparison's second sheet (B), in every frame of one.
    pub versus: Option<VersusFrame>,
}

/// B's side of a comparison in a frame.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VersusFrame {
    /// The step B trains next.
    pub step: u64,
    /// Its first run's last losses (drawn faintly over A's).
    pub losses: Option<LossSample>,
    /// Its runs, when several seeds train: the same seeds as the frame's sweep.
    pub sweep: Option<SweepFrame>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownOnset {
    /// "wheel" or "crumpled".
    pub shape: String,
    pub step: u64,
}

/// A sweep's runs in a frame: all of them, or one worker's part of a sweep shared among
/// workers (runs `first_run..first_run + seeds.len()` of `total_runs`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SweepFrame {
    pub first_run: usize,
    pub total_runs: usize,
    pub seeds: Vec<u64>,
    /// Each run's latents of the six primaries and the 36 hues ([`THUMBNAIL_POINTS`] rows),
    /// run after run, little-endian f32.
    #[serde(with = "serde_bytes")]
    pub thumbnails: Vec<u8>,
    /// Each run's verdict, in frames that judged them (a few times a second).
    pub verdicts: Option<Vec<RunVerdict>>,
}

/// Rows of a sweep thumbnail: the verdict's primaries and hues.
pub const THUMBNAIL_POINTS: usize = 6 + crate::verdict::HUES;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunVerdict {
    /// "wheel", "crumpled", or "failed" (the run's loss went non-finite).
    pub shape: String,
    pub worst_gap_error: Option<f64>,
    pub recon_mse: f64,
    /// The step from which its shape held, judged every [`Onset::EVERY`] steps (on a GPU, a
    /// read-back lands on each) and at the end.
    ///
    /// [`Onset::EVERY`]: crate::verdict::Onset::EVERY
    #[serde(default)]
    pub onset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossSample {
    pub step: u64,
    pub total: f32,
    /// In [`Term::ALL`] order; `None` for terms not computed at that step.
    pub terms: [Option<f32>; Term::COUNT],
}

/// Phase ends the page keeps and shows (the last ones), as does the worker for a branch's new
/// board: a sheet of thousands of phases must not hold thousands of snapshots on either side.
pub(crate) const PHASE_ENDS_KEPT: usize = 60;

/// The latents of a phase's validation set at its end; `latents` and `colors` empty for a
/// phase end that only its event tells of (more ended in one frame than the page keeps).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub phase: String,
    pub step: u64,
    #[serde(with = "serde_bytes")]
    pub latents: Vec<u8>,
    /// Each point's RGB (the phase's validation set), little-endian f32.
    #[serde(with = "serde_bytes")]
    pub colors: Vec<u8>,
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn sheet_problem(e: &DopesheetError) -> JsValue {
    to_js(&crate::element::SheetProblem::from(e))
}

/// Plain JS objects (not `Map`s), `null` for `None`, bytes as `Uint8Array`s (which a worker
/// can hand over to the page without copying).
fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(
            &serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false),
        )
        .unwrap_or(JsValue::NULL)
}

/// Sets `object[key]`; `object` is one of ours, so it takes any key.
fn set(object: &JsValue, key: &str, value: impl Into<JsValue>) {
    js_sys::Reflect::set(object, &key.into(), &value.into()).expect("an object");
}

/// `object[key]`, `undefined` where it has none or is no object.
fn get(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn js_error(message: impl Into<String>) -> JsValue {
    js_sys::Error::new(&message.into()).into()
}

/// The element's parts `selectors` name, in its shadow root: one missing is a fault of the
/// markup, named. The caller knows each part's kind (the markup is a constant of ours).
fn find_parts<const N: usize>(
    root: &web_sys::ShadowRoot,
    selectors: [&str; N],
) -> Result<[web_sys::Element; N], JsValue> {
    let found: Vec<web_sys::Element> = (selectors.iter())
        .map(|selector| find_part(root, selector))
        .collect::<Result<_, _>>()?;
    found
        .try_into()
        .map_err(|_| js_error("the element's markup lost a part"))
}

/// A form control's property (`value`, `checked`, `disabled`, a progress bar's `max`) as JS
/// spells it, written through the object (and read with [`get`]), which spares the module a
/// binding for each kind of control.
#[inline(never)]
fn set_property(el: &web_sys::Element, name: &str, value: impl Into<JsValue>) {
    let _ = js_sys::Reflect::set(el, &name.into(), &value.into());
}

/// A form control's `value`.
fn value(el: &web_sys::Element) -> String {
    get(el, "value").as_string().unwrap_or_default()
}

/// Sets an element's text, only when it changes: each write costs the page a layout.
// Not inlined: the page module is built for speed, and each inlined copy costs it bytes.
#[inline(never)]
fn set_text(el: &web_sys::Element, text: &str) {
    if el.text_content().as_deref() != Some(text) {
        el.set_text_content(Some(text));
    }
}

/// Replaces a menu's choices with `options`, `(label, value)` each.
fn set_options<'a>(
    menu: &web_sys::HtmlSelectElement,
    options: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    menu.set_length(0);
    for (label, value) in options {
        if let Ok(option) = web_sys::HtmlOptionElement::new_with_text_and_value(label, value) {
            let _ = menu.add_with_html_option_element(&option);
        }
    }
}

#[inline(never)]
fn find_part(root: &web_sys::ShadowRoot, selector: &str) -> Result<web_sys::Element, JsValue> {
    (root.query_selector(selector)?)
        .ok_or_else(|| js_error(format!("the element's markup has no {selector}")))
}

/// A sheet's timeline, or its located problem as `{line, column, column_name, message}`.
fn parse(sheet: &str) -> Result<Timeline, JsValue> {
    Dopesheet::parse(sheet)
        .map(|s| Timeline::new(&s))
        .map_err(|e| sheet_problem(&e))
}

/// The hash (`#run=…`) that reopens `run`, a [`SharedRun`] as an object:
/// `{sheet, spec: {seed, latent_dims, batch_size, runs}, parents, versus}` (`parents`:
/// `[{sheet, step}]` where it branched; `versus`: a comparison's second sheet).
#[wasm_bindgen]
pub fn share_hash(run: JsValue) -> Result<String, JsValue> {
    hash_of(&serde_wasm_bindgen::from_value(run)?)
}

fn hash_of(run: &SharedRun) -> Result<String, JsValue> {
    run.check_size()
        .map_err(|e| js_error(format!("this run cannot be shared as a link: {e}")))?;
    Ok(run.to_hash())
}

#[derive(Serialize)]
struct OpenedRun {
    /// Set when the link was made by an older engine: its run may now come out differently.
    note: Option<String>,
    #[serde(flatten)]
    run: SharedRun,
}

impl OpenedRun {
    fn of(run: SharedRun) -> OpenedRun {
        OpenedRun {
            note: run.revision_note(crate::share::ENGINE_REVISION),
            run,
        }
    }
}

/// Whether a remembered choice still holds (the same adapter, at most 30 days old).
#[wasm_bindgen]
pub fn choice_is_current(saved_ms: f64, now_ms: f64, saved_adapter: &str, adapter: &str) -> bool {
    crate::backend_choice::choice_is_current(saved_ms, now_ms, saved_adapter, adapter)
}
