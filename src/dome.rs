//! The latent space in 3-D: three of the latents' axes, turned by the reader and drawn back to
//! front. The seed says the latents should come to resemble a dome seen from the side; this is
//! that side.

use crate::plot::{to_u8, Align, Raster, Rect, Rgba, Surface, FAINT_TEXT, GRID};

/// Which three axes the view shows: dims 0 and 1 across, and a third as height; or the
/// latents' top three principal axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomeAxes {
    /// Dims 0 and 1, with this dim as height.
    Height(usize),
    /// The first three principal axes of the latents (centred).
    Principal,
}

impl DomeAxes {
    /// The choices a model with `dims` latent dims has (none below 3).
    pub fn choices(dims: usize) -> Vec<DomeAxes> {
        if dims < 3 {
            return Vec::new();
        }
        let mut choices: Vec<DomeAxes> = (2..dims.min(4)).map(DomeAxes::Height).collect();
        choices.push(DomeAxes::Principal);
        choices
    }

    /// How the page names the choice (and reads it back, [`DomeAxes::from_key`]).
    pub fn key(self) -> String {
        match self {
            DomeAxes::Height(d) => format!("dim{d}"),
            DomeAxes::Principal => "pca".into(),
        }
    }

    pub fn from_key(key: &str) -> Option<DomeAxes> {
        match key {
            "pca" => Some(DomeAxes::Principal),
            _ => key.strip_prefix("dim")?.parse().ok().map(DomeAxes::Height),
        }
    }

    pub fn label(self) -> String {
        match self {
            DomeAxes::Height(d) => format!("dims 0, 1, height {d}"),
            DomeAxes::Principal => "principal axes 1–3".into(),
        }
    }

    /// Each point's three coordinates (`latents` is `[rows, dims]`). Principal axes are
    /// found afresh for these latents.
    pub fn coordinates(self, latents: &[f32], dims: usize) -> Vec<[f32; 3]> {
        match self {
            DomeAxes::Height(h) => (latents.chunks_exact(dims))
                .map(|z| [z[0], z[1], z.get(h).copied().unwrap_or(0.0)])
                .collect(),
            DomeAxes::Principal => principal_coordinates(latents, dims),
        }
    }
}

/// The latents projected on their top three principal axes, centred: power iteration on the
/// covariance, deflated after each axis. Each axis's sign makes its largest component
/// positive, so the view does not flip from one frame to the next.
fn principal_coordinates(latents: &[f32], dims: usize) -> Vec<[f32; 3]> {
    let rows: Vec<&[f32]> = latents.chunks_exact(dims).collect();
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0f64; dims];
    for z in &rows {
        for (m, v) in mean.iter_mut().zip(*z) {
            *m += *v as f64 / n;
        }
    }
    let mut cov = vec![0.0f64; dims * dims];
    for z in &rows {
        for i in 0..dims {
            let a = z[i] as f64 - mean[i];
            for j in 0..dims {
                cov[i * dims + j] += a * (z[j] as f64 - mean[j]) / n;
            }
        }
    }
    let mut axes = Vec::with_capacity(3);
    for k in 0..3.min(dims) {
        // A start no earlier axis's deflation zeroes, the same every time.
        let mut v: Vec<f64> = (0..dims).map(|i| 1.0 + (i + k) as f64 * 0.1).collect();
        let mut value = 0.0;
        for _ in 0..200 {
            let w: Vec<f64> = (0..dims)
                .map(|i| (0..dims).map(|j| cov[i * dims + j] * v[j]).sum())
                .collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            value = norm;
            v = w.iter().map(|x| x / norm).collect();
        }
        let largest =
            (v.iter().copied()).fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
        if largest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        for i in 0..dims {
            for j in 0..dims {
                cov[i * dims + j] -= value * v[i] * v[j];
            }
        }
        axes.push(v);
    }
    (rows.iter())
        .map(|z| {
            let mut out = [0.0f32; 3];
            for (o, axis) in out.iter_mut().zip(&axes) {
                *o = (0..dims)
                    .map(|i| (z[i] as f64 - mean[i]) * axis[i])
                    .sum::<f64>() as f32;
            }
            out
        })
        .collect()
}

/// How the view is turned: `yaw` about the height axis, then `pitch` towards the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orbit {
    pub yaw: f32,
    pub pitch: f32,
}

/// Half the view's width, in latent units: the unit sphere with room for points a little
/// outside it (points further out are clamped to ±`extent` and may leave the view).
const VIEW_REACH: f32 = 1.4;

/// The furthest the view tips over the top or under the bottom.
const MAX_PITCH: f32 = 89.0f32 * std::f32::consts::PI / 180.0;

impl Orbit {
    /// Where the view starts and a reset returns: from the side, a little above, so a dome
    /// reads as one.
    pub const HOME: Orbit = Orbit {
        yaw: -0.6,
        pitch: 0.35,
    };

    /// A drag of (`dx`, `dy`) pixels across a view `size` pixels wide: a full width turns
    /// half a revolution.
    pub fn drag(&mut self, dx: f32, dy: f32, size: f32) {
        let per_pixel = std::f32::consts::PI / size.max(1.0);
        self.yaw += dx * per_pixel;
        self.pitch = (self.pitch + dy * per_pixel).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Screen `(x right, y up)` and depth (larger is further) of a point.
    pub fn project(&self, p: [f32; 3]) -> (f32, f32, f32) {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        // Yaw about the height axis: x across the screen, y into it.
        let x = p[0] * cy - p[1] * sy;
        let y = p[0] * sy + p[1] * cy;
        // Pitch: tip the far side up.
        let up = p[2] * cp + y * sp;
        let depth = y * cp - p[2] * sp;
        (x, up, depth)
    }
}

impl Default for Orbit {
    fn default() -> Self {
        Orbit::HOME
    }
}

/// The points of the view in drawing order, back to front: `(x, y, depth, index)` with `x`,
/// `y` in pixels of `plot` (a square) and `depth` in [-1, 1] (−1 nearest).
pub fn layout(
    points: &[[f32; 3]],
    orbit: Orbit,
    plot: Rect,
    extent: f32,
) -> Vec<(f32, f32, f32, usize)> {
    let scale = plot.w / (2.0 * VIEW_REACH);
    let (cx, cy) = (plot.x + plot.w / 2.0, plot.y + plot.h / 2.0);
    let out: Vec<(f32, f32, f32, usize)> = (points.iter().enumerate())
        .filter(|(_, p)| p.iter().all(|v| v.is_finite()))
        .map(|(i, p)| {
            let p = p.map(|v| v.clamp(-extent, extent));
            let (x, y, depth) = orbit.project(p);
            let depth = (depth / (extent * 3f32.sqrt())).clamp(-1.0, 1.0);
            (cx + x * scale, cy - y * scale, depth, i)
        })
        .collect();
    // Far to near, ties by point.
    crate::order::sorted_by(&out, &|a, b| b.2.total_cmp(&a.2))
}

/// The view's frame, in CSS pixels: background, title and the hint how to turn it.
pub fn frame(s: &mut dyn Surface, area: Rect, axes: DomeAxes) {
    s.fill_rect(area.x, area.y, area.w, area.h, crate::plot::PANEL);
    s.text(
        area.x + area.w / 2.0,
        area.y + 12.0,
        &axes.label(),
        12.0,
        crate::plot::TEXT,
        Align::Center,
    );
    s.text(
        area.x + area.w / 2.0,
        area.y + area.h - 10.0,
        "drag or arrow keys to turn · double-click to reset",
        11.0,
        FAINT_TEXT,
        Align::Center,
    );
}

/// The square the view draws in, within its area (below the title, above the hint).
pub fn plot_area(area: Rect) -> Rect {
    let inner = area.inset(4.0, 24.0, 4.0, 22.0);
    let size = inner.w.min(inner.h);
    Rect::new(
        inner.x + (inner.w - size) / 2.0,
        inner.y + (inner.h - size) / 2.0,
        size,
        size,
    )
}

/// The points and the axes, on the backing store's pixels (`plot` already in them): the
/// three axes and the unit circle of the first two, then every point back to front, the far
/// ones smaller and dimmer.
pub fn draw(
    raster: &mut Raster,
    plot: Rect,
    points: &[[f32; 3]],
    colors: &[f32],
    orbit: Orbit,
    extent: f32,
    radius: f32,
) {
    let scale = plot.w / (2.0 * VIEW_REACH);
    let (cx, cy) = (plot.x + plot.w / 2.0, plot.y + plot.h / 2.0);
    let at = |p: [f32; 3]| {
        let (x, y, _) = orbit.project(p);
        (cx + x * scale, cy - y * scale)
    };
    let axis: Rgba = [GRID[0], GRID[1], GRID[2], 255];
    for k in 0..3 {
        let mut from = [0.0; 3];
        let mut to = [0.0; 3];
        from[k] = -extent;
        to[k] = extent;
        raster.line(at(from), at(to), 1.0, axis, k == 2);
    }
    let circle: Vec<(f32, f32)> = (0..=64)
        .map(|i| {
            let a = i as f32 / 64.0 * std::f32::consts::TAU;
            at([a.cos(), a.sin(), 0.0])
        })
        .collect();
    for pair in circle.windows(2) {
        raster.line(pair[0], pair[1], 1.0, axis, true);
    }
    for (x, y, depth, i) in layout(points, orbit, plot, extent) {
        let c = &colors[i * 3..i * 3 + 3];
        // Near points are larger and opaque; far ones smaller and see-through.
        let near = (1.0 - depth) / 2.0;
        let alpha = (110.0 + 145.0 * near) as u8;
        raster.dot(
            (x, y),
            radius * (0.75 + 0.5 * near),
            [to_u8(c[0]), to_u8(c[1]), to_u8(c[2]), alpha],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_follow_the_bottleneck() {
        assert!(DomeAxes::choices(2).is_empty());
        assert_eq!(
            DomeAxes::choices(3),
            vec![DomeAxes::Height(2), DomeAxes::Principal]
        );
        let four = DomeAxes::choices(4);
        assert_eq!(four.len(), 3);
        for c in four {
            assert_eq!(DomeAxes::from_key(&c.key()), Some(c));
        }
        assert_eq!(DomeAxes::from_key("dimx"), None);
    }

    #[test]
    fn the_orbit_turns_and_the_layout_is_back_to_front() {
        let front = Orbit {
            yaw: 0.0,
            pitch: 0.0,
        };
        // Looking along dim 1: dim 0 is across, the height is up, dim 1 is depth.
        assert_eq!(front.project([1.0, 0.0, 0.0]), (1.0, 0.0, 0.0));
        assert_eq!(front.project([0.0, 0.0, 1.0]), (0.0, 1.0, 0.0));
        assert_eq!(front.project([0.0, 1.0, 0.0]).2, 1.0);
        let mut turned = front;
        turned.drag(100.0, 0.0, 200.0);
        let (x, _, depth) = turned.project([1.0, 0.0, 0.0]);
        assert!(
            x.abs() < 1e-6 && (depth - 1.0).abs() < 1e-6,
            "a quarter turn"
        );
        turned.drag(0.0, 1e6, 200.0);
        assert!(turned.pitch <= MAX_PITCH);
        let plot = Rect::new(0.0, 0.0, 100.0, 100.0);
        let points = [[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [f32::NAN, 0.0, 0.0]];
        let order = layout(&points, front, plot, 1.5);
        assert_eq!(order.len(), 2, "a non-finite point is left out");
        assert_eq!(order[0].3, 0, "the far point first");
        assert_eq!(order[1].3, 1);
    }

    #[test]
    fn principal_axes_find_a_tilted_circle() {
        // A circle in the plane spanned by (1, 1, 0, 0)/√2 and dim 2, plus a little dim 3.
        let mut latents = Vec::new();
        for i in 0..36 {
            let a = i as f32 / 36.0 * std::f32::consts::TAU;
            let s = std::f32::consts::FRAC_1_SQRT_2;
            latents.extend([a.cos() * s, a.cos() * s, a.sin(), 0.01 * (i % 2) as f32]);
        }
        let coords = DomeAxes::Principal.coordinates(&latents, 4);
        for (i, c) in coords.iter().enumerate() {
            let r = (c[0] * c[0] + c[1] * c[1]).sqrt();
            assert!(
                (r - 1.0).abs() < 0.02,
                "point {i} lies on the unit circle of axes 1-2: {c:?}"
            );
            assert!(c[2].abs() < 0.02, "and off the third: {c:?}");
        }
    }
}
