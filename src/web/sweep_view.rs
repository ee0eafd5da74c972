//! A sweep on the page: a thumbnail of dims (0, 1) per seed with its verdict, the tally, and
//! the table as CSV.

use web_sys::HtmlCanvasElement;

use super::canvas::with_canvas;
use super::{from_bytes, RunVerdict, SweepFrame, THUMBNAIL_POINTS};
use crate::plot::{self, PointCloud, Rect, Surface};
use crate::verdict::{probe_colors, wilson_interval};

/// What the page last heard of every run.
pub(super) struct SweepView {
    seeds: Vec<u64>,
    thumbnails: Vec<f32>,
    dims: usize,
    verdicts: Option<Vec<RunVerdict>>,
    colors: Vec<f32>,
}

const WHEEL: plot::Rgba = [76, 175, 80, 255];
const CRUMPLED: plot::Rgba = [239, 83, 80, 255];
const UNDECIDED: plot::Rgba = [140, 140, 140, 255];

impl SweepView {
    pub fn new(frame: &SweepFrame, dims: usize) -> Self {
        let mut view = SweepView {
            seeds: Vec::new(),
            thumbnails: Vec::new(),
            dims,
            verdicts: None,
            colors: probe_colors().rgb_f32()[..THUMBNAIL_POINTS * 3].to_vec(),
        };
        view.accept(frame, dims);
        view
    }

    pub fn accept(&mut self, frame: &SweepFrame, dims: usize) {
        self.seeds.clone_from(&frame.seeds);
        self.thumbnails = from_bytes(&frame.thumbnails);
        self.dims = dims;
        if let Some(v) = &frame.verdicts {
            self.verdicts = Some(v.clone());
        }
    }

    /// Columns and rows of the grid.
    pub fn grid(&self) -> (usize, usize) {
        let n = self.seeds.len().max(1);
        let columns = (n as f64).sqrt().ceil() as usize;
        (columns, n.div_ceil(columns))
    }

    pub fn draw(&self, canvas: &HtmlCanvasElement) {
        let (columns, rows) = self.grid();
        with_canvas(canvas, |s, w, h| {
            s.fill_rect(0.0, 0.0, w, h, [32, 32, 32, 255]);
            let (cell_w, cell_h) = (w / columns as f32, h / rows as f32);
            for (i, seed) in self.seeds.iter().enumerate() {
                let (c, r) = (i % columns, i / columns);
                let cell = Rect::new(c as f32 * cell_w, r as f32 * cell_h, cell_w, cell_h)
                    .inset(2.0, 2.0, 2.0, 2.0);
                self.draw_cell(s, cell, i, *seed);
            }
        });
    }

    fn draw_cell(&self, s: &mut dyn Surface, cell: Rect, run: usize, seed: u64) {
        let verdict = self.verdicts.as_ref().and_then(|v| v.get(run));
        let (shape, color) = match verdict.map(|v| v.shape.as_str()) {
            Some("wheel") => ("wheel", WHEEL),
            Some(shape @ ("crumpled" | "failed")) => (shape, CRUMPLED),
            _ => ("…", UNDECIDED),
        };
        let points = THUMBNAIL_POINTS * self.dims;
        let Some(latents) = self.thumbnails.get(run * points..(run + 1) * points) else {
            return;
        };
        let cloud = PointCloud {
            latents,
            dims: self.dims,
            colors: &self.colors,
        };
        let title = format!("seed {seed} · {shape}");
        plot::latent_panel(s, cell, cloud, (0, 1), plot::LATENT_EXTENT, Some(&title));
        // The badge: the cell's edge in the verdict's colour.
        let edge = 3.0;
        s.fill_rect(cell.x, cell.y + cell.h - edge, cell.w, edge, color);
        s.fill_rect(cell.x, cell.y, edge, cell.h, color);
    }

    /// The run under a point of the canvas (CSS pixels, the canvas `w` × `h`).
    pub fn seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u64> {
        let (columns, rows) = self.grid();
        if !(0.0..w).contains(&x) || !(0.0..h).contains(&y) {
            return None;
        }
        let c = (x / w * columns as f64) as usize;
        let r = (y / h * rows as f64) as usize;
        self.seeds.get(r * columns + c).copied()
    }

    /// `crumpled 3/16 (19%, 95% CI 7–43%)`, over the runs judged so far.
    pub fn tally(&self) -> String {
        let Some(verdicts) = &self.verdicts else {
            return format!("{} seeds training…", self.seeds.len());
        };
        let n = verdicts.len();
        let k = verdicts.iter().filter(|v| v.shape != "wheel").count();
        let (low, high) = wilson_interval(k, n);
        let percent = |f: f64| (f * 100.0).round();
        format!(
            "crumpled {k}/{n} ({}%, 95% CI {}–{}%)",
            percent(k as f64 / n.max(1) as f64),
            percent(low),
            percent(high)
        )
    }

    /// The CLI's `sweep.csv` columns that a page knows: seed, verdict and figures.
    pub fn csv(&self) -> String {
        let mut out = String::from("seed,verdict,worst_gap_error_deg,recon_mse\n");
        for (i, seed) in self.seeds.iter().enumerate() {
            let v = self.verdicts.as_ref().and_then(|v| v.get(i));
            let shape = v.map_or("", |v| v.shape.as_str());
            let gap = v
                .and_then(|v| v.worst_gap_error)
                .map_or(String::new(), |g| format!("{g:.3}"));
            let mse = v.map_or(String::new(), |v| format!("{:e}", v.recon_mse));
            out.push_str(&format!("{seed},{shape},{gap},{mse}\n"));
        }
        out
    }
}
