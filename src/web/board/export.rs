//! The figure the page exports: the phase history, as PNG or SVG.

use super::*;

impl Board {
    /// The figure the page exports, as SVG: the phase-history grid (as the CLI's
    /// `phases.png`) of the phase ends so far and the step shown.
    pub fn figure_svg(&self) -> String {
        let rows = self.figure_rows();
        let (w, h) = figure_size(&rows);
        let mut svg = plot::Svg::new(w as f32, h as f32);
        plot::phase_history(&mut svg, Rect::new(0.0, 0.0, w as f32, h as f32), &rows);
        svg.finish()
    }

    /// Draws the exported figure ([`Board::figure_svg`]'s) on `canvas`, sized for it: the
    /// PNG export.
    pub fn draw_figure(&self, canvas: HtmlCanvasElement) {
        let rows = self.figure_rows();
        with_canvas_pixels(&canvas, figure_size(&rows), |surface, w, h| {
            plot::phase_history(surface, Rect::new(0.0, 0.0, w, h), &rows)
        });
    }
}

impl Board {
    /// The rows of the exported figure: the last phase ends, then the step shown.
    fn figure_rows(&self) -> Vec<PhaseSnapshot> {
        let first = self.snapshots.len().saturating_sub(FIGURE_ROWS);
        let mut rows = self.snapshots[first..].to_vec();
        let (shown, latents, _) = self.shown_moment();
        if !latents.is_empty() {
            let step = shown.unwrap_or(0);
            let phase = self
                .timeline
                .state(step.min(self.timeline.len().saturating_sub(1)));
            rows.push(PhaseSnapshot {
                phase: format!("{} (shown)", phase.phase),
                step,
                latents: latents.to_vec(),
                dims: self.dims,
                colors: self.colors.clone(),
            });
        }
        rows
    }
}

/// The exported figure's size in pixels for `rows`.
fn figure_size(rows: &[PhaseSnapshot]) -> (u32, u32) {
    (3 * FIGURE_ROW, rows.len().max(1) as u32 * FIGURE_ROW)
}
