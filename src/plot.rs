//! Charts drawn onto any [`Surface`]: a raster image here (the CLI's PNGs) or a browser
//! canvas (the page). The charts know nothing of tensors: they take plain slices.

mod geometry;
#[cfg(not(target_family = "wasm"))]
mod glyphs;
mod heatmap;
mod svg;

pub use geometry::{cosine_color, geometry_panel, MatrixLayout};
pub use heatmap::{heatmap, rate_color, Heatmap, HeatmapLayout};
pub use svg::Svg;

use crate::stats::median;
use crate::timeline::Timeline;

pub type Rgba = [u8; 4];

pub const FIGURE: Rgba = [0x33, 0x33, 0x33, 255];
pub const PANEL: Rgba = [0x22, 0x22, 0x22, 255];
pub const GRID: Rgba = [128, 128, 128, 110];
pub const TEXT: Rgba = [230, 230, 230, 255];
pub const FAINT_TEXT: Rgba = [160, 160, 160, 255];

/// A verdict's colour: a wheel's, a crumple's, and a run not yet judged.
pub const WHEEL: Rgba = [76, 175, 80, 255];
pub const CRUMPLED: Rgba = [239, 83, 80, 255];
pub const UNDECIDED: Rgba = [140, 140, 140, 255];

/// matplotlib's tab10, the colours the reference chart used.
pub const PALETTE: [Rgba; 10] = [
    [31, 119, 180, 255],
    [255, 127, 14, 255],
    [44, 160, 44, 255],
    [214, 39, 40, 255],
    [148, 103, 189, 255],
    [140, 86, 75, 255],
    [227, 119, 194, 255],
    [127, 127, 127, 255],
    [188, 189, 34, 255],
    [23, 190, 207, 255],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// The few drawing operations the charts need.
pub trait Surface {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba);
    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool);
    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool);
    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba);
    /// `y` is the text's vertical centre.
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align);

    fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgba) {
        for pair in points.windows(2) {
            self.line(pair[0], pair[1], width, color, false);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Rect { x, y, w, h }
    }
    pub fn inset(self, left: f32, top: f32, right: f32, bottom: f32) -> Self {
        Rect::new(
            self.x + left,
            self.y + top,
            (self.w - left - right).max(1.0),
            (self.h - top - bottom).max(1.0),
        )
    }
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x <= self.x + self.w && y >= self.y && y <= self.y + self.h
    }
}

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

/// The font of a titled panel's axis labels, when it is large enough to carry them (a
/// figure's panels are; a thumbnail's or a phone's are not).
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

/// Properties grouped by scale as the reference chart does (spec §3): those whose maximum is
/// below a fifth of the median of medians (lr, typically) get their own, smaller panel.
pub fn group_by_scale(timeline: &Timeline) -> (Vec<usize>, Vec<usize>) {
    let mut maxima = Vec::new();
    let mut medians = Vec::new();
    for p in 0..timeline.properties().len() {
        let mut values: Vec<f64> = timeline.keys(p).iter().map(|(_, v)| *v).collect();
        if values.is_empty() {
            maxima.push(None);
            continue;
        }
        values.sort_by(f64::total_cmp);
        maxima.push(values.last().copied());
        medians.push(median(&values));
    }
    medians.sort_by(f64::total_cmp);
    let m = if medians.is_empty() {
        0.0
    } else {
        median(&medians)
    };
    let threshold = if m > 1e-9 { 0.2 * m } else { 1e-9 };
    let mut large = Vec::new();
    let mut small = Vec::new();
    for (p, max) in maxima.iter().enumerate() {
        match max {
            Some(max) if *max >= threshold => large.push(p),
            Some(_) => small.push(p),
            None => {}
        }
    }
    (large, small)
}

/// Maps steps to x pixels across a chart.
#[derive(Debug, Clone, Copy)]
pub struct StepAxis {
    pub plot: Rect,
    pub steps: u64,
}

impl StepAxis {
    pub fn x(&self, step: f64) -> f32 {
        self.plot.x + (step / self.steps.max(1) as f64) as f32 * self.plot.w
    }
    pub fn step_at(&self, x: f32) -> u64 {
        let f = ((x - self.plot.x) / self.plot.w).clamp(0.0, 1.0);
        ((f as f64) * self.steps as f64).round() as u64
    }
}

/// The parameter schedule: every property against step, lr in its own panel, phase bands and
/// names, keyframe dots and action markers. Returns the step axis so callers can map pointer
/// positions to steps and draw a playhead over it.
pub fn timeline_chart(s: &mut dyn Surface, area: Rect, timeline: &Timeline) -> StepAxis {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let (large, small) = group_by_scale(timeline);
    let groups: Vec<&Vec<usize>> = [&large, &small]
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect();
    let font = (area.h * 0.04).clamp(9.0, 14.0);
    // The legend: in a gutter right of the curves where the chart is wide enough to spare
    // one (a figure, a desktop page), over their top right corner on a phone.
    let longest = (timeline.properties().iter())
        .map(|p| p.chars().count())
        .max()
        .unwrap_or(0);
    let legend_w = font * (2.6 + 0.55 * 0.85 * longest as f32) + font;
    let gutter = area.w >= 640.0 && legend_w <= area.w * 0.25;
    let right = if gutter { legend_w } else { font };
    let outer = area.inset(font * 4.5, font * 2.4, right, font * 2.2);
    let total_ratio: f32 = groups
        .iter()
        .enumerate()
        .map(|(i, _)| if i == 0 { 2.0 } else { 1.0 })
        .sum();
    let gap = font * 0.8;
    let usable = outer.h - gap * (groups.len().saturating_sub(1)) as f32;
    let steps = timeline.len().max(1);
    let axis = StepAxis { plot: outer, steps };

    // Phase names above the top panel, centred on each span.
    for phase in timeline.phases() {
        let mid = (phase.start as f64 + phase.end as f64 + 1.0) / 2.0;
        s.text(
            axis.x(mid),
            area.y + font * 1.2,
            &phase.name,
            font,
            TEXT,
            Align::Center,
        );
    }

    let mut y = outer.y;
    for (g, group) in groups.iter().enumerate() {
        let h = usable * if g == 0 { 2.0 } else { 1.0 } / total_ratio;
        let plot = Rect::new(outer.x, y, outer.w, h);
        s.fill_rect(plot.x, plot.y, plot.w, plot.h, PANEL);
        let (lo, hi) = value_range(timeline, group);
        let to_y = |v: f64| plot.y + plot.h - ((v - lo) / (hi - lo)) as f32 * plot.h;
        for phase in timeline.phases() {
            let x = axis.x(phase.start as f64);
            s.line((x, plot.y), (x, plot.y + plot.h), 1.0, GRID, false);
        }
        for tick in [lo, (lo + hi) / 2.0, hi] {
            s.text(
                plot.x - 4.0,
                to_y(tick),
                &short_number(tick),
                font * 0.85,
                FAINT_TEXT,
                Align::Right,
            );
        }
        let samples = (plot.w as usize).clamp(2, 2000);
        for (n, &p) in group.iter().enumerate() {
            let color = PALETTE[p % PALETTE.len()];
            let points: Vec<(f32, f32)> = (0..=samples)
                .map(|i| {
                    let step = (i as f64 / samples as f64 * (steps - 1) as f64).round();
                    (axis.x(step), to_y(timeline.value(p, step as u64)))
                })
                .collect();
            s.polyline(&points, 2.0, color);
            for &(step, value) in timeline.keys(p) {
                s.dot((axis.x(step as f64), to_y(value)), 4.0, color);
                s.dot((axis.x(step as f64), to_y(value)), 2.2, [0, 0, 0, 255]);
            }
            let ly = plot.y + font * (0.9 + 1.2 * n as f32);
            let lx = if gutter {
                plot.x + plot.w + font * 0.8
            } else {
                plot.x + plot.w - font * 9.0
            };
            s.line((lx, ly), (lx + font * 1.5, ly), 2.0, color, false);
            s.text(
                lx + font * 2.0,
                ly,
                &timeline.properties()[p],
                font * 0.85,
                TEXT,
                Align::Left,
            );
        }
        if g == 0 {
            for (step, actions) in timeline.action_steps() {
                let x = axis.x(step as f64);
                s.text(
                    x,
                    plot.y + plot.h - font * 0.7,
                    "^",
                    font,
                    FAINT_TEXT,
                    Align::Center,
                );
                s.text(
                    x + font * 0.6,
                    plot.y + plot.h - font * 1.8,
                    &actions.join(","),
                    font * 0.8,
                    FAINT_TEXT,
                    Align::Left,
                );
            }
        }
        y += h + gap;
    }
    // Step ticks along the bottom.
    for i in 0..=4 {
        let step = (steps - 1) as f64 * i as f64 / 4.0;
        s.text(
            axis.x(step),
            outer.y + outer.h + font * 0.9,
            &format!("{}", step.round() as u64),
            font * 0.85,
            FAINT_TEXT,
            Align::Center,
        );
    }
    axis
}

/// Marks on a schedule chart ([`timeline_chart`]'s `axis`) the step from which a run's
/// verdict (`shape`: "wheel" or "crumpled") has held: a dashed line in the verdict's colour,
/// labelled `crumpled since 1250`.
pub fn onset_marker(s: &mut dyn Surface, axis: &StepAxis, shape: &str, step: u64) {
    let color = if shape == "crumpled" { CRUMPLED } else { WHEEL };
    let plot = axis.plot;
    let x = axis.x(step as f64);
    s.line((x, plot.y), (x, plot.y + plot.h), 2.0, color, true);
    // The label reads away from the nearer edge.
    let (dx, align) = if x > plot.x + plot.w * 0.6 {
        (-4.0, Align::Right)
    } else {
        (4.0, Align::Left)
    };
    let font = (plot.h * 0.06).clamp(9.0, 12.0);
    let label = format!("{shape} since {step}");
    s.text(x + dx, plot.y + font * 1.1, &label, font, color, align);
}

/// Shades on a schedule chart ([`timeline_chart`]'s `axis`) the steps `first..=last` where a
/// comparison's second sheet (B) differs from the one drawn, labelled `B differs`.
pub fn difference_band(s: &mut dyn Surface, axis: &StepAxis, first: u64, last: u64) {
    let plot = axis.plot;
    let (x0, x1) = (axis.x(first as f64), axis.x(last as f64 + 1.0));
    s.fill_rect(x0, plot.y, (x1 - x0).max(2.0), plot.h, DIFFERS);
    let font = (plot.h * 0.06).clamp(9.0, 12.0);
    let label_at = (x0 + 4.0).min(plot.x + plot.w - 60.0);
    s.text(
        label_at,
        plot.y + plot.h - font * 0.8,
        "B differs",
        font,
        DIFFERS_TEXT,
        Align::Left,
    );
}

/// Where a comparison's two sheets differ: a translucent amber band, and its label.
pub const DIFFERS: Rgba = [255, 213, 79, 48];
const DIFFERS_TEXT: Rgba = [255, 213, 79, 255];

fn value_range(timeline: &Timeline, group: &[usize]) -> (f64, f64) {
    let values = group
        .iter()
        .flat_map(|&p| timeline.keys(p).iter().map(|(_, v)| *v));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let margin = if hi > lo {
        (hi - lo) * 0.15
    } else {
        lo.abs().max(1e-3) * 0.5
    };
    (lo - margin, hi + margin)
}

fn short_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 0.01 && v.abs() < 1e4 {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Loss curves, one per term, on a log scale. `series[i]` is `(name, [(step, value)])`.
pub fn loss_chart(
    s: &mut dyn Surface,
    area: Rect,
    series: &[(&str, &[(u64, f32)])],
    faint: &[(&str, &[(u64, f32)])],
    steps: u64,
    playhead: Option<u64>,
) {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let font = (area.h * 0.06).clamp(9.0, 14.0);
    // The legend has a band of its own above the plot, wrapped to the width: on a phone it
    // takes more rows instead of covering the curves.
    let entry_w = |name: &str| font * (2.6 + 0.55 * name.chars().count() as f32);
    let (left, right) = (area.x + font * 4.0, area.x + area.w - font);
    let mut legend = Vec::new();
    let (mut x, mut row) = (left, 0);
    // A comparison's second sheet has one entry: its curves are A's, faint.
    let faint_entry = (!faint.is_empty()).then_some("B (faint)");
    for name in series.iter().map(|(n, _)| *n).chain(faint_entry) {
        if x + entry_w(name) > right && x > left {
            (x, row) = (left, row + 1);
        }
        legend.push((x, row));
        x += entry_w(name);
    }
    let legend_h = (row + 1) as f32 * font * 1.3;
    let plot = area.inset(font * 4.0, legend_h + font * 0.6, font, font * 1.8);
    s.fill_rect(plot.x, plot.y, plot.w, plot.h, PANEL);
    let positive = (series.iter().chain(faint))
        .flat_map(|(_, points)| points.iter().map(|(_, v)| *v))
        .filter(|v| *v > 0.0 && v.is_finite());
    let (lo, hi) = positive.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        s.text(
            plot.x + plot.w / 2.0,
            plot.y + plot.h / 2.0,
            "no losses yet",
            font,
            FAINT_TEXT,
            Align::Center,
        );
        return;
    }
    let (lo, hi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let axis = StepAxis {
        plot,
        steps: steps.max(1),
    };
    let to_y = |v: f32| plot.y + plot.h - (v.log10() - lo) / (hi - lo) * plot.h;
    let mut decade = lo;
    while decade <= hi {
        let y = to_y(10f32.powf(decade));
        s.line((plot.x, y), (plot.x + plot.w, y), 1.0, GRID, true);
        s.text(
            plot.x - 4.0,
            y,
            &format!("1e{}", decade as i32),
            font * 0.85,
            FAINT_TEXT,
            Align::Right,
        );
        decade += 1.0;
    }
    let color = |i: usize| {
        if i == 0 {
            [240, 240, 240, 255]
        } else {
            PALETTE[i % PALETTE.len()]
        }
    };
    let points = |points: &[(u64, f32)]| -> Vec<(f32, f32)> {
        (points.iter())
            .filter(|(_, v)| *v > 0.0 && v.is_finite())
            .map(|(st, v)| (axis.x(*st as f64), to_y(*v)))
            .collect()
    };
    // B's curves under A's, in A's colours at a third of their strength.
    let faded = |[r, g, b, _]: Rgba| [r, g, b, 85];
    for (i, (_, pts)) in faint.iter().enumerate() {
        s.polyline(&points(pts), 1.5, faded(color(i)));
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        s.polyline(&points(pts), 1.5, color(i));
        let (lx, row) = legend[i];
        let ly = area.y + font * (0.9 + 1.3 * row as f32);
        s.line((lx, ly), (lx + font * 1.5, ly), 2.0, color(i), false);
        s.text(lx + font * 2.0, ly, name, font * 0.85, TEXT, Align::Left);
    }
    if let Some(name) = faint_entry {
        let (lx, row) = legend[series.len()];
        let ly = area.y + font * (0.9 + 1.3 * row as f32);
        s.line((lx, ly), (lx + font * 1.5, ly), 2.0, faded(color(0)), false);
        s.text(lx + font * 2.0, ly, name, font * 0.85, TEXT, Align::Left);
    }
    if let Some(step) = playhead {
        let x = axis.x(step as f64);
        s.line(
            (x, plot.y),
            (x, plot.y + plot.h),
            1.5,
            [255, 255, 255, 200],
            false,
        );
    }
}

/// An RGBA8 image, the [`Surface`] the CLI draws PNGs on.
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The largest image a [`Raster`] holds: 2²⁶ pixels, 256 MiB.
pub const MAX_PIXELS: u64 = 1 << 26;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {width}×{height} image is too large to draw (at most {MAX_PIXELS} pixels)")]
pub struct TooLarge {
    pub width: u32,
    pub height: u32,
}

impl Raster {
    pub fn new(width: u32, height: u32) -> Result<Self, TooLarge> {
        let pixels = width as u64 * height as u64;
        if pixels > MAX_PIXELS {
            return Err(TooLarge { width, height });
        }
        Ok(Raster {
            width,
            height,
            pixels: vec![0; pixels as usize * 4],
        })
    }

    /// A 0×0 raster, to be resized before use.
    pub fn empty() -> Self {
        Raster {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        }
    }

    fn offset(&self, x: u32, y: u32) -> usize {
        (y as usize * self.width as usize + x as usize) * 4
    }

    pub fn pixel(&self, x: u32, y: u32) -> Rgba {
        let i = self.offset(x, y);
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Paints `color` over the pixel at `coverage` (0–1) of its alpha: the "over" operator on
    /// straight (not premultiplied) RGBA.
    fn blend(&mut self, x: i64, y: i64, color: Rgba, coverage: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = self.offset(x as u32, y as u32);
        // Integer arithmetic in 0–255: the page rasterises thousands of dots every frame.
        let a = (color[3] as f32 * coverage.clamp(0.0, 1.0) + 0.5) as u32;
        let dst_a = self.pixels[i + 3] as u32;
        if dst_a == 255 {
            // Over an opaque pixel (nearly every one the page draws points on) the divisor
            // below is 255² and the same bytes come from one division by a constant.
            for (dst, &src) in self.pixels[i..i + 3].iter_mut().zip(&color[..3]) {
                *dst = over_opaque(src, *dst, a);
            }
            return;
        }
        let out_a = a * 255 + dst_a * (255 - a);
        if out_a == 0 {
            return;
        }
        for (dst, &src) in self.pixels[i..i + 3].iter_mut().zip(&color[..3]) {
            let mixed = src as u32 * a * 255 + *dst as u32 * dst_a * (255 - a);
            *dst = ((mixed + out_a / 2) / out_a) as u8;
        }
        self.pixels[i + 3] = ((out_a + 127) / 255) as u8;
    }
}

/// `src` with alpha `a` over the opaque `dst`, rounded as [`Raster`]'s general blend rounds.
#[inline(always)]
fn over_opaque(src: u8, dst: u8, a: u32) -> u8 {
    ((src as u32 * a + dst as u32 * (255 - a) + 127) / 255) as u8
}

impl Surface for Raster {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba) {
        let (x0, y0) = (x.round() as i64, y.round() as i64);
        let (x1, y1) = ((x + w).round() as i64, (y + h).round() as i64);
        let (x0, x1) = (x0.max(0), x1.min(self.width as i64));
        for py in y0.max(0)..y1.min(self.height as i64) {
            if color[3] == 255 && x0 < x1 {
                // Opaque over anything is the colour itself: what `blend` gives, without
                // its divisions per pixel (the CLI's charts are mostly opaque fills).
                let (from, to) = (
                    self.offset(x0 as u32, py as u32),
                    self.offset(x1 as u32 - 1, py as u32),
                );
                for pixel in self.pixels[from..to + 4].chunks_exact_mut(4) {
                    pixel.copy_from_slice(&color);
                }
                continue;
            }
            for px in x0..x1 {
                self.blend(px, py, color, 1.0);
            }
        }
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool) {
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let length = (dx * dx + dy * dy).sqrt();
        let n = length.ceil().max(1.0) as usize;
        let half = ((width - 1.0) / 2.0).round().max(0.0) as i64;
        for i in 0..=n {
            let t = i as f32 / n as f32;
            if dashed && (t * length / 6.0) as usize % 2 == 1 {
                continue;
            }
            let (cx, cy) = (from.0 + dx * t, from.1 + dy * t);
            // Stamp a small square; good enough for 1–3 px chart lines.
            for oy in -half..=half {
                for ox in -half..=half {
                    self.blend(cx.round() as i64 + ox, cy.round() as i64 + oy, color, 1.0);
                }
            }
        }
    }

    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool) {
        let n = (std::f32::consts::TAU * radius).ceil().max(8.0) as usize;
        for i in 0..n {
            if dashed && (i / 6) % 2 == 1 {
                continue;
            }
            let a = i as f32 / n as f32 * std::f32::consts::TAU;
            let p = (center.0 + radius * a.cos(), center.1 + radius * a.sin());
            self.line(p, p, width, color, false);
        }
    }

    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba) {
        let r = radius.max(0.5);
        // Coverage is r + ½ − distance, clamped. Each row visits only the pixels whose centres
        // fall inside r + ½, and takes a square root only on the rim.
        let (inside, outside) = ((r - 0.5).max(0.0).powi(2), (r + 0.5).powi(2));
        let y0 = (center.1 - r - 1.0).floor() as i64;
        let y1 = (center.1 + r + 1.0).ceil() as i64;
        for py in y0.max(0)..=y1.min(self.height as i64 - 1) {
            let dy2 = (py as f32 + 0.5 - center.1).powi(2);
            if dy2 >= outside {
                continue;
            }
            let half = (outside - dy2).sqrt();
            let x0 = (center.0 - half - 0.5).floor() as i64;
            let x1 = (center.0 + half - 0.5).ceil() as i64;
            for px in x0.max(0)..=x1.min(self.width as i64 - 1) {
                let d2 = (px as f32 + 0.5 - center.0).powi(2) + dy2;
                if d2 >= outside {
                    continue;
                }
                if d2 <= inside && color[3] == 255 {
                    // Fully covered by an opaque colour: the blend's answer is the colour.
                    let i = self.offset(px as u32, py as u32);
                    self.pixels[i..i + 4].copy_from_slice(&color);
                    continue;
                }
                let coverage = if d2 <= inside {
                    1.0
                } else {
                    r + 0.5 - d2.sqrt()
                };
                self.blend(px, py, color, coverage);
            }
        }
    }

    #[cfg(not(target_family = "wasm"))]
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        glyphs::draw_text(self, x, y, text, size, color, align);
    }

    /// The page draws its text with the browser's fonts, on a canvas; a raster there carries
    /// no font, to keep the module small.
    #[cfg(target_family = "wasm")]
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        // Whole multiples of the 8 px font, rounded down so text never outgrows its box.
        let scale = (size / 8.0).floor().max(1.0) as i64;
        let advance = 8 * scale;
        let width = advance * text.chars().count() as i64;
        let left = match align {
            Align::Left => x as i64,
            Align::Center => x as i64 - width / 2,
            Align::Right => x as i64 - width,
        };
        let top = y as i64 - 4 * scale;
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or(font8x8::legacy::BASIC_LEGACY[b'?' as usize]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                let px = left + i as i64 * advance + col * scale + sx;
                                self.blend(px, top + row as i64 * scale + sy, color, 1.0);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wide timeline chart keeps its legend right of the curves' panel, clear of them.
    #[test]
    fn a_wide_timeline_charts_legend_is_outside_the_curves() {
        let sheet = crate::dopesheet::Dopesheet::parse(crate::dopesheet::EX_1_5).unwrap();
        let timeline = Timeline::new(&sheet);
        let mut svg = Svg::new(1500.0, 700.0);
        let axis = timeline_chart(&mut svg, Rect::new(0.0, 0.0, 1500.0, 700.0), &timeline);
        let doc = svg.finish();
        let right_edge = axis.plot.x + axis.plot.w;
        for name in timeline.properties() {
            let at = doc.find(&format!(">{name}</text>")).expect(name);
            let x: f32 = doc[..at]
                .rsplit("<text x=\"")
                .next()
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                x > right_edge,
                "{name} at x = {x}, the curves end at {right_edge}"
            );
        }
    }

    #[test]
    fn the_phase_history_draws_only_the_dims_a_model_has() {
        let titles = |dims: usize| {
            let row = PhaseSnapshot {
                phase: "p".into(),
                step: 9,
                latents: vec![0.0; 6 * dims],
                dims,
                colors: vec![0.5; 18],
            };
            let mut svg = Svg::new(900.0, 300.0);
            phase_history(&mut svg, Rect::new(0.0, 0.0, 900.0, 300.0), &[row]);
            let doc = svg.finish();
            (1..4)
                .filter(|d| doc.contains(&format!(">{}<", pair_title((0, *d)))))
                .count()
        };
        assert_eq!([titles(2), titles(3), titles(4), titles(8)], [1, 2, 3, 3]);
    }

    #[test]
    fn a_dot_covers_its_disc_and_nothing_beyond() {
        let mut r = Raster::new(20, 20).unwrap();
        r.fill_rect(0.0, 0.0, 20.0, 20.0, [0, 0, 0, 255]);
        r.dot((10.0, 10.0), 4.0, [255, 0, 0, 255]);
        assert_eq!(r.pixel(10, 10), [255, 0, 0, 255], "centre");
        assert_eq!(r.pixel(11, 12), [255, 0, 0, 255], "inside");
        assert_eq!(r.pixel(15, 10), [0, 0, 0, 255], "beyond r + 1/2");
        assert_eq!(r.pixel(3, 3), [0, 0, 0, 255], "far away");
        let rim = r.pixel(13, 10)[0];
        assert!(rim > 0 && rim < 255, "the rim is partly covered: {rim}");
        let covered = (0..20)
            .flat_map(|y| (0..20).map(move |x| (x, y)))
            .map(|(x, y)| r.pixel(x, y)[0] as f32 / 255.0)
            .sum::<f32>();
        let area = std::f32::consts::PI * 16.0;
        assert!(
            (covered - area).abs() < 0.05 * area,
            "covered {covered} px², disc {area}"
        );
    }

    /// What `dot` and `fill_rect` write directly for fully covered opaque pixels.
    #[test]
    fn an_opaque_colour_fully_covering_any_pixel_blends_to_itself() {
        let colour = [201, 7, 99, 255];
        for dst_a in 0..=255u8 {
            for dst in [0u8, 1, 128, 254, 255] {
                let mut r = Raster::new(1, 1).unwrap();
                r.pixels.copy_from_slice(&[dst, 255 - dst, dst / 2, dst_a]);
                r.blend(0, 0, colour, 1.0);
                assert_eq!(r.pixel(0, 0), colour, "over {dst} at alpha {dst_a}");
            }
        }
    }

    #[test]
    fn over_an_opaque_pixel_the_shortcut_is_the_general_blend() {
        for a in 0..=255u32 {
            for src in 0..=255u8 {
                for dst in 0..=255u8 {
                    let out_a = a * 255 + 255 * (255 - a);
                    let mixed = src as u32 * a * 255 + dst as u32 * 255 * (255 - a);
                    let general = ((mixed + out_a / 2) / out_a) as u8;
                    assert_eq!(over_opaque(src, dst, a), general, "{src} over {dst} at {a}");
                }
            }
        }
    }

    #[test]
    fn blending_is_the_over_operator_on_straight_alpha() {
        let mut r = Raster::new(2, 1).unwrap();
        r.fill_rect(0.0, 0.0, 1.0, 1.0, [0, 0, 200, 255]);
        r.blend(0, 0, [200, 0, 0, 255], 0.5);
        assert_eq!(r.pixel(0, 0), [100, 0, 100, 255], "half over opaque");
        r.blend(1, 0, [200, 100, 0, 128], 1.0);
        assert_eq!(
            r.pixel(1, 0),
            [200, 100, 0, 128],
            "over transparent keeps the colour"
        );
    }
}
