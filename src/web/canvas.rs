//! A [`Surface`] on an HTML canvas's 2-D context: how the page draws the charts in `plot`.

use std::cell::RefCell;

use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use crate::plot::{Align, Raster, Rgba, Surface};

/// The devicePixelRatio, a canvas's CSS box and the backing-store size it gets for that box.
#[derive(Debug, Clone, Copy)]
struct Size {
    dpr: f64,
    css: (f64, f64),
    pixels: (u32, u32),
}

impl Size {
    fn of(canvas: &HtmlCanvasElement) -> Size {
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        let css = (
            canvas.client_width().max(1) as f64,
            canvas.client_height().max(1) as f64,
        );
        let pixels = ((css.0 * dpr).round() as u32, (css.1 * dpr).round() as u32);
        Size { dpr, css, pixels }
    }
}

/// The backing-store size a canvas gets for its CSS box at this devicePixelRatio.
pub(super) fn canvas_size(canvas: &HtmlCanvasElement) -> (u32, u32) {
    Size::of(canvas).pixels
}

/// Sizes a canvas (one not on screen: an export) to `width` × `height` pixels and draws on it
/// in those pixels.
pub(super) fn with_canvas_pixels(
    canvas: &HtmlCanvasElement,
    (width, height): (u32, u32),
    draw: impl FnOnce(&mut dyn Surface, f32, f32),
) {
    let size = Size {
        dpr: 1.0,
        css: (width as f64, height as f64),
        pixels: (width, height),
    };
    draw_sized(canvas, size, draw);
}

/// A canvas's CSS box, `(width, height)`.
pub(super) fn css_size(canvas: &HtmlCanvasElement) -> (f32, f32) {
    let (w, h) = Size::of(canvas).css;
    (w as f32, h as f32)
}

/// Sizes the canvas to its CSS box × devicePixelRatio (crisp on high-DPI screens) and draws in
/// CSS pixels.
pub(super) fn with_canvas(
    canvas: &HtmlCanvasElement,
    draw: impl FnOnce(&mut dyn Surface, f32, f32),
) {
    draw_sized(canvas, Size::of(canvas), draw);
}

fn draw_sized(
    canvas: &HtmlCanvasElement,
    size: Size,
    draw: impl FnOnce(&mut dyn Surface, f32, f32),
) {
    let (pw, ph) = size.pixels;
    if canvas.width() != pw || canvas.height() != ph {
        canvas.set_width(pw);
        canvas.set_height(ph);
    }
    let Some(ctx) = context(canvas) else {
        return;
    };
    let _ = ctx.set_transform(size.dpr, 0.0, 0.0, size.dpr, 0.0, 0.0);
    let mut surface = Canvas2d { ctx };
    draw(&mut surface, size.css.0 as f32, size.css.1 as f32);
}

/// Asked for without `willReadFrequently`, though a layered canvas reads its still layer back
/// and Chromium says so in the console: the hint puts the canvas on the CPU, and the page's
/// drawing then takes the core a worker trains on (docs/performance.md).
fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// A canvas drawn in two layers. The still layer is drawn with the 2-D context only when the
/// canvas's size or the caller's `key` changes, and kept as pixels; the moving layer is
/// rasterised in wasm over a copy of them and put back in one call. A thousand dots in three
/// panels then cost one `putImageData`, not four context calls (and a path raster) each.
pub(super) struct LayeredCanvas {
    key: Option<(u32, u32, u64)>,
    still: Vec<u8>,
    /// The frame being composed, kept to reuse its buffer.
    frame: Raster,
}

impl Default for LayeredCanvas {
    fn default() -> Self {
        LayeredCanvas {
            key: None,
            still: Vec::new(),
            frame: Raster::empty(),
        }
    }
}

impl LayeredCanvas {
    /// Whether the still layer was last drawn for this `key` at the canvas's current size.
    pub(super) fn is_current(&self, canvas: &HtmlCanvasElement, key: u64) -> bool {
        let (pw, ph) = canvas_size(canvas);
        self.key == Some((pw, ph, key))
    }

    /// Forgets the still layer: the next draw redraws it whatever the key.
    pub(super) fn invalidate(&mut self) {
        self.key = None;
    }

    /// `still` and `label` draw in CSS pixels; `moving` draws on the backing store's pixels
    /// and is given the devicePixelRatio and the CSS size.
    pub(super) fn draw(
        &mut self,
        canvas: &HtmlCanvasElement,
        key: u64,
        still: impl FnOnce(&mut dyn Surface, f32, f32),
        moving: impl FnOnce(&mut Raster, f32, f32, f32),
        label: impl FnOnce(&mut dyn Surface, f32, f32),
    ) {
        let size = Size::of(canvas);
        let (pw, ph) = size.pixels;
        if self.key != Some((pw, ph, key)) {
            draw_sized(canvas, size, still);
            let Some(pixels) = context(canvas)
                .and_then(|ctx| ctx.get_image_data(0.0, 0.0, pw as f64, ph as f64).ok())
            else {
                return;
            };
            self.still = pixels.data().0;
            self.key = Some((pw, ph, key));
        }
        let frame = &mut self.frame;
        (frame.width, frame.height) = (pw, ph);
        frame.pixels.clear();
        frame.pixels.extend_from_slice(&self.still);
        let (w, h) = (size.css.0 as f32, size.css.1 as f32);
        moving(frame, size.dpr as f32, w, h);
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&frame.pixels), pw, ph);
        if let (Some(ctx), Ok(image)) = (context(canvas), image) {
            let _ = ctx.put_image_data(&image, 0.0, 0.0);
        }
        draw_sized(canvas, size, label);
    }
}

struct Canvas2d {
    ctx: CanvasRenderingContext2d,
}

thread_local! {
    /// CSS colour strings by RGBA: a frame paints thousands of dots in the same few
    /// thousand colours, so format each once.
    static CSS: RefCell<std::collections::HashMap<Rgba, String>> = RefCell::default();
}

fn with_css(c: Rgba, f: impl FnOnce(&str)) {
    CSS.with_borrow_mut(|cache| {
        if cache.len() > 8192 {
            cache.clear();
        }
        let css = cache.entry(c).or_insert_with(|| {
            format!(
                "rgba({},{},{},{:.3})",
                c[0],
                c[1],
                c[2],
                c[3] as f32 / 255.0
            )
        });
        f(css)
    })
}

impl Canvas2d {
    fn arc(&self, center: (f32, f32), radius: f32) {
        let (x, y, r) = (center.0 as f64, center.1 as f64, radius as f64);
        let _ = self.ctx.arc(x, y, r, 0.0, std::f64::consts::TAU);
    }

    fn dash(&self, dashed: bool) {
        let pattern = js_sys::Array::new();
        if dashed {
            pattern.push(&4.0.into());
            pattern.push(&4.0.into());
        }
        let _ = self.ctx.set_line_dash(&pattern);
    }
}

impl Surface for Canvas2d {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx.fill_rect(x as f64, y as f64, w as f64, h as f64);
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool) {
        self.dash(dashed);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.ctx.move_to(from.0 as f64, from.1 as f64);
        self.ctx.line_to(to.0 as f64, to.1 as f64);
        self.ctx.stroke();
    }

    fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgba) {
        let Some(first) = points.first() else { return };
        self.dash(false);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.ctx.move_to(first.0 as f64, first.1 as f64);
        for p in &points[1..] {
            self.ctx.line_to(p.0 as f64, p.1 as f64);
        }
        self.ctx.stroke();
    }

    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool) {
        self.dash(dashed);
        with_css(color, |c| self.ctx.set_stroke_style_str(c));
        self.ctx.set_line_width(width as f64);
        self.ctx.begin_path();
        self.arc(center, radius);
        self.ctx.stroke();
    }

    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx.begin_path();
        self.arc(center, radius);
        self.ctx.fill();
    }

    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        with_css(color, |c| self.ctx.set_fill_style_str(c));
        self.ctx
            .set_font(&format!("{}px system-ui, sans-serif", size.round()));
        self.ctx.set_text_align(match align {
            Align::Left => "left",
            Align::Center => "center",
            Align::Right => "right",
        });
        self.ctx.set_text_baseline("middle");
        let _ = self.ctx.fill_text(text, x as f64, y as f64);
    }
}
