//! The 3-D view and the geometry panel below the charts.

use super::*;

impl Board {
    /// Shows the axes `key` names (a [`DomeAxes::key`] of the bottleneck's choices); returns
    /// whether it is one.
    pub fn set_dome_axes(&mut self, key: &str) -> bool {
        match DomeAxes::from_key(key).filter(|c| DomeAxes::choices(self.dims).contains(c)) {
            Some(axes) => {
                self.dome_axes = axes;
                true
            }
            None => false,
        }
    }
}

impl Board {
    /// Draws the 3-D view and the geometry panel. Returns whether a redraw was put off, as
    /// [`Board::draw`] does.
    pub(super) fn draw_inside(
        &mut self,
        dome: &HtmlCanvasElement,
        geometry: &HtmlCanvasElement,
    ) -> bool {
        if self.dims >= 3 {
            let canvas = dome;
            let orbit = [self.orbit.yaw.to_bits(), self.orbit.pitch.to_bits()];
            let key = (
                self.latents_version,
                self.scrub,
                canvas_size(canvas),
                self.dome_axes,
                orbit,
            );
            if self.dome_drawn.replace(key) != Some(key) {
                self.draw_dome(canvas);
            }
        }
        let mut deferred = false;
        {
            let canvas = geometry;
            let key = (
                self.latents_version,
                self.scrub,
                canvas_size(canvas),
                0,
                false,
            );
            match self.geometry_chart.due(&key, self.scrub.is_some()) {
                Redraw::Now(t) => {
                    self.draw_geometry(canvas);
                    self.geometry_chart.drew(key, t);
                }
                Redraw::Later => deferred = true,
                Redraw::Unchanged => {}
            }
        }
        deferred
    }
}

impl Board {
    /// The hue circle's geometry under `params`.
    pub(super) fn geometry_of(&self, params: &[f32]) -> Geometry {
        let latents = crate::step::encode(params, self.dims, &self.hues);
        Geometry::of_hues(&latents, self.dims)
    }

    fn draw_dome(&mut self, canvas: &HtmlCanvasElement) {
        self.dome_css = css_size(canvas);
        let dims = self.dims;
        let axes = self.dome_axes;
        let orbit = self.orbit;
        let (_, latents, _) = self.shown_moment();
        let points = axes.coordinates(latents, dims);
        let colors = &self.colors;
        let still_key = match axes {
            DomeAxes::Height(d) => d as u64,
            DomeAxes::Principal => u64::MAX,
        };
        self.dome_canvas.draw(
            canvas,
            still_key,
            |surface, w, h| dome::frame(surface, Rect::new(0.0, 0.0, w, h), axes),
            |raster, dpr, w, h| {
                let plot = dome::plot_area(Rect::new(0.0, 0.0, w, h));
                let radius = plot::point_radius(plot.w) * dpr;
                let plot = Rect::new(plot.x * dpr, plot.y * dpr, plot.w * dpr, plot.h * dpr);
                dome::draw(
                    raster,
                    plot,
                    &points,
                    colors,
                    orbit,
                    plot::LATENT_EXTENT,
                    radius,
                );
            },
            |_, _, _| {},
        );
    }

    fn draw_geometry(&self, canvas: &HtmlCanvasElement) {
        let (shown, _, params) = self.shown_moment();
        let shown = shown.unwrap_or(0);
        with_canvas(canvas, |surface, w, h| {
            let area = Rect::new(0.0, 0.0, w, h);
            if params.is_empty() {
                surface.fill_rect(0.0, 0.0, w, h, plot::FIGURE);
                return;
            }
            let geometry = self.geometry_of(params);
            plot::geometry_panel(
                surface,
                area,
                &geometry,
                &self.ratio_history,
                self.timeline.len(),
                shown,
            );
        });
    }
}
