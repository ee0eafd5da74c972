//! The latent space as the seed's figures draw it: panels of two dims at a time on ±1.5, the
//! phase-history grid, and a sweep's contact sheet.

use super::*;

/// Latent coordinates and the colours to paint them, one row per point.
#[derive(Debug, Clone, Copy)]
pub struct PointCloud<'a> {
    /// `points × dims`, row-major.
    pub latents: &'a [f32],
    pub dims: usize,
    /// `points × 3` in [0, 1].
    pub colors: &'a [f32],
}

/// How far the latent panels' axes reach (±), as the seed's plots: the unit circle with room
/// for the points that overshoot it.
pub const LATENT_EXTENT: f32 = 1.5;

/// Where a latent panel puts its points: the plot square and the axes' reach (±`extent`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelMap {
    pub plot: Rect,
    pub pair: (usize, usize),
    pub extent: f32,
}

impl PanelMap {
    /// The panel position of latent `(u, v)` (clamped to the panel, as the dots are).
    pub fn to_px(&self, u: f32, v: f32) -> (f32, f32) {
        let e = self.extent;
        let scale = self.plot.w / (2.0 * e);
        (
            self.plot.x + (u.clamp(-e, e) + e) * scale,
            self.plot.y + (e - v.clamp(-e, e)) * scale,
        )
    }

    /// The latent `(u, v)` at a panel position.
    pub fn to_latent(&self, x: f32, y: f32) -> (f32, f32) {
        let e = self.extent;
        let scale = self.plot.w / (2.0 * e);
        ((x - self.plot.x) / scale - e, e - (y - self.plot.y) / scale)
    }
}

/// A latent panel's title, as the seed's phase-history grid words it.
pub fn pair_title(pair: (usize, usize)) -> String {
    format!("Dims {} vs {}", pair.0, pair.1)
}

/// One scatter panel of two latent dims, axes ±`extent`, with dashed axes and unit circle.
pub fn latent_panel(
    s: &mut dyn Surface,
    area: Rect,
    cloud: PointCloud,
    pair: (usize, usize),
    extent: f32,
    title: Option<&str>,
) {
    let plot = latent_frame(s, area, cloud.dims, pair, extent, title);
    latent_points(s, plot, cloud, pair, extent, point_radius(plot.w));
}

/// The square a latent panel plots in, within its area (below the title, if any, and clear
/// of the axes' labels, where there is room for them).
pub fn latent_plot_area(area: Rect, titled: bool) -> Rect {
    let title_h = title_height(area, titled);
    let (left, bottom) = axis_label_room(area, titled);
    let size = (area.w - left).min(area.h - title_h - bottom);
    Rect::new(
        area.x + left + (area.w - left - size) / 2.0,
        area.y + title_h + (area.h - title_h - bottom - size) / 2.0,
        size,
        size,
    )
}

/// Whether a titled panel in `area` is large enough to carry its axes' labels (a figure's
/// panels are; a thumbnail's or a phone's are not).
pub fn has_axis_labels(area: Rect) -> bool {
    axis_label_font(area, true).is_some()
}

/// The font of a titled panel's axis labels, when it is large enough to carry them.
fn axis_label_font(area: Rect, titled: bool) -> Option<f32> {
    (titled && area.w.min(area.h) >= 180.0).then(|| (area.h * 0.04).clamp(10.0, 14.0))
}

/// Room (left, below) a panel keeps for its axes' ticks and names.
fn axis_label_room(area: Rect, titled: bool) -> (f32, f32) {
    axis_label_font(area, titled).map_or((0.0, 0.0), |f| (f * 3.2, f * 1.6))
}

fn title_height(area: Rect, titled: bool) -> f32 {
    if titled {
        (area.h * 0.08).clamp(12.0, 24.0)
    } else {
        0.0
    }
}

/// The radius of a latent panel's dots, for a plot square `size` wide.
pub fn point_radius(size: f32) -> f32 {
    (size / 110.0).clamp(1.5, 6.0)
}

/// Everything of a latent panel but its points: background, title, axes, unit circle.
/// Returns the plot square ([`latent_plot_area`]).
pub fn latent_frame(
    s: &mut dyn Surface,
    area: Rect,
    dims: usize,
    pair: (usize, usize),
    extent: f32,
    title: Option<&str>,
) -> Rect {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let plot = latent_plot_area(area, title.is_some());
    s.fill_rect(plot.x, plot.y, plot.w, plot.h, PANEL);
    if let Some(title) = title {
        let title_h = title_height(area, true);
        s.text(
            area.x + area.w / 2.0,
            area.y + title_h / 2.0,
            title,
            title_h * 0.7,
            TEXT,
            Align::Center,
        );
    }
    let scale = plot.w / (2.0 * extent);
    let center = (plot.x + extent * scale, plot.y + extent * scale);
    s.line(
        (plot.x, center.1),
        (plot.x + plot.w, center.1),
        1.0,
        GRID,
        true,
    );
    s.line(
        (center.0, plot.y),
        (center.0, plot.y + plot.h),
        1.0,
        GRID,
        true,
    );
    s.circle(center, scale, 1.0, GRID, true);
    let (a, b) = pair;
    if let Some(font) = axis_label_font(area, title.is_some()) {
        // Ticks at ±1 (the unit circle's reach) and each axis's name, outside the plot.
        let below = plot.y + plot.h + font * 0.8;
        let left = plot.x - font * 0.4;
        for (v, tick) in [(-1.0, "-1"), (1.0, "1")] {
            let x = center.0 + v * scale;
            s.text(x, below, tick, font, FAINT_TEXT, Align::Center);
            let y = center.1 - v * scale;
            s.text(left, y, tick, font, FAINT_TEXT, Align::Right);
        }
        s.text(
            center.0,
            below,
            &format!("dim {a}"),
            font,
            TEXT,
            Align::Center,
        );
        s.text(
            left,
            center.1,
            &format!("dim {b}"),
            font,
            TEXT,
            Align::Right,
        );
    }
    if a >= dims || b >= dims {
        s.text(
            center.0,
            center.1,
            &format!("no dim {}", a.max(b)),
            12.0,
            FAINT_TEXT,
            Align::Center,
        );
    }
    plot
}

/// A latent panel's points, one dot each in its own colour, inside the `plot` square.
pub fn latent_points(
    s: &mut dyn Surface,
    plot: Rect,
    cloud: PointCloud,
    pair: (usize, usize),
    extent: f32,
    radius: f32,
) {
    let (a, b) = pair;
    if a >= cloud.dims || b >= cloud.dims {
        return;
    }
    let panel = PanelMap { plot, pair, extent };
    for (point, color) in cloud
        .latents
        .chunks_exact(cloud.dims)
        .zip(cloud.colors.chunks_exact(3))
    {
        let (u, v) = (point[a], point[b]);
        if !u.is_finite() || !v.is_finite() {
            continue;
        }
        let (x, y) = panel.to_px(u, v);
        s.dot(
            (x, y),
            radius,
            [to_u8(color[0]), to_u8(color[1]), to_u8(color[2]), 180],
        );
    }
}

/// A colour channel in [0, 1] as a byte (clamped).
pub fn to_u8(c: f32) -> u8 {
    (c.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A frozen view of the latents at the end of a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSnapshot {
    pub phase: String,
    pub step: u64,
    pub latents: Vec<f32>,
    pub dims: usize,
    /// Each point's RGB in [0, 1]: the phase's validation set.
    pub colors: Vec<f32>,
}

pub const DIM_PAIRS: [(usize, usize); 3] = [(0, 1), (0, 2), (0, 3)];

/// The pairs of [`DIM_PAIRS`] a model with `dims` latent dims has: E = 3 has no dim 3.
pub fn dim_pairs(dims: usize) -> Vec<(usize, usize)> {
    DIM_PAIRS.into_iter().filter(|&(_, b)| b < dims).collect()
}

/// The seed's phase-history grid: a row per finished phase, a column per dim pair.
pub fn phase_history(s: &mut dyn Surface, area: Rect, rows: &[PhaseSnapshot]) {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    if rows.is_empty() {
        s.text(
            area.x + area.w / 2.0,
            area.y + area.h / 2.0,
            "Waiting...",
            16.0,
            TEXT,
            Align::Center,
        );
        return;
    }
    let pairs = dim_pairs(rows[0].dims);
    let label_w = (area.w * 0.16).min(240.0);
    let cell_w = (area.w - label_w) / pairs.len().max(1) as f32;
    let cell_h = area.h / rows.len() as f32;
    for (r, row) in rows.iter().enumerate() {
        let y = area.y + r as f32 * cell_h;
        let font = (cell_h * 0.06).clamp(9.0, 18.0);
        let x = area.x + label_w / 2.0;
        // A sans-serif letter is about 0.6 of the font's size wide.
        let fit = |text: &str| font.min(label_w * 0.9 / (0.6 * text.chars().count().max(1) as f32));
        s.text(
            x,
            y + cell_h / 2.0 - 1.6 * font,
            "Phase:",
            fit("Phase:"),
            FAINT_TEXT,
            Align::Center,
        );
        s.text(
            x,
            y + cell_h / 2.0,
            &row.phase,
            fit(&row.phase),
            TEXT,
            Align::Center,
        );
        let end = format!("(End Step: {})", row.step);
        s.text(
            x,
            y + cell_h / 2.0 + 1.6 * font,
            &end,
            fit(&end),
            FAINT_TEXT,
            Align::Center,
        );
        for (c, pair) in pairs.iter().enumerate() {
            let cell = Rect::new(area.x + label_w + c as f32 * cell_w, y, cell_w, cell_h)
                .inset(6.0, 6.0, 6.0, 6.0);
            let title = pair_title(*pair);
            let cloud = PointCloud {
                latents: &row.latents,
                dims: row.dims,
                colors: &row.colors,
            };
            latent_panel(s, cell, cloud, *pair, LATENT_EXTENT, Some(&title));
        }
    }
}

/// A grid of dims (0, 1) panels, `columns` wide, one per `(title, latents)`: a sweep's runs
/// side by side.
pub fn contact_sheet(
    s: &mut dyn Surface,
    area: Rect,
    panels: &[(String, Vec<f32>)],
    dims: usize,
    colors: &[f32],
    columns: usize,
) {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let columns = columns.max(1);
    let rows = panels.len().div_ceil(columns).max(1);
    let (cell_w, cell_h) = (area.w / columns as f32, area.h / rows as f32);
    for (i, (title, latents)) in panels.iter().enumerate() {
        let (c, r) = (i % columns, i / columns);
        let cell = Rect::new(
            area.x + c as f32 * cell_w,
            area.y + r as f32 * cell_h,
            cell_w,
            cell_h,
        )
        .inset(4.0, 4.0, 4.0, 4.0);
        let cloud = PointCloud {
            latents,
            dims,
            colors,
        };
        latent_panel(s, cell, cloud, (0, 1), LATENT_EXTENT, Some(title));
    }
}
