//! Charts drawn onto any [`Surface`]: a raster image here (the CLI's PNGs) or a browser
//! canvas (the page). The charts know nothing of tensors: they take plain slices.

mod geometry;
#[cfg(not(target_family = "wasm"))]
mod glyphs;
mod heatmap;
mod latent;
mod losses;
mod raster;
mod schedule;
mod surface;
mod svg;

pub use geometry::{cosine_color, geometry_panel, MatrixLayout};
pub use heatmap::{grid_heatmap, heatmap, rate_color, Heatmap, HeatmapLayout};
pub use latent::{
    contact_sheet, dim_pairs, has_axis_labels, latent_frame, latent_panel, latent_plot_area,
    latent_points, pair_title, phase_history, point_radius, to_u8, PanelMap, PhaseSnapshot,
    PointCloud, DIM_PAIRS, LATENT_EXTENT,
};
pub use losses::loss_chart;
pub use raster::{Raster, TooLarge, MAX_PIXELS};
pub use schedule::{
    difference_band, group_by_scale, onset_marker, timeline_chart, StepAxis, DIFFERS,
};
pub use surface::{Align, Rect, Surface};
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

/// A phase end's title, `phase (step N)`, in at most `room` characters: a long phase name is
/// cut short (`Primary & … (step 2999)`) so that the step stays.
pub fn phase_title(phase: &str, step: u64, room: usize) -> String {
    let step = format!(" (step {step})");
    let (name, tail) = (phase.chars().count(), step.chars().count());
    if name + tail <= room {
        return format!("{phase}{step}");
    }
    match room.checked_sub(tail + 1) {
        Some(keep) if keep > 0 => {
            format!("{}…{step}", phase.chars().take(keep).collect::<String>())
        }
        _ => format!("{phase}{step}").chars().take(room.max(1)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attribute `attr` of the `<text>` element that reads `label` in the SVG `doc`.
    fn text_attr(doc: &str, label: &str, attr: &str) -> f32 {
        let at = doc.find(&format!(">{label}</text>")).expect(label);
        let tag = &doc[doc[..at].rfind("<text").unwrap()..at];
        let from = tag.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
        tag[from..].split('"').next().unwrap().parse().unwrap()
    }

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
            let x = text_attr(&doc, name, "x");
            assert!(
                x > right_edge,
                "{name} at x = {x}, the curves end at {right_edge}"
            );
        }
    }

    /// A phone's timeline chart puts its legend in rows above the curves, inside the chart.
    #[test]
    fn a_narrow_timeline_charts_legend_is_above_the_curves() {
        let sheet = crate::dopesheet::Dopesheet::parse(crate::dopesheet::EX_1_5).unwrap();
        let timeline = Timeline::new(&sheet);
        let mut svg = Svg::new(350.0, 220.0);
        let axis = timeline_chart(&mut svg, Rect::new(0.0, 0.0, 350.0, 220.0), &timeline);
        let doc = svg.finish();
        for name in timeline.properties() {
            let attr = |a: &str| text_attr(&doc, name, a);
            assert!(
                attr("y") < axis.plot.y,
                "{name} at y = {}, the curves start at {}",
                attr("y"),
                axis.plot.y
            );
            assert!(
                attr("x") >= 0.0 && attr("x") < 350.0,
                "{name} at x = {}",
                attr("x")
            );
        }
        assert!(
            axis.plot.h > 220.0 / 3.0,
            "the curves keep {} px",
            axis.plot.h
        );
    }

    /// Every key of ex-1.5 gets its dot, and a sheet keyed on every one of 32,000 rows (a
    /// phase every 50) draws a dot, a phase line and a name no closer than they can be told
    /// apart: a few hundred marks, not a quarter of a million.
    #[test]
    fn keys_and_phases_closer_than_a_mark_share_one() {
        let marks = |sheet: &str| {
            let timeline = Timeline::new(&crate::dopesheet::Dopesheet::parse(sheet).unwrap());
            let mut svg = Svg::new(800.0, 300.0);
            timeline_chart(&mut svg, Rect::new(0.0, 0.0, 800.0, 300.0), &timeline);
            let doc = svg.finish();
            let keys = (0..timeline.properties().len()).map(|p| timeline.keys(p).len());
            (
                doc.matches("<circle").count(),
                doc.len(),
                keys.sum::<usize>(),
            )
        };
        let (dots, _, keys) = marks(crate::dopesheet::EX_1_5);
        assert_eq!(dots, 2 * keys, "two discs a key");
        // Keys a step apart at different values each keep their dot.
        let jump = "STEP,PHASE,ACTION,lr,loss-recon\n0,A,,0.01,0\n1,,,,1\n5000,,,,\n";
        assert_eq!(marks(jump).0, 2 * 3, "{jump}");
        let mut dense = String::from("STEP,PHASE,ACTION,lr,loss-recon,reg-planar\n");
        for row in 0..32_000 {
            let phase = if row % 50 == 0 {
                format!("P{row}")
            } else {
                String::new()
            };
            dense += &format!("{},{phase},,0.01,{},0.2\n", row * 10, 1 + row % 2);
        }
        let (dots, bytes, keys) = marks(&dense);
        assert_eq!(keys, 3 * 32_000);
        // Each property's keys take at most two values: two dots a 4-pixel column at most.
        assert!(
            dots <= 2 * 3 * 2 * 800 / 4 + 12,
            "{dots} discs for {keys} keys"
        );
        assert!(bytes < 400_000, "{bytes} bytes of SVG");
    }

    #[test]
    fn a_phase_title_keeps_its_step_and_cuts_the_name() {
        assert_eq!(phase_title("All hues", 9999, 40), "All hues (step 9999)");
        assert_eq!(
            phase_title("Primary & secondary", 2999, 31),
            "Primary & secondary (step 2999)"
        );
        let cut = phase_title("Primary & secondary", 2999, 23);
        assert_eq!(cut, "Primary & … (step 2999)");
        assert_eq!(cut.chars().count(), 23);
        assert_eq!(phase_title("Ünïcödé phase", 5, 12), "Ün… (step 5)");
        assert_eq!(
            phase_title("Primary", 2999, 8),
            "Primary ",
            "too narrow for the step"
        );
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
}
