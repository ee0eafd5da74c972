//! The hue circle's geometry as a small panel: the cosine-similarity matrix of the hues'
//! latents, with the participation ratio and the winding number, and the participation ratio
//! over the run so far.

use super::{Align, Rect, Rgba, Surface, FAINT_TEXT, FIGURE, PALETTE, PANEL, TEXT};
use crate::geometry::Geometry;

/// A cosine similarity's colour: blue for −1, near-black for 0, orange for +1.
pub fn cosine_color(c: f64) -> Rgba {
    let t = c.clamp(-1.0, 1.0);
    let base = [34.0, 34.0, 34.0];
    let end = if t < 0.0 {
        [70.0, 140.0, 240.0]
    } else {
        [250.0, 160.0, 60.0]
    };
    let f = t.abs();
    let mix = |k: usize| (base[k] + (end[k] - base[k]) * f).round() as u8;
    [mix(0), mix(1), mix(2), 255]
}

/// Where the panel put the matrix, to look up a cell's colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatrixLayout {
    pub cells: Rect,
    pub hues: usize,
}

/// The panel: the matrix on the left, hue 0 at the top left; on the right the figures and
/// the participation ratio over `history` (`(step, ratio)`), to `steps`, with the shown step
/// marked.
pub fn geometry_panel(
    s: &mut dyn Surface,
    area: Rect,
    geometry: &Geometry,
    history: &[(u64, f64)],
    steps: u64,
    shown: u64,
) -> MatrixLayout {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let n = geometry.hues();
    let size = (area.h - 24.0).min(area.w * 0.5).max(1.0);
    let cells = Rect::new(area.x + 6.0, area.y + 20.0, size, size);
    s.text(
        cells.x + size / 2.0,
        area.y + 10.0,
        "cosine similarity of the 36 hues",
        11.0,
        TEXT,
        Align::Center,
    );
    let cell = size / n.max(1) as f32;
    for i in 0..n {
        for j in 0..n {
            let color = cosine_color(geometry.cosine[i * n + j]);
            // Cells abut: each spans to where the next begins, so no seams show.
            let (x0, y0) = (cells.x + j as f32 * cell, cells.y + i as f32 * cell);
            s.fill_rect(x0, y0, cell + 0.5, cell + 0.5, color);
        }
    }
    let left = cells.x + size + 12.0;
    let font = 12.0;
    let lines = [
        format!("participation ratio {:.2}", geometry.participation_ratio),
        match geometry.winding {
            0 => "winding number 0".to_string(),
            w => format!("winding number {w:+}"),
        },
        format!("band error {:.3}", geometry.circulant_error()),
    ];
    for (k, line) in lines.iter().enumerate() {
        let y = area.y + 14.0 + k as f32 * (font + 5.0);
        s.text(left, y, line, font, TEXT, Align::Left);
    }
    // Under the figures: the chart's caption, the chart, and its step axis.
    let top = area.y + 14.0 + 3.0 * (font + 5.0) + 10.0;
    let chart = Rect::new(
        left,
        top,
        (area.x + area.w - 8.0 - left).max(1.0),
        (area.y + area.h - 16.0 - top).max(1.0),
    );
    participation_chart(s, chart, history, steps, shown);
    MatrixLayout { cells, hues: n }
}

/// The participation ratio against step, from 0 to the largest seen (at least 4).
fn participation_chart(
    s: &mut dyn Surface,
    plot: Rect,
    history: &[(u64, f64)],
    steps: u64,
    shown: u64,
) {
    s.fill_rect(plot.x, plot.y, plot.w, plot.h, PANEL);
    let top = (history.iter().map(|&(_, r)| r))
        .filter(|r| r.is_finite())
        .fold(4.0f64, f64::max)
        .ceil();
    let x = |step: u64| plot.x + (step as f64 / steps.max(1) as f64) as f32 * plot.w;
    let y = |r: f64| plot.y + plot.h - (r / top) as f32 * plot.h;
    let two = y(2.0);
    s.line((plot.x, two), (plot.x + plot.w, two), 1.0, FAINT_TEXT, true);
    s.text(plot.x + 2.0, two - 6.0, "2", 10.0, FAINT_TEXT, Align::Left);
    // The scale's top, so that the curve's height reads as a number.
    s.text(
        plot.x + 2.0,
        plot.y + 7.0,
        &format!("{top}"),
        10.0,
        FAINT_TEXT,
        Align::Left,
    );
    let points: Vec<(f32, f32)> = (history.iter())
        .filter(|(_, r)| r.is_finite())
        .map(|&(step, r)| (x(step), y(r)))
        .collect();
    s.polyline(&points, 1.5, PALETTE[0]);
    let at = x(shown);
    s.line((at, plot.y), (at, plot.y + plot.h), 1.0, TEXT, false);
    s.text(
        plot.x,
        plot.y - 6.0,
        "participation ratio by step",
        10.0,
        FAINT_TEXT,
        Align::Left,
    );
    // The step axis: its first step, its middle and its last.
    let last = steps.saturating_sub(1);
    let ticks = [
        (0, Align::Left),
        (last / 2, Align::Center),
        (last, Align::Right),
    ];
    for (step, align) in ticks {
        s.line(
            (x(step), plot.y + plot.h),
            (x(step), plot.y + plot.h + 3.0),
            1.0,
            FAINT_TEXT,
            false,
        );
        s.text(
            x(step),
            plot.y + plot.h + 10.0,
            &step.to_string(),
            9.0,
            FAINT_TEXT,
            align,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Raster;

    #[test]
    fn the_matrix_is_drawn_cell_for_cell() {
        // A perfect wheel: hue i's latent at angle i · 10°.
        let latents: Vec<f32> = (0..36)
            .flat_map(|i| {
                let a = (i as f32 * 10.0).to_radians();
                [a.cos(), a.sin()]
            })
            .collect();
        let g = Geometry::of_hues(&latents, 2);
        let mut raster = Raster::new(400, 200).unwrap();
        let history = [(0, 1.0), (500, 2.0)];
        let layout = geometry_panel(
            &mut raster,
            Rect::new(0.0, 0.0, 400.0, 200.0),
            &g,
            &history,
            1000,
            500,
        );
        assert_eq!(layout.hues, 36);
        let cell = layout.cells.w / 36.0;
        for (i, j) in [(0, 0), (0, 18), (5, 14), (20, 3)] {
            let x = layout.cells.x + (j as f32 + 0.5) * cell;
            let y = layout.cells.y + (i as f32 + 0.5) * cell;
            assert_eq!(
                raster.pixel(x as u32, y as u32),
                cosine_color(g.cosine[i * 36 + j]),
                "cell ({i}, {j})"
            );
        }
        assert_eq!(cosine_color(1.0), [250, 160, 60, 255]);
        assert_eq!(cosine_color(-1.0), [70, 140, 240, 255]);
    }

    #[test]
    fn the_participation_chart_has_a_numbered_step_axis() {
        let latents: Vec<f32> = (0..36).flat_map(|i| [i as f32, 1.0]).collect();
        let g = Geometry::of_hues(&latents, 2);
        let mut svg = crate::plot::svg::Svg::new(400.0, 200.0);
        let area = Rect::new(0.0, 0.0, 400.0, 200.0);
        // 1,201 steps: 0 to 1200, as a timeline's length counts them.
        geometry_panel(&mut svg, area, &g, &[(0, 1.0), (600, 2.0)], 1201, 600);
        let svg = svg.finish();
        let labels = [
            ">0<",
            ">600<",
            ">1200<",
            ">participation ratio by step<",
            // The ratio's scale, up to 4 at least.
            ">4<",
            // A line off the origin does not wind round it, and 0 has no sign.
            ">winding number 0<",
        ];
        for label in labels {
            assert!(svg.contains(label), "{label} in {svg}");
        }
    }
}
