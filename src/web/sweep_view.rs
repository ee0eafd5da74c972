//! A sweep on the page: a thumbnail of dims (0, 1) per seed with its verdict, the tally, and
//! the table as CSV.

use std::hash::{DefaultHasher, Hash, Hasher};

use web_sys::HtmlCanvasElement;

use super::board::draw_points;
use super::canvas::{canvas_size, LayeredCanvas};
use super::{from_bytes, now, RunVerdict, SweepFrame, THUMBNAIL_POINTS};
use crate::plot::{self, PointCloud, Rect, Surface};
use crate::verdict::{probe_colors, wilson_interval};

/// What the page last heard of every run.
pub(super) struct SweepView {
    seeds: Vec<u64>,
    thumbnails: Vec<f32>,
    dims: usize,
    verdicts: Option<Vec<RunVerdict>>,
    colors: Vec<f32>,
    layers: LayeredCanvas,
    /// When, and at what canvas size, the thumbnails were last drawn.
    drawn: Option<(f64, (u32, u32))>,
}

/// The narrowest cell (CSS pixels) that gets a title: below it the text cannot be read, and
/// the edge's colour alone tells the verdict.
const TITLED_CELL: f32 = 90.0;

/// The thumbnails are redrawn at most this often (30 a second): a sweep's canvas is put
/// whole, megapixels each time, while the page's own panels go on at the display's rate.
const THUMBNAIL_INTERVAL_MS: f64 = 33.0;

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
            layers: LayeredCanvas::default(),
            drawn: None,
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

    /// Every cell's frame (with its title where cells are big enough to read one) is drawn
    /// once, kept as pixels, and the points are rasterised in wasm over it and put in one
    /// call. Drawn with the 2-D context, 1,024 thumbnails (43,000 dots) held the page's
    /// thread 400 ms a frame; 16 titled ones, frame, title and dots every frame, took half
    /// of it (Chromium's profile of a 16-seed sweep: 50% in the context's drawing, 7% idle,
    /// against 16% and 50% for one run), and the worker beside it trained slower.
    pub fn draw(&mut self, canvas: &HtmlCanvasElement) {
        let (t, size) = (now(), canvas_size(canvas));
        if let Some((at, drawn_size)) = self.drawn {
            if drawn_size == size && t - at < THUMBNAIL_INTERVAL_MS {
                return;
            }
        }
        self.drawn = Some((t, size));
        let (columns, rows) = self.grid();
        let cells = move |w: f32, h: f32| {
            let (cell_w, cell_h) = (w / columns as f32, h / rows as f32);
            (0..columns * rows).map(move |i| {
                let (c, r) = (i % columns, i / columns);
                Rect::new(c as f32 * cell_w, r as f32 * cell_h, cell_w, cell_h)
                    .inset(2.0, 2.0, 2.0, 2.0)
            })
        };
        let n = self.seeds.len();
        let titled = canvas.client_width() as f32 / columns as f32 >= TITLED_CELL;
        let titles: Vec<String> = if titled {
            (0..n)
                .map(|i| format!("seed {} · {}", self.seeds[i], self.shape(i).0))
                .collect()
        } else {
            Vec::new()
        };
        let dims = self.dims;
        // The still layer holds the titles: drawn again when a verdict changes one.
        let key = {
            let mut h = DefaultHasher::new();
            (columns, rows, dims, &self.seeds, &titles).hash(&mut h);
            h.finish()
        };
        // Out of `self` while the layers draw from the rest of it.
        let mut layers = std::mem::take(&mut self.layers);
        let view = &*self;
        layers.draw(
            canvas,
            key,
            |s, w, h| {
                s.fill_rect(0.0, 0.0, w, h, [32, 32, 32, 255]);
                for (i, cell) in cells(w, h).take(n).enumerate() {
                    let title = titles.get(i).map(String::as_str);
                    plot::latent_frame(s, cell, dims, (0, 1), plot::LATENT_EXTENT, title);
                }
            },
            |raster, dpr, w, h| {
                for (i, cell) in cells(w, h).enumerate().take(n) {
                    if let Some(cloud) = view.cloud(i) {
                        draw_points(raster, dpr, cell, titled, cloud, (0, 1));
                        view.badge(raster, cell, dpr, i);
                    }
                }
            },
            |_, _, _| {},
        );
        self.layers = layers;
    }

    /// The verdict's word and colour for run `run`.
    fn shape(&self, run: usize) -> (&str, plot::Rgba) {
        let verdict = self.verdicts.as_ref().and_then(|v| v.get(run));
        match verdict.map(|v| v.shape.as_str()) {
            Some("wheel") => ("wheel", WHEEL),
            Some(shape @ ("crumpled" | "failed")) => (shape, CRUMPLED),
            _ => ("…", UNDECIDED),
        }
    }

    /// Run `run`'s thumbnail points.
    fn cloud(&self, run: usize) -> Option<PointCloud<'_>> {
        let points = THUMBNAIL_POINTS * self.dims;
        let latents = self.thumbnails.get(run * points..(run + 1) * points)?;
        Some(PointCloud {
            latents,
            dims: self.dims,
            colors: &self.colors,
        })
    }

    /// The verdict's badge: the cell's left and bottom edges in its colour. `cell` is in CSS
    /// pixels, drawn at `scale` surface pixels each.
    fn badge(&self, s: &mut dyn Surface, cell: Rect, scale: f32, run: usize) {
        let color = self.shape(run).1;
        let edge = (3.0 * scale).round();
        let (x, y, w, h) = (
            cell.x * scale,
            cell.y * scale,
            cell.w * scale,
            cell.h * scale,
        );
        s.fill_rect(x, y + h - edge, w, edge, color);
        s.fill_rect(x, y, edge, h, color);
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
