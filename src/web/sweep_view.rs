//! A sweep on the page: a thumbnail of dims (0, 1) per seed with its verdict, the tally, and
//! the table as CSV.

use std::hash::{DefaultHasher, Hash, Hasher};

use web_sys::HtmlCanvasElement;

use super::board::draw_points;
use super::canvas::{canvas_size, LayeredCanvas};
use super::{from_bytes, now, RunVerdict, SweepFrame, THUMBNAIL_POINTS};
use crate::escape::csv_cell;
use crate::plot::{self, PointCloud, Rect, Surface, CRUMPLED, UNDECIDED, WHEEL};
use crate::verdict::{display_order, probe_colors, wilson_interval};

/// What the page last heard of every run, from one worker or from several that share the
/// sweep (each sends its part: consecutive runs, consecutive seeds).
#[derive(Default)]
pub(super) struct SweepView {
    /// The seed of run 0; run `r` trains with `first_seed + r`.
    first_seed: u64,
    total_runs: usize,
    /// `THUMBNAIL_POINTS × dims` values a run, for every run.
    thumbnails: Vec<f32>,
    /// Whether each run's thumbnail has arrived.
    heard: Vec<bool>,
    dims: usize,
    verdicts: Vec<Option<RunVerdict>>,
    finished: Vec<bool>,
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

impl SweepView {
    pub fn new() -> Self {
        SweepView {
            colors: probe_colors().rgb_f32()[..THUMBNAIL_POINTS * 3].to_vec(),
            ..SweepView::default()
        }
    }

    /// Takes in a worker's part of the sweep (`finished`: that worker is done).
    pub fn accept(&mut self, frame: &SweepFrame, dims: usize, finished: bool) {
        let runs = frame.first_run..frame.first_run + frame.seeds.len();
        let total = frame.total_runs.max(runs.end);
        if (total, dims) != (self.total_runs, self.dims) {
            self.total_runs = total;
            self.dims = dims;
            self.thumbnails = vec![0.0; total * THUMBNAIL_POINTS * dims];
            self.heard = vec![false; total];
            self.verdicts = vec![None; total];
            self.finished = vec![false; total];
        }
        if let Some(seed) = frame.seeds.first() {
            self.first_seed = seed - frame.first_run as u64;
        }
        let points = THUMBNAIL_POINTS * dims;
        let thumbnails = from_bytes(&frame.thumbnails);
        if thumbnails.len() == runs.len() * points {
            self.thumbnails[runs.start * points..runs.end * points].copy_from_slice(&thumbnails);
            self.heard[runs.clone()].fill(true);
        }
        if let Some(verdicts) = &frame.verdicts {
            for (slot, v) in self.verdicts[runs.clone()].iter_mut().zip(verdicts) {
                *slot = Some(v.clone());
            }
        }
        self.finished[runs].fill(finished);
    }

    /// Whether every run has finished.
    pub fn finished(&self) -> bool {
        !self.finished.is_empty() && self.finished.iter().all(|&f| f)
    }

    fn seed(&self, run: usize) -> u64 {
        self.first_seed + run as u64
    }

    /// Columns and rows of the grid.
    pub fn grid(&self) -> (usize, usize) {
        let n = self.total_runs.max(1);
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
        let n = self.total_runs;
        let order = self.order();
        let titled = canvas.client_width() as f32 / columns as f32 >= TITLED_CELL;
        let titles: Vec<String> = if titled {
            (order.iter())
                .map(|&r| {
                    let onset = self.onset(r).map_or(String::new(), |s| format!(" @{s}"));
                    format!("seed {} · {}{onset}", self.seed(r), self.shape(r).0)
                })
                .collect()
        } else {
            Vec::new()
        };
        let dims = self.dims;
        // The still layer holds the titles: drawn again when a verdict changes one.
        let key = {
            let mut h = DefaultHasher::new();
            (columns, rows, dims, self.first_seed, &titles).hash(&mut h);
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
                for (&run, cell) in order.iter().zip(cells(w, h)) {
                    if let Some(cloud) = view.cloud(run) {
                        draw_points(raster, dpr, cell, titled, cloud, (0, 1), 1.0);
                        view.badge(raster, cell, dpr, run);
                    }
                }
            },
            |_, _, _| {},
        );
        self.layers = layers;
    }

    /// The verdict's word and colour for run `run`.
    fn shape(&self, run: usize) -> (&str, plot::Rgba) {
        let verdict = self.verdicts.get(run).and_then(Option::as_ref);
        match verdict.map(|v| v.shape.as_str()) {
            Some("wheel") => ("wheel", WHEEL),
            Some(shape @ ("crumpled" | "failed")) => (shape, CRUMPLED),
            _ => ("…", UNDECIDED),
        }
    }

    /// The step from which run `run`'s verdict held, where the engine judged it.
    fn onset(&self, run: usize) -> Option<u64> {
        self.verdicts.get(run)?.as_ref()?.onset
    }

    /// Run `run`'s thumbnail points, once they have arrived.
    fn cloud(&self, run: usize) -> Option<PointCloud<'_>> {
        if !self.heard.get(run).copied().unwrap_or(false) {
            return None;
        }
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
        let run = *self.order().get(r * columns + c)?;
        Some(self.seed(run))
    }

    /// Which run each cell shows: run by run while the sweep trains (cells that moved would
    /// be hard to follow), then crumpled first and by onset once it is done
    /// ([`display_order`]).
    fn order(&self) -> Vec<usize> {
        if !self.finished() {
            return (0..self.total_runs).collect();
        }
        let runs: Vec<Option<(bool, Option<u64>)>> = (self.verdicts.iter())
            .map(|v| v.as_ref().map(|v| (v.shape != "wheel", v.onset)))
            .collect();
        display_order(&runs)
    }

    /// `crumpled 3/16 (19%, 95% CI 7–43%)`, over the runs judged so far.
    pub fn tally(&self) -> String {
        let verdicts: Vec<&RunVerdict> = self.verdicts.iter().flatten().collect();
        if verdicts.is_empty() {
            return format!("{} seeds training…", self.total_runs);
        }
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
        let mut out = String::from("seed,verdict,worst_gap_error_deg,recon_mse,onset\n");
        for (i, v) in self.verdicts.iter().enumerate() {
            let (seed, v) = (self.seed(i), v.as_ref());
            // The shape comes in a worker's message: text, so written as text.
            let shape = csv_cell(v.map_or("", |v| v.shape.as_str()));
            let gap = v
                .and_then(|v| v.worst_gap_error)
                .map_or(String::new(), |g| format!("{g:.3}"));
            let mse = v.map_or(String::new(), |v| format!("{:e}", v.recon_mse));
            let onset = v
                .and_then(|v| v.onset)
                .map_or(String::new(), |s| s.to_string());
            out.push_str(&format!("{seed},{shape},{gap},{mse},{onset}\n"));
        }
        out
    }
}
