//! The probe (a point or any colour, read at the shown moment) and the decoder map's
//! colour at a point of the latent panels.

use super::*;

impl Board {
    /// Colours each latent panel's background by what the decoder outputs there.
    pub fn set_decoder_map(&mut self, on: bool) {
        self.decoder_map = on;
    }

    /// The decoder map's colour (`[r, g, b]` in [0, 1]) at (`x`, `y`) on the latent canvas
    /// (CSS pixels), computed afresh: what the map's pixel there should show. Empty outside
    /// the panels' plots.
    pub fn decoded_at(&self, x: f64, y: f64) -> Vec<f32> {
        let (_, _, params) = self.shown_moment();
        if params.is_empty() {
            return Vec::new();
        }
        let (x, y) = (x as f32, y as f32);
        let Some(panel) = latent_panels(self.latents_css)
            .map(|(area, pair)| panel_map(area, pair))
            .find(|p| p.plot.contains(x, y) && p.pair.1 < self.dims)
        else {
            return Vec::new();
        };
        let (u, v) = panel.to_latent(x, y);
        let mut z = probe::hue_centre(params, self.dims);
        z[panel.pair.0] = u;
        z[panel.pair.1] = v;
        crate::step::decode(params, self.dims, &z)
    }
}

impl Board {
    pub(super) fn set_probe(&mut self, probe: Option<ProbeTarget>) {
        if self.probe != probe {
            self.probe = probe;
            self.probe_version += 1;
        }
    }

    /// The probe's reading at the shown moment.
    pub(super) fn reading(&self) -> Option<Reading> {
        let (_, _, params) = self.shown_moment();
        if params.is_empty() {
            return None;
        }
        let rgb = match self.probe? {
            ProbeTarget::Point(i) => {
                let c = self.colors.get(i * 3..i * 3 + 3)?;
                [c[0], c[1], c[2]]
            }
            ProbeTarget::Color(rgb) => rgb,
        };
        Some(Reading::of(params, self.dims, rgb))
    }
}

/// The grid point whose colour is nearest `rgb`.
pub(super) fn nearest_color(colors: &[f32], rgb: [f32; 3]) -> usize {
    let distance = |c: &[f32]| (0..3).map(|k| (c[k] - rgb[k]).powi(2)).sum::<f32>();
    (colors.chunks_exact(3).enumerate())
        .min_by(|a, b| distance(a.1).total_cmp(&distance(b.1)))
        .map_or(0, |(i, _)| i)
}

fn css_color(c: [f32; 3]) -> String {
    let [r, g, b] = c.map(plot::to_u8);
    format!("rgb({r}, {g}, {b})")
}

pub(super) fn probe_view(r: Reading) -> ProbeView {
    let hex = |c: [f32; 3]| {
        let [r, g, b] = c.map(plot::to_u8);
        format!("#{r:02x}{g:02x}{b:02x}")
    };
    let latent = (r.latent.iter())
        .map(|v| format!("{v:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "in {} → out {} · latent ({latent}) · error {:.2e}",
        hex(r.rgb),
        hex(r.reconstruction),
        r.error
    );
    ProbeView {
        input_css: css_color(r.rgb),
        output_css: css_color(r.reconstruction),
        text,
    }
}

/// The probe's mark in one panel: a ring around latent `z` (a picked colour also as a dot of
/// its own colour), on the backing store's pixels.
pub(super) fn mark_probe(
    raster: &mut Raster,
    dpr: f32,
    panel: &PanelMap,
    dims: usize,
    z: &[f32],
    color: Option<[f32; 3]>,
) {
    let (a, b) = panel.pair;
    if a >= dims || b >= dims || !z[a].is_finite() || !z[b].is_finite() {
        return;
    }
    let (x, y) = panel.to_px(z[a], z[b]);
    let (x, y) = (x * dpr, y * dpr);
    let radius = (plot::point_radius(panel.plot.w) * 2.2 + 3.0) * dpr;
    if let Some(c) = color {
        let [r, g, b] = c.map(plot::to_u8);
        raster.dot((x, y), radius * 0.6, [r, g, b, 255]);
    }
    raster.circle((x, y), radius + dpr, 2.0 * dpr, PROBE_RING_SHADOW, false);
    raster.circle((x, y), radius, 2.0 * dpr, PROBE_RING, false);
}
