//! The canvases' pointer and keys: [`Gestures`](crate::element::Gestures) decides what each
//! event does, and the board carries it out.

use super::probing::nearest_color;
use super::*;
use crate::element::gestures::{Event, Progress, Response, Surface, Surfaces};

impl Board {
    /// Takes `event` on the `surface` canvas, on a run at `run`'s step: returns what the
    /// element does next.
    pub fn gesture(&mut self, surface: Surface, event: Event, run: Progress) -> Response {
        let mut gestures = std::mem::take(&mut self.gestures);
        let response = gestures.handle(surface, event, run, self);
        self.gestures = gestures;
        response
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

    /// Probes the grid point drawn nearest to (`x`, `y`) (CSS pixels on the latent canvas),
    /// if one is within reach of the pointer.
    fn probe_at(&mut self, x: f64, y: f64) -> bool {
        let at = (x as f32, y as f32);
        let (_, latents, _) = self.shown_moment();
        let point = latent_panels(self.latents_css)
            .find(|(area, _)| area.contains(at.0, at.1))
            .and_then(|(area, pair)| {
                let panel = panel_map(area, pair);
                let radius = plot::point_radius(panel.plot.w);
                probe::nearest_point(&panel, latents, self.dims, at, radius, PROBE_REACH)
            });
        if let Some(i) = point {
            self.set_probe(Some(ProbeTarget::Point(i)));
        }
        point.is_some()
    }

    /// Moves the probe through the 10×10×10 RGB grid, `delta` points at a time (1 steps blue,
    /// 10 green, 100 red), wrapping. A probe not on a grid point starts at red.
    fn probe_step(&mut self, delta: i32) {
        let n = (self.colors.len() / 3) as i64;
        let next = match self.probe {
            Some(ProbeTarget::Point(i)) => (i as i64 + delta as i64).rem_euclid(n) as usize,
            _ => nearest_color(&self.colors, [1.0, 0.0, 0.0]),
        };
        self.set_probe(Some(ProbeTarget::Point(next)));
    }

    /// Probes any colour (channels in [0, 1]): its latent is marked in every panel, wherever
    /// the model puts it as it trains.
    fn probe_color(&mut self, rgb: [f64; 3]) {
        let rgb = rgb.map(|v| v.clamp(0.0, 1.0) as f32);
        self.set_probe(Some(ProbeTarget::Color(rgb)));
    }

    fn probe_clear(&mut self) {
        self.set_probe(None);
    }

    fn turn(&mut self, dx: f64, dy: f64) {
        self.orbit.drag(dx as f32, dy as f32, self.dome_css.0);
    }

    /// The arrow keys turn the 3-D view by a tenth of a half turn.
    fn turn_key(&mut self, key: &str) -> bool {
        let step = self.dome_css.0 / 10.0;
        let (dx, dy) = match key {
            "ArrowLeft" => (-step, 0.0),
            "ArrowRight" => (step, 0.0),
            "ArrowUp" => (0.0, -step),
            "ArrowDown" => (0.0, step),
            _ => return false,
        };
        self.orbit.drag(dx, dy, self.dome_css.0);
        true
    }

    fn turn_home(&mut self) {
        self.orbit = Orbit::HOME;
    }
}
