//! The schedule chart: every property of a sheet against step, and what is drawn over it (a
//! run's onset, where a comparison's second sheet differs).

use super::*;

/// Properties grouped by scale as the reference chart does (spec §3): those whose maximum is
/// below a fifth of the median of medians (lr, typically) get their own, smaller panel.
pub fn group_by_scale(timeline: &Timeline) -> (Vec<usize>, Vec<usize>) {
    let mut maxima = Vec::new();
    let mut medians = Vec::new();
    for p in 0..timeline.properties().len() {
        let values: Vec<f64> = timeline.keys(p).iter().map(|(_, v)| *v).collect();
        if values.is_empty() {
            maxima.push(None);
            continue;
        }
        let values = crate::order::sorted_by(&values, &|a, b| a.total_cmp(b));
        maxima.push(values.last().copied());
        medians.push(median(&values));
    }
    let medians = crate::order::sorted_by(&medians, &|a, b| a.total_cmp(b));
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
    // one (a figure, a desktop page); on a phone, in rows above the phase names, clear of
    // the curves.
    let longest = (timeline.properties().iter())
        .map(|p| p.chars().count())
        .max()
        .unwrap_or(0);
    let legend_w = font * (2.6 + 0.55 * 0.85 * longest as f32) + font;
    let gutter = area.w >= 640.0 && legend_w <= area.w * 0.25;
    // Without a gutter, the right margin still holds half the last step's tick label.
    let (left, right) = (font * 4.5, if gutter { legend_w } else { font * 2.0 });
    let per_row = ((area.w - left - right) / legend_w).floor().max(1.0) as usize;
    let entries: usize = groups.iter().map(|g| g.len()).sum();
    // At most a third of the chart: a sheet with dozens of columns keeps room for its curves.
    let most_rows = ((area.h / 3.0) / (font * 1.2)).floor().max(1.0) as usize;
    let legend_rows = if gutter {
        0
    } else {
        entries.div_ceil(per_row).min(most_rows)
    };
    let legend_h = legend_rows as f32 * font * 1.2;
    let outer = area.inset(left, font * 2.4 + legend_h, right, font * 2.2);
    let total_ratio: f32 = groups
        .iter()
        .enumerate()
        .map(|(i, _)| if i == 0 { 2.0 } else { 1.0 })
        .sum();
    let gap = font * 0.8;
    let usable = outer.h - gap * (groups.len().saturating_sub(1)) as f32;
    let steps = timeline.len().max(1);
    let axis = StepAxis { plot: outer, steps };

    // Phase names above the top panel, centred on each span: none on a span too narrow for two
    // letters, where it could only be read on top of its neighbours'.
    for phase in timeline.phases() {
        if axis.x((phase.end + 1) as f64) - axis.x(phase.start as f64) < font * 2.0 {
            continue;
        }
        let mid = (phase.start as f64 + phase.end as f64 + 1.0) / 2.0;
        s.text(
            axis.x(mid),
            outer.y - font * 1.2,
            &phase.name,
            font,
            TEXT,
            Align::Center,
        );
    }

    let mut y = outer.y;
    let mut entry = 0;
    for (g, group) in groups.iter().enumerate() {
        let h = usable * if g == 0 { 2.0 } else { 1.0 } / total_ratio;
        let plot = Rect::new(outer.x, y, outer.w, h);
        s.fill_rect(plot.x, plot.y, plot.w, plot.h, PANEL);
        let (lo, hi) = value_range(timeline, group);
        let to_y = |v: f64| plot.y + plot.h - ((v - lo) / (hi - lo)) as f32 * plot.h;
        let starts = timeline
            .phases()
            .iter()
            .map(|p| (axis.x(p.start as f64), ()));
        for (x, ()) in spaced(starts, 1.0) {
            s.line((x, plot.y), (x, plot.y + plot.h), 1.0, GRID, false);
        }
        let (ticks, decimals) = round_ticks(lo, hi);
        for tick in ticks {
            let y = to_y(tick);
            s.line((plot.x, y), (plot.x + plot.w, y), 1.0, GRID, false);
            s.text(
                plot.x - 4.0,
                y,
                &tick_label(tick, decimals),
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
            let keys = timeline.keys(p).iter();
            for at in apart(keys.map(|&(step, v)| (axis.x(step as f64), to_y(v))), 4.0) {
                s.dot(at, 4.0, color);
                s.dot(at, 2.2, [0, 0, 0, 255]);
            }
            let (lx, ly) = if gutter {
                (
                    plot.x + plot.w + font * 0.8,
                    plot.y + font * (0.9 + 1.2 * n as f32),
                )
            } else {
                let (row, column) = (entry / per_row, entry % per_row);
                (
                    outer.x + column as f32 * legend_w,
                    area.y + font * (0.9 + 1.2 * row as f32),
                )
            };
            let room = gutter || entry / per_row < legend_rows;
            entry += 1;
            if room {
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
        }
        if g == 0 {
            let marks = timeline
                .action_steps()
                .map(|(step, a)| (axis.x(step as f64), a));
            for (x, actions) in spaced(marks, font) {
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

/// The marks of `marks` (in order along x) that sit at least `gap` pixels right of the last
/// one kept. Closer ones would be drawn on top of it, and thousands of them (a sheet keyed on
/// every row) cost the page seconds a redraw.
fn spaced<T>(marks: impl Iterator<Item = (f32, T)>, gap: f32) -> impl Iterator<Item = (f32, T)> {
    let mut last = f32::NEG_INFINITY;
    marks.filter(move |&(x, _)| {
        let keep = x - last >= gap;
        if keep {
            last = x;
        }
        keep
    })
}

/// The points of `points` (in order along x) that fall in a `gap`-pixel square no earlier one
/// took: one dot stands for the keys it would cover, wherever they are (keys a step apart at
/// different values each keep theirs), and a sheet keyed on every row draws a few hundred.
fn apart(points: impl Iterator<Item = (f32, f32)>, gap: f32) -> impl Iterator<Item = (f32, f32)> {
    // The squares taken in the current column: the points come column by column.
    let (mut column, mut rows) = (i64::MIN, Vec::new());
    points.filter(move |&(x, y)| {
        let (cx, cy) = ((x / gap).floor() as i64, (y / gap).floor() as i64);
        if cx != column {
            column = cx;
            rows.clear();
        }
        let fresh = !rows.contains(&cy);
        if fresh {
            rows.push(cy);
        }
        fresh
    })
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

/// Round values within `lo..=hi` to mark a value axis at: the multiples in it of the least of
/// 1, 2 or 5 × 10ⁿ that gives at most five, and the decimals they need. A reader compares
/// curves against round numbers; the range's own ends (a margin beyond the keys) are not.
fn round_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return (vec![lo], 3);
    }
    // The power of ten at or below a fifth of the span, and the decimals it needs: found by
    // steps of ten, as the page's module has no f64 logarithm to spare.
    let (mut unit, mut decimals) = (1.0, 0i32);
    while unit > span / 5.0 {
        unit /= 10.0;
        decimals += 1;
    }
    while unit * 10.0 <= span / 5.0 {
        unit *= 10.0;
        decimals -= 1;
    }
    let step = [1.0, 2.0, 5.0]
        .into_iter()
        .map(|m| m * unit)
        .find(|step| span / step <= 5.0)
        .unwrap_or_else(|| {
            decimals -= 1;
            unit * 10.0
        });
    let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, decimals.max(0) as usize)
}

/// A tick's value with the decimals its axis's step needs, trailing zeros dropped: `0`,
/// `0.5`, `0.005`, `20000`.
fn tick_label(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64) -> Vec<String> {
        let (ticks, decimals) = round_ticks(lo, hi);
        ticks.iter().map(|&v| tick_label(v, decimals)).collect()
    }

    #[test]
    fn value_axes_are_marked_at_round_numbers() {
        // ex-1.5's weights (0 to 1) and learning rate (1e-4 to 0.01), with their margins.
        assert_eq!(labels(-0.15, 1.15), ["0", "0.5", "1"]);
        assert_eq!(labels(-0.0014, 0.0115), ["0", "0.005", "0.01"]);
        assert_eq!(labels(0.85, 1.15), ["0.9", "1", "1.1"]);
        assert_eq!(labels(-5.0, 105.0), ["0", "50", "100"]);
        assert_eq!(labels(-0.35, -0.05), ["-0.3", "-0.2", "-0.1"]);
    }
}
