//! The canvases' pointer and keys: [`Gestures`](crate::element::Gestures) decides what each
//! event does, and the board carries it out.

use super::*;
use crate::element::gestures::{Event, Input, Progress, Surface, Surfaces};

#[wasm_bindgen]
impl Board {
    /// Takes an event on the `surface` canvas (its `data-canvas` name) of DOM type `kind`, at
    /// (`client_x`, `client_y`) CSS pixels in the viewport on a canvas whose corner is at
    /// (`left`, `top`), with its `key` (for the probe's colour input, kind `color`: its
    /// `#rrggbb`), on a run at `step` of `total`. Returns what the
    /// element does next: `{taken, capture, redraw, branch_moved, branch_at, value_now}`
    /// (`Response` in src/element/gestures.rs); undefined for an event no canvas takes.
    #[allow(clippy::too_many_arguments)]
    pub fn gesture(
        &mut self,
        surface: &str,
        kind: &str,
        client_x: f64,
        client_y: f64,
        left: f64,
        top: f64,
        key: &str,
        touch: bool,
        step: f64,
        total: f64,
    ) -> JsValue {
        let (Some(surface), Some(input)) = (Surface::from_name(surface), Input::from_type(kind))
        else {
            return JsValue::UNDEFINED;
        };
        let event = Event {
            input,
            x: client_x - left,
            y: client_y - top,
            client: (client_x, client_y),
            key,
            touch,
        };
        let run = Progress {
            step: step as u64,
            total: total as u64,
        };
        let mut gestures = std::mem::take(&mut self.gestures);
        let response = gestures.handle(surface, event, run, self);
        self.gestures = gestures;
        to_js(&response)
    }

    /// Whether the schedule is being dragged.
    pub fn scrubbing(&self) -> bool {
        self.gestures.scrubbing()
    }
}

impl Surfaces for Board {
    fn step_at(&self, x: f64) -> u64 {
        self.timeline_axis.map_or(0, |axis| axis.step_at(x as f32))
    }

    fn look_back(&mut self, step: Option<u64>) {
        self.scrub = step;
    }

    /// The run's step count ([`Frame::step`]'s: steps trained) at the latents shown (the
    /// recorded moment nearest the scrubbed step, at or before it).
    fn looked_back_step(&self) -> Option<u64> {
        self.scrub?;
        // A moment is labelled by the last step trained into it.
        self.shown_moment().0.map(|s| s + 1)
    }

    fn probe_at(&mut self, x: f64, y: f64) -> bool {
        Board::probe_at(self, x, y)
    }

    fn probe_step(&mut self, delta: i32) {
        Board::probe_step(self, delta)
    }

    fn probe_color(&mut self, [r, g, b]: [f64; 3]) {
        Board::probe_color(self, r, g, b)
    }

    fn probe_clear(&mut self) {
        Board::probe_clear(self)
    }

    fn turn(&mut self, dx: f64, dy: f64) {
        self.turn_dome(dx, dy)
    }

    fn turn_key(&mut self, key: &str) -> bool {
        self.turn_dome_key(key)
    }

    fn turn_home(&mut self) {
        self.reset_dome()
    }
}
