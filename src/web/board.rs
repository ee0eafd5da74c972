//! The drawing half: on the page's thread, fed [`Frame`]s by the worker.

use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::canvas::{canvas_size, with_canvas, LayeredCanvas};
use super::sweep_view::SweepView;
use super::{from_bytes, now, parse, Frame, LossSample};
use crate::data::ColorCube;
use crate::loss::Term;
use crate::plot::{self, Align, PhaseSnapshot, PointCloud, Raster, Rect, StepAxis};
use crate::timeline::Timeline;

/// Latent snapshots kept for scrubbing: 1,000 points × E floats each; halved when full.
const HISTORY_LIMIT: usize = 1200;
/// Phase ends the strip shows (the last ones): 20 rows of three.
const STRIP_LIMIT: usize = 60;
/// Height of a strip row's labels, CSS pixels.
const STRIP_LABEL_H: f32 = 14.0;
/// Loss samples kept for the chart; halved when full.
const LOSS_LIMIT: usize = 4000;
/// The loss chart redraws at most this often while training (a redraw repaints thousands of
/// segments; ten a second reads as live). Scrubbing redraws it every frame.
const LOSS_CHART_INTERVAL_MS: f64 = 100.0;

/// What the page has been sent and drew, kept between frames.
#[wasm_bindgen]
pub struct Board {
    timeline: Timeline,
    colors: Vec<f32>,
    dims: usize,
    /// The step the live latents belong to (`None`: the initial weights).
    shown: Option<u64>,
    latents: Vec<f32>,
    losses: Option<LossSample>,
    loss_history: Vec<LossSample>,
    history: Vec<(u64, Vec<f32>)>,
    snapshots: Vec<PhaseSnapshot>,
    scrub: Option<u64>,
    timeline_axis: Option<StepAxis>,
    /// What the schedule canvas last showed: it is redrawn only when that changes (its
    /// playhead is a DOM overlay the page moves).
    schedule_key: Option<(u64, u32, u32)>,
    /// What the loss chart last showed (samples, scrub, size) and when it was drawn.
    losses_key: Option<(usize, Option<u64>, u32, u32)>,
    losses_drawn_at: f64,
    /// The latent panels and the phase strip: frames, axes and titles cached, points
    /// rasterised in wasm.
    latent_canvas: LayeredCanvas,
    strip_canvas: LayeredCanvas,
    /// Bumped whenever the schedule changes.
    generation: u64,
    /// Every seed's thumbnail and verdict, when several train at once.
    sweep: Option<SweepView>,
    /// Whether the last frame of the run shown said it was done.
    finished: bool,
    /// Bumped whenever the live latents change; with the scrub and the canvas size it says
    /// whether the latent panels need drawing again (frames from a sweep's other workers
    /// bring none).
    latents_version: u64,
    latents_drawn: Option<(u64, Option<u64>, (u32, u32))>,
}

#[wasm_bindgen]
impl Board {
    /// A board for a run of `sheet` (which must be valid) with `dims` latent dimensions.
    #[wasm_bindgen(constructor)]
    pub fn new(sheet: &str, dims: u32) -> Result<Board, JsValue> {
        Ok(Board {
            timeline: parse(sheet)?,
            colors: ColorCube::rgb_grid().rgb_f32(),
            dims: dims as usize,
            shown: None,
            latents: Vec::new(),
            losses: None,
            loss_history: Vec::new(),
            history: Vec::new(),
            snapshots: Vec::new(),
            scrub: None,
            timeline_axis: None,
            schedule_key: None,
            losses_key: None,
            losses_drawn_at: f64::NEG_INFINITY,
            latent_canvas: LayeredCanvas::default(),
            strip_canvas: LayeredCanvas::default(),
            generation: 0,
            sweep: None,
            finished: false,
            latents_version: 0,
            latents_drawn: None,
        })
    }

    /// Shows a new schedule (a fresh run also calls [`Board::clear`]).
    pub fn set_sheet(&mut self, sheet: &str) -> Result<(), JsValue> {
        self.timeline = parse(sheet)?;
        self.generation += 1;
        Ok(())
    }

    /// Forgets the run so far (a reset).
    pub fn clear(&mut self) {
        self.shown = None;
        self.latents.clear();
        self.latents_version += 1;
        self.losses = None;
        self.loss_history.clear();
        self.history.clear();
        self.snapshots.clear();
        self.sweep = None;
        self.finished = false;
        // A new run's first snapshot must not pass for the old run's.
        self.strip_canvas.invalidate();
    }

    /// Takes in a frame from a worker. Returns whether it is the shown run's (false for
    /// another worker's part of a sweep, which brings only its runs' thumbnails and
    /// verdicts).
    pub fn accept(&mut self, frame: JsValue) -> Result<bool, JsValue> {
        let frame: Frame = serde_wasm_bindgen::from_value(frame)?;
        if let Some(sweep) = &frame.sweep {
            let view = self.sweep.get_or_insert_with(SweepView::new);
            view.accept(sweep, frame.dims, frame.finished);
            if sweep.first_run > 0 {
                return Ok(false);
            }
        }
        self.dims = frame.dims;
        self.finished = frame.finished;
        for snap in &frame.snapshots {
            self.snapshots.push(PhaseSnapshot {
                phase: snap.phase.clone(),
                step: snap.step,
                latents: from_bytes(&snap.latents),
                dims: frame.dims,
                colors: from_bytes(&snap.colors),
            });
        }
        if let Some(l) = frame.losses {
            self.losses = Some(l);
            push_bounded(&mut self.loss_history, l, LOSS_LIMIT);
        }
        if !frame.latents.is_empty() {
            self.latents = from_bytes(&frame.latents);
            self.latents_version += 1;
            self.shown = frame.shown;
            let step = frame.shown.unwrap_or(0);
            if self.history.last().is_none_or(|(s, _)| *s < step) {
                push_bounded(
                    &mut self.history,
                    (step, self.latents.clone()),
                    HISTORY_LIMIT,
                );
            }
        }
        Ok(true)
    }

    /// Whether the run is done: a sweep when every worker's part of it is.
    pub fn finished(&self) -> bool {
        self.sweep
            .as_ref()
            .map_or(self.finished, SweepView::finished)
    }

    /// The height (CSS pixels) the phase strip needs at `width`: a row per three phase ends.
    pub fn strip_height(&self, width: f64) -> f64 {
        let rows = self.snapshots.len().clamp(1, STRIP_LIMIT).div_ceil(3);
        rows as f64 * (width / 9.0 + STRIP_LABEL_H as f64)
    }

    /// Draws the sweep's thumbnails, a grid of `sweep_grid()` cells.
    pub fn draw_sweep(&mut self, canvas: HtmlCanvasElement) {
        if let Some(view) = &mut self.sweep {
            view.draw(&canvas);
        }
    }

    /// `[columns, rows]` of the sweep's grid (`[0, 0]` for a single run).
    pub fn sweep_grid(&self) -> Vec<u32> {
        self.sweep.as_ref().map_or(vec![0, 0], |v| {
            let (c, r) = v.grid();
            vec![c as u32, r as u32]
        })
    }

    /// The seed whose thumbnail is under (`x`, `y`) on a `w` × `h` sweep canvas (CSS pixels).
    pub fn sweep_seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u32> {
        self.sweep
            .as_ref()
            .and_then(|v| v.seed_at(x, y, w, h))
            .map(|s| s as u32)
    }

    /// The sweep's tally, e.g. `crumpled 3/16 (19%, 95% CI 7–43%)`; empty for a single run.
    pub fn sweep_tally(&self) -> String {
        self.sweep.as_ref().map_or(String::new(), SweepView::tally)
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
        let obj = js_sys::Object::new();
        let set = |o: &js_sys::Object, k: &str, v: f64| {
            let _ = js_sys::Reflect::set(o, &k.into(), &v.into());
        };
        set(&obj, "step", l.step as f64);
        set(&obj, "total", l.total as f64);
        let terms = js_sys::Object::new();
        for (term, value) in Term::ALL.into_iter().zip(l.terms) {
            if let Some(v) = value {
                set(&terms, term.column(), v as f64);
            }
        }
        let _ = js_sys::Reflect::set(&obj, &"terms".into(), &terms);
        obj.into()
    }

    /// Shows the recorded latents nearest to `step` (≤ it) instead of the live ones;
    /// a negative step returns to live.
    pub fn scrub(&mut self, step: f64) {
        self.scrub = (step >= 0.0).then_some(step as u64);
    }

    /// Where the playhead (the shown step) sits on the schedule chart, in CSS pixels from its
    /// left edge; the page draws it as an overlay so the chart itself is drawn once.
    pub fn playhead_x(&self) -> f64 {
        let step = self.scrub.or(self.shown).unwrap_or(0);
        self.timeline_axis
            .map_or(0.0, |axis| axis.x(step as f64) as f64)
    }

    /// The step under a horizontal position (CSS pixels) on the schedule chart.
    pub fn step_at(&self, x_css: f64) -> f64 {
        self.timeline_axis
            .map_or(0.0, |axis| axis.step_at(x_css as f32) as f64)
    }

    /// Draws the live (or scrubbed) latent panels, the phase strip, the schedule and the loss
    /// curves. Any canvas may be undefined. Returns whether a redraw was put off (the loss
    /// chart waits out its interval): the page should call again on a later frame.
    pub fn draw(
        &mut self,
        latents: Option<HtmlCanvasElement>,
        strip: Option<HtmlCanvasElement>,
        schedule: Option<HtmlCanvasElement>,
        losses: Option<HtmlCanvasElement>,
    ) -> bool {
        if let Some(canvas) = latents {
            let key = (self.latents_version, self.scrub, canvas_size(&canvas));
            if self.latents_drawn.replace(key) != Some(key) {
                self.draw_latents(&canvas);
            }
        }
        if let Some(canvas) = strip {
            // Nothing on the strip moves: it is drawn only when a phase ends or it resizes.
            if !self
                .strip_canvas
                .is_current(&canvas, self.snapshots.len() as u64)
            {
                self.draw_strip(&canvas);
            }
        }
        if let Some(canvas) = schedule {
            let (pw, ph) = canvas_size(&canvas);
            let key = (self.generation, pw, ph);
            if self.schedule_key.replace(key) != Some(key) {
                let mut axis = None;
                with_canvas(&canvas, |surface, w, h| {
                    let area = Rect::new(0.0, 0.0, w, h);
                    axis = Some(plot::timeline_chart(surface, area, &self.timeline));
                });
                self.timeline_axis = axis;
            }
        }
        let mut deferred = false;
        if let Some(canvas) = losses {
            let (pw, ph) = canvas_size(&canvas);
            let key = (self.loss_history.len(), self.scrub, pw, ph);
            if self.losses_key != Some(key) {
                let t = now();
                if self.scrub.is_some() || t - self.losses_drawn_at >= LOSS_CHART_INTERVAL_MS {
                    self.draw_losses(&canvas);
                    self.losses_key = Some(key);
                    self.losses_drawn_at = t;
                } else {
                    deferred = true;
                }
            }
        }
        deferred
    }
}

impl Board {
    fn draw_latents(&mut self, canvas: &HtmlCanvasElement) {
        let (shown, latents) = match self.scrub {
            Some(target) => {
                let i = self
                    .history
                    .partition_point(|(st, _)| *st <= target)
                    .saturating_sub(1);
                self.history
                    .get(i)
                    .map_or((self.shown, self.latents.as_slice()), |(st, l)| {
                        (Some(*st), l.as_slice())
                    })
            }
            None => (self.shown, self.latents.as_slice()),
        };
        let dims = self.dims.max(1);
        let cloud = PointCloud {
            latents,
            dims,
            colors: &self.colors,
        };
        let panels = |w: f32, h: f32| {
            let panel_w = w / 3.0;
            plot::DIM_PAIRS.iter().enumerate().map(move |(i, pair)| {
                let area = Rect::new(i as f32 * panel_w, 0.0, panel_w, h).inset(4.0, 4.0, 4.0, 4.0);
                (area, *pair)
            })
        };
        self.latent_canvas.draw(
            canvas,
            dims as u64,
            |surface, w, h| {
                for (area, pair) in panels(w, h) {
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
                for (area, pair) in panels(w, h) {
                    draw_points(raster, dpr, area, true, cloud, pair);
                }
            },
            |surface, w, h| {
                let label = match (shown, self.scrub.is_some()) {
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
    }

    fn draw_strip(&mut self, canvas: &HtmlCanvasElement) {
        // Every phase end (the last STRIP_LIMIT), three to a row, each a group of three
        // panels labelled across the group.
        let first = self.snapshots.len().saturating_sub(STRIP_LIMIT);
        let shown: Vec<&PhaseSnapshot> = self.snapshots[first..].iter().collect();
        let shown = &shown;
        let cells = move |w: f32| {
            let cell = w / 9.0;
            (0..shown.len()).flat_map(move |i| {
                let (row, group) = (i / 3, i % 3);
                let top = row as f32 * (cell + STRIP_LABEL_H) + STRIP_LABEL_H;
                plot::DIM_PAIRS.iter().enumerate().map(move |(j, pair)| {
                    let area = Rect::new((group * 3 + j) as f32 * cell, top, cell, cell)
                        .inset(2.0, 2.0, 2.0, 2.0);
                    (shown[i], area, *pair)
                })
            })
        };
        let hidden = first;
        self.strip_canvas.draw(
            canvas,
            self.snapshots.len() as u64,
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
                for (i, snap) in shown.iter().enumerate() {
                    let mut label = format!("{} (step {})", snap.phase, snap.step);
                    if i == 0 && hidden > 0 {
                        label = format!("… {hidden} earlier · {label}");
                    }
                    let (row, group) = (i / 3, i % 3);
                    let center = (group as f32 * 3.0 + 1.5) * cell;
                    let y = row as f32 * (cell + STRIP_LABEL_H) + STRIP_LABEL_H / 2.0;
                    // Shrunk to its group's width: neighbouring labels never overprint.
                    let fit = 3.0 * cell * 0.95 / (label.chars().count().max(1) as f32 * 0.6);
                    surface.text(center, y, &label, fit.min(11.0), plot::TEXT, Align::Center);
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
                    draw_points(raster, dpr, area, false, cloud, pair);
                }
            },
            |_, _, _| {},
        );
    }

    fn draw_losses(&self, canvas: &HtmlCanvasElement) {
        let mut series: Vec<(String, Vec<(u64, f32)>)> = vec![("total".into(), Vec::new())];
        series.extend(Term::ALL.map(|t| (t.column().to_string(), Vec::new())));
        for l in &self.loss_history {
            series[0].1.push((l.step, l.total));
            for (i, v) in l.terms.iter().enumerate() {
                if let Some(v) = v {
                    series[i + 1].1.push((l.step, *v));
                }
            }
        }
        let borrowed: Vec<(&str, &[(u64, f32)])> = series
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_slice()))
            .collect();
        let playhead = self.scrub.or(self.shown).unwrap_or(0);
        with_canvas(canvas, |surface, w, h| {
            plot::loss_chart(
                surface,
                Rect::new(0.0, 0.0, w, h),
                &borrowed,
                self.timeline.len(),
                Some(playhead),
            );
        });
    }
}

/// A latent panel's points on the backing store's pixels, for a panel laid out in CSS pixels.
pub(super) fn draw_points(
    raster: &mut Raster,
    dpr: f32,
    area: Rect,
    titled: bool,
    cloud: PointCloud,
    pair: (usize, usize),
) {
    let plot = plot::latent_plot_area(area, titled);
    let radius = plot::point_radius(plot.w) * dpr;
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
