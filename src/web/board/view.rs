//! The board's place in the element: its canvases and what it shows beside them (the phase
//! strip's height, the sweep's box and tally, the probe's swatches and line, the 3-D view's
//! menu and the playhead), found once in the element's shadow root. A value is written only
//! when it changes: each write costs the page a layout.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlOptionElement, HtmlSelectElement, ShadowRoot};

use super::*;
use crate::web::js_error;

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
    /// The bottleneck the 3-D view's menu was filled for.
    dome_menu_dims: Option<usize>,
}

impl View {
    pub(super) fn find(root: &ShadowRoot) -> Result<View, JsValue> {
        fn get<T: JsCast>(root: &ShadowRoot, selector: &str) -> Result<T, JsValue> {
            (root.query_selector(selector)?)
                .and_then(|e| e.dyn_into::<T>().ok())
                .ok_or_else(|| js_error(format!("the element's markup has no {selector}")))
        }
        Ok(View {
            latents: get(root, "[data-canvas=latents]")?,
            strip: get(root, "[data-canvas=strip]")?,
            schedule: get(root, "[data-canvas=schedule]")?,
            losses: get(root, "[data-canvas=losses]")?,
            sweep: get(root, "[data-canvas=sweep]")?,
            dome: get(root, "[data-canvas=dome]")?,
            geometry: get(root, "[data-canvas=geometry]")?,
            sweep_box: get(root, ".sweep-box")?,
            tally: get(root, "[data-field=tally]")?,
            swatch_in: get(root, "[data-field=swatch-in]")?,
            swatch_out: get(root, "[data-field=swatch-out]")?,
            probe_text: get(root, "[data-field=probe-text]")?,
            dome_box: get(root, ".dome-box")?,
            dome_axes: get(root, "[data-field=dome-axes]")?,
            inside_box: get(root, ".inside-box")?,
            playhead: get(root, ".playhead")?,
            dome_menu_dims: None,
        })
    }
}

fn set_text(el: &Element, text: &str) {
    if el.text_content().as_deref() != Some(text) {
        el.set_text_content(Some(text));
    }
}

fn set_style(el: &HtmlElement, property: &str, value: &str) {
    let style = el.style();
    if style.get_property_value(property).ok().as_deref() != Some(value) {
        let _ = style.set_property(property, value);
    }
}

#[wasm_bindgen]
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
}

impl Board {
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
        let menu = &view.dome_axes;
        menu.set_length(0);
        for choice in &choices {
            if let Ok(option) =
                HtmlOptionElement::new_with_text_and_value(&choice.label(), &choice.key())
            {
                let _ = menu.add_with_html_option_element(&option);
            }
        }
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
