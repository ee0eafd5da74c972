//! The loss curves: the total and each term on a log scale.

use super::*;

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
