//! Looking inside a trained model: one colour's trip through it (the page's probe), the point
//! under the pointer in a latent panel, and what the decoder paints over a panel (the decoder
//! map). All of it runs the host step's own forward pass ([`step`]) on a run's flat
//! parameters, so the page and the native tests see the same numbers.

use crate::data::ColorCube;
use crate::plot::PanelMap;
use crate::step;
use crate::verdict::HUES;

/// One colour through the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub rgb: [f32; 3],
    pub reconstruction: [f32; 3],
    pub latent: Vec<f32>,
    /// Mean squared error over the three channels, as the verdict's reconstruction MSE
    /// counts it.
    pub error: f32,
}

impl Reading {
    /// `rgb` (each channel in [0, 1]) through the model with `params`.
    pub fn of(params: &[f32], dims: usize, rgb: [f32; 3]) -> Reading {
        let (outputs, latent) = step::infer(params, dims, &rgb);
        let reconstruction = [outputs[0], outputs[1], outputs[2]];
        let error = (0..3)
            .map(|c| (reconstruction[c] - rgb[c]).powi(2))
            .sum::<f32>()
            / 3.0;
        Reading {
            rgb,
            reconstruction,
            latent,
            error,
        }
    }
}

/// The point of `latents` (`[rows, dims]`) a pointer at `at` is on: the one drawn last
/// (on top) among the dots of `radius` that cover it, else the nearest within `reach`
/// pixels. `None` where the panel shows dims the model lacks.
pub fn nearest_point(
    panel: &PanelMap,
    latents: &[f32],
    dims: usize,
    (x, y): (f32, f32),
    radius: f32,
    reach: f32,
) -> Option<usize> {
    let (a, b) = panel.pair;
    if a >= dims || b >= dims {
        return None;
    }
    let mut on_top = None;
    let mut nearest = None;
    let mut nearest_d = reach * reach;
    for (i, z) in latents.chunks_exact(dims).enumerate() {
        if !z[a].is_finite() || !z[b].is_finite() {
            continue;
        }
        let (px, py) = panel.to_px(z[a], z[b]);
        let d = (px - x).powi(2) + (py - y).powi(2);
        if d <= radius * radius {
            on_top = Some(i);
        }
        if d < nearest_d {
            nearest_d = d;
            nearest = Some(i);
        }
    }
    on_top.or(nearest)
}

/// The latent the decoder map holds the undrawn dims at: the mean of the [`HUES`] pure hues'
/// latents. Each panel shows two dims; the others sit where the colour wheel's centre is, so
/// the map is the slice of the decoder through the hue circle's plane.
pub fn hue_centre(params: &[f32], dims: usize) -> Vec<f32> {
    let hues = ColorCube::hues(HUES).rgb_f32();
    let latents = step::encode(params, dims, &hues);
    let mut centre = vec![0.0; dims];
    for z in latents.chunks_exact(dims) {
        for (c, v) in centre.iter_mut().zip(z) {
            *c += v / HUES as f32;
        }
    }
    centre
}

/// The decoder's colour over a panel of dims `pair`, `cells` × `cells`, row by row from the
/// top (the panel's +`extent`): each cell's centre decoded, with the other dims at `centre`.
pub fn decoder_map(
    params: &[f32],
    dims: usize,
    pair: (usize, usize),
    centre: &[f32],
    extent: f32,
    cells: usize,
) -> Vec<[f32; 3]> {
    let (a, b) = pair;
    let mut latents = Vec::with_capacity(cells * cells * dims);
    for row in 0..cells {
        let v = extent - (row as f32 + 0.5) * 2.0 * extent / cells as f32;
        for column in 0..cells {
            let u = -extent + (column as f32 + 0.5) * 2.0 * extent / cells as f32;
            let mut z = centre.to_vec();
            z[a] = u;
            z[b] = v;
            latents.extend(z);
        }
    }
    step::decode(params, dims, &latents)
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Rect;
    use crate::step::layout::initial_parameters;

    #[test]
    fn a_reading_is_the_models_round_trip() {
        let params = initial_parameters(4, 7);
        let rgb = [0.9, 0.2, 0.1];
        let r = Reading::of(&params, 4, rgb);
        let (outputs, latents) = step::infer(&params, 4, &rgb);
        assert_eq!(r.latent, latents);
        assert_eq!(r.reconstruction.to_vec(), outputs);
        let mse = (0..3).map(|c| (outputs[c] - rgb[c]).powi(2)).sum::<f32>() / 3.0;
        assert!((r.error - mse).abs() < 1e-7);
        // The decoder half alone, on the encoder's latent, gives the same colour.
        assert_eq!(step::decode(&params, 4, &latents), outputs);
    }

    #[test]
    fn panel_positions_round_trip_and_the_nearest_point_is_found() {
        let map = PanelMap {
            plot: Rect::new(10.0, 20.0, 300.0, 300.0),
            pair: (0, 2),
            extent: 1.5,
        };
        let (x, y) = map.to_px(0.5, -1.0);
        let (u, v) = map.to_latent(x, y);
        assert!((u - 0.5).abs() < 1e-5 && (v + 1.0).abs() < 1e-5);
        assert_eq!(map.to_px(0.0, 0.0), (160.0, 170.0));
        // Three points in 3-D; the panel shows dims 0 and 2.
        let latents = [0.0, 9.0, 0.0, 1.0, 9.0, 1.0, -1.0, 9.0, 0.5];
        let (x, y) = map.to_px(0.95, 1.05);
        assert_eq!(nearest_point(&map, &latents, 3, (x, y), 2.0, 12.0), Some(1));
        // Under two overlapping dots, the one drawn last (on top) is the one seen.
        let overlapping = [0.95, 0.0, 1.05, 1.0, 0.0, 1.0];
        assert_eq!(
            nearest_point(&map, &overlapping, 3, (x, y), 30.0, 30.0),
            Some(1)
        );
        assert_eq!(
            nearest_point(&map, &overlapping, 3, (x, y), 0.5, 30.0),
            Some(0)
        );
        assert_eq!(
            nearest_point(&map, &latents, 3, (x + 50.0, y), 2.0, 12.0),
            None
        );
        // A panel of dims the model lacks has no points.
        let missing = PanelMap {
            pair: (0, 3),
            ..map
        };
        assert_eq!(nearest_point(&missing, &latents, 3, (x, y), 2.0, 1e9), None);
    }

    #[test]
    fn the_decoder_map_decodes_each_cell_centre_with_the_hue_centre_elsewhere() {
        let params = initial_parameters(4, 3);
        let centre = hue_centre(&params, 4);
        let cells = 5;
        let map = decoder_map(&params, 4, (0, 2), &centre, 1.5, cells);
        assert_eq!(map.len(), cells * cells);
        // Row 1, column 3: u = -1.5 + 3.5 * 0.6, v = 1.5 - 1.5 * 0.6.
        let mut z = centre.clone();
        z[0] = -1.5 + 3.5 * 0.6;
        z[2] = 1.5 - 1.5 * 0.6;
        let want = step::decode(&params, 4, &z);
        for c in 0..3 {
            assert!(
                (map[cells + 3][c] - want[c]).abs() < 1e-5,
                "{:?} vs {want:?}",
                map[8]
            );
        }
        // A slice through an untrained decoder still varies across the panel.
        let spread = map.iter().map(|c| c[0]).fold(f32::NEG_INFINITY, f32::max)
            - map.iter().map(|c| c[0]).fold(f32::INFINITY, f32::min);
        assert!(spread > 1e-3, "the map is flat: {spread}");
        // The centre is the hues' mean latent.
        let hues = step::encode(&params, 4, &ColorCube::hues(HUES).rgb_f32());
        let mean0 = hues.chunks_exact(4).map(|z| z[0]).sum::<f32>() / HUES as f32;
        assert!((centre[0] - mean0).abs() < 1e-6);
    }
}
