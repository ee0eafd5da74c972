//! The drawing half: on the page's thread, fed [`Frame`]s by the worker.

use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::canvas::{canvas_size, css_size, with_canvas, with_canvas_pixels, LayeredCanvas};
use super::sweep_view::SweepView;
use super::{from_bytes, now, parse, Frame, LossSample, ShownOnset};
use crate::data::ColorCube;
use crate::dome::{self, DomeAxes, Orbit};
use crate::element::Gestures;
use crate::geometry::Geometry;
use crate::plot::{
    self, Align, PanelMap, PhaseSnapshot, PointCloud, Raster, Rect, Rgba, StepAxis, Surface,
};
use crate::probe::{self, Reading};
use crate::readout;
use crate::run::Losses;
use crate::step::loss::{PerTerm, Term};
use crate::timeline::Timeline;
use crate::verdict::HUES;

mod export;
mod gestures;
mod inside;
mod probing;
mod view;

use probing::mark_probe;

/// Latent snapshots kept for scrubbing: 1,000 points × E floats each; halved when full.
const HISTORY_LIMIT: usize = 1200;
/// Phase ends the strip shows (the last ones): 20 rows of three.
const STRIP_LIMIT: usize = super::PHASE_ENDS_KEPT;
/// Height of a strip row's labels, CSS pixels.
const STRIP_LABEL_H: f32 = 14.0;
/// Loss samples kept for the chart; halved when full.
const LOSS_LIMIT: usize = 4000;
/// The exported figure: the CLI's phase-history grid, a row per phase end (the last
/// [`FIGURE_ROWS`] of them) and one for the step shown, each row this many pixels by 3 × it.
const FIGURE_ROW: u32 = 500;
const FIGURE_ROWS: usize = 11;

/// The decoder map is recomputed at most this often while training: a few frames' worth,
/// so the map costs the frame loop little (a recomputation decodes a few thousand latents).
const DECODER_MAP_INTERVAL_MS: f64 = 150.0;
/// The phase strip is redrawn at most this often while phase ends come in: a sheet of
/// thousands of short phases would otherwise redraw its every panel on every frame.
const STRIP_INTERVAL_MS: f64 = 250.0;
/// How far (CSS pixels) from a dot a pointer may be and still probe it.
const PROBE_REACH: f32 = 14.0;
/// A probe's ring around its point.
const PROBE_RING: Rgba = [255, 255, 255, 255];
const PROBE_RING_SHADOW: Rgba = [0, 0, 0, 200];
/// The outline dots get over the decoder map, where a well-decoded dot is the map's colour.
const DOT_OUTLINE: f32 = 0.1;

/// A moment of the shown run kept for scrubbing: its latents and the weights that made them.
struct Moment {
    step: u64,
    latents: Vec<f32>,
    params: Vec<f32>,
}

/// What the probe looks at: a point of the RGB grid, or any colour the picker chose.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ProbeTarget {
    Point(usize),
    Color([f32; 3]),
}

/// The probe's reading as the page shows it.
struct ProbeView {
    /// CSS colours for the two swatches.
    input_css: String,
    output_css: String,
    /// One line for the readout and screen readers.
    text: String,
}

/// The decoder map's colours per latent panel, and what they were computed for.
struct DecoderMaps {
    key: (u64, Option<u64>, usize, usize),
    made_at: f64,
    cells: usize,
    maps: Vec<Option<Vec<[f32; 3]>>>,
}

/// A chart that costs more to draw than a frame has (the loss chart repaints thousands of
/// segments, the geometry panel a 36 × 36 matrix): redrawn when what it shows changes, at most
/// every [`Throttled::INTERVAL_MS`] while training (ten a second reads as live), and every
/// frame while scrubbing.
struct Throttled<K> {
    /// What it last showed, and when it was drawn.
    shown: Option<K>,
    drawn_at: f64,
}

/// Whether a [`Throttled`] chart is drawn this frame.
enum Redraw {
    /// Now, at this time.
    Now(f64),
    /// Not yet: it changed, but was drawn too lately.
    Later,
    /// It shows what it showed.
    Unchanged,
}

impl<K: PartialEq> Throttled<K> {
    const INTERVAL_MS: f64 = 100.0;

    fn new() -> Self {
        Throttled {
            shown: None,
            drawn_at: f64::NEG_INFINITY,
        }
    }

    fn due(&self, key: &K, scrubbing: bool) -> Redraw {
        if self.shown.as_ref() == Some(key) {
            return Redraw::Unchanged;
        }
        let t = now();
        match scrubbing || t - self.drawn_at >= Self::INTERVAL_MS {
            true => Redraw::Now(t),
            false => Redraw::Later,
        }
    }

    fn drew(&mut self, key: K, at: f64) {
        self.shown = Some(key);
        self.drawn_at = at;
    }
}

/// What the page has been sent and drew, kept between frames.
pub struct Board {
    timeline: Timeline,
    colors: Vec<f32>,
    dims: usize,
    /// The step the live latents belong to (`None`: the initial weights).
    shown: Option<u64>,
    latents: Vec<f32>,
    losses: Option<LossSample>,
    loss_history: Vec<LossSample>,
    /// A comparison's second sheet (B): its schedule, and its first run's losses.
    versus: Option<Timeline>,
    versus_losses: Vec<LossSample>,
    /// The live latents' weights.
    params: Vec<f32>,
    history: Vec<Moment>,
    /// The last [`STRIP_LIMIT`] phase ends.
    snapshots: Vec<PhaseSnapshot>,
    /// Phase ends the run has passed, those no longer kept included.
    phase_ends_seen: u64,
    /// When the strip was last drawn (`performance.now()`).
    strip_drawn_at: f64,
    scrub: Option<u64>,
    timeline_axis: Option<StepAxis>,
    /// What the schedule canvas last showed: it is redrawn only when that changes (its
    /// playhead is a DOM overlay the page moves).
    schedule_key: Option<(u64, u32, u32, Option<ShownOnset>)>,
    /// The shown run's verdict and the step from which it has held, as last judged.
    onset: Option<ShownOnset>,
    /// The loss chart, keyed by its samples, scrub and size.
    losses_chart: Throttled<(usize, Option<u64>, u32, u32)>,
    /// The latent panels and the phase strip: frames, axes and titles cached, points
    /// rasterised in wasm.
    latent_canvas: LayeredCanvas,
    strip_canvas: LayeredCanvas,
    /// Bumped whenever the schedule changes.
    generation: u64,
    /// The frame and step rates the readout shows.
    rates: readout::Rates,
    /// Where the run shown stands, as its last frame said.
    progress: view::Progress,
    /// Every seed's thumbnail and verdict, when several train at once.
    sweep: Option<SweepView>,
    /// Whether the last frame of the run shown said it was done.
    finished: bool,
    /// Bumped whenever the live latents change; with the scrub and the canvas size it says
    /// whether the latent panels need drawing again (frames from a sweep's other workers
    /// bring none).
    latents_version: u64,
    latents_drawn: Option<LatentsKey>,
    /// The latent canvas's CSS size when last drawn: where its panels are, for the probe.
    latents_css: (f32, f32),
    probe: Option<ProbeTarget>,
    probe_version: u64,
    /// A drag, a look back with the keys or a pinned probe in progress.
    gestures: Gestures,
    decoder_map: bool,
    decoder_maps: Option<DecoderMaps>,
    outline_colors: Vec<f32>,
    /// The 3-D view: which axes, how it is turned, its canvas and what it last showed.
    dome_axes: DomeAxes,
    orbit: Orbit,
    dome_canvas: LayeredCanvas,
    dome_drawn: Option<DomeKey>,
    dome_css: (f32, f32),
    /// The hues' participation ratio at each moment that arrived, for the geometry panel.
    ratio_history: Vec<(u64, f64)>,
    geometry_chart: Throttled<LatentsKey>,
    hues: Vec<f32>,
    /// The element's canvases and the parts beside them that the board writes to.
    view: Option<view::View>,
}

impl Board {
    /// The height (CSS pixels) the phase strip needs at `width`: a row per three phase ends.
    fn strip_height(&self, width: f64) -> f64 {
        let rows = self.snapshots.len().clamp(1, STRIP_LIMIT).div_ceil(3);
        rows as f64 * (width / 9.0 + STRIP_LABEL_H as f64)
    }

    /// Where the playhead (the shown step) sits on the schedule chart, in CSS pixels from its
    /// left edge: an overlay, so the chart itself is drawn once.
    fn playhead_x(&self) -> f64 {
        let step = self.scrub.or(self.shown).unwrap_or(0);
        self.timeline_axis
            .map_or(0.0, |axis| axis.x(step as f64) as f64)
    }
}

/// What the 3-D view last showed.
type DomeKey = (u64, Option<u64>, (u32, u32), DomeAxes, [u32; 2]);

/// What the latent panels last showed: they are drawn again when any of it changes.
type LatentsKey = (u64, Option<u64>, (u32, u32), u64, bool);

impl Board {
    /// A board for a run of `sheet` (which must be valid) with `dims` latent dimensions, drawn
    /// in the element whose shadow root is `root`.
    pub fn new(sheet: &str, dims: u32, root: &web_sys::ShadowRoot) -> Result<Board, JsValue> {
        Ok(Board {
            timeline: parse(sheet)?,
            colors: ColorCube::rgb_grid().rgb_f32(),
            dims: dims as usize,
            shown: None,
            latents: Vec::new(),
            losses: None,
            loss_history: Vec::new(),
            params: Vec::new(),
            history: Vec::new(),
            snapshots: Vec::new(),
            phase_ends_seen: 0,
            strip_drawn_at: f64::NEG_INFINITY,
            scrub: None,
            timeline_axis: None,
            schedule_key: None,
            versus: None,
            versus_losses: Vec::new(),
            onset: None,
            losses_chart: Throttled::new(),
            latent_canvas: LayeredCanvas::default(),
            strip_canvas: LayeredCanvas::default(),
            generation: 0,
            rates: readout::Rates::default(),
            progress: view::Progress::default(),
            sweep: None,
            finished: false,
            latents_version: 0,
            latents_drawn: None,
            latents_css: (1.0, 1.0),
            probe: None,
            probe_version: 0,
            gestures: Gestures::default(),
            decoder_map: false,
            decoder_maps: None,
            outline_colors: vec![DOT_OUTLINE; ColorCube::rgb_grid().len() * 3],
            dome_axes: DomeAxes::Height(2),
            orbit: Orbit::HOME,
            dome_canvas: LayeredCanvas::default(),
            dome_drawn: None,
            dome_css: (1.0, 1.0),
            ratio_history: Vec::new(),
            geometry_chart: Throttled::new(),
            hues: ColorCube::hues(HUES).rgb_f32(),
            view: Some(view::View::find(root)?),
        })
    }

    /// Shows a new schedule (a fresh run also calls [`Board::clear`]).
    pub fn set_sheet(&mut self, sheet: &str) -> Result<(), JsValue> {
        self.timeline = parse(sheet)?;
        self.generation += 1;
        Ok(())
    }

    /// A comparison's second sheet (B), or none: the schedule chart shades where it differs
    /// from the run's, and the loss chart draws its losses faintly.
    pub fn set_versus(&mut self, sheet: Option<String>) -> Result<(), JsValue> {
        self.versus = sheet.as_deref().map(parse).transpose()?;
        self.generation += 1;
        Ok(())
    }

    /// Forgets the run so far (a reset).
    pub fn clear(&mut self) {
        self.shown = None;
        self.onset = None;
        // A range's loop or a look back belonged to the old run.
        self.scrub = None;
        self.gestures.back_to_live();
        self.latents.clear();
        self.params.clear();
        self.ratio_history.clear();
        self.decoder_maps = None;
        self.latents_version += 1;
        self.losses = None;
        self.loss_history.clear();
        self.versus_losses.clear();
        self.history.clear();
        self.snapshots.clear();
        self.phase_ends_seen = 0;
        self.sweep = None;
        self.finished = false;
        // A new run's first snapshot must not pass for the old run's.
        self.strip_canvas.invalidate();
    }

    /// Takes in a frame from a worker. Returns whether it is the shown run's (false for
    /// another worker's part of a sweep, which brings only its runs' thumbnails and
    /// verdicts).
    pub fn accept(&mut self, frame: &Frame) -> bool {
        let versus = frame.versus.as_ref();
        if let Some(sweep) = &frame.sweep {
            let view = self.sweep.get_or_insert_with(SweepView::new);
            let versus_sweep = versus.and_then(|v| v.sweep.as_ref());
            view.accept(sweep, versus_sweep, frame.dims, frame.finished);
            if sweep.first_run > 0 {
                return false;
            }
        }
        self.dims = frame.dims;
        self.finished = frame.finished;
        self.progress.took(frame);
        self.onset = frame.onset.clone();
        for snap in &frame.snapshots {
            self.phase_ends_seen += 1;
            if snap.latents.is_empty() {
                continue;
            }
            self.snapshots.push(PhaseSnapshot {
                phase: snap.phase.clone(),
                step: snap.step,
                latents: from_bytes(&snap.latents),
                dims: frame.dims,
                colors: from_bytes(&snap.colors),
            });
        }
        let over = self.snapshots.len().saturating_sub(STRIP_LIMIT);
        self.snapshots.drain(..over);
        if let Some(l) = frame.losses {
            self.losses = Some(l);
            push_bounded(&mut self.loss_history, l, LOSS_LIMIT);
        }
        if let Some(l) = versus.and_then(|v| v.losses) {
            push_bounded(&mut self.versus_losses, l, LOSS_LIMIT);
        }
        if !frame.latents.is_empty() {
            self.latents = from_bytes(&frame.latents);
            self.params = from_bytes(&frame.parameters);
            self.latents_version += 1;
            self.shown = frame.shown;
            let step = frame.shown.unwrap_or(0);
            if !self.params.is_empty() && self.ratio_history.last().is_none_or(|h| h.0 < step) {
                let ratio = self.geometry_of(&self.params).participation_ratio;
                push_bounded(&mut self.ratio_history, (step, ratio), LOSS_LIMIT);
            }
            if self.history.last().is_none_or(|m| m.step < step) {
                let moment = Moment {
                    step,
                    latents: self.latents.clone(),
                    params: self.params.clone(),
                };
                push_bounded(&mut self.history, moment, HISTORY_LIMIT);
            }
        }
        true
    }

    /// Whether the run is done: a sweep when every worker's part of it is.
    pub fn finished(&self) -> bool {
        self.sweep
            .as_ref()
            .map_or(self.finished, SweepView::finished)
    }

    /// The seed whose thumbnail is under (`x`, `y`) on a `w` × `h` sweep canvas (CSS pixels).
    pub fn sweep_seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u32> {
        self.sweep
            .as_ref()
            .and_then(|v| v.seed_at(x, y, w, h))
            .map(|s| s as u32)
    }

    /// `(crumpled, judged)` over the sweep's runs judged so far (`(0, 0)` for a single run).
    pub fn sweep_counts(&self) -> (u32, u32) {
        self.sweep.as_ref().map_or((0, 0), |v| {
            let (k, n) = v.counts();
            (k as u32, n as u32)
        })
    }

    /// The sweep's table as CSV: seed, verdict, worst gap error, reconstruction MSE.
    pub fn sweep_csv(&self) -> String {
        self.sweep.as_ref().map_or(String::new(), SweepView::csv)
    }

    /// A copy of the latest latents of the 1,000-colour RGB grid (`1000 × dims`).
    pub fn latents(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.latents.as_slice())
    }

    /// `{step, total, terms: {name: value}}` of the latest losses, or null.
    pub fn losses(&self) -> JsValue {
        let Some(l) = self.losses else {
            return JsValue::NULL;
        };
        let obj = js_sys::Object::new().into();
        super::set(&obj, "step", l.step as f64);
        super::set(&obj, "total", l.total as f64);
        let terms = js_sys::Object::new().into();
        for (term, value) in Term::ALL.into_iter().zip(l.terms) {
            if let Some(v) = value {
                super::set(&terms, term.column(), v as f64);
            }
        }
        super::set(&obj, "terms", terms);
        obj
    }

    /// Shows the recorded latents nearest to `step` (≤ it) instead of the live ones.
    pub fn scrub(&mut self, step: u64) {
        self.scrub = Some(step);
    }

    /// Draws the live (or scrubbed) latent panels, the phase strip, the schedule and the loss
    /// curves. Returns whether a redraw was put off (the loss chart or the strip waits out its
    /// interval): [`Board::render`] tries again on a later frame.
    fn draw(
        &mut self,
        latents: &HtmlCanvasElement,
        strip: &HtmlCanvasElement,
        schedule: &HtmlCanvasElement,
        losses: &HtmlCanvasElement,
    ) -> bool {
        let mut deferred = false;
        {
            let canvas = latents;
            let key = (
                self.latents_version,
                self.scrub,
                canvas_size(canvas),
                self.probe_version,
                self.decoder_map,
            );
            if self.latents_drawn.replace(key) != Some(key) && !self.draw_latents(canvas) {
                // The decoder map waits out its interval: draw again on a later frame.
                self.latents_drawn = None;
                deferred = true;
            }
        }
        {
            let canvas = strip;
            // Nothing on the strip moves: it is drawn only when a phase ends or it resizes.
            if !self.strip_canvas.is_current(canvas, self.phase_ends_seen) {
                let t = now();
                if self.finished || t - self.strip_drawn_at >= STRIP_INTERVAL_MS {
                    self.strip_drawn_at = t;
                    self.draw_strip(canvas);
                } else {
                    deferred = true;
                }
            }
        }
        {
            let canvas = schedule;
            let (pw, ph) = canvas_size(canvas);
            let key = (self.generation, pw, ph, self.onset.clone());
            if self.schedule_key.as_ref() != Some(&key) {
                self.schedule_key = Some(key);
                let mut axis = None;
                with_canvas(canvas, |surface, w, h| {
                    let area = Rect::new(0.0, 0.0, w, h);
                    let chart = plot::timeline_chart(surface, area, &self.timeline);
                    let differs = (self.versus.as_ref()).and_then(|b| self.timeline.differences(b));
                    if let Some((first, last)) = differs {
                        plot::difference_band(surface, &chart, first, last);
                    }
                    if let Some(onset) = &self.onset {
                        plot::onset_marker(surface, &chart, &onset.shape, onset.step);
                    }
                    axis = Some(chart);
                });
                self.timeline_axis = axis;
            }
        }
        {
            let canvas = losses;
            let (pw, ph) = canvas_size(canvas);
            let key = (
                self.loss_history.len() + self.versus_losses.len(),
                self.scrub,
                pw,
                ph,
            );
            match self.losses_chart.due(&key, self.scrub.is_some()) {
                Redraw::Now(t) => {
                    self.draw_losses(canvas);
                    self.losses_chart.drew(key, t);
                }
                Redraw::Later => deferred = true,
                Redraw::Unchanged => {}
            }
        }
        deferred
    }
}

impl Board {
    /// The shown moment: the scrubbed one from the history, or the live one. Returns
    /// `(step, latents, weights)`.
    fn shown_moment(&self) -> (Option<u64>, &[f32], &[f32]) {
        let live = (self.shown, self.latents.as_slice(), self.params.as_slice());
        let Some(target) = self.scrub else {
            return live;
        };
        let i = (self.history)
            .partition_point(|m| m.step <= target)
            .saturating_sub(1);
        self.history.get(i).map_or(live, |m| {
            (Some(m.step), m.latents.as_slice(), m.params.as_slice())
        })
    }

    /// The decoder map for the shown moment, recomputed when it is stale and the interval has
    /// passed. Returns whether the maps are current.
    fn refresh_decoder_maps(&mut self, cells: usize) -> bool {
        let key = (self.latents_version, self.scrub, self.dims, cells);
        let (_, _, params) = self.shown_moment();
        if params.is_empty() {
            self.decoder_maps = None;
            return true;
        }
        let t = now();
        if let Some(maps) = &self.decoder_maps {
            let current = maps.key == key;
            if current || (maps.cells == cells && t - maps.made_at < DECODER_MAP_INTERVAL_MS) {
                return current;
            }
        }
        let dims = self.dims;
        let centre = probe::hue_centre(params, dims);
        let maps = (plot::DIM_PAIRS.iter())
            .map(|&pair| {
                (pair.1 < dims).then(|| {
                    let extent = plot::LATENT_EXTENT;
                    probe::decoder_map(params, dims, pair, &centre, extent, cells)
                })
            })
            .collect();
        self.decoder_maps = Some(DecoderMaps {
            key,
            made_at: t,
            cells,
            maps,
        });
        true
    }

    /// Returns false when the decoder map shown is stale (it is recomputed at most every
    /// [`DECODER_MAP_INTERVAL_MS`]).
    fn draw_latents(&mut self, canvas: &HtmlCanvasElement) -> bool {
        let css = css_size(canvas);
        self.latents_css = css;
        let dims = self.dims.max(1);
        let mut current = true;
        if self.decoder_map {
            let plot_w = panel_map(latent_panels(css).next().expect("three panels").0, (0, 1))
                .plot
                .w;
            current = self.refresh_decoder_maps((plot_w / 4.0).clamp(16.0, 64.0) as usize);
        }
        let maps = (self.decoder_map)
            .then_some(self.decoder_maps.as_ref())
            .flatten();
        // Taken out while the shown moment is borrowed from the rest of the board.
        let mut layers = std::mem::take(&mut self.latent_canvas);
        let (shown, latents, params) = self.shown_moment();
        let cloud = PointCloud {
            latents,
            dims,
            colors: &self.colors,
        };
        let outline = PointCloud {
            colors: &self.outline_colors,
            ..cloud
        };
        // Where the probe is in latent space: a grid point's own latent, or a picked colour
        // run through the shown weights.
        let probed: Option<(Vec<f32>, Option<[f32; 3]>)> = match self.probe {
            Some(ProbeTarget::Point(i)) => {
                (latents.get(i * dims..(i + 1) * dims)).map(|z| (z.to_vec(), None))
            }
            Some(ProbeTarget::Color(rgb)) if !params.is_empty() => {
                Some((Reading::of(params, dims, rgb).latent, Some(rgb)))
            }
            _ => None,
        };
        let scrubbed = self.scrub.is_some();
        layers.draw(
            canvas,
            dims as u64,
            |surface, w, h| {
                for (area, pair) in latent_panels((w, h)) {
                    let title = plot::pair_title(pair);
                    plot::latent_frame(
                        surface,
                        area,
                        dims,
                        pair,
                        plot::LATENT_EXTENT,
                        Some(&title),
                    );
                }
            },
            |raster, dpr, w, h| {
                for (p, (area, pair)) in latent_panels((w, h)).enumerate() {
                    let panel = panel_map(area, pair);
                    if let Some(map) = maps.and_then(|m| m.maps[p].as_deref()) {
                        paint_decoder_map(raster, dpr, &panel, map);
                        draw_points(raster, dpr, area, true, outline, pair, 1.2);
                    }
                    draw_points(raster, dpr, area, true, cloud, pair, 1.0);
                    if let Some((z, color)) = &probed {
                        mark_probe(raster, dpr, &panel, dims, z, *color);
                    }
                }
            },
            |surface, w, h| {
                let label = match (shown, scrubbed) {
                    (None, _) => "initial weights".to_string(),
                    (Some(step), true) => format!("step {step} (history)"),
                    (Some(step), false) => format!("step {step}"),
                };
                surface.text(
                    w - 8.0,
                    h - 10.0,
                    &label,
                    12.0,
                    plot::FAINT_TEXT,
                    Align::Right,
                );
            },
        );
        self.latent_canvas = layers;
        current
    }

    fn draw_strip(&mut self, canvas: &HtmlCanvasElement) {
        // Every phase end kept (the last STRIP_LIMIT), three to a row, each a group of three
        // panels labelled across the group.
        let shown: &[PhaseSnapshot] = &self.snapshots;
        let cells = move |w: f32| {
            let cell = w / 9.0;
            (0..shown.len()).flat_map(move |i| {
                let (row, group) = (i / 3, i % 3);
                let top = row as f32 * (cell + STRIP_LABEL_H) + STRIP_LABEL_H;
                plot::DIM_PAIRS.iter().enumerate().map(move |(j, pair)| {
                    let area = Rect::new((group * 3 + j) as f32 * cell, top, cell, cell)
                        .inset(2.0, 2.0, 2.0, 2.0);
                    (&shown[i], area, *pair)
                })
            })
        };
        let hidden = self.phase_ends_seen - shown.len() as u64;
        self.strip_canvas.draw(
            canvas,
            self.phase_ends_seen,
            |surface, w, h| {
                surface.fill_rect(0.0, 0.0, w, h, plot::FIGURE);
                if shown.is_empty() {
                    surface.text(
                        w / 2.0,
                        h / 2.0,
                        "phase snapshots appear here as each phase ends",
                        12.0,
                        plot::FAINT_TEXT,
                        Align::Center,
                    );
                }
                let cell = w / 9.0;
                // One size for every title, the largest at which each fits its group's width
                // (neighbouring titles never overprint), but no smaller than can be read: a
                // title too long even then has its phase name cut short. The note of phases
                // no longer shown goes with the first where it fits.
                let width = 3.0 * cell * 0.95;
                let longest = (shown.iter())
                    .map(|s| {
                        plot::phase_title(&s.phase, s.step, usize::MAX)
                            .chars()
                            .count()
                    })
                    .max()
                    .unwrap_or(1);
                let size = (width / (longest.max(1) as f32 * 0.6)).clamp(6.0, 11.0);
                let room = ((width / (size * 0.6)) as f64 + 1e-3) as usize;
                for (i, snap) in shown.iter().enumerate() {
                    let mut title = plot::phase_title(&snap.phase, snap.step, room);
                    let note = format!(" · {hidden} earlier not shown");
                    if i == 0 && hidden > 0 && title.chars().count() + note.chars().count() <= room
                    {
                        title += &note;
                    }
                    let (row, group) = (i / 3, i % 3);
                    let center = (group as f32 * 3.0 + 1.5) * cell;
                    let y = row as f32 * (cell + STRIP_LABEL_H) + STRIP_LABEL_H / 2.0;
                    surface.text(center, y, &title, size, plot::TEXT, Align::Center);
                }
                for (snap, area, pair) in cells(w) {
                    plot::latent_frame(surface, area, snap.dims, pair, plot::LATENT_EXTENT, None);
                }
            },
            |raster, dpr, w, _| {
                for (snap, area, pair) in cells(w) {
                    let cloud = PointCloud {
                        latents: &snap.latents,
                        dims: snap.dims,
                        colors: &snap.colors,
                    };
                    draw_points(raster, dpr, area, false, cloud, pair, 1.0);
                }
            },
            |_, _, _| {},
        );
    }

    fn draw_losses(&self, canvas: &HtmlCanvasElement) {
        let series = loss_series(&self.loss_history);
        // B's curves only in a comparison.
        let faint = match self.versus {
            Some(_) => loss_series(&self.versus_losses),
            None => Vec::new(),
        };
        let playhead = self.scrub.or(self.shown).unwrap_or(0);
        with_canvas(canvas, |surface, w, h| {
            plot::loss_chart(
                surface,
                Rect::new(0.0, 0.0, w, h),
                &borrowed(&series),
                &borrowed(&faint),
                self.timeline.len(),
                Some(playhead),
            );
        });
    }
}

/// The total and each term's losses over `history`, as the loss chart takes them.
fn loss_series(history: &[LossSample]) -> Vec<(String, Vec<(u64, f32)>)> {
    let mut series: Vec<(String, Vec<(u64, f32)>)> = vec![("total".into(), Vec::new())];
    series.extend(Term::ALL.map(|t| (t.column().to_string(), Vec::new())));
    for l in history {
        series[0].1.push((l.step, l.total));
        for (i, v) in l.terms.iter().enumerate() {
            if let Some(v) = v {
                series[i + 1].1.push((l.step, *v));
            }
        }
    }
    series
}

/// Named series as the loss chart borrows them.
fn borrowed(series: &[(String, Vec<(u64, f32)>)]) -> Vec<(&str, &[(u64, f32)])> {
    (series.iter())
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect()
}

/// The page's three latent panels on a canvas `w` × `h` CSS pixels: each one's area and
/// dim pair.
fn latent_panels((w, h): (f32, f32)) -> impl Iterator<Item = (Rect, (usize, usize))> {
    let panel_w = w / 3.0;
    // The step's label sits below the third panel's axis labels; panels too small for those
    // (a phone's) keep a band below for it, or it would sit on the points.
    let full = Rect::new(0.0, 0.0, panel_w, h).inset(4.0, 4.0, 4.0, 4.0);
    let band = if plot::has_axis_labels(full) {
        0.0
    } else {
        STEP_LABEL_BAND
    };
    plot::DIM_PAIRS.iter().enumerate().map(move |(i, pair)| {
        let area = Rect::new(i as f32 * panel_w, 0.0, panel_w, h).inset(4.0, 4.0, 4.0, 4.0 + band);
        (area, *pair)
    })
}

/// The height (CSS pixels) of the band below small latent panels that holds the step's label.
const STEP_LABEL_BAND: f32 = 14.0;

/// Where a titled latent panel in `area` puts its points (CSS pixels).
fn panel_map(area: Rect, pair: (usize, usize)) -> PanelMap {
    PanelMap {
        plot: plot::latent_plot_area(area, true),
        pair,
        extent: plot::LATENT_EXTENT,
    }
}

/// Fills a panel's plot square with its decoder map (`cells` × `cells`, from the top row),
/// then draws the unit circle and axes faintly over it, on the backing store's pixels.
fn paint_decoder_map(raster: &mut Raster, dpr: f32, panel: &PanelMap, map: &[[f32; 3]]) {
    let cells = (map.len() as f64).sqrt().round() as usize;
    let p = panel.plot;
    let (x0, y0, size) = (p.x * dpr, p.y * dpr, p.w * dpr);
    let cell = size / cells as f32;
    let edge = |i: usize| (i as f32 * cell).round();
    for (i, color) in map.iter().enumerate() {
        let (row, column) = (i / cells, i % cells);
        let (x, y) = (x0 + edge(column), y0 + edge(row));
        let [r, g, b] = color.map(plot::to_u8);
        let (w, h) = (edge(column + 1) - edge(column), edge(row + 1) - edge(row));
        raster.fill_rect(x, y, w, h, [r, g, b, 255]);
    }
    let faint = [0, 0, 0, 90];
    let centre = panel.to_px(0.0, 0.0);
    let centre = (centre.0 * dpr, centre.1 * dpr);
    raster.line((x0, centre.1), (x0 + size, centre.1), dpr, faint, true);
    raster.line((centre.0, y0), (centre.0, y0 + size), dpr, faint, true);
    let unit = size / (2.0 * panel.extent);
    raster.circle(centre, unit, dpr, faint, true);
}

/// A latent panel's points on the backing store's pixels, for a panel laid out in CSS pixels,
/// their radius scaled by `grow`.
pub(super) fn draw_points(
    raster: &mut Raster,
    dpr: f32,
    area: Rect,
    titled: bool,
    cloud: PointCloud,
    pair: (usize, usize),
    grow: f32,
) {
    let plot = plot::latent_plot_area(area, titled);
    let radius = plot::point_radius(plot.w) * dpr * grow;
    let plot = Rect::new(plot.x * dpr, plot.y * dpr, plot.w * dpr, plot.h * dpr);
    plot::latent_points(raster, plot, cloud, pair, plot::LATENT_EXTENT, radius);
}

/// Appends, halving the resolution (every other entry) when the buffer is full.
fn push_bounded<T>(buffer: &mut Vec<T>, item: T, limit: usize) {
    if buffer.len() >= limit {
        let mut keep = false;
        buffer.retain(|_| {
            keep = !keep;
            keep
        });
    }
    buffer.push(item);
}
