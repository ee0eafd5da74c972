//! A phase diagram: a grid of cells, each coloured by its crumple rate and labelled with it.

use super::{Align, Rect, Rgba, Surface, FIGURE, PANEL, TEXT};
use crate::grid::{Axis, Grid};

/// What a heatmap shows. `cells` are `(crumpled, runs)` in row-major order, the x axis
/// varying fastest; row 0 is drawn at the bottom, as a chart's y axis rises. A cell of no
/// runs is one not trained yet (the page fills its grid a cell at a time).
pub struct Heatmap<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub x_ticks: &'a [String],
    /// Empty for a grid of one axis (one row).
    pub y_label: &'a str,
    pub y_ticks: &'a [String],
    pub cells: &'a [(usize, usize)],
}

/// Where the heatmap's cells landed, to find the cell under a pointer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatmapLayout {
    pub cells: Rect,
    pub columns: usize,
    pub rows: usize,
}

impl HeatmapLayout {
    /// The index of the cell under `(x, y)`, if any.
    pub fn cell_at(&self, x: f32, y: f32) -> Option<usize> {
        if !self.cells.contains(x, y) {
            return None;
        }
        let c = ((x - self.cells.x) / self.cells.w * self.columns as f32) as usize;
        let from_top = ((y - self.cells.y) / self.cells.h * self.rows as f32) as usize;
        let (c, from_top) = (c.min(self.columns - 1), from_top.min(self.rows - 1));
        Some((self.rows - 1 - from_top) * self.columns + c)
    }
}

/// A cell not trained yet.
pub const NOT_YET: Rgba = [60, 60, 60, 255];

/// The colour of a crumple rate: dark blue-green for none, through purple, to a light
/// orange for all runs.
pub fn rate_color(rate: f64) -> Rgba {
    const STOPS: [[f64; 3]; 3] = [
        [28.0, 74.0, 96.0],
        [150.0, 60.0, 120.0],
        [250.0, 170.0, 90.0],
    ];
    let t = rate.clamp(0.0, 1.0) * 2.0;
    let (i, f) = if t >= 2.0 {
        (1, 1.0)
    } else {
        (t as usize, t.fract())
    };
    let mix = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    [mix(0), mix(1), mix(2), 255]
}

/// Text that reads on `background`.
fn ink_on(background: Rgba) -> Rgba {
    let luma =
        0.299 * background[0] as f32 + 0.587 * background[1] as f32 + 0.114 * background[2] as f32;
    if luma > 140.0 {
        [20, 20, 20, 255]
    } else {
        TEXT
    }
}

/// A phase diagram of `grid` (the CLI's `grid.png` and the page's): `cells` are each cell's
/// `(crumpled, runs)`, `runs` the seeds a cell, judged at step `until` (or the sheet's end).
pub fn grid_heatmap(
    s: &mut dyn Surface,
    area: Rect,
    grid: &Grid,
    cells: &[(usize, usize)],
    runs: usize,
    until: Option<u64>,
) -> HeatmapLayout {
    let (x, y) = (grid.axes().first(), grid.axes().get(1));
    let ticks = |a: Option<&Axis>| a.map_or(Vec::new(), Axis::tick_labels);
    let label = |a: Option<&Axis>| a.map_or(String::new(), Axis::label);
    let judged = until.map_or(String::new(), |u| format!(" at step {u}"));
    let title = format!("crumple rate{judged}, {runs} seeds a cell");
    let map = Heatmap {
        title: &title,
        x_label: &label(x),
        x_ticks: &ticks(x),
        y_label: &label(y),
        y_ticks: &ticks(y),
        cells,
    };
    heatmap(s, area, &map)
}

pub fn heatmap(s: &mut dyn Surface, area: Rect, map: &Heatmap) -> HeatmapLayout {
    s.fill_rect(area.x, area.y, area.w, area.h, FIGURE);
    let columns = map.x_ticks.len().max(1);
    let rows = map.y_ticks.len().max(1);
    let font = 18.0;
    let left = if map.y_ticks.is_empty() {
        16.0
    } else {
        // The y label, turned into a line above the ticks, and the widest tick.
        let widest = map
            .y_ticks
            .iter()
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(0);
        24.0 + 8.0 * widest as f32
    };
    let cells = area.inset(left, 48.0, 16.0, 56.0);
    let layout = HeatmapLayout {
        cells,
        columns,
        rows,
    };
    s.text(
        area.x + area.w / 2.0,
        area.y + 20.0,
        map.title,
        font,
        TEXT,
        Align::Center,
    );
    if !map.y_label.is_empty() {
        s.text(
            area.x + 8.0,
            area.y + 40.0,
            map.y_label,
            13.0,
            TEXT,
            Align::Left,
        );
    }
    let (w, h) = (cells.w / columns as f32, cells.h / rows as f32);
    s.fill_rect(cells.x, cells.y, cells.w, cells.h, PANEL);
    for (i, &(crumpled, runs)) in map.cells.iter().enumerate().take(columns * rows) {
        let (c, r) = (i % columns, i / columns);
        let (x, y) = (cells.x + c as f32 * w, cells.y + (rows - 1 - r) as f32 * h);
        if runs == 0 {
            s.fill_rect(x + 1.0, y + 1.0, w - 2.0, h - 2.0, NOT_YET);
            s.text(x + w / 2.0, y + h / 2.0, "…", 14.0, TEXT, Align::Center);
            continue;
        }
        let rate = crumpled as f64 / runs as f64;
        let color = rate_color(rate);
        s.fill_rect(x + 1.0, y + 1.0, w - 2.0, h - 2.0, color);
        let ink = ink_on(color);
        let percent = format!("{}%", (rate * 100.0).round());
        let size = if w >= 80.0 && h >= 48.0 { 18.0 } else { 12.0 };
        s.text(
            x + w / 2.0,
            y + h / 2.0 - size / 2.0,
            &percent,
            size,
            ink,
            Align::Center,
        );
        let count = format!("{crumpled}/{runs}");
        s.text(
            x + w / 2.0,
            y + h / 2.0 + size * 0.75,
            &count,
            11.0,
            ink,
            Align::Center,
        );
    }
    for (c, tick) in map.x_ticks.iter().enumerate() {
        let x = cells.x + (c as f32 + 0.5) * w;
        s.text(x, cells.y + cells.h + 12.0, tick, 13.0, TEXT, Align::Center);
    }
    let x_label_y = cells.y + cells.h + 36.0;
    s.text(
        cells.x + cells.w / 2.0,
        x_label_y,
        map.x_label,
        14.0,
        TEXT,
        Align::Center,
    );
    for (r, tick) in map.y_ticks.iter().enumerate() {
        let y = cells.y + (rows - 1 - r) as f32 * h + h / 2.0;
        s.text(cells.x - 8.0, y, tick, 13.0, TEXT, Align::Right);
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Raster;

    #[test]
    fn each_cell_is_coloured_by_its_rate_with_row_zero_at_the_bottom() {
        let ticks = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        let (x_ticks, y_ticks) = (ticks(3), ticks(2));
        let cells = [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4), (0, 0)];
        let map = Heatmap {
            title: "t",
            x_label: "x@0",
            x_ticks: &x_ticks,
            y_label: "y@0",
            y_ticks: &y_ticks,
            cells: &cells,
        };
        let mut raster = Raster::new(400, 300).unwrap();
        let area = Rect::new(0.0, 0.0, 400.0, 300.0);
        let layout = heatmap(&mut raster, area, &map);
        for (i, &(k, n)) in cells.iter().enumerate() {
            let (c, r) = (i % 3, i / 3);
            let w = layout.cells.w / 3.0;
            let h = layout.cells.h / 2.0;
            // A point near the cell's top-left corner, clear of its text.
            let x = layout.cells.x + c as f32 * w + 4.0;
            let y = layout.cells.y + (1 - r) as f32 * h + 4.0;
            let color = match n {
                0 => NOT_YET,
                n => rate_color(k as f64 / n as f64),
            };
            assert_eq!(raster.pixel(x as u32, y as u32), color, "cell {i}");
            assert_eq!(layout.cell_at(x, y), Some(i));
        }
        assert_eq!(layout.cell_at(1.0, 1.0), None);
        assert_ne!(rate_color(0.0), rate_color(0.5));
        assert_ne!(rate_color(0.5), rate_color(1.0));
    }
}
