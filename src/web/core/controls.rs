//! The element's controls: every event in its shadow root comes here, and
//! [`controls::command`](crate::element::controls::command) says what it does.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::ElementCore;
use crate::element::controls::{command, Command, Part};
use crate::element::engines::Failure;
use crate::element::gestures::{Event, Input, Progress, Surface};
use crate::web::element::error_text;
use crate::web::{find_part, get, value};

/// A pause in typing this long ends one edit, for Undo.
const EDIT_PAUSE_MS: f64 = 700.0;

/// The part of the element `found` is, with the names it is known by.
fn part_of(found: &Element) -> Option<(&'static str, String)> {
    for kind in ["data-action", "data-field", "data-canvas"] {
        if let Some(name) = found.get_attribute(kind) {
            return Some((kind, name));
        }
    }
    Some(("fold", found.class_name()))
}

/// An event's number (`clientX`) or flag (`repeat`), as the DOM gives it.
fn number(event: &JsValue, name: &str) -> f64 {
    get(event, name).as_f64().unwrap_or(0.0)
}

impl ElementCore {
    /// The pointer's place on `canvas`, in CSS pixels from its corner, and the canvas's size.
    fn on_canvas(canvas: &Element, event: &JsValue) -> (f64, f64, f64, f64) {
        let box_ = canvas.get_bounding_client_rect();
        let (x, y) = (number(event, "clientX"), number(event, "clientY"));
        (x - box_.left(), y - box_.top(), box_.width(), box_.height())
    }

    /// Typing in A's editor: one edit until the reader pauses, and a long sheet is checked
    /// only then.
    fn typed_in_a(&self) {
        let long = self.typed();
        let typing = {
            let mut shown = self.shown();
            shown.typing += 1;
            shown.typing
        };
        let core = self.twin();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(core.js().sleep(EDIT_PAUSE_MS)).await;
            if core.shown().typing == typing {
                core.record_edit();
                if long {
                    core.shown().editor.validate();
                }
            }
        });
    }

    /// The pointer, a key or the probe's colour on a canvas the board handles: the board says
    /// what it does ([`Gestures`](crate::element::Gestures)).
    fn gesture(&self, canvas: &Element, surface: Surface, input: Input, event: &web_sys::Event) {
        let e: &JsValue = event;
        let mut key = get(e, "key").as_string().unwrap_or_default();
        let canvas = match input {
            Input::Color => {
                key = value(canvas);
                match find_part(&self.shown().root, "[data-canvas=latents]") {
                    Ok(latents) => latents,
                    Err(_) => return,
                }
            }
            _ => canvas.clone(),
        };
        let box_ = canvas.get_bounding_client_rect();
        let client = (number(e, "clientX"), number(e, "clientY"));
        let touch = get(e, "pointerType").as_string().as_deref() == Some("touch");
        let mut shown = self.shown();
        let run =
            (shown.last_frame.as_ref()).map_or(Progress { step: 0, total: 0 }, |p| Progress {
                step: p.step,
                total: p.total_steps,
            });
        let Some(board) = &mut shown.board else {
            return;
        };
        let event_at = Event {
            input,
            x: client.0 - box_.left(),
            y: client.1 - box_.top(),
            client,
            key: &key,
            touch,
        };
        let r = board.gesture(surface, event_at, run);
        if r.branch_moved {
            shown.editor.set_branch_point(r.branch_at);
        }
        if let Some(value) = r.value_now {
            let _ = canvas.set_attribute("aria-valuenow", &value.to_string());
        }
        shown.dirty |= r.redraw;
        drop(shown);
        if r.taken {
            event.prevent_default();
        }
        if r.capture {
            let _ = canvas.set_pointer_capture(number(e, "pointerId") as i32);
        }
    }
}

#[wasm_bindgen]
impl ElementCore {
    /// Any event in the element's shadow root (the page listens in the capture phase, so
    /// events that do not bubble come too).
    pub fn handle(&self, event: web_sys::Event) {
        let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
        let found = target.and_then(|t| {
            t.closest("[data-action],[data-field],[data-canvas],details")
                .ok()?
        });
        let Some((found, (kind, name))) = found.and_then(|f| Some((f.clone(), part_of(&f)?)))
        else {
            return;
        };
        let part = match kind {
            "data-action" => Part::Action(&name),
            "data-field" => Part::Field(&name),
            "data-canvas" => Part::Canvas(&name),
            _ => Part::Fold(&name),
        };
        let e: &JsValue = &event;
        let key = get(e, "key").as_string().unwrap_or_default();
        let repeat = get(e, "repeat").as_bool() == Some(true);
        let Some(command) = command(&event.type_(), part, &key, repeat) else {
            return;
        };
        match command {
            Command::Toggle if self.playing() => self.pause(),
            Command::Toggle => self.play(),
            Command::Step => {
                self.pause();
                self.js().post("step", None);
            }
            Command::Reset => self.background(async |core| core.reset_flow().await),
            Command::Apply { live } => {
                let (sheet, versus) = {
                    let shown = self.shown();
                    (shown.editor.text(), shown.editor.versus())
                };
                // A sheet's problem is named under the editor.
                let core = self.twin();
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = core.apply_flow(sheet, live, versus).await;
                });
            }
            Command::Branch => self.background(async |core| core.branch_flow().await),
            Command::Undo { back } => self.undo(back),
            Command::Video => self.background(async |core| core.video_flow().await),
            Command::RunGrid => self.background(async |core| core.grid_flow().await),
            Command::OpenCell => {
                let (x, y, _, _) = Self::on_canvas(&found, e);
                if let Some(sheet) = self.cell_sheet(x, y) {
                    self.background(async move |core| core.open_cell(sheet).await);
                }
            }
            Command::DescribeCell => {
                let (x, y, _, _) = Self::on_canvas(&found, e);
                let _ = found.set_attribute("title", &self.grid_title(x, y));
            }
            Command::OpenSeed => {
                let (x, y, w, h) = Self::on_canvas(&found, e);
                let seed = self.sweep_seed_at(x, y, w, h);
                if let Some(seed) = seed {
                    self.background(async move |core| core.open_runs(1, seed as u64).await);
                }
            }
            Command::OpenRuns => {
                let runs: u32 = value(&found).parse().unwrap_or(1);
                self.background(async move |core| {
                    let seed = core.asked()?.read().0.spec.seed;
                    core.open_runs(runs, seed).await
                });
            }
            Command::Compare => self.compare_toggled(),
            Command::Typed { sheet_a: true } => self.typed_in_a(),
            Command::Typed { sheet_a: false } => {
                self.typed();
            }
            Command::PickSheet => {
                // A sheet that cannot be had is named in the notice; the run goes on.
                let (core, name) = (self.twin(), value(&found));
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(Failure::Problem(p)) = core.pick_sheet(name).await {
                        core.notify(&p);
                    }
                });
            }
            Command::Speed => {
                let speed = value(&found).parse().unwrap_or(1.0);
                self.js().post("speed", Some(speed));
            }
            Command::DecoderMap => {
                self.set_decoder_map(get(&found, "checked").as_bool() == Some(true))
            }
            Command::DomeAxes => self.set_dome_axes(&value(&found)),
            Command::Gesture(surface, input) => self.gesture(&found, surface, input, &event),
            Command::Redraw => self.redraw(),
            Command::GridMenus => {
                let (root, sheet) = {
                    let shown = self.shown();
                    (shown.root.clone(), shown.editor.text())
                };
                if let Err(e) = crate::web::show_grid_menus(&root, &sheet) {
                    self.fail(&error_text(&e));
                }
            }
            Command::Share { embed } => self.share_link(embed),
            Command::Download(what) => self.background(async move |core| core.download(what).await),
        }
    }
}
