//! The board's place in the element: its canvases and what it shows beside them (the phase
//! strip's height, the sweep's box and tally, the probe's swatches and line, the 3-D view's
//! menu, the playhead, the status line and the backend's label), found once in the element's
//! shadow root. A value is written only
//! when it changes: each write costs the page a layout.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlSelectElement, ShadowRoot};

use super::*;
use crate::web::{find_parts, js_error, set_options, set_text};

/// The element's parts the board writes to.
pub(super) struct View {
    latents: HtmlCanvasElement,
    strip: HtmlCanvasElement,
    schedule: HtmlCanvasElement,
    losses: HtmlCanvasElement,
    sweep: HtmlCanvasElement,
    dome: HtmlCanvasElement,
    geometry: HtmlCanvasElement,
    sweep_box: HtmlElement,
    tally: Element,
    swatch_in: HtmlElement,
    swatch_out: HtmlElement,
    probe_text: Element,
    dome_box: HtmlElement,
    dome_axes: HtmlSelectElement,
    inside_box: Element,
    playhead: HtmlElement,
    readout: Element,
    backend_label: Element,
    /// The element itself, whose data attributes carry the measured rates for tests.
    host: Element,
    document: Document,
    /// The bottleneck the 3-D view's menu was filled for.
    dome_menu_dims: Option<usize>,
    /// When the status line was last written (ms).
    readout_at: f64,
    /// The backend's label as last written.
    backend_shown: Option<(String, String)>,
}

/// Where the run shown stands, as its last frame said, and the engine it trains on with what
/// chose it.
#[derive(Debug, Default)]
pub(super) struct Progress {
    step: u64,
    total_steps: u64,
    phase: String,
    lr: f64,
    backend: String,
    /// What measured or remembered the engine, or why the run moved to it.
    race: String,
    /// Whether a frame of the run has arrived: until then there is no status line to show.
    arrived: bool,
}

impl Progress {
    pub(super) fn took(&mut self, frame: &Frame) {
        self.step = frame.step;
        self.total_steps = frame.total_steps;
        self.phase.clone_from(&frame.phase);
        self.lr = frame.lr;
        self.backend.clone_from(&frame.backend);
        self.arrived = true;
    }
}

/// Text that changes sixty times a second cannot be read, and rewriting it costs a layout
/// each time: the status line is written ten times a second.
const READOUT_EVERY_MS: f64 = 100.0;

impl View {
    pub(super) fn find(root: &ShadowRoot) -> Result<View, JsValue> {
        let [latents, strip, schedule, losses, sweep, dome, geometry, sweep_box, tally, swatch_in, swatch_out, probe_text, dome_box, dome_axes, inside_box, playhead, readout, backend_label] =
            find_parts(
                root,
                [
                    "[data-canvas=latents]",
                    "[data-canvas=strip]",
                    "[data-canvas=schedule]",
                    "[data-canvas=losses]",
                    "[data-canvas=sweep]",
                    "[data-canvas=dome]",
                    "[data-canvas=geometry]",
                    ".sweep-box",
                    "[data-field=tally]",
                    "[data-field=swatch-in]",
                    "[data-field=swatch-out]",
                    "[data-field=probe-text]",
                    ".dome-box",
                    "[data-field=dome-axes]",
                    ".inside-box",
                    ".playhead",
                    "[data-field=readout]",
                    "[data-field=backend-label]",
                ],
            )?;
        Ok(View {
            latents: latents.unchecked_into(),
            strip: strip.unchecked_into(),
            schedule: schedule.unchecked_into(),
            losses: losses.unchecked_into(),
            sweep: sweep.unchecked_into(),
            dome: dome.unchecked_into(),
            geometry: geometry.unchecked_into(),
            sweep_box: sweep_box.unchecked_into(),
            tally,
            swatch_in: swatch_in.unchecked_into(),
            swatch_out: swatch_out.unchecked_into(),
            probe_text,
            dome_box: dome_box.unchecked_into(),
            dome_axes: dome_axes.unchecked_into(),
            inside_box,
            playhead: playhead.unchecked_into(),
            readout,
            backend_label,
            host: root.host(),
            document: (root.owner_document())
                .ok_or_else(|| js_error("the element has no document"))?,
            dome_menu_dims: None,
            readout_at: f64::NEG_INFINITY,
            backend_shown: None,
        })
    }
}

/// Replaces `el`'s content with `parts`, plain text and bold by turns (plain first), each as a
/// text node: a phase's name comes from the sheet.
fn write_parts(view: &View, el: &Element, parts: &[&str]) {
    let nodes = js_sys::Array::new();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            nodes.push(&JsValue::from_str(part));
        } else if let Ok(bold) = view.document.create_element("b") {
            bold.set_text_content(Some(part));
            nodes.push(&bold);
        }
    }
    el.replace_children_with_node(&nodes);
}

fn set_style(el: &HtmlElement, property: &str, value: &str) {
    let style = el.style();
    if style.get_property_value(property).ok().as_deref() != Some(value) {
        let _ = style.set_property(property, value);
    }
}

impl Board {
    /// Draws everything the board shows in the element: the latent panels, the phase strip,
    /// the schedule, the loss curves, the sweep, the probe, and the 3-D view and geometry while
    /// they are open. Returns whether a drawing was put off (the loss chart, a sweep's
    /// thumbnails and the decoder map wait out their intervals): the page asks again on a
    /// later frame.
    pub fn render(&mut self) -> bool {
        let Some(mut view) = self.view.take() else {
            return false;
        };
        let strip_height = self.strip_height(view.strip.client_width() as f64).round();
        set_style(&view.strip, "height", &format!("{strip_height}px"));
        let mut deferred = self.draw(&view.latents, &view.strip, &view.schedule, &view.losses);
        deferred |= self.show_sweep(&view);
        self.show_probe(&view);
        self.show_dome_menu(&mut view);
        if view.inside_box.has_attribute("open") {
            deferred |= self.draw_inside(&view.dome, &view.geometry);
        }
        set_style(
            &view.playhead,
            "left",
            &format!("{}px", self.playhead_x() - 1.0),
        );
        // Over the curves only: above them a narrow chart has its legend.
        if let Some(axis) = self.timeline_axis {
            set_style(&view.playhead, "top", &format!("{}px", axis.plot.y));
            set_style(&view.playhead, "height", &format!("{}px", axis.plot.h));
        }
        self.view = Some(view);
        deferred
    }

    /// The engine the run trains on (`cpu` or `webgpu`, until a frame names it) and what
    /// chose it, said beside the controls.
    pub fn show_backend(&mut self, name: &str, race: &str) {
        self.progress.backend = name.to_string();
        self.progress.race = race.to_string();
    }

    /// Notes a frame drawn at `t_ms` (`performance.now()`): measures the rates over the last
    /// second ([`readout::Rates`]), writes the status line, the latent panels' text
    /// alternative and the backend's label, and returns `(steps/s, the span in ms they were
    /// measured over)`.
    pub fn tick(&mut self, t_ms: f64) -> (f64, f64) {
        // Measured from the run's first frame: a branch starts at the step it branched at.
        let (fps, sps, span) = match self.progress.arrived {
            true => self.rates.record(t_ms, self.progress.step),
            false => (0.0, 0.0, 0.0),
        };
        if let Some(mut view) = self.view.take() {
            self.show_backend_label(&mut view);
            if self.progress.arrived && t_ms - view.readout_at >= READOUT_EVERY_MS {
                view.readout_at = t_ms;
                self.show_readout(&view, fps, sps);
            }
            self.view = Some(view);
        }
        (sps, span)
    }
}

impl Board {
    /// `backend <b>name</b> (race)`.
    fn show_backend_label(&self, view: &mut View) {
        let p = &self.progress;
        let shown =
            (view.backend_shown.as_ref()).is_some_and(|(b, r)| *b == p.backend && *r == p.race);
        if shown {
            return;
        }
        let race = if p.race.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.race)
        };
        write_parts(view, &view.backend_label, &["backend ", &p.backend, &race]);
        view.backend_shown = Some((p.backend.clone(), p.race.clone()));
    }

    /// The status line ([`readout::status_line`]) and the latent panels' text alternative
    /// ([`readout::latents_label`]), with the rates on the element for tests.
    fn show_readout(&self, view: &View, fps: f64, sps: f64) {
        let p = &self.progress;
        let progress = readout::Progress {
            step: p.step,
            total_steps: p.total_steps,
            phase: &p.phase,
            lr: p.lr,
            backend: &p.backend,
            steps_per_second: sps,
            frames_per_second: fps,
        };
        let losses = self.losses.map(|l| Losses {
            total: l.total,
            terms: PerTerm(l.terms),
        });
        let parts = readout::status_line(&progress, losses.as_ref());
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        write_parts(view, &view.readout, &parts);
        let label = readout::latents_label(&progress, losses.as_ref());
        let _ = view.latents.set_attribute("aria-label", &label);
        let _ = view.host.set_attribute("data-fps", &format!("{fps:.1}"));
        let _ = (view.host).set_attribute("data-steps-per-second", &format!("{sps:.0}"));
    }

    /// The sweep's grid and tally, or no sweep box for a single run; returns whether the
    /// grid's drawing was put off.
    fn show_sweep(&mut self, view: &View) -> bool {
        let Some(sweep) = self.sweep.as_mut() else {
            view.sweep_box.set_hidden(true);
            return false;
        };
        view.sweep_box.set_hidden(false);
        let (columns, rows) = sweep.grid();
        let ratio = format!("{} / {rows}", columns * sweep.panels());
        set_style(view.sweep.unchecked_ref(), "aspect-ratio", &ratio);
        let deferred = sweep.draw(&view.sweep);
        set_text(&view.tally, &sweep.tally());
        deferred
    }

    /// The probe's swatches and line, as of the shown step.
    fn show_probe(&self, view: &View) {
        let reading = self.reading().map(probing::probe_view);
        let swatch = |el: &HtmlElement, css: Option<&str>| {
            set_style(el, "background", css.unwrap_or("transparent"))
        };
        swatch(
            &view.swatch_in,
            reading.as_ref().map(|r| r.input_css.as_str()),
        );
        swatch(
            &view.swatch_out,
            reading.as_ref().map(|r| r.output_css.as_str()),
        );
        let text = reading.as_ref().map_or(PROBE_HINT, |r| r.text.as_str());
        set_text(&view.probe_text, text);
    }

    /// The 3-D view's menu lists the choices the run's bottleneck has; with none (E = 2) the
    /// view is not offered. Filled again only when the bottleneck changes.
    fn show_dome_menu(&mut self, view: &mut View) {
        if view.dome_menu_dims == Some(self.dims) {
            return;
        }
        view.dome_menu_dims = Some(self.dims);
        let choices = DomeAxes::choices(self.dims);
        view.dome_box.set_hidden(choices.is_empty());
        let options: Vec<(String, String)> =
            (choices.iter()).map(|c| (c.label(), c.key())).collect();
        let menu = &view.dome_axes;
        set_options(menu, options.iter().map(|(l, v)| (l.as_str(), v.as_str())));
        if !choices.contains(&self.dome_axes) {
            if let Some(first) = choices.first() {
                self.dome_axes = *first;
            }
        }
        menu.set_value(&self.dome_axes.key());
    }
}

/// What the probe's line says while nothing is probed.
const PROBE_HINT: &str = "hover, tap or arrow-key a point to probe it";
